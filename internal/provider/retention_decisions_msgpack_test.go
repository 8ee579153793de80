package provider

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// randomDecisions are decisions with what an encoding has to tell apart:
// empty and nil lists, null and extreme byte counts, strings of every
// msgpack length class and non-ASCII text.
func randomDecisions(r *rand.Rand, n int) []decisionModel {
	text := func() string {
		lengths := []int{0, 1, 31, 32, 255, 256, 65535, 65536}
		return strings.Repeat("é", lengths[r.IntN(len(lengths))]/2) + strings.Repeat("x", r.IntN(40))
	}
	texts := func() []string {
		if r.IntN(5) == 0 {
			return nil
		}
		out := make([]string, r.IntN(20))
		for i := range out {
			out[i] = text()
		}
		return out
	}
	numbers := []int64{0, 1, -1, 127, 128, -33, 255, 65536, math.MaxInt32 + 1, math.MaxInt64, math.MinInt64}
	out := make([]decisionModel, n)
	for i := range out {
		d := decisionModel{Repository: text(), Digest: text(), Action: text(), Reason: text(), Tags: texts(), Referrers: texts(), Children: texts()}
		if r.IntN(3) > 0 {
			b := numbers[r.IntN(len(numbers))]
			if r.IntN(2) == 0 {
				b = r.Int64()
			}
			d.Bytes = &b
		}
		out[i] = d
	}
	return out
}

// The policy's own encoding is what terraform-plugin-go writes for the
// same list, byte for byte: the server puts it into answers Terraform
// reads, and plan records compare encodings.
func TestEncodeDecisionsAsTerraformPluginGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 17, 300} {
		decisions := randomDecisions(r, n)
		want, err := tfprotov6.NewDynamicValue(decisionListType, decisionsValue(decisions))
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeDecisions(decisions); !bytes.Equal(got, want.MsgPack) {
			t.Fatalf("%d decisions: encodeDecisions wrote %d bytes that differ from terraform-plugin-go's %d", n, len(got), len(want.MsgPack))
		}
	}
}

// decodeDecisions reads what the framework's way reads, from
// terraform-plugin-go's encoding (what encodeDecisions writes).
func TestDecodeDecisionsAsTheFramework(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 5, 300} {
		decisions := randomDecisions(r, n)
		encoded, err := tfprotov6.NewDynamicValue(decisionListType, decisionsValue(decisions))
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeDecisions(encoded.MsgPack)
		if err != nil {
			t.Fatal(err)
		}
		var diags diag.Diagnostics
		list, err := encoded.Unmarshal(decisionListType)
		if err != nil {
			t.Fatal(err)
		}
		if want := decisionsOf(list, &diags); !reflect.DeepEqual(got, want) || diags.HasError() {
			t.Fatalf("%d decisions: decodeDecisions read %+v, the framework's way %+v (%v)", n, got[0], want[0], diags)
		}
	}
}

func TestDecisionFieldOfEveryAttribute(t *testing.T) {
	var d decisionModel
	fields := map[any]bool{}
	for _, name := range decisionAttributes {
		f := decisionField(&d, name)
		if f == nil || fields[f] {
			t.Fatalf("attribute %q has no field of its own", name)
		}
		fields[f] = true
	}
	if n := reflect.TypeFor[decisionModel]().NumField(); len(fields) != n {
		t.Fatalf("%d attributes for %d fields", len(fields), n)
	}
}

// Whatever bytes come, decodeDecisions returns an error or the decisions
// the framework's way reads from them (never a panic, never other values).
func FuzzDecodeDecisions(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	f.Add(encodeDecisions(randomDecisions(r, 2)))
	f.Add([]byte{0x91, 0x80})
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, encoded []byte) {
		got, err := decodeDecisions(encoded)
		if err != nil {
			return
		}
		list, err := (&tfprotov6.DynamicValue{MsgPack: encoded}).Unmarshal(decisionListType)
		if err != nil {
			t.Fatalf("decodeDecisions read %+v from bytes the framework refuses: %v", got, err)
		}
		var diags diag.Diagnostics
		if want := decisionsOf(list, &diags); !diags.HasError() && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeDecisions read %+v, the framework's way %+v", got, want)
		}
	})
}
