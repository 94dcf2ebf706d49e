package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

// The exceptions list by pages, one batch's, one type's.
func TestGetExceptions(t *testing.T) {
	e := setup(t, nil)
	e.startWorker(t)
	var body strings.Builder
	for i := range 5 {
		fmt.Fprintf(&body, `{"url": "http://127.0.0.1:1/", "id": "x%d", "timeout": 5}`+"\n", i)
	}
	fmt.Fprintf(&body, `{"url": %q, "id": "ok"}`+"\n", e.target.URL+"/ok")
	post := func() string {
		a := e.do(t, "POST", "/v1/jobs", "application/x-ndjson", body.String())
		if a.code != http.StatusAccepted {
			t.Fatalf("POST: %d %s", a.code, a.body)
		}
		b := decode[Receipt](t, a).Batch
		e.waitBatch(t, b, "default")
		return b
	}
	b1, b2 := post(), post()

	page := func(q string) ExceptionsPage {
		t.Helper()
		a := e.do(t, "GET", "/v1/exceptions?"+q, "", "")
		if a.code != http.StatusOK {
			t.Fatalf("GET ?%s: %d %s", q, a.code, a.body)
		}
		return decode[ExceptionsPage](t, a)
	}
	var got []tasks.Exception
	cursor := int64(0)
	for range 10 {
		p := page(fmt.Sprintf("batch=%s&limit=2&cursor=%d", b2, cursor))
		for _, raw := range p.Exceptions {
			ex, err := tasks.DecodeException(raw)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ex)
		}
		cursor = p.Next
		if !p.More {
			break
		}
	}
	if len(got) != 5 {
		t.Fatalf("batch %s: %d exceptions, want 5", b2, len(got))
	}
	for _, ex := range got {
		if ex.Batch != b2 || ex.Exception.Type != tasks.ConnectionError {
			t.Errorf("%+v", ex)
		}
	}
	if p := page("type=ConnectionError"); len(p.Exceptions) != 10 || p.More || p.Queue != "default" {
		t.Errorf("both batches: %d, more %v", len(p.Exceptions), p.More)
	}
	if p := page("batch=" + b1 + "&type=ReadTimeout"); len(p.Exceptions) != 0 || p.Exceptions == nil {
		t.Errorf("no ReadTimeout: %+v", p)
	}
	if p := page("queue=other"); len(p.Exceptions) != 0 {
		t.Errorf("other queue: %+v", p)
	}
}
