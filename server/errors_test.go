package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every /v1 error is one shape, {"error", "code"} (and the job's line and
// field where there is one), 404 and 405 included, with the token and
// without.
func TestErrorShape(t *testing.T) {
	e := setup(t, func(c *Config) { c.Token = "tok" })
	for _, tc := range []struct {
		name, method, path, ctype, body string
		hdr                             []string
		noToken                         bool
		code                            int
		wantCode, allow, field          string
	}{
		{name: "unknown route", method: "GET", path: "/v1/nope", code: 404, wantCode: "not_found"},
		{name: "unknown deep route", method: "GET", path: "/v1/jobs/a/b", code: 404, wantCode: "not_found"},
		{name: "v1 root", method: "GET", path: "/v1/", code: 404, wantCode: "not_found"},
		{name: "GET on POST route", method: "GET", path: "/v1/jobs", code: 405, wantCode: "method_not_allowed", allow: "POST"},
		{name: "POST on GET route", method: "POST", path: "/v1/exceptions", code: 405, wantCode: "method_not_allowed", allow: "GET, HEAD"},
		{name: "DELETE a job", method: "DELETE", path: "/v1/jobs/x", code: 405, wantCode: "method_not_allowed", allow: "GET, HEAD"},
		{name: "PUT a batch", method: "PUT", path: "/v1/batches/x", code: 405, wantCode: "method_not_allowed", allow: "GET, HEAD"},
		{name: "unknown route, no token", method: "GET", path: "/v1/nope", noToken: true, code: 401, wantCode: "unauthorized"},
		{name: "wrong method, no token", method: "GET", path: "/v1/jobs", noToken: true, code: 401, wantCode: "unauthorized"},
		{name: "no token", method: "GET", path: "/v1/exceptions", noToken: true, code: 401, wantCode: "unauthorized"},
		{name: "unknown job", method: "GET", path: "/v1/jobs/nope", code: 404, wantCode: "not_found"},
		{name: "unknown batch", method: "GET", path: "/v1/batches/nope", code: 404, wantCode: "not_found"},
		{name: "unknown queue", method: "GET", path: "/v1/exceptions?queue=nope", code: 400, wantCode: "bad_request"},
		{name: "bad cursor", method: "GET", path: "/v1/exceptions?cursor=-1", code: 400, wantCode: "bad_request", field: "cursor"},
		{name: "bad limit", method: "GET", path: "/v1/exceptions?limit=1001", code: 400, wantCode: "bad_request", field: "limit"},
		{name: "bad results kind", method: "GET", path: "/v1/results?kind=nope", code: 400, wantCode: "bad_request"},
		{name: "bad job", method: "POST", path: "/v1/jobs", ctype: "application/json", body: `{"url": 3}`, code: 400, wantCode: "bad_request", field: "url"},
		{name: "bad content type", method: "POST", path: "/v1/jobs", ctype: "text/plain", body: `{}`, code: 415, wantCode: "unsupported_media_type"},
		// The ui's routes answer the same shape.
		{name: "stats, no token", method: "GET", path: "/v1/stats", noToken: true, code: 401, wantCode: "unauthorized"},
		{name: "bad batches limit", method: "GET", path: "/v1/batches?limit=0", code: 400, wantCode: "bad_request"},
		{name: "bad batches cursor", method: "GET", path: "/v1/batches?cursor=nope", code: 400, wantCode: "bad_request"},
		{name: "hosts of an unknown queue", method: "GET", path: "/v1/hosts?queue=nope", code: 400, wantCode: "bad_request"},
		{name: "retry of nothing", method: "POST", path: "/v1/retry", ctype: "application/json", body: `{}`, code: 400, wantCode: "bad_request"},
		{name: "GET retry", method: "GET", path: "/v1/retry", code: 405, wantCode: "method_not_allowed", allow: "POST"},
		{name: "POST workers", method: "POST", path: "/v1/workers", code: 405, wantCode: "method_not_allowed", allow: "GET, HEAD"},
		// The dashboard's data routes too, and a /dashboard/ path none takes.
		{name: "dashboard lookup without id", method: "GET", path: "/dashboard/lookup", code: 400, wantCode: "bad_request", field: "id"},
		{name: "dashboard lookup of nothing", method: "GET", path: "/dashboard/lookup?id=nope", code: 404, wantCode: "not_found"},
		{name: "dashboard bad kind", method: "GET", path: "/dashboard/outcomes?kind=nope", code: 400, wantCode: "bad_request"},
		{name: "dashboard unknown route", method: "GET", path: "/dashboard/nope", code: 404, wantCode: "not_found"},
		{name: "dashboard unknown route, no token", method: "GET", path: "/dashboard/nope", noToken: true, code: 401, wantCode: "unauthorized"},
		{name: "POST dashboard lookup", method: "POST", path: "/dashboard/lookup", code: 405, wantCode: "method_not_allowed", allow: "GET, HEAD"},
		{name: "cross-site write", method: "POST", path: "/v1/jobs", ctype: "application/json", body: `{}`, hdr: []string{"Sec-Fetch-Site", "cross-site"}, code: 403, wantCode: "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := tc.hdr
			if tc.noToken {
				hdr = append(hdr, "Authorization", "")
			}
			a := e.do(t, tc.method, tc.path, tc.ctype, tc.body, hdr...)
			if a.code != tc.code {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, a.code, a.body, tc.code)
			}
			if ct := a.hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(a.body), &got); err != nil {
				t.Fatalf("not JSON: %q", a.body)
			}
			msg, _ := got["error"].(string)
			if msg == "" || got["code"] != tc.wantCode {
				t.Errorf("body %s: want a message and code %q", a.body, tc.wantCode)
			}
			if tc.field != "" && got["field"] != tc.field {
				t.Errorf("body %s: want field %q", a.body, tc.field)
			}
			for k := range got {
				if !strings.Contains(" error code line field batch accepted ", " "+k+" ") {
					t.Errorf("body %s: field %q is not the error shape's", a.body, k)
				}
			}
			if got := a.hdr.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

// A status without a code of its own gets one made of its text.
func TestWriteErrorCode(t *testing.T) {
	for code, want := range map[int]string{http.StatusNotFound: "not_found", http.StatusTeapot: "i'm_a_teapot", http.StatusConflict: "conflict"} {
		rec := httptest.NewRecorder()
		writeError(rec, code, apiError{Error: "x"})
		var got apiError
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Code != want || rec.Code != code {
			t.Errorf("%d: %d %s, want code %q", code, rec.Code, rec.Body.String(), want)
		}
	}
}
