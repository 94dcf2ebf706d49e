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
	headers headerFlag // -H (enqueue), set on every job without that header
	maxLine sizeFlag
	retries retryFlags // the policy of jobs without one (retryflags.go)
}

func (f *inputFlags) register(fs *flag.FlagSet, withHeaders bool) {
	f.maxLine = 16 << 20
	fs.StringVar(&f.format, "format", "auto", use("format", ": jsonl (one job a line), urls (one URL a line; blank lines and # comments skipped), or auto: by the file's extension (.jsonl, .json, .ndjson; .txt, .urls), else jsonl when the first line starts with {"))
	fs.BoolVar(&f.urls, "urls", false, use("urls"))
	fs.StringVar(&f.method, "method", "GET", use("method"))
	if withHeaders {
		fs.Var(&f.headers, "H", use("H", " (set on the jobs as they are enqueued)"))
	}
	fs.Var(&f.maxLine, "max-line", use("max-line"))
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
			} else {
				j = withHeaders(j, f.headers.h)
			}
			if !yield(j, err) {
				return
			}
		}
	}, nil
}

// withHeaders adds to a job the headers of -H it does not set itself (as a
// value, or null to remove it), as a session's default headers are added
// to a request's: names compared as HTTP compares them.
func withHeaders(j tasks.Job, h http.Header) tasks.Job {
	if len(h) == 0 {
		return j
	}
	own := map[string]bool{}
	for k := range j.Headers {
		own[http.CanonicalHeaderKey(k)] = true
	}
	for _, k := range j.RemoveHeaders {
		own[http.CanonicalHeaderKey(k)] = true
	}
	merged := make(map[string]string, len(j.Headers)+len(h))
	for k, v := range j.Headers {
		merged[k] = v
	}
	added := false
	for k, v := range h {
		if !own[http.CanonicalHeaderKey(k)] {
			merged[k] = strings.Join(v, ", ")
			added = true
		}
	}
	if added {
		j.Headers = merged // a new map: the job's kept form is not written back for a changed job
	}
	return j
}

// concurrencyFlags registers --concurrency and its short -c, one value:
// jobs at once in this process (in bench, in each worker process).
func concurrencyFlags(fs *flag.FlagSet, p *int, def int, more string) {
	fs.IntVar(p, "concurrency", def, use("concurrency", ": jobs at once in one process, one HTTP session each", more))
	fs.IntVar(p, "c", def, "short for --concurrency")
}

// quietFlag registers --quiet and its short -q, one value.
func quietFlag(fs *flag.FlagSet) *bool {
	q := fs.Bool("quiet", false, use("quiet"))
	fs.BoolVar(q, "q", false, "short for --quiet")
	return q
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
	concurrencyFlags(fs, &h.concurrency, 0, " (default: number of CPUs)")
	fs.Var(&h.headers, "H", use("H", " (a default header of every session)"))
	fs.StringVar(&h.basicAuthEnv, "basic-auth-env", "", use("basic-auth-env"))
	fs.StringVar(&h.bearerEnv, "bearer-env", "", use("bearer-env"))
	fs.Var(&h.timeout, "timeout", use("timeout", " (default 30)"))
	fs.Var(&h.jobTimeout, "job-timeout", use("job-timeout", " (default 5m)"))
	fs.Var(&h.maxBody, "max-body", use("max-body"))
	h.caps.register(fs)
	fs.StringVar(&h.proxy, "proxy", "", use("proxy", " (default: HTTP_PROXY/HTTPS_PROXY/NO_PROXY from the environment)"))
	fs.BoolVar(&h.insecure, "insecure", false, use("insecure"))
	fs.StringVar(&h.userAgent, "user-agent", "", use("user-agent", " (default reqfleet/1)"))
	fs.BoolVar(&h.denyPrivate, "deny-private", false, use("deny-private", ", checked on the address dialed; such jobs become DeniedAddress exceptions"))
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
	fs.Var(&c.headerBytes, "max-header-bytes", use("max-header-bytes", "; headers past it are left out and marked headers_truncated"))
	fs.Var(&c.responseHeader, "max-response-headers", use("max-response-headers", "; a larger one is a ConnectionError"))
	fs.IntVar(&c.history, "max-history", c.history, use("max-history", "; later ones are left out and marked history_truncated"))
	fs.Var(&c.historyHeaders, "max-history-headers", use("max-history-headers"))
	fs.Var(&c.outcome, "max-outcome", use("max-outcome", "; past it the history, the headers then the body are cut and marked (default --max-body + 1MiB)"))
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
