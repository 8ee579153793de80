// Command schema writes the provider schema that `make docs` hands to
// tfplugindocs (--providers-schema): what `terraform providers schema
// -json` prints, plus the action schemas. The Terraform that installs here
// (1.8) predates actions and leaves them out, so tfplugindocs would render
// the action pages without a schema; the action schemas are read from the
// provider server itself, as Terraform 1.14 would.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
	"github.com/distreg/terraform-provider-registry/internal/provider"
)

const address = "registry.terraform.io/" + devprovider.Source

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: schema OUTPUT.json")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "schema:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, output string) error {
	schemas, err := terraformSchemas(ctx)
	if err != nil {
		return err
	}
	actions, err := actionSchemas(ctx)
	if err != nil {
		return err
	}
	ours, ok := schemas.Schemas[address]
	if !ok {
		return fmt.Errorf("terraform printed no schema for %s", address)
	}
	ours.ActionSchemas = actions
	// tfplugindocs looks the schema up by the provider's short name.
	schemas.Schemas = map[string]*tfjson.ProviderSchema{"registry": ours}
	out, err := json.Marshal(schemas)
	if err != nil {
		return err
	}
	return os.WriteFile(output, out, 0o644)
}

// terraformSchemas runs `terraform providers schema -json` in a workspace
// that requires the locally built provider.
func terraformSchemas(ctx context.Context) (*tfjson.ProviderSchemas, error) {
	config := fmt.Sprintf("terraform {\n  required_providers {\n    registry = { source = %q }\n  }\n}\n", devprovider.Source)
	tf, err := devprovider.NewWorkspace(map[string][]byte{"main.tf": []byte(config)})
	if err != nil {
		return nil, err
	}
	defer tf.Close()
	var log, out bytes.Buffer
	if err := tf.Run(ctx, &log, "init", "-input=false", "-no-color"); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, log.String())
	}
	if err := tf.Run(ctx, &out, "providers", "schema", "-json"); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, out.String())
	}
	var schemas tfjson.ProviderSchemas
	return &schemas, json.Unmarshal(out.Bytes(), &schemas)
}

// actionSchemas asks the provider server for its action schemas and
// converts them to Terraform's JSON form. Our actions have flat attributes
// only; a nested block would be an error here, not a silent omission.
func actionSchemas(ctx context.Context) (map[string]*tfjson.ActionSchema, error) {
	server, err := providerserver.NewProtocol6WithError(provider.New("docs")())()
	if err != nil {
		return nil, err
	}
	resp, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		return nil, err
	}
	actions := map[string]*tfjson.ActionSchema{}
	for name, action := range resp.ActionSchemas {
		block := action.Schema.Block
		if len(block.BlockTypes) > 0 {
			return nil, fmt.Errorf("action %s has nested blocks, which this converter does not handle", name)
		}
		out := &tfjson.SchemaBlock{
			Description:     block.Description,
			DescriptionKind: descriptionKind(block.DescriptionKind),
			Attributes:      map[string]*tfjson.SchemaAttribute{},
		}
		for _, a := range block.Attributes {
			attr, err := convertAttribute(a)
			if err != nil {
				return nil, fmt.Errorf("action %s, attribute %s: %w", name, a.Name, err)
			}
			out.Attributes[a.Name] = attr
		}
		actions[name] = &tfjson.ActionSchema{Block: out}
	}
	return actions, nil
}

func convertAttribute(a *tfprotov6.SchemaAttribute) (*tfjson.SchemaAttribute, error) {
	if a.NestedType != nil {
		return nil, fmt.Errorf("nested attributes are not handled")
	}
	// tftypes and cty share Terraform's JSON type syntax.
	//nolint:staticcheck // SA1019: tftypes offers no other way to write Terraform's JSON type syntax.
	typeJSON, err := a.Type.MarshalJSON()
	if err != nil {
		return nil, err
	}
	ctyType, err := ctyjson.UnmarshalType(typeJSON)
	if err != nil {
		return nil, err
	}
	return &tfjson.SchemaAttribute{
		AttributeType:   ctyType,
		Description:     a.Description,
		DescriptionKind: descriptionKind(a.DescriptionKind),
		Required:        a.Required,
		Optional:        a.Optional,
		Computed:        a.Computed,
		Sensitive:       a.Sensitive,
		Deprecated:      a.Deprecated,
	}, nil
}

func descriptionKind(k tfprotov6.StringKind) tfjson.SchemaDescriptionKind {
	if k == tfprotov6.StringKindMarkdown {
		return tfjson.SchemaDescriptionKindMarkdown
	}
	return tfjson.SchemaDescriptionKindPlain
}
