package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// The record of an apply stays out of every later plan. A retention
// policy's state after apply holds every deletion it performed (Terraform
// requires the applied state to equal the plan), tens of thousands after
// a first cleanup of a large registry. Terraform hands that state to the
// provider on every later command: as JSON to UpgradeResourceState, then
// to ReadResource and PlanResourceChange as the upgraded value. The plugin
// framework walks every value it is given (attribute paths, schema look-ups,
// null blocks), which took a minute and gigabytes for 49,000 deletions,
// before the provider's own code ran. So the upgrade, which sees the state
// as stored, drops `deletions` (an empty list), and the replicas' part of
// the same apply, `replica_deletions` (an empty map), before the framework
// decodes it: the refresh and the plan start from the state without the
// last apply's lists, and cost what the registry work costs.
//
// What the apply deleted stays in the state file until the next apply or
// refresh-only apply writes it again, in the apply's output (the plan it
// performed), and in `summary`, which counts it and which later refreshes
// keep. Terraform's view of the state before the refresh is the upgraded
// one, so `-refresh-only` does not list the forgotten deletions as a change
// made outside Terraform.

// NewServer is the provider as Terraform is served it: the framework's
// server, with the upgrade of registry_retention_policy states above.
func NewServer(version string) func() (tfprotov6.ProviderServer, error) {
	return serverOf(New(version))
}

func serverOf(p func() provider.Provider) func() (tfprotov6.ProviderServer, error) {
	return func() (tfprotov6.ProviderServer, error) {
		served, err := providerserver.NewProtocol6WithError(p())()
		if err != nil {
			return nil, err
		}
		framework, ok := served.(frameworkServer)
		if !ok {
			return nil, fmt.Errorf("the plugin framework's server (%T) lacks an RPC this provider serves", served)
		}
		return server{framework}, nil
	}
}

// frameworkServer is every RPC the plugin framework serves.
type frameworkServer interface {
	tfprotov6.ProviderServer
	tfprotov6.ActionServer
	tfprotov6.ListResourceServer
	tfprotov6.StateStoreServer
}

type server struct{ frameworkServer }

func (s server) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	if req.TypeName == retentionPolicyType && req.RawState != nil && len(req.RawState.JSON) > 0 {
		raw := *req.RawState
		raw.JSON = withoutDeletions(raw.JSON)
		upgrade := *req
		upgrade.RawState = &raw
		req = &upgrade
	}
	return s.frameworkServer.UpgradeResourceState(ctx, req)
}

// withoutDeletions is a policy's stored state with `deletions` and
// `replica_deletions` (the replicas' part of the same apply) emptied.
// Anything unexpected is passed on as it is, for the framework to judge.
func withoutDeletions(state []byte) []byte {
	var attributes map[string]json.RawMessage
	if err := json.Unmarshal(state, &attributes); err != nil {
		return state
	}
	emptied := false
	for name, empty := range map[string]string{"deletions": "[]", "replica_deletions": "{}"} {
		if v, ok := attributes[name]; ok && !bytes.Equal(v, []byte("null")) && !bytes.Equal(v, []byte(empty)) {
			attributes[name], emptied = json.RawMessage(empty), true
		}
	}
	if !emptied {
		return state
	}
	out, err := json.Marshal(attributes)
	if err != nil {
		return state
	}
	return out
}

// ReadResource hands the policy's state to the framework without its large
// lists (server_lists.go): the refresh replaces them, and answers with the
// lists it found set aside too.
func (s server) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	if req.TypeName != retentionPolicyType || req.CurrentState == nil {
		return s.frameworkServer.ReadResource(ctx, req)
	}
	current, taken, err := takeLists(req.CurrentState.MsgPack, largeLists)
	if err != nil {
		return s.frameworkServer.ReadResource(ctx, req) // the framework reports it
	}
	read := *req
	read.CurrentState = &tfprotov6.DynamicValue{MsgPack: current}
	aside := &setAside{prior: taken}
	resp, err := s.frameworkServer.ReadResource(withSetAside(ctx, aside), &read)
	if err == nil && resp.NewState != nil {
		if hasErrors(resp.Diagnostics) {
			// Terraform keeps the state it had: give it back whole.
			resp.NewState.MsgPack, err = putLists(resp.NewState.MsgPack, taken)
		} else {
			resp.NewState.MsgPack, err = putLists(resp.NewState.MsgPack, aside.answered)
		}
	}
	return resp, err
}

// PlanResourceChange hands the framework the prior and proposed states
// without their large lists, which Terraform proposes as they were, and
// puts them back into the plan unless ModifyPlan planned them anew.
func (s server) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	if req.TypeName != retentionPolicyType || req.PriorState == nil || req.ProposedNewState == nil {
		return s.frameworkServer.PlanResourceChange(ctx, req)
	}
	prior, priorTaken, err1 := takeLists(req.PriorState.MsgPack, largeLists)
	proposed, proposedTaken, err2 := takeLists(req.ProposedNewState.MsgPack, largeLists)
	if err1 != nil || err2 != nil || !sameLists(priorTaken, proposedTaken) {
		return s.frameworkServer.PlanResourceChange(ctx, req)
	}
	plan := *req
	plan.PriorState, plan.ProposedNewState = &tfprotov6.DynamicValue{MsgPack: prior}, &tfprotov6.DynamicValue{MsgPack: proposed}
	aside := &setAside{prior: priorTaken, planned: proposedTaken}
	resp, err := s.frameworkServer.PlanResourceChange(withSetAside(ctx, aside), &plan)
	if err == nil && resp.PlannedState != nil {
		back := aside.notReplanned(proposedTaken)
		maps.Copy(back, aside.answered)
		resp.PlannedState.MsgPack, err = putLists(resp.PlannedState.MsgPack, back)
	}
	return resp, err
}

// ApplyResourceChange hands the framework the planned and prior states
// without their large lists; the apply reads the planned deletions from
// the context. The new state is the plan (or, after an error, the prior
// state): its lists go back in.
func (s server) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	if req.TypeName != retentionPolicyType || req.PriorState == nil || req.PlannedState == nil {
		return s.frameworkServer.ApplyResourceChange(ctx, req)
	}
	prior, priorTaken, err1 := takeLists(req.PriorState.MsgPack, largeLists)
	planned, plannedTaken, err2 := takeLists(req.PlannedState.MsgPack, largeLists)
	if err1 != nil || err2 != nil {
		return s.frameworkServer.ApplyResourceChange(ctx, req)
	}
	apply := *req
	apply.PriorState, apply.PlannedState = &tfprotov6.DynamicValue{MsgPack: prior}, &tfprotov6.DynamicValue{MsgPack: planned}
	resp, err := s.frameworkServer.ApplyResourceChange(withSetAside(ctx, &setAside{prior: priorTaken, planned: plannedTaken}), &apply)
	if err == nil && resp.NewState != nil {
		taken := plannedTaken
		if hasErrors(resp.Diagnostics) {
			taken = priorTaken
		}
		resp.NewState.MsgPack, err = putLists(resp.NewState.MsgPack, taken)
	}
	return resp, err
}

func sameLists(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for name, v := range a {
		if !bytes.Equal(v, b[name]) {
			return false
		}
	}
	return true
}

func hasErrors(diags []*tfprotov6.Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return true
		}
	}
	return false
}
