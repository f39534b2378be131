package httpapi

import (
	"encoding/json"
	"net/http"
)

// problemContentType is the media type of RFC 9457 problem details.
const problemContentType = "application/problem+json"

// problemRender writes a Problem with its own media type (gin's JSON render would say application/json).
type problemRender struct{ p Problem }

// Render writes the problem as JSON.
func (r problemRender) Render(w http.ResponseWriter) error {
	r.WriteContentType(w)
	return json.NewEncoder(w).Encode(r.p)
}

// WriteContentType sets the problem media type.
func (r problemRender) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", problemContentType)
}
