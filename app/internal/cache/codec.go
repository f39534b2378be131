package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Values in Redis start with one byte naming their encoding, so a value written under one
// serializer still decodes after the policy switches to another.
const (
	tagJSON    byte = 'j'
	tagMsgpack byte = 'm'
	// tagNull marks a cached "not found" (null caching against penetration).
	tagNull byte = 'n'
)

var nullValue = []byte{tagNull}

// encode serializes v with s, prefixed by its tag.
func encode(s Serializer, v any) ([]byte, error) {
	switch s {
	case SerializerMsgpack:
		var buf bytes.Buffer
		buf.WriteByte(tagMsgpack)
		enc := msgpack.NewEncoder(&buf)
		enc.SetCustomStructTag("json")
		enc.UseCompactInts(true)
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("msgpack encode: %w", err)
		}
		return buf.Bytes(), nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("json encode: %w", err)
		}
		return append([]byte{tagJSON}, b...), nil
	}
}

// errNullValue is returned by decode for a cached "not found".
var errNullValue = errors.New("cached not-found")

// decode reads a tagged value into dst and reports which serializer wrote it.
func decode(b []byte, dst any) (Serializer, error) {
	if len(b) == 0 {
		return "", errors.New("empty cache value")
	}
	switch b[0] {
	case tagNull:
		return "", errNullValue
	case tagJSON:
		return SerializerJSON, json.Unmarshal(b[1:], dst)
	case tagMsgpack:
		dec := msgpack.NewDecoder(bytes.NewReader(b[1:]))
		dec.SetCustomStructTag("json")
		return SerializerMsgpack, dec.Decode(dst)
	default:
		return "", fmt.Errorf("cache value has unknown tag %q", b[0])
	}
}
