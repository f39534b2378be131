package telemetry

import (
	"encoding/json"
	"strings"

	"github.com/sirupsen/logrus"
)

// Masked replaces the value of every sensitive field.
const Masked = "***"

// sensitive are the field names whose values never reach a log, compared without case and
// without '_' or '-' (so "Credit-Card", "creditCard" and "credit_card" all match), as part of a
// name too ("admin_token", "db_password").
var sensitive = []string{"password", "passwd", "token", "secret", "creditcard", "authorization", "apikey", "cookie"}

// isSensitive reports whether a field name names a secret.
func isSensitive(key string) bool {
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

// maskingFormatter masks sensitive fields, at any depth, before the inner formatter writes the entry.
type maskingFormatter struct{ inner logrus.Formatter }

// Format writes the entry with its sensitive fields masked; the entry itself is not changed.
func (f maskingFormatter) Format(e *logrus.Entry) ([]byte, error) {
	if !needsMask(e.Data) {
		return f.inner.Format(e)
	}
	masked := *e
	masked.Data = maskValue(map[string]any(e.Data)).(map[string]any)
	return f.inner.Format(&masked)
}

// needsMask is a cheap first pass: request logs are flat and rarely hold a secret.
func needsMask(data logrus.Fields) bool {
	for k, v := range data {
		if isSensitive(k) {
			return true
		}
		switch v.(type) {
		case string, int, int64, float64, bool, nil, error:
		default:
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
