package telemetry

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
)

// Masked replaces the value of every sensitive field.
const Masked = "***"

// sensitive are the field names whose values never reach a log, compared without case and
// without '_' or '-' (so "Credit-Card", "creditCard" and "credit_card" all match), as part of a
// name too ("admin_token", "db_password").
var sensitive = []string{"password", "passwd", "token", "secret", "creditcard", "authorization", "apikey", "cookie"}

// sensitiveBytes are sensitive as bytes, for the ASCII fast path.
var sensitiveBytes = func() [][]byte {
	out := make([][]byte, len(sensitive))
	for i, s := range sensitive {
		out[i] = []byte(s)
	}
	return out
}()

// isSensitive reports whether a field name names a secret.
func isSensitive(key string) bool {
	// An ASCII name (every field the service logs) is folded in a buffer on the stack.
	var buf [64]byte
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= utf8.RuneSelf || n == len(buf):
			return isSensitiveFolded(key)
		case c == '_' || c == '-' || c == '.' || c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	for _, s := range sensitiveBytes {
		if bytes.Contains(buf[:n], s) {
			return true
		}
	}
	return false
}

// isSensitiveFolded is isSensitive for any name: Unicode case folding ("K", the Kelvin sign,
// lowers to "k").
func isSensitiveFolded(key string) bool {
	k := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(key))
	for _, s := range sensitive {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// maskValue returns v with sensitive keys masked in every nested object.
func maskValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if isSensitive(k) {
				out[k] = Masked
			} else {
				out[k] = maskValue(val)
			}
		}
		return out
	case logrus.Fields:
		return maskValue(map[string]any(x))
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = val
		}
		return maskValue(out)
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = maskValue(val)
		}
		return out
	case string, bool, nil, error,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return x
	default:
		// Structs, typed maps and slices: look inside through their JSON form.
		b, err := json.Marshal(x)
		if err != nil {
			return x
		}
		var generic any
		if json.Unmarshal(b, &generic) != nil {
			return x
		}
		return maskValue(generic)
	}
}
