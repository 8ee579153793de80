package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/distreg/terraform-provider-registry/internal/gc"
	"github.com/distreg/terraform-provider-registry/internal/registry"
	"github.com/distreg/terraform-provider-registry/internal/retention"
)

// gcSettings are the inputs the garbage collection resource and action
// share. Their schemas live in different framework packages, so the
// descriptions and validators below are shared instead.
type gcSettings struct {
	ConfigFile            types.String `tfsdk:"config_file"`
	StorageDriver         types.String `tfsdk:"storage_driver"`
	StorageParameters     types.Map    `tfsdk:"storage_parameters"`
	DeleteUntagged        types.Bool   `tfsdk:"delete_untagged"`
	DryRun                types.Bool   `tfsdk:"dry_run"`
	AllowWritableRegistry types.Bool   `tfsdk:"allow_writable_registry"`
	RegistryStopped       types.Bool   `tfsdk:"registry_stopped"`
	Images                types.List   `tfsdk:"images"`
	KeepDeletedWithin     types.String `tfsdk:"keep_deleted_within"`
}

var gcDescriptions = map[string]string{
	"config_file": "Path, on the machine running Terraform, to the registry's own `config.yml`; its `storage` section names the driver and parameters. " +
		"`REGISTRY_STORAGE_*` environment overrides are not applied. Exactly one of `config_file` and `storage_driver`.",
	"storage_driver": "Storage driver, as under `storage:` in config.yml: `" + strings.Join(gc.Drivers, "`, `") + "`.",
	"storage_parameters": "The driver's parameters, as in config.yml (`rootdirectory` for `filesystem`; `bucket`, `region`, " +
		"`regionendpoint`, `accesskey`, `secretkey`, `rootdirectory`... for `s3`; `accountname`, `accountkey`, `container`, " +
		"`credentials.type`... for `azure`). Values are strings (`\"true\"` for booleans). A dotted key sets a nested parameter: " +
		"`\"credentials.type\" = \"shared_key\"` is `credentials: { type: shared_key }`.",
	"delete_untagged": "Also delete manifests that no tag references (`--delete-untagged`), except the children of kept indexes " +
		"and referrers (signatures, SBOMs: manifests whose `subject` is kept). Default `false`.",
	"images": "Deployed images to keep, as `registry_retention_policy`'s `keep { images }` takes them (`host/repo@sha256:...`, " +
		"`host/repo:tag`): with `delete_untagged`, a digest among them and everything it references survive although untagged " +
		"(a deployment pinned by digest whose tags were removed). Tags are never collected, so tag references change nothing. Every " +
		"reference must name this registry, by the provider's `url` host or one of its `aliases` (hosts compare as container runtimes " +
		"resolve them: `reg.internal` is `reg.internal:80` under an `http` url, `localhost`, `127.0.0.1` and `[::1]` are one host): " +
		"a reference to any other host fails the plan, since garbage collection would not protect it. In `registry_garbage_collection`, a change of `images` alone " +
		"runs nothing: the next run uses the new list.",
	"keep_deleted_within": "A grace period for undo, as a Go duration (`168h` is a week): what restoring the manifests that the journal " +
		"(`registry_journal`) records as deleted within it needs stays through the run (their manifest blobs, configs, layers and " +
		"index children, the repository's links to them and, with `delete_untagged`, the untagged manifests they reach: an index's " +
		"children, referrers), so `registry_restore` still works after garbage collection. The report says what it held back. " +
		"The journal's chunks whose newest entry is older are deleted in the same run, their blobs swept. Unset: no grace, everything " +
		"deleted is collected, and the journal is left alone. Configurations collecting the same storage should give the same value: " +
		"each run prunes by its own.",
	"dry_run": "Report what would be deleted and delete nothing. A dry run needs no read-only registry and skips the read-only check. Default `false`.",
	"allow_writable_registry": "Collect garbage even though the registry accepts pushes. Blobs of a push in progress can be deleted: " +
		"only for registries nobody pushes to during the run. Default `false`: before deleting, the provider starts and cancels an upload to " +
		"`" + registry.ProbeRepository + "` on its registry (which needs push permission there), and stops, deleting nothing, unless the " +
		"registry refuses it as a registry in read-only mode does (a 405 carrying the `Docker-Distribution-API-Version` header or a registry error body; " +
		"a plain 405 from a proxy or another server is no answer).",
	"registry_stopped": "The registry is stopped for the run: the safest way to collect garbage, since nothing can push or serve stale blobs. " +
		"The provider checks it, deleting nothing if it does not hold: at its `url`, a refused connection agrees and any answer stops the run; " +
		"at the `http.addr` that `config_file` names, when that address is on the machine running Terraform, nothing may answer as a registry " +
		"(over HTTP or HTTPS). A refused `url` alone only shows that nothing listens there (a wrong port is refused too), so without " +
		"`config_file` the run warns which address it found closed. With neither a `url` nor such an `http.addr` (a configuration used " +
		"only for garbage collection, with `storage_driver`), the statement is trusted. Start the registry again afterwards. Default `false`.",
}

var (
	gcConfigFileValidators = []validator.String{
		stringvalidator.LengthAtLeast(1),
		stringvalidator.ExactlyOneOf(path.MatchRoot("config_file"), path.MatchRoot("storage_driver")),
	}
	gcDriverValidators    = []validator.String{stringvalidator.OneOf(gc.Drivers...)}
	gcParameterValidators = []validator.Map{mapvalidator.AlsoRequires(path.MatchRoot("storage_driver"))}
)

// storage resolves where the registry keeps its data.
func (s gcSettings) storage(ctx context.Context) (gc.Storage, diag.Diagnostics) {
	if file := s.ConfigFile.ValueString(); file != "" {
		st, err := gc.StorageFromConfigFile(file)
		if err != nil {
			return st, attributeError("config_file", "Unusable registry configuration file", err)
		}
		return st, nil
	}
	flat := map[string]string{}
	diags := s.StorageParameters.ElementsAs(ctx, &flat, false)
	params, err := gc.NestParameters(flat)
	if err != nil {
		diags.Append(attributeError("storage_parameters", "Invalid storage parameters", err)...)
	}
	return gc.Storage{Driver: s.StorageDriver.ValueString(), Parameters: params}, diags
}

// known reports whether every input is known, so checks can run at plan time.
func (s gcSettings) known() bool {
	return !s.ConfigFile.IsUnknown() && !s.StorageDriver.IsUnknown() && !s.StorageParameters.IsUnknown()
}

// checkStorage opens the storage at plan time: a wrong path, bucket or
// credential fails the plan instead of the apply.
func (s gcSettings) checkStorage(ctx context.Context) diag.Diagnostics {
	if !s.known() {
		return nil
	}
	st, diags := s.storage(ctx)
	if diags.HasError() {
		return diags
	}
	if _, err := st.Open(ctx); err != nil {
		diags.Append(storageError(s, err)...)
	}
	return diags
}

// collectGarbage runs GC with the settings: opens the storage, makes sure
// the registry is read-only (unless dry run or allowed), marks and sweeps.
// Progress messages also go to the provider log.
func collectGarbage(ctx context.Context, client *registry.Client, hosts retention.Hosts, s gcSettings, progress func(string)) (gc.Report, diag.Diagnostics) {
	st, diags := s.storage(ctx)
	if diags.HasError() {
		return gc.Report{}, diags
	}
	if diags := checkImageHosts(s.Images, hosts); diags.HasError() {
		return gc.Report{}, diags
	}
	protect, err := protectedDigests(s.Images, hosts)
	if err != nil {
		return gc.Report{}, attributeError("images", "Invalid image reference", err)
	}
	driver, err := st.Open(ctx)
	if err != nil {
		return gc.Report{}, storageError(s, err)
	}
	diags.Append(requireNoPushes(ctx, client, s, progress)...)
	if diags.HasError() {
		return gc.Report{}, diags
	}
	grace, _ := parsePositiveDuration(s.KeepDeletedWithin.ValueString()) // validated; null is no grace
	report, err := gc.Run(ctx, driver, gc.Options{
		DeleteUntagged:    s.DeleteUntagged.ValueBool(),
		Protect:           protect,
		DryRun:            s.DryRun.ValueBool(),
		KeepDeletedWithin: grace,
		Progress: func(message string) {
			tflog.Info(ctx, message)
			progress(message)
		},
	})
	if err != nil {
		diags.AddError("Garbage collection failed", err.Error()+
			"\n\nA failure while reading the storage deletes nothing; a failure while sweeping leaves some garbage, which the next run removes.")
	}
	return report, diags
}

// protectedDigests maps repositories to the digests of the deployed images
// of this registry: the only references garbage collection must heed.
func protectedDigests(images types.List, hosts retention.Hosts) (map[string][]string, error) {
	if images.IsNull() {
		return nil, nil
	}
	mine, _, err := retention.ParseImages(stringsOf(images), hosts)
	protect := map[string][]string{}
	for _, image := range mine {
		if image.Digest != "" {
			protect[image.Repository] = append(protect[image.Repository], image.Digest)
		}
	}
	return protect, err
}

// checkImageHosts refuses images whose host the provider cannot match to
// the registry: garbage collection would protect nothing of them, and an
// image deployed by a name the provider does not know (a load balancer's,
// a DNS alias) would be collected. Unknown values pass: the check runs
// again before the sweep.
func checkImageHosts(images types.List, hosts retention.Hosts) diag.Diagnostics {
	if images.IsNull() || images.IsUnknown() {
		return nil
	}
	refs := make([]string, 0, len(images.Elements()))
	for _, e := range images.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsUnknown() {
			return nil
		}
		if !s.IsNull() {
			refs = append(refs, s.ValueString())
		}
	}
	foreign, err := retention.ForeignHosts(refs, hosts)
	if err != nil {
		return attributeError("images", "Invalid image reference", err)
	}
	if len(foreign) == 0 {
		return nil
	}
	var diags diag.Diagnostics
	listed := strings.Join(foreign, ", ")
	if hosts.Empty() {
		diags.AddAttributeError(path.Root("images"), "Cannot tell which images are this registry's",
			fmt.Sprintf("images names the hosts %s, but the provider has no url and no aliases, so no image reference can be "+
				"matched to the registry: garbage collection would protect none of them. Nothing was deleted.\n\n"+
				"Set the provider's url (the registry's own address), or list in its aliases the host[:port] names "+
				"deployments pull this registry's images by (aliases = [%q] if that is this registry).", listed, foreign[0]))
		return diags
	}
	diags.AddAttributeError(path.Root("images"), "Images of an unknown registry",
		fmt.Sprintf("images names hosts that are not this registry's: %s. Garbage collection protects only this registry's images, "+
			"and would protect none of these. Nothing was deleted.\n\nIf a host is a name of this registry (a load balancer's, a DNS "+
			"alias), add it to the provider's aliases (or correct its url); otherwise, leave references to other registries out of images.",
			listed))
	return diags
}

// requireNoPushes refuses to sweep while anything could push: GC deletes
// the blobs of an upload that has no manifest yet. A dry run deletes
// nothing, and allow_writable_registry takes the risk knowingly.
func requireNoPushes(ctx context.Context, client *registry.Client, s gcSettings, progress func(string)) diag.Diagnostics {
	switch {
	case s.DryRun.ValueBool() || s.AllowWritableRegistry.ValueBool():
		return nil
	case s.RegistryStopped.ValueBool():
		return requireStopped(ctx, client, s, progress)
	case client == nil:
		var diags diag.Diagnostics
		diags.AddAttributeError(path.Root("registry_stopped"), "Cannot check that nobody can push",
			"The provider has no url, so garbage collection cannot check that the registry is read-only, and deletes nothing. "+
				"Stop the registry and set registry_stopped = true (the safest way), or give the provider the registry's url "+
				"to check its read-only mode, or set allow_writable_registry = true if nothing can push during the run.")
		return diags
	}
	return requireReadOnly(ctx, client)
}

// requireStopped checks a configuration's word that the registry is
// stopped: at the provider's url, only a refused connection agrees; at the
// http.addr the registry's config_file names, when it is on this machine,
// nothing may answer as a registry. A refused url alone shows only that
// nothing listens there (a wrong port is refused too), so the run says
// which address it found closed.
func requireStopped(ctx context.Context, client *registry.Client, s gcSettings, progress func(string)) diag.Diagnostics {
	var diags diag.Diagnostics
	var closed []string
	if client != nil {
		check, err := client.IsStopped(ctx)
		switch {
		case err != nil:
			diags.AddAttributeError(path.Root("registry_stopped"), "Cannot confirm that the registry is stopped",
				fmt.Sprintf("%v\n\nOnly a refused connection shows that a registry is stopped: nothing was deleted.", err))
			return diags
		case !check.Stopped:
			diags.AddAttributeError(path.Root("registry_stopped"), "The registry is not stopped",
				fmt.Sprintf("registry_stopped = true, but the registry at %s answers. Nothing was deleted. Stop it (or put it in read-only mode "+
					"and set registry_stopped = false), collect garbage, then start it again.", client.URL()))
			return diags
		}
		closed = append(closed, check.Address+" (the provider's url)")
	}
	unchecked := "no config_file names the address the registry listens on"
	if file := s.ConfigFile.ValueString(); file != "" {
		listener, found, err := registry.ListenerFromConfigFile(file)
		if err != nil {
			return attributeError("config_file", "Unusable registry configuration file", err)
		}
		unchecked = "config_file names no http.addr"
		if found {
			check, local, err := registry.ListenerStopped(ctx, listener)
			switch {
			case err != nil:
				diags.AddAttributeError(path.Root("registry_stopped"), "Cannot confirm that the registry is stopped",
					fmt.Sprintf("%v\n\nconfig_file has the registry listen at %s (http.addr), on this machine; only a refused connection, "+
						"or an answer that is not a registry's, shows that it is stopped. Nothing was deleted.", err, listener))
				return diags
			case !local:
				unchecked = fmt.Sprintf("config_file's http.addr %s is not an address of this machine", listener)
			case !check.Stopped:
				diags.AddAttributeError(path.Root("registry_stopped"), "The registry is not stopped",
					fmt.Sprintf("registry_stopped = true, but a registry answers at %s, where config_file has it listen (http.addr %s). "+
						"Nothing was deleted. Stop it, collect garbage, then start it again.", check.Address, listener))
				return diags
			default:
				unchecked = ""
				where := check.Address + " (http.addr in config_file"
				if check.Note != "" {
					where += "; " + check.Note
				}
				closed = append(closed, where+")")
			}
		}
	}
	if len(closed) == 0 {
		return nil // a GC-only configuration with nothing to ask: the statement is trusted
	}
	message := "registry_stopped: no registry answers at " + strings.Join(closed, " nor at ")
	tflog.Info(ctx, message)
	progress(message)
	if unchecked != "" {
		diags.AddAttributeWarning(path.Root("registry_stopped"), "Only the url's address was found closed",
			fmt.Sprintf("registry_stopped = true was confirmed by a refused connection at %s only. A refused connection shows that "+
				"nothing listens there, not that the registry is stopped: a url with a wrong port is refused too. Here %s, so the address "+
				"the registry listens on was not checked; give config_file (the registry's config.yml), whose http.addr on this machine is "+
				"checked as well.", closed[0], unchecked))
	}
	return diags
}

// requireReadOnly refuses to sweep while the registry accepts pushes.
func requireReadOnly(ctx context.Context, client *registry.Client) diag.Diagnostics {
	var diags diag.Diagnostics
	accepts, err := client.AcceptsPushes(ctx)
	switch {
	case err != nil:
		diags.AddAttributeError(path.Root("allow_writable_registry"), "Cannot tell whether the registry is read-only",
			fmt.Sprintf("%v\n\nGarbage collection deletes nothing until it knows that nobody can push: it starts an upload to %q "+
				"and cancels it, which needs push permission there. If the registry is stopped, set registry_stopped = true "+
				"(the safest way to collect garbage); if it is in read-only mode and the credentials cannot push, set "+
				"allow_writable_registry = true.", err, registry.ProbeRepository))
	case accepts:
		diags.AddAttributeError(path.Root("allow_writable_registry"), "The registry accepts pushes",
			fmt.Sprintf("The registry at %s accepted an upload, so garbage collection could delete the blobs of a push in progress. "+
				"Nothing was deleted.\n\nPut the registry in read-only mode (storage.maintenance.readonly.enabled: true in its config.yml, "+
				"or REGISTRY_STORAGE_MAINTENANCE_READONLY='{\"enabled\":true}') and restart it, collect garbage, then disable read-only mode "+
				"and restart it again: the restart also clears its blob descriptor cache, which otherwise keeps answering for deleted blobs. "+
				"Set allow_writable_registry = true only if nothing can push during the run.", client.URL()))
	}
	return diags
}

func storageError(s gcSettings, err error) diag.Diagnostics {
	attr := "storage_parameters"
	if s.ConfigFile.ValueString() != "" {
		attr = "config_file"
	}
	return attributeError(attr, "Cannot open the registry storage", err)
}

func attributeError(attr, summary string, err error) diag.Diagnostics {
	var diags diag.Diagnostics
	diags.AddAttributeError(path.Root(attr), summary, err.Error())
	return diags
}
