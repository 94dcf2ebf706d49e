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

// One flag name has one meaning in every subcommand. flagMeanings holds,
// for each name any subcommand has, that meaning (the start of its help
// everywhere, which use gives) and the kind of value it takes; a short
// name is an alias of a long one, the same flag.Value. TestFlagsOneMeaning
// builds every subcommand's flags and fails on a flag not listed here, of
// another kind, whose help does not start with the meaning, or a short
// name that is not its long flag.
//
// To add a flag: add its name here (kind, meaning in a few words, in the
// order of the list), and register it with use(name) as its help, or
// use(name, " (more for this subcommand)"), which appends to the meaning:
//
//	"max-widgets": {kind: "int", text: "most widgets a job may hold"},
//	fs.IntVar(&n, "max-widgets", 8, use("max-widgets", "; 0 for none"))
//
// A name that would mean something else in another subcommand (a time in
// one, a count in another) needs a name of its own; a renamed flag goes in
// renamedFlags (flaghelp.go), so its old spelling names the new one.
type meaning struct {
	kind  string // bool, string, int, int64, float64, duration, size, header, timeout (see flagKind)
	text  string // what it means, the start of its help in every subcommand
	alias string // a short name's long flag
}

var flagMeanings = map[string]meaning{
	// Redis and logging (commonFlags).
	"redis":           {kind: "string", text: "Redis URL"},
	"redis-cluster":   {kind: "string", text: "Redis Cluster seed nodes host:port,... instead of --redis"},
	"redis-ca":        {kind: "string", text: "PEM file of CA certificates to trust for rediss:// besides the system's"},
	"redis-retry-for": {kind: "duration", text: "while Redis is unreachable or restarting, keep trying (with backoff) this long before failing"},
	"redis-wait":      {kind: "duration", text: "how long to wait for Redis to answer at start"},
	"queue":           {kind: "string", text: "queue name"},
	"queues":          {kind: "string", text: "the queues served, comma-separated"},
	"log-format":      {kind: "string", text: "log format: text or json"},
	"log-level":       {kind: "string", text: "log level: debug, info, warn, error"},

	// Output.
	"json":  {kind: "bool", text: "print JSON on stdout"},
	"quiet": {kind: "bool", text: "no progress on stderr"},
	"q":     {kind: "bool", alias: "quiet"},
	"out":   {kind: "string", text: "directory for results.jsonl and exceptions.jsonl"},

	// Job input (run, enqueue).
	"format":   {kind: "string", text: "input format"},
	"urls":     {kind: "bool", text: "short for --format urls"},
	"method":   {kind: "string", text: "with --urls: the method of every job"},
	"max-line": {kind: "size", text: "longest input line accepted"},
	"H":        {kind: "header", text: "a header sent with every job's request, \"Name: value\" (repeatable); a job's own header of that name wins"},

	// Automatic retries of jobs without a "retries" of their own (run, enqueue; retryflags.go).
	"retries":       {kind: "int", text: "retry each job without a \"retries\" of its own up to N times, as urllib3's Retry(N) (0: no automatic retry, as requests)"},
	"retry-on":      {kind: "string", text: "with --retries: retry on these status codes and exception types only, e.g. 429,503,ConnectionError"},
	"retry-backoff": {kind: "float64", text: "with --retries: urllib3's backoff_factor, seconds"},

	// Sessions and requests (run, worker).
	"concurrency":          {kind: "int", text: "requests at once"}, // a process's sessions; limits set: a host's, fleet-wide
	"c":                    {kind: "int", alias: "concurrency"},
	"basic-auth-env":       {kind: "string", text: "name of an environment variable holding user:password for every session's basic auth"},
	"bearer-env":           {kind: "string", text: "name of an environment variable holding a bearer token sent as Authorization by every session"},
	"timeout":              {kind: "timeout", text: "default request timeout of jobs without one: seconds, or connect,read seconds"},
	"job-timeout":          {kind: "duration", text: "total time one job may take, redirects and body included"},
	"max-body":             {kind: "size", text: "longest response body kept; longer ones are cut and marked truncated"},
	"max-header-bytes":     {kind: "size", text: "header bytes kept of one response or redirect"},
	"max-response-headers": {kind: "size", text: "largest status line and headers read of one response"},
	"max-history":          {kind: "int", text: "redirects kept in an outcome's history"},
	"max-history-headers":  {kind: "size", text: "header bytes kept over all of an outcome's history"},
	"max-outcome":          {kind: "size", text: "largest outcome, as JSON without its request"},
	"proxy":                {kind: "string", text: "proxy URL for every request"},
	"insecure":             {kind: "bool", text: "do not verify TLS certificates (requests' verify=False)"},
	"user-agent":           {kind: "string", text: "User-Agent of requests without one"},
	"deny-private":         {kind: "bool", text: "refuse to connect to loopback, private, link-local (cloud metadata), shared, multicast and reserved addresses"},

	// Enqueueing and waiting.
	"wait":          {kind: "bool", text: "wait until every job has its outcome, showing progress"},
	"max-retry":     {kind: "int", text: "times asynq may run a job again after its worker was lost"},
	"give-up-after": {kind: "duration", text: "stop waiting after this long"},
	"no-worker":     {kind: "bool", text: "with --redis: only enqueue and wait, leave the work to the fleet's workers"},

	// Outcome lists (results, exceptions, retry).
	"batch":   {kind: "string", text: "only this batch's entries"},
	"pop":     {kind: "bool", text: "remove what is printed"},
	"follow":  {kind: "bool", text: "keep printing new entries until interrupted"},
	"dry-run": {kind: "bool", text: "print the exceptions that would be retried (JSONL), move nothing"},
	"type":    {kind: "string", text: "only exceptions of this type"},
	"batches": {kind: "int64", text: "how many recent batches to show"},

	// Workers (worker; bench passes them on).
	"shutdown-timeout":    {kind: "duration", text: "on SIGINT/SIGTERM, how long the work in flight may take"},
	"strict-priority":     {kind: "bool", text: "drain higher-priority queues before lower ones"},
	"name":                {kind: "string", text: "worker name recorded in outcomes"},
	"fetch-batch":         {kind: "int", text: "most jobs a worker takes in one Redis call"},
	"prefetch":            {kind: "int", text: "jobs a worker holds beyond its sessions, taken ahead; -1 for none"},
	"asynq-processor":     {kind: "bool", text: "run jobs through asynq's own processor instead of the fetcher"},
	"force-asynq-layout":  {kind: "bool", text: "keep the enqueue fast path and the worker's fetcher, which write asynq v0.26.0's Redis layout directly, even when the linked asynq is another version (by default they then fall back to asynq's Client and processor, with a warning)"},
	"shards":              {kind: "int", text: "asynq servers in a worker process, sharing its sessions"},
	"record-batch":        {kind: "int", text: "most outcomes a worker records in one Redis call"},
	"record-linger":       {kind: "duration", text: "how long, under load, a worker's record call waits for more outcomes to fill it"},
	"task-check-interval": {kind: "duration", text: "how often an idle worker polls the queues"},
	"lease":               {kind: "duration", text: "how long the worker holds a job unless it renews the lease"},
	"lease-renew":         {kind: "duration", text: "how often the leases of the jobs held are renewed"},
	"recover-every":       {kind: "duration", text: "how often (jittered) the worker requeues the jobs of its queues whose lease ended"},
	"max-crashes":         {kind: "int", text: "times a job's workers may be lost (crashed, killed) while holding it"},
	"max-retry-after":     {kind: "duration", text: "cap on a Retry-After honoured"},
	"default-rate":        {kind: "string", text: "rate limit of each host without a limit of its own (reqfleet limits), fleet-wide"},
	"default-concurrency": {kind: "int", text: "concurrency limit of each host without a limit of its own, fleet-wide"},
	"auto-throttle":       {kind: "bool", text: "adaptive throttling of every limited host: its rate follows its latency and backs off on 429, 503 and timeouts, shared by the fleet"},

	// Per-host limits (limits set).
	"rate":         {kind: "string", text: "requests a period to the host, fleet-wide: 20/s, 300/m, 1000/h or N/<duration>"},
	"burst":        {kind: "int", text: "requests at once to the host beyond its rate"},
	"auto":         {kind: "bool", text: "adaptive throttling for the host: its rate follows its latency and its 429/503s (--rate is then the most)"},
	"cpuprofile":   {kind: "string", text: "write a CPU profile of the worker process to this file, from start to shutdown (pprof format)"},
	"inbox":        {kind: "bool", text: "forward JSON jobs LPUSHed onto reqfleet:{QUEUE}:inbox into each queue"},
	"metrics-addr": {kind: "string", text: "serve Prometheus /metrics and /healthz on this address"},

	// serve.
	"addr":               {kind: "string", text: "listen address (host:port; :8080 for every interface)"},
	"max-request-body":   {kind: "size", text: "largest POST /v1/jobs body"},
	"max-ids":            {kind: "int", text: "job ids listed in a POST /v1/jobs answer at most"},
	"allow-private-urls": {kind: "bool", text: "accept jobs whose URL host is localhost or a private, loopback or link-local IP literal"},
	"no-ui":              {kind: "bool", text: "do not mount the asynqmon web UI at /ui/"},
	"ui-readonly":        {kind: "bool", text: "the web UI only shows: no delete, run, archive or pause"},

	// bench.
	"n":                 {kind: "int", text: "jobs a round"},
	"workers":           {kind: "int", text: "worker processes"},
	"rounds":            {kind: "int", text: "ceiling/reqfleet round pairs"},
	"body":              {kind: "int", text: "bytes of the target's response body"},
	"idle-probes":       {kind: "int", text: "jobs enqueued one at a time into the idle fleet, for the pickup latency"},
	"latency-jobs":      {kind: "int", text: "jobs of the paced latency phase"},
	"latency-rate":      {kind: "float64", text: "jobs/s of the latency phase"},
	"max-time":          {kind: "duration", text: "bound on the whole run"},
	"round-timeout":     {kind: "duration", text: "bound on one round"},
	"worker-gomaxprocs": {kind: "int", text: "GOMAXPROCS of the worker processes"},
	"in-process":        {kind: "bool", text: "run the workers and the enqueuer in the bench process, not as reqfleet processes"},
	"cpuprofile-dir":    {kind: "string", text: "directory where each worker process writes its CPU profile, worker-N.pprof (go tool pprof)"},
	"ceiling-of":        {kind: "string", text: "run only the ceiling's client against this URL (-n requests, -c clients) and print its rate as JSON: the bench runs its ceiling so, as a process of its own, to measure its CPU"},
}

// use is the help of flag name: its meaning in flagMeanings, then more.
func use(name string, more ...string) string {
	return flagMeanings[name].text + strings.Join(more, "")
}

// flagKind is the kind of value a flag takes, as flagMeanings names it.
func flagKind(v flag.Value) string {
	switch v.(type) {
	case *sizeFlag:
		return "size"
	case *durationFlag:
		return "duration"
	case *headerFlag:
		return "header"
	case *timeoutFlag:
		return "timeout"
	}
	if g, ok := v.(flag.Getter); ok {
		return fmt.Sprintf("%T", g.Get())
	}
	return fmt.Sprintf("%T", v)
}

// forceLayoutFlag registers --force-asynq-layout, of one meaning in worker,
// enqueue, run and bench: keep the enqueue fast path and the fetcher even
// when the linked asynq is not the version whose Redis layout they write
// (they then fall back to asynq's Client and processor, with a warning).
func forceLayoutFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("force-asynq-layout", false, use("force-asynq-layout"))
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
	// The flag package's own messages (an error, then every flag) are
	// not shown: parse returns one line, and -h prints the help below.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	help := func() {
		fmt.Fprintf(a.stderr, "usage: reqfleet %s %s\n\n", name, usage)
		for _, n := range notes {
			fmt.Fprintf(a.stderr, "%s\n\n", n)
		}
		fmt.Fprintln(a.stderr, "flags:")
		printFlags(a.stderr, fs)
	}
	a.helps = append(a.helps, flagHelp{fs, help})
	return fs
}

// flagHelp is a flag set made by newFlags and the help it prints on -h.
type flagHelp struct {
	fs   *flag.FlagSet
	help func()
}

// helpFor is the help function newFlags made for fs.
func (a *app) helpFor(fs *flag.FlagSet) func() {
	for _, h := range a.helps {
		if h.fs == fs {
			return h.help
		}
	}
	return func() {}
}

// parse parses flags anywhere among the arguments (`run jobs.jsonl --out x`
// works) and returns the positional arguments. -h prints the help; an
// unknown flag is one line naming the flag it may be a typo of.
func (a *app) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := unknownFlag(fs, args); err != nil {
		return nil, err
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.helpFor(fs)()
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %w (see reqfleet %s -h)", errUsage, fs.Name(), err, fs.Name())
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

// commonFlags registers the flags of every fleet command; redisHelp follows
// --redis's meaning ("Redis URL"), e.g. " (default $REQFLEET_REDIS)".
func (a *app) commonFlags(fs *flag.FlagSet, c *common, redisHelp string) {
	a.commonFlagsLevel(fs, c, redisHelp, "warn") // the command prints what it did itself
}

func (a *app) commonFlagsLevel(fs *flag.FlagSet, c *common, redisHelp, level string) {
	fs.StringVar(&c.redisURL, "redis", a.getenv("REQFLEET_REDIS"), use("redis", redisHelp))
	fs.StringVar(&c.redisCluster, "redis-cluster", a.getenv("REQFLEET_REDIS_CLUSTER"),
		use("redis-cluster", " (default $REQFLEET_REDIS_CLUSTER; credentials from $REQFLEET_REDIS_USERNAME and $REQFLEET_REDIS_PASSWORD)"))
	c.redisUser, c.redisPass = a.getenv("REQFLEET_REDIS_USERNAME"), a.getenv("REQFLEET_REDIS_PASSWORD")
	fs.StringVar(&c.queue, "queue", "default", use("queue"))
	fs.StringVar(&c.logFormat, "log-format", "", use("log-format", " (default text on a terminal, json otherwise)"))
	fs.StringVar(&c.logLevel, "log-level", level, use("log-level"))
	fs.StringVar(&c.redisCA, "redis-ca", a.getenv("REQFLEET_REDIS_CA"), use("redis-ca", " (default $REQFLEET_REDIS_CA)"))
	c.redisRetryFor = durationFlag(redisretry.DefaultFor)
	fs.Var(&c.redisRetryFor, "redis-retry-for", use("redis-retry-for"))
	if c.redisWait == 0 {
		c.redisWait = durationFlag(10 * time.Second)
	}
	fs.Var(&c.redisWait, "redis-wait", use("redis-wait", "; then fail naming the URL"))
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
// It prints as the largest unit that holds it whole: 1MiB, 512KiB, 1000.
type sizeFlag int64

func (f *sizeFlag) String() string {
	if f == nil {
		return "0"
	}
	n := int64(*f)
	for _, u := range []struct {
		name string
		m    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

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
		return nil, "", err // not a usage error: the command line was right (exit 1)
	}
	return f, pos[0], nil
}

// durationFlag accepts Go durations ("90s", "5m") or plain seconds ("90").
type durationFlag time.Duration

func (f *durationFlag) String() string {
	if f == nil {
		return "0s"
	}
	return time.Duration(*f).String()
}

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
