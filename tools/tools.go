// Package tools holds the generators behind `make docs`: examples are
// formatted and docs/ is rendered by tfplugindocs from the schema
// descriptions, templates/ and examples/. Both tools come from bin/. The
// schema comes from ./schema, which adds the action schemas that the
// Terraform installed here cannot print.
package tools

//go:generate terraform fmt -recursive ../examples/
//go:generate go run ./schema ../bin/providers-schema.json
//go:generate tfplugindocs generate --provider-dir .. --provider-name registry --rendered-provider-name Registry --providers-schema ../bin/providers-schema.json
