package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// requireAdmin lets a request through only with "Authorization: Bearer <token>". With no token
// configured every request is refused. Tokens are compared in constant time (over their hashes,
// so the length does not leak either).
func requireAdmin(token string) gin.HandlerFunc {
	want := sha256.Sum256([]byte(token))
	return func(c *gin.Context) {
		if token == "" {
			writeProblem(c, newProblem(http.StatusForbidden, "writes-disabled",
				"ADMIN_TOKEN is not set on the server, so every write is refused"))
			return
		}
		scheme, given, ok := strings.Cut(c.GetHeader("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(given) == "" {
			writeProblem(c, newProblem(http.StatusUnauthorized, "unauthorized",
				"this route needs an Authorization: Bearer <ADMIN_TOKEN> header"))
			return
		}
		got := sha256.Sum256([]byte(strings.TrimSpace(given)))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeProblem(c, newProblem(http.StatusForbidden, "forbidden", "the bearer token is not valid"))
			return
		}
		c.Next()
	}
}
