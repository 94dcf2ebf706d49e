package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/httpexec"
	"github.com/reqfleet/reqfleet/tasks"
	"github.com/reqfleet/reqfleet/worker"
)

// inputFlags choose how a job file is read.
type inputFlags struct {
	urls    bool
	format  string
	method  string
	headers headerFlag // with --urls, set on every job
	maxLine sizeFlag
	retries retryFlags // the policy of jobs without one (retryflags.go)
}

func (f *inputFlags) register(fs *flag.FlagSet, headerFlagName string) {
	f.maxLine = 16 << 20
	fs.StringVar(&f.format, "format", "auto", "input format: jsonl (one job a line), urls (one URL a line; blank lines and # comments skipped), or auto: by the file's extension (.jsonl, .json, .ndjson; .txt, .urls), else jsonl when the first line starts with {")
	fs.BoolVar(&f.urls, "urls", false, "short for --format urls")
	fs.StringVar(&f.method, "method", "GET", "with --urls: the method of every job")
	if headerFlagName != "" {
		fs.Var(&f.headers, headerFlagName, "with --urls: a header of every job, \"Name: value\" (repeatable)")
	}
	fs.Var(&f.maxLine, "max-line", "longest input line accepted (e.g. 16MiB)")
	f.retries.register(fs)
}

// inputNote is the help of run's and enqueue's FILE|- argument.
const inputNote = `A FILE is checked whole before any job is enqueued: a bad line (or an id used twice)
enqueues nothing, and exits 3 naming the file and line. The file is read twice, once
to check and once to enqueue, so that memory stays small however long it is.
"-" reads stdin as it comes: the jobs before a bad line are enqueued, and the error
says how many.`

// jobs reads the input; every error names the file and line. A regular
// file is read twice: a first pass checks every line and counts the jobs
// (n), holding nothing but the ids' hashes, then the jobs returned read it
// again from the start, so a bad line anywhere enqueues nothing. Other
// input (stdin, a pipe) is read once, as it comes, and n is -1.
func (f *inputFlags) jobs(ctx context.Context, fs *flag.FlagSet, r io.Reader, name string) (_ iter.Seq2[tasks.Job, error], n int, _ error) {
	file, ok := r.(*os.File)
	if st, err := file.Stat(); !ok || err != nil || !st.Mode().IsRegular() {
		seq, err := f.read(fs, r, name)
		return seq, -1, err
	}
	seq, err := f.read(fs, file, name)
	if err != nil {
		return nil, 0, err
	}
	for _, err := range seq {
		if err != nil {
			return nil, 0, fmt.Errorf("%w (nothing enqueued: the file is checked whole first)", err)
		}
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return nil, 0, fmt.Errorf("%w while checking %s: nothing enqueued", errInterrupted, name)
		}
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	seq, err = f.read(fs, file, name)
	return seq, n, err
}

// read is one pass over the input.
func (f *inputFlags) read(fs *flag.FlagSet, r io.Reader, name string) (iter.Seq2[tasks.Job, error], error) {
	format := f.format
	if f.urls {
		format = "urls"
	}
	switch format {
	case "auto":
		br := bufio.NewReaderSize(r, 64<<10)
		format, r = sniffFormat(name, br), br
	case "jsonl", "urls":
	default:
		return nil, usageErr(fs, "--format must be auto, jsonl or urls, not %q", f.format)
	}
	policy, err := f.retries.policy(fs)
	if err != nil {
		return nil, err
	}
	var seq iter.Seq2[tasks.Job, error]
	if format == "urls" {
		tmpl, err := tasks.DecodeJob(fmt.Appendf(nil, `{"url":"x","method":%q}`, f.method))
		if err != nil {
			return nil, usageErr(fs, "--method: %v", err)
		}
		for k, v := range f.headers.h {
			if tmpl.Headers == nil {
				tmpl.Headers = map[string]string{}
			}
			tmpl.Headers[k] = strings.Join(v, ", ")
		}
		seq = enqueuer.ReadURLs(r, tmpl, int(f.maxLine))
	} else {
		seq = enqueuer.ReadJSONL(r, int(f.maxLine))
	}
	seq = withRetries(seq, policy)
	return func(yield func(tasks.Job, error) bool) {
		for j, err := range seq {
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			if !yield(j, err) {
				return
			}
		}
	}, nil
}

// sniffFormat tells a URL list from JSONL: by the file's extension, else by
// the first byte that is not white space or a # comment line.
func sniffFormat(name string, br *bufio.Reader) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".json", ".ndjson":
		return "jsonl"
	case ".txt", ".urls", ".list":
		return "urls"
	}
	for n := 1; ; n++ {
		b, _ := br.Peek(n)
		if len(b) < n {
			return "jsonl" // empty input: either reads as nothing
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return "jsonl"
		default:
			return "urls"
		}
	}
}

// httpFlags are the session and request settings of workers (and run).
type httpFlags struct {
	concurrency  int
	headers      headerFlag
	basicAuthEnv string
	bearerEnv    string
	timeout      timeoutFlag
	jobTimeout   durationFlag
	maxBody      sizeFlag
	caps         capFlags
	proxy        string
	insecure     bool
	userAgent    string
	denyPrivate  bool
}

func (h *httpFlags) register(fs *flag.FlagSet) {
	h.maxBody = 1 << 20
	fs.IntVar(&h.concurrency, "concurrency", 0, "jobs at once, one HTTP session each (default: number of CPUs)")
	fs.IntVar(&h.concurrency, "c", 0, "short for --concurrency")
	fs.Var(&h.headers, "H", "a default header of every session, \"Name: value\" (repeatable); a job's own headers win")
	fs.StringVar(&h.basicAuthEnv, "basic-auth-env", "", "name of an environment variable holding user:password for every session's basic auth")
	fs.StringVar(&h.bearerEnv, "bearer-env", "", "name of an environment variable holding a bearer token sent as Authorization by every session")
	fs.Var(&h.timeout, "timeout", "default timeout of jobs without one: seconds, or connect,read seconds (default 30)")
	fs.Var(&h.jobTimeout, "job-timeout", "total time one job may take, redirects and body included (default 5m)")
	fs.Var(&h.maxBody, "max-body", "longest response body kept; longer ones are cut and marked truncated (e.g. 1MiB)")
	h.caps.register(fs)
	fs.StringVar(&h.proxy, "proxy", "", "proxy URL for every request (default: HTTP_PROXY/HTTPS_PROXY/NO_PROXY from the environment)")
	fs.BoolVar(&h.insecure, "insecure", false, "do not verify TLS certificates (requests' verify=False)")
	fs.StringVar(&h.userAgent, "user-agent", "", "User-Agent of requests without one (default reqfleet/1)")
	fs.BoolVar(&h.denyPrivate, "deny-private", false, "refuse to connect to loopback, private, link-local (cloud metadata), shared, multicast and reserved addresses, checked on the address dialed; such jobs become DeniedAddress exceptions")
}

// capFlags bound what one response may hold in memory and in its outcome.
type capFlags struct {
	headerBytes    sizeFlag
	responseHeader sizeFlag
	history        int
	historyHeaders sizeFlag
	outcome        sizeFlag
}

func (c *capFlags) register(fs *flag.FlagSet) {
	c.headerBytes, c.responseHeader, c.history, c.historyHeaders = 64<<10, 256<<10, 30, 256<<10
	fs.Var(&c.headerBytes, "max-header-bytes", "header bytes kept of one response or redirect; headers past it are left out and marked headers_truncated")
	fs.Var(&c.responseHeader, "max-response-headers", "largest status line and headers read of one response; a larger one is a ConnectionError")
	fs.IntVar(&c.history, "max-history", c.history, "redirects kept in an outcome's history; later ones are left out and marked history_truncated")
	fs.Var(&c.historyHeaders, "max-history-headers", "header bytes kept over all of an outcome's history")
	fs.Var(&c.outcome, "max-outcome", "largest outcome, as JSON without its request; past it the history, the headers then the body are cut and marked (default --max-body + 1MiB)")
}

func (c *capFlags) apply(fs *flag.FlagSet, cfg *worker.Config) error {
	if c.history < 1 || c.history > 30 {
		return usageErr(fs, "--max-history must be from 1 to 30")
	}
	if c.outcome != 0 && c.outcome < 4<<10 {
		return usageErr(fs, "--max-outcome must be at least 4KiB")
	}
	cfg.Exec.MaxHeaderBytes = int(c.headerBytes)
	cfg.Exec.MaxHistory = c.history
	cfg.Exec.MaxHistoryHeaderBytes = int(c.historyHeaders)
	cfg.Exec.MaxOutcome = int64(c.outcome)
	cfg.Session.MaxResponseHeaderBytes = int64(c.responseHeader)
	return nil
}

// apply puts the flags into a worker config. Secrets come from the
// environment only, never from argv, and are never logged.
func (h *httpFlags) apply(fs *flag.FlagSet, getenv func(string) string, cfg *worker.Config) error {
	if h.concurrency < 0 {
		return usageErr(fs, "--concurrency must be at least 1")
	}
	cfg.Concurrency = h.concurrency
	cfg.Exec.MaxBody = int64(h.maxBody)
	if err := h.caps.apply(fs, cfg); err != nil {
		return err
	}
	if h.timeout.t.Read != 0 || h.timeout.t.Connect != 0 {
		cfg.Exec.Timeout = h.timeout.t
	}
	cfg.Exec.JobTimeout = timeDuration(h.jobTimeout)
	cfg.Exec.UserAgent = h.userAgent
	cfg.Session.Insecure = h.insecure
	cfg.Session.DenyPrivate = h.denyPrivate
	if h.proxy != "" {
		u, err := url.Parse(h.proxy)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") {
			return usageErr(fs, "--proxy: want http://host:port, https://... or socks5://...")
		}
		cfg.Session.Proxy = u
	}
	if len(h.headers.h) > 0 {
		defaults := h.headers.h.Clone()
		cfg.Initializer = func(s *httpexec.Session) (*httpexec.Session, error) {
			if s.Header == nil {
				s.Header = http.Header{}
			}
			for k, v := range defaults {
				s.Header[k] = append([]string(nil), v...)
			}
			return s, nil
		}
	}
	var auth *tasks.Auth
	var bearer string
	if h.basicAuthEnv != "" {
		v := getenv(h.basicAuthEnv)
		user, pass, ok := strings.Cut(v, ":")
		if !ok {
			return usageErr(fs, "--basic-auth-env: $%s must hold user:password", h.basicAuthEnv)
		}
		auth = &tasks.Auth{User: user, Password: pass}
	}
	if h.bearerEnv != "" {
		bearer = getenv(h.bearerEnv)
		if bearer == "" || strings.ContainsAny(bearer, "\r\n\x00") {
			return usageErr(fs, "--bearer-env: $%s must hold a token on one line", h.bearerEnv)
		}
	}
	if auth != nil || bearer != "" {
		cfg.AuthGenerator = func(s *httpexec.Session) (*httpexec.Session, error) {
			if auth != nil {
				a := *auth
				s.Auth = &a
			}
			if bearer != "" {
				if s.Header == nil {
					s.Header = http.Header{}
				}
				s.Header.Set("Authorization", "Bearer "+bearer)
			}
			return s, nil
		}
	}
	return nil
}
