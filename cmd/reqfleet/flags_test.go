package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"testing"
	"time"
)

// allFlagSets builds every subcommand's flags, as `reqfleet CMD -h` does:
// the command returns at its parse, having run nothing.
func allFlagSets(t *testing.T) map[string]*flag.FlagSet {
	t.Helper()
	sets := map[string]*flag.FlagSet{}
	for _, c := range commands() {
		a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.run(a, ctx, []string{"-h"})
		cancel()
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s -h: %v, want flag.ErrHelp", c.name, err)
		}
		if len(a.helps) != 1 {
			t.Fatalf("%s made %d flag sets, want 1", c.name, len(a.helps))
		}
		sets[c.name] = a.helps[0].fs
	}
	return sets
}

// flagProblems lists what breaks "one flag name, one meaning" in sets
// (subcommand -> its flags) against the registry.
func flagProblems(sets map[string]*flag.FlagSet, reg map[string]meaning) []string {
	var out []string
	cmds := make([]string, 0, len(sets))
	for c := range sets {
		cmds = append(cmds, c)
	}
	sort.Strings(cmds)
	type seen struct{ cmd, usage string }
	first := map[string]seen{}
	for _, cmd := range cmds {
		fs := sets[cmd]
		fs.VisitAll(func(f *flag.Flag) {
			m, ok := reg[f.Name]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s %s: not in flagMeanings (flags.go)", cmd, dashed(f.Name)))
				return
			case flagKind(f.Value) != m.kind:
				out = append(out, fmt.Sprintf("%s %s: takes a %s, flagMeanings says %s", cmd, dashed(f.Name), flagKind(f.Value), m.kind))
			}
			if m.alias != "" {
				long := fs.Lookup(m.alias)
				if long == nil || long.Value != f.Value {
					out = append(out, fmt.Sprintf("%s %s: is not %s (the same value)", cmd, dashed(f.Name), dashed(m.alias)))
				}
				return
			}
			if m.text == "" || !strings.HasPrefix(f.Usage, m.text) {
				out = append(out, fmt.Sprintf("%s %s: help %q does not start with its meaning %q (use use(%q))", cmd, dashed(f.Name), f.Usage, m.text, f.Name))
			}
			if s, ok := first[f.Name]; ok && flagKind(sets[s.cmd].Lookup(f.Name).Value) != flagKind(f.Value) {
				out = append(out, fmt.Sprintf("%s %s and %s %s: values of two kinds", s.cmd, dashed(f.Name), cmd, dashed(f.Name)))
			} else if !ok {
				first[f.Name] = seen{cmd, f.Usage}
			}
		})
	}
	return out
}

// Every subcommand's flag of a name means what the registry says, so the
// same name means the same everywhere.
func TestFlagsOneMeaning(t *testing.T) {
	sets := allFlagSets(t)
	for _, p := range flagProblems(sets, flagMeanings) {
		t.Error(p)
	}
	// The registry lists no flag that no subcommand has.
	for name := range flagMeanings {
		found := false
		for _, fs := range sets {
			found = found || fs.Lookup(name) != nil
		}
		if !found {
			t.Errorf("flagMeanings lists %s, which no subcommand has", dashed(name))
		}
	}
}

// The check catches the inconsistencies it is there for.
func TestFlagsOneMeaningCatches(t *testing.T) {
	set := func(name string, add func(fs *flag.FlagSet)) *flag.FlagSet {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		add(fs)
		return fs
	}
	tests := []struct {
		name string
		sets map[string]*flag.FlagSet
		want string
	}{
		{"wait's --timeout, a give-up time", map[string]*flag.FlagSet{
			"run": set("run", func(fs *flag.FlagSet) { var tf timeoutFlag; fs.Var(&tf, "timeout", use("timeout")) }),
			"wait": set("wait", func(fs *flag.FlagSet) {
				var d durationFlag
				fs.Var(&d, "timeout", "give up after this long")
			}),
		}, "wait --timeout: takes a duration"},
		{"serve's --max-body, the request's", map[string]*flag.FlagSet{
			"serve": set("serve", func(fs *flag.FlagSet) { var s sizeFlag; fs.Var(&s, "max-body", "largest POST /v1/jobs body") }),
		}, "does not start with its meaning"},
		{"bench's -c, not --concurrency", map[string]*flag.FlagSet{
			"bench": set("bench", func(fs *flag.FlagSet) {
				var total, per int
				fs.IntVar(&per, "concurrency", 0, use("concurrency"))
				fs.IntVar(&total, "c", 64, "sessions in all")
			}),
		}, "bench -c: is not --concurrency"},
		{"a flag not in the registry", map[string]*flag.FlagSet{
			"limits": set("limits", func(fs *flag.FlagSet) { fs.Int("default-ratez", 0, "x") }),
		}, "not in flagMeanings"},
		{"-q a count", map[string]*flag.FlagSet{
			"bench": set("bench", func(fs *flag.FlagSet) { fs.Bool("quiet", false, use("quiet")); fs.Int("q", 0, "") }),
		}, "bench -q: takes a int"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := flagProblems(tc.sets, flagMeanings)
			if !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Fatalf("problems %q, want one with %q", got, tc.want)
			}
		})
	}
}

// Help spells flags as the README does, sizes in units, and hides a
// default URL's password.
func TestFlagHelp(t *testing.T) {
	c := cli{env: map[string]string{"REQFLEET_REDIS": "redis://:s3cret@127.0.0.1:6390"}}
	if err := c.run(context.Background(), "help", "worker"); exitCode(context.Background(), err) != exitOK {
		t.Fatal(err)
	}
	help := c.stderr.String()
	for _, want := range []string{"  -c, --concurrency int\n", "  --max-body size\n", "(default 1MiB)", "  -H 'Name: value'\n", "(default redis://:xxxxx@127.0.0.1:6390)"} {
		if !strings.Contains(help, want) {
			t.Errorf("worker help lacks %q:\n%s", want, help)
		}
	}
	for _, bad := range []string{"1048576", "s3cret", "\n  -concurrency"} {
		if strings.Contains(help, bad) {
			t.Errorf("worker help holds %q", bad)
		}
	}
}

func TestSizeFlag(t *testing.T) {
	tests := []struct {
		in, shown string
		n         int64
	}{
		{"1MiB", "1MiB", 1 << 20},
		{"1048576", "1MiB", 1 << 20},
		{"512KiB", "512KiB", 512 << 10},
		{"512k", "512KiB", 512 << 10},
		{"1000", "1000", 1000},
		{"1536KiB", "1536KiB", 1536 << 10},
		{"2G", "2GiB", 2 << 30},
	}
	for _, tc := range tests {
		var f sizeFlag
		if err := f.Set(tc.in); err != nil || int64(f) != tc.n || f.String() != tc.shown {
			t.Errorf("Set(%q): %d %q %v; want %d %q", tc.in, int64(f), f.String(), err, tc.n, tc.shown)
		}
	}
	var f sizeFlag
	if err := f.Set("lots"); err == nil {
		t.Error("Set(lots) took it")
	}
}

// A mistyped flag is one line naming the flag meant; a renamed one names
// its new name.
func TestUnknownFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"worker", "--concurency", "3"}, "worker: unknown flag --concurency; did you mean --concurrency? (see reqfleet worker -h)"},
		{[]string{"run", "jobs.jsonl", "-concurency=3"}, "unknown flag --concurency; did you mean --concurrency?"},
		{[]string{"wait", "--timeout", "2s", "B"}, "unknown flag --timeout; it is now --give-up-after"},
		{[]string{"serve", "--max-body", "1MiB"}, "unknown flag --max-body; it is now --max-request-body"},
		{[]string{"stats", "--frobnicate"}, "stats: unknown flag --frobnicate (see reqfleet stats -h)"},
		{[]string{"stauts"}, `unknown subcommand "stauts"; did you mean stats?`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var c cli
			err := c.run(context.Background(), tc.args...)
			if exitCode(context.Background(), err) != exitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error with %q", err, tc.want)
			}
			if out := c.stderr.String(); out != "" {
				t.Fatalf("printed %q besides the error", out)
			}
		})
	}
	// A flag's value that looks like a flag is a value, not an unknown flag.
	if err := unknownFlag(flag.NewFlagSet("x", flag.ContinueOnError), []string{"a", "--", "--nope"}); err != nil {
		t.Errorf("after --: %v", err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("type", "", "")
	if err := unknownFlag(fs, []string{"--type", "-weird"}); err != nil {
		t.Errorf("value -weird: %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"concurency", "concurrency", 1}, {"kitten", "sitting", 3}, {"abc", "", 3}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

// Every command that reaches the fleet's Redis waits --redis-wait for it and
// fails the same way: exit 1, one line naming the URL, without its password.
func TestRedisUnreachableEveryCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a closed port
	url := "redis://user:s3cret@" + addr
	jobs := writeFile(t, "jobs.jsonl", `{"url":"http://127.0.0.1:1/"}`+"\n")
	fleet := map[string][]string{
		"run":        {jobs, "--out", t.TempDir()},
		"worker":     nil,
		"enqueue":    {jobs},
		"retry":      nil,
		"results":    nil,
		"exceptions": nil,
		"stats":      nil,
		"wait":       {"B"},
		"serve":      {"--addr", "127.0.0.1:0"},
		"limits":     nil,
	}
	for _, c := range commands() {
		if _, ok := fleet[c.name]; !ok && c.name != "bench" && c.name != "version" {
			t.Errorf("%s: a new subcommand: add it here, or say why it reaches no Redis", c.name)
		}
	}
	want := "--redis redis://user:xxxxx@" + addr + ": Redis unreachable"
	for name, args := range fleet {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var c cli
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			err := c.run(ctx, append([]string{name, "--redis", url, "--redis-wait", "300ms"}, args...)...)
			if err == nil || exitCode(ctx, err) != exitFailure {
				t.Fatalf("err = %v (exit %d), want exit 1", err, exitCode(ctx, err))
			}
			msg := err.Error()
			if !strings.Contains(msg, want) || strings.Contains(msg, "s3cret") || strings.Contains(msg, "\n") {
				t.Fatalf("err = %q, want one line with %q", msg, want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %v", d)
			}
			if strings.Contains(c.stderr.String(), "s3cret") {
				t.Fatalf("stderr shows the password: %s", c.stderr.String())
			}
		})
	}
}
