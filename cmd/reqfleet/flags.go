package main

import (
	"context"
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

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/internal/redisconn"
	"github.com/reqfleet/reqfleet/internal/redisretry"
	"github.com/reqfleet/reqfleet/tasks"
)

// errUsage marks bad flags and arguments (exit code 2).
var errUsage = errors.New("usage")

// forceLayoutFlag registers --force-asynq-layout, of one meaning in worker,
// enqueue, run and bench: keep the enqueue fast path and the fetcher even
// when the linked asynq is not the version whose Redis layout they write
// (they then fall back to asynq's Client and processor, with a warning).
func forceLayoutFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("force-asynq-layout", false, "keep the enqueue fast path and the worker's fetcher, which write asynq v0.26.0's Redis layout directly, even when the linked asynq is another version (by default they then fall back to asynq's Client and processor, with a warning)")
}

// defaultRedis is used by the fleet commands when neither --redis nor
// REQFLEET_REDIS is given.
const defaultRedis = "redis://127.0.0.1:6379"

func isInputError(err error) bool {
	var le *enqueuer.LineError
	return errors.As(err, &le)
}

// newFlags makes a subcommand's flag set; its errors go to a.stderr. The
// notes are printed in its help between the usage line and the flags.
func (a *app) newFlags(name, usage string, notes ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: reqfleet %s %s\n\n", name, usage)
		for _, n := range notes {
			fmt.Fprintf(a.stderr, "%s\n\n", n)
		}
		fmt.Fprintln(a.stderr, "flags:")
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
	redisURL     string
	redisCluster string // host:port,... of a Redis Cluster, instead of redisURL
	redisUser    string // the cluster's credentials, from the environment
	redisPass    string
	queue        string
	logFormat    string
	logLevel     string

	redisCA       string       // PEM CAs trusted for rediss:// (--redis-ca, $REQFLEET_REDIS_CA)
	redisRetryFor durationFlag // how long Redis calls are tried again while Redis is away
	redisWait     durationFlag // how long to wait for Redis at start; a command may set its default before registering
}

func (a *app) commonFlags(fs *flag.FlagSet, c *common, redisHelp string) {
	a.commonFlagsLevel(fs, c, redisHelp, "warn") // the command prints what it did itself
}

func (a *app) commonFlagsLevel(fs *flag.FlagSet, c *common, redisHelp, level string) {
	fs.StringVar(&c.redisURL, "redis", a.getenv("REQFLEET_REDIS"), redisHelp)
	fs.StringVar(&c.redisCluster, "redis-cluster", a.getenv("REQFLEET_REDIS_CLUSTER"),
		"Redis Cluster seed nodes host:port,... instead of --redis (default $REQFLEET_REDIS_CLUSTER; credentials from $REQFLEET_REDIS_USERNAME and $REQFLEET_REDIS_PASSWORD)")
	c.redisUser, c.redisPass = a.getenv("REQFLEET_REDIS_USERNAME"), a.getenv("REQFLEET_REDIS_PASSWORD")
	fs.StringVar(&c.queue, "queue", "default", "queue name")
	fs.StringVar(&c.logFormat, "log-format", "", "log format: text or json (default text on a terminal, json otherwise)")
	fs.StringVar(&c.logLevel, "log-level", level, "log level: debug, info, warn, error")
	fs.StringVar(&c.redisCA, "redis-ca", a.getenv("REQFLEET_REDIS_CA"), "PEM file of CA certificates to trust for rediss:// besides the system's (default $REQFLEET_REDIS_CA)")
	c.redisRetryFor = durationFlag(redisretry.DefaultFor)
	fs.Var(&c.redisRetryFor, "redis-retry-for", "while Redis is unreachable or restarting, keep trying (with backoff) this long before failing")
	if c.redisWait == 0 {
		c.redisWait = durationFlag(10 * time.Second)
	}
	fs.Var(&c.redisWait, "redis-wait", "how long to wait for Redis to answer at start")
}

func (c *common) check(fs *flag.FlagSet) error {
	if err := tasks.ValidateQueue(c.queue); err != nil {
		return usageErr(fs, "--queue: %v", err)
	}
	if c.redisCluster != "" {
		redisGiven := false
		fs.Visit(func(f *flag.Flag) { redisGiven = redisGiven || f.Name == "redis" })
		if redisGiven {
			return usageErr(fs, "give --redis or --redis-cluster, not both")
		}
		if _, err := redisconn.ParseClusterAddrs(c.redisCluster); err != nil {
			return usageErr(fs, "--redis-cluster: %v", err)
		}
		c.redisURL = "" // $REQFLEET_REDIS gives way to the cluster
	} else if _, err := redisconn.ConnOpt(c.redisURLOrDefault(), 0); err != nil {
		return usageErr(fs, "--redis: %v", err)
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

// cluster is the Redis Cluster of --redis-cluster, once check has passed.
func (c *common) cluster() redisconn.Cluster {
	addrs, _ := redisconn.ParseClusterAddrs(c.redisCluster)
	return redisconn.Cluster{Addrs: addrs, Username: c.redisUser, Password: c.redisPass}
}

// connOpt is the asynq connection option of the fleet's Redis, for parts
// that open their own connections (the web UI).
func (c *common) connOpt(poolSize int) (asynq.RedisConnOpt, error) {
	if c.redisCluster != "" {
		return redisconn.ClusterConnOpt(c.cluster()), nil
	}
	opt, err := redisconn.ConnOpt(c.redisURLOrDefault(), poolSize)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	return opt, nil
}

// redisName names the fleet's Redis in messages, without a password.
func (c *common) redisName() string {
	if c.redisCluster != "" {
		return "--redis-cluster " + c.redisCluster
	}
	return "--redis " + redisconn.Redact(c.redisURLOrDefault())
}

// connect opens the fleet's Redis: the cluster of --redis-cluster, or the
// URL of --redis (defaultRedis when no URL is given).
func (c *common) connect(poolSize int) (redis.UniversalClient, error) {
	if c.redisCluster != "" {
		rdb, err := redisconn.OpenCluster(c.cluster(), poolSize)
		if err != nil {
			return nil, fmt.Errorf("--redis-cluster: %w", err)
		}
		return rdb, nil
	}
	u := c.redisURL
	if u == "" {
		u = defaultRedis
	}
	rdb, err := redisconn.OpenURL(u, redisconn.URLOptions{PoolSize: poolSize, CAFile: c.redisCA})
	switch {
	case errors.Is(err, redisconn.ErrCA):
		return nil, fmt.Errorf("%w: --redis-ca: %w", errUsage, err)
	case errors.Is(err, redisconn.ErrURL):
		return nil, fmt.Errorf("%w: --redis: %w", errUsage, err)
	case err != nil:
		return nil, fmt.Errorf("--redis: %w", err)
	}
	return rdb, nil
}

// retryFor is --redis-retry-for for the library configs: 0 there is the
// default, here no retry.
func (c *common) retryFor() time.Duration {
	if c.redisRetryFor == 0 {
		return -1
	}
	return time.Duration(c.redisRetryFor)
}

// open connects and waits for Redis to answer, up to --redis-wait, so that a
// wrong or dead Redis fails at once, in one line, rather than after
// --redis-retry-for.
func (c *common) open(ctx context.Context, poolSize int, log *slog.Logger) (redis.UniversalClient, error) {
	rdb, err := c.connect(poolSize)
	if err != nil {
		return nil, err
	}
	if err := waitRedis(ctx, rdb, time.Duration(c.redisWait), log.Warn); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("%s: %w", c.redisName(), err)
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
