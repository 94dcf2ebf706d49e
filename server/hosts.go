package server

import (
	"log/slog"
	"net/http"

	"github.com/reqfleet/reqfleet/outcomes"
)

// Hosts is the answer to GET /v1/hosts: the queue's outcomes by host,
// fleet-wide (the workers count them in Redis), most first. Past the cap of
// host and outcome pairs, new hosts count as "other".
type Hosts struct {
	Queue string                `json:"queue"`
	Hosts []outcomes.HostCounts `json:"hosts"`
}

func (s *Server) getHosts(w http.ResponseWriter, r *http.Request) {
	queue, err := s.queue(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	hosts, err := s.readers[queue].Hosts(r.Context())
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "read hosts", slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, apiError{Error: "reading the hosts failed: Redis: try again later"})
		return
	}
	writeJSON(w, http.StatusOK, Hosts{Queue: queue, Hosts: hosts})
}
