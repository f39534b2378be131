package httpapi

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// maxIDDigits bounds an id's text before it is parsed: int64 has at most 19 digits.
const maxIDDigits = 19

// ParseID parses a product or category id: decimal digits only, 1 ≤ id ≤ 2^63-1.
func ParseID(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("id is empty")
	}
	if len(s) > maxIDDigits {
		return 0, fmt.Errorf("id %q is too large", truncate(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("id %q is not a positive integer", truncate(s))
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("id %q is too large", truncate(s))
	}
	if id <= 0 {
		return 0, fmt.Errorf("id %q must be at least 1", truncate(s))
	}
	return id, nil
}

// ParseIDs parses a comma-separated list of 1..catalog.MaxBatch ids. Duplicates are dropped; the
// first occurrence keeps its place.
func ParseIDs(s string) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("ids is empty")
	}
	// Count before splitting, so a huge list costs nothing.
	if n := strings.Count(s, ",") + 1; n > catalog.MaxBatch {
		return nil, fmt.Errorf("ids lists %d ids; at most %d are allowed", n, catalog.MaxBatch)
	}
	parts := strings.Split(s, ",")
	ids := make([]int64, 0, len(parts))
	seen := make(map[int64]bool, len(parts))
	for _, part := range parts {
		id, err := ParseID(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("ids: %w", err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// ParseLimit parses a page size; empty means catalog.DefaultPageSize.
func ParseLimit(s string) (int, error) {
	if s == "" {
		return catalog.DefaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > catalog.MaxPageSize {
		return 0, fmt.Errorf("limit %q must be an integer from 1 to %d", truncate(s), catalog.MaxPageSize)
	}
	return n, nil
}

// cursorPrefix versions the cursor format, so it can change without misreading old cursors.
const cursorPrefix = "v1:"

// EncodeCursor turns the last id of a page into an opaque cursor.
func EncodeCursor(lastID int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(lastID, 10)))
}

// DecodeCursor reverses EncodeCursor; empty means the first page (0).
func DecodeCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) > 64 {
		return 0, fmt.Errorf("cursor is not one this service issued")
	}
	// Strict: padding bits must be zero, so each cursor has exactly one spelling.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || !strings.HasPrefix(string(raw), cursorPrefix) {
		return 0, fmt.Errorf("cursor is not one this service issued")
	}
	id, err := ParseID(strings.TrimPrefix(string(raw), cursorPrefix))
	if err != nil {
		return 0, fmt.Errorf("cursor is not one this service issued")
	}
	return id, nil
}

// truncate shortens user input quoted back in error messages.
func truncate(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
