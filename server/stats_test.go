package server

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/internal/testkit"
)

// A batch of responses and exceptions, run by a worker: /v1/stats counts
// the lists, asynq's processed and failed of the day (exceptions count as
// failed) and the fleet; /v1/hosts the outcomes by host; /v1/workers one
// row for the worker, with its jobs done.
func TestStatsHostsWorkers(t *testing.T) {
	e := setup(t, nil)
	tg := newFlaky(t)
	e.startWorker(t)
	batch := e.postBatch(t, "default",
		fmt.Sprintf(`{"url": %q}`, tg.URL+"/a"), fmt.Sprintf(`{"url": %q}`, tg.URL+"/404"),
		fmt.Sprintf(`{"url": %q}`, tg.URL+"/fail"), `{"url": "http://user:pw@127.0.0.1:1/refused"}`)
	st := e.waitDone(t, "default", batch, 4)
	if st.ByStatus["200"] != 1 || st.ByStatus["404"] != 1 || st.ByType["ConnectionError"] != 2 {
		t.Fatalf("batch by status %v, by type %v", st.ByStatus, st.ByType)
	}

	s := decode[Stats](t, e.do(t, "GET", "/v1/stats", "", ""))
	if len(s.Queues) != 2 || s.Queues[0].Queue != "default" || s.Queues[1].Queue != "other" {
		t.Fatalf("queues %+v", s.Queues)
	}
	q := s.Queues[0]
	if q.Results != 2 || q.Exceptions != 2 || q.ProcessedToday != 4 || q.FailedToday != 2 || q.Pending != 0 {
		t.Fatalf("default queue %+v", q)
	}

	h := decode[Hosts](t, e.do(t, "GET", "/v1/hosts?queue=default", "", ""))
	byHost := map[string][2]int64{}
	for _, hc := range h.Hosts {
		byHost[hc.Host] = [2]int64{hc.Responses, hc.Exceptions}
	}
	tgHost := tg.Listener.Addr().String()
	if len(byHost) != 2 || byHost[tgHost] != [2]int64{2, 1} || byHost["127.0.0.1:1"] != [2]int64{0, 1} {
		t.Fatalf("hosts %+v", h.Hosts)
	}
	if a := e.do(t, "GET", "/v1/hosts?queue=nope", "", ""); a.code != http.StatusBadRequest {
		t.Fatalf("unknown queue: %d %s", a.code, a.body)
	}

	// The worker's row shows its 4 jobs within a beat (2s).
	var ws Workers
	testkit.WaitUntil(t, 10*time.Second, func() error {
		ws = decode[Workers](t, e.do(t, "GET", "/v1/workers", "", ""))
		if len(ws.Workers) != 1 || ws.Workers[0].Done != 4 {
			return fmt.Errorf("%+v", ws)
		}
		return nil
	}, "one worker row with 4 jobs done")
	if w := ws.Workers[0]; w.Sessions != 4 || w.Mode != "fetcher" {
		t.Fatalf("worker %+v", w)
	}
	s = decode[Stats](t, e.do(t, "GET", "/v1/stats", "", ""))
	if s.Workers != 1 || s.Sessions != 4 || s.Busy != 0 {
		t.Fatalf("fleet %+v", s)
	}
}
