package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/reqfleet/reqfleet/internal/redisconn"
)

// printFlags writes a flag set's help as the README spells the flags:
// --name (one dash for a one-letter name), a short alias beside its long
// flag, sizes as 1MiB, and no password in a default URL.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	aliases := map[string][]string{} // long name -> its short names in fs
	fs.VisitAll(func(f *flag.Flag) {
		if long := flagMeanings[f.Name].alias; long != "" && fs.Lookup(long) != nil {
			aliases[long] = append(aliases[long], f.Name)
		}
	})
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	for _, f := range flags {
		if long := flagMeanings[f.Name].alias; long != "" && fs.Lookup(long) != nil {
			continue // shown with its long flag
		}
		var names []string
		for _, a := range aliases[f.Name] {
			names = append(names, dashed(a))
		}
		names = append(names, dashed(f.Name))
		line := "  " + strings.Join(names, ", ")
		if k := valueKind(f.Value); k != "" {
			line += " " + k
		}
		usage := f.Usage
		if d := shownDefault(f); d != "" {
			usage += " (default " + d + ")"
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	}
}

// dashed is a flag name as typed: -c, --concurrency.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// valueKind names what a flag takes; "" for a boolean.
func valueKind(v flag.Value) string {
	switch v.(type) {
	case *sizeFlag:
		return "size"
	case *durationFlag:
		return "duration"
	case *headerFlag:
		return "'Name: value'"
	case *timeoutFlag:
		return "seconds"
	}
	if b, ok := v.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return ""
	}
	name, _ := flag.UnquoteUsage(&flag.Flag{Value: v})
	return name
}

// shownDefault is the default printed after a flag's help: none for a zero
// one (the help then says what the default is, if anything), a URL without
// its password.
func shownDefault(f *flag.Flag) string {
	switch f.DefValue {
	case "", "0", "false", "0s":
		return ""
	}
	if strings.Contains(f.DefValue, "://") {
		return redisconn.Redact(f.DefValue)
	}
	return f.DefValue
}

// unknownFlag finds, before the flag package parses args, a flag that fs
// does not have, and says which one it may be a typo of: one line, not the
// flag package's error followed by every flag. It reads args as the flag
// package does (a value follows a flag that is not boolean, "--" ends the
// flags); positional arguments may come between flags (see parse).
func unknownFlag(fs *flag.FlagSet, args []string) error {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return nil
		}
		if len(arg) < 2 || arg[0] != '-' {
			continue // positional
		}
		name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
		name, _, hasValue := strings.Cut(name, "=")
		if name == "" || name[0] == '-' || name[0] == '=' {
			return nil // bad syntax: the flag package says so
		}
		f := fs.Lookup(name)
		if f == nil {
			if name == "h" || name == "help" {
				return nil
			}
			msg := "unknown flag " + dashed(name)
			if to, ok := renamedFlags[fs.Name()+" "+name]; ok {
				msg += "; it is now " + dashed(to)
			} else if s := nearestFlag(fs, name); s != "" {
				msg += "; did you mean " + dashed(s) + "?"
			}
			return fmt.Errorf("%w: %s: %s (see reqfleet %s -h)", errUsage, fs.Name(), msg, fs.Name())
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if !hasValue {
			i++ // its value
		}
	}
	return nil
}

// renamedFlags are flags renamed so that one name has one meaning
// ("SUBCOMMAND old" -> new): the old name, now unknown there, names the
// new one.
var renamedFlags = map[string]string{
	"wait timeout":   "give-up-after",
	"serve max-body": "max-request-body",
}

// nearestFlag is fs's flag nearest to name (see nearest).
func nearestFlag(fs *flag.FlagSet, name string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return nearest(name, names)
}

// nearest is the name nearest to s by edit distance, when near enough to be
// a typo of it (a third of its letters, at least one); "" if none is.
func nearest(s string, names []string) string {
	best, bestD := "", 0
	for _, n := range names {
		d := editDistance(strings.ToLower(s), n)
		if d <= max(1, len(n)/3) && (best == "" || d < bestD || (d == bestD && n < best)) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
