package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/outcomes"
)

// GET /v1/batches: newest first, paged by cursor, each batch once.
func TestBatchesAPI(t *testing.T) {
	e := setup(t, nil)
	var made []string
	for i := range 5 {
		made = append(made, e.postBatch(t, "default", fmt.Sprintf(`{"url": "https://example.com/%d"}`, i)))
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pages do not end")
		}
		path := "/v1/batches?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		a := e.do(t, "GET", path, "", "")
		if a.code != 200 {
			t.Fatalf("%s: %d %s", path, a.code, a.body)
		}
		b := decode[Batches](t, a)
		if b.Queue != "default" || len(b.Batches) > 2 {
			t.Fatalf("page %+v", b)
		}
		for _, l := range b.Batches {
			if l.Expected != 1 || l.Queue != "default" {
				t.Fatalf("line %+v", l)
			}
			got = append(got, l.ID)
		}
		if b.Next == "" {
			break
		}
		cursor = b.Next
	}
	if len(got) != len(made) {
		t.Fatalf("listed %v, made %v", got, made)
	}
	for i := range made { // newest first
		if got[i] != made[len(made)-1-i] {
			t.Fatalf("listed %v, made %v", got, made)
		}
	}
	for _, tc := range []struct{ query, want string }{
		{"limit=0", "limit"}, {"limit=201", "limit"}, {"limit=x", "limit"},
		{"cursor=zz", "cursor"}, {"queue=nope", "not served"},
	} {
		if a := e.do(t, "GET", "/v1/batches?"+tc.query, "", ""); a.code != http.StatusBadRequest || !strings.Contains(a.body, tc.want) {
			t.Errorf("%s: %d %s", tc.query, a.code, a.body)
		}
	}
	if b := decode[Batches](t, e.do(t, "GET", "/v1/batches?queue=other", "", "")); b.Batches == nil || len(b.Batches) != 0 {
		t.Fatalf("empty queue: %+v", b)
	}
}

func TestBatchLine(t *testing.T) {
	now := time.Now()
	running := outcomes.BatchStatus{ID: "B", Sealed: true, Total: 100, Done: 20, Created: now.Add(-10 * time.Second)}
	l := batchLine("q", running, now)
	if l.Rate != 2 || l.ETA == nil || *l.ETA != 40 || l.Complete {
		t.Fatalf("running %+v (eta %v)", l, l.ETA)
	}
	done := running
	done.Done = 100
	if l := batchLine("q", done, now); l.Rate != 0 || l.ETA != nil || !l.Complete {
		t.Fatalf("complete %+v", l)
	}
	fresh := running
	fresh.Done = 0
	if l := batchLine("q", fresh, now); l.Rate != 0 || l.ETA != nil {
		t.Fatalf("not started %+v", l)
	}
}
