// Package faultproxy is a TCP proxy on 127.0.0.1 for tests and drills that puts faults between
// "up" and "down" between a client and a server: it passes bytes through, delays them, black-holes
// them (connections are accepted and read, but nothing reaches either side, as behind a silent
// network or a frozen server) or resets connections (RST). The mode is switched at run time and
// applies at once to the connections already open.
package faultproxy

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what the proxy does with the bytes and connections it carries.
type Mode int

// The modes.
const (
	// Pass forwards bytes both ways.
	Pass Mode = iota
	// Delay forwards bytes both ways, each chunk after the proxy's delay.
	Delay
	// BlackHole accepts connections and reads what both sides send, but forwards nothing and
	// never closes: a client waits until its own timeout.
	BlackHole
	// Reset closes every open connection and each new one at once with a TCP RST.
	Reset
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Delay:
		return "delay"
	case BlackHole:
		return "black_hole"
	case Reset:
		return "reset"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Proxy forwards connections from its listener on 127.0.0.1 to one target address.
type Proxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int64
	delay  atomic.Int64 // nanoseconds, for Delay

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
	// accepted counts the connections accepted since the start.
	accepted atomic.Int64
}

// Start listens on a free port of 127.0.0.1 and forwards each connection to target, in mode Pass.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted is how many client connections the proxy has accepted.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Mode returns the mode in force.
func (p *Proxy) Mode() Mode { return Mode(p.mode.Load()) }

// Set switches the mode; d is the delay of mode Delay (ignored otherwise). Reset closes every
// open connection at once.
func (p *Proxy) Set(m Mode, d time.Duration) {
	p.delay.Store(int64(d))
	p.mode.Store(int64(m))
	if m == Reset {
		p.mu.Lock()
		for c := range p.conns {
			reset(c)
		}
		p.mu.Unlock()
	}
}

// Close stops listening, closes every connection and waits for the proxy's goroutines.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.accepted.Add(1)
		if p.Mode() == Reset {
			reset(client)
			continue
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

// track adds c to the open connections; false when the proxy is closing.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// serve carries one client connection. In BlackHole mode at accept time the server is not even
// dialled: the client connects, and nothing ever answers.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		_ = client.Close()
		return
	}
	defer p.untrack(client)
	var server net.Conn
	if p.Mode() != BlackHole {
		var err error
		if server, err = net.DialTimeout("tcp", p.target, 5*time.Second); err != nil {
			return
		}
		if !p.track(server) {
			_ = server.Close()
			return
		}
		defer p.untrack(server)
	}
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client); done <- struct{}{} }()
	if server != nil {
		go func() { p.pipe(client, server); done <- struct{}{} }()
	}
	<-done // one side ended: close both (the deferred untracks)
}

// pipe copies src to dst as the mode says, chunk by chunk, until src ends. A nil dst (a
// connection accepted in BlackHole mode) swallows everything, whatever the mode later becomes:
// such a connection stays silent until the client gives it up.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			switch p.Mode() {
			case BlackHole:
				// swallowed: nobody sees these bytes, and the sender waits for an answer
			case Reset:
				reset(src)
				if dst != nil {
					reset(dst)
				}
				return
			case Delay:
				time.Sleep(time.Duration(p.delay.Load()))
				fallthrough
			default:
				if dst == nil {
					continue
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return // EOF, a reset, or the proxy closing
		}
	}
}

// reset closes c with an RST instead of a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
