// Package policyfile keeps the cache policy equal to a file (CONFIG_FILE, in Kubernetes a mounted
// ConfigMap): it applies the file once at start and again whenever it changes, without a restart.
//
// The file is the policy: its content, JSON or YAML with the keys of PUT /api/v1/admin/cache,
// applies on top of the start-up policy (CACHE_PRESET, then CACHE_POLICY); a "preset" in the file
// replaces every switch first. A key removed from the file therefore returns to its start-up value,
// and a change made through the admin API lasts until the file changes again. A file that does not
// parse or validate is refused and the policy in force stays.
package policyfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/product-service-lab/product-service/app/internal/cache"
)

// MaxBytes bounds the file; a ConfigMap holds at most 1 MiB.
const MaxBytes = 1 << 20

// Parse turns the file's content, JSON or YAML, into the JSON object cache.Apply reads. Duplicate
// keys, an empty file and anything but an object are refused.
func Parse(data []byte) ([]byte, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New(`the file is empty (write {} for the start-up policy)`)
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("the file is larger than %d bytes", MaxBytes)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(js, &fields); err != nil || fields == nil {
		return nil, errors.New("the file must hold one object of policy switches")
	}
	return js, nil
}

// Resolve returns the policy the file's content describes, starting from base (the start-up
// policy).
func Resolve(base cache.Policy, data []byte) (cache.Policy, error) {
	patch, err := Parse(data)
	if err != nil {
		return cache.Policy{}, err
	}
	p, err := cache.Apply(base, patch)
	if err != nil {
		return cache.Policy{}, err
	}
	return p, nil
}

// fullPatch is a patch that sets every switch of p whatever the policy it applies to: all its
// fields except the preset name, which Apply recomputes (and which may be "custom").
func fullPatch(p cache.Policy) ([]byte, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode policy: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("encode policy: %w", err)
	}
	delete(fields, "preset")
	return json.Marshal(fields)
}
