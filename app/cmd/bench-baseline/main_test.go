package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestParse(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	t.Setenv("REDIS_ADDR", "")
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{nil, false},
		{[]string{"-mode", "map", "-products", "10"}, false},
		{[]string{"-mode", "peer", "-redis-prefix", "p"}, false},
		{[]string{"-mode", "fixed"}, true},
		{[]string{"-products", "0"}, true},
		{[]string{"-mode", "redis-get", "-redis-prefix", ""}, true},
		{[]string{"-peer-ttl", "0s"}, true},
		{[]string{"extra"}, true},
	}
	for _, tt := range tests {
		o, err := parse(tt.args, io.Discard)
		if (err != nil) != tt.wantErr {
			t.Errorf("parse(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
		}
		if err == nil && (o.databaseURL == "" || o.redisAddr == "") {
			t.Errorf("parse(%q) left the defaults empty: %+v", tt.args, o)
		}
	}
}

func TestMapHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/products/{id}", mapHandler{bodies: map[int64][]byte{7: []byte(`{"id":7}`)}})
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/api/v1/products/7", http.StatusOK, `{"id":7}`},
		{"/api/v1/products/8", http.StatusNotFound, ""},
		{"/api/v1/products/x", http.StatusBadRequest, ""},
		{"/api/v1/products/0", http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.wantStatus || tt.wantBody != "" && rec.Body.String() != tt.wantBody {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
		}
	}
}
