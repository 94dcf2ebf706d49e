package rdb

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// asynqRDBSource is asynq's internal/rdb/rdb.go from the module cache, as
// linked by go.mod.
func asynqRDBSource(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to find asynq's source")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", asynqModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", asynqModule, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Skipf("%s is not in the module cache (go mod download)", asynqModule)
	}
	src, err := os.ReadFile(filepath.Join(dir, "internal", "rdb", "rdb.go"))
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// asynqScript is the text of asynq's `var name = redis.NewScript(`...`)`.
func asynqScript(src, name string) (string, bool) {
	start := "var " + name + " = redis.NewScript(`"
	i := strings.Index(src, start)
	if i < 0 {
		return "", false
	}
	rest := src[i+len(start):]
	j := strings.IndexByte(rest, '`')
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}

// The asynq scripts that lua/ mirrors are those it was verified against.
// This fails when go.mod links another asynq whose scripts changed.
func TestAsynqScriptsUnchanged(t *testing.T) {
	src := asynqRDBSource(t)
	for name, want := range asynqScriptSHA256 {
		t.Run(name, func(t *testing.T) {
			text, ok := asynqScript(src, name)
			if !ok {
				t.Fatalf("asynq's internal/rdb/rdb.go has no script %s any more: the asynq layout reqfleet writes "+
					"(internal/rdb, verified against asynq %s) must be verified again against the linked asynq %q "+
					"before the enqueue fast path and the fetcher may run on it", name, AsynqVerified, linkedForMessage())
			}
			sum := sha256.Sum256([]byte(text))
			if got := hex.EncodeToString(sum[:]); got != want {
				t.Fatalf("ASYNQ CHANGED %s: sha256 %s, verified %s (asynq %s). Re-verify internal/rdb against the linked asynq %q: "+
					"diff its internal/rdb/rdb.go %s with %s's, carry the change into the lua/ script that mirrors it "+
					"(its header says which), check asynqkeys.go and message.go against its internal/base and internal/proto, "+
					"run the differential test (TestSameKeysAsAsynq), then record the new hash and AsynqVerified",
					name, got, want, AsynqVerified, linkedForMessage(), name, AsynqVerified)
			}
		})
	}
}

func TestVerifiedFor(t *testing.T) {
	tests := []struct {
		linked string
		want   bool
	}{
		{AsynqVerified, true},
		{"v0.26.1", false},
		{"v0.25.0", false},
		{"", false},
		{"(devel)", false},
	}
	for _, tc := range tests {
		t.Run(tc.linked, func(t *testing.T) {
			if got := VerifiedFor(tc.linked); got != tc.want {
				t.Fatalf("VerifiedFor(%q) = %v, want %v", tc.linked, got, tc.want)
			}
		})
	}
}

// A test binary's build info lists no dependencies: the asynq of go.mod,
// which TestAsynqScriptsUnchanged checks, is taken as linked.
func TestLayoutVerifiedInTests(t *testing.T) {
	if linked, ok := LayoutVerified(); !ok {
		t.Fatalf("linked asynq %q, layout verified against %s", linked, AsynqVerified)
	}
}

// linkedForMessage is go.mod's asynq, as go list reports it.
func linkedForMessage() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", asynqModule).Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}
