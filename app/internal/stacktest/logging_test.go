package stacktest_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/go-units"
)

// maxLogDisk bounds the disk the containers' own log files may take with three replicas and every
// profile on: the sum over services of max-size × max-file. Loki keeps the history; these files
// serve `docker compose logs`.
const maxLogDisk = 1 << 30

// TestComposeLogRotation: every service sets logging: the json-file driver (what `docker compose
// logs` reads) rotated by max-size, with max-file files kept. Docker's default json-file driver
// never rotates, so one busy replica could fill the host's disk.
func TestComposeLogRotation(t *testing.T) {
	const replicas = 3
	p := loadAll(t)
	var total int64
	var parts []string
	for _, name := range p.ServiceNames() {
		t.Run(name, func(t *testing.T) {
			bytes, err := logDisk(service(t, p, name).Logging)
			if err != nil {
				t.Fatalf("logging of %s: %v (want the x-logging extension field: json-file, max-size, max-file)", name, err)
			}
			n := int64(1)
			if name == "product-service" {
				n = replicas
			}
			total += n * bytes
			parts = append(parts, fmt.Sprintf("%s %d×%dMiB", name, n, bytes>>20))
		})
	}
	if total > maxLogDisk {
		t.Errorf("log files may take %d MiB, over the %d MiB budget: %s", total>>20, maxLogDisk>>20, strings.Join(parts, ", "))
	}
}

// logDisk returns the most disk a container's log files take under cfg: max-size × max-file,
// parsed as Docker's json-file driver parses them (sizes in binary units: 10m is 10 MiB).
func logDisk(cfg *types.LoggingConfig) (int64, error) {
	if cfg == nil {
		return 0, fmt.Errorf("no logging options")
	}
	if cfg.Driver != "json-file" {
		return 0, fmt.Errorf("driver %q, want json-file", cfg.Driver)
	}
	size, err := units.RAMInBytes(cfg.Options["max-size"])
	if err != nil || size <= 0 {
		return 0, fmt.Errorf("max-size %q: want a size such as 10m (%v)", cfg.Options["max-size"], err)
	}
	files, err := strconv.Atoi(cfg.Options["max-file"])
	if err != nil || files < 1 {
		return 0, fmt.Errorf("max-file %q: want a count of at least 1", cfg.Options["max-file"])
	}
	return size * int64(files), nil
}
