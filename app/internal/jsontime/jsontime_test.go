package jsontime

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{`"1200ms"`, 1200 * time.Millisecond, false},
		{`"5m"`, 5 * time.Minute, false},
		{`"0s"`, 0, false},
		{`1200`, 0, true},
		{`"soon"`, 0, true},
		{`null`, 0, true},
	}
	for _, tt := range tests {
		var d Duration
		err := json.Unmarshal([]byte(tt.in), &d)
		if (err != nil) != tt.wantErr || time.Duration(d) != tt.want {
			t.Errorf("Unmarshal(%s) = %s, %v; want %s, error %v", tt.in, d, err, tt.want, tt.wantErr)
		}
	}
	b, err := json.Marshal(Duration(90 * time.Second))
	if err != nil || string(b) != `"1m30s"` {
		t.Errorf("Marshal = %s, %v", b, err)
	}
}
