package stacktest_test

// What each pinned image of the compose file contains that the file relies on: the programs its
// health checks and entry points run, a shell for CMD-SHELL, and the user it runs as. The table
// is read from each image's own Dockerfile or documentation (source says where); a health check
// that calls a program its image lacks never turns healthy, and everything waiting on it waits
// for ever (edge-logs called wget, which the Debian-based fluent-bit -debug image lacks).

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// imageContents is one row of the table: what an image holds, and where that was read.
type imageContents struct {
	// shell is the path of the POSIX shell at /bin/sh that CMD-SHELL runs, "" when the image
	// has none (distroless; Tempo's busybox shell is at /busybox/sh only).
	shell string
	// programs are the executables the compose file may run in the image, as a health check or
	// an entry point: by name when they are on the image's PATH, by absolute path otherwise.
	programs []string
	// uid is the user the image runs as (its USER; 0 for root, also when an entry point steps
	// down to another user after setting up).
	uid int
	// source is where the row was read: the image's Dockerfile (the release's, or the nearest
	// one found) or its documentation, with what is not verified against the pinned tag.
	source string
}

// busybox is what an Alpine (or busybox) base gives every image built on it.
var busybox = []string{"sh", "/bin/sh", "wget"}

// images is the table, one row per image the compose file names.
var images = map[string]imageContents{
	"postgres:16.9-alpine": {
		shell:    "/bin/sh",
		programs: append([]string{"bash", "pg_isready", "psql", "postgres", "pg_basebackup"}, busybox...),
		uid:      0, // docker-entrypoint.sh steps down to postgres (uid 70) with gosu
		source: "https://github.com/docker-library/postgres/blob/master/16/alpine3.22/Dockerfile " +
			"(FROM alpine:3.22; PostgreSQL installed under /usr/local, bash added for the entrypoint; no USER)",
	},
	"redis:7.4.4-alpine": {
		shell:    "/bin/sh",
		programs: append([]string{"redis-cli", "redis-server"}, busybox...),
		uid:      0, // the entrypoint steps down to redis (uid 999)
		source: "https://github.com/docker-library/redis/blob/master/7.4/alpine/Dockerfile " +
			"(FROM alpine, redis built into /usr/local/bin; no USER). Not found in the search index: from the docker-library layout",
	},
	"nginx:1.28.0-alpine": {
		shell:    "/bin/sh",
		programs: append([]string{"nginx"}, busybox...),
		uid:      0, // the master; workers run as nginx (uid 101)
		source: "https://github.com/nginxinc/docker-nginx/blob/master/stable/alpine/Dockerfile " +
			"(FROM alpine; nginx from nginx.org's apk repository; no USER). Read at an older stable release",
	},
	"quay.io/prometheuscommunity/postgres-exporter:v0.18.1": {
		shell:    "/bin/sh",
		programs: append([]string{"/bin/postgres_exporter"}, busybox...),
		uid:      65534, // USER nobody
		source: "https://github.com/prometheus-community/postgres_exporter/blob/v0.18.1/Dockerfile " +
			"(FROM quay.io/prometheus/busybox-${OS}-${ARCH}, USER nobody). NOT verified here: the index " +
			"holds only releases before v0.10 (FROM scratch); re-check on an upgrade",
	},
	"oliver006/redis_exporter:v1.74.0-alpine": {
		shell:    "/bin/sh",
		programs: append([]string{"/redis_exporter"}, busybox...),
		uid:      59000,
		source: "https://github.com/oliver006/redis_exporter/blob/master/docker/Dockerfile " +
			"(stage alpine: FROM alpine, USER 59000:59000; the default tag is the scratch stage, with no wget)",
	},
	"prom/prometheus:v2.55.1": {
		shell:    "/bin/sh",
		programs: append([]string{"/bin/prometheus", "promtool"}, busybox...),
		uid:      65534, // USER nobody
		source: "https://github.com/prometheus/prometheus/blob/v2.55.1/Dockerfile " +
			"(FROM quay.io/prometheus/busybox-${OS}-${ARCH}, USER nobody)",
	},
	"grafana/loki:3.7.8": {
		shell:    "/bin/sh", // a link to /busybox/sh
		programs: []string{"/usr/bin/loki", "/busybox/sh", "/busybox/wget", "/bin/sh"},
		uid:      10001,
		source: "https://github.com/grafana/loki/blob/main/cmd/loki/Dockerfile " +
			"(FROM gcr.io/distroless/static:debug, /usr/bin/loki, ln -s /busybox/sh /bin/sh, USER 10001); " +
			"loki -health: https://github.com/grafana/loki/pull/20590",
	},
	"grafana/tempo:2.8.2": {
		shell:    "", // /busybox/sh only: https://github.com/grafana/tempo/issues/5352
		programs: []string{"/tempo", "/busybox/sh", "/busybox/wget"},
		uid:      10001,
		source: "https://github.com/grafana/tempo/blob/main/cmd/tempo/Dockerfile (USER 10001:10001); busybox under " +
			"/busybox and no /bin/sh in the 2.8 images: https://github.com/grafana/tempo/issues/5352. Later releases " +
			"dropped busybox (https://github.com/grafana/tempo/issues/6536): an upgrade needs another health check",
	},
	"grafana/pyroscope:1.18.1": {
		shell:    "",
		programs: []string{"/usr/bin/pyroscope", "/usr/bin/profilecli"},
		uid:      10001, // USER pyroscope, created with -u 10001
		source: "https://github.com/grafana/pyroscope/blob/main/cmd/pyroscope/Dockerfile " +
			"(FROM gcr.io/distroless/static: no shell, no wget; profilecli copied to /usr/bin)",
	},
	"grafana/grafana:12.0.2": {
		shell:    "/bin/sh",
		programs: append([]string{"grafana", "grafana-server"}, busybox...),
		uid:      472,
		source: "https://github.com/grafana/grafana/blob/v12.0.2/Dockerfile (the default image is FROM alpine, " +
			"USER 472; https://grafana.com/docs/grafana/latest/setup-grafana/installation/docker/)",
	},
	"grafana/k6:1.8.1": {
		shell:    "/bin/sh",
		programs: append([]string{"k6", "/usr/bin/k6"}, busybox...),
		uid:      12345,
		source: "https://github.com/grafana/k6/blob/master/Dockerfile " +
			"(FROM alpine, adduser -u 12345 k6, USER 12345, ENTRYPOINT [\"k6\"])",
	},
	"fluent/fluent-bit:4.0.3-debug": {
		shell:    "/bin/sh", // Debian's dash
		programs: []string{"/fluent-bit/bin/fluent-bit", "bash", "curl", "sh", "/bin/sh"},
		uid:      0,
		source: "https://github.com/fluent/fluent-bit/blob/master/dockerfiles/Dockerfile " +
			"(stage debug: FROM debian slim, apt-get install … bash … curl …; no wget, no busybox, no USER). " +
			"The default (non-debug) image is distroless, with no shell",
	},
	productServiceImage: {
		shell:    "/bin/sh",
		programs: append([]string{"product-service"}, busybox...),
		uid:      10001,
		source:   "Dockerfile in this repository (FROM alpine, USER 10001:10001); TestImageTableMatchesDockerfile checks it",
	},
}

// productServiceImage is the image built from this repository's Dockerfile.
const productServiceImage = "product-service-lab/product-service:dev"

// TestComposeProgramsExistInImages: every health check and entry point of the compose file runs
// a program its image contains, and a CMD-SHELL check has a /bin/sh to run in.
func TestComposeProgramsExistInImages(t *testing.T) {
	p := loadAll(t)
	for _, name := range p.ServiceNames() {
		t.Run(name, func(t *testing.T) {
			if err := checkPrograms(service(t, p, name)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCheckProgramsFindsWhatImagesLack shows the check above failing on the mistakes it exists for.
func TestCheckProgramsFindsWhatImagesLack(t *testing.T) {
	hc := func(test ...string) *types.HealthCheckConfig { return &types.HealthCheckConfig{Test: test} }
	newService := func(image string, hc *types.HealthCheckConfig, entrypoint []string) types.ServiceConfig {
		var s types.ServiceConfig
		s.Image, s.HealthCheck, s.Entrypoint = image, hc, entrypoint
		return s
	}
	tests := []struct {
		name    string
		svc     types.ServiceConfig
		wantErr string // "" for none
	}{
		{name: "fluent-bit debug has no wget", wantErr: `"wget"`,
			svc: newService("fluent/fluent-bit:4.0.3-debug", hc("CMD", "wget", "-q", "http://x"), nil)},
		{name: "fluent-bit debug has curl",
			svc: newService("fluent/fluent-bit:4.0.3-debug", hc("CMD", "curl", "-f", "http://x"), nil)},
		{name: "distroless has no shell for CMD-SHELL", wantErr: "no /bin/sh",
			svc: newService("grafana/pyroscope:1.18.1", hc("CMD-SHELL", "profilecli ready"), nil)},
		{name: "tempo's wget is not on PATH", wantErr: `"wget"`,
			svc: newService("grafana/tempo:2.8.2", hc("CMD", "wget", "http://x"), nil)},
		{name: "CMD-SHELL runs its first word", wantErr: `"curl"`,
			svc: newService("redis:7.4.4-alpine", hc("CMD-SHELL", "curl -f http://x || exit 1"), nil)},
		{name: "CMD-SHELL with a program the image has",
			svc: newService("redis:7.4.4-alpine", hc("CMD-SHELL", "redis-cli ping | grep PONG"), nil)},
		{name: "entry point missing", wantErr: `"/bin/bash"`,
			svc: newService("grafana/k6:1.8.1", nil, []string{"/bin/bash", "-c", "true"})},
		{name: "image without a row", wantErr: "no row",
			svc: newService("busybox:1.37.0", nil, nil)},
		{name: "disabled check runs nothing",
			svc: newService("grafana/pyroscope:1.18.1", &types.HealthCheckConfig{Disable: true}, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkPrograms(tt.svc)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

// checkPrograms returns what service s runs that its image's row does not have.
func checkPrograms(s types.ServiceConfig) error {
	row, ok := images[s.Image]
	if !ok {
		return fmt.Errorf("image %q has no row in the images table (images_test.go): say what it contains and where you read it", s.Image)
	}
	var errs []error
	has := func(what, program string) {
		if !slices.Contains(row.programs, program) {
			errs = append(errs, fmt.Errorf("%s runs %q, which image %s does not contain (%v; %s)",
				what, program, s.Image, row.programs, row.source))
		}
	}
	if hc := s.HealthCheck; hc != nil && !hc.Disable && len(hc.Test) > 1 {
		switch hc.Test[0] {
		case "CMD":
			has("the health check", hc.Test[1])
		case "CMD-SHELL":
			if row.shell != "/bin/sh" {
				errs = append(errs, fmt.Errorf("CMD-SHELL health check needs /bin/sh; image %s has no /bin/sh (%s)", s.Image, row.source))
			}
			if fields := strings.Fields(strings.Join(hc.Test[1:], " ")); len(fields) > 0 {
				has("the health check", fields[0])
			}
		}
	}
	if len(s.Entrypoint) > 0 {
		has("the entry point", s.Entrypoint[0])
	}
	return errors.Join(errs...)
}

// TestImageTableMatchesDockerfile: the row of the image built here says what the Dockerfile
// builds (an Alpine base, so busybox's sh and wget, and its USER).
func TestImageTableMatchesDockerfile(t *testing.T) {
	raw, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	df := parseDockerfile(string(raw))
	stages := df.stages()
	if base, _ := fromImage(stages[len(stages)-1][0].args); !strings.HasPrefix(base, "alpine:") {
		t.Errorf("the run stage is FROM %s; the images table assumes Alpine's busybox for %s", base, productServiceImage)
	}
	in, ok := df.last("USER")
	if !ok {
		t.Fatal("the Dockerfile has no USER")
	}
	user, _, _ := strings.Cut(in.args, ":")
	if uid, err := strconv.Atoi(user); err != nil || uid != images[productServiceImage].uid {
		t.Errorf("Dockerfile USER %s; the images table says uid %d", in.args, images[productServiceImage].uid)
	}
}

// runsAs returns the uid service s runs as: its user: override (numeric, or root), else its
// image's USER from the table.
func runsAs(s types.ServiceConfig) (int, error) {
	if s.User != "" {
		user, _, _ := strings.Cut(s.User, ":")
		if user == "root" {
			return 0, nil
		}
		uid, err := strconv.Atoi(user)
		if err != nil {
			return 0, fmt.Errorf("user %q: give a numeric uid, so the tests can tell what it may write", s.User)
		}
		return uid, nil
	}
	row, ok := images[s.Image]
	if !ok {
		return 0, fmt.Errorf("image %q has no row in the images table", s.Image)
	}
	return row.uid, nil
}
