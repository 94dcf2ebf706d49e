package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/reqfleet/reqfleet/outcomes"
)

// ExceptionsPage is the answer to GET /v1/exceptions.
type ExceptionsPage struct {
	Queue      string            `json:"queue"`
	Exceptions []json.RawMessage `json:"exceptions"` // the entries as recorded, oldest first
	Next       int64             `json:"next"`       // the cursor of the next page
	More       bool              `json:"more"`       // entries past next are not looked at yet
}

// getExceptions answers one page of the exceptions list, oldest first:
// ?batch=ID, &type=NAME, &cursor=N (a previous page's next), &limit=N
// (default 100, at most 1000). One call looks at 100,000 entries at most;
// more says whether to go on from next.
func (s *Server) getExceptions(w http.ResponseWriter, r *http.Request) {
	queue, err := s.queue(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	q := r.URL.Query()
	opts := outcomes.PageOptions{Batch: q.Get("batch"), Type: q.Get("type")}
	if v := q.Get("cursor"); v != "" {
		if opts.From, err = strconv.ParseInt(v, 10, 64); err != nil || opts.From < 0 {
			writeError(w, http.StatusBadRequest, apiError{Error: "cursor must be a previous page's next: a whole number, 0 or more", Field: "cursor"})
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if opts.Limit, err = strconv.Atoi(v); err != nil || opts.Limit < 1 || opts.Limit > outcomes.MaxPageLimit {
			writeError(w, http.StatusBadRequest, apiError{Error: "limit must be a whole number from 1 to " + strconv.Itoa(outcomes.MaxPageLimit), Field: "limit"})
			return
		}
	}
	p, err := s.readers[queue].Page(r.Context(), outcomes.Exceptions, opts)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "read exceptions", slog.Any("err", err))
		writeError(w, http.StatusServiceUnavailable, apiError{Error: "reading exceptions failed: Redis: try again later"})
		return
	}
	page := ExceptionsPage{Queue: queue, Exceptions: make([]json.RawMessage, len(p.Lines)), Next: p.Next, More: p.More}
	for i, l := range p.Lines {
		page.Exceptions[i] = l
	}
	writeJSON(w, http.StatusOK, page)
}
