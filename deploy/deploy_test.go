package deploy

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// root is the repository, one level up.
const root = ".."

// dockerfile is the Dockerfile's instructions, continuation lines joined.
func dockerfile(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// buildLine is the RUN instruction that builds the binary: its command and
// its output path.
func buildLine(t *testing.T) (cmd, out string) {
	t.Helper()
	for _, in := range dockerfile(t) {
		run, ok := strings.CutPrefix(in, "RUN ")
		if !ok || !strings.Contains(run, "go build") {
			continue
		}
		m := regexp.MustCompile(`(?:^|\s)-o\s+(\S+)`).FindStringSubmatch(run)
		if m == nil {
			t.Fatalf("the go build line has no -o: %s", run)
		}
		return run, m[1]
	}
	t.Fatal("the Dockerfile has no RUN ... go build line")
	return "", ""
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// binary runs the Dockerfile's build command as written, with only its
// output path moved to a temporary directory, once for the package.
func binary(t *testing.T) string {
	t.Helper()
	cmdline, out := buildLine(t)
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "reqfleet-deploy-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "reqfleet")
		line := strings.ReplaceAll(cmdline, out, binPath)
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", line)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New(line + ": " + err.Error() + "\n" + string(b))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// The Dockerfile: a Go of at least go.mod's version builds a static
// binary, which the final image, distroless and not root, runs.
func TestDockerfile(t *testing.T) {
	ins := dockerfile(t)
	var froms []string
	for _, in := range ins {
		if f, ok := strings.CutPrefix(in, "FROM "); ok {
			froms = append(froms, f)
		}
	}
	if len(froms) != 2 {
		t.Fatalf("want a two-stage build, got FROM %q", froms)
	}
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	if goVer == nil || !strings.HasPrefix(froms[0], "golang:"+string(goVer[1])) {
		t.Errorf("build stage %q does not use go.mod's Go %s", froms[0], goVer[1])
	}
	if !strings.Contains(froms[1], "distroless/static") || !strings.Contains(froms[1], "nonroot") {
		t.Errorf("final stage %q is not distroless static nonroot", froms[1])
	}
	cmd, out := buildLine(t)
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/reqfleet", "-trimpath"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("the build line lacks %s: %s", want, cmd)
		}
	}
	want := []string{
		"COPY --from=build " + out + " /usr/local/bin/reqfleet",
		"COPY examples /examples",
		"USER nonroot:nonroot",
		`ENTRYPOINT ["/usr/local/bin/reqfleet"]`,
	}
	for _, w := range want {
		if !slices.Contains(ins, w) {
			t.Errorf("the Dockerfile lacks %q", w)
		}
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil || !regexp.MustCompile(`(?m)^\.git$`).Match(ignore) {
		t.Errorf(".dockerignore should leave .git out of the build context (%v)", err)
	}
}

// The binary the Dockerfile builds is static: no program interpreter, no
// dynamic section; the distroless static image has no libc to offer.
func TestBinaryIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	f, err := elf.Open(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is dynamically linked", p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Error("the binary has a .dynamic section")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	b, err := exec.Command(binary(t), "help").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "serve") {
		t.Fatalf("reqfleet help: %v\n%s", err, b)
	}
}

func loadCompose(t *testing.T, env ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(env),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// docker-compose.yml loads and validates with compose-go, and runs a
// fleet: Redis with a healthcheck, replicated workers, serve published on
// loopback only, a one-shot enqueue, all built from this Dockerfile.
func TestCompose(t *testing.T) {
	p := loadCompose(t)
	if p.Name != "reqfleet" {
		t.Errorf("project name %q", p.Name)
	}
	for _, name := range []string{"redis", "worker", "serve", "enqueue"} {
		if _, ok := p.Services[name]; !ok {
			t.Fatalf("no service %q; have %v", name, p.ServiceNames())
		}
	}
	redis := p.Services["redis"]
	if redis.HealthCheck == nil || len(redis.HealthCheck.Test) == 0 {
		t.Error("redis has no healthcheck: depends_on service_healthy would never pass")
	}
	absRoot, _ := filepath.Abs(root)
	for _, name := range []string{"worker", "serve", "enqueue"} {
		s := p.Services[name]
		if s.Build == nil {
			t.Errorf("%s: no build", name)
			continue
		}
		if s.Build.Context != absRoot {
			t.Errorf("%s: build context %q, want the repository %q", name, s.Build.Context, absRoot)
		}
		if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s: Dockerfile: %v", name, err)
		}
		if u := s.Environment["REQFLEET_REDIS"]; u == nil || *u != "redis://redis:6379" {
			t.Errorf("%s: REQFLEET_REDIS = %v, want redis://redis:6379", name, u)
		}
		if d, ok := s.DependsOn["redis"]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s: depends_on redis %+v, want condition service_healthy", name, d)
		}
		if len(s.Command) == 0 {
			t.Errorf("%s: no command", name)
		}
	}
	if w := p.Services["worker"]; w.Deploy == nil || w.Deploy.Replicas == nil || *w.Deploy.Replicas < 2 {
		t.Errorf("worker: replicas %+v, want several", w.Deploy)
	} else if w.StopGracePeriod == nil || time.Duration(*w.StopGracePeriod) <= 40*time.Second {
		t.Errorf("worker: stop_grace_period %v, want above the 40s --shutdown-timeout", w.StopGracePeriod)
	}
	if e := p.Services["enqueue"]; e.Restart != "no" || e.Deploy != nil && e.Deploy.Replicas != nil && *e.Deploy.Replicas != 1 {
		t.Errorf("enqueue: restart %q: want a one-shot", e.Restart)
	}
	// The workers run what serve's API accepts from its clients: they must
	// not fetch the network's own services (Redis, the workers' /metrics).
	if w := p.Services["worker"]; !slices.Contains(w.Command, "--deny-private") {
		t.Errorf("worker: command %q lacks --deny-private", w.Command)
	}
	// Redis keeps the queues across a restart: AOF on, on a volume, and
	// restarted when it dies.
	if !hasArgs(redis.Command, "--appendonly", "yes") {
		t.Errorf("redis: command %q, want --appendonly yes", redis.Command)
	}
	if redis.Restart != "unless-stopped" && redis.Restart != "always" {
		t.Errorf("redis: restart %q, want unless-stopped or always", redis.Restart)
	}
	dataVolume := false
	for _, v := range redis.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Target == "/data" {
			_, declared := p.Volumes[v.Source]
			dataVolume = declared
		}
	}
	if !dataVolume {
		t.Errorf("redis: volumes %+v, want a named volume (declared under volumes:) on /data, where the AOF is written", redis.Volumes)
	}
	s := p.Services["serve"]
	if len(s.Ports) != 1 || s.Ports[0].HostIP != "127.0.0.1" || s.Ports[0].Published != "8080" || s.Ports[0].Target != 8080 {
		t.Errorf("serve: ports %+v, want 127.0.0.1:8080:8080", s.Ports)
	}
	if tok := s.Environment["REQFLEET_API_TOKEN"]; tok == nil {
		t.Error("serve: no REQFLEET_API_TOKEN passed on")
	}
	// The token comes from the environment of `docker compose up`.
	p2 := loadCompose(t, "REQFLEET_API_TOKEN=from-env")
	if tok := p2.Services["serve"].Environment["REQFLEET_API_TOKEN"]; tok == nil || *tok != "from-env" {
		t.Errorf("serve: REQFLEET_API_TOKEN = %v, want the caller's", tok)
	}
}

// hasArgs reports whether cmd has flag followed by value.
func hasArgs(cmd []string, flag, value string) bool {
	for i := range len(cmd) - 1 {
		if cmd[i] == flag && cmd[i+1] == value {
			return true
		}
	}
	return false
}

// Each reqfleet command of the compose file parses with the real binary:
// it gets as far as connecting to Redis (exit 1 here, with no Redis), not
// a usage error (exit 2).
func TestComposeCommandsParse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	bin := binary(t)
	absExamples, _ := filepath.Abs(filepath.Join(root, "examples"))
	p := loadCompose(t)
	for _, name := range []string{"worker", "serve", "enqueue"} {
		t.Run(name, func(t *testing.T) {
			var args []string
			for _, a := range p.Services[name].Command {
				// The image has the examples at /examples (COPY examples /examples).
				args = append(args, strings.Replace(a, "/examples", absExamples, 1))
			}
			args = append(args, "--redis-wait", "0.2", "--redis-retry-for", "0")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = []string{"REQFLEET_REDIS=redis://127.0.0.1:1"}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "127.0.0.1:1") {
				t.Fatalf("reqfleet %s: %v, want exit 1 on the unreachable Redis\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}
