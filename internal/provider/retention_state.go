package provider

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"reflect"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// A policy's plan and its state after apply can list tens of thousands of
// deletions. Converting such a list through the framework's reflection
// (Get of the whole model, or of the list) builds an attr.Value per
// element and field, which took seconds and hundreds of megabytes per
// conversion: Read, ModifyPlan and the apply read the configuration
// attributes one by one (configOf) and the lists from their raw values
// (rawAttribute, decisionsOf), as the plan is built (withAttributes).

// leftOut tells the computed attributes configOf leaves out: those that
// grow with the registry (largeLists) and the plan's summary and record.
func leftOut(name string) bool {
	_, large := largeLists[name]
	return large || name == "summary" || name == "applied"
}

// attributeGetter is a state, plan or configuration.
type attributeGetter interface {
	GetAttribute(ctx context.Context, p path.Path, target any) diag.Diagnostics
}

// configOf is the model of a state or plan without its computed lists:
// every other attribute, each read on its own. The lists stay zero.
func configOf(ctx context.Context, from attributeGetter, diags *diag.Diagnostics) retentionModel {
	var m retentionModel
	v := reflect.ValueOf(&m).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("tfsdk")
		if !leftOut(name) {
			diags.Append(from.GetAttribute(ctx, path.Root(name), v.Field(i).Addr().Interface())...)
		}
	}
	return m
}

// rawAttribute is one attribute of a known object value, or a null value
// (of no type) when the object is null or unknown.
func rawAttribute(object tftypes.Value, name string) tftypes.Value {
	var attributes map[string]tftypes.Value
	if !object.IsKnown() || object.IsNull() || object.As(&attributes) != nil {
		return tftypes.Value{}
	}
	return attributes[name]
}

// decisionsOf reads the raw value of deletions / pending_deletions, each
// attribute into its decisionModel field (decisionField).
func decisionsOf(list tftypes.Value, diags *diag.Diagnostics) []decisionModel {
	var elems []tftypes.Value
	if !list.IsKnown() || list.IsNull() {
		return nil
	}
	if err := list.As(&elems); err != nil {
		diags.AddError("Internal error", fmt.Sprintf("Reading deletions: %v. Please report this to the provider's developers.", err))
		return nil
	}
	out := make([]decisionModel, len(elems))
	for i, e := range elems {
		var attributes map[string]tftypes.Value
		err := e.As(&attributes)
		for _, name := range decisionAttributes {
			if err == nil {
				err = setField(decisionField(&out[i], name), attributes[name])
			}
		}
		if err != nil {
			diags.AddError("Internal error", fmt.Sprintf("Reading deletion %d: %v. Please report this to the provider's developers.", i, err))
			return nil
		}
	}
	return out
}

// setField sets a string, []string or *int64 field (by address) from a
// raw value.
func setField(field any, raw tftypes.Value) error {
	switch target := field.(type) {
	case *string:
		if raw.IsNull() {
			return nil
		}
		return raw.As(target)
	case *[]string:
		var elems []tftypes.Value
		if err := raw.As(&elems); err != nil {
			return err
		}
		*target = make([]string, len(elems))
		for i, e := range elems {
			if err := e.As(&(*target)[i]); err != nil {
				return err
			}
		}
		return nil
	case **int64:
		if raw.IsNull() {
			*target = nil
			return nil
		}
		var n big.Float
		if err := raw.As(&n); err != nil {
			return err
		}
		i, _ := n.Int64()
		*target = &i
		return nil
	}
	return fmt.Errorf("no conversion to %T", field)
}

// withAttributes replaces attributes of an object value. Plans and states
// with decisions are built as raw values, not through the framework's
// Set: a plan lists up to ten thousand decisions, and Set converts a list
// of that size to raw values twice and back once, which took 0.4s of a
// 4s plan. The schema guarantees the object and the attribute types.
func withAttributes(object tftypes.Value, replaced map[string]tftypes.Value, diags *diag.Diagnostics) tftypes.Value {
	var attributes map[string]tftypes.Value
	if err := object.As(&attributes); err != nil {
		diags.AddError("Internal error", fmt.Sprintf("Reading the resource value: %v. Please report this to the provider's developers.", err))
		return object
	}
	attributes = maps.Clone(attributes) // As shares the value's own map: never write to it
	maps.Copy(attributes, replaced)
	return tftypes.NewValue(object.Type(), attributes)
}
