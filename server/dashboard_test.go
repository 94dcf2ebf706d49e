package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// The dashboard and its routes need the token, as the rest of serve; the
// page asks a browser for Basic credentials.
func TestDashboardToken(t *testing.T) {
	const token = "dash-token"
	e := setup(t, func(c *Config) { c.Token = token })
	for _, path := range []string{"/", "/dashboard/static/app.js", "/v1/stats", "/v1/batches", "/v1/hosts", "/v1/workers",
		"/dashboard/outcomes", "/dashboard/outcomes.jsonl", "/dashboard/lookup?id=x"} {
		t.Run(path, func(t *testing.T) {
			a := e.do(t, "GET", path, "", "", "Authorization", "")
			if a.code != http.StatusUnauthorized {
				t.Fatalf("without the token: %d", a.code)
			}
			if ui := path == "/" || strings.HasPrefix(path, "/dashboard/static/"); ui != strings.HasPrefix(a.hdr.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("WWW-Authenticate %q", a.hdr.Get("WWW-Authenticate"))
			}
			if a := e.do(t, "GET", path, "", "", "Authorization", basic("me", token)); a.code/100 != 2 && a.code != http.StatusNotFound {
				t.Fatalf("with the token: %d %s", a.code, a.body)
			}
		})
	}
	if a := e.do(t, "POST", "/v1/retry", "application/json", `{"all": true}`, "Authorization", ""); a.code != http.StatusUnauthorized {
		t.Fatalf("retry without the token: %d", a.code)
	}
}

// The page: the queues served, its script and style from serve itself
// (nothing from elsewhere), a strict CSP, no inline script.
func TestDashboardPage(t *testing.T) {
	e := setup(t, nil)
	a := e.do(t, "GET", "/", "", "")
	if a.code != 200 || !strings.HasPrefix(a.hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %v", a.code, a.hdr)
	}
	for _, want := range []string{`data-queues="default,other"`, `<option>other</option>`, `src="/dashboard/static/app.js"`, `href="/ui/"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("page without %s", want)
		}
	}
	if strings.Contains(a.body, "http://") || strings.Contains(a.body, "https://") || strings.Contains(a.body, "<script>") {
		t.Errorf("page loads from elsewhere or inlines a script:\n%s", a.body)
	}
	if csp := a.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	for _, f := range []string{"app.js", "limits.js", "style.css"} {
		a := e.do(t, "GET", "/dashboard/static/"+f, "", "")
		if a.code != 200 || len(a.body) < 100 || strings.Contains(a.body, "https://") {
			t.Errorf("%s: %d, %d bytes", f, a.code, len(a.body))
		}
	}
	if a := e.do(t, "GET", "/dashboard/static/nope.js", "", ""); a.code != http.StatusNotFound {
		t.Errorf("missing file: %d", a.code)
	}
	noUI := setup(t, func(c *Config) { c.UI = nil })
	if a := noUI.do(t, "GET", "/", "", ""); a.code != 200 || strings.Contains(a.body, `href="/ui/"`) {
		t.Errorf("without the UI: %d, links to it: %v", a.code, strings.Contains(a.body, `href="/ui/"`))
	}
}

// The outcome lists as the dashboard reads them: paged, of a batch and a
// type, redacted, bodies cut; the download whole but redacted; the lookup
// by job id.
func TestDashboardOutcomes(t *testing.T) {
	e := setup(t, nil)
	tg := newFlaky(t)
	e.startWorker(t)
	big := strings.Repeat("x", 3*outcomeBodyCap)
	var jobs []string
	for i := range 5 {
		jobs = append(jobs, fmt.Sprintf(`{"url": %q, "id": "r%d", "auth": ["u", "authpass"]}`, tg.URL+"/"+big, i))
	}
	jobs = append(jobs, fmt.Sprintf(`{"url": %q, "id": "x1", "headers": {"Authorization": "Bearer hdrpass"}}`, tg.URL+"/fail"),
		`{"url": "http://user:urlpass@127.0.0.1:1/", "id": "x2"}`)
	b1 := e.postBatch(t, "default", jobs...)
	b2 := e.postBatch(t, "default", fmt.Sprintf(`{"url": %q, "id": "other"}`, tg.URL+"/o"))
	e.waitDone(t, "default", b1, 7)
	e.waitDone(t, "default", b2, 1)

	// Results of b1, two a page.
	var ids []string
	off := int64(0)
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pages do not end")
		}
		p := decode[OutcomesPage](t, e.do(t, "GET", fmt.Sprintf("/dashboard/outcomes?batch=%s&limit=2&offset=%d", b1, off), "", ""))
		if p.Kind != "results" || p.Total != 6 {
			t.Fatalf("page %+v", p)
		}
		for _, o := range p.Items {
			ids = append(ids, o["id"].(string))
			if body := o["body"].(string); len(body) > outcomeBodyCap || o["body_cut"] != true {
				t.Fatalf("body of %d bytes, cut %v", len(body), o["body_cut"])
			}
		}
		off = p.Next
		if p.End || len(p.Items) == 0 {
			break
		}
	}
	if len(ids) != 5 {
		t.Fatalf("results of b1: %v", ids)
	}
	a := e.do(t, "GET", "/dashboard/outcomes?kind=exceptions&type=ConnectionError", "", "")
	if p := decode[OutcomesPage](t, a); len(p.Items) != 2 {
		t.Fatalf("exceptions %s", a.body)
	}
	if p := decode[OutcomesPage](t, e.do(t, "GET", "/dashboard/outcomes?kind=exceptions&type=ReadTimeout", "", "")); len(p.Items) != 0 {
		t.Fatalf("exceptions of another type: %+v", p.Items)
	}
	dl := e.do(t, "GET", "/dashboard/outcomes.jsonl?batch="+b1, "", "")
	if dl.code != 200 || len(lines(dl.body)) != 5 || !strings.Contains(dl.body, big) || !strings.Contains(dl.hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d, %d lines, %v", dl.code, len(lines(dl.body)), dl.hdr)
	}
	dlx := e.do(t, "GET", "/dashboard/outcomes.jsonl?kind=exceptions", "", "")
	look := e.do(t, "GET", "/dashboard/lookup?id=x2", "", "")
	if look.code != 200 || !strings.Contains(look.body, `"x2"`) || strings.Contains(look.body, `"x1"`) {
		t.Fatalf("lookup: %d %s", look.code, look.body)
	}
	for name, body := range map[string]string{"page": a.body, "download": dl.body + dlx.body, "lookup": look.body} {
		for _, secret := range []string{"authpass", "hdrpass", "urlpass"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s shows %s", name, secret)
			}
		}
	}
	if a := e.do(t, "GET", "/dashboard/lookup?id=nope", "", ""); a.code != http.StatusNotFound || decode[apiError](t, a).Code != "not_found" {
		t.Fatalf("lookup of nothing: %d %s", a.code, a.body)
	}
	for _, q := range []string{"kind=x", "offset=-1", "limit=0", "limit=201", "queue=nope"} {
		if a := e.do(t, "GET", "/dashboard/outcomes?"+q, "", ""); a.code != http.StatusBadRequest {
			t.Errorf("%s: %d", q, a.code)
		}
	}
	if a := e.do(t, "GET", "/dashboard/lookup", "", ""); a.code != http.StatusBadRequest {
		t.Errorf("lookup without id: %d", a.code)
	}
}
