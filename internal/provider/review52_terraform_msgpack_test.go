package provider

// Review 52: the policy's own msgpack decoding of its decision lists
// (e387575, retention_decisions_msgpack.go) against what Terraform itself
// sends back in ApplyResourceChange and PlanResourceChange: the planned or
// prior list as cty encodes it (github.com/zclconf/go-cty/cty/msgpack, the
// encoder Terraform uses), after cty decoded the provider's own bytes
// (strings normalized to NFC, numbers re-encoded by value). Attacked with
// decomposed unicode (NFC changes the bytes), reasons of every msgpack
// string length class (str8/16/32), null, zero, negative and extreme byte
// counts, and nil/empty lists.
//
// Held: TestReview52DecodeDecisionsAsTerraformSendsThem: decodeDecisions
// reads cty's encoding exactly as the framework's way (decisionsOf over
// tfprotov6's Unmarshal) does, for every value above; and the value
// Terraform decodes from encodeDecisions equals, once normalized, the one
// it decodes from terraform-plugin-go's encoding (nothing planned is
// dropped or added).
//
// Run: go test -count=1 -run TestReview52DecodeDecisionsAsTerraformSendsThem ./internal/provider/

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/zclconf/go-cty/cty"
	ctymsgpack "github.com/zclconf/go-cty/cty/msgpack"
)

func TestReview52DecodeDecisionsAsTerraformSendsThem(t *testing.T) {
	decomposed := "e\u0301" // é as e + combining acute: NFC rewrites it
	numbers := []int64{0, -1, 1, 127, 128, 255, 256, 65535, 65536, math.MaxInt32, math.MaxInt32 + 1, math.MaxInt64, math.MinInt64}
	var decisions []decisionModel
	for i, n := range numbers {
		b := n
		d := decisionModel{
			Repository: "team/app-" + decomposed,
			Digest:     "sha256:" + strings.Repeat("ab", 32),
			Action:     "delete_manifest",
			Tags:       []string{"pr-" + strings.Repeat("x", i*20)},
			Referrers:  nil,
			Children:   []string{},
			Reason:     strings.Repeat(decomposed, []int{0, 15, 16, 127, 128, 32767, 32768}[i%7]) + "matched delete { tag_regex = \"^pr-\" } ✓",
			Bytes:      &b,
		}
		if i%4 == 3 {
			d.Bytes = nil
		}
		decisions = append(decisions, d)
	}
	listType := cty.List(cty.Object(map[string]cty.Type{
		"repository": cty.String, "digest": cty.String, "action": cty.String, "tags": cty.List(cty.String),
		"referrers": cty.List(cty.String), "children": cty.List(cty.String), "reason": cty.String, "bytes": cty.Number,
	}))
	ours := encodeDecisions(decisions)
	theirs, err := tfprotov6.NewDynamicValue(decisionListType, decisionsValue(decisions))
	if err != nil {
		t.Fatal(err)
	}
	// What Terraform holds after reading each answer, and sends back.
	fromOurs, err := ctymsgpack.Unmarshal(ours, listType)
	if err != nil {
		t.Fatalf("Terraform cannot read encodeDecisions' bytes: %v", err)
	}
	fromTheirs, err := ctymsgpack.Unmarshal(theirs.MsgPack, listType)
	if err != nil {
		t.Fatal(err)
	}
	if !fromOurs.RawEquals(fromTheirs) {
		t.Fatal("Terraform reads encodeDecisions' list differently from terraform-plugin-go's")
	}
	sent, err := ctymsgpack.Marshal(fromOurs, listType)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeDecisions(sent)
	if err != nil {
		t.Fatalf("decodeDecisions refuses Terraform's encoding: %v", err)
	}
	list, err := (&tfprotov6.DynamicValue{MsgPack: sent}).Unmarshal(decisionListType)
	if err != nil {
		t.Fatal(err)
	}
	var diags diag.Diagnostics
	want := decisionsOf(list, &diags)
	if diags.HasError() {
		t.Fatal(diags)
	}
	if len(got) != len(decisions) || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeDecisions read %d decision(s) of Terraform's encoding differently from the framework's way (%d)", len(got), len(want))
	}
	for i := range got {
		if (got[i].Bytes == nil) != (decisions[i].Bytes == nil) || got[i].Bytes != nil && *got[i].Bytes != *decisions[i].Bytes {
			t.Fatalf("decision %d: bytes %v, planned %v", i, got[i].Bytes, decisions[i].Bytes)
		}
	}
}
