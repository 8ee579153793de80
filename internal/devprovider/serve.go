package devprovider

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

// Serve serves a provider in this process, as terraform-plugin-testing
// serves the acceptance tests' provider, and returns the value of
// TF_REATTACH_PROVIDERS that points a CLI at it under Source on every
// host (Terraform and OpenTofu each resolve Source under their own), and a
// function that stops it. A provider served this way sees this process's
// environment, not the CLI's, and can be wrapped to observe or steer what
// the CLI receives.
func Serve(ctx context.Context, server func() tfprotov6.ProviderServer, opts ...tf6server.ServeOpt) (string, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	configs := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	opts = append([]tf6server.ServeOpt{tf6server.WithDebug(ctx, configs, closed), tf6server.WithGoPluginLogger(hclog.NewNullLogger())}, opts...)
	go func() { _ = tf6server.Serve(hosts[0]+"/"+Source, server, opts...) }()
	stop := func() { cancel(); <-closed }
	select {
	case c := <-configs:
		reattach, err := reattachValue(c)
		if err != nil {
			stop()
			return "", nil, err
		}
		return reattach, stop, nil
	case <-time.After(10 * time.Second):
		cancel()
		return "", nil, fmt.Errorf("the in-process provider did not start")
	}
}

// reattachValue is TF_REATTACH_PROVIDERS for c under Source on every host.
func reattachValue(c *plugin.ReattachConfig) (string, error) {
	entry := map[string]any{
		"Protocol": string(c.Protocol), "ProtocolVersion": c.ProtocolVersion, "Pid": c.Pid, "Test": true,
		"Addr": map[string]string{"Network": c.Addr.Network(), "String": c.Addr.String()},
	}
	providers := map[string]any{}
	for _, host := range hosts {
		providers[host+"/"+Source] = entry
	}
	value, err := json.Marshal(providers)
	return string(value), err
}
