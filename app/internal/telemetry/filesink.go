package telemetry

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// streamSink writes each line to w (stdout): a failed write loses that line, counted as
// write_error and said on stderr.
type streamSink struct {
	w     io.Writer
	stats *sinkStats
}

func (s streamSink) write(l line) {
	n, err := s.w.Write(l.text)
	if err != nil {
		s.stats.drop(DropWriteError, 1, fmt.Errorf("write: %w", err))
		return
	}
	s.stats.wrote(n)
}

// batchBytes bounds the lines a stream sink writes at once.
const batchBytes = 64 << 10

// run drains the queue until it is closed, writing the lines already waiting together: one
// write (one system call) per batch instead of one per line when lines arrive faster than they
// are written. A failed write loses the whole batch, counted line by line.
func (s streamSink) run(q <-chan line) {
	buf := make([]byte, 0, batchBytes)
	for l := range q {
		buf = append(buf[:0], l.text...)
		lines := 1
	batch:
		for len(buf) < batchBytes {
			select {
			case next, ok := <-q:
				if !ok {
					break batch
				}
				buf = append(buf, next.text...)
				lines++
			default:
				break batch
			}
		}
		n, err := s.w.Write(buf)
		if err != nil {
			s.stats.drop(DropWriteError, lines, fmt.Errorf("write: %w", err))
			continue
		}
		s.stats.wrote(n)
	}
}

// drain writes every queued line until the queue is closed.
func drain(write func(line)) func(<-chan line) {
	return func(q <-chan line) {
		for l := range q {
			write(l)
		}
	}
}

// fileSink writes lines to a file rotated by lumberjack, and recovers from what happens to the
// file under it: deleted or moved (a new file is created at the path), truncated (writing goes
// on at the new end), a full disk (each later line is tried again; meanwhile lines are lost,
// counted as write_error). The file at the path is checked at most once per checkEvery, not on
// every line.
type fileSink struct {
	lj         *lumberjack.Logger
	stats      *sinkStats
	checkEvery time.Duration
	checked    time.Time   // when the path was last checked
	seen       os.FileInfo // the file at the path then (nil: none)
	partial    bool        // the last write stopped inside a line: end it before the next
}

func newFileSink(opts FileOptions, stats *sinkStats) *fileSink {
	every := opts.CheckEvery
	if every <= 0 {
		every = time.Second
	}
	// lumberjack opens a file it finds in append mode, one it creates not: created here, a
	// truncation under the sink moves writing to the new end instead of leaving a hole.
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o755); err == nil {
		if f, err := os.OpenFile(opts.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			_ = f.Close()
		}
	}
	return &fileSink{
		lj: &lumberjack.Logger{
			Filename: opts.Path, MaxSize: opts.MaxSizeMB, MaxAge: opts.MaxAgeDays,
			MaxBackups: opts.MaxBackups, Compress: opts.Compress,
		},
		stats: stats, checkEvery: every,
	}
}

func (f *fileSink) write(l line) {
	if l.ts.Sub(f.checked) >= f.checkEvery {
		f.check(l.ts)
	}
	text := l.text
	if f.partial {
		text = append([]byte{'\n'}, text...)
	}
	n, err := f.lj.Write(text)
	if err != nil {
		f.partial = f.partial && n == 0 || n > 0 && n < len(text)
		f.stats.drop(DropWriteError, 1, fmt.Errorf("write %s: %w", f.lj.Filename, err))
		return
	}
	f.partial = false
	f.stats.wrote(n)
}

// check reopens the file when the path no longer names the file last seen there (deleted,
// moved, rotated) or that file shrank (truncated): lumberjack then opens the path again, in
// append mode, creating it if needed. Reopening after lumberjack's own rotation is harmless.
func (f *fileSink) check(now time.Time) {
	f.checked = now
	st, err := os.Stat(f.lj.Filename)
	if err != nil {
		st = nil
	}
	if st == nil || f.seen == nil || !os.SameFile(st, f.seen) || st.Size() < f.seen.Size() {
		_ = f.lj.Close() // the next write opens the path again
	}
	f.seen = st
}

// close closes the file.
func (f *fileSink) close() { _ = f.lj.Close() }
