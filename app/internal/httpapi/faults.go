package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// faultHandlers serve /api/v1/admin/faults.
type faultHandlers struct {
	faults       FaultInjector
	maxBodyBytes int64
}

// get answers GET /api/v1/admin/faults: the faults in force.
func (h faultHandlers) get(c *gin.Context) error {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, h.faults.Settings())
	return nil
}

// put answers PUT /api/v1/admin/faults: the fields given replace the current ones.
func (h faultHandlers) put(c *gin.Context) error {
	var raw json.RawMessage
	if err := decodeJSON(c, h.maxBodyBytes, &raw); err != nil {
		return err
	}
	s, err := h.faults.Set(raw)
	if err != nil {
		return newProblem(http.StatusUnprocessableEntity, "invalid-faults", err.Error())
	}
	c.JSON(http.StatusOK, s)
	return nil
}

// clear answers DELETE /api/v1/admin/faults: every fault off.
func (h faultHandlers) clear(c *gin.Context) error {
	h.faults.Clear()
	c.JSON(http.StatusOK, h.faults.Settings())
	return nil
}
