package telemetry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
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

// field is one key of a line and where its value comes from.
type field struct {
	key   string
	value any  // a field's value, when own is 0
	own   byte // else what the formatter writes itself: ownTime, ownMsg, ownLevel, ownApp, ownEnv
}

// The values a line takes from the entry itself or the formatter rather than the entry's fields.
const (
	ownTime byte = 1 + iota
	ownMsg
	ownLevel
	ownApp
	ownEnv
)

// fieldsPool holds the scratch slices a line's fields are sorted in.
var fieldsPool = sync.Pool{New: func() any { s := make([]field, 0, 32); return &s }}

// Format writes the entry.
func (f jsonFormatter) Format(e *logrus.Entry) ([]byte, error) {
	b := e.Buffer
	if b == nil {
		b = &bytes.Buffer{}
	}
	fp := fieldsPool.Get().(*[]field)
	defer func() { clear(*fp); *fp = (*fp)[:0]; fieldsPool.Put(fp) }()
	fields := append(*fp, field{key: keyTime, own: ownTime}, field{key: keyMsg, own: ownMsg}, field{key: keyLevel, own: ownLevel})
	for k, v := range e.Data {
		switch {
		case reserved(k):
			fields = append(fields, field{key: clashPrefix + k, value: v})
		case !clashed(e.Data, k):
			fields = append(fields, field{key: k, value: v})
		}
	}
	if _, ok := e.Data[keyApp]; !ok {
		fields = append(fields, field{key: keyApp, own: ownApp})
	}
	if _, ok := e.Data[keyEnv]; !ok {
		fields = append(fields, field{key: keyEnv, own: ownEnv})
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.key, b.key) })
	*fp = fields
	start := b.Len()
	b.WriteByte('{')
	for i, fd := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		appendString(b, fd.key)
		b.WriteByte(':')
		if err := f.appendField(b, e, fd); err != nil {
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

// appendField writes the value of one field, masked when its name is sensitive.
func (f jsonFormatter) appendField(b *bytes.Buffer, e *logrus.Entry, fd field) error {
	switch fd.own {
	case ownTime:
		b.WriteByte('"')
		b.Write(e.Time.AppendFormat(b.AvailableBuffer(), time.RFC3339Nano))
		b.WriteByte('"')
		return nil
	case ownMsg:
		appendString(b, e.Message)
		return nil
	case ownLevel:
		appendString(b, e.Level.String())
		return nil
	case ownApp:
		appendString(b, AppName)
		return nil
	case ownEnv:
		appendString(b, f.env)
		return nil
	}
	if isSensitive(fd.key) {
		appendString(b, Masked)
		return nil
	}
	return appendValue(b, fd.value)
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
		return appendFloat(b, x)
	default:
		return appendJSON(b, maskValue(x))
	}
	return nil
}

// appendFloat writes x as encoding/json does.
func appendFloat(b *bytes.Buffer, x float64) error {
	if a := math.Abs(x); x == 0 || a >= 1e-6 && a < 1e21 {
		// encoding/json's own format in this range; it switches to exponents outside it.
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), x, 'f', -1, 64))
		return nil
	}
	return appendJSON(b, x)
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
