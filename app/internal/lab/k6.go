package lab

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// K6ThresholdsCrossed is k6's exit status when a threshold of the script was crossed.
const K6ThresholdsCrossed = 99

// K6 is a run of a k6 script.
type K6 struct {
	Name   string // names the process ("k6" when empty)
	Bin    string // the k6 binary
	Script string // the script, relative to Dir
	// Env is added to CleanEnv and K6_NO_USAGE_REPORT=true: the variables the script reads.
	Env []string
	// Args are more flags of `k6 run` (-o, --tag, --address…). Without --address, k6's REST API
	// is off: no port to collide with another k6 on the machine.
	Args []string
	Dir  string
	Log  string
}

// Spec is the run as a process, to Start in the background or Run.
func (k K6) Spec() Spec {
	args := []string{"run", "--quiet", "--no-usage-report", "--no-color"}
	if !slices.ContainsFunc(k.Args, func(a string) bool { return strings.HasPrefix(a, "--address") }) {
		args = append(args, "--address=")
	}
	name := k.Name
	if name == "" {
		name = "k6"
	}
	return Spec{Name: name, Bin: k.Bin, Args: slices.Concat(args, k.Args, []string{k.Script}),
		Env: CleanEnv(append([]string{"K6_NO_USAGE_REPORT=true"}, k.Env...)...), Dir: k.Dir, Log: k.Log}
}

// RunK6 runs k to its end within limit. Crossed thresholds (exit status K6ThresholdsCrossed) are
// reported by crossed, not as an error: the caller judges them.
func RunK6(ctx context.Context, k K6, limit time.Duration) (crossed bool, err error) {
	err = Run(ctx, k.Spec(), limit)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == K6ThresholdsCrossed {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("k6 run %s: %w", k.Script, err)
	}
	return false, nil
}
