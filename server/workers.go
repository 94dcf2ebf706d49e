package server

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/reqfleet/reqfleet/outcomes"
)

// Workers is the answer to GET /v1/workers: one row per worker process
// serving one of the served queues (its sessions, how many are busy, the
// outcomes it recorded since it started), as each writes itself every 2s.
type Workers struct {
	Workers []outcomes.FleetWorker `json:"workers"`
}

func (s *Server) getWorkers(w http.ResponseWriter, r *http.Request) {
	fleet, err := outcomes.Fleet(r.Context(), s.cfg.Redis, time.Now())
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "read workers", slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, apiError{Error: "reading the workers failed: Redis: try again later"})
		return
	}
	writeJSON(w, http.StatusOK, Workers{Workers: s.servedWorkers(fleet)})
}

// servedWorkers are the workers of fleet that serve one of the served
// queues, by name.
func (s *Server) servedWorkers(fleet []outcomes.FleetWorker) []outcomes.FleetWorker {
	out := make([]outcomes.FleetWorker, 0, len(fleet))
	for _, fw := range fleet {
		for _, q := range s.cfg.Queues {
			if _, ok := fw.Queues[q]; ok {
				out = append(out, fw)
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b outcomes.FleetWorker) int { return strings.Compare(a.Name, b.Name) })
	return out
}
