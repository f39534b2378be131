package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
)

// The router fuzzers drive every route with hostile ids, query strings, bodies and headers. Whatever
// comes in, the answer is never a panic and never a 5xx (except the 503 of a store told to be
// down), every error is a problem+json that quotes the request id, and every answer carries a
// sane X-Request-ID. Crashers found are kept in testdata/fuzz/<FuzzName>.

const fuzzToken = "fuzz-admin-token"

// saneRequestID is what the service promises an X-Request-ID looks like (README, API).
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// newFuzzRequest builds a request as net/http would hand it to the router: path is the decoded
// path (any bytes can arrive there percent-encoded), rawQuery the bytes after '?'.
func newFuzzRequest(method, path, rawQuery, body string) *http.Request {
	u := &url.URL{Path: path, RawQuery: rawQuery}
	if escaped := (&url.URL{Path: path}).EscapedPath(); escaped != path {
		u.RawPath = escaped
	}
	req := &http.Request{
		Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		Host: "product-service.test", RemoteAddr: "192.0.2.7:40000", RequestURI: u.RequestURI(),
	}
	return req.WithContext(context.Background())
}

// fuzzAnswer checks the properties every answer must have, whatever the request.
// what describes the request, sent its X-Request-ID.
func fuzzAnswer(t *testing.T, what, sent string, w *httptest.ResponseRecorder, down bool) {
	t.Helper()
	status, header, body := w.Code, w.Header(), w.Body.Bytes()
	if status >= 500 && (!down || status != http.StatusServiceUnavailable) {
		t.Fatalf("%s: status %d (store down: %v), want < 500; body %s", what, status, down, body)
	}
	got := header.Get(httpapi.RequestIDHeader)
	switch {
	case !saneRequestID.MatchString(got):
		t.Fatalf("%s: X-Request-ID %q is not sane", what, got)
	case saneRequestID.MatchString(sent) && got != sent:
		t.Fatalf("%s: sane X-Request-ID %q came back as %q", what, sent, got)
	case !saneRequestID.MatchString(sent) && uuid.Validate(got) != nil:
		t.Fatalf("%s: insane X-Request-ID %q replaced by %q, want a new UUID", what, sent, got)
	}
	for name, values := range header {
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("%s: response header %s = %q carries a control character", what, name, v)
			}
		}
	}
	if status >= 400 {
		if ct := header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s: status %d with Content-Type %q, want application/problem+json", what, status, ct)
		}
		var p struct {
			Type      string `json:"type"`
			Status    int    `json:"status"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s: problem body %q: %v", what, body, err)
		}
		if !strings.HasPrefix(p.Type, httpapi.ProblemTypePrefix) || p.Status != status || p.RequestID != got {
			t.Fatalf("%s: problem %+v does not match status %d and request id %q", what, p, status, got)
		}
		return
	}
	if strings.HasPrefix(header.Get("Content-Type"), "application/json") && !json.Valid(body) {
		t.Fatalf("%s: status %d with an invalid JSON body %q", what, status, body)
	}
}

func FuzzRouterGET(f *testing.F) {
	type seed struct {
		id, ids, category, limit, cursor, rawQuery, ifNoneMatch, requestID string
		down                                                               bool
	}
	for _, s := range []seed{
		{id: "42", ids: "3,1,2", limit: "20", rawQuery: "category_id=3&limit=2", ifNoneMatch: `"42-1"`, requestID: "req-1"},
		{id: "7", ids: "7,14,999999", category: "3", cursor: httpapi.EncodeCursor(45), rawQuery: "ids=1,2,2", requestID: "a.b:c-d_e"},
		{id: "abc", ids: "1,abc", category: "abc", limit: "0", cursor: "NDU", rawQuery: "ids=1&limit=2", ifNoneMatch: "*"},
		{id: "-1", ids: ",", category: "-1", limit: "101", cursor: "djE6LTE", rawQuery: "category_id=&cursor=", requestID: "has spaces"},
		{id: "0", ids: strings.Repeat("1,", 100) + "1", limit: "1e3", rawQuery: "limit=%zz&ids=%00", ifNoneMatch: `W/"0-0", "1`},
		{id: "99999999999999999999", ids: " 7 ", limit: "-5", rawQuery: "ids=" + strings.Repeat("9", 30), requestID: strings.Repeat("x", 129)},
		{id: "1.5", category: "9223372036854775807", limit: "100", cursor: strings.Repeat("A", 65), rawQuery: ";;&&==?"},
		{id: "5/inventory", rawQuery: "cursor=" + httpapi.EncodeCursor(9223372036854775807), requestID: "\r\nSet-Cookie: x=1"},
		{id: "../../admin/cache", ids: "1;DROP TABLE products", rawQuery: "token=secret&access_token=secret"},
		{id: "", rawQuery: "", ifNoneMatch: `"`, requestID: "\x00"},
		{id: "%2e%2e", ids: "１,２", category: "٣", limit: "２", rawQuery: "ids=1&ids=2"},
		{id: "42", ids: "1,2", down: true, requestID: "down-1"},
	} {
		f.Add(s.id, s.ids, s.category, s.limit, s.cursor, s.rawQuery, s.ifNoneMatch, s.requestID, s.down)
	}
	api := newFakeAPI(fuzzToken)
	f.Fuzz(func(t *testing.T, id, ids, category, limit, cursor, rawQuery, ifNoneMatch, requestID string, down bool) {
		api.store.down.Store(down)
		q := url.Values{}
		for k, v := range map[string]string{"ids": ids, "category_id": category, "limit": limit, "cursor": cursor} {
			if v != "" {
				q.Set(k, v)
			}
		}
		requests := []*http.Request{
			newFuzzRequest(http.MethodGet, "/api/v1/products/"+id, "", ""),
			newFuzzRequest(http.MethodGet, "/api/v1/products/"+id+"/inventory", "", ""),
			newFuzzRequest(http.MethodGet, "/api/v1/products", q.Encode(), ""),
			newFuzzRequest(http.MethodGet, "/api/v1/products", rawQuery, ""),
		}
		for _, req := range requests {
			req.Header.Set("If-None-Match", ifNoneMatch)
			req.Header.Set(httpapi.RequestIDHeader, requestID)
			what := fmt.Sprintf("GET %q ? %q", req.URL.Path, req.URL.RawQuery)
			fuzzAnswer(t, what, requestID, api.serve(req), down)
		}
		// A detail answered 200 is the product the id names.
		w := api.serve(requests[0])
		if w.Code == http.StatusOK && !strings.Contains(id, "/") { // a '/' in the id leads to another route
			want, err := httpapi.ParseID(id)
			var p struct{ ID int64 }
			if err != nil || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.ID != want {
				t.Fatalf("GET /api/v1/products/%q answered 200 with %s", id, w.Body.Bytes())
			}
		}
	})
}

// productLocation is the Location of a created product.
var productLocation = regexp.MustCompile(`^/api/v1/products/[1-9][0-9]*$`)

// bearer reports whether an Authorization value carries the admin token, as the service reads it.
func bearer(authorization, token string) bool {
	scheme, given, ok := strings.Cut(authorization, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(given) == token
}

func FuzzRouterWrite(f *testing.F) {
	const product = `{"sku":"A-1","name":"Lamp","description":"Warm","price_cents":100,"currency":"eur","category_id":1,"stock":3,"is_hot":true}`
	type seed struct {
		route                                                    uint8
		id, body, contentType, ifMatch, requestID, authorization string
		down                                                     bool
	}
	ok := "Bearer " + fuzzToken
	for _, s := range []seed{
		{0, "", product, "application/json", "", "create-1", ok, false},
		{1, "2", product, "application/json; charset=utf-8", `"2-1"`, "", ok, false},
		{1, "2", product, "application/json", `"2-7"`, "", ok, false},
		{1, "2", product, "application/json", `W/"2-1"`, "", ok, false},
		{1, "3", product, "application/merge-patch+json", `"3-1", "3-2"`, "", ok, false},
		{1, "14", product, "application/json", "*", "", ok, false},
		{2, "2", "", "", `"2-1"`, "", ok, false},
		{2, "1.5", "", "", "2-1", "", ok, false},
		{0, "", `{"sku":"DUPLICATE","name":"x","price_cents":1,"currency":"EUR","category_id":1}`, "application/json", "", "", ok, false},
		{0, "", `{"sku":"A-1","name":"x","price_cents":1,"currency":"EUR","category_id":4242}`, "application/json", "", "", ok, false},
		{0, "", `{"sku":"","name":"","price_cents":-1,"currency":"euro","category_id":0,"stock":-1}`, "application/json", "", "", ok, false},
		{0, "", `{"sku":"A-1","password":"hunter2"}`, "application/json", "", "", ok, false},
		{0, "", `{"price_cents":"cheap"}`, "application/json", "", "", ok, false},
		{0, "", `{"price_cents":1e400}`, "application/json", "", "", ok, false},
		{0, "", `{"name":"\u0000\ud800"}`, "application/json", "", "", ok, false},
		{0, "", product + product, "application/json", "", "", ok, false},
		{0, "", `[]`, "application/json", "", "", ok, false},
		{0, "", `null`, "application/json", "", "", ok, false},
		{0, "", `{`, "application/json", "", "", ok, false},
		{0, "", product, "text/plain", "", "", ok, false},
		{0, "", product, "application/json; charset", "", "", ok, false},
		{0, "", `{"description":"` + strings.Repeat("x", 5000) + `"}`, "application/json", "", "", ok, false},
		{0, "", product, "application/json", "", "", ok, true},
		{4, "", `{"preset":"two-level","ttl":"2m"}`, "application/json", "", "", ok, false},
		{4, "", `{"preset":"turbo"}`, "application/json", "", "", ok, false},
		{4, "", `{"ttl":"-1s","ttl_jitter":2}`, "application/json", "", "", ok, false},
		{9, "", `{"http_error_rate":1}`, "application/json", "", "", ok, false},
		{9, "", `{"db_latency":"31s","db_error_rate":"NaN"}`, "application/json", "", "", ok, false},
		{9, "", `{"redis_latency":null}`, "application/json", "", "", ok, false},
		{5, "", "", "", "", "", ok, true},
		{6, "", "", "", "", "", ok, true},
		{7, "9", "", "", "", "", ok, false},
		{7, "abc", "", "", "", "", ok, false},
		{3, "", "", "", "", "", ok, false},
		{8, "", "", "", "", "", ok, false},
		{10, "", "", "", "", "", ok, false},
		{0, "", product, "application/json", "", "", "", false},
		{1, "2", product, "application/json", "", "", "Bearer wrong-token", false},
		{2, "2", "", "", "", "", "Basic " + fuzzToken, false},
		{4, "", `{"preset":"none"}`, "application/json", "", "", "bearer   " + fuzzToken + "  ", false},
		{9, "", `{"http_error_rate":1}`, "application/json", "", "", "Bearer " + fuzzToken + "x", false},
		{5, "", "", "", "", "", "Bearer", false},
		{10, "", "", "", "", "", "Bearer " + strings.Repeat("t", 4096), false},
	} {
		f.Add(s.route, s.id, s.body, s.contentType, s.ifMatch, s.requestID, s.authorization, s.down)
	}
	api := newFakeAPI(fuzzToken)
	f.Fuzz(func(t *testing.T, route uint8, id, body, contentType, ifMatch, requestID, authorization string, down bool) {
		api.store.down.Store(down)
		defer func() {
			// A fuzzed PUT /admin/faults may switch faults on; the next input starts without them.
			if api.faults.Settings() != (faults.Settings{}) {
				api.faults.Clear()
			}
			api.logging.Reset(context.Background()) // and PUT /admin/logging may change the level
		}()
		r := adminRoutes[int(route)%len(adminRoutes)]
		path := r.withID(id)
		req := newFuzzRequest(r.method, path, "", body)
		for k, v := range map[string]string{"Content-Type": contentType, "If-Match": ifMatch,
			httpapi.RequestIDHeader: requestID, "Authorization": authorization} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		writes, calls := api.store.writes.Load(), api.cache.calls.Load()
		w := api.serve(req)
		fuzzAnswer(t, fmt.Sprintf("%s %q", r.method, path), requestID, w, down)
		if bearer(authorization, fuzzToken) {
			if w.Code == http.StatusCreated && !productLocation.MatchString(w.Header().Get("Location")) {
				t.Fatalf("201 with Location %q", w.Header().Get("Location"))
			}
			return
		}
		// Without the token nothing is served and nothing changes.
		if w.Code < 300 {
			t.Fatalf("%s %q with Authorization %q: status %d, want a refusal", r.method, path, authorization, w.Code)
		}
		if api.store.writes.Load() != writes || api.cache.calls.Load() != calls || api.faults.Settings() != (faults.Settings{}) {
			t.Fatalf("%s %q with Authorization %q changed something (status %d)", r.method, path, authorization, w.Code)
		}
	})
}

// FuzzRouterAny sends any method to any path with any query and the headers the service or its
// libraries parse: Accept (content negotiation on /metrics), traceparent and baggage (W3C
// propagation), X-Forwarded-For (client IP), X-User-ID, X-Request-ID, Content-Type and
// Authorization. Unknown paths and methods are 404 and 405 problems; nothing is a 5xx.
func FuzzRouterAny(f *testing.F) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	type seed struct {
		method, path, rawQuery, body, accept, traceparent, baggage, forwardedFor, userID, requestID, contentType, authorization string
	}
	ok := "Bearer " + fuzzToken
	for _, s := range []seed{
		{method: "GET", path: "/health"},
		{method: "GET", path: "/ready", traceparent: tp, baggage: "user=alice,tenant=7"},
		{method: "GET", path: "/metrics", accept: "application/openmetrics-text; version=1.0.0; charset=utf-8"},
		{method: "GET", path: "/metrics", accept: "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"},
		{method: "GET", path: "/metrics", accept: "text/plain;version=0.0.4;q=0.5,*/*;q=0.1,;;;=", rawQuery: "name[]=x"},
		{method: "HEAD", path: "/api/v1/products/42", forwardedFor: "203.0.113.9, 10.0.0.1", userID: "u-1"},
		{method: "OPTIONS", path: "/api/v1/products"},
		{method: "PATCH", path: "/api/v1/products/1"},
		{method: "PROPFIND", path: "/api/v1/admin/cache", authorization: ok},
		{method: "GET", path: "/api/v1/admin/cache", authorization: ok, traceparent: "00-00000000000000000000000000000000-0000000000000000-00"},
		{method: "PUT", path: "/api/v1/admin/faults", body: `{"http_error_rate":1}`, contentType: "application/json", authorization: ok},
		{method: "POST", path: "/api/v1/admin/cache/reset", authorization: ok, baggage: strings.Repeat("k=v,", 200)},
		{method: "GET", path: "/api/v1/../v1/products/3", traceparent: "ff-" + tp[3:], forwardedFor: "not an ip, ::1, 256.1.1.1"},
		{method: "GET", path: "/api/v1//products/3", baggage: "%zz=%zz;;prop", userID: strings.Repeat("u", 200)},
		{method: "GET", path: "/debug/pprof/", requestID: "pprof"},
		{method: "DELETE", path: "/api/v1/admin/cache/products/", authorization: ok},
		{method: "get", path: "/api/v1/products/1"},
		{method: "", path: "/", rawQuery: "a=%"},
	} {
		f.Add(s.method, s.path, s.rawQuery, s.body, s.accept, s.traceparent, s.baggage, s.forwardedFor, s.userID, s.requestID, s.contentType, s.authorization)
	}
	api := newFakeAPI(fuzzToken)
	f.Fuzz(func(t *testing.T, method, path, rawQuery, body, accept, traceparent, baggage, forwardedFor, userID, requestID, contentType, authorization string) {
		defer func() {
			// A fuzzed PUT /admin/faults may switch faults on; the next input starts without them.
			if api.faults.Settings() != (faults.Settings{}) {
				api.faults.Clear()
			}
			api.logging.Reset(context.Background()) // and PUT /admin/logging may change the level
		}()
		if method == "" || strings.ContainsAny(method, " \t\r\n") {
			method = http.MethodGet // net/http refuses such a request line before the router sees it
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path // so does it a path that is not absolute
		}
		req := newFuzzRequest(method, path, rawQuery, body)
		for k, v := range map[string]string{"Accept": accept, "Traceparent": traceparent, "Baggage": baggage,
			"X-Forwarded-For": forwardedFor, httpapi.UserIDHeader: userID, httpapi.RequestIDHeader: requestID,
			"Content-Type": contentType, "Authorization": authorization} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		fuzzAnswer(t, fmt.Sprintf("%s %q ? %q", method, path, rawQuery), requestID, api.serve(req), false)
	})
}
