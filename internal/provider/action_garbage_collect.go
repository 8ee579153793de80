package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

var (
	_ action.ActionWithConfigure  = &GarbageCollectAction{}
	_ action.ActionWithModifyPlan = &GarbageCollectAction{}
)

// GarbageCollectAction runs garbage collection on demand (Terraform >=
// 1.14: `terraform apply -invoke=action.registry_garbage_collect.NAME`, or
// an action_trigger after a retention policy), streaming its progress.
type GarbageCollectAction struct {
	client *registry.Client
	hosts  retention.Hosts
	// configured: the provider is, so hosts are its names.
	configured bool
}

func NewGarbageCollectAction() action.Action { return &GarbageCollectAction{} }

func (a *GarbageCollectAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_garbage_collect"
}

func (a *GarbageCollectAction) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	optionalBool := func(name string) schema.BoolAttribute {
		return schema.BoolAttribute{Optional: true, MarkdownDescription: gcDescriptions[name]}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Runs garbage collection against the registry's storage now, as `registry garbage-collect` does, " +
			"reporting progress (each repository marked, blobs swept), the bytes freed and, with `keep_deleted_within`, the bytes held back for undo. Requires Terraform 1.14 or later. " +
			"The registry must be read-only while it runs, then restarted; see the `registry_garbage_collection` resource for the " +
			"same run kept in state.",
		Attributes: map[string]schema.Attribute{
			"config_file": schema.StringAttribute{
				Optional: true, MarkdownDescription: gcDescriptions["config_file"], Validators: gcConfigFileValidators,
			},
			"storage_driver": schema.StringAttribute{
				Optional: true, MarkdownDescription: gcDescriptions["storage_driver"], Validators: gcDriverValidators,
			},
			"storage_parameters": schema.MapAttribute{
				// Action schemas have no Sensitive: an action's configuration is never stored in state.
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: gcDescriptions["storage_parameters"], Validators: gcParameterValidators,
			},
			"delete_untagged":         optionalBool("delete_untagged"),
			"dry_run":                 optionalBool("dry_run"),
			"allow_writable_registry": optionalBool("allow_writable_registry"),
			"registry_stopped":        optionalBool("registry_stopped"),
			"keep_deleted_within": schema.StringAttribute{
				Optional: true, MarkdownDescription: gcDescriptions["keep_deleted_within"], Validators: []validator.String{durationValidator},
			},
			"images": schema.ListAttribute{
				Optional: true, ElementType: types.StringType, MarkdownDescription: gcDescriptions["images"],
				Validators: []validator.List{listvalidator.ValueStringsAre(imageValidator)},
			},
		},
	}
}

func (a *GarbageCollectAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	a.client = gcClientFrom(req.ProviderData, &resp.Diagnostics)
	a.hosts, a.configured = hostsFrom(req.ProviderData)
}

// ModifyPlan checks images against the registry's names and opens the
// storage at plan time, as the resource does. Invoke checks images again.
func (a *GarbageCollectAction) ModifyPlan(ctx context.Context, req action.ModifyPlanRequest, resp *action.ModifyPlanResponse) {
	var settings gcSettings
	resp.Diagnostics.Append(req.Config.Get(ctx, &settings)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if a.configured {
		if resp.Diagnostics.Append(checkImageHosts(settings.Images, a.hosts)...); resp.Diagnostics.HasError() {
			return
		}
	}
	resp.Diagnostics.Append(settings.checkStorage(ctx)...)
}

func (a *GarbageCollectAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var settings gcSettings
	resp.Diagnostics.Append(req.Config.Get(ctx, &settings)...)
	if resp.Diagnostics.HasError() {
		return
	}
	_, diags := collectGarbage(ctx, a.client, a.hosts, settings, func(message string) {
		resp.SendProgress(action.InvokeProgressEvent{Message: message})
	})
	resp.Diagnostics.Append(diags...)
}
