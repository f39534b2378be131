package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// telemetrySide is what the telemetry suite's targets ship to: a real Loki, a real Jaeger (OTLP
// over HTTP) and a profile sink.
type telemetrySide struct {
	lokiURL, otlpURL, sinkURL string
	stop                      func()
}

// startTelemetry starts Loki and Jaeger from the tools directory on free ports (data and logs
// under dir) and the profile sink in this process.
func (b *bench) startTelemetry(ctx context.Context, dir string, stdout io.Writer) (*telemetrySide, error) {
	if err := os.MkdirAll(filepath.Join(dir, "loki"), 0o755); err != nil {
		return nil, fmt.Errorf("loki data: %w", err)
	}
	ports, err := freePorts(7)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	var procs []*lab.Proc
	stopAll := func() {
		for _, p := range procs {
			_ = p.Stop()
		}
	}
	loki, err := lab.Start(lab.Spec{Name: "loki", Bin: b.o.loki, Dir: b.root,
		Args: []string{"-config.file=loki/loki.yaml", "-config.expand-env=true"},
		Env: lab.CleanEnv("LOKI_DATA="+filepath.Join(dir, "loki"), "LOKI_HTTP_ADDR=127.0.0.1",
			"LOKI_HTTP_PORT="+strconv.Itoa(ports[0]), "LOKI_GRPC_PORT="+strconv.Itoa(ports[1])),
		Log: filepath.Join(dir, "loki.log")})
	if err != nil {
		return nil, err
	}
	procs = append(procs, loki)
	side := &telemetrySide{lokiURL: "http://" + addr(0), otlpURL: "http://" + addr(2)}
	jaeger, err := lab.Start(lab.Spec{Name: "jaeger", Bin: b.o.jaeger, Dir: b.root,
		Args: []string{"--config", "observability/jaeger.yaml"},
		Env: lab.CleanEnv("JAEGER_OTLP_HTTP_ADDR="+addr(2), "JAEGER_HEALTH_ADDR="+addr(3), "JAEGER_QUERY_ADDR="+addr(4),
			"JAEGER_QUERY_GRPC_ADDR="+addr(5), "JAEGER_OTLP_GRPC_ADDR="+addr(6)),
		Log: filepath.Join(dir, "jaeger.log")})
	if err != nil {
		stopAll()
		return nil, err
	}
	procs = append(procs, jaeger)
	if err := lab.WaitHTTP(ctx, loki, side.lokiURL+"/ready", 2*time.Minute); err != nil {
		stopAll()
		return nil, err
	}
	if err := lab.WaitHTTP(ctx, jaeger, "http://"+addr(4)+"/api/services", time.Minute); err != nil {
		stopAll()
		return nil, err
	}
	sink, err := startSink()
	if err != nil {
		stopAll()
		return nil, err
	}
	side.sinkURL = sink.url
	side.stop = func() {
		stopAll()
		fmt.Fprintf(stdout, "bench: the profile sink received %d uploads, %d bytes\n", sink.uploads.Load(), sink.bytes.Load())
		_ = sink.srv.Close()
	}
	return side, nil
}

// freePorts returns n distinct free ports.
func freePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var ports []int
	for len(ports) < n {
		p, err := lab.FreePort()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// sink stands in for Pyroscope: it accepts POST /ingest and counts what it receives.
type sink struct {
	url            string
	srv            *http.Server
	uploads, bytes atomic.Int64
}

// startSink serves a sink on a free port of 127.0.0.1.
func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("profile sink: %w", err)
	}
	s := &sink{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ingest", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.uploads.Add(1)
		s.bytes.Add(n)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "bench: profile sink:", err)
		}
	}()
	return s, nil
}
