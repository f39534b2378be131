# product-service lab. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin/product-service
# Tools built from Go modules live outside the repo, keyed by version, so clean clones reuse them.
TOOLS_DIR ?= $(HOME)/.cache/product-service-lab/tools
K6_VERSION := v1.8.1
K6        := $(TOOLS_DIR)/k6-$(K6_VERSION)/k6
LOKI_VERSION := v3.7.8
LOKI      := $(TOOLS_DIR)/loki-$(LOKI_VERSION)/loki
JAEGER_VERSION := v1.76.0
JAEGER    := $(TOOLS_DIR)/jaeger-$(JAEGER_VERSION)/jaeger
# Exporters for the native stack test, and nginx for the edge cache (observability/nginx-edge.conf)
# run natively: Debian's builds, unpacked (not installed: that would start them). Not pinned: a
# security update removes the old version from the archive (nginx 1.22.1-9+deb12u11 replaced
# +deb12u9), so each is the version the archive has when it is first fetched, printed and written
# to VERSION beside the binary (cat $(TOOLS_DIR)/debian/*/VERSION). rm -r the tool's directory to
# fetch the current one.
DEBIAN_TOOLS := $(TOOLS_DIR)/debian
POSTGRES_EXPORTER := $(DEBIAN_TOOLS)/prometheus-postgres-exporter/prometheus-postgres-exporter
REDIS_EXPORTER := $(DEBIAN_TOOLS)/prometheus-redis-exporter/prometheus-redis-exporter
NGINX := $(DEBIAN_TOOLS)/nginx/nginx
# wrk (make bench's load generator) with LuaJIT, which a fresh Debian lacks, unpacked into lib/
# beside it: run it with LD_LIBRARY_PATH=$(dir $(WRK))lib.
WRK := $(DEBIAN_TOOLS)/wrk/wrk

# make run's cache namespace (CACHE_NAMESPACE; the service's default is "ps"): its own, so that a
# cache reset or policy change there reaches no other service sharing this Redis, nor theirs it.
RUN_CACHE_NAMESPACE ?= run-$(shell id -un 2>/dev/null | tr -cd 'A-Za-z0-9_.-' | cut -c1-28)

# Local servers (make run, make bench). Tests use TEST_DATABASE_URL / TEST_REDIS_ADDR instead.
PG_ADMIN_URL ?= postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable
DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/products?sslmode=disable
ADMIN_TOKEN  ?= dev-admin-token
REDIS_ADDR   ?= 127.0.0.1:6379
PRODUCTS     ?= 100000
FUZZTIME     ?= 20s
REPEAT       ?= 1

.PHONY: help build test test-deps fuzz vulncheck run db migrate seed bench bench-telemetry profile compare scale drills tools e2e clean

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}' \
	  | sed 's|$$(TOOLS_DIR)|$(TOOLS_DIR)|g'

build: ## build bin/product-service (static)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./app/cmd/product-service

test: test-deps ## run every test (unit, integration against PostgreSQL and Redis, fuzz seed corpora)
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...
	$(GO) vet -tags drills ./app/drills/
	$(GO) test -race -count=1 ./...

# Without local servers but with Docker, start the compose ones.
test-deps:
	@if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null || ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then \
	  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
	    echo "starting postgres and redis with docker compose"; docker compose up -d --wait postgres redis; \
	  else echo "warning: PostgreSQL or Redis is not reachable on 127.0.0.1; integration tests will skip (fail under CI)"; fi; \
	fi

fuzz: ## run each fuzz target for FUZZTIME
	FUZZTIME='$(FUZZTIME)' MIN_EXECS=0 GO='$(GO)' bash loadtest/drills/fuzz.sh

# govulncheck's database is vuln.go.dev; where only the Go module proxy is reachable, point GOVULNDB
# at a local copy (file:///abs/dir; docs/security.md says how to build one).
GOVULNCHECK_VERSION := v1.8.0
GOVULNDB ?= https://vuln.go.dev

vulncheck: ## known vulnerabilities in the code paths we call (govulncheck, pinned; needs vuln.go.dev or GOVULNDB)
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db '$(GOVULNDB)' ./...

db: ## create the local database named in DATABASE_URL if it is missing
	@name=$$(echo "$(DATABASE_URL)" | sed -E 's#^[^/]*//[^/]*/([^?]*).*#\1#'); \
	psql "$(PG_ADMIN_URL)" -tAc "SELECT 1 FROM pg_database WHERE datname = '$$name'" | grep -q 1 || \
	  psql "$(PG_ADMIN_URL)" -qc "CREATE DATABASE \"$$name\""

migrate: build db ## apply migrations to DATABASE_URL
	DATABASE_URL='$(DATABASE_URL)' $(BIN) migrate

seed: migrate ## load PRODUCTS products (idempotent)
	DATABASE_URL='$(DATABASE_URL)' $(BIN) seed --products $(PRODUCTS)

run: seed ## run the service on :8080 against local PostgreSQL, after migrating and seeding (cache namespace RUN_CACHE_NAMESPACE, run-<user>)
	DATABASE_URL='$(DATABASE_URL)' ADMIN_TOKEN='$(ADMIN_TOKEN)' CACHE_NAMESPACE='$(RUN_CACHE_NAMESPACE)' $(BIN) serve

# make bench's suites; QUICK=1 runs all three, short (2 s runs, 1 round, 5000 products).
BENCH_SUITES ?= $(if $(filter 1,$(QUICK)),hits$(,)uncached$(,)telemetry,hits$(,)uncached)
BENCH_FLAGS = -go '$(GO)' -wrk '$(WRK)' -loki '$(LOKI)' -jaeger '$(JAEGER)' -pg-admin-url '$(PG_ADMIN_URL)' \
  -redis-addr '$(REDIS_ADDR)' $(if $(filter 1,$(QUICK)),-quick,-products '$(PRODUCTS)') \
  $(if $(BEFORE_REV),-before-rev '$(BEFORE_REV)') $(if $(SERVICE_BEFORE),-service-before '$(SERVICE_BEFORE)') \
  $(if $(BENCH_REDIS_TIMEOUT),-redis-timeout '$(BENCH_REDIS_TIMEOUT)')
, := ,

bench: tools ## wrk against the service's cache hits beside raw ceilings (go-redis GET, Go map) and a peer (gin+GORM+go-redis/cache), and uncached vs net/http+pgx: req/s, CPU µs/request, p99, ratios → results/bench-*.json (~10 min; QUICK=1 every suite in ~3 min; BEFORE_REV=rev adds that revision's service)
	$(GO) run ./app/cmd/bench $(BENCH_FLAGS) -suites '$(BENCH_SUITES)'

bench-telemetry: tools ## CPU µs/request of L1 hits with telemetry off, access log, + Loki, + traces 10 % / 100 %, + profiling, against all-off → results/bench-telemetry.json
	$(GO) run ./app/cmd/bench $(BENCH_FLAGS) -suites telemetry

profile: $(K6) ## 30 s CPU profile of the service under the 500/s read load (k6 read.js) → results/cpu-<date>.pprof, top functions printed
	GO='$(GO)' $(GO) run ./app/cmd/lab profile -k6 '$(K6)' -pg-admin-url '$(PG_ADMIN_URL)' -redis-addr '$(REDIS_ADDR)' -products '$(PRODUCTS)' -go '$(GO)'

compare: tools ## every k6 scenario × cache preset (and the nginx edge in front of protected) at 500/s, DB latency 200 ms → results/compare-<date>.md (QUICK=1: a few seconds a cell, checked; REPEAT=2 prints the spread; SCENARIOS=, PRESETS= narrow it, CELL_SECONDS=60 lengthens the steady loads)
	GO='$(GO)' $(GO) run ./app/cmd/compare -k6 '$(K6)' -nginx '$(NGINX)' -pg-admin-url '$(PG_ADMIN_URL)' -redis-addr '$(REDIS_ADDR)' \
	  -products '$(PRODUCTS)' -repeat '$(REPEAT)' $(if $(filter 1,$(QUICK)),-quick -check) \
	  $(if $(SCENARIOS),-scenarios '$(SCENARIOS)') $(if $(PRESETS),-presets '$(PRESETS)') $(if $(CELL_SECONDS),-seconds '$(CELL_SECONDS)')

SCALE_REPLICAS ?= 3

scale: tools ## scale-out: SCALE_REPLICAS (3) processes behind native nginx: L1 invalidation lag and stale reads (consistency), DB loads per hot-key TTL expiry (breakdown), with protected, two-level and tail; read throughput 1 vs 3 → results/scale-<date>.md
	GO='$(GO)' $(GO) run ./app/cmd/compare -k6 '$(K6)' -nginx '$(NGINX)' -pg-admin-url '$(PG_ADMIN_URL)' -redis-addr '$(REDIS_ADDR)' \
	  -products '$(PRODUCTS)' -replicas '$(SCALE_REPLICAS)' -scenarios consistency,breakdown -presets protected,two-level,tail \
	  -edge=false -throughput -redis-timeout $(if $(filter 1,$(QUICK)),1s,250ms) -repeat '$(REPEAT)' -check $(if $(filter 1,$(QUICK)),-quick)

e2e: tools test-deps ## end-to-end: k6 contract and load smoke, the service shipping logs to a real Loki, the nginx edge cache natively
	$(LOKI) -config.file=loki/loki.yaml -config.expand-env=true -verify-config
	GO='$(GO)' $(GO) run ./app/cmd/lab smoke -k6 '$(K6)' -pg-admin-url '$(PG_ADMIN_URL)' -redis-addr '$(REDIS_ADDR)'
	LOKI_BIN='$(LOKI)' $(GO) test -tags e2e -count=1 -run 'Loki' ./app/cmd/...
	NGINX_BIN='$(NGINX)' $(GO) test -tags e2e -count=1 -v -run '^(TestEdge|TestNginx)' ./app/cmd/compare/ ./app/internal/nginxconf/
	LOKI_BIN='$(LOKI)' JAEGER_BIN='$(JAEGER)' K6_BIN='$(K6)' NGINX_BIN='$(NGINX)' POSTGRES_EXPORTER_BIN='$(POSTGRES_EXPORTER)' \
	  REDIS_EXPORTER_BIN='$(REDIS_EXPORTER)' $(GO) test -tags e2e -count=1 -timeout 10m -v -run '^TestStack$$' ./app/e2e/

DRILLS_REPORT ?= results/drills-$(shell date -u +%Y-%m-%d).md

drills: tools ## failure drills under k6 at 500/s, each with its own PostgreSQL and Redis, then every fuzz target (≥ 1 M executions) → results/drills-<date>.md (~20 min)
	mkdir -p $(dir $(DRILLS_REPORT))
	printf '# Drills %s\n\ncommit %s%s\n\n' "$$(date -u +%Y-%m-%d)" "$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	  "$$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')" > '$(DRILLS_REPORT)'
	DRILLS_REPORT='$(DRILLS_REPORT)' K6_BIN='$(K6)' GO='$(GO)' \
	  $(GO) test -tags drills -count=1 -v -timeout 60m -run '^TestDrill' ./app/drills/
	REPORT='$(DRILLS_REPORT)' GO='$(GO)' bash loadtest/drills/fuzz.sh
	@echo "report: $(DRILLS_REPORT)"

tools: $(K6) $(LOKI) $(JAEGER) $(POSTGRES_EXPORTER) $(REDIS_EXPORTER) $(NGINX) $(WRK) ## build/fetch the load and e2e tools into $(TOOLS_DIR): Go tools once per pinned version, Debian packages at the archive's version (written to debian/*/VERSION)

$(K6):
	mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install go.k6.io/k6@$(K6_VERSION)

$(POSTGRES_EXPORTER):
	bash observability/e2e/debian-tool.sh prometheus-postgres-exporter $@

$(REDIS_EXPORTER):
	bash observability/e2e/debian-tool.sh prometheus-redis-exporter $@

$(NGINX):
	bash observability/e2e/debian-tool.sh nginx $@

$(WRK):
	LIBS=libluajit2-5.1-2 bash observability/e2e/debian-tool.sh wrk $@

$(JAEGER):
	GO='$(GO)' bash observability/build-go-tool.sh github.com/jaegertracing/jaeger $(JAEGER_VERSION) ./cmd/jaeger $@

$(LOKI):
	GO='$(GO)' bash observability/build-go-tool.sh github.com/grafana/loki/v3 $(LOKI_VERSION) ./cmd/loki $@

clean: ## remove build output
	rm -rf bin results
