package server

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/reqfleet/reqfleet/outcomes"
)

// The dashboard: reqfleet's own pages at /, beside asynqmon at /ui. One
// page, server-rendered, kept live by a little JavaScript polling the JSON
// routes (GET /v1/stats, /v1/batches, /v1/hosts, /v1/workers, /v1/limits)
// every 1.5s; its static files are embedded (no CDN: it works offline).
// It needs the token as the rest of serve (a browser asks for it, Basic
// auth with the token as password) and shows outcomes as the UI shows
// jobs: redacted.

//go:embed dashboard
var dashboardFS embed.FS

var dashboardPage = template.Must(template.ParseFS(dashboardFS, "dashboard/index.html"))

// Limits of the dashboard's views of the outcome lists.
const (
	outcomeBodyCap     = 2 << 10 // body bytes shown of a response
	outcomesPageMax    = 200     // entries a page, at most
	outcomesPageScan   = 20_000  // entries a page reads, at most, to find those of a batch or type
	defaultOutcomePage = 50
)

// dashboardPrefix is the path prefix of the dashboard's data routes and
// static files.
const dashboardPrefix = "/dashboard/"

// dashboardRoutes registers the dashboard's pages and data routes.
func (s *Server) dashboardRoutes(handle func(pattern, route string, auth bool, h http.HandlerFunc), mux *http.ServeMux) {
	handle("GET /v1/stats", "stats", true, s.getStats)
	handle("GET /v1/batches", "batches", true, s.getBatches)
	handle("POST /v1/retry", "retry", true, s.postRetry)
	handle("GET /v1/hosts", "hosts", true, s.getHosts)
	handle("GET /v1/workers", "workers", true, s.getWorkers)
	handle("GET /dashboard/outcomes", "dashboard", true, s.getOutcomesPage)
	handle("GET /dashboard/outcomes.jsonl", "dashboard", true, s.getOutcomesJSONL)
	handle("GET /dashboard/lookup", "dashboard", true, s.getLookup)
	static, _ := fs.Sub(dashboardFS, "dashboard")
	files := http.StripPrefix("/dashboard/static/", http.FileServerFS(static))
	mux.Handle("GET /dashboard/static/", s.observe("dashboard", s.requireToken(files, true)))
	// Every path under /dashboard/ but the static files is JSON, read by
	// the page's script: one that no route takes answers /v1's JSON 404
	// (or 405), after the token as its data routes ask it.
	mux.Handle(dashboardPrefix, s.observe("unrouted", s.requireToken(s.unrouted(mux, dashboardPrefix), false)))
	mux.Handle("GET /{$}", s.observe("dashboard", s.requireToken(http.HandlerFunc(s.dashboard), true)))
}

// dashboard renders the page's frame; the script fills it.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	err := dashboardPage.Execute(w, struct {
		Queues []string
		UI     bool
	}{s.cfg.Queues, s.ui != nil})
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "render the dashboard", slog.Any("err", err))
	}
}

// OutcomesPage is the answer to GET /dashboard/outcomes: entries of a list,
// oldest first, from ?offset= (a list index), of ?batch= and (exceptions)
// ?type= when given, as the dashboard shows them.
type OutcomesPage struct {
	Queue string           `json:"queue"`
	Kind  string           `json:"kind"`
	Items []map[string]any `json:"items"`
	Next  int64            `json:"next_offset"` // ?offset= of the next page
	Total int64            `json:"total"`       // entries in the list
	End   bool             `json:"end"`         // no entry after Next yet
}

// listQuery reads ?queue=, ?kind= (results or exceptions) and ?batch=.
func (s *Server) listQuery(r *http.Request) (queue string, kind outcomes.Kind, kindName string, err error) {
	if queue, err = s.queue(r); err != nil {
		return
	}
	switch r.URL.Query().Get("kind") {
	case "", "results", "responses":
		return queue, outcomes.Results, "results", nil
	case "exceptions":
		return queue, outcomes.Exceptions, "exceptions", nil
	}
	return "", 0, "", errBadKind
}

var errBadKind = errors.New("kind must be results or exceptions")

// match says whether an outcome line is of batch and exception type typ
// ("" for any): a quick look for the strings, then the decoded fields.
func match(line string, batch, typ string) bool {
	if batch != "" && !strings.Contains(line, batch) || typ != "" && !strings.Contains(line, typ) {
		return false
	}
	var v struct {
		Batch     string `json:"batch"`
		Exception struct {
			Type string `json:"type"`
		} `json:"exception"`
	}
	if batch == "" && typ == "" {
		return true
	}
	if json.Unmarshal([]byte(line), &v) != nil {
		return false
	}
	return (batch == "" || v.Batch == batch) && (typ == "" || v.Exception.Type == typ)
}

func (s *Server) getOutcomesPage(w http.ResponseWriter, r *http.Request) {
	queue, kind, kindName, err := s.listQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	q := r.URL.Query()
	offset, limit := int64(0), int64(defaultOutcomePage)
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.ParseInt(v, 10, 64); err != nil || offset < 0 {
			writeError(w, http.StatusBadRequest, apiError{Error: "offset must be a whole number, 0 or more"})
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.ParseInt(v, 10, 64); err != nil || limit < 1 || limit > outcomesPageMax {
			writeError(w, http.StatusBadRequest, apiError{Error: "limit must be a whole number from 1 to " + strconv.Itoa(outcomesPageMax)})
			return
		}
	}
	batch, typ := q.Get("batch"), q.Get("type")
	rd := s.readers[queue]
	page := OutcomesPage{Queue: queue, Kind: kindName, Items: []map[string]any{}}
	if page.Total, err = rd.Len(r.Context(), kind); err != nil {
		s.unavailable(w, r, err)
		return
	}
	const chunk = 500
	pos, scanned := offset, int64(0)
	for int64(len(page.Items)) < limit && scanned < outcomesPageScan {
		entries, err := rd.Range(r.Context(), kind, pos, pos+chunk-1)
		if err != nil {
			s.unavailable(w, r, err)
			return
		}
		for _, e := range entries {
			pos++
			scanned++
			if !match(e, batch, typ) {
				continue
			}
			if o, err := viewOutcome([]byte(e), outcomeBodyCap); err == nil {
				page.Items = append(page.Items, o)
			}
			if int64(len(page.Items)) == limit {
				break
			}
		}
		if len(entries) < chunk {
			break
		}
	}
	page.Next = pos
	page.End = pos >= page.Total
	writeJSON(w, http.StatusOK, page)
}

// getOutcomesJSONL downloads a list (of ?batch=, ?type=) as JSONL, as the
// dashboard shows it: redacted, bodies whole. GET /v1/results gives the
// outcomes as they are.
func (s *Server) getOutcomesJSONL(w http.ResponseWriter, r *http.Request) {
	queue, kind, kindName, err := s.listQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Error: err.Error()})
		return
	}
	batch, typ := r.URL.Query().Get("batch"), r.URL.Query().Get("type")
	name := queue + "-" + kindName
	if batch != "" {
		name += "-" + batch
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeFileName(name)+`.jsonl"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	started := false
	for line, err := range s.readers[queue].Lines(r.Context(), kind, outcomes.ReadOptions{Batch: batch}) {
		if err != nil {
			if !started && r.Context().Err() == nil {
				s.unavailable(w, r, err)
			}
			return // past the first line the status is sent: the file ends short
		}
		if typ != "" && !match(string(line), "", typ) {
			continue
		}
		o, err := viewOutcome(line, 0)
		if err != nil {
			continue
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if enc.Encode(o) != nil {
			continue
		}
		started = true
		bw.Write(buf.Bytes())
	}
}

// safeFileName keeps letters, digits, '-', '_' and '.'.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.log.LogAttrs(r.Context(), slog.LevelError, "read outcomes", slog.Any("err", err))
	writeError(w, http.StatusServiceUnavailable, apiError{Error: "reading outcomes failed: Redis: try again later"})
}
