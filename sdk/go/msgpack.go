package px

import (
	"bytes"
	"errors"
	"math"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MessagePack for payloads, state and host values, on
// github.com/vmihailenco/msgpack/v5 (pure Go, builds for wasip1).
//
// Decoding into an interface{} (any) gives: nil, bool, int64 (uint64 only
// above MaxInt64), float64, string (MessagePack binaries too: decode into a
// []byte to keep them bytes), []any, map[string]any (map[any]any when a key
// is not a string) and Atom for ext type 1. Structs use `msgpack:"name"`
// field tags.

// Map is the usual shape of a payload.
type Map = map[string]any

// Atom is a MessagePack ext type 1 value: an atom by name. The host sends
// atoms (e.g. a DOWN reason `normal`); a guest may send only atoms the node
// knows already (see docs/wasm-abi.md).
type Atom string

func init() {
	msgpack.RegisterExtEncoder(1, Atom(""), func(_ *msgpack.Encoder, v reflect.Value) ([]byte, error) {
		return []byte(v.String()), nil
	})
	msgpack.RegisterExtDecoder(1, Atom(""), func(d *msgpack.Decoder, v reflect.Value, n int) error {
		b := make([]byte, n)
		if err := d.ReadFull(b); err != nil {
			return err
		}
		v.SetString(string(b))
		return nil
	})
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
	if p, ok := v.(*any); ok {
		x, err := decodeAny(dec)
		if err == nil {
			*p = x
		}
		return err
	}
	return dec.Decode(v)
}

var errUnhashableKey = errors.New("msgpack: a map key is an array or a map")

// decodeAny decodes one object into plain Go values as listed at the top.
// It is used for Unmarshal into an interface{} and (through the decoder's
// map hook) for every map inside one; the library's loose mode covers an
// array directly inside a struct's interface{} field, the same way except
// that it keeps a non-negative integer as uint64.
func decodeAny(d *msgpack.Decoder) (any, error) {
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedNum(c), c == msgpcode.Int8, c == msgpcode.Int16,
		c == msgpcode.Int32, c == msgpcode.Int64, c == msgpcode.Uint8,
		c == msgpcode.Uint16, c == msgpcode.Uint32:
		return d.DecodeInt64()
	case c == msgpcode.Uint64:
		u, err := d.DecodeUint64()
		if err != nil || u > math.MaxInt64 {
			return u, err
		}
		return int64(u), nil
	case c == msgpcode.Float, c == msgpcode.Double:
		return d.DecodeFloat64()
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil || n < 0 {
			return nil, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = decodeAny(d); err != nil {
				return nil, err
			}
		}
		return a, nil
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		return decodeAnyMap(d)
	}
	// nil, bool, strings, binaries (as strings) and ext values.
	return d.DecodeInterfaceLoose()
}

// decodeAnyMap decodes a map: map[string]any when every key is a string,
// else map[any]any.
func decodeAnyMap(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil || n < 0 {
		return nil, err
	}
	keys := make([]any, n)
	vals := make([]any, n)
	allStrings := true
	for i := 0; i < n; i++ {
		if keys[i], err = decodeAny(d); err != nil {
			return nil, err
		}
		switch keys[i].(type) {
		case string:
		case []any, map[string]any, map[any]any:
			return nil, errUnhashableKey
		default:
			allStrings = false
		}
		if vals[i], err = decodeAny(d); err != nil {
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
