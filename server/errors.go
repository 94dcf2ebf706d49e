package server

import (
	"net/http"
	"slices"
	"strings"
)

// apiError is every error answer of /v1, whatever the route: a message for
// people (error), a code for programs (code, one per kind of failure; see
// errorCodes) and, for a job, where it went wrong.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	Line  int    `json:"line,omitempty"`  // 1-based line of a JSONL body
	Field string `json:"field,omitempty"` // the job's key at fault
	// A Redis failure after some jobs were enqueued: the batch holds them.
	Batch    string `json:"batch,omitempty"`
	Accepted *int   `json:"accepted,omitempty"`
}

// errorCodes are the codes of apiError by HTTP status; an answer that sets
// no code of its own gets its status's.
var errorCodes = map[int]string{
	http.StatusBadRequest:            "bad_request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

// writeError answers e with the status code, its code filled in from the
// status when unset.
func writeError(w http.ResponseWriter, code int, e apiError) {
	if e.Code == "" {
		e.Code = errorCodes[code]
		if e.Code == "" {
			e.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(code), " ", "_"))
		}
	}
	writeJSON(w, code, e)
}

// unrouted answers a request under prefix (/v1/, /dashboard/) that no
// route takes: 405 with Allow when the path is served with other methods,
// else 404, both as apiError (the ServeMux's own answers are plain text).
func (s *Server) unrouted(mux *http.ServeMux, prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if m == r.Method {
				continue
			}
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != prefix {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			if slices.Contains(allow, http.MethodGet) && !slices.Contains(allow, http.MethodHead) {
				allow = append(allow, http.MethodHead)
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, apiError{
				Error: r.Method + " is not served at " + r.URL.Path + ": use " + strings.Join(allow, ", ")})
			return
		}
		msg := "no such route: " + r.URL.Path + " (GET /v1/openapi.json lists them)"
		if prefix != v1Prefix {
			msg = "no such route: " + r.URL.Path + " (the dashboard is at /)"
		}
		writeError(w, http.StatusNotFound, apiError{Error: msg})
	}
}

// crossOriginDenied answers a browser's cross-site write (see routes).
func crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusForbidden, apiError{Error: "cross-origin request refused: send it from the same origin, or without a browser"})
}
