package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/reqfleet/reqfleet/limits"
)

// The per-host limits API, the same as `reqfleet limits`, behind the
// token as the rest:
//
//	GET    /v1/limits         {"limits": [status...]}
//	GET    /v1/limits/{host}  status, 404 without a limit
//	PUT    /v1/limits/{host}  {"rate": "20/s", "burst": 5, "concurrency": 3, "auto": false} -> status
//	DELETE /v1/limits/{host}  204, 404 without a limit
//
// {host} is a host name (port ignored) or a *.example.com pattern.

// maxLimitBody caps a PUT's body.
const maxLimitBody = 4096

// Limit is a host's limit and its state as the API answers it (the
// OpenAPI document's Limit).
type Limit struct {
	Host        string    `json:"host"`
	Rate        string    `json:"rate,omitempty"` // as --rate
	Burst       int       `json:"burst,omitempty"`
	Concurrency int       `json:"concurrency,omitempty"`
	Auto        bool      `json:"auto,omitempty"`
	CurrentRate float64   `json:"current_rate,omitempty"` // requests a second now: adaptive throttling's, else the limit's
	InFlight    int64     `json:"in_flight"`
	PausedUntil time.Time `json:"paused_until,omitzero"`
}

func apiLimit(st limits.Status) Limit {
	n := st.Limit.Normalized()
	out := Limit{Host: st.Host, Burst: n.Burst, Concurrency: n.Concurrency, Auto: n.Auto, InFlight: st.InFlight, PausedUntil: st.PausedUntil}
	if n.Rate > 0 {
		out.Rate = limits.FormatRate(n.Rate, n.Per)
		out.CurrentRate = float64(n.Rate) / n.Per.Seconds()
	}
	if st.AutoRate > 0 {
		out.CurrentRate = st.AutoRate
	}
	return out
}

// LimitBody is PUT /v1/limits/{host}'s body.
type LimitBody struct {
	Host        string `json:"host,omitempty"` // if given, the path's host (the Limit's shape)
	Rate        string `json:"rate,omitempty"` // as --rate: 20/s, 300/m, 1000/h, N/<duration>
	Burst       int    `json:"burst,omitempty"`
	Concurrency int    `json:"concurrency,omitempty"`
	Auto        bool   `json:"auto,omitempty"`
}

func (s *Server) limitRoutes(handle func(pattern, route string, auth bool, h http.HandlerFunc)) {
	handle("GET /v1/limits", "limits", true, s.listLimits)
	handle("GET /v1/limits/{host}", "limit", true, s.getLimit)
	handle("PUT /v1/limits/{host}", "limit", true, s.putLimit)
	handle("DELETE /v1/limits/{host}", "limit", true, s.deleteLimit)
}

func (s *Server) limitStore() *limits.Store { return limits.NewStore(s.cfg.Redis) }

func (s *Server) listLimits(w http.ResponseWriter, r *http.Request) {
	st, err := s.limitStore().List(r.Context())
	if err != nil {
		s.redisFailed(w, r, err)
		return
	}
	out := make([]Limit, len(st))
	for i, x := range st {
		out[i] = apiLimit(x)
	}
	writeJSON(w, http.StatusOK, map[string]any{"limits": out})
}

func (s *Server) getLimit(w http.ResponseWriter, r *http.Request) {
	st, ok, err := s.limitStore().Get(r.Context(), r.PathValue("host"))
	switch {
	case errors.Is(err, limits.ErrHost):
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
	case err != nil:
		s.redisFailed(w, r, err)
	case !ok:
		writeError(w, http.StatusNotFound, apiError{Error: "no limit for this host"})
	default:
		writeJSON(w, http.StatusOK, apiLimit(st))
	}
}

func (s *Server) putLimit(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLimitBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("reading the body (at most %d bytes): %v", maxLimitBody, err)})
		return
	}
	var b LimitBody
	dec := json.NewDecoder(bytesReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: `body: want {"rate": "20/s", "burst": N, "concurrency": N, "auto": false}: ` + err.Error()})
		return
	}
	if b.Host != "" {
		k1, err1 := limits.NormalizeHost(b.Host)
		k2, err2 := limits.NormalizeHost(r.PathValue("host"))
		if err1 != nil || err2 != nil || k1 != k2 {
			writeError(w, http.StatusBadRequest, apiError{Error: "the body's host is not the path's", Field: "host"})
			return
		}
	}
	var l limits.Limit
	if b.Rate != "" {
		if l.Rate, l.Per, err = limits.ParseRate(b.Rate); err != nil {
			writeError(w, http.StatusBadRequest, apiError{Error: err.Error(), Field: "rate"})
			return
		}
	}
	l.Burst, l.Concurrency, l.Auto = b.Burst, b.Concurrency, b.Auto
	if b.Burst != 0 && l.Rate == 0 {
		writeError(w, http.StatusBadRequest, apiError{Error: "burst needs a rate", Field: "burst"})
		return
	}
	store := s.limitStore()
	key, err := store.Set(r.Context(), r.PathValue("host"), l)
	switch {
	case errors.Is(err, limits.ErrHost), errors.Is(err, limits.ErrLimit), errors.Is(err, limits.ErrFull):
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	case err != nil:
		s.redisFailed(w, r, err)
		return
	}
	st, err := store.State(r.Context(), key, l.Normalized())
	if err != nil {
		s.redisFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiLimit(st))
}

func (s *Server) deleteLimit(w http.ResponseWriter, r *http.Request) {
	ok, err := s.limitStore().Remove(r.Context(), r.PathValue("host"))
	switch {
	case errors.Is(err, limits.ErrHost):
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
	case err != nil:
		s.redisFailed(w, r, err)
	case !ok:
		writeError(w, http.StatusNotFound, apiError{Error: "no limit for this host"})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// redisFailed answers a Redis failure as the rest of the API does: 503,
// the error logged, not shown.
func (s *Server) redisFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.log.WarnContext(r.Context(), "limits: Redis failed", "err", err)
	writeError(w, http.StatusServiceUnavailable, apiError{Error: "limits: Redis: try again later"})
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
