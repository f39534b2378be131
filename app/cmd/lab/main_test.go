package main

import (
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
)

// The command line is refused before anything starts: no servers are needed.
func TestCommandLine(t *testing.T) {
	noK6 := filepath.Join(t.TempDir(), "k6")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"no command", nil, nil, "usage"},
		{"unknown command", []string{"bench"}, nil, `unknown command "bench"`},
		{"smoke help", []string{"smoke", "-h"}, nil, flag.ErrHelp.Error()},
		{"smoke without k6", []string{"smoke", "-k6", noK6}, nil, "k6 not found"},
		{"profile without k6, from the environment", []string{"profile"}, map[string]string{"K6": noK6}, "k6 not found"},
		{"profile, bad rate", []string{"profile", "-k6", "/bin/sh", "-rate", "0"}, nil, "-rate must be positive"},
		{"profile, bad service env", []string{"profile", "-k6", "/bin/sh", "-service-env", "A=1 b"}, nil, "KEY=VALUE"},
		{"profile, base URL alone", []string{"profile", "-k6", "/bin/sh"}, map[string]string{"BASE_URL": "http://127.0.0.1:1"}, "go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			if tt.wantErr == flag.ErrHelp.Error() && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("run(%q) = %v, want flag.ErrHelp", tt.args, err)
			}
		})
	}
}
