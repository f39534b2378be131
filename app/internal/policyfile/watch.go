package policyfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/cache"
)

// Target is the cache whose policy the file sets; *cache.Store is one.
type Target interface {
	// Policy returns the policy in force.
	Policy() cache.Policy
	// SetPolicy applies a patch of policy switches (and shares it with the other instances).
	SetPolicy(ctx context.Context, patch []byte) (cache.Policy, error)
}

var _ Target = (*cache.Store)(nil)

// dataLink is the symlink a Kubernetes ConfigMap volume swaps on every update: the file names in
// the mounted directory are links through it, so an update changes no event of their own.
const dataLink = "..data"

// Options configure Watch.
type Options struct {
	// Path is the file (CONFIG_FILE). Its directory is watched, so a ConfigMap update (a swapped
	// ..data symlink), a rewrite in place and an editor's write-and-rename are all seen.
	Path string
	// Base is the start-up policy the file applies on top of.
	Base cache.Policy
	// Target receives the file's policy.
	Target Target
	// Log receives "config reloaded" and "config reload refused".
	Log logrus.FieldLogger
	// Metrics are the collectors to update; NewMetrics makes them.
	Metrics *Metrics
	// Settle is how long the directory must stay quiet after an event before the file is read: one
	// update is several events. Default 100ms.
	Settle time.Duration
}

// watcher is one watched file.
type watcher struct {
	opts Options
	path string
	name string
	log  logrus.FieldLogger
	// last is the policy last taken from the file; nil before the first.
	last *cache.Policy
}

// Watch applies the file to the target once, then again on every change until ctx ends or stop
// is called; stop also waits for the watch to end. A file that cannot be read or is invalid at
// this first application is an error naming CONFIG_FILE: start-up should stop. Later, such a file
// is refused with a warning and the policy in force stays.
func Watch(ctx context.Context, opts Options) (stop func(), err error) {
	if opts.Path == "" || opts.Target == nil || opts.Metrics == nil {
		return nil, errors.New("policyfile: Path, Target and Metrics are required")
	}
	if opts.Settle <= 0 {
		opts.Settle = 100 * time.Millisecond
	}
	if opts.Log == nil {
		l := logrus.New()
		l.Out = io.Discard
		opts.Log = l
	}
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("CONFIG_FILE %s: %w", opts.Path, err)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("CONFIG_FILE %s: watch: %w", opts.Path, err)
	}
	// Watching starts before the first read, so a change between the two is not missed.
	if err := fsw.Add(filepath.Dir(abs)); err != nil {
		_ = fsw.Close()
		return nil, fmt.Errorf("CONFIG_FILE %s: watch its directory: %w", opts.Path, err)
	}
	w := &watcher{opts: opts, path: abs, name: filepath.Base(abs),
		log: opts.Log.WithField("config_file", opts.Path)}
	if err := w.reload(ctx, "start"); err != nil {
		_ = fsw.Close()
		return nil, fmt.Errorf("CONFIG_FILE %s: %w", opts.Path, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = fsw.Close() }()
		w.run(ctx, fsw)
	}()
	return func() { cancel(); <-done }, nil
}

// run reloads the file once its directory has been quiet for Settle after a relevant event.
func (w *watcher) run(ctx context.Context, fsw *fsnotify.Watcher) {
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-fsw.Events:
			if !ok {
				return
			}
			if w.relevant(ev) {
				settle.Reset(w.opts.Settle)
			}
		case err, ok := <-fsw.Errors:
			if !ok {
				return
			}
			w.opts.Metrics.observe(resultError, time.Now())
			w.log.WithError(err).Warn("config watch failed")
		case <-settle.C:
			if err := w.reload(ctx, "change"); err != nil {
				w.log.WithError(err).WithField("policy_preset", w.opts.Target.Policy().Preset).Warn("config reload refused")
			}
		}
	}
}

// relevant reports whether ev may have changed the file: an event on its name, or a swap of the
// ConfigMap's ..data link. Attribute changes alone are not.
func (w *watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	base := filepath.Base(ev.Name)
	return base == w.name || base == dataLink
}

// reload reads the file and applies its policy unless it equals the one last applied from it. It
// counts every outcome; it logs success, and returns a refusal for the caller to report.
func (w *watcher) reload(ctx context.Context, trigger string) error {
	result, p, err := w.apply(ctx)
	w.opts.Metrics.observe(result, time.Now())
	if err != nil {
		return err
	}
	log := w.log.WithFields(logrus.Fields{"trigger": trigger, "result": result, "preset": p.Preset})
	if result == resultUnchanged {
		log.Debug("config unchanged")
		return nil
	}
	log.WithFields(logrus.Fields{"layers": p.Layers, "ttl": p.TTL.String(), "breakdown": p.Breakdown}).Info("config reloaded")
	return nil
}

// apply does the work of reload and names its result.
func (w *watcher) apply(ctx context.Context) (string, cache.Policy, error) {
	data, err := readFile(w.path)
	if err != nil {
		return resultError, cache.Policy{}, err
	}
	p, err := Resolve(w.opts.Base, data)
	if err != nil {
		return resultInvalid, cache.Policy{}, err
	}
	if (w.last != nil && *w.last == p) || (w.last == nil && w.opts.Target.Policy() == p) {
		w.last = &p
		return resultUnchanged, p, nil
	}
	patch, err := fullPatch(p)
	if err != nil {
		return resultError, cache.Policy{}, err
	}
	applied, err := w.opts.Target.SetPolicy(ctx, patch)
	if err != nil {
		return resultError, cache.Policy{}, fmt.Errorf("apply: %w", err)
	}
	w.last = &applied
	return resultApplied, applied, nil
}

// readFile reads at most MaxBytes+1 bytes, so Parse can refuse a larger file without reading it all.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return data, nil
}
