package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// decodeJSON reads one JSON object from the request body into dst. The body must be declared as
// JSON, fit in limit bytes, hold exactly one value and name only known fields.
func decodeJSON(c *gin.Context, limit int64, dst any) error {
	mediaType, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || (mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")) {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"send the body as Content-Type: application/json")
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyProblem(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return bodyProblem(err, limit)
		}
		return badRequest("malformed-json", "the body holds more than one JSON value")
	}
	return nil
}

// bodyProblem explains why a body could not be decoded.
func bodyProblem(err error, limit int64) *Problem {
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return newProblem(http.StatusRequestEntityTooLarge, "body-too-large",
			fmt.Sprintf("the body is larger than %d bytes", limit))
	case errors.As(err, &syntax):
		return badRequest("malformed-json", "the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed-json", "the body is empty or cut short")
	case errors.As(err, &typeErr):
		p := badRequest("invalid-field", "field %q must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
		p.Errors = map[string]string{typeErr.Field: "has the wrong type"}
		return p
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p := badRequest("unknown-field", "field %q is not part of a product", field)
		p.Errors = map[string]string{field: "is not a known field"}
		return p
	default:
		return badRequest("malformed-json", "the body could not be read as JSON")
	}
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "number (integer where the field is an integer)"
	case kind == "bool":
		return "boolean"
	case kind == "string":
		return "string"
	default:
		return "object"
	}
}
