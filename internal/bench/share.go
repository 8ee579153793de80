package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	"github.com/mitchellh/go-testing-interface"

	"github.com/distreg/terraform-provider-registry/internal/devprovider"
	"github.com/distreg/terraform-provider-registry/internal/provider"
)

// Terraform's share of a plan is what the plan costs when the provider
// already knows every answer: the CLI starting, the plugin protocol, the
// CLI checking, writing and rendering the planned value. No provider can
// plan faster than the registry's floor plus that share, since Terraform
// asks for the plan only after starting and renders it only after
// receiving it. The bench measures the share with memoProvider.

// memoProvider is the real provider, except that a plan or a data source
// read it has answered before is answered again from memory, without the
// framework or the registry.
type memoProvider struct {
	tfprotov6.ProviderServer
	mu      sync.Mutex
	answers map[string]any
}

func (m *memoProvider) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	key := memoKey("plan", req.TypeName, req.Config, req.PriorState, req.ProposedNewState)
	return remember(m, key, func() (*tfprotov6.PlanResourceChangeResponse, error) {
		return m.ProviderServer.PlanResourceChange(ctx, req)
	})
}

// ReadResource and UpgradeResourceState are remembered too: a plan over an
// existing state refreshes it.
func (m *memoProvider) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	key := memoKey("refresh", req.TypeName, req.CurrentState)
	return remember(m, key, func() (*tfprotov6.ReadResourceResponse, error) {
		return m.ProviderServer.ReadResource(ctx, req)
	})
}

func (m *memoProvider) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	key := "upgrade\x00" + req.TypeName
	if req.RawState != nil {
		key += "\x00" + string(req.RawState.JSON)
	}
	return remember(m, key, func() (*tfprotov6.UpgradeResourceStateResponse, error) {
		return m.ProviderServer.UpgradeResourceState(ctx, req)
	})
}

func (m *memoProvider) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	key := memoKey("read", req.TypeName, req.Config)
	return remember(m, key, func() (*tfprotov6.ReadDataSourceResponse, error) {
		return m.ProviderServer.ReadDataSource(ctx, req)
	})
}

func memoKey(call, typeName string, values ...*tfprotov6.DynamicValue) string {
	key := call + "\x00" + typeName
	for _, v := range values {
		if v != nil {
			key += "\x00" + string(v.MsgPack) + "\x00" + string(v.JSON)
		}
	}
	return key
}

func remember[Resp any](m *memoProvider, key string, answer func() (*Resp, error)) (*Resp, error) {
	m.mu.Lock()
	known, ok := m.answers[key].(*Resp)
	m.mu.Unlock()
	if ok {
		return known, nil
	}
	resp, err := answer()
	if err == nil {
		m.mu.Lock()
		m.answers[key] = resp
		m.mu.Unlock()
	}
	return resp, err
}

// currentTerraform is the current Terraform, relative to the module root
// (make bench builds it). The plans run under bin/terraform, the oldest
// Terraform the tests run; its share is measured too, because what a user
// on a current CLI pays is the same provider work plus that CLI's share.
const currentTerraform = "bin/terraform-1.14"

// terraformShares is Terraform's share of a plan of config under the
// Terraform the plans run under, then under currentTerraform.
func terraformShares(ctx context.Context, config string) (share, current time.Duration, err error) {
	if share, err = terraformShare(ctx, config, "", nil); err != nil {
		return 0, 0, err
	}
	root, err := devprovider.ModuleRoot()
	if err != nil {
		return 0, 0, err
	}
	current, err = terraformShare(ctx, config, filepath.Join(root, currentTerraform), nil)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", currentTerraform, err)
	}
	return share, current, nil
}

// terraformShare times `terraform plan` of config through memoProvider,
// with the CLI at cli (initWorkspace) and state as terraform.tfstate when
// not nil, after one unmeasured plan that teaches it the answers: the
// best of several runs (fastest).
func terraformShare(ctx context.Context, config, cli string, state []byte) (time.Duration, error) {
	ws, err := initWorkspace(ctx, config, cli)
	if err != nil {
		return 0, err
	}
	defer ws.Close()
	if state != nil {
		if err := os.WriteFile(filepath.Join(ws.Dir, "terraform.tfstate"), state, 0o600); err != nil {
			return 0, err
		}
	}
	served, err := provider.NewServer("bench")()
	if err != nil {
		return 0, err
	}
	memo := &memoProvider{ProviderServer: served, answers: map[string]any{}}
	// Logs go where Terraform would send them: nowhere, unless TF_LOG says.
	reattach, stop, err := devprovider.Serve(ctx, func() tfprotov6.ProviderServer { return memo },
		tf6server.WithLoggingSink(&testing.RuntimeT{}))
	if err != nil {
		return 0, err
	}
	defer stop()
	ws.Env = append(ws.Env, "TF_REATTACH_PROVIDERS="+reattach)
	if err := runTerraform(ctx, ws, "plan"); err != nil {
		return 0, err
	}
	return best(func() error { return runTerraform(ctx, ws, "plan") })
}
