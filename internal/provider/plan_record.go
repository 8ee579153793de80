package provider

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/distreg/terraform-provider-registry/internal/registry"
)

// Terraform plans every resource twice: for the plan the user reviews, and
// again during apply, and it stops with "Provider produced inconsistent
// final plan ... a bug in the provider" when the second plan differs from
// the first. A deletion planned from the registry (a new or reconfigured
// resource) would differ whenever the registry changed in between, and a
// provider is told nothing that tells the two passes apart.
//
// So the plan made from the registry is recorded on disk (in cache_dir),
// keyed by everything Terraform gives both passes: the resource type, the
// registry, the configuration and the prior state. A later plan for the
// same key within planRecordTTL repeats the recorded one, with a warning
// naming when it was made, if the registry no longer agrees with it: the
// saved plan applies as reviewed, and the apply's own checks against the
// registry skip, with a warning, what changed. The apply forgets the
// record. Where the record is missing (cache_dir = "", or plan and apply
// on different machines without it) the second pass plans from the
// registry again, and a registry changed in between still ends in
// Terraform's message; nothing is deleted then either.

// planRecordTTL is how long a recorded plan is repeated; older records are
// removed when a new one is written.
const planRecordTTL = 24 * time.Hour

type planRecords struct {
	dir    string // empty: recording is off
	client *registry.Client
	now    func() time.Time
}

// recordsOf are the plan records of client's registry, aged by the
// provider's clock now (time.Now when nil).
func recordsOf(client *registry.Client, now func() time.Time) planRecords {
	if now == nil {
		now = time.Now
	}
	records := planRecords{client: client, now: now}
	if client != nil {
		records.dir, _ = client.CacheFolder(registry.PlansFolder)
	}
	return records
}

// settle records the plan just made from the registry, or repeats the one
// recorded for the same configuration and state if it differs. full is
// the plan's encoding when resp's value leaves large lists out (empty;
// the policy answers them encoded: server_lists.go), nil when that value
// is the whole plan. It returns the encoding of the plan it leaves in
// resp when it has one (nil otherwise), so that the policy sets its large
// lists aside from it instead of encoding them again.
func (p planRecords) settle(typeName string, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, full []byte) []byte {
	path, ok := p.path(typeName, req.Config.Raw, req.State.Raw)
	if !ok || resp.Diagnostics.HasError() {
		return full
	}
	recorded, raw, at, found := p.load(path, resp.Plan.Raw.Type())
	switch {
	case !found:
		return p.save(path, resp.Plan.Raw, full)
	case !bytes.Equal(raw, full) && !recorded.Equal(wholePlan(resp.Plan.Raw, full)):
		resp.Plan.Raw = recorded
		resp.Diagnostics.AddWarning("The registry changed since this was first planned",
			fmt.Sprintf("This configuration was planned at %s and the registry no longer matches that plan. This plan repeats it, so that a saved plan "+
				"applies as reviewed: the apply checks every item against the registry again, skips what changed (with a warning) and deletes nothing else. "+
				"The plan after that apply shows what the registry needs then. To plan from the registry as it is now instead, delete %s.",
				at.UTC().Format(time.RFC3339), path))
	}
	return raw // equal values: the recorded encoding encodes either
}

// wholePlan is the plan value with its large lists: decoded from full when
// given.
func wholePlan(plan tftypes.Value, full []byte) tftypes.Value {
	if full == nil {
		return plan
	}
	whole, err := (&tfprotov6.DynamicValue{MsgPack: full}).Unmarshal(plan.Type())
	if err != nil {
		return plan // differs from any record: the record is repeated, as for a changed registry
	}
	return whole
}

// forget drops the record once the apply has run.
func (p planRecords) forget(typeName string, config, state tftypes.Value) {
	if path, ok := p.path(typeName, config, state); ok {
		_ = os.Remove(path)
	}
}

func (p planRecords) path(typeName string, config, state tftypes.Value) (string, bool) {
	if p.dir == "" {
		return "", false
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", typeName, p.client.URL())
	for _, v := range []tftypes.Value{config, state} {
		if err := writeCanonical(h, v); err != nil {
			return "", false
		}
	}
	return filepath.Join(p.dir, hex.EncodeToString(h.Sum(nil))+".msgpack"), true
}

// writeCanonical writes v so that equal values write the same bytes in
// every planning pass: a key, not an encoding Terraform reads. (msgpack,
// as terraform-plugin-go writes it, puts a map's entries in Go's map
// order, which differs from one pass to the next: a state whose summary
// covers two repositories missed its record half the time.) Each part is
// tagged and each string length-prefixed, so that no two values write
// the same bytes.
func writeCanonical(w io.Writer, v tftypes.Value) error {
	switch typ := v.Type(); {
	case typ == nil:
		return fmt.Errorf("a value without a type")
	case !v.IsKnown():
		_, err := io.WriteString(w, "?")
		return err
	case v.IsNull():
		_, err := io.WriteString(w, "-")
		return err
	case typ.Is(tftypes.Map{}) || typ.Is(tftypes.Object{}):
		var entries map[string]tftypes.Value
		if err := v.As(&entries); err != nil {
			return err
		}
		fmt.Fprintf(w, "{%d", len(entries))
		for _, key := range slices.Sorted(maps.Keys(entries)) {
			fmt.Fprintf(w, "%d:%s", len(key), key)
			if err := writeCanonical(w, entries[key]); err != nil {
				return err
			}
		}
	case typ.Is(tftypes.List{}) || typ.Is(tftypes.Set{}) || typ.Is(tftypes.Tuple{}):
		var elems []tftypes.Value
		if err := v.As(&elems); err != nil {
			return err
		}
		fmt.Fprintf(w, "[%d", len(elems))
		for _, e := range elems {
			if err := writeCanonical(w, e); err != nil {
				return err
			}
		}
	default: // a primitive: its own text is canonical
		text := v.String()
		fmt.Fprintf(w, "%d:%s", len(text), text)
	}
	return nil
}

// load is the record at path: its value, its encoding and when it was
// made.
func (p planRecords) load(path string, typ tftypes.Type) (tftypes.Value, []byte, time.Time, bool) {
	info, err := os.Stat(path)
	if err != nil || p.now().Sub(info.ModTime()) > planRecordTTL {
		return tftypes.Value{}, nil, time.Time{}, false
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return tftypes.Value{}, nil, time.Time{}, false
	}
	v, err := (&tfprotov6.DynamicValue{MsgPack: raw}).Unmarshal(typ)
	if err != nil {
		return tftypes.Value{}, nil, time.Time{}, false // a damaged record is no record
	}
	return v, raw, info.ModTime(), true
}

// save writes a record (full, or plan encoded), removes records past
// their time and returns the plan's encoding. Recording is best effort:
// a failure only means the next pass plans from the registry.
func (p planRecords) save(path string, plan tftypes.Value, full []byte) []byte {
	if full == nil {
		raw, err := tfprotov6.NewDynamicValue(plan.Type(), plan)
		if err != nil {
			return nil
		}
		full = raw.MsgPack
	}
	p.prune()
	_ = registry.WriteAtomic(path, full)
	return full
}

func (p planRecords) prune() {
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && p.now().Sub(info.ModTime()) > planRecordTTL {
			_ = os.Remove(filepath.Join(p.dir, e.Name()))
		}
	}
}
