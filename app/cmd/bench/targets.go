package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// readyTimeout bounds a target's start; the ceilings read every product first.
const readyTimeout = 3 * time.Minute

// longTTLs keeps every entry of a warmed service cached through the whole run (the presets'
// L1 lives 30 s, inventory 5 s): a read is then a hit in every round, as in the ceilings.
const longTTLs = `{"ttl":"2h","local_ttl":"2h","inventory_ttl":"2h"}`

// target is one server measured.
type target struct {
	name   string   // in the table
	bin    string   // the program
	args   []string // its arguments
	env    []string // its environment beyond PATH and HOME
	ready  string   // path that answers 2xx once it serves
	addrIn string   // "env": the address goes in HTTP_ADDR; "flag": in -addr
	warm   bool     // needs a read of every id before it is measured
	expect string   // the X-Cache every read should answer once warm ("" when it sends none)
	prefix string   // Redis key prefix it writes, deleted at the end; "" when none
	before bool     // runs the -service-before binary

	proc *lab.Proc
	url  string
}

// serviceTarget is product-service with preset and extra environment (KEY=VALUE), LOG_LEVEL=info
// unless extra sets it; ns is its cache namespace.
func (b *bench) serviceTarget(name, preset, ns string, extra ...string) target {
	env := []string{"DATABASE_URL=" + b.dbURL, "REDIS_ADDR=" + b.o.redisAddr, "CACHE_PRESET=" + preset,
		"CACHE_NAMESPACE=" + ns, "APP_ENV=development", "LOG_LEVEL=info"}
	if preset != "none" {
		env = append(env, "CACHE_POLICY="+longTTLs)
	}
	if b.o.redisTimeout > 0 {
		env = append(env, "REDIS_TIMEOUT="+b.o.redisTimeout.String())
	}
	expect := map[string]string{"protected": "HIT-REDIS", "two-level": "HIT-L1"}[preset]
	return target{name: name, bin: b.service, args: []string{"serve"}, env: append(env, extra...),
		ready: "/ready", addrIn: "env", warm: preset != "none", expect: expect, prefix: ns}
}

// baselineTarget is bench-baseline in mode with extra flags.
func (b *bench) baselineTarget(name, mode string, warm bool, extra ...string) target {
	args := append([]string{"-mode", mode, "-database-url", b.dbURL, "-redis-addr", b.o.redisAddr,
		"-products", strconv.FormatInt(b.o.products, 10)}, extra...)
	if b.o.redisTimeout > 0 {
		args = append(args, "-redis-timeout", b.o.redisTimeout.String())
	}
	t := target{name: name, bin: b.baseline, args: args, ready: "/api/v1/products/1", addrIn: "flag", warm: warm}
	if i := slices.Index(extra, "-redis-prefix"); i >= 0 {
		t.prefix = extra[i+1]
	}
	return t
}

// withBefore appends, after targets, a copy of each service target that runs the
// -service-before binary, named "<name> (before)", in a namespace of its own.
func (b *bench) withBefore(targets []target, ns func() string) []target {
	if b.before == "" {
		return targets
	}
	out := slices.Clone(targets)
	for _, t := range targets {
		if t.bin != b.service {
			continue
		}
		old := t
		old.name, old.bin, old.before = t.name+" (before)", b.before, true
		old.env = append([]string(nil), t.env...)
		old.prefix = ns()
		for i, kv := range old.env {
			if strings.HasPrefix(kv, "CACHE_NAMESPACE=") {
				old.env[i] = "CACHE_NAMESPACE=" + old.prefix
			}
		}
		out = append(out, old)
	}
	return out
}

// start runs t on a free port and waits until it serves.
func (b *bench) start(ctx context.Context, t *target, suite string) error {
	port, err := lab.FreePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env, args := lab.CleanEnv(t.env...), t.args
	if t.addrIn == "env" {
		env = append(env, "HTTP_ADDR="+addr)
	} else {
		args = append([]string{"-addr", addr}, args...)
	}
	log := filepath.Join(b.o.results, "bench-"+suite+"-"+slug(t.name)+".log")
	p, err := lab.Start(lab.Spec{Name: t.name, Bin: t.bin, Args: args, Env: env, Log: log, StopTimeout: 15 * time.Second})
	if err != nil {
		return err
	}
	t.proc, t.url = p, "http://"+addr
	if err := lab.WaitHTTP(ctx, p, t.url+t.ready, readyTimeout); err != nil {
		_ = p.Stop()
		return fmt.Errorf("target %s did not start: %w", t.name, err)
	}
	return nil
}

// slug turns a target's name into a file name part.
func slug(name string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		case sb.Len() > 0 && !strings.HasSuffix(sb.String(), "-"):
			sb.WriteByte('-')
		}
	}
	return strings.TrimSuffix(sb.String(), "-")
}
