package provider

import (
	"bytes"
	"context"
	"fmt"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/vmihailenco/msgpack/v5"
)

// The plugin framework walks every value Terraform sends before a
// resource's code runs, and while planning it walks each nested list
// element by copying the whole list (ListValue.Elements in
// listElemObject): a plan whose prior state held 49,000 pending
// deletions took seven minutes and allocated 89 GB; an apply of 49,000
// deletions walked the planned value for two minutes at a 900 MB heap.
// The policy's own code reads those lists from raw values and needs no
// walk, so the server sets them aside (server.go): it takes the lists out
// of the msgpack Terraform sends (they travel to the framework as empty
// lists, and to the policy in the context), and puts them back into the
// msgpack the framework returns, wherever the policy left them as they
// were. Terraform receives exactly the values the framework would have
// returned. The same holds for the lists the policy answers with (the
// deletions it plans, the pending deletions a refresh finds): the
// framework would walk and encode 9,800 planned deletions again (a tenth
// of a 10,000-tag plan), so the policy encodes them itself and hands the
// framework empty lists (answer), and the server puts them back.

// largeLists are the attributes set aside, by raw type: lists that grow
// with the registry, and replica_deletions, a map of such lists per
// replica (49,000 deletions there took the framework 13 s and 6 GB to
// read).
var largeLists = map[string]tftypes.Type{
	"pending_deletions": decisionListType,
	"deletions":         decisionListType,
	"protected":         tftypes.List{ElementType: protectedObjectType},
	"replica_deletions": replicaDeletionsType,
}

// setAside is what the server took out of one request: the msgpack
// encoding of each non-empty large list, by attribute, of the prior state
// (or current state) and of the planned state.
type setAside struct {
	prior, planned map[string][]byte
	// replanned are the attributes ModifyPlan planned itself: they are
	// not put back into its plan.
	replanned map[string]bool
	// answered are the non-empty large lists of the value the policy
	// answered with (a plan, a refreshed state), encoded: the server
	// puts them back into the framework's answer.
	answered map[string][]byte
}

// answer is value as the framework is to see it: its non-empty large
// lists empty, and set aside in s.answered. encoded is value's msgpack
// encoding when the caller has one (nil: each list is encoded here).
// Without a set-aside (a request the server passed on whole), value is
// the answer as it is.
func (s *setAside) answer(value tftypes.Value, encoded []byte) tftypes.Value {
	if s == nil {
		return value
	}
	taken, err := largeListsOf(value, encoded)
	if err != nil || len(taken) == 0 {
		return value
	}
	var attributes map[string]tftypes.Value
	if err := value.As(&attributes); err != nil {
		return value
	}
	attributes = maps.Clone(attributes) // As shares the value's own map
	for name := range taken {
		attributes[name] = emptyOf(largeLists[name])
	}
	s.answered = taken
	return tftypes.NewValue(value.Type(), attributes)
}

// largeListsOf are the encodings of object's non-empty large lists, taken
// from encoded (object's own encoding) when given.
func largeListsOf(object tftypes.Value, encoded []byte) (map[string][]byte, error) {
	if encoded != nil {
		_, taken, err := takeLists(encoded, largeLists)
		return taken, err
	}
	taken := map[string][]byte{}
	for name, typ := range largeLists {
		v := rawAttribute(object, name)
		if v.Type() == nil || !v.IsKnown() || v.IsNull() {
			continue
		}
		raw, err := tfprotov6.NewDynamicValue(typ, v)
		if err != nil {
			return nil, err
		}
		if emptied(raw.MsgPack) != nil {
			taken[name] = raw.MsgPack
		}
	}
	return taken, nil
}

// emptyOf is the empty value of a large list's type (a list, or
// replica_deletions' map).
func emptyOf(typ tftypes.Type) tftypes.Value {
	if _, isMap := typ.(tftypes.Map); isMap {
		return tftypes.NewValue(typ, map[string]tftypes.Value{})
	}
	return tftypes.NewValue(typ, []tftypes.Value{})
}

// replan records the attributes of a new plan: those of found, and names
// (nil: nothing was set aside).
func (s *setAside) replan(found map[string]tftypes.Value, names ...string) {
	if s == nil {
		return
	}
	s.replanned = map[string]bool{}
	for name := range found {
		s.replanned[name] = true
	}
	for _, name := range names {
		s.replanned[name] = true
	}
}

// notReplanned is taken without the attributes ModifyPlan planned.
func (s *setAside) notReplanned(taken map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for name, v := range taken {
		if !s.replanned[name] {
			out[name] = v
		}
	}
	return out
}

type setAsideKey struct{}

func withSetAside(ctx context.Context, s *setAside) context.Context {
	return context.WithValue(ctx, setAsideKey{}, s)
}

func setAsideIn(ctx context.Context) *setAside {
	s, _ := ctx.Value(setAsideKey{}).(*setAside)
	return s
}

// decisionListType is the raw type of deletions and pending_deletions.
var decisionListType = tftypes.List{ElementType: decisionObjectType}

// plannedList is a large list of the planned state: set aside by the
// server, or in the plan value itself.
func plannedList(ctx context.Context, plan tftypes.Value, name string) (tftypes.Value, error) {
	if s := setAsideIn(ctx); s != nil && s.planned[name] != nil {
		return (&tfprotov6.DynamicValue{MsgPack: s.planned[name]}).Unmarshal(largeLists[name])
	}
	return rawAttribute(plan, name), nil
}

// priorDecisions are the decisions of a decision list (deletions,
// pending_deletions) of the prior state, set aside or in the value.
func priorDecisions(ctx context.Context, state tftypes.Value, name string, diags *diag.Diagnostics) []decisionModel {
	if s := setAsideIn(ctx); s != nil && s.prior[name] != nil {
		return decisionsFromMsgPack(s.prior[name], diags)
	}
	return decisionsOf(rawAttribute(state, name), diags)
}

// plannedDecisions are those of the planned state, likewise.
func plannedDecisions(ctx context.Context, plan tftypes.Value, name string, diags *diag.Diagnostics) []decisionModel {
	if s := setAsideIn(ctx); s != nil && s.planned[name] != nil {
		return decisionsFromMsgPack(s.planned[name], diags)
	}
	return decisionsOf(rawAttribute(plan, name), diags)
}

// decisionsFromMsgPack reads a set-aside decision list: by
// decodeDecisions, or the framework's way when that refuses it.
func decisionsFromMsgPack(encoded []byte, diags *diag.Diagnostics) []decisionModel {
	if decisions, err := decodeDecisions(encoded); err == nil {
		return decisions
	}
	list, err := (&tfprotov6.DynamicValue{MsgPack: encoded}).Unmarshal(decisionListType)
	if err != nil {
		diags.AddError("Internal error", fmt.Sprintf("Reading deletions: %v. Please report this to the provider's developers.", err))
		return nil
	}
	return decisionsOf(list, diags)
}

// decisionLists are the values of the decision lists the policy answers
// with (name -> decisions): where the server set lists aside, each empty
// in values and encoded in encoded (nil when empty), for encodedWith and
// answer; without a set-aside, whole in values.
func (s *setAside) decisionLists(lists map[string][]decisionModel) (values map[string]tftypes.Value, encoded map[string][]byte) {
	values, encoded = map[string]tftypes.Value{}, map[string][]byte{}
	for name, decisions := range lists {
		if s == nil || len(decisions) == 0 {
			values[name] = decisionsValue(decisions)
			continue
		}
		values[name], encoded[name] = decisionsValue(nil), encodeDecisions(decisions)
	}
	return values, encoded
}

// encodedWith is the msgpack encoding of object with the encoded lists
// in place of the empty ones it holds; nil when there are none (object
// is whole).
func encodedWith(object tftypes.Value, lists map[string][]byte, diags *diag.Diagnostics) []byte {
	if len(lists) == 0 {
		return nil
	}
	raw, err := tfprotov6.NewDynamicValue(object.Type(), object)
	if err == nil {
		raw.MsgPack, err = putLists(raw.MsgPack, lists)
	}
	if err != nil {
		diags.AddError("Internal error", fmt.Sprintf("Encoding the deletions: %v. Please report this to the provider's developers.", err))
		return nil
	}
	return raw.MsgPack
}

// msgpack encodings: the first bytes of arrays and maps, and their empty
// forms.
const (
	emptyArray = 0x90
	array16    = 0xdc
	array32    = 0xdd
	emptyMap   = 0x80
	map16      = 0xde
	map32      = 0xdf
)

// emptied is the empty array or map that replaces a non-empty one; nil
// for any other value (empty, null, unknown).
func emptied(value []byte) []byte {
	switch {
	case len(value) == 0:
		return nil
	case value[0] > emptyArray && value[0] <= 0x9f || value[0] == array16 || value[0] == array32:
		return []byte{emptyArray}
	case value[0] > emptyMap && value[0] <= 0x8f || value[0] == map16 || value[0] == map32:
		return []byte{emptyMap}
	}
	return nil
}

// takeLists replaces each non-empty array or map among the named
// attributes of an object's msgpack encoding with an empty one, and
// returns them. A value that is not an object (null, unknown) is returned
// as it is.
func takeLists(object []byte, names map[string]tftypes.Type) ([]byte, map[string][]byte, error) {
	taken := map[string][]byte{}
	out, err := rewriteAttributes(object, func(name string, value []byte) []byte {
		if _, large := names[name]; large && emptied(value) != nil {
			taken[name] = value
			return emptied(value)
		}
		return value
	})
	return out, taken, err
}

// putLists puts taken values back where the value is still the empty one
// that replaced them.
func putLists(object []byte, taken map[string][]byte) ([]byte, error) {
	if len(taken) == 0 {
		return object, nil
	}
	return rewriteAttributes(object, func(name string, value []byte) []byte {
		if t, ok := taken[name]; ok && bytes.Equal(value, emptied(t)) {
			return t
		}
		return value
	})
}

// rewriteAttributes copies an object's msgpack encoding (a map of
// attribute names), each attribute's value through replace.
func rewriteAttributes(object []byte, replace func(name string, value []byte) []byte) ([]byte, error) {
	r := bytes.NewReader(object) // a ByteScanner: the decoder reads no further than asked
	dec := msgpack.NewDecoder(r)
	offset := func() int { return len(object) - r.Len() }
	code, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	// A map is fixmap, map16 or map32; anything else is null or unknown.
	isMap := code >= 0x80 && code <= 0x8f || code == 0xde || code == 0xdf
	if !isMap {
		return object, nil
	}
	n, err := dec.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(object))
	copied := 0
	for range n {
		name, err := dec.DecodeString()
		if err != nil {
			return nil, fmt.Errorf("attribute name: %w", err)
		}
		start := offset()
		if err := dec.Skip(); err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		end := offset()
		if replaced := replace(name, object[start:end]); !bytes.Equal(replaced, object[start:end]) {
			out = append(append(out, object[copied:start]...), replaced...)
			copied = end
		}
	}
	if offset() != len(object) {
		return nil, fmt.Errorf("%d bytes after the object", len(object)-offset())
	}
	return append(out, object[copied:]...), nil
}
