package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

func (a *app) runVersion(_ context.Context, args []string) error {
	fs := a.newFlags("version", "")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr(fs, "unexpected argument %q", pos[0])
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(a.stdout, versionLine(bi))
	return nil
}

// versionLine is `reqfleet version`'s line, from the build info: the
// module's version, then the VCS revision and time the binary was built
// from (with +dirty for uncommitted changes) and the Go version.
func versionLine(bi *debug.BuildInfo) string {
	if bi == nil {
		return "reqfleet (no build info)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	parts := []string{}
	if rev != "" {
		parts = append(parts, "revision "+rev[:min(len(rev), 12)]+dirty)
	}
	if at != "" {
		parts = append(parts, at)
	}
	parts = append(parts, bi.GoVersion)
	return "reqfleet " + v + " (" + strings.Join(parts, ", ") + ")"
}
