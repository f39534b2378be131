package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sirupsen/logrus"
	"gorm.io/gorm"
)

func decodeLine(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return m
}

func TestMasking(t *testing.T) {
	type card struct {
		Number     string `json:"credit_card"`
		Expiry     string `json:"expiry"`
		HolderName string `json:"holder_name"`
	}
	var buf bytes.Buffer
	log, _, err := NewLogger(&buf, LogOptions{Level: "info", Env: "test"})
	if err != nil {
		t.Fatal(err)
	}
	log.WithFields(logrus.Fields{
		"password": "p1", "Token": "t1", "admin_token": "t2", "client_secret": "s1", "Credit-Card": "4111",
		"AUTHORIZATION": "Bearer x", "apiKey": "k1", "api_key": "k2", "user": "alice",
		"nested":  map[string]any{"db": map[string]any{"Password": "p2", "host": "db"}, "list": []any{map[string]any{"token": "t3"}}},
		"headers": map[string]string{"Cookie": "c=1", "Accept": "json"},
		"payment": card{Number: "4111-1111", Expiry: "12/30", HolderName: "Alice"},
	}).Info("masking")
	line := buf.String()
	for _, secret := range []string{"p1", "t1", "t2", "s1", "4111", "Bearer x", "k1", "k2", "p2", "t3", "c=1"} {
		if strings.Contains(line, `"`+secret+`"`) || strings.Contains(line, secret+`"`) {
			t.Errorf("%q reached the log: %s", secret, line)
		}
	}
	m := decodeLine(t, buf.Bytes())
	if m["user"] != "alice" || m["app"] != AppName || m["env"] != "test" {
		t.Errorf("ordinary fields changed: %v", m)
	}
	nested := m["nested"].(map[string]any)["db"].(map[string]any)
	if nested["Password"] != Masked || nested["host"] != "db" {
		t.Errorf("nested = %v", nested)
	}
	if p := m["payment"].(map[string]any); p["credit_card"] != Masked || p["expiry"] != "12/30" {
		t.Errorf("struct field = %v", p)
	}
}

func TestIsSensitive(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "PassWord": true, "db_password": true, "token": true, "x-api-key": true, "apiKey": true,
		"credit_card": true, "creditCard": true, "authorization": true, "secret": true, "cookie": true,
		"user_agent": false, "status": false, "trace_id": false, "latency": false, "request_id": false,
	} {
		if got := isSensitive(key); got != want {
			t.Errorf("isSensitive(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestLogFileRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "service.log")
	var stdout bytes.Buffer
	log, closer, err := NewLogger(&stdout, LogOptions{Level: "info", Env: "test", File: FileOptions{Path: path, MaxSizeMB: 1, Compress: false}})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 4096)
	for range 300 { // about 1.2 MB: one rotation
		log.WithField("pad", big).Info("fill")
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "service*.log"))
	if len(files) < 2 {
		t.Errorf("log files %v: want the current one and a rotated one", files)
	}
	if stdout.Len() == 0 {
		t.Error("stdout got nothing while the file was on")
	}
	info, err := os.Stat(path)
	if err != nil || info.Size() > 1<<20 {
		t.Errorf("current log file %v, %v", info, err)
	}
}

func TestGORMLogger(t *testing.T) {
	var buf bytes.Buffer
	log, _, _ := NewLogger(&buf, LogOptions{Level: "info", Env: "test"})
	g := GORMLogger(log, 100*time.Millisecond)
	fc := func() (string, int64) { return "SELECT * FROM products WHERE id = $1$", 1 }
	tests := []struct {
		name      string
		elapsed   time.Duration
		err       error
		wantLevel string // "" means nothing logged
	}{
		{"fast", time.Millisecond, nil, ""},
		{"slow", 150 * time.Millisecond, nil, "warning"},
		{"not found is an answer", time.Millisecond, gorm.ErrRecordNotFound, ""},
		{"failed", time.Millisecond, errors.New("boom"), "error"},
		{"bad input is not a database failure", time.Millisecond, &pgconn.PgError{Code: "23503"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			g.Trace(context.Background(), time.Now().Add(-tt.elapsed), fc, tt.err)
			if tt.wantLevel == "" {
				if buf.Len() != 0 {
					t.Fatalf("logged %s", buf.String())
				}
				return
			}
			m := decodeLine(t, buf.Bytes())
			if m["level"] != tt.wantLevel || m["sql"] != "SELECT * FROM products WHERE id = $1" || m["rows"] != float64(1) {
				t.Errorf("line %v", m)
			}
			if _, ok := m["elapsed_ms"].(float64); !ok {
				t.Errorf("elapsed_ms missing: %v", m)
			}
		})
	}
	if sql, vars := g.(interface {
		ParamsFilter(context.Context, string, ...any) (string, []any)
	}).ParamsFilter(context.Background(), "x = $1", "secret"); sql != "x = $1" || vars != nil {
		t.Errorf("ParamsFilter kept the values: %v", vars)
	}
}
