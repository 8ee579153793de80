package main

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// countingServer answers every plan and read with a new response and
// counts the calls that reach it.
type countingServer struct {
	tfprotov6.ProviderServer
	calls int
}

func (c *countingServer) PlanResourceChange(context.Context, *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	c.calls++
	return &tfprotov6.PlanResourceChangeResponse{}, nil
}

func (c *countingServer) ReadDataSource(context.Context, *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	c.calls++
	return &tfprotov6.ReadDataSourceResponse{}, nil
}

func TestMemoProviderAnswersRepeatsFromMemory(t *testing.T) {
	ctx := context.Background()
	inner := &countingServer{}
	memo := &memoProvider{ProviderServer: inner, answers: map[string]any{}}
	config := func(b string) *tfprotov6.DynamicValue { return &tfprotov6.DynamicValue{MsgPack: []byte(b)} }
	plan := func(typeName, cfg string) *tfprotov6.PlanResourceChangeResponse {
		resp, err := memo.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{TypeName: typeName, Config: config(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	read := func(cfg string) *tfprotov6.ReadDataSourceResponse {
		resp, err := memo.ReadDataSource(ctx, &tfprotov6.ReadDataSourceRequest{TypeName: "registry_tags", Config: config(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	first := plan("registry_retention_policy", "a")
	if again := plan("registry_retention_policy", "a"); again != first || inner.calls != 1 {
		t.Fatalf("a repeated plan reached the provider: %d calls", inner.calls)
	}
	plan("registry_retention_policy", "b")
	plan("registry_tag_deletion", "a")
	if inner.calls != 3 {
		t.Fatalf("a plan of another configuration or type was answered from memory: %d calls, want 3", inner.calls)
	}
	firstRead := read("a")
	if again := read("a"); again != firstRead || inner.calls != 4 {
		t.Fatalf("a repeated read reached the provider, or a read was answered with a plan: %d calls, want 4", inner.calls)
	}
}
