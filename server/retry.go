package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/reqfleet/reqfleet/enqueuer"
)

// maxRetryBody caps a POST /v1/retry body.
const maxRetryBody = 64 << 10

// RetryRequest is the body of POST /v1/retry: what to send again, with the
// filters of `reqfleet retry`: one exception type, one batch, both, or all
// (All, alone: nothing is retried by an empty body).
type RetryRequest struct {
	Queue  string `json:"queue,omitempty"` // default: ?queue=, else the first served queue
	Batch  string `json:"batch,omitempty"`
	Type   string `json:"type,omitempty"`
	All    bool   `json:"all,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// RetryAnswer is the answer to POST /v1/retry: what the retry did.
type RetryAnswer struct {
	Queue     string `json:"queue"`
	DryRun    bool   `json:"dry_run,omitempty"`
	Retried   int    `json:"retried"`   // exceptions re-enqueued (or, dry run, that would be)
	Recovered int    `json:"recovered"` // entries a dead retry run left, finished first
	Skipped   int    `json:"skipped"`   // exceptions of other batches or types, left in place
	Invalid   int    `json:"invalid"`   // entries that cannot be retried, left in place
}

// retryLocks lets one retry run a queue at a time in this server, so that
// a second does not take over the first's entries in progress (the
// enqueuer's retry finishes a dead run's entries first). The zero value is
// ready.
type retryLocks struct {
	mu      sync.Mutex
	running map[string]bool
}

func (l *retryLocks) take(queue string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running[queue] {
		return false
	}
	if l.running == nil {
		l.running = map[string]bool{}
	}
	l.running[queue] = true
	return true
}

func (l *retryLocks) release(queue string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.running, queue)
}

// postRetry re-enqueues exceptions through the enqueuer's Retry, the code
// path of `reqfleet retry`, with its crash safety: each entry moves to the
// retrying list, is enqueued, then dropped from it, and a run that dies is
// finished by the next. The run goes on if the client goes away.
func (s *Server) postRetry(w http.ResponseWriter, r *http.Request) {
	var req RetryRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRetryBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: "body: " + err.Error() +
			`: send JSON such as {"type": "ConnectionError"}, {"batch": "ID"} or {"all": true}`})
		return
	}
	if req.Queue != "" {
		q := r.URL.Query()
		q.Set("queue", req.Queue)
		r.URL.RawQuery = q.Encode()
	}
	queue, err := s.queue(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	switch {
	case req.All && (req.Batch != "" || req.Type != ""):
		writeError(w, http.StatusBadRequest, apiError{Error: "all: true retries every exception; give it without batch and type"})
		return
	case !req.All && req.Batch == "" && req.Type == "":
		writeError(w, http.StatusBadRequest, apiError{Error: `nothing chosen: give "type", "batch" (or both), or "all": true`})
		return
	}
	if !s.retries.take(queue) {
		writeError(w, http.StatusConflict, apiError{Error: "a retry of queue " + queue + " is running: try again when it is done"})
		return
	}
	defer s.retries.release(queue)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Minute)
	defer cancel()
	rep, err := s.enq[queue].Retry(ctx, enqueuer.RetryOptions{DryRun: req.DryRun, Batch: req.Batch, Type: req.Type})
	ans := RetryAnswer{Queue: queue, DryRun: req.DryRun, Retried: rep.Retried, Recovered: rep.Recovered, Skipped: rep.Skipped, Invalid: rep.Invalid}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "retry", slog.String("queue", queue), slog.String("batch", req.Batch),
		slog.String("type", req.Type), slog.Bool("dry_run", req.DryRun), slog.Int("retried", rep.Retried), slog.Any("err", err))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			writeError(w, http.StatusServiceUnavailable, apiError{Error: "retry took over 10m and stopped: send it again to go on"})
			return
		}
		writeError(w, http.StatusServiceUnavailable, apiError{Error: "retry failed: Redis: send it again to go on (nothing is lost or doubled)"})
		return
	}
	writeJSON(w, http.StatusOK, ans)
}
