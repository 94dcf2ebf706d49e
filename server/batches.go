package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/reqfleet/reqfleet/outcomes"
)

// Paging of GET /v1/batches.
const (
	DefaultBatchesLimit = 20
	MaxBatchesLimit     = 200
)

// BatchLine is one batch of GET /v1/batches: its progress, and while it
// runs its mean rate since it was made and the time left at that rate.
type BatchLine struct {
	BatchStatus
	Rate float64  `json:"rate,omitempty"`  // outcomes a second since the batch was made
	ETA  *float64 `json:"eta_s,omitempty"` // seconds left at Rate
}

// Batches is the answer to GET /v1/batches.
type Batches struct {
	Queue   string      `json:"queue"`
	Batches []BatchLine `json:"batches"`
	Next    string      `json:"next_cursor,omitempty"` // ?cursor= of the next page; none after the last
}

// getBatches lists the queue's batches, newest first: ?limit= (default 20,
// at most 200) and ?cursor= (the next_cursor of the page before).
func (s *Server) getBatches(w http.ResponseWriter, r *http.Request) {
	queue, err := s.queue(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	limit := int64(DefaultBatchesLimit)
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.ParseInt(v, 10, 64); err != nil || limit < 1 || limit > MaxBatchesLimit {
			writeError(w, http.StatusBadRequest, apiError{Error: "limit must be a whole number from 1 to " + strconv.Itoa(MaxBatchesLimit)})
			return
		}
	}
	page, err := s.readers[queue].BatchesPage(r.Context(), limit, r.URL.Query().Get("cursor"))
	switch {
	case errors.Is(err, outcomes.ErrCursor):
		writeError(w, http.StatusBadRequest, apiError{Error: "cursor: not a next_cursor of GET /v1/batches"})
		return
	case err != nil:
		s.log.LogAttrs(r.Context(), slog.LevelError, "list batches", slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, apiError{Error: "listing the batches failed: Redis: try again later"})
		return
	}
	out := Batches{Queue: queue, Batches: make([]BatchLine, 0, len(page.Batches)), Next: page.Next}
	now := time.Now()
	for _, b := range page.Batches {
		out.Batches = append(out.Batches, batchLine(queue, b, now))
	}
	writeJSON(w, http.StatusOK, out)
}

// batchLine is b with its rate and time left, at now.
func batchLine(queue string, b outcomes.BatchStatus, now time.Time) BatchLine {
	l := BatchLine{BatchStatus: BatchStatus{BatchStatus: b, Queue: queue, Expected: b.Expected(), Complete: b.Complete()}}
	if l.Complete {
		return l
	}
	if secs := now.Sub(b.Created).Seconds(); secs > 0 && b.Done > 0 {
		l.Rate = float64(b.Done) / secs
		eta := float64(max(l.Expected-b.Done, 0)) / l.Rate
		l.ETA = &eta
	}
	return l
}
