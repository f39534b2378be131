package cache

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

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
	// tagStamped wraps another value behind a fixed header: the time until which it is fresh
	// (Unix milliseconds, 8 bytes big-endian) and how long it took to load (microseconds, 4
	// bytes), for soft expiry and XFetch. A value without it is fresh until Redis expires it.
	tagStamped byte = 's'
)

// stampLen is the length of a tagStamped header.
const stampLen = 1 + 8 + 4

// stamp is what a tagStamped header says of its value.
type stamp struct {
	freshUntil time.Time
	loadTime   time.Duration
}

// withStamp wraps an encoded value behind st.
func withStamp(raw []byte, st stamp) []byte {
	out := make([]byte, stampLen, stampLen+len(raw))
	out[0] = tagStamped
	binary.BigEndian.PutUint64(out[1:9], uint64(st.freshUntil.UnixMilli()))
	binary.BigEndian.PutUint32(out[9:13], uint32(min(st.loadTime.Microseconds(), math.MaxUint32)))
	return append(out, raw...)
}

// unstamp splits a value into its stamp (ok false when it has none) and the encoded value.
func unstamp(raw []byte) (st stamp, inner []byte, ok bool) {
	if len(raw) < stampLen || raw[0] != tagStamped {
		return stamp{}, raw, false
	}
	st.freshUntil = time.UnixMilli(int64(binary.BigEndian.Uint64(raw[1:9])))
	st.loadTime = time.Duration(binary.BigEndian.Uint32(raw[9:13])) * time.Microsecond
	return st, raw[stampLen:], true
}

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
	case tagStamped:
		_, inner, ok := unstamp(b)
		if !ok || len(inner) > 0 && inner[0] == tagStamped {
			return "", errors.New("malformed stamped cache value")
		}
		return decode(inner, dst)
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
