//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/product-service-lab/product-service/app/internal/nginxconf"
)

// fluentBitFile is the compose log agent of the edge (the edge-logs service).
const fluentBitFile = "observability/fluent-bit-edge.yaml"

// fluentBitLabels reads the Loki labels of fluentBitFile's one output, and checks that what the
// native shipper does is what the file tells Fluent Bit to do: tail the edge's access log and
// send each line unchanged (drop_single_key raw, line_format json) with those labels and no
// others.
func fluentBitLabels(t *testing.T) map[string]string {
	t.Helper()
	var cfg struct {
		Pipeline struct {
			Inputs  []map[string]any `yaml:"inputs"`
			Outputs []map[string]any `yaml:"outputs"`
		} `yaml:"pipeline"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, fluentBitFile)), &cfg); err != nil {
		t.Fatalf("%s: %v", fluentBitFile, err)
	}
	if len(cfg.Pipeline.Inputs) != 1 || len(cfg.Pipeline.Outputs) != 1 {
		t.Fatalf("%s: %d inputs, %d outputs; the native shipper stands in for one tail → loki pipeline",
			fluentBitFile, len(cfg.Pipeline.Inputs), len(cfg.Pipeline.Outputs))
	}
	in, out := cfg.Pipeline.Inputs[0], cfg.Pipeline.Outputs[0]
	str := func(m map[string]any, k string) string { return fmt.Sprint(m[k]) }
	for _, c := range []struct{ what, got, want string }{
		{"input name", str(in, "name"), "tail"},
		{"input path's file", filepath.Base(str(in, "path")), filepath.Base(nginxconf.EdgeAccessLog)},
		{"output name", str(out, "name"), "loki"},
		{"output match", str(out, "match"), str(in, "tag")},
		{"output drop_single_key", str(out, "drop_single_key"), "raw"},
		{"output line_format", str(out, "line_format"), "json"},
	} {
		if c.got != c.want {
			t.Fatalf("%s: %s %q, want %q: the native shipper would no longer do what Fluent Bit does", fluentBitFile, c.what, c.got, c.want)
		}
	}
	for _, k := range []string{"label_keys", "label_map_path", "structured_metadata", "auto_kubernetes_labels", "remove_keys"} {
		if _, ok := out[k]; ok {
			t.Fatalf("%s: output sets %s, which the native shipper does not do", fluentBitFile, k)
		}
	}
	labels := map[string]string{}
	for _, kv := range strings.Split(str(out, "labels"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" || v == "" || strings.HasPrefix(v, "$") {
			t.Fatalf("%s: label %q: want name=value (a record accessor is not shipped natively)", fluentBitFile, kv)
		}
		labels[k] = v
	}
	return labels
}

// edgeShipper stands in for Fluent Bit natively: it tails the edge's JSON access log every second
// (Fluent Bit's refresh_interval and flush) and pushes each complete line, unchanged, to Loki's
// push API with the labels of fluentBitFile, stamped with the time it read the line, as Fluent
// Bit's tail input does. In compose the shipper is Fluent Bit (edge-logs); Fluent Bit has no Debian
// package and is no Go module, so a native run cannot have it. It is not telemetry.LokiShipper,
// which adds a level label (from the service's lines) that Fluent Bit does not.
type edgeShipper struct {
	path, push string
	labels     map[string]string
	client     *http.Client
	stopped    chan struct{}
	done       chan struct{}

	mu      sync.Mutex // guards what follows, and one pump at a time
	offset  int64
	partial []byte   // the start of a line nginx has not finished writing
	pending []string // lines read and not yet accepted by Loki
	shipped int
	err     error // the last push error
}

// startEdgeShipper ships path (which nginx may create later) to loki until the test's cleanup.
func startEdgeShipper(t *testing.T, loki, path string) *edgeShipper {
	t.Helper()
	s := &edgeShipper{path: path, push: loki + "/loki/api/v1/push", labels: fluentBitLabels(t),
		client: &http.Client{Timeout: 10 * time.Second}, stopped: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.stopped:
				return
			case <-tick.C:
				s.pump()
			}
		}
	}()
	t.Cleanup(func() {
		close(s.stopped)
		<-s.done
	})
	return s
}

// pump reads the lines appended since the last pump and pushes what is pending.
func (s *edgeShipper) pump() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.read(); err != nil {
		s.err = err
		return
	}
	for len(s.pending) > 0 {
		n := min(len(s.pending), 1000)
		if err := s.send(s.pending[:n]); err != nil {
			s.err = err // kept pending: the next pump retries
			return
		}
		s.pending = s.pending[n:]
		s.shipped += n
	}
	s.err = nil
}

// read appends the complete lines written since offset to pending.
func (s *edgeShipper) read() error {
	f, err := os.Open(s.path)
	if os.IsNotExist(err) {
		return nil // nginx opens it at start; nothing to ship before
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(s.offset, io.SeekStart); err != nil {
		return err
	}
	raw, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	s.offset += int64(len(raw))
	raw = append(s.partial, raw...)
	last := bytes.LastIndexByte(raw, '\n')
	if last < 0 {
		s.partial = raw
		return nil
	}
	for _, l := range strings.Split(string(raw[:last]), "\n") {
		if l != "" {
			s.pending = append(s.pending, l)
		}
	}
	s.partial = append([]byte(nil), raw[last+1:]...)
	return nil
}

// send pushes lines as one stream, each stamped now (a nanosecond apart, so Loki keeps their
// order and drops none as a duplicate).
func (s *edgeShipper) send(lines []string) error {
	now := time.Now().UnixNano()
	values := make([][2]string, len(lines))
	for i, l := range lines {
		values[i] = [2]string{strconv.FormatInt(now+int64(i), 10), l}
	}
	body, err := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": s.labels, "values": values}}})
	if err != nil {
		return err
	}
	resp, err := s.client.Post(s.push, "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("push edge lines: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("push edge lines: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// flush waits for nginx to write out its access log buffer (flush=1s in nginx-edge.conf), ships
// every complete line and returns how many lines it shipped in all and what the file holds.
func (s *edgeShipper) flush(t *testing.T) (shipped int, file []string) {
	t.Helper()
	time.Sleep(2 * time.Second)
	s.pump()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || len(s.pending) > 0 {
		t.Fatalf("edge shipper: %d lines not shipped: %v", len(s.pending), s.err)
	}
	raw, err := os.ReadFile(s.path)
	if err != nil {
		t.Fatal(err)
	}
	return s.shipped, strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
}

// checkEdgeLogs proves the edge's lines reached Loki as the Cache lab dashboard reads them: every
// line of the access log once, unchanged, in streams labelled as fluentBitFile says, with both
// cache hits and misses. It logs the edge's answers by cache status and its hit ratio.
func checkEdgeLogs(t *testing.T, loki string, labels map[string]string, shipped int, file []string, runStart, end time.Time) {
	t.Helper()
	if shipped != len(file) || shipped == 0 {
		t.Fatalf("edge shipper: %d lines shipped, the access log has %d", shipped, len(file))
	}
	var matchers []string
	for k, v := range labels {
		matchers = append(matchers, k+"="+strconv.Quote(v))
	}
	sort.Strings(matchers)
	selector := "{" + strings.Join(matchers, ", ") + "}"
	window := strconv.Itoa(int(math.Ceil(end.Sub(runStart).Seconds()))+60) + "s"

	if got := lokiVector(t, loki, "sum(count_over_time("+selector+" ["+window+"]))", "", end)[""]; int(got) != shipped {
		t.Errorf("Loki holds %.0f edge lines, the shipper sent %d", got, shipped)
	}
	byStatus := lokiVector(t, loki, `sum by (cache_status) (count_over_time(`+selector+` | json | cache_status != "" [`+window+`]))`, "cache_status", end)
	if byStatus["HIT"] == 0 || byStatus["MISS"] == 0 {
		t.Errorf("edge answers by cache status %v: want HITs and MISSes (k6 reads hot products through the edge)", byStatus)
	}
	var reads, fromCache float64
	for st, n := range byStatus {
		reads += n
		switch st {
		case "HIT", "STALE", "UPDATING", "REVALIDATED":
			fromCache += n
		}
	}
	if reads > 0 {
		t.Logf("edge: %d lines in Loki; product reads by cache status %v; edge hit ratio %.1f %%", shipped, byStatus, 100*fromCache/reads)
	}

	// The lines as Loki returns them: the file's own, in streams with exactly the file's labels,
	// besides what Loki 3 derives for every sender, Fluent Bit too: service_name (from app) and
	// detected_level (structured metadata; these lines have no level).
	inFile := make(map[string]bool, len(file))
	for _, l := range file {
		inFile[l] = true
	}
	var body struct {
		Data struct {
			Result []struct {
				Stream map[string]string `json:"stream"`
				Values [][2]string       `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	params := url.Values{"query": {selector}, "limit": {"50"}, "start": {strconv.FormatInt(runStart.UnixNano(), 10)},
		"end": {strconv.FormatInt(end.UnixNano(), 10)}}
	if err := getJSON(loki, "/loki/api/v1/query_range", params, &body); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, st := range body.Data.Result {
		got := maps.Clone(st.Stream)
		if got["service_name"] == labels["app"] {
			delete(got, "service_name")
		}
		delete(got, "detected_level")
		if d := cmp.Diff(labels, got); d != "" {
			t.Errorf("edge stream labels (-%s +Loki):\n%s", fluentBitFile, d)
		}
		for _, v := range st.Values {
			seen++
			if !inFile[v[1]] {
				t.Errorf("Loki has an edge line that is not a line of the access log: %s", v[1])
			}
		}
	}
	if seen == 0 {
		t.Errorf("Loki returned no line for %s", selector)
	}
}
