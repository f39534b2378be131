package drills

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// reportRow is one drill's line of the report.
type reportRow struct {
	drill   string
	load    string // e.g. "k6 500/s"
	sent    int
	failed  string // failures as the drill defines them, with what was expected
	p99     [3]time.Duration
	writes  string // acknowledged vs found in the database, when the drill writes
	figures string // what else the drill measured
	passed  bool
}

// report collects the rows of the drills that ran.
var report struct {
	sync.Mutex
	rows []reportRow
}

// addRow records a drill's figures; it is also logged, so `go test -v` shows them.
func addRow(t *testing.T, row reportRow) {
	t.Helper()
	t.Cleanup(func() {
		row.passed = !t.Failed()
		report.Lock()
		report.rows = append(report.rows, row)
		report.Unlock()
	})
	t.Logf("%s: %s, sent %d, failed %s, p99 %s/%s/%s, writes %s; %s", row.drill, row.load, row.sent, row.failed,
		ms(row.p99[0]), ms(row.p99[1]), ms(row.p99[2]), row.writes, row.figures)
}

// ms prints a latency in milliseconds.
func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// writeReport writes the rows as Markdown to DRILLS_REPORT, when set.
func writeReport() error {
	path := os.Getenv("DRILLS_REPORT")
	if path == "" || len(report.rows) == 0 {
		return nil
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(repoRoot, path)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Drills\n\n%s, %s/%s, %d cores, Go %s.\n\n", time.Now().UTC().Format(time.RFC3339),
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	b.WriteString("| drill | load | requests sent | failed | p99 before | p99 during | p99 after | writes acknowledged / found | measured | result |\n")
	b.WriteString("|---|---|---:|---|---:|---:|---:|---|---|---|\n")
	for _, r := range report.rows {
		result := "pass"
		if !r.passed {
			result = "**FAIL**"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", r.drill, r.load, r.sent, r.failed,
			ms(r.p99[0]), ms(r.p99[1]), ms(r.p99[2]), orDash(r.writes), r.figures, result)
	}
	b.WriteString("\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := writeReport(); err != nil {
		fmt.Fprintln(os.Stderr, "drills report:", err)
		if code == 0 {
			code = 1
		}
	}
	lab.RemoveServiceBinary()
	os.Exit(code)
}
