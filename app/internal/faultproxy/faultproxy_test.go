package faultproxy

import (
	"bufio"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// echoServer answers every line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// roundTrip sends one line and reads the answer, giving up after wait; a zero wait waits for as long
// as the test may run (an answer that must come is never judged by the clock).
func roundTrip(c net.Conn, wait time.Duration) (string, error) {
	if wait > 0 {
		_ = c.SetDeadline(time.Now().Add(wait))
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The modes, each applied to a connection opened before the switch and to one opened after.
// The black hole is proven by a read that ends with the client's own deadline (a timeout, not
// EOF or a reset); the wait is long enough for the echo to arrive on any machine (10 s) only in
// pass and delay modes, which must answer.
func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		want func(t *testing.T, answer string, err error)
	}{
		{Pass, answered},
		{Delay, answered},
		{BlackHole, func(t *testing.T, answer string, err error) {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("black hole: got %q, %v; want the client's own timeout", answer, err)
			}
		}},
		{Reset, func(t *testing.T, answer string, err error) {
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("reset: got %q, %v; want the connection reset or closed", answer, err)
			}
		}},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			p := startProxy(t)
			before := dial(t, p)
			if _, err := roundTrip(before, 0); err != nil {
				t.Fatalf("pass before the switch: %v", err)
			}
			p.Set(tc.mode, 10*time.Millisecond)
			var wait time.Duration
			if tc.mode == BlackHole {
				wait = 200 * time.Millisecond // the answer never comes: this is how long the test waits for nothing
			}
			answer, err := roundTrip(before, wait)
			tc.want(t, answer, err)
			// A new connection: in Reset mode the dial itself may already see the RST.
			after, err := net.Dial("tcp", p.Addr())
			if err == nil {
				t.Cleanup(func() { _ = after.Close() })
				answer, err = roundTrip(after, wait)
			}
			tc.want(t, answer, err)
		})
	}
}

func answered(t *testing.T, answer string, err error) {
	t.Helper()
	if err != nil || answer != "ping\n" {
		t.Errorf("got %q, %v; want the echo", answer, err)
	}
}

// A reset is an RST: the client sees ECONNRESET on a connection that was open.
func TestResetSendsRST(t *testing.T) {
	p := startProxy(t)
	c := dial(t, p)
	if _, err := roundTrip(c, 0); err != nil {
		t.Fatal(err)
	}
	p.Set(Reset, 0)
	buf := make([]byte, 1)
	_, err := c.Read(buf)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after Set(Reset): %v, want ECONNRESET", err)
	}
	if got := p.Accepted(); got != 1 {
		t.Errorf("Accepted() = %d, want 1", got)
	}
}
