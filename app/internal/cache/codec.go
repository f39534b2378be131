package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// Values in Redis start with one byte naming their encoding, so a value written under one
// serializer still decodes after the policy switches to another.
const (
	tagJSON    byte = 'j'
	tagMsgpack byte = 'm'
	// tagProductJSON is a product in JSON behind its version ("v42:{...}"): the JSON is the exact
	// HTTP body, so a Redis hit can be served without decoding it.
	tagProductJSON byte = 'v'
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
		if p, ok := v.(catalog.Product); ok {
			head := strconv.AppendInt([]byte{tagProductJSON}, p.Version, 10)
			return append(append(head, ':'), b...), nil
		}
		return append([]byte{tagJSON}, b...), nil
	}
}

// productJSON splits a tagProductJSON value into the version and the JSON body.
func productJSON(b []byte) (version int64, body []byte, ok bool) {
	if len(b) == 0 || b[0] != tagProductJSON {
		return 0, nil, false
	}
	i := bytes.IndexByte(b, ':')
	if i < 2 {
		return 0, nil, false
	}
	v, err := strconv.ParseInt(string(b[1:i]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return v, b[i+1:], true
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
	case tagProductJSON:
		_, body, ok := productJSON(b)
		if !ok {
			return "", errors.New("malformed versioned product value")
		}
		return SerializerJSON, json.Unmarshal(body, dst)
	case tagMsgpack:
		dec := msgpack.NewDecoder(bytes.NewReader(b[1:]))
		dec.SetCustomStructTag("json")
		return SerializerMsgpack, dec.Decode(dst)
	default:
		return "", fmt.Errorf("cache value has unknown tag %q", b[0])
	}
}
