package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestLimitsAPI(t *testing.T) {
	e := setup(t, nil)
	const js = "application/json"
	put := e.do(t, "PUT", "/v1/limits/Example.com:443", js, `{"rate": "20/s", "burst": 5, "concurrency": 3}`)
	if put.code != 200 {
		t.Fatalf("PUT: %d %s", put.code, put.body)
	}
	st := decode[Limit](t, put)
	if st != (Limit{Host: "example.com", Rate: "20/s", Burst: 5, Concurrency: 3, CurrentRate: 20}) {
		t.Fatalf("PUT answered %+v", st)
	}
	if a := e.do(t, "PUT", "/v1/limits/*.example.org", js, `{"concurrency": 2}`); a.code != 200 {
		t.Fatalf("PUT pattern: %d %s", a.code, a.body)
	}
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		field                    string
	}{
		{"bad rate", "PUT", "/v1/limits/a.example", `{"rate": "fast"}`, 400, "rate"},
		{"unknown field", "PUT", "/v1/limits/a.example", `{"rate": "1/s", "delay": 3}`, 400, ""},
		{"no limit", "PUT", "/v1/limits/a.example", `{}`, 400, ""},
		{"burst without rate", "PUT", "/v1/limits/a.example", `{"burst": 3}`, 400, "burst"},
		{"negative", "PUT", "/v1/limits/a.example", `{"concurrency": -1}`, 400, ""},
		{"bad host", "PUT", "/v1/limits/a*b", `{"concurrency": 1}`, 400, ""},
		{"too big", "PUT", "/v1/limits/a.example", `{"rate": "` + strings.Repeat("1", 5000) + `"}`, 400, ""},
		{"get", "GET", "/v1/limits/example.com", "", 200, ""},
		{"get unknown", "GET", "/v1/limits/nope.example", "", 404, ""},
		{"delete unknown", "DELETE", "/v1/limits/nope.example", "", 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, tc.method, tc.path, js, tc.body)
			if a.code != tc.code {
				t.Fatalf("%d %s, want %d", a.code, a.body, tc.code)
			}
			if tc.field != "" {
				if got := decode[apiError](t, a).Field; got != tc.field {
					t.Fatalf("field %q, want %q", got, tc.field)
				}
			}
		})
	}
	list := decode[struct{ Limits []Limit }](t, e.do(t, "GET", "/v1/limits", "", ""))
	if len(list.Limits) != 2 || list.Limits[0].Host != "*.example.org" || list.Limits[1].Host != "example.com" {
		t.Fatalf("list %+v", list)
	}
	if a := e.do(t, "DELETE", "/v1/limits/example.com", "", ""); a.code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", a.code, a.body)
	}
	if a := e.do(t, "GET", "/v1/limits/example.com", "", ""); a.code != 404 {
		t.Fatalf("after DELETE: %d", a.code)
	}
	m := e.do(t, "GET", "/metrics", "", "")
	if !strings.Contains(m.body, `reqfleet_host_limit_concurrency{host="*.example.org"} 2`) || !strings.Contains(m.body, `reqfleet_host_in_flight{host="*.example.org"} 0`) {
		t.Errorf("metrics lack the limits:\n%s", grepLines(m.body, "host_"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
