package telemetry

import (
	"bytes"
	"context"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"
)

// RequestMessage is the message of every access-log line.
const RequestMessage = "request"

// RequestLine is one access-log line: the fields of one served request. Empty optional fields
// (Cache, Preset, UserID, Shed, Error) are left out of the line.
type RequestLine struct {
	RequestID  string
	Method     string
	Route      string
	Path       string
	Status     int
	Latency    float64 // milliseconds
	Bytes      int
	ClientIP   string
	UserAgent  string
	SampleRate int
	Cache      string
	Preset     string
	UserID     string
	Shed       string
	Error      string
}

// Fields returns the line's fields as a logrus entry carries them.
func (r *RequestLine) Fields() logrus.Fields {
	f := logrus.Fields{
		"request_id": r.RequestID, "method": r.Method, "route": r.Route, "path": r.Path,
		"status": r.Status, "latency": r.Latency, "bytes": r.Bytes, "client_ip": r.ClientIP,
		"user_agent": r.UserAgent, "sample_rate": r.SampleRate,
	}
	for _, o := range [...]struct{ k, v string }{{"cache", r.Cache}, {"preset", r.Preset}, {"user_id", r.UserID}, {"shed", r.Shed}, {"error", r.Error}} {
		if o.v != "" {
			f[o.k] = o.v
		}
	}
	return f
}

// LogRequest writes r at level through log. With a logger of NewLogger (its formatter, its
// Output, no hook but its own trace hook) the line is encoded directly, in the formatter's field
// order, and handed to the Output: the bytes are those of a logrus entry of these fields
// (TestRequestLineMatchesEntry), without what an entry costs per line (a fields map and its copy,
// a boxed value per field, a sort of the keys, the logger's lock). Any other logger gets an
// ordinary entry. The caller checks that level is enabled.
func LogRequest(ctx context.Context, log *logrus.Logger, level logrus.Level, r *RequestLine) {
	// Read without the logger's lock, as logrus reads the level: a logger is configured before
	// it serves requests.
	out, isOutput := log.Out.(*Output)
	f, isFormatter := log.Formatter.(jsonFormatter)
	if !isOutput || !isFormatter || !onlyTraceHook(log.Hooks[level]) {
		e := logrus.NewEntry(log)
		e.Context, e.Data = ctx, r.Fields()
		e.Log(level, RequestMessage)
		return
	}
	bp := linePool.Get().(*bytes.Buffer)
	bp.Reset()
	appendRequest(bp, f.env, time.Now(), level, trace.SpanContextFromContext(ctx), r)
	out.offer(level.String(), bp.Bytes())
	linePool.Put(bp)
}

// linePool holds the buffers request lines are encoded in before the Output copies them.
var linePool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 1024)) }}

// onlyTraceHook reports whether hooks is the trace hook NewLogger installs, alone.
func onlyTraceHook(hooks []logrus.Hook) bool {
	if len(hooks) != 1 {
		return false
	}
	_, ok := hooks[0].(traceHook)
	return ok
}

// appendRequest writes r as jsonFormatter writes an entry of message RequestMessage at level and
// time ts with r's fields, plus trace_id and span_id when sc is valid (traceHook): the keys in
// sorted order, none of them sensitive.
func appendRequest(b *bytes.Buffer, env string, ts time.Time, level logrus.Level, sc trace.SpanContext, r *RequestLine) {
	b.WriteString(`{"app":`)
	appendString(b, AppName)
	b.WriteString(`,"bytes":`)
	b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(r.Bytes), 10))
	appendOptional(b, `,"cache":`, r.Cache)
	b.WriteString(`,"client_ip":`)
	appendString(b, r.ClientIP)
	b.WriteString(`,"env":`)
	appendString(b, env)
	appendOptional(b, `,"error":`, r.Error)
	b.WriteString(`,"latency":`)
	if err := appendFloat(b, r.Latency); err != nil { // NaN or an infinity: never a duration
		b.WriteString("null")
	}
	b.WriteString(`,"level":`)
	appendString(b, level.String())
	b.WriteString(`,"method":`)
	appendString(b, r.Method)
	b.WriteString(`,"msg":"` + RequestMessage + `","path":`)
	appendString(b, r.Path)
	appendOptional(b, `,"preset":`, r.Preset)
	b.WriteString(`,"request_id":`)
	appendString(b, r.RequestID)
	b.WriteString(`,"route":`)
	appendString(b, r.Route)
	b.WriteString(`,"sample_rate":`)
	b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(r.SampleRate), 10))
	appendOptional(b, `,"shed":`, r.Shed)
	valid := sc.IsValid()
	if valid {
		id := sc.SpanID()
		b.WriteString(`,"span_id":"`)
		b.Write(hex.AppendEncode(b.AvailableBuffer(), id[:]))
		b.WriteByte('"')
	}
	b.WriteString(`,"status":`)
	b.Write(strconv.AppendInt(b.AvailableBuffer(), int64(r.Status), 10))
	if valid {
		id := sc.TraceID()
		b.WriteString(`,"trace_id":"`)
		b.Write(hex.AppendEncode(b.AvailableBuffer(), id[:]))
		b.WriteByte('"')
	}
	b.WriteString(`,"ts":"`)
	b.Write(ts.AppendFormat(b.AvailableBuffer(), time.RFC3339Nano))
	b.WriteString(`","user_agent":`)
	appendString(b, r.UserAgent)
	appendOptional(b, `,"user_id":`, r.UserID)
	b.WriteString("}\n")
}

// appendOptional writes key and v unless v is empty.
func appendOptional(b *bytes.Buffer, key, v string) {
	if v != "" {
		b.WriteString(key)
		appendString(b, v)
	}
}
