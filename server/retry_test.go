package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestRetryRequests(t *testing.T) {
	e := setup(t, nil)
	for _, tc := range []struct {
		name, query, body string
		code              int
		want              string
	}{
		{"empty", "", `{}`, 400, "nothing chosen"},
		{"not JSON", "", `x`, 400, "body"},
		{"unknown field", "", `{"kind": "x"}`, 400, "unknown field"},
		{"all and a batch", "", `{"all": true, "batch": "B"}`, 400, "without batch"},
		{"unknown queue", "?queue=nope", `{"all": true}`, 400, "not served"},
		{"unknown queue in the body", "", `{"all": true, "queue": "nope"}`, 400, "not served"},
		{"too big", "", `{"type": "` + strings.Repeat("x", maxRetryBody) + `"}`, 400, "body"},
		{"dry run", "", `{"all": true, "dry_run": true}`, 200, `"dry_run":true`},
		{"nothing to retry", "?queue=other", `{"type": "ConnectionError"}`, 200, `"retried":0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, "POST", "/v1/retry"+tc.query, "application/json", tc.body)
			if a.code != tc.code || !strings.Contains(a.body, tc.want) {
				t.Fatalf("%d %s, want %d with %q", a.code, a.body, tc.code, tc.want)
			}
		})
	}
	t.Run("one at a time", func(t *testing.T) {
		s, err := New(Config{Redis: e.rdb})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !s.retries.take("default") || s.retries.take("default") {
			t.Fatal("a second run of the queue was let in")
		}
		if !s.retries.take("other") {
			t.Fatal("another queue was held up")
		}
		s.retries.release("default")
		if !s.retries.take("default") {
			t.Fatal("not released")
		}
	})
	t.Run("running", func(t *testing.T) {
		// the server's own lock, taken as a running retry holds it
		s, err := New(Config{Redis: e.rdb})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.retries.take("default")
		rec := do(s.Handler(), "POST", "/v1/retry", `{"all": true}`)
		if rec.Code != http.StatusConflict {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		// As documented: an Error, validated against the spec's 409.
		doc := kinSpec(t)
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		mt := doc.Paths.Find("/v1/retry").GetOperation("POST").Responses.Status(http.StatusConflict).Value.Content.Get("application/json")
		if err := doc.ValidateSchemaJSON(mt.Schema.Value, v); err != nil || v.(map[string]any)["code"] != "conflict" {
			t.Fatalf("409 %s: %v", rec.Body, err)
		}
	})
}

// Exceptions retried by type, then by batch, through the enqueuer's retry:
// the target now answers, the exceptions leave the list and the batch's
// counts, and the results hold them.
func TestRetryAPI(t *testing.T) {
	e := setup(t, nil)
	tg := newFlaky(t)
	e.startWorker(t)
	b1 := e.postBatch(t, "default", fmt.Sprintf(`{"url": %q, "id": "a"}`, tg.URL+"/fail/a"), fmt.Sprintf(`{"url": %q, "id": "ok"}`, tg.URL+"/ok"))
	b2 := e.postBatch(t, "default", fmt.Sprintf(`{"url": %q, "id": "b"}`, tg.URL+"/fail/b"))
	e.waitDone(t, "default", b1, 2)
	e.waitDone(t, "default", b2, 1)
	tg.failing.Store(false)

	a := e.do(t, "POST", "/v1/retry", "application/json", fmt.Sprintf(`{"type": "ConnectionError", "batch": %q}`, b1))
	if ans := decode[RetryAnswer](t, a); a.code != 200 || ans.Retried != 1 || ans.Skipped != 1 {
		t.Fatalf("retry of b1: %d %s", a.code, a.body)
	}
	st := e.waitDone(t, "default", b1, 2)
	if st.Responses != 2 || st.Exceptions != 0 || st.ByType["ConnectionError"] != 0 || st.ByStatus["200"] != 2 {
		t.Fatalf("b1 after retry %+v", st)
	}
	a = e.do(t, "POST", "/v1/retry", "application/json", fmt.Sprintf(`{"batch": %q}`, b2))
	if ans := decode[RetryAnswer](t, a); ans.Retried != 1 {
		t.Fatalf("retry of b2: %d %s", a.code, a.body)
	}
	e.waitDone(t, "default", b2, 1)
	if got := lines(e.do(t, "GET", "/v1/results?kind=exceptions", "", "").body); len(got) != 0 {
		t.Fatalf("exceptions left: %v", got)
	}
	res := e.do(t, "GET", "/v1/results", "", "").body
	for _, want := range []string{`"ok /fail/a"`, `"ok /fail/b"`, `"attempt":2`} {
		if !strings.Contains(res, want) {
			t.Errorf("results without %s: %s", want, res)
		}
	}
}
