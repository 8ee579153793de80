package provider

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/vmihailenco/msgpack/v5"
)

// A plan over 10,000 tags lists 9,800 deletions. Building them as raw
// values (decisionsValue) and encoding those through terraform-plugin-go
// took 0.3 s and 0.5 s of a 5 s plan on a busy machine: every value is
// checked against its type, and the encoder copies an attribute path for
// every element and attribute it writes. The lists the server sets aside
// (server_lists.go) travel as msgpack, so the policy writes and reads that
// msgpack itself, for this one fixed object type: encodeDecisions writes
// byte for byte what terraform-plugin-go writes for decisionsValue
// (TestEncodeDecisionsAsTerraformPluginGo), and decodeDecisions reads what
// Terraform sends back, in any attribute order; anything it does not
// expect is read the framework's way instead (decisionsFromMsgPack).

// decisionAttributes are decisionObjectType's attribute names in the
// order terraform-plugin-go writes an object's attributes: sorted.
var decisionAttributes = slices.Sorted(func(yield func(string) bool) {
	for name := range decisionObjectType.(tftypes.Object).AttributeTypes {
		if !yield(name) {
			return
		}
	}
})

// encodeDecisions is the msgpack encoding of deletions or
// pending_deletions holding decisions.
func encodeDecisions(decisions []decisionModel) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	// A bytes.Buffer never fails a write, so neither does the encoder.
	_ = enc.EncodeArrayLen(len(decisions))
	for _, d := range decisions {
		_ = enc.EncodeMapLen(len(decisionAttributes))
		for _, name := range decisionAttributes {
			_ = enc.EncodeString(name)
			switch v := decisionField(&d, name).(type) {
			case *string:
				_ = enc.EncodeString(*v)
			case *[]string:
				_ = enc.EncodeArrayLen(len(*v))
				for _, s := range *v {
					_ = enc.EncodeString(s)
				}
			case **int64:
				if *v == nil {
					_ = enc.EncodeNil()
				} else {
					_ = enc.EncodeInt(**v)
				}
			}
		}
	}
	return buf.Bytes()
}

// decisionField is the field of d that attribute name is read into and
// written from, by address (nil: no such attribute). Every attribute of
// decisionObjectType has one (TestDecisionFieldOfEveryAttribute).
func decisionField(d *decisionModel, name string) any {
	switch name {
	case "repository":
		return &d.Repository
	case "digest":
		return &d.Digest
	case "action":
		return &d.Action
	case "tags":
		return &d.Tags
	case "referrers":
		return &d.Referrers
	case "children":
		return &d.Children
	case "reason":
		return &d.Reason
	case "bytes":
		return &d.Bytes
	}
	return nil
}

// decodeDecisions reads the msgpack encoding of a non-empty deletions or
// pending_deletions list, as Terraform or encodeDecisions wrote it.
func decodeDecisions(encoded []byte) ([]decisionModel, error) {
	r := bytes.NewReader(encoded)
	dec := msgpack.NewDecoder(r)
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > r.Len() { // every element takes a byte at least: a length beyond that is no list
		return nil, fmt.Errorf("a list of %d element(s) in %d bytes", n, r.Len())
	}
	out := make([]decisionModel, n)
	for i := range out {
		if err := decodeDecision(dec, r, &out[i]); err != nil {
			return nil, fmt.Errorf("deletion %d: %w", i, err)
		}
	}
	if _, err := dec.PeekCode(); err == nil {
		return nil, fmt.Errorf("bytes after the list")
	}
	return out, nil
}

func decodeDecision(dec *msgpack.Decoder, r *bytes.Reader, d *decisionModel) error {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	if n != len(decisionAttributes) {
		return fmt.Errorf("%d attributes, not %d", n, len(decisionAttributes))
	}
	seen := map[string]bool{}
	for range n {
		name, err := dec.DecodeString()
		if err != nil {
			return err
		}
		field := decisionField(d, name)
		if field == nil || seen[name] {
			return fmt.Errorf("attribute %q unknown or repeated", name)
		}
		seen[name] = true
		switch v := field.(type) {
		case *string:
			*v, err = dec.DecodeString()
		case *[]string:
			*v, err = decodeStrings(dec, r)
		case **int64:
			*v, err = decodeOptionalInt(dec)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// decodeStrings reads a list of strings; a null list reads as an empty
// one, as decisionsOf reads it. r is what dec reads from: a length
// beyond what is left of it is refused before anything is allocated.
func decodeStrings(dec *msgpack.Decoder, r *bytes.Reader) ([]string, error) {
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return nil, err
	}
	if n > r.Len() {
		return nil, fmt.Errorf("a list of %d string(s) in %d bytes", n, r.Len())
	}
	out := make([]string, max(n, 0))
	for i := range out {
		if out[i], err = dec.DecodeString(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeOptionalInt reads bytes: null, or a whole number, which Terraform
// writes as an integer (or, past int64, a float or its text: refused
// here, read the framework's way).
func decodeOptionalInt(dec *msgpack.Decoder) (*int64, error) {
	v, err := dec.DecodeInterfaceLoose() // every integer width as int64 or uint64
	if err != nil {
		return nil, err
	}
	switch n := v.(type) {
	case nil:
		return nil, nil
	case int64:
		return &n, nil
	case uint64:
		if n <= math.MaxInt64 {
			i := int64(n)
			return &i, nil
		}
	case float64:
		if f := big.NewFloat(n); f.IsInt() {
			if i, acc := f.Int64(); acc == big.Exact {
				return &i, nil
			}
		}
	}
	return nil, fmt.Errorf("bytes is not a whole number of int64 range: %v", v)
}
