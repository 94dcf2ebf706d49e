package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"

	"github.com/reqfleet/reqfleet/outcomes"
)

// QueueStats is one queue's line of GET /v1/stats: its sizes, as `reqfleet
// stats` reads them, and asynq's state of it.
type QueueStats struct {
	outcomes.Sizes
	Paused bool `json:"paused"`
	// asynq's counters of the day (UTC): jobs finished, and of them failed
	// (reqfleet's exceptions count as failed).
	ProcessedToday int `json:"processed_today"`
	FailedToday    int `json:"failed_today"`
}

// Stats is the answer to GET /v1/stats: the served queues and the fleet.
type Stats struct {
	Queues   []QueueStats `json:"queues"`
	Workers  int          `json:"workers"`  // worker processes alive
	Sessions int          `json:"sessions"` // their sessions
	Busy     int          `json:"busy"`     // of which on a job now
	Time     time.Time    `json:"time"`
}

// getStats answers the queues' sizes and the fleet's totals.
func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.stats(r.Context())
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "read stats", slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, apiError{Error: "reading the stats failed: Redis: try again later"})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) stats(ctx context.Context) (Stats, error) {
	st := Stats{Queues: make([]QueueStats, 0, len(s.cfg.Queues)), Time: time.Now().UTC()}
	insp := asynq.NewInspectorFromRedisClient(s.cfg.Redis)
	for _, q := range s.cfg.Queues {
		sizes, qi, err := s.readers[q].Sizes(ctx, insp)
		if err != nil {
			return st, err
		}
		qs := QueueStats{Sizes: sizes}
		if qi != nil {
			qs.Paused, qs.ProcessedToday, qs.FailedToday = qi.Paused, qi.Processed, qi.Failed
		}
		st.Queues = append(st.Queues, qs)
	}
	fleet, err := outcomes.Fleet(ctx, s.cfg.Redis, time.Now())
	if err != nil {
		return st, err
	}
	for _, fw := range s.servedWorkers(fleet) {
		st.Workers++
		st.Sessions += fw.Sessions
		st.Busy += fw.Busy
	}
	return st, nil
}
