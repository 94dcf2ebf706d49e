package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
)

// The dashboard's lookup is GET /v1/jobs/{id}'s: the same job (exact id,
// one with a quote included, not the job whose id merely contains it),
// state, batch, attempt and kind, and the same errors; only its outcome is
// shown as the dashboard shows outcomes, redacted with the body cut.
func TestLookup(t *testing.T) {
	e := setup(t, nil)
	e.startWorker(t)
	big := strings.Repeat("x", 3*outcomeBodyCap)
	b := e.postBatch(t, "default",
		fmt.Sprintf(`{"url": %q, "id": "a\"b", "auth": ["u", "authpass"], "headers": {"Authorization": "Bearer hdrpass"}}`, e.target.URL+"/"+big),
		fmt.Sprintf(`{"url": %q, "id": "a\"bc"}`, e.target.URL+"/other"),
		`{"url": "http://user:urlpass@127.0.0.1:1/", "id": "x"}`)
	e.waitDone(t, "default", b, 3)

	for _, id := range []string{`a"b`, "x"} {
		t.Run(id, func(t *testing.T) {
			api := e.do(t, "GET", "/v1/jobs/"+url.PathEscape(id), "", "")
			dash := e.do(t, "GET", "/dashboard/lookup?id="+url.QueryEscape(id), "", "")
			if api.code != http.StatusOK || dash.code != http.StatusOK {
				t.Fatalf("api %d %s, dashboard %d %s", api.code, api.body, dash.code, dash.body)
			}
			st := decode[outcomes.JobStatus](t, api)
			var v struct {
				outcomes.JobStatus
				Outcome map[string]any `json:"outcome"`
			}
			if err := json.Unmarshal([]byte(dash.body), &v); err != nil {
				t.Fatal(err)
			}
			if v.ID != id || v.ID != st.ID || v.Queue != st.Queue || v.Batch != b || v.Batch != st.Batch || v.Attempt != st.Attempt ||
				v.State != outcomes.StateDone || v.State != st.State || v.Kind != st.Kind || v.Outcome["id"] != id {
				t.Fatalf("dashboard %s, api %s", dash.body, api.body)
			}
			for _, secret := range []string{"authpass", "hdrpass", "urlpass"} {
				if strings.Contains(dash.body, secret) {
					t.Errorf("the lookup shows %s: %s", secret, dash.body)
				}
			}
			if id == `a"b` {
				if body, _ := v.Outcome["body"].(string); len(body) > outcomeBodyCap || v.Outcome["body_cut"] != true || !strings.Contains(api.body, big) {
					t.Errorf("body of %d bytes, cut %v", len(body), v.Outcome["body_cut"])
				}
			}
		})
	}

	// The same errors, /v1's: 404, 400.
	long := strings.Repeat("i", tasks.MaxIDLen+1)
	for _, tc := range []struct {
		api, dash string
		code      int
	}{
		{"/v1/jobs/nope", "/dashboard/lookup?id=nope", http.StatusNotFound},
		{"/v1/jobs/" + url.PathEscape(`a"`), "/dashboard/lookup?id=" + url.QueryEscape(`a"`), http.StatusNotFound},
		{"/v1/jobs/x?queue=nope", "/dashboard/lookup?id=x&queue=nope", http.StatusBadRequest},
		{"/v1/jobs/" + long, "/dashboard/lookup?id=" + long, http.StatusBadRequest},
		{"/v1/jobs/x?batch=nope", "/dashboard/lookup?id=x&batch=nope", http.StatusNotFound},
	} {
		api, dash := e.do(t, "GET", tc.api, "", ""), e.do(t, "GET", tc.dash, "", "")
		if api.code != tc.code || dash.code != tc.code || api.body != dash.body {
			t.Errorf("%s: %d %s; %s: %d %s; want %d, the same", tc.api, api.code, api.body, tc.dash, dash.code, dash.body, tc.code)
		}
		if e := decode[apiError](t, dash); e.Code != errorCodes[tc.code] || e.Error == "" {
			t.Errorf("%s: %+v", tc.dash, e)
		}
	}
	if a := e.do(t, "GET", "/dashboard/lookup", "", ""); a.code != http.StatusBadRequest || decode[apiError](t, a).Field != "id" {
		t.Errorf("without an id: %d %s", a.code, a.body)
	}
}
