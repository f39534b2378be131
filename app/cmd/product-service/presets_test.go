package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/config"
)

// CACHE_PRESET accepts exactly the presets the cache defines (config imports none of our packages,
// so it keeps its own list; this keeps the two equal).
func TestConfigPresetsAreTheCachePresets(t *testing.T) {
	if diff := cmp.Diff(cache.PresetNames(), config.CachePresets); diff != "" {
		t.Errorf("config.CachePresets differs from cache.PresetNames() (-cache +config):\n%s", diff)
	}
}
