package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// machine is what the report's header records about where and what ran.
type machine struct {
	Commit, GoVersion, K6Version, PostgresVersion, RedisVersion string
	NginxVersion                                                string // with -edge
	Cores                                                       int
	CPU, Kernel, Memory, LoadAtStart                            string
}

// describe gathers the header's facts; a fact that cannot be read is "unknown".
func describe(ctx context.Context, root, k6 string, rdb *redis.Client) machine {
	m := machine{GoVersion: runtime.Version(), Cores: runtime.NumCPU()}
	m.Commit = commit(ctx, root)
	m.K6Version = strings.TrimPrefix(firstLine(output(ctx, k6, "version")), "k6 ")
	if rdb != nil {
		info, err := rdb.Info(ctx, "server").Result()
		if err == nil {
			m.RedisVersion = field(info, "redis_version:")
		}
	}
	m.CPU = fileField("/proc/cpuinfo", "model name")
	m.Kernel = strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))
	var kb float64
	if _, err := fmt.Sscanf(fileField("/proc/meminfo", "MemTotal"), "%f kB", &kb); err == nil {
		m.Memory = fmt.Sprintf("%.0f GiB", kb/(1<<20))
	}
	if load := strings.Fields(readFile("/proc/loadavg")); len(load) >= 3 {
		m.LoadAtStart = strings.Join(load[:3], " ")
	}
	for _, p := range []*string{&m.Commit, &m.K6Version, &m.RedisVersion, &m.CPU, &m.Kernel, &m.Memory, &m.LoadAtStart} {
		if *p == "" {
			*p = "unknown"
		}
	}
	return m
}

// commit is HEAD's short hash, "+dirty" when the work tree has changes.
func commit(ctx context.Context, root string) string {
	c := firstLine(output(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD"))
	if c == "" {
		return ""
	}
	if strings.TrimSpace(output(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no")) != "" {
		c += "+dirty"
	}
	return c
}

// output runs a short command and returns its standard output, or "" when it fails.
func output(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// field returns the rest of the first line of text that starts with prefix.
func field(text, prefix string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// fileField returns the value of a "name : value" line of a /proc file.
func fileField(path, name string) string {
	sc := bufio.NewScanner(strings.NewReader(readFile(path)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}
