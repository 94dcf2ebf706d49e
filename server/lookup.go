package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/reqfleet/reqfleet/outcomes"
)

// The dashboard's lookup of a job by its id, in one file so that it can
// be swapped for GET /v1/jobs/{id} once that route is served: the
// dashboard calls /dashboard/lookup and shows what comes back.

// lookupScan caps the entries of each list a lookup reads, newest first.
const lookupScan = 200_000

// Lookup is a job's outcomes found, newest first, each as the dashboard
// shows outcomes (redacted, the body cut).
type Lookup struct {
	Queue    string           `json:"queue"`
	ID       string           `json:"id"`
	Outcomes []map[string]any `json:"outcomes"`
	Scanned  int64            `json:"scanned"`           // entries read
	Partial  bool             `json:"partial,omitempty"` // a list is longer than the lookup reads
}

func (s *Server) getLookup(w http.ResponseWriter, r *http.Request) {
	queue, err := s.queue(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > 1024 {
		writeError(w, http.StatusBadRequest, apiError{Error: "id: give a job id (at most 1024 bytes)"})
		return
	}
	lk, err := s.lookupJob(r.Context(), queue, id)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "look up a job", slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, apiError{Error: "looking the job up failed: Redis: try again later"})
		return
	}
	if len(lk.Outcomes) == 0 {
		writeJSON(w, http.StatusNotFound, lk)
		return
	}
	writeJSON(w, http.StatusOK, lk)
}

// lookupJob reads the results and exceptions lists from the newest entry
// back, up to lookupScan entries each, for the outcomes of job id.
func (s *Server) lookupJob(ctx context.Context, queue, id string) (Lookup, error) {
	lk := Lookup{Queue: queue, ID: id, Outcomes: []map[string]any{}}
	q, _ := json.Marshal(id)
	tag := `"id":` + string(q) // outcomes are written with their id first
	const chunk = 1000
	for _, kind := range []outcomes.Kind{outcomes.Results, outcomes.Exceptions} {
		for end := int64(-1); -end <= lookupScan; end -= chunk {
			entries, err := s.readers[queue].Range(ctx, kind, end-chunk+1, end)
			if err != nil {
				return lk, err
			}
			lk.Scanned += int64(len(entries))
			for i := len(entries) - 1; i >= 0; i-- {
				e := entries[i]
				if !strings.Contains(e, tag) {
					continue
				}
				o, err := viewOutcome([]byte(e), outcomeBodyCap)
				if err != nil || o["id"] != id {
					continue
				}
				lk.Outcomes = append(lk.Outcomes, o)
			}
			if len(entries) < chunk {
				break
			}
			if -(end - chunk) > lookupScan {
				lk.Partial = true
			}
		}
	}
	return lk, nil
}
