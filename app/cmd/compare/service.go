package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Time bounds of starting the service.
const (
	buildTimeout = 5 * time.Minute
	readyTimeout = 60 * time.Second
)

// build compiles product-service into dir.
func build(ctx context.Context, root, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	bin := filepath.Join(dir, "product-service")
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	cmd := command(ctx, goEnv(), goTool, "build", "-trimpath", "-o", bin, "./app/cmd/product-service")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./app/cmd/product-service: %w\n%s", err, out)
	}
	return bin, nil
}

// goEnv is what the go tool needs of the caller's environment besides PATH and HOME.
func goEnv() []string {
	env := []string{"CGO_ENABLED=0"}
	for _, k := range []string{"GOPATH", "GOMODCACHE", "GOCACHE", "GOFLAGS", "GOPROXY", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// freePort returns a 127.0.0.1 port nobody listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomToken returns 16 random bytes in hex.
func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serviceSettings is how the comparison starts product-service.
type serviceSettings struct {
	bin, databaseURL, redisAddr, namespace, adminToken, logPath string
	dbLatency                                                   time.Duration
	cacheMaxAge                                                 time.Duration // HTTP_CACHE_MAX_AGE; 0: the service's default
	redisTimeout                                                time.Duration // REDIS_TIMEOUT; 0: the service's default
}

// startService starts product-service on a free port and waits until /ready answers 200.
func startService(ctx context.Context, s serviceSettings) (*server, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", fmt.Errorf("find a free port: %w", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	env := []string{
		"DATABASE_URL=" + s.databaseURL, "HTTP_ADDR=" + addr, "LOG_LEVEL=warn", "APP_ENV=development",
		"DB_SIMULATED_LATENCY=" + s.dbLatency.String(), "REDIS_ADDR=" + s.redisAddr, "CACHE_PRESET=none",
		"CACHE_NAMESPACE=" + s.namespace, "ADMIN_TOKEN=" + s.adminToken,
		// POST /api/v1/admin/cache/warmup answers when the warm-up is done, which for a whole
		// catalogue outlasts the default 15 s write timeout (the answer is then cut off: EOF).
		"HTTP_WRITE_TIMEOUT=" + (warmupPatience + time.Minute).String(),
	}
	if s.cacheMaxAge > 0 {
		env = append(env, "HTTP_CACHE_MAX_AGE="+s.cacheMaxAge.String())
	}
	if s.redisTimeout > 0 {
		env = append(env, "REDIS_TIMEOUT="+s.redisTimeout.String())
	}
	// The service outlives single steps; the caller stops it (and ctx's end does too).
	srv, err := start(command(ctx, env, s.bin, "serve"), s.logPath)
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	if err := waitUp(ctx, srv, base+"/ready", "product-service"); err != nil {
		srv.stop()
		return nil, "", err
	}
	return srv, base, nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
