package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
)

// getJob answers a job's state, and its outcome once recorded, by the
// job's id (not asynq's task id): ?batch=ID narrows the lookup to one
// batch, else the newest 100 batches are looked at (outcomes.Reader.Job).
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.lookupJob(w, r, r.PathValue("id")); ok {
		writeJSON(w, http.StatusOK, st)
	}
}

// lookupJob is serve's one lookup of a job by its id, of ?queue= and
// ?batch=: GET /v1/jobs/{id} answers it as recorded, the dashboard's
// /dashboard/lookup redacted (lookup.go). When it fails it has answered the
// error (400, 404, 503) and returns false.
func (s *Server) lookupJob(w http.ResponseWriter, r *http.Request, id string) (outcomes.JobStatus, bool) {
	queue, err := s.queue(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return outcomes.JobStatus{}, false
	}
	if id == "" || len(id) > tasks.MaxIDLen {
		writeError(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("id: give a job id (1 to %d bytes)", tasks.MaxIDLen), Field: "id"})
		return outcomes.JobStatus{}, false
	}
	st, err := s.readers[queue].Job(r.Context(), id, outcomes.JobOptions{Batch: r.URL.Query().Get("batch")})
	switch {
	case errors.Is(err, outcomes.ErrNoJob):
		writeError(w, http.StatusNotFound, apiError{Error: fmt.Sprintf(
			"no job %q in queue %q: not in the newest %d batches, nor in the newest %d entries of its lists (?batch= looks in an older batch)",
			id, queue, outcomes.DefaultJobBatches, outcomes.DefaultJobScan)})
		return st, false
	case err != nil:
		s.log.LogAttrs(r.Context(), slog.LevelError, "look up job", slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, apiError{Error: "looking up the job failed: Redis: try again later"})
		return st, false
	}
	return st, true
}
