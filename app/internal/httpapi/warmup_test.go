package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// slowWarmup is a CacheAdmin whose warm-up ends when release is closed.
type slowWarmup struct {
	CacheAdmin
	release chan struct{}
}

func (s slowWarmup) Warmup(context.Context) (int, error) {
	<-s.release
	return 7, nil
}

// A warm-up that outlasts warmupWait answers 202 and goes on; one that ends within it answers 200
// with the count. The fake warm-up is held or released, so no outcome depends on the machine's speed.
func TestWarmupAnswersBeforeTheWriteTimeout(t *testing.T) {
	gin.SetMode(gin.TestMode)
	tests := []struct {
		name     string
		wait     int // warmupWait in ns: 0 gives up at once
		released bool
		want     int
	}{
		{"held past the wait", 0, false, http.StatusAccepted},
		{"ended within the wait", 1 << 62, true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			if tt.released {
				close(release)
			}
			defer func() {
				if !tt.released {
					close(release)
				}
			}()
			h := cacheHandlers{cache: slowWarmup{release: release}}
			h.warmupWait = time.Duration(tt.wait)
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest(http.MethodPost, "/api/v1/admin/cache/warmup", nil)
			if err := h.warmup(c); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.want {
				t.Errorf("status %d (%s), want %d", w.Code, w.Body, tt.want)
			}
		})
	}
}
