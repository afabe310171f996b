package px

import (
	"bytes"
	"errors"

	"github.com/vmihailenco/msgpack/v5"
)

// MessagePack for payloads, state and host values, on
// github.com/vmihailenco/msgpack/v5 (pure Go, builds for wasip1).
//
// Decoding into an interface{} (any) gives: nil, bool, int64 (uint64 only
// above MaxInt64), float64, string (MessagePack binaries too), []any,
// map[string]any (map[any]any when a key is not a string) and Atom for ext
// type 1. Structs use `msgpack:"name"` field tags.

// Map is the usual shape of a payload.
type Map = map[string]any

// Atom is a MessagePack ext type 1 value: an atom by name. The host sends
// atoms (e.g. a DOWN reason `normal`); a guest may send only atoms the node
// knows already (see docs/wasm-abi.md).
type Atom string

func (a Atom) MarshalMsgpack() ([]byte, error) { return []byte(a), nil }

func (a *Atom) UnmarshalMsgpack(b []byte) error {
	*a = Atom(string(b))
	return nil
}

func init() {
	msgpack.RegisterExt(1, (*Atom)(nil))
}

// Raw is one MessagePack object, kept as its bytes. It encodes as itself
// (so a Raw inside a reply is passed through unchanged); an empty Raw
// encodes as nil.
type Raw []byte

func (r Raw) EncodeMsgpack(enc *msgpack.Encoder) error {
	if len(r) == 0 {
		return enc.EncodeNil()
	}
	return enc.Encode(msgpack.RawMessage(r))
}

func (r *Raw) DecodeMsgpack(dec *msgpack.Decoder) error {
	b, err := dec.DecodeRaw()
	if err != nil {
		return err
	}
	*r = Raw(append([]byte(nil), b...))
	return nil
}

// Decode decodes r into v (a pointer).
func (r Raw) Decode(v any) error { return Unmarshal(r, v) }

// Value decodes r into plain Go values (see above).
func (r Raw) Value() (any, error) {
	var v any
	err := Unmarshal(r, &v)
	return v, err
}

// Marshal encodes v as MessagePack (integers in their shortest form).
func Marshal(v any) ([]byte, error) {
	if r, ok := v.(Raw); ok && len(r) > 0 {
		return r, nil
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes one MessagePack object from b into v (a pointer).
func Unmarshal(b []byte, v any) error {
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	dec.UseLooseInterfaceDecoding(true)
	dec.SetMapDecoder(decodeAnyMap)
	return dec.Decode(v)
}

var errUnhashableKey = errors.New("msgpack: a map key is an array or a map")

// decodeAnyMap decodes a map inside an interface{}: map[string]any when
// every key is a string, else map[any]any.
func decodeAnyMap(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil || n < 0 {
		return nil, err
	}
	keys := make([]any, n)
	vals := make([]any, n)
	allStrings := true
	for i := 0; i < n; i++ {
		if keys[i], err = d.DecodeInterfaceLoose(); err != nil {
			return nil, err
		}
		switch keys[i].(type) {
		case string:
		case []any, map[string]any, map[any]any:
			return nil, errUnhashableKey
		default:
			allStrings = false
		}
		if vals[i], err = d.DecodeInterfaceLoose(); err != nil {
			return nil, err
		}
	}
	if allStrings {
		m := make(map[string]any, n)
		for i := range keys {
			m[keys[i].(string)] = vals[i]
		}
		return m, nil
	}
	m := make(map[any]any, n)
	for i := range keys {
		m[keys[i]] = vals[i]
	}
	return m, nil
}
