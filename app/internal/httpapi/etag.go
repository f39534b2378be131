package httpapi

import (
	"fmt"
	"strconv"
	"strings"
)

// ETag is the strong entity tag of a product version: "<id>-<version>".
func ETag(id, version int64) string {
	var buf [48]byte // two int64s, a dash and the quotes: one allocation, the string
	b := append(buf[:0], '"')
	b = strconv.AppendInt(b, id, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, version, 10)
	return string(append(b, '"'))
}

// entityTags splits an If-Match / If-None-Match value into its tags. "*" comes back as the only
// tag; a weak tag keeps its W/ prefix. A malformed list is an error.
func entityTags(header string) ([]string, error) {
	header = strings.TrimSpace(header)
	if header == "*" {
		return []string{"*"}, nil
	}
	var tags []string
	rest := header
	for rest != "" {
		rest = strings.TrimLeft(rest, " \t")
		tag := ""
		if strings.HasPrefix(rest, "W/") {
			tag, rest = "W/", rest[2:]
		}
		if !strings.HasPrefix(rest, `"`) {
			return nil, fmt.Errorf("entity tag must be quoted")
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return nil, fmt.Errorf("entity tag is not closed")
		}
		tag += rest[:end+2]
		rest = strings.TrimLeft(rest[end+2:], " \t")
		tags = append(tags, tag)
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("entity tags must be separated by commas")
		}
		rest = rest[1:]
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("no entity tag given")
	}
	return tags, nil
}

// noneMatch reports whether If-None-Match (weak comparison) matches etag, i.e. the client's copy
// is current. A malformed header never matches, so the client gets the full answer.
func noneMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	tags, err := entityTags(header)
	if err != nil {
		return false
	}
	for _, t := range tags {
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// ifMatchVersion reads If-Match for product id: the version it names, 0 for "*" or no header.
// Strong comparison: a weak tag, or a tag of another product, can never match, so it yields
// matched=false and the write must fail with 412.
func ifMatchVersion(header string, id int64) (version int64, matched bool, err error) {
	if strings.TrimSpace(header) == "" {
		return 0, true, nil
	}
	tags, err := entityTags(header)
	if err != nil {
		return 0, false, fmt.Errorf("If-Match: %w", err)
	}
	if len(tags) == 1 && tags[0] == "*" {
		return 0, true, nil
	}
	prefix := `"` + strconv.FormatInt(id, 10) + "-"
	var versions []int64
	for _, t := range tags {
		if !strings.HasPrefix(t, prefix) {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(t, prefix), `"`), 10, 64)
		if err == nil && v > 0 {
			versions = append(versions, v)
		}
	}
	switch len(versions) {
	case 0:
		return 0, false, nil
	case 1:
		return versions[0], true, nil
	default:
		return 0, false, fmt.Errorf("If-Match: name one version of the product, not %d", len(versions))
	}
}
