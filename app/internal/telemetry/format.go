package telemetry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
)

// The keys the formatter writes itself. A field of the same name (but app and env, which a line
// may set) is written as "fields.<name>", as logrus's own JSONFormatter does.
const (
	keyTime  = "ts"
	keyMsg   = "msg"
	keyLevel = "level"
	keyApp   = "app"
	keyEnv   = "env"
)

// clashPrefix renames a field whose name the formatter writes itself.
const clashPrefix = "fields."

// jsonFormatter writes an entry as one JSON object per line, appended into the entry's (pooled)
// buffer: its fields with ts (RFC 3339, nanoseconds), msg, level, app and env, all sorted by name;
// sensitive fields masked at any depth (mask.go). The output is what logrus's
// JSONFormatter wrote for the same entry (HTML characters escaped, errors as their message), at
// the cost of one pass over the fields: no map copy, no reflection for flat values.
type jsonFormatter struct{ env string }

// keysPool holds the scratch slices the field names are sorted in.
var keysPool = sync.Pool{New: func() any { s := make([]string, 0, 32); return &s }}

// Format writes the entry.
func (f jsonFormatter) Format(e *logrus.Entry) ([]byte, error) {
	b := e.Buffer
	if b == nil {
		b = &bytes.Buffer{}
	}
	kp := keysPool.Get().(*[]string)
	defer func() { *kp = (*kp)[:0]; keysPool.Put(kp) }()
	keys := append(*kp, keyTime, keyMsg, keyLevel)
	for k := range e.Data {
		if reserved(k) || clashed(e.Data, k) {
			continue
		}
		keys = append(keys, k)
	}
	if _, ok := e.Data[keyApp]; !ok {
		keys = append(keys, keyApp)
	}
	if _, ok := e.Data[keyEnv]; !ok {
		keys = append(keys, keyEnv)
	}
	for _, k := range []string{keyTime, keyMsg, keyLevel, logrus.FieldKeyLogrusError} {
		if _, ok := e.Data[k]; ok {
			keys = append(keys, clashPrefix+k)
		}
	}
	slices.Sort(keys)
	*kp = keys
	start := b.Len()
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		appendString(b, k)
		b.WriteByte(':')
		if err := f.value(b, e, k); err != nil {
			b.Truncate(start)
			return nil, fmt.Errorf("failed to marshal fields to JSON, %w", err)
		}
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// reserved reports whether the formatter writes a field of name k itself.
func reserved(k string) bool {
	return k == keyTime || k == keyMsg || k == keyLevel || k == logrus.FieldKeyLogrusError
}

// clashed reports whether k is "fields.<name>" for a field <name> that is renamed to it: the
// renamed field wins, as in logrus.
func clashed(data logrus.Fields, k string) bool {
	if len(k) <= len(clashPrefix) || k[:len(clashPrefix)] != clashPrefix {
		return false
	}
	name := k[len(clashPrefix):]
	_, renamed := data[name]
	return renamed && reserved(name)
}

// value writes the value of key k.
func (f jsonFormatter) value(b *bytes.Buffer, e *logrus.Entry, k string) error {
	switch k {
	case keyTime:
		b.WriteByte('"')
		b.Write(e.Time.AppendFormat(b.AvailableBuffer(), time.RFC3339Nano))
		b.WriteByte('"')
		return nil
	case keyMsg:
		appendString(b, e.Message)
		return nil
	case keyLevel:
		appendString(b, e.Level.String())
		return nil
	}
	var v any
	if clashed(e.Data, k) {
		v = e.Data[k[len(clashPrefix):]] // a renamed field
	} else if x, ok := e.Data[k]; ok {
		v = x
	} else if k == keyApp {
		appendString(b, AppName)
		return nil
	} else {
		appendString(b, f.env)
		return nil
	}
	if isSensitive(k) {
		appendString(b, Masked)
		return nil
	}
	return appendValue(b, v)
}

// appendValue writes one field's value: flat values directly, anything else masked (maskValue)
// and through encoding/json.
func appendValue(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case string:
		appendString(b, x)
	case error:
		appendString(b, x.Error())
	case nil:
		b.WriteString("null")
	case bool:
		b.Write(strconv.AppendBool(b.AvailableBuffer(), x))
	case int:
		b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(x), 10))
	case int64:
		b.Write(strconv.AppendInt(b.AvailableBuffer(), x, 10))
	case int32:
		b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(x), 10))
	case uint64:
		b.Write(strconv.AppendUint(b.AvailableBuffer(), x, 10))
	case float64:
		if a := math.Abs(x); x == 0 || a >= 1e-6 && a < 1e21 {
			// encoding/json's own format in this range; it switches to exponents outside it.
			b.Write(strconv.AppendFloat(b.AvailableBuffer(), x, 'f', -1, 64))
			return nil
		}
		return appendJSON(b, x)
	default:
		return appendJSON(b, maskValue(x))
	}
	return nil
}

// appendJSON writes v as encoding/json does (HTML characters escaped).
func appendJSON(b *bytes.Buffer, v any) error {
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Write(out)
	return nil
}

// appendString writes s as a JSON string, escaped as encoding/json escapes it: a string of plain
// printable ASCII (the usual case) is copied as it is, any other through encoding/json.
func appendString(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			out, _ := json.Marshal(s) // a string always encodes
			b.Write(out)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}
