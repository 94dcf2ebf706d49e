package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/reqfleet/reqfleet/httpexec"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
)

// Receipt is the answer to POST /v1/jobs.
type Receipt struct {
	Batch    string   `json:"batch"`
	Queue    string   `json:"queue"`
	Accepted int      `json:"accepted"`
	IDs      []string `json:"ids"`                     // the jobs' ids, in input order, up to MaxIDs
	More     bool     `json:"ids_truncated,omitempty"` // more jobs than ids listed
}

// BatchStatus is the answer to GET /v1/batches/{id}.
type BatchStatus struct {
	outcomes.BatchStatus
	Queue    string `json:"queue"`
	Expected int64  `json:"expected"` // jobs known so far: total once sealed
	Complete bool   `json:"complete"` // every job has its outcome
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// queue is the request's ?queue=, one of the configured queues.
func (s *Server) queue(r *http.Request) (string, error) {
	q := r.URL.Query().Get("queue")
	if q == "" {
		return s.cfg.Queues[0], nil
	}
	if _, ok := s.enq[q]; !ok {
		return "", fmt.Errorf("queue %q is not served here (serve --queues): %s", q, strings.Join(s.cfg.Queues, ", "))
	}
	return q, nil
}

// Body formats of POST /v1/jobs.
var jsonlTypes = map[string]bool{
	"application/x-ndjson": true, "application/ndjson": true, "application/jsonl": true,
	"application/x-jsonl": true, "application/jsonlines": true, "application/x-jsonlines": true,
}

// postJobs enqueues one job (application/json) or many (JSONL) as one
// batch. The whole body is checked before anything is enqueued: a bad job
// is a 400 naming its line and field, and nothing of the body is queued.
func (s *Server) postJobs(w http.ResponseWriter, r *http.Request) {
	queue, err := s.queue(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	retries, bad := retriesParam(r.URL.Query()) // retries.go
	if bad != nil {
		writeError(w, http.StatusBadRequest, *bad)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !jsonlTypes[mt]) {
		writeError(w, http.StatusUnsupportedMediaType, apiError{
			Error: "Content-Type must be application/json (one job) or application/x-ndjson (JSONL: one job a line)"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, apiError{
				Error: fmt.Sprintf("body larger than %d bytes (serve --max-request-body): split it into several requests", s.cfg.MaxBody)})
			return
		}
		writeError(w, http.StatusBadRequest, apiError{Error: "reading the body: " + err.Error()})
		return
	}

	jobs := jsonlJobs(body)
	if mt == "application/json" {
		jobs = oneJob(body)
	}
	// First pass: check every job, as the worker will, and count them.
	n, bad := s.check(jobs)
	if bad != nil {
		writeError(w, http.StatusBadRequest, *bad)
		return
	}
	if n == 0 {
		writeError(w, http.StatusBadRequest, apiError{Error: "no job in the body"})
		return
	}

	// Second pass: enqueue. The jobs get their ids here, so the answer can
	// list them. A client gone away does not stop it: what was checked is
	// enqueued whole (or the batch says how much was).
	rec := Receipt{Queue: queue, IDs: make([]string, 0, min(n, s.cfg.MaxIDs))}
	withIDs := func(yield func(tasks.Job, error) bool) {
		for it := range jobs {
			if it.err != nil { // checked above: does not happen
				yield(tasks.Job{}, it.err)
				return
			}
			if it.job.ID == "" {
				it.job.ID = uuid.NewString()
			}
			_ = it.job.DefaultRetries(retries) // a decoded job: cannot fail
			if len(rec.IDs) < s.cfg.MaxIDs {
				rec.IDs = append(rec.IDs, it.job.ID)
			} else {
				rec.More = true
			}
			if !yield(it.job, nil) {
				return
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Minute)
	defer cancel()
	receipt, err := s.enq[queue].EnqueueMany(ctx, withIDs)
	if receipt.Accepted > 0 {
		s.accepted.WithLabelValues(queue).Add(float64(receipt.Accepted))
	}
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "enqueue failed", slog.String("queue", queue),
			slog.String("batch", receipt.Batch), slog.Int("accepted", receipt.Accepted), slog.Any("err", err))
		e := apiError{Error: "enqueue failed: Redis: try again later"}
		if receipt.Batch != "" {
			e.Batch, e.Accepted = receipt.Batch, &receipt.Accepted
		}
		writeError(w, http.StatusServiceUnavailable, e)
		return
	}
	rec.Batch, rec.Accepted = receipt.Batch, receipt.Accepted
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "jobs enqueued", slog.String("queue", queue),
		slog.String("batch", rec.Batch), slog.Int("accepted", rec.Accepted))
	w.Header().Set("Location", "/v1/batches/"+url.PathEscape(rec.Batch)+"?queue="+url.QueryEscape(queue))
	writeJSON(w, http.StatusAccepted, rec)
}

// item is one job of a request body, or why it is not one.
type item struct {
	line int // 1-based line of a JSONL body; 0 for a single job
	job  tasks.Job
	err  error
}

// check runs over the jobs and returns how many there are, or the first
// bad one: not a job, an id used twice, a refused URL.
func (s *Server) check(jobs iter.Seq[item]) (int, *apiError) {
	n := 0
	ids := map[string]int{}
	for it := range jobs {
		n++
		where := "the job"
		if it.line > 0 {
			where = "line " + strconv.Itoa(it.line)
		}
		if it.err != nil {
			e := apiError{Error: where + ": " + it.err.Error(), Line: it.line}
			var fe *tasks.FieldError
			if errors.As(it.err, &fe) {
				e.Field = fe.Field
			}
			return n, &e
		}
		if id := it.job.ID; id != "" {
			if first, dup := ids[id]; dup {
				return n, &apiError{Error: fmt.Sprintf("%s: id %q is on line %d too: ids must be unique in a request", where, id, first),
					Field: "id", Line: it.line}
			}
			ids[id] = it.line
		}
		if !s.cfg.AllowPrivate {
			if why := privateURL(it.job.URL); why != "" {
				return n, &apiError{Error: fmt.Sprintf("%s: field \"url\": %s: refused (serve --allow-private-urls)", where, why),
					Field: "url", Line: it.line}
			}
		}
	}
	return n, nil
}

// jsonlJobs reads a JSONL body, up to its first bad line.
func jsonlJobs(body []byte) iter.Seq[item] {
	return func(yield func(item) bool) {
		line := 0
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, len(body)+1)
		for sc.Scan() {
			line++
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 {
				continue
			}
			job, err := tasks.DecodeJob(text)
			if !yield(item{line, job, err}) || err != nil {
				return
			}
		}
	}
}

// oneJob reads a body of one JSON job.
func oneJob(body []byte) iter.Seq[item] {
	return func(yield func(item) bool) {
		text := bytes.TrimSpace(body)
		if len(text) > 0 && text[0] == '[' {
			yield(item{err: errors.New("a JSON array: send one job as application/json, or many as application/x-ndjson, one a line")})
			return
		}
		job, err := tasks.DecodeJob(text)
		yield(item{job: job, err: err})
	}
}

// getBatch answers a batch's progress; 404 when Redis has no such batch.
func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) {
	queue, err := s.queue(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	id := r.PathValue("id")
	st, err := s.readers[queue].Batch(r.Context(), id)
	switch {
	case errors.Is(err, outcomes.ErrNoBatch):
		writeError(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("no batch %q in queue %q (batches expire after 7 days)", id, queue)})
		return
	case err != nil:
		s.log.LogAttrs(r.Context(), slog.LevelError, "read batch", slog.String("batch", id), slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, apiError{Error: "reading the batch failed: Redis: try again later"})
		return
	}
	writeJSON(w, http.StatusOK, BatchStatus{BatchStatus: st, Queue: queue, Expected: st.Expected(), Complete: st.Complete()})
}

// getResults streams a list as JSONL, oldest first:
// ?kind=results|exceptions (default results), &batch=ID, &limit=N (0: all).
func (s *Server) getResults(w http.ResponseWriter, r *http.Request) {
	queue, err := s.queue(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	q := r.URL.Query()
	kind := outcomes.Results
	switch q.Get("kind") {
	case "", "results", "responses":
	case "exceptions":
		kind = outcomes.Exceptions
	default:
		writeError(w, http.StatusBadRequest, apiError{Error: "kind must be results or exceptions"})
		return
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			writeError(w, http.StatusBadRequest, apiError{Error: "limit must be a whole number, 0 or more (0: all)"})
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	bw := bufio.NewWriterSize(w, 64<<10)
	rc := http.NewResponseController(w)
	n := 0
	started := false
	for line, err := range s.readers[queue].Lines(r.Context(), kind, outcomes.ReadOptions{Batch: q.Get("batch")}) {
		if err != nil {
			if r.Context().Err() != nil {
				return // the client went away
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "read outcomes", slog.Any("err", err))
			if !started {
				writeError(w, http.StatusServiceUnavailable, apiError{Error: "reading outcomes failed: Redis: try again later"})
			}
			// Past the first line the status is sent: the stream ends short.
			break
		}
		started = true
		bw.Write(line)
		bw.WriteByte('\n')
		n++
		if limit > 0 && n >= limit {
			break
		}
		if n%500 == 0 {
			bw.Flush()
			_ = rc.Flush()
		}
	}
	bw.Flush()
}

// privateURL says why a job's URL is refused: its host is localhost, or
// an address that the workers' --deny-private refuses (loopback, private,
// link-local, unspecified, shared, multicast, reserved), in any form the
// dialer would read (127.1, 0x7f000001, 2130706433, [::127.0.0.1],
// [64:ff9b::7f00:1], [2002:7f00:1::], ...). The URL is read as the worker
// reads it, so one that url.Parse refuses but the worker sends is checked
// too. Names that resolve to such addresses are the worker's to refuse
// (with its deny-private option).
func privateURL(raw string) string {
	u, err := httpexec.ParseJobURL(raw)
	if err != nil {
		return "" // the worker turns it into an exception, sending nothing
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "host " + host + " is this machine"
	}
	if why := httpexec.DeniedHost(host); why != "" {
		return "address " + host + " is " + why
	}
	return ""
}
