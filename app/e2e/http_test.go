//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client is the test's HTTP client: every call is bounded.
var client = &http.Client{Timeout: 30 * time.Second}

// getJSON decodes the JSON answer of GET base+path?query into v; a non-2xx status is an error.
func getJSON(base, path string, query url.Values, v any) error {
	u := base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}
