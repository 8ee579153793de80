// Package tools holds the generators behind `make docs`: examples are
// formatted and docs/ is rendered by tfplugindocs from the schema
// descriptions, templates/ and examples/. Both tools come from bin/.
package tools

//go:generate terraform fmt -recursive ../examples/
//go:generate tfplugindocs generate --provider-dir .. --provider-name registry --rendered-provider-name Registry
