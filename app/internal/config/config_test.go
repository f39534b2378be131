package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/config"
)

func env(kv map[string]string) config.Lookup {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := config.Load(env(nil))
	if err != nil {
		t.Fatalf("Load with an empty environment: %v", err)
	}
	want := config.Config{
		Env:            "development",
		LogLevel:       "info",
		LogSlowRequest: time.Second,
		Logging:        config.Logging{SampleEvery: 1, AccessExclude: []string{"/health", "/ready", "/metrics"}, DebugMax: 15 * time.Minute},
		HTTP: config.HTTP{
			Addr: ":8080", ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 15 * time.Second, IdleTimeout: 60 * time.Second, ShutdownTimeout: 20 * time.Second,
			MaxBodyBytes: 1 << 20, CacheMaxAge: 5 * time.Second,
		},
		Overload: defaultOverload,
		LogSinks: defaultLogSinks,
		Database: config.Database{
			URL: config.DefaultDatabaseURL, MaxOpenConns: 20, MaxIdleConns: 20, ReadYourWrites: 2 * time.Second,
			ConnMaxLifetime: 30 * time.Minute, ConnMaxIdleTime: 5 * time.Minute, QueryTimeout: 5 * time.Second,
			LockTimeout: time.Second,
		},
		Redis: config.Redis{Addr: "127.0.0.1:6379", Addrs: []string{"127.0.0.1:6379"}, Timeout: 50 * time.Millisecond, PoolSize: 50},
		Cache: config.Cache{Preset: "protected", Namespace: "ps", L1MaxEntries: 100_000, BloomRebuild: 10 * time.Minute, HotLimit: 5000,
			OutboxPoll: time.Second, OutboxGrace: time.Second},
		Telemetry: config.Telemetry{LogFileMaxSizeMB: 500, LogFileMaxAgeDays: 30, LogFileCompress: true,
			DBSlowQuery: 200 * time.Millisecond, OTLPProtocol: "http/protobuf", ServiceName: "product-service",
			TracesSampler: "parentbased_always_on", PyroscopeUploadRate: 15 * time.Second},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadReadsEveryVariable(t *testing.T) {
	cfg, err := config.Load(env(map[string]string{
		"APP_ENV": "production", "LOG_LEVEL": "WARN", "LOG_SLOW_REQUEST": "250ms", "ADMIN_TOKEN": " s3cret ",
		"HTTP_ADDR": "127.0.0.1:9000", "HTTP_READ_HEADER_TIMEOUT": "1s", "HTTP_READ_TIMEOUT": "2s",
		"HTTP_WRITE_TIMEOUT": "3s", "HTTP_IDLE_TIMEOUT": "4s", "SHUTDOWN_TIMEOUT": "6s",
		"HTTP_MAX_BODY_BYTES": "2048", "HTTP_CACHE_MAX_AGE": "0s",
		"DATABASE_URL": "postgresql://u:p@db:5433/x", "DB_MAX_OPEN_CONNS": "50", "DB_MAX_IDLE_CONNS": "5",
		"DB_CONN_MAX_LIFETIME": "1m", "DB_CONN_MAX_IDLE_TIME": "30s", "DB_QUERY_TIMEOUT": "750ms",
		"DB_LOCK_TIMEOUT": "300ms", "DB_SIMULATED_LATENCY": "200ms", "MIGRATE_ON_START": "true",
		"DATABASE_REPLICA_URLS": " postgres://u:p@r1:5432/x, ,postgres://r2/x", "DB_READ_YOUR_WRITES": "500ms",
		"CONFIG_FILE": "/etc/ps/cache.yaml",
		"REDIS_ADDR":  "cache:6380", "REDIS_TIMEOUT": "20ms", "REDIS_POOL_SIZE": "8",
		"REDIS_ADDRS": "s1:26379, s2:26379", "REDIS_MASTER_NAME": "mymaster", "REDIS_CLUSTER": "false",
		"CACHE_PRESET": "two-level", "CACHE_POLICY": `{"ttl":"1m"}`, "CACHE_NAMESPACE": "lab-1",
		"CACHE_L1_MAX_ENTRIES": "500", "CACHE_BLOOM_REBUILD": "1m", "CACHE_HOT_LIMIT": "10",
		"CACHE_OUTBOX_POLL": "250ms", "CACHE_OUTBOX_GRACE": "2s",
		"LOKI_URL": "http://loki:3100/", "LOG_FILE": "/var/log/ps.log", "LOG_FILE_MAX_SIZE_MB": "10",
		"LOG_FILE_MAX_AGE_DAYS": "7", "LOG_FILE_MAX_BACKUPS": "3", "LOG_FILE_COMPRESS": "false", "DB_SLOW_QUERY": "50ms",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_SERVICE_NAME": "ps-test", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1",
		"PPROF_ADDR": "127.0.0.1:6060", "PYROSCOPE_URL": "http://pyroscope:4040/", "PYROSCOPE_UPLOAD_RATE": "5s",
		"LOG_SAMPLE_EVERY": "10", "LOG_ACCESS_EXCLUDE": " /metrics, ,/api/v1/products ", "LOG_DEBUG_MAX": "5m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Env: "production", LogLevel: "warn", LogSlowRequest: 250 * time.Millisecond, AdminToken: "s3cret",
		ConfigFile: "/etc/ps/cache.yaml",
		Logging:    config.Logging{SampleEvery: 10, AccessExclude: []string{"/metrics", "/api/v1/products"}, DebugMax: 5 * time.Minute},
		HTTP: config.HTTP{
			Addr: "127.0.0.1:9000", ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second,
			WriteTimeout: 3 * time.Second, IdleTimeout: 4 * time.Second, ShutdownTimeout: 6 * time.Second,
			MaxBodyBytes: 2048, CacheMaxAge: 0,
		},
		Overload: defaultOverload,
		LogSinks: defaultLogSinks,
		Database: config.Database{
			URL: "postgresql://u:p@db:5433/x", ReplicaURLs: []string{"postgres://u:p@r1:5432/x", "postgres://r2/x"},
			ReadYourWrites: 500 * time.Millisecond, MaxOpenConns: 50, MaxIdleConns: 5, ConnMaxLifetime: time.Minute,
			ConnMaxIdleTime: 30 * time.Second, QueryTimeout: 750 * time.Millisecond, LockTimeout: 300 * time.Millisecond,
			SimulatedLatency: 200 * time.Millisecond, MigrateOnStart: true,
		},
		Redis: config.Redis{Addr: "cache:6380", Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster",
			Timeout: 20 * time.Millisecond, PoolSize: 8},
		Cache: config.Cache{Preset: "two-level", Policy: `{"ttl":"1m"}`, Namespace: "lab-1", L1MaxEntries: 500,
			BloomRebuild: time.Minute, HotLimit: 10, OutboxPoll: 250 * time.Millisecond, OutboxGrace: 2 * time.Second},
		Telemetry: config.Telemetry{LokiURL: "http://loki:3100", LogFile: "/var/log/ps.log", LogFileMaxSizeMB: 10,
			LogFileMaxAgeDays: 7, LogFileMaxBackups: 3, DBSlowQuery: 50 * time.Millisecond,
			OTLPEndpoint: "http://tempo:4318", OTLPProtocol: "grpc", ServiceName: "ps-test",
			TracesSampler: "parentbased_traceidratio", TracesSamplerArg: "0.1", PprofAddr: "127.0.0.1:6060",
			PyroscopeURL: "http://pyroscope:4040", PyroscopeUploadRate: 5 * time.Second},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	tests := []struct {
		key, value string
	}{
		{"DB_SIMULATED_LATENCY", "200"},
		{"LOG_SAMPLE_EVERY", "0"},
		{"LOG_SAMPLE_EVERY", "every"},
		{"LOG_DEBUG_MAX", "500ms"},
		{"LOG_ACCESS_EXCLUDE", "/health,metrics"},
		{"DB_SIMULATED_LATENCY", "-1s"},
		{"SHUTDOWN_TIMEOUT", "soon"},
		{"DB_MAX_OPEN_CONNS", "0"},
		{"DB_MAX_OPEN_CONNS", "many"},
		{"DB_MAX_IDLE_CONNS", "500"}, // above DB_MAX_OPEN_CONNS (20)
		{"MIGRATE_ON_START", "yes please"},
		{"DATABASE_URL", "mysql://root@localhost/x"},
		{"DATABASE_URL", "postgres://"},
		{"DATABASE_REPLICA_URLS", "postgres://r1/x,mysql://r2/x"},
		{"REDIS_ADDRS", "r1:6379,r2"},
		{"REDIS_CLUSTER", "maybe"},
		{"DB_READ_YOUR_WRITES", "2"},
		{"DB_LOCK_TIMEOUT", "1"},
		{"DB_LOCK_TIMEOUT", "-1s"},
		{"DB_LOCK_TIMEOUT", "5s"}, // not below DB_QUERY_TIMEOUT (5s)
		{"APP_ENV", "moon"},
		{"LOG_LEVEL", "loud"},
		{"HTTP_MAX_BODY_BYTES", "0"},
		{"CACHE_POLICY", "ttl=1m"},
		{"CACHE_POLICY", "[1]"},
		{"CACHE_NAMESPACE", "has space"},
		{"REDIS_TIMEOUT", "50"},
		{"LOKI_URL", "loki:3100"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "tempo:4317"},
		{"OTEL_TRACES_SAMPLER", "sometimes"},
		{"OTEL_TRACES_SAMPLER_ARG", "1.5"},
		{"DB_SLOW_QUERY", "fast"},
		{"PYROSCOPE_URL", "pyroscope:4040"},
		{"PYROSCOPE_URL", "ftp://pyroscope:4040"},
		{"PYROSCOPE_UPLOAD_RATE", "15"},
		{"PYROSCOPE_UPLOAD_RATE", "100ms"},
		{"HTTP_MAX_IN_FLIGHT", "-1"},
		{"HTTP_MAX_QUEUED", "-5"},
		{"HTTP_QUEUE_TIMEOUT", "100"},
		{"HTTP_CLIENT_RATE", "-1"},
		{"HTTP_CLIENT_RATE", "NaN"},
		{"HTTP_CLIENT_RATE", "Inf"},
		{"HTTP_CLIENT_BURST", "0"},
		{"HTTP_CLIENT_ITEM_COST", "-0.5"},
		{"HTTP_CLIENT_MAX_TRACKED", "0"},
		{"HTTP_TRUSTED_PROXIES", "10.0.0.0/8,nginx"},
		{"HTTP_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"CACHE_OUTBOX_POLL", "1ms"},
		{"CACHE_OUTBOX_GRACE", "soon"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			_, err := config.Load(env(map[string]string{tt.key: tt.value}))
			if err == nil {
				t.Fatalf("Load accepted %s=%q", tt.key, tt.value)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name %s", err, tt.key)
			}
		})
	}
}

// TestLockTimeoutBelowQueryTimeout: DB_LOCK_TIMEOUT is below DB_QUERY_TIMEOUT, by default 1s or
// half of DB_QUERY_TIMEOUT when that is shorter; 0 turns it off.
func TestLockTimeoutBelowQueryTimeout(t *testing.T) {
	for _, tc := range []struct {
		query, lock string
		want        time.Duration // -1: refused
	}{
		{"10s", "", time.Second},
		{"10s", "0", 0},
		{"10s", "9s", 9 * time.Second},
		{"500ms", "", 250 * time.Millisecond}, // 1s would not be below 500ms: half of it
		{"500ms", "200ms", 200 * time.Millisecond},
		{"500ms", "500ms", -1},
	} {
		t.Run(tc.query+"/"+tc.lock, func(t *testing.T) {
			vars := map[string]string{"DB_QUERY_TIMEOUT": tc.query}
			if tc.lock != "" {
				vars["DB_LOCK_TIMEOUT"] = tc.lock
			}
			cfg, err := config.Load(env(vars))
			switch {
			case tc.want < 0 && (err == nil || !strings.Contains(err.Error(), "DB_LOCK_TIMEOUT")):
				t.Fatalf("Load: %v, want an error naming DB_LOCK_TIMEOUT", err)
			case tc.want >= 0 && err != nil:
				t.Fatal(err)
			case tc.want >= 0 && cfg.Database.LockTimeout != tc.want:
				t.Errorf("LockTimeout = %s, want %s", cfg.Database.LockTimeout, tc.want)
			}
		})
	}
}

func TestRedisClusterNotWithSentinel(t *testing.T) {
	_, err := config.Load(env(map[string]string{"REDIS_CLUSTER": "true", "REDIS_MASTER_NAME": "m"}))
	if err == nil || !strings.Contains(err.Error(), "REDIS_CLUSTER") {
		t.Fatalf("REDIS_CLUSTER with REDIS_MASTER_NAME: %v, want an error naming REDIS_CLUSTER", err)
	}
	cfg, err := config.Load(env(map[string]string{"REDIS_CLUSTER": "true", "REDIS_ADDRS": "node:7000"}))
	if err != nil || !cfg.Redis.Cluster {
		t.Fatalf("REDIS_CLUSTER=true: %+v, %v", cfg.Redis, err)
	}
}

func TestLoadReportsEveryBadVariable(t *testing.T) {
	_, err := config.Load(env(map[string]string{"HTTP_READ_TIMEOUT": "x", "DB_QUERY_TIMEOUT": "y"}))
	if err == nil || !strings.Contains(err.Error(), "HTTP_READ_TIMEOUT") || !strings.Contains(err.Error(), "DB_QUERY_TIMEOUT") {
		t.Fatalf("want both variables named, got %v", err)
	}
}

func TestFieldsMaskSecrets(t *testing.T) {
	cfg, err := config.Load(env(map[string]string{
		"ADMIN_TOKEN": "tok-123", "DATABASE_URL": "postgres://app:hunter2@db:5432/products",
		"DATABASE_REPLICA_URLS": "postgres://app:hunter2@r1:5432/products,postgres://r2/products",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range cfg.Fields() {
		s, _ := v.(string)
		if strings.Contains(s, "tok-123") || strings.Contains(s, "hunter2") {
			t.Errorf("field %s leaks a secret: %q", k, s)
		}
	}
	if got := cfg.Fields()["database_url"]; got != "postgres://app:xxxxx@db:5432/products" {
		t.Errorf("database_url = %v, want the redacted URL", got)
	}
	if got := cfg.Fields()["database_replica_urls"]; got != "postgres://app:xxxxx@r1:5432/products,postgres://r2/products" {
		t.Errorf("database_replica_urls = %v, want the redacted URLs", got)
	}
}

// TestSamplerField: the start-up line names the sampler, and its argument only when one is set
// (it read "parentbased_always_on " with a trailing space).
func TestSamplerField(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{env: nil, want: "parentbased_always_on"},
		{env: map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}, want: "traceidratio 0.1"},
	}
	for _, tt := range tests {
		cfg, err := config.Load(env(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Fields()["otel_sampler"]; got != tt.want {
			t.Errorf("otel_sampler = %q, want %q", got, tt.want)
		}
	}
}

func TestIdleConnectionsFollowPoolSize(t *testing.T) {
	cfg, err := config.Load(env(map[string]string{"DB_MAX_OPEN_CONNS": "8"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.MaxIdleConns != 8 {
		t.Errorf("DB_MAX_IDLE_CONNS defaults to %d with a pool of 8, want 8", cfg.Database.MaxIdleConns)
	}
}

// LOG_ACCESS_EXCLUDE set but empty logs every route; unset leaves the probes and /metrics out.
func TestAccessExcludeEmptyLogsEverything(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want []string
	}{
		{nil, []string{"/health", "/ready", "/metrics"}},
		{map[string]string{"LOG_ACCESS_EXCLUDE": ""}, nil},
		{map[string]string{"LOG_ACCESS_EXCLUDE": " , "}, nil},
		{map[string]string{"LOG_ACCESS_EXCLUDE": "/ready"}, []string{"/ready"}},
	} {
		cfg, err := config.Load(env(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, cfg.Logging.AccessExclude); diff != "" {
			t.Errorf("LOG_ACCESS_EXCLUDE %v (-want +got):\n%s", tt.env, diff)
		}
	}
}
