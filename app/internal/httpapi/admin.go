package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/product-service-lab/product-service/app/internal/cache"
)

// CacheAdmin is what the admin routes need of the cache.
type CacheAdmin interface {
	Policy() cache.Policy
	SetPolicy(ctx context.Context, patch []byte) (cache.Policy, error)
	Status() cache.Status
	Reset(ctx context.Context) (int64, error)
	Warmup(ctx context.Context) (int, error)
	Evict(ctx context.Context, id int64)
}

// cacheHandlers serve /api/v1/admin/cache.
type cacheHandlers struct {
	cache        CacheAdmin
	maxBodyBytes int64
	// warmupWait is how long POST …/warmup waits for the warm-up before answering 202.
	warmupWait time.Duration
}

// warmupWait is shorter than the server's default write timeout (15 s): a whole-catalogue
// warm-up bounded by load_rate can take longer, and the answer must not be cut.
const warmupWait = 10 * time.Second

// cacheState answers GET and PUT /api/v1/admin/cache.
type cacheState struct {
	Policy  cache.Policy `json:"policy"`
	Status  cache.Status `json:"status"`
	Presets []string     `json:"presets"`
}

func (h cacheHandlers) state() cacheState {
	return cacheState{Policy: h.cache.Policy(), Status: h.cache.Status(), Presets: cache.PresetNames()}
}

// get answers GET /api/v1/admin/cache: the policy in force and the cache's state.
func (h cacheHandlers) get(c *gin.Context) error {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, h.state())
	return nil
}

// put answers PUT /api/v1/admin/cache: {"preset": "..."} and/or individual switches.
func (h cacheHandlers) put(c *gin.Context) error {
	var raw json.RawMessage
	if err := decodeJSON(c, h.maxBodyBytes, &raw); err != nil {
		return err
	}
	if _, err := h.cache.SetPolicy(c.Request.Context(), raw); err != nil {
		return newProblem(http.StatusUnprocessableEntity, "invalid-policy", err.Error())
	}
	c.JSON(http.StatusOK, h.state())
	return nil
}

// reset answers POST /api/v1/admin/cache/reset: empty this service's cache namespace.
func (h cacheHandlers) reset(c *gin.Context) error {
	_, _ = io.Copy(io.Discard, io.LimitReader(c.Request.Body, h.maxBodyBytes))
	gen, err := h.cache.Reset(c.Request.Context())
	if err != nil {
		p := newProblem(http.StatusServiceUnavailable, "cache-unavailable", "redis did not take the reset: "+err.Error())
		p.cause = err
		return p
	}
	c.JSON(http.StatusOK, gin.H{"generation": gen})
	return nil
}

// warmup answers POST /api/v1/admin/cache/warmup: run the policy's warm-up now. It answers 200
// {"loaded": n} when the warm-up ends within warmupWait, else 202 {"running": true} while it goes
// on (status.warmup of GET /api/v1/admin/cache shows its progress).
func (h cacheHandlers) warmup(c *gin.Context) error {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	ctx := context.WithoutCancel(c.Request.Context())
	go func() {
		n, err := h.cache.Warmup(ctx)
		done <- result{n, err}
	}()
	t := time.NewTimer(h.warmupWait)
	defer t.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			return r.err
		}
		c.JSON(http.StatusOK, gin.H{"loaded": r.n})
	case <-t.C:
		c.Header("Location", "/api/v1/admin/cache")
		c.JSON(http.StatusAccepted, gin.H{"running": true})
	}
	return nil
}

// evict answers DELETE /api/v1/admin/cache/products/:id: drop one product from every layer, as if
// its keys had expired (the breakdown scenario uses it).
func (h cacheHandlers) evict(c *gin.Context) error {
	id, err := ParseID(c.Param("id"))
	if err != nil {
		return badRequest("invalid-id", "%v", err)
	}
	h.cache.Evict(c.Request.Context(), id)
	c.Status(http.StatusNoContent)
	return nil
}
