package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	"github.com/mitchellh/go-testing-interface"

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

// terraformShare times `terraform plan` of config through memoProvider,
// after one unmeasured plan that teaches it the answers: the best of
// several runs (fastest).
func terraformShare(ctx context.Context, config string) (time.Duration, error) {
	ws, err := initWorkspace(ctx, config)
	if err != nil {
		return 0, err
	}
	defer ws.Close()
	reattach, stop, err := serveMemoProvider(ctx)
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

// serveMemoProvider serves a memoProvider in this process, as the
// acceptance tests serve theirs, and returns the TF_REATTACH_PROVIDERS
// value that points Terraform at it.
func serveMemoProvider(ctx context.Context) (string, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	memo := &memoProvider{ProviderServer: providerserver.NewProtocol6(provider.New("bench")())(), answers: map[string]any{}}
	configs := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go func() {
		_ = tf6server.Serve(provider.Address, func() tfprotov6.ProviderServer { return memo },
			tf6server.WithDebug(ctx, configs, closed), tf6server.WithGoPluginLogger(hclog.NewNullLogger()),
			// Logs go where Terraform would send them: nowhere, unless TF_LOG says.
			tf6server.WithLoggingSink(&testing.RuntimeT{}))
	}()
	stop := func() { cancel(); <-closed }
	select {
	case c := <-configs:
		reattach, err := json.Marshal(map[string]any{provider.Address: map[string]any{
			"Protocol": string(c.Protocol), "ProtocolVersion": c.ProtocolVersion, "Pid": c.Pid, "Test": true,
			"Addr": map[string]string{"Network": c.Addr.Network(), "String": c.Addr.String()},
		}})
		return string(reattach), stop, err
	case <-time.After(10 * time.Second):
		cancel()
		return "", nil, fmt.Errorf("the memoizing provider did not start")
	}
}
