package drills

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// TestDrillSIGTERM sends SIGTERM to the service under read load, with every read held 100 ms in
// the database layer (DB_SIMULATED_LATENCY, no cache) so that many are in flight at the signal.
// Every read sent before the signal succeeds (phase "before" ends 20 ms before it, so each of its
// reads has reached the server); the process exits 0 within SHUTDOWN_TIMEOUT; reads sent after
// the signal find no listener until a new process is up, and none gets a 5xx; the new process
// serves every read of phase "after".
func TestDrillSIGTERM(t *testing.T) {
	ctx := drillContext(t, 5*time.Minute)
	sh := loadShape()
	const (
		margin          = 20 * time.Millisecond
		shutdownTimeout = 10 * time.Second
	)
	st := newStack(ctx, t, stackOptions{products: 2000, env: []string{
		"CACHE_PRESET=none", "DB_SIMULATED_LATENCY=100ms", "DB_MAX_OPEN_CONNS=100",
		"SHUTDOWN_TIMEOUT=" + shutdownTimeout.String(),
	}})
	svc := st.svc()
	api := newAPIClient(svc.Base)
	restartGap := 4 * time.Second
	if useK6 {
		restartGap = 6 * time.Second
	}
	names := []string{"before", "term", "after"}
	sched := newSchedule(time.Second, names, sh.phase, restartGap, sh.phase)
	load := startReadLoad(ctx, t, st.logs, readLoadSpec{bases: []string{svc.Base}, rate: sh.rate, sched: sched, products: 2000})

	sleepUntil(ctx, sched.start("term").Add(margin-10*time.Millisecond))
	inFlight, _ := api.metricSum(ctx, "app_requests_in_flight", nil)
	sleepUntil(ctx, sched.start("term").Add(margin))
	old := svc.Proc
	signalled := time.Now()
	if err := old.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	var exitAfter time.Duration
	select {
	case <-old.Done():
		exitAfter = time.Since(signalled)
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatalf("the service did not exit within SHUTDOWN_TIMEOUT %s + 5 s", shutdownTimeout)
	}
	svc.start()
	readyAfter := time.Since(signalled)
	res := load.wait()

	before, term, after := res.get("read", "before"), res.get("read", "term"), res.get("read", "after")
	beforeFailed := before.sent() - before.counts[outOK]
	afterFailed := after.sent() - after.counts[outOK]
	fivexx := res.total("", outC5xx) + res.total("", outS503)
	addRow(t, reportRow{
		drill: "SIGTERM under load (reads held 100 ms), new process on the same port", load: sh.String(),
		sent: res.total("", ""),
		failed: fmt.Sprintf("sent before the signal: %d of %d (want 0); after it: %d found no listener until the new process was up, %d 5xx (want 0); after: %d (want 0)",
			beforeFailed, before.sent(), term.counts[outNetErr], fivexx, afterFailed),
		p99: [3]time.Duration{before.p99, term.p99, after.p99},
		figures: fmt.Sprintf("%.0f requests in flight 10 ms before the signal; exit status %v %s after it (SHUTDOWN_TIMEOUT %s); new process ready %s after it",
			inFlight, exitStatus(old), exitAfter.Round(time.Millisecond), shutdownTimeout, readyAfter.Round(time.Millisecond)),
	})
	if beforeFailed != 0 {
		t.Errorf("%d reads sent before SIGTERM failed, want 0: %v", beforeFailed, before.counts)
	}
	if old.Err() != nil {
		t.Errorf("the service exited with %v after SIGTERM, want status 0:\n%s", old.Err(), old.Tail(10))
	}
	if exitAfter > shutdownTimeout {
		t.Errorf("exit took %s, more than SHUTDOWN_TIMEOUT %s", exitAfter, shutdownTimeout)
	}
	if fivexx != 0 {
		t.Errorf("%d reads got a 5xx, want 0", fivexx)
	}
	if readyAfter > sched.start("after").Sub(signalled) {
		t.Errorf("the new process was ready %s after the signal, later than phase after began", readyAfter)
	}
	if afterFailed != 0 {
		t.Errorf("%d reads of the new process failed, want 0: %v", afterFailed, after.counts)
	}
	if inFlight < 1 {
		t.Errorf("nothing was in flight at the signal (%.0f): the drill did not bite", inFlight)
	}
}

// exitStatus prints how a process ended.
func exitStatus(p *lab.Proc) string {
	if p.Err() == nil {
		return "0"
	}
	return p.Err().Error()
}
