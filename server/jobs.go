package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/reqfleet/reqfleet/outcomes"
)

// getJob answers a job's state, and its outcome once recorded, by the
// job's id (not asynq's task id): ?batch=ID narrows the lookup to one
// batch, else the newest 100 batches are looked at (outcomes.Reader.Job).
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	queue, err := s.queue(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	id := r.PathValue("id")
	st, err := s.readers[queue].Job(r.Context(), id, outcomes.JobOptions{Batch: r.URL.Query().Get("batch")})
	switch {
	case errors.Is(err, outcomes.ErrNoJob):
		writeError(w, http.StatusNotFound, apiError{Error: fmt.Sprintf(
			"no job %q in queue %q: not in the newest %d batches, nor in the newest %d entries of its lists (?batch= looks in an older batch)",
			id, queue, outcomes.DefaultJobBatches, outcomes.DefaultJobScan)})
		return
	case err != nil:
		s.log.LogAttrs(r.Context(), slog.LevelError, "look up job", slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, apiError{Error: "looking up the job failed: Redis: try again later"})
		return
	}
	writeJSON(w, http.StatusOK, st)
}
