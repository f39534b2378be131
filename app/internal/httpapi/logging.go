package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/product-service-lab/product-service/app/internal/logctl"
)

// LogSettings is what the admin logging routes need of the run-time log settings.
type LogSettings interface {
	State() logctl.State
	Set(ctx context.Context, ch logctl.Change) (logctl.State, error)
	Reset(ctx context.Context) logctl.State
}

var _ LogSettings = (*logctl.Control)(nil)

// loggingHandlers serve /api/v1/admin/logging.
type loggingHandlers struct {
	settings     LogSettings
	maxBodyBytes int64
}

// registerLogging adds /api/v1/admin/logging to admin (behind the token) when settings is set.
func registerLogging(admin gin.IRoutes, settings LogSettings, maxBodyBytes int64) {
	if settings == nil {
		return
	}
	h := loggingHandlers{settings: settings, maxBodyBytes: maxBodyBytes}
	admin.GET("/admin/logging", handle(h.get))
	admin.PUT("/admin/logging", handle(h.put))
	admin.DELETE("/admin/logging", handle(h.reset))
}

// get answers GET /api/v1/admin/logging: the settings in force.
func (h loggingHandlers) get(c *gin.Context) error {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, h.settings.State())
	return nil
}

// put answers PUT /api/v1/admin/logging: {"level", "sample_every", "for"}, applied on every replica.
func (h loggingHandlers) put(c *gin.Context) error {
	var ch logctl.Change
	if err := decodeJSON(c, h.maxBodyBytes, &ch); err != nil {
		return err
	}
	st, err := h.settings.Set(c.Request.Context(), ch)
	var invalid *logctl.InvalidError
	switch {
	case errors.As(err, &invalid):
		p := badRequest("invalid-log-settings", "%v", err)
		p.Errors = map[string]string{invalid.Field: invalid.Reason}
		return p
	case err != nil:
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, st)
	return nil
}

// reset answers DELETE /api/v1/admin/logging: every replica back to its start-up settings.
func (h loggingHandlers) reset(c *gin.Context) error {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, h.settings.Reset(c.Request.Context()))
	return nil
}
