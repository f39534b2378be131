package stacktest_test

// Mounts: every config file the stack mounts is in this repository, mounted read-only where the
// service looks for it, and every server keeps its state on a named volume.

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// outputMounts are the bind mounts a service writes to: k6 writes its JSON summaries into the
// repository's (gitignored) results/ directory, which Docker creates when it is missing, and
// results-dir makes it writable for k6 first.
var outputMounts = map[string]string{"k6": "results", "results-dir": "results"}

// TestComposeBindMountsExist: a bind mount of a missing path makes Docker create an empty
// directory in its place, and the service starts with no config (or fails far from the cause).
func TestComposeBindMountsExist(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	p := loadAll(t)
	binds := 0
	for _, name := range p.ServiceNames() {
		for _, v := range service(t, p, name).Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			binds++
			rel, err := filepath.Rel(root, v.Source)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				t.Errorf("%s mounts %s, outside the repository", name, v.Source)
				continue
			}
			if outputMounts[name] == rel {
				if v.ReadOnly {
					t.Errorf("%s must write to ./%s, but mounts it read-only", name, rel)
				}
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts ./%s, which is not in the repository: %v", name, rel, err)
			}
			if !v.ReadOnly {
				t.Errorf("%s mounts ./%s read-write; config from the repository is mounted :ro", name, rel)
			}
		}
	}
	if binds < 8 {
		t.Errorf("only %d bind mounts found; the loader no longer resolves them as this test expects", binds)
	}
}

// TestComposeStateOnNamedVolumes: data survives `docker compose down` (and `down -v` removes it),
// and is never written into the repository.
func TestComposeStateOnNamedVolumes(t *testing.T) {
	want := map[string]string{
		"postgres":   "/var/lib/postgresql/data",
		"prometheus": "/prometheus",
		"loki":       "/loki",
		"tempo":      "/var/tempo",
		"pyroscope":  "/data",
		"grafana":    "/var/lib/grafana",
	}
	p := loadAll(t)
	for name, dir := range want {
		t.Run(name, func(t *testing.T) {
			for _, v := range service(t, p, name).Volumes {
				if v.Target != dir {
					continue
				}
				if v.Type != types.VolumeTypeVolume {
					t.Fatalf("%s keeps %s on a %s mount, want a named volume", name, dir, v.Type)
				}
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s mounts volume %q, which is not declared", name, v.Source)
				}
				return
			}
			t.Errorf("%s has no named volume at %s", name, dir)
		})
	}
}

// configArg matches a command argument that names a file in the container: a config flag's value
// (-config.file=…, --config.file=…) or a k6 script.
var configArg = regexp.MustCompile(`^(?:--?config\.file=(/.+)|(/.+\.js))$`)

// TestComposeCommandsNameMountedFiles: each config file or script a command names is one the
// compose file mounts from the repository, and that file exists.
func TestComposeCommandsNameMountedFiles(t *testing.T) {
	p := loadAll(t)
	named := 0
	for _, name := range p.ServiceNames() {
		s := service(t, p, name)
		for _, arg := range s.Command {
			m := configArg.FindStringSubmatch(arg)
			if m == nil {
				continue
			}
			named++
			file := m[1] + m[2]
			host, ok := hostPath(s, file)
			if !ok {
				t.Errorf("%s: %q names %s, which no bind mount provides", name, arg, file)
				continue
			}
			if info, err := os.Stat(host); err != nil || info.IsDir() {
				t.Errorf("%s: %q names %s, mounted from %s, which is not a file in the repository", name, arg, file, host)
			}
		}
	}
	// prometheus, loki, tempo, traffic and k6 each name one.
	if named < 5 {
		t.Errorf("only %d commands name a config file or script", named)
	}
}

// hostPath returns where in the repository the container path file of service s comes from,
// through its bind mounts (the deepest mount wins, as in the container).
func hostPath(s types.ServiceConfig, file string) (string, bool) {
	best, found := "", ""
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		target := path.Clean(v.Target)
		switch {
		case file == target:
			return v.Source, true
		case strings.HasPrefix(file, target+"/") && len(target) > len(best):
			best, found = target, filepath.Join(v.Source, filepath.FromSlash(strings.TrimPrefix(file, target+"/")))
		}
	}
	return found, found != ""
}

// TestComposeOutputDirsWritable: every directory a service writes through a bind mount is
// writable by the user it runs as. A directory missing from a fresh clone is created by Docker,
// owned by root with mode 755, so a service that does not run as root needs a one-shot job it
// waits for that runs as root on the same directory and opens it (chmod 0777, or a chown to the
// writer's uid). k6 (uid 12345) could not write its summaries to ./results without one.
func TestComposeOutputDirsWritable(t *testing.T) {
	p := loadAll(t)
	outputs := 0
	for _, name := range p.ServiceNames() {
		s := service(t, p, name)
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind || v.ReadOnly {
				continue
			}
			outputs++
			if err := writable(p, s, v); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	if outputs == 0 {
		t.Error("no read-write bind mount found; the loader no longer resolves them as this test expects")
	}
}

// TestWritableNeedsAnOpener shows writable rejecting the k6 service as it was: no job opens
// ./results for uid 12345.
func TestWritableNeedsAnOpener(t *testing.T) {
	p := loadAll(t)
	k6 := service(t, p, "k6")
	delete(k6.DependsOn, "results-dir")
	for _, v := range k6.Volumes {
		if v.Type == types.VolumeTypeBind && !v.ReadOnly {
			if err := writable(p, k6, v); err == nil {
				t.Error("k6 without results-dir: writable found no problem")
			}
			return
		}
	}
	t.Fatal("k6 has no read-write bind mount")
}

// writable returns why the bind mount v of s may not be writable by the user s runs as.
func writable(p *types.Project, s types.ServiceConfig, v types.ServiceVolumeConfig) error {
	uid, err := runsAs(s)
	if err != nil {
		return err
	}
	if uid == 0 {
		return nil
	}
	for dep, cfg := range s.DependsOn {
		if cfg.Condition != types.ServiceConditionCompletedSuccessfully {
			continue
		}
		job, err := p.GetService(dep)
		if err != nil {
			continue
		}
		if jobUID, err := runsAs(job); err != nil || jobUID != 0 {
			continue
		}
		for _, jv := range job.Volumes {
			if jv.Type != types.VolumeTypeBind || jv.Source != v.Source || jv.ReadOnly {
				continue
			}
			script := strings.Join(append(append([]string{}, job.Entrypoint...), job.Command...), " ")
			target := path.Clean(jv.Target)
			if strings.Contains(script, "chmod 0777 "+target) || strings.Contains(script, fmt.Sprintf("chown %d ", uid)) {
				return nil
			}
		}
	}
	return fmt.Errorf("writes to %s (from %s) as uid %d, and no one-shot job it waits for (service_completed_successfully) "+
		"runs as root on that directory to open it (chmod 0777 %s); Docker creates a missing one owned by root, mode 755",
		v.Target, v.Source, uid, v.Target)
}
