package stacktest_test

// These tests read the Dockerfile as text (no Docker needed) and check how the image is built and
// run; pinned() also serves the compose file's images.

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dockerfilePath is the Dockerfile at the repository root.
const dockerfilePath = "../../../Dockerfile"

// dockerfile is the Dockerfile as a list of instructions, comments and line continuations removed.
type dockerfile []instruction

// instruction is one Dockerfile instruction: its upper-cased keyword and the rest of the line.
type instruction struct {
	keyword, args string
}

// stages splits the instructions at each FROM; each stage starts with its FROM.
func (d dockerfile) stages() [][]instruction {
	var stages [][]instruction
	for _, in := range d {
		if in.keyword == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	return stages
}

// last returns the last instruction of the final stage with keyword, and whether there is one.
func (d dockerfile) last(keyword string) (instruction, bool) {
	stages := d.stages()
	if len(stages) == 0 {
		return instruction{}, false
	}
	final := stages[len(stages)-1]
	for i := len(final) - 1; i >= 0; i-- {
		if final[i].keyword == keyword {
			return final[i], true
		}
	}
	return instruction{}, false
}

// parseDockerfile splits Dockerfile text into instructions. It knows enough of the syntax for the
// checks here (comments, line continuations), not heredocs or a changed escape character.
func parseDockerfile(text string) dockerfile {
	var (
		d       dockerfile
		pending string
	)
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && pending == "") {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			pending += strings.TrimSpace(cont) + " "
			continue
		}
		full := strings.TrimSpace(pending + trimmed)
		pending = ""
		if full == "" {
			continue
		}
		keyword, args, _ := strings.Cut(full, " ")
		d = append(d, instruction{keyword: strings.ToUpper(keyword), args: strings.TrimSpace(args)})
	}
	return d
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatalf("read %s: %v", dockerfilePath, err)
	}
	text := string(raw)
	df := parseDockerfile(text)

	tests := []struct {
		name  string
		check func() error
	}{
		{name: "multi-stage", check: func() error {
			if n := len(df.stages()); n < 2 {
				return fmt.Errorf("%d FROM, want a build stage and a separate run stage", n)
			}
			return nil
		}},
		{name: "base images pinned", check: func() error {
			var errs []error
			stageNames := map[string]bool{"scratch": true}
			for _, stage := range df.stages() {
				image, as := fromImage(stage[0].args)
				if !stageNames[strings.ToLower(image)] {
					errs = append(errs, pinned(image))
				}
				if as != "" {
					stageNames[strings.ToLower(as)] = true
				}
			}
			return errors.Join(errs...)
		}},
		{name: "no latest tag", check: func() error {
			for _, in := range df {
				if strings.Contains(strings.ToLower(in.args), ":latest") {
					return fmt.Errorf("%s %s uses :latest", in.keyword, in.args)
				}
			}
			return nil
		}},
		{name: "static build", check: func() error {
			for _, in := range df {
				if in.keyword == "RUN" && strings.Contains(in.args, "go build") && strings.Contains(in.args, "CGO_ENABLED=0") {
					return nil
				}
			}
			return errors.New("no RUN with CGO_ENABLED=0 go build")
		}},
		{name: "non-root user", check: func() error {
			in, ok := df.last("USER")
			if !ok {
				return errors.New("the final stage has no USER, so it runs as root")
			}
			user, _, _ := strings.Cut(in.args, ":")
			if user == "" || user == "root" || user == "0" {
				return fmt.Errorf("USER %s is root", in.args)
			}
			return nil
		}},
		{name: "healthcheck", check: func() error {
			in, ok := df.last("HEALTHCHECK")
			if !ok || strings.EqualFold(in.args, "NONE") {
				return errors.New("the final stage has no HEALTHCHECK")
			}
			if !strings.Contains(in.args, "product-service") || !strings.Contains(in.args, "healthcheck") {
				return fmt.Errorf("HEALTHCHECK %s does not run `product-service healthcheck`", in.args)
			}
			return nil
		}},
		{name: "exposes 8080", check: func() error {
			if in, ok := df.last("EXPOSE"); !ok || !slices.Contains(strings.Fields(in.args), "8080") {
				return errors.New("the final stage does not EXPOSE 8080")
			}
			return nil
		}},
		{name: "entrypoint and command", check: func() error {
			got := map[string]string{}
			for _, k := range []string{"ENTRYPOINT", "CMD"} {
				if in, ok := df.last(k); ok {
					got[k] = in.args
				}
			}
			want := map[string]string{"ENTRYPOINT": `["product-service"]`, "CMD": `["serve"]`}
			if diff := cmp.Diff(want, got); diff != "" {
				return fmt.Errorf("final stage (-want +got):\n%s", diff)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.check(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestImagePinning(t *testing.T) {
	tests := []struct {
		image string
		want  bool
	}{
		{image: "alpine:3.22.2", want: true},
		{image: "golang:1.26.8-bookworm", want: true},
		{image: "postgres:16.9-alpine", want: true},
		{image: "registry.local:5000/team/redis:7.4.4-alpine", want: true},
		{image: "gcr.io/distroless/static-debian12@sha256:" + strings.Repeat("a", 64), want: true},
		{image: "alpine", want: false},
		{image: "alpine:latest", want: false},
		{image: "postgres:16-alpine", want: false},
		{image: "gcr.io/distroless/static-debian12:nonroot", want: false},
		{image: "registry.local:5000/redis", want: false},
		{image: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if got := pinned(tt.image) == nil; got != tt.want {
				t.Errorf("pinned(%q) = %v, want %v", tt.image, got, tt.want)
			}
		})
	}
}

func TestParseDockerfile(t *testing.T) {
	text := "# syntax comment\nFROM --platform=$BUILDPLATFORM golang:1.26.8 AS build\n" +
		"RUN a \\\n    && b\n\n# note\nfrom alpine:3.22.2\nUSER 10001:10001\n"
	want := dockerfile{
		{keyword: "FROM", args: "--platform=$BUILDPLATFORM golang:1.26.8 AS build"},
		{keyword: "RUN", args: "a && b"},
		{keyword: "FROM", args: "alpine:3.22.2"},
		{keyword: "USER", args: "10001:10001"},
	}
	if diff := cmp.Diff(want, parseDockerfile(text), cmp.AllowUnexported(instruction{})); diff != "" {
		t.Errorf("parseDockerfile (-want +got):\n%s", diff)
	}
	image, as := fromImage(want[0].args)
	if diff := cmp.Diff([]string{"golang:1.26.8", "build"}, []string{image, as}); diff != "" {
		t.Errorf("fromImage (-want +got):\n%s", diff)
	}
}

// versionTag matches a tag that names at least a minor version: 3.22.2, 16.9-alpine, v1.2.
var versionTag = regexp.MustCompile(`^v?\d+\.\d+`)

// pinned reports why an image reference could change under us, or nil when it is pinned by
// digest or by a tag naming at least a minor version.
func pinned(image string) error {
	tag, digest := imageTag(image)
	switch {
	case image == "":
		return errors.New("empty image")
	case digest != "":
		return nil
	case tag == "" || tag == "latest":
		return fmt.Errorf("image %q floats: pin a version tag", image)
	case !versionTag.MatchString(tag):
		return fmt.Errorf("image %q: tag %q is not a version (want at least major.minor)", image, tag)
	}
	return nil
}

// imageTag splits an image reference into its tag and digest; a registry port is not a tag.
func imageTag(image string) (tag, digest string) {
	if name, d, ok := strings.Cut(image, "@"); ok {
		image, digest = name, d
	}
	last := image[strings.LastIndex(image, "/")+1:]
	if _, t, ok := strings.Cut(last, ":"); ok {
		tag = t
	}
	return tag, digest
}

// fromImage returns the image and the stage name of a FROM instruction's arguments.
func fromImage(args string) (image, as string) {
	var rest []string
	for _, f := range strings.Fields(args) {
		if !strings.HasPrefix(f, "--") {
			rest = append(rest, f)
		}
	}
	if len(rest) > 0 {
		image = rest[0]
	}
	if len(rest) == 3 && strings.EqualFold(rest[1], "AS") {
		as = rest[2]
	}
	return image, as
}
