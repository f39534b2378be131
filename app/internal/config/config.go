// Package config loads the service's configuration from the environment, once, into one typed
// value. It is the only package that reads environment variables; a bad value stops start-up with
// an error that names the variable.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of product-service.
type Config struct {
	// Env names the deployment (development, staging, production); it labels logs.
	Env string
	// LogLevel is the logrus level name (debug, info, warn, error).
	LogLevel string
	// LogSlowRequest is the latency above which a request is logged at warn.
	LogSlowRequest time.Duration
	// Logging holds the access log's sampling and exclusions and the run-time debug bound.
	Logging Logging

	HTTP      HTTP
	Overload  Overload
	Database  Database
	Redis     Redis
	Cache     Cache
	Telemetry Telemetry
	LogSinks  LogSinks
	// AdminToken guards every write route; empty means every write is refused.
	AdminToken string
	// ConfigFile (CONFIG_FILE), when set, is a file of cache policy switches (the PUT
	// /api/v1/admin/cache JSON, or the same keys in YAML) watched while serving: a change is
	// applied without a restart. In Kubernetes it is a mounted ConfigMap.
	ConfigFile string
}

// HTTP holds the listener settings.
type HTTP struct {
	Addr              string
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	// MaxBodyBytes bounds a request body; larger bodies get 413.
	MaxBodyBytes int64
	// CacheMaxAge is the max-age announced in Cache-Control on product reads.
	CacheMaxAge time.Duration
}

// Database holds the PostgreSQL settings.
type Database struct {
	// URL is the primary: every write, every transaction and reads that must see a write.
	URL string
	// ReplicaURLs (DATABASE_REPLICA_URLS, comma-separated) are read replicas; when set, reads
	// outside a transaction go to them.
	ReplicaURLs []string
	// ReadYourWrites (DB_READ_YOUR_WRITES) is how long after a write of a product its reads go
	// to the primary rather than a replica that may not have replayed the write yet.
	ReadYourWrites  time.Duration
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
	// QueryTimeout bounds every statement the service runs on behalf of a request.
	QueryTimeout time.Duration
	// LockTimeout (DB_LOCK_TIMEOUT) bounds how long a write waits for a row lock another
	// transaction holds (PostgreSQL's lock_timeout); 0 leaves only QueryTimeout. It must be
	// below QueryTimeout; by default 1s, or half of QueryTimeout when that is shorter.
	LockTimeout time.Duration
	// SimulatedLatency is added to every product detail load to imitate a remote database.
	SimulatedLatency time.Duration
	// MigrateOnStart applies pending migrations when serve starts.
	MigrateOnStart bool
}

// Redis holds the Redis client settings.
type Redis struct {
	// Addr is REDIS_ADDR, the single server of the default set-up.
	Addr string
	// Addrs are the seed addresses go-redis's UniversalClient gets: REDIS_ADDRS (comma-separated)
	// when set, else Addr. With MasterName they are Sentinels; with several and no MasterName,
	// Cluster nodes; one alone, a single server.
	Addrs []string
	// MasterName (REDIS_MASTER_NAME) is the Sentinel master set; it turns Sentinel mode on.
	MasterName string
	// Cluster (REDIS_CLUSTER) makes even one address a Redis Cluster seed node.
	Cluster bool
	// Timeout bounds dialing, each read and each write, and the time one cached read spends in
	// Redis, all its calls together; past it the read falls back to the database.
	Timeout  time.Duration
	PoolSize int
}

// Cache holds the cache settings. The policy switches themselves belong to the cache package:
// Preset names the starting preset (the cache package checks the name: cache.PresetNames) and
// Policy, a JSON object in the PUT /api/v1/admin/cache format, overrides switches on top of it.
type Cache struct {
	Preset       string
	Policy       string
	Namespace    string
	L1MaxEntries int
	BloomRebuild time.Duration
	HotLimit     int
	// OutboxPoll is how often the outbox relay looks for invalidations no commit woke it for.
	OutboxPoll time.Duration
	// OutboxGrace is how long the relay leaves a fresh outbox row to the write that made it.
	OutboxGrace time.Duration
}

// Telemetry holds where logs, traces and profiles go.
type Telemetry struct {
	// LokiURL, when set, ships every log line to Loki (base URL, e.g. http://loki:3100).
	LokiURL string
	// LogFile, when set, also writes lines to this file, rotated by size and age.
	LogFile           string
	LogFileMaxSizeMB  int
	LogFileMaxAgeDays int
	LogFileMaxBackups int
	LogFileCompress   bool
	// DBSlowQuery is the statement duration above which GORM's statements are logged at warn.
	DBSlowQuery time.Duration
	// OTLPEndpoint (OTEL_EXPORTER_OTLP_ENDPOINT) turns tracing on; OTLPProtocol picks the transport.
	OTLPEndpoint, OTLPProtocol string
	ServiceName                string
	TracesSampler              string
	TracesSamplerArg           string
	// PprofAddr, when set, serves net/http/pprof on its own listener (never the public one).
	PprofAddr string
	// PyroscopeURL, when set, pushes continuous profiles to this Pyroscope server (base URL, e.g.
	// http://pyroscope:4040); PyroscopeUploadRate is how often.
	PyroscopeURL        string
	PyroscopeUploadRate time.Duration
}

// Defaults shared by the service, the tests and the docs.
const (
	DefaultDatabaseURL = "postgres://postgres:postgres@127.0.0.1:5432/products?sslmode=disable"
	DefaultHTTPAddr    = ":8080"
	DefaultRedisAddr   = "127.0.0.1:6379"
)

// Lookup returns the value of an environment variable and whether it is set; os.LookupEnv fits.
type Lookup func(key string) (string, bool)

// Load builds and validates a Config from lookup. Every problem found is reported, each naming
// its variable.
func Load(lookup Lookup) (Config, error) {
	r := reader{lookup: lookup}
	cfg := Config{
		Env:            r.oneOf("APP_ENV", "development", "development", "staging", "production", "test"),
		LogLevel:       r.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		AdminToken:     r.str("ADMIN_TOKEN", ""),
		ConfigFile:     r.str("CONFIG_FILE", ""),
		LogSlowRequest: r.duration("LOG_SLOW_REQUEST", time.Second, time.Millisecond),
		Logging:        r.logging(),
		HTTP: HTTP{
			Addr:              r.str("HTTP_ADDR", DefaultHTTPAddr),
			ReadHeaderTimeout: r.duration("HTTP_READ_HEADER_TIMEOUT", 5*time.Second, time.Millisecond),
			ReadTimeout:       r.duration("HTTP_READ_TIMEOUT", 10*time.Second, time.Millisecond),
			WriteTimeout:      r.duration("HTTP_WRITE_TIMEOUT", 15*time.Second, time.Millisecond),
			IdleTimeout:       r.duration("HTTP_IDLE_TIMEOUT", 60*time.Second, time.Millisecond),
			ShutdownTimeout:   r.duration("SHUTDOWN_TIMEOUT", 20*time.Second, time.Millisecond),
			MaxBodyBytes:      int64(r.integer("HTTP_MAX_BODY_BYTES", 1<<20, 1, 64<<20)),
			CacheMaxAge:       r.duration("HTTP_CACHE_MAX_AGE", 5*time.Second, 0),
		},
		Overload: r.overload(),
		LogSinks: r.logSinks(),
		Database: Database{
			URL:              r.databaseURL("DATABASE_URL", DefaultDatabaseURL),
			ReplicaURLs:      r.databaseURLs("DATABASE_REPLICA_URLS"),
			ReadYourWrites:   r.duration("DB_READ_YOUR_WRITES", 2*time.Second, 0),
			MaxOpenConns:     r.integer("DB_MAX_OPEN_CONNS", 20, 1, 1000),
			ConnMaxLifetime:  r.duration("DB_CONN_MAX_LIFETIME", 30*time.Minute, 0),
			ConnMaxIdleTime:  r.duration("DB_CONN_MAX_IDLE_TIME", 5*time.Minute, 0),
			QueryTimeout:     r.duration("DB_QUERY_TIMEOUT", 5*time.Second, time.Millisecond),
			SimulatedLatency: r.duration("DB_SIMULATED_LATENCY", 0, 0),
			MigrateOnStart:   r.boolean("MIGRATE_ON_START", false),
		},
		Redis: Redis{
			Addr:       r.str("REDIS_ADDR", DefaultRedisAddr),
			MasterName: r.str("REDIS_MASTER_NAME", ""),
			Cluster:    r.boolean("REDIS_CLUSTER", false),
			Timeout:    r.duration("REDIS_TIMEOUT", 50*time.Millisecond, time.Millisecond),
			PoolSize:   r.integer("REDIS_POOL_SIZE", 50, 1, 10_000),
		},
		Cache: Cache{
			Preset:       strings.ToLower(r.str("CACHE_PRESET", "protected")), // the cache package checks it
			Policy:       r.jsonObject("CACHE_POLICY"),
			Namespace:    r.namespace("CACHE_NAMESPACE", "ps"),
			L1MaxEntries: r.integer("CACHE_L1_MAX_ENTRIES", 100_000, 1, 100_000_000),
			BloomRebuild: r.duration("CACHE_BLOOM_REBUILD", 10*time.Minute, time.Second),
			HotLimit:     r.integer("CACHE_HOT_LIMIT", 5_000, 1, 1_000_000),
			OutboxPoll:   r.duration("CACHE_OUTBOX_POLL", time.Second, 10*time.Millisecond),
			OutboxGrace:  r.duration("CACHE_OUTBOX_GRACE", time.Second, time.Millisecond),
		},
		Telemetry: Telemetry{
			LokiURL:           r.httpURL("LOKI_URL"),
			LogFile:           r.str("LOG_FILE", ""),
			LogFileMaxSizeMB:  r.integer("LOG_FILE_MAX_SIZE_MB", 500, 1, 1_000_000),
			LogFileMaxAgeDays: r.integer("LOG_FILE_MAX_AGE_DAYS", 30, 0, 100_000),
			LogFileMaxBackups: r.integer("LOG_FILE_MAX_BACKUPS", 0, 0, 100_000),
			LogFileCompress:   r.boolean("LOG_FILE_COMPRESS", true),
			DBSlowQuery:       r.duration("DB_SLOW_QUERY", 200*time.Millisecond, time.Millisecond),
			OTLPEndpoint:      r.httpURL("OTEL_EXPORTER_OTLP_ENDPOINT"),
			OTLPProtocol:      r.oneOf("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "http/protobuf", "grpc"),
			ServiceName:       r.str("OTEL_SERVICE_NAME", "product-service"),
			TracesSampler: r.oneOf("OTEL_TRACES_SAMPLER", "parentbased_always_on", "always_on", "always_off",
				"traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"),
			TracesSamplerArg: r.ratio("OTEL_TRACES_SAMPLER_ARG"),
			PprofAddr:        r.str("PPROF_ADDR", ""),
			PyroscopeURL:     r.httpURL("PYROSCOPE_URL"),
			// Pyroscope's own SDK default; shorter uploads mean more, smaller profiles.
			PyroscopeUploadRate: r.duration("PYROSCOPE_UPLOAD_RATE", 15*time.Second, time.Second),
		},
	}
	// Idle connections default to the pool size: fewer makes a busy service reconnect constantly.
	cfg.Database.MaxIdleConns = r.integer("DB_MAX_IDLE_CONNS", cfg.Database.MaxOpenConns, 0, 1000)
	if cfg.Database.MaxIdleConns > cfg.Database.MaxOpenConns {
		r.fail("DB_MAX_IDLE_CONNS", "must not exceed DB_MAX_OPEN_CONNS (%d)", cfg.Database.MaxOpenConns)
	}
	// A lock wait ends well before the statement's deadline, so that it is told apart from a
	// database that does not answer.
	cfg.Database.LockTimeout = r.duration("DB_LOCK_TIMEOUT", min(time.Second, cfg.Database.QueryTimeout/2), 0)
	if cfg.Database.LockTimeout >= cfg.Database.QueryTimeout {
		r.fail("DB_LOCK_TIMEOUT", "must be below DB_QUERY_TIMEOUT (%s), or 0 to turn it off", cfg.Database.QueryTimeout)
	}
	if cfg.Redis.Cluster && cfg.Redis.MasterName != "" {
		r.fail("REDIS_CLUSTER", "cannot be combined with REDIS_MASTER_NAME (Sentinel)")
	}
	cfg.Redis.Addrs = r.hostPorts("REDIS_ADDRS")
	if len(cfg.Redis.Addrs) == 0 {
		cfg.Redis.Addrs = []string{cfg.Redis.Addr}
	}
	if err := errors.Join(r.errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return cfg, nil
}

// Fields describes the configuration for a start-up log line, with secrets masked.
func (c Config) Fields() map[string]any {
	admin := "unset (writes refused)"
	if c.AdminToken != "" {
		admin = "***"
	}
	return map[string]any{
		"env":                   c.Env,
		"http_addr":             c.HTTP.Addr,
		"database_url":          RedactURL(c.Database.URL),
		"database_replica_urls": redactURLs(c.Database.ReplicaURLs),
		"db_read_your_writes":   c.Database.ReadYourWrites.String(),
		"db_lock_timeout":       c.Database.LockTimeout.String(),
		"db_max_open_conns":     c.Database.MaxOpenConns,
		"db_simulated_latency":  c.Database.SimulatedLatency.String(),
		"migrate_on_start":      c.Database.MigrateOnStart,
		"admin_token":           admin,
		"shutdown_timeout":      c.HTTP.ShutdownTimeout.String(),
		"http_cache_max_age":    c.HTTP.CacheMaxAge.String(),
		"http_max_body_bytes":   c.HTTP.MaxBodyBytes,
		"http_write_timeout":    c.HTTP.WriteTimeout.String(),
		"http_read_timeout":     c.HTTP.ReadTimeout.String(),
		"http_idle_timeout":     c.HTTP.IdleTimeout.String(),
		"http_read_hdr_timeout": c.HTTP.ReadHeaderTimeout.String(),
		"http_max_in_flight":    c.Overload.MaxInFlight,
		"http_client_rate":      c.Overload.ClientRate,
		"redis_addrs":           strings.Join(c.Redis.Addrs, ","),
		"redis_master_name":     c.Redis.MasterName,
		"redis_cluster":         c.Redis.Cluster,
		"config_file":           c.ConfigFile,
		"redis_timeout":         c.Redis.Timeout.String(),
		"cache_preset":          c.Cache.Preset,
		"cache_policy":          c.Cache.Policy,
		"cache_namespace":       c.Cache.Namespace,
		"cache_outbox_poll":     c.Cache.OutboxPoll.String(),
		"loki_url":              RedactURL(c.Telemetry.LokiURL),
		"log_file":              c.Telemetry.LogFile,
		"log_sample_every":      c.Logging.SampleEvery,
		"log_access_exclude":    strings.Join(c.Logging.AccessExclude, ","),
		"log_debug_max":         c.Logging.DebugMax.String(),
		"otel_endpoint":         RedactURL(c.Telemetry.OTLPEndpoint),
		"otel_sampler":          strings.TrimSpace(c.Telemetry.TracesSampler + " " + c.Telemetry.TracesSamplerArg),
		"pprof_addr":            c.Telemetry.PprofAddr,
		"pyroscope_url":         RedactURL(c.Telemetry.PyroscopeURL),
	}
}

// RedactURL hides the password of a connection URL; a string that does not parse is hidden whole.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "***"
	}
	return u.Redacted()
}

func redactURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = RedactURL(u)
	}
	return strings.Join(out, ",")
}

// reader reads variables and collects every error, so one run reports all bad values.
type reader struct {
	lookup Lookup
	errs   []error
}

func (r *reader) fail(key, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (r *reader) str(key, def string) string {
	if v, ok := r.lookup(key); ok {
		return strings.TrimSpace(v)
	}
	return def
}

func (r *reader) oneOf(key, def string, allowed ...string) string {
	v := strings.ToLower(r.str(key, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return def
}

func (r *reader) duration(key string, def, minimum time.Duration) time.Duration {
	v, ok := r.lookup(key)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, "%q is not a duration such as 200ms or 5s", v)
		return def
	}
	if d < minimum {
		r.fail(key, "%s is below the minimum %s", d, minimum)
		return def
	}
	return d
}

func (r *reader) integer(key string, def, minimum, maximum int) int {
	v, ok := r.lookup(key)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, "%q is not an integer", v)
		return def
	}
	if n < minimum || n > maximum {
		r.fail(key, "%d is outside %d..%d", n, minimum, maximum)
		return def
	}
	return n
}

func (r *reader) boolean(key string, def bool) bool {
	v, ok := r.lookup(key)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, "%q is not a boolean (true or false)", v)
		return def
	}
	return b
}

// httpURL reads an optional http(s) URL.
func (r *reader) httpURL(key string) string {
	v := strings.TrimRight(r.str(key, ""), "/")
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail(key, "must be an http:// or https:// URL, got %q", RedactURL(v))
		return ""
	}
	return v
}

// ratio reads an optional number in [0, 1], kept as text for the library that reads it.
func (r *reader) ratio(key string) string {
	v := r.str(key, "")
	if v == "" {
		return ""
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		r.fail(key, "%q must be a number from 0 to 1", v)
		return ""
	}
	return v
}

// jsonObject reads an optional JSON object; its fields are checked by whoever uses it.
func (r *reader) jsonObject(key string) string {
	v := r.str(key, "")
	if v == "" {
		return ""
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &obj); err != nil || obj == nil {
		r.fail(key, "must be a JSON object such as {\"ttl\":\"1m\"}")
		return ""
	}
	return v
}

var namespacePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// namespace reads a Redis key prefix.
func (r *reader) namespace(key, def string) string {
	v := r.str(key, def)
	if !namespacePattern.MatchString(v) {
		r.fail(key, "%q must be 1..32 letters, digits, '_', '.' or '-'", v)
		return def
	}
	return v
}

func (r *reader) databaseURL(key, def string) string {
	v := r.str(key, def)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		r.fail(key, "must be a postgres:// URL, got %q", RedactURL(v))
		return def
	}
	return v
}

// list splits a comma-separated variable, dropping blanks.
func (r *reader) list(key string) []string {
	var out []string
	for _, v := range strings.Split(r.str(key, ""), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// databaseURLs reads an optional comma-separated list of postgres:// URLs.
func (r *reader) databaseURLs(key string) []string {
	urls := r.list(key)
	for _, v := range urls {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			r.fail(key, "every entry must be a postgres:// URL, got %q", RedactURL(v))
			return nil
		}
	}
	return urls
}

// hostPorts reads an optional comma-separated list of host:port addresses.
func (r *reader) hostPorts(key string) []string {
	addrs := r.list(key)
	for _, a := range addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			r.fail(key, "every entry must be host:port, got %q", a)
			return nil
		}
	}
	return addrs
}
