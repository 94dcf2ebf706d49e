package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/internal/redisconn"
	"github.com/reqfleet/reqfleet/tasks"
)

// errUsage marks bad flags and arguments (exit code 2).
var errUsage = errors.New("usage")

// defaultRedis is used by the fleet commands when neither --redis nor
// REQFLEET_REDIS is given.
const defaultRedis = "redis://127.0.0.1:6379"

func isInputError(err error) bool {
	var le *enqueuer.LineError
	return errors.As(err, &le)
}

// newFlags makes a subcommand's flag set; its errors go to a.stderr.
func (a *app) newFlags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: reqfleet %s %s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags anywhere among the arguments (`run jobs.jsonl --out x`
// works) and returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %w", errUsage, fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func usageErr(fs *flag.FlagSet, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", errUsage, fs.Name(), fmt.Sprintf(format, args...))
}

// common are the flags every fleet command has.
type common struct {
	redisURL  string
	queue     string
	logFormat string
	logLevel  string
}

func (a *app) commonFlags(fs *flag.FlagSet, c *common, redisHelp string) {
	a.commonFlagsLevel(fs, c, redisHelp, "warn") // the command prints what it did itself
}

func (a *app) commonFlagsLevel(fs *flag.FlagSet, c *common, redisHelp, level string) {
	fs.StringVar(&c.redisURL, "redis", a.getenv("REQFLEET_REDIS"), redisHelp)
	fs.StringVar(&c.queue, "queue", "default", "queue name")
	fs.StringVar(&c.logFormat, "log-format", "", "log format: text or json (default text on a terminal, json otherwise)")
	fs.StringVar(&c.logLevel, "log-level", level, "log level: debug, info, warn, error")
}

func (c *common) check(fs *flag.FlagSet) error {
	if err := tasks.ValidateQueue(c.queue); err != nil {
		return usageErr(fs, "--queue: %v", err)
	}
	switch c.logFormat {
	case "", "text", "json":
	default:
		return usageErr(fs, "--log-format must be text or json, not %q", c.logFormat)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.logLevel)); err != nil {
		return usageErr(fs, "--log-level: %v", err)
	}
	return nil
}

// logger writes to stderr: text on a terminal, JSON otherwise.
func (a *app) logger(c *common) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.logLevel))
	opts := &slog.HandlerOptions{Level: level}
	format := c.logFormat
	if format == "" {
		format = "json"
		if isTerminal(a.stderr) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(a.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(a.stderr, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// connect opens the fleet's Redis (defaultRedis when no URL is given).
func (c *common) connect(poolSize int) (redis.UniversalClient, error) {
	u := c.redisURL
	if u == "" {
		u = defaultRedis
	}
	rdb, err := redisconn.Open(u, poolSize)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	return rdb, nil
}

// headerFlag is a repeatable -H "Name: value".
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }

func (f *headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" {
		return fmt.Errorf("want \"Name: value\"")
	}
	// The same checks as a job's headers.
	if _, err := tasks.DecodeJob(fmt.Appendf(nil, `{"url":"x","headers":{%q:%q}}`, name, value)); err != nil {
		return fmt.Errorf("header %q: %w", name, err)
	}
	if f.h == nil {
		f.h = http.Header{}
	}
	f.h.Add(name, value)
	return nil
}

// timeoutFlag is seconds, or "connect,read" seconds.
type timeoutFlag struct{ t tasks.Timeout }

func (f *timeoutFlag) String() string {
	if f.t.Pair {
		return fmt.Sprintf("%g,%g", f.t.Connect.Seconds(), f.t.Read.Seconds())
	}
	if f.t.Read == 0 {
		return ""
	}
	return strconv.FormatFloat(f.t.Read.Seconds(), 'g', -1, 64)
}

func (f *timeoutFlag) Set(s string) error {
	raw := s
	if strings.Contains(s, ",") {
		raw = "[" + s + "]"
	}
	j, err := tasks.DecodeJob(fmt.Appendf(nil, `{"url":"x","timeout":%s}`, raw))
	if err != nil || j.Timeout == nil {
		return fmt.Errorf("want seconds or connect,read seconds (e.g. 30 or 3.05,27)")
	}
	f.t = *j.Timeout
	return nil
}

// sizeFlag is a byte count with an optional KiB/MiB/GiB (or K/M/G) suffix.
type sizeFlag int64

func (f *sizeFlag) String() string { return strconv.FormatInt(int64(*f), 10) }

func (f *sizeFlag) Set(s string) error {
	mult := int64(1)
	up := strings.ToUpper(strings.TrimSpace(s))
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(up, u.suffix) {
			up, mult = strings.TrimSpace(strings.TrimSuffix(up, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(up, 10, 64)
	if err != nil || n < 1 || n > (1<<40)/mult {
		return fmt.Errorf("want a size such as 1048576, 512KiB or 1MiB")
	}
	*f = sizeFlag(n * mult)
	return nil
}

// openInput opens FILE, or stdin for "-".
func (a *app) openInput(fs *flag.FlagSet, pos []string) (io.ReadCloser, string, error) {
	if len(pos) != 1 {
		return nil, "", usageErr(fs, "want one FILE argument (or - for stdin), got %d", len(pos))
	}
	if pos[0] == "-" {
		return io.NopCloser(a.stdin), "stdin", nil
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", errUsage, err)
	}
	return f, pos[0], nil
}

// durationFlag accepts Go durations ("90s", "5m") or plain seconds ("90").
type durationFlag time.Duration

func (f *durationFlag) String() string { return time.Duration(*f).String() }

func (f *durationFlag) Set(s string) error {
	if secs, err := strconv.ParseFloat(s, 64); err == nil && secs >= 0 {
		*f = durationFlag(secs * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration such as 30s, 5m or 90")
	}
	*f = durationFlag(d)
	return nil
}

func timeDuration(d durationFlag) time.Duration { return time.Duration(d) }
