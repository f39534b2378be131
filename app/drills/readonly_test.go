package drills

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// TestServiceReadOnlyNonRoot runs the service as the container does (docker-compose.yml:
// read_only, tmpfs /tmp; Dockerfile: USER 10001): in a mount namespace of its own whose root
// filesystem is read-only, with an empty tmpfs on /tmp, as uid/gid 10001 with no supplementary
// groups. It must start, serve reads and writes, and drain on SIGTERM, exiting 0, without a
// single log line at error level.
//
// It needs root (to make the namespace), unshare and setpriv (util-linux); without them it skips,
// except under CI.
func TestServiceReadOnlyNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.Missing(t, "making a read-only mount namespace needs root")
	}
	for _, tool := range []string{"unshare", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			lab.Missing(t, "%s (util-linux) is not on the PATH", tool)
		}
	}
	ctx := drillContext(t, 3*time.Minute)
	st := newStack(ctx, t, stackOptions{products: 100})
	bin := lab.MustServiceBinary(t)
	// uid 10001 must be able to execute the binary: open it before /tmp is covered, run it by fd.
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	addr := lab.MustFreeAddr(t)
	script := `set -e
mount --bind / /
mount -o remount,bind,ro /
exec 3<"$1"
mount -t tmpfs -o size=16m,mode=1777 tmpfs /tmp
if touch /etc/drill-probe 2>/dev/null; then echo "root filesystem is writable" >&2; exit 3; fi
exec setpriv --reuid 10001 --regid 10001 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs /proc/self/fd/3 serve`
	env := lab.CleanEnv("DATABASE_URL="+st.dbURL, "REDIS_ADDR="+st.redis.addr, "ADMIN_TOKEN="+adminToken,
		"HTTP_ADDR="+addr, "APP_ENV=test", "LOG_LEVEL=info", "CACHE_PRESET=two-level", "CACHE_NAMESPACE=drill-ro")
	p := lab.MustStart(ctx, t, lab.Spec{Name: "service-ro", Log: filepath.Join(st.logs, "service-ro.log"), Env: env,
		Bin: "unshare", Args: []string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", bin}, Dir: "/",
		StopTimeout: stopTimeout})
	base := "http://" + addr
	lab.MustWaitHTTP(t, p, base+"/ready", 60*time.Second)

	api := newAPIClient(base)
	first, _, err := api.get(ctx, 1)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	updated, _, err := api.put(ctx, 1, replaceWith(first, "read-only root", 7), first.Version)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if again, _, err := api.get(ctx, 1); err != nil || again.Version != updated.Version {
		t.Fatalf("read after write: version %d (%v), want %d", again.Version, err, updated.Version)
	}
	if s := status(ctx, http.DefaultClient, base+"/health"); s != http.StatusOK {
		t.Fatalf("/health: %d", s)
	}
	uid := processUID(t, addr)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of SIGTERM")
	}
	if p.Err() != nil {
		t.Fatalf("exit: %v\n%s", p.Err(), p.Tail(20))
	}
	raw, err := os.ReadFile(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.Contains(line, `"level":"error"`) || strings.Contains(line, "read-only file system") {
			t.Errorf("log line: %s", line)
		}
	}
	if uid != "10001" {
		t.Errorf("the service ran as uid %s, want 10001", uid)
	}
}

// processUID finds the uid of the process listening on addr, from /proc (the service runs inside
// unshare and setpriv, so it is not the process the test started).
func processUID(t *testing.T, addr string) string {
	t.Helper()
	out, err := exec.CommandContext(context.Background(), "ss", "-Hltnp", "sport = :"+addr[strings.LastIndex(addr, ":")+1:]).Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	i := strings.Index(string(out), "pid=")
	if i < 0 {
		t.Fatalf("no process listens on %s: %s", addr, out)
	}
	var pid int
	if _, err := fmt.Sscanf(string(out[i:]), "pid=%d", &pid); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			return strings.Fields(rest)[0]
		}
	}
	t.Fatal("no Uid in /proc status")
	return ""
}
