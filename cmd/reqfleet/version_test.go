package main

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "reqfleet (no build info)"},
		{"go run", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, "reqfleet (devel) (go1.26.0)"},
		{"built from a checkout", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-01T22:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		}}, "reqfleet v1.2.3 (revision 0123456789ab+dirty, 2026-12-01T22:00:00Z, go1.26.0)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionLine(tc.bi); got != tc.want {
				t.Fatalf("versionLine = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var c cli
		if err := c.run(context.Background(), args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if out := c.stdout.String(); !strings.HasPrefix(out, "reqfleet ") || !strings.Contains(out, "go1.") {
			t.Fatalf("%v printed %q", args, out)
		}
	}
}
