package reqfleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/enqueuer"
	reqrdb "github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
	"github.com/reqfleet/reqfleet/worker"
)

func target(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func collect(t *testing.T, res *Result) (statuses []int, types []string) {
	t.Helper()
	ctx := context.Background()
	for r, err := range res.Responses(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, r.StatusCode)
	}
	for e, err := range res.Exceptions(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, e.Exception.Type)
	}
	slices.Sort(statuses)
	slices.Sort(types)
	return statuses, types
}

func TestMapEmbedded(t *testing.T) {
	srv := target(t)
	var urls []string
	for i := range 20 {
		urls = append(urls, fmt.Sprintf("%s/%d", srv.URL, i))
	}
	urls = append(urls, srv.URL+"/missing", "no-scheme.example", "http://127.0.0.1:1/")
	var last outcomes.BatchStatus
	res, err := Map(context.Background(), enqueuer.FromURLs(urls), Options{
		Concurrency: 4,
		Progress:    func(s outcomes.BatchStatus) { last = s },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	statuses, types := collect(t, res)
	if len(statuses) != 21 || statuses[20] != 404 || statuses[0] != 200 {
		t.Fatalf("statuses = %v", statuses)
	}
	if want := []string{tasks.ConnectionError, tasks.MissingSchema}; !slices.Equal(types, want) {
		t.Fatalf("exception types = %v, want %v", types, want)
	}
	if !res.Status.Complete() || res.Status.Total != 23 || res.Status.Responses != 21 || res.Status.Exceptions != 2 {
		t.Fatalf("status = %+v", res.Status)
	}
	if !last.Complete() {
		t.Fatalf("last progress = %+v, want complete", last)
	}
}

// With a shared Redis, a worker of the fleet helps a Map that runs no local
// worker at all.
func TestMapSharedRedisWithFleetWorker(t *testing.T) {
	srv := target(t)
	rdb := testredis.Start(t).Client(t)
	w, err := worker.New(worker.Config{Redis: rdb, Concurrency: 2, Queues: map[string]int{"fleet": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Shutdown(context.Background()) })

	urls := []string{srv.URL + "/a", srv.URL + "/b", srv.URL + "/missing"}
	res, err := Map(context.Background(), enqueuer.FromURLs(urls), Options{Redis: rdb, Queue: "fleet", NoLocalWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	statuses, _ := collect(t, res)
	if !slices.Equal(statuses, []int{200, 200, 404}) {
		t.Fatalf("statuses = %v", statuses)
	}
	// The shared Redis keeps the outcomes after Close.
	res.Close()
	if n := rdb.LLen(context.Background(), reqrdb.ResultsKey("fleet")).Val(); n != 3 {
		t.Fatalf("results list = %d, want 3", n)
	}
}

func TestMapBadLineRunsWhatCameBefore(t *testing.T) {
	srv := target(t)
	input := fmt.Sprintf("{\"url\": %q}\n{\"url\": %q}\n{\"url\": \"x\", \"bogus\": 1}\n{\"url\": %q}\n", srv.URL+"/1", srv.URL+"/2", srv.URL+"/4")
	res, err := Map(context.Background(), enqueuer.ReadJSONL(strings.NewReader(input), 0), Options{Concurrency: 2})
	if res == nil {
		t.Fatalf("no result: %v", err)
	}
	defer res.Close()
	var le *enqueuer.LineError
	if !errors.As(err, &le) || le.Line != 3 || !errors.Is(err, tasks.ErrUnknownField) {
		t.Fatalf("err = %v, want line 3 unknown field", err)
	}
	statuses, _ := collect(t, res)
	if !slices.Equal(statuses, []int{200, 200}) {
		t.Fatalf("statuses = %v, want the two jobs before the bad line", statuses)
	}
}

func TestMapNoWorkerNeedsRedis(t *testing.T) {
	if _, err := Map(context.Background(), enqueuer.FromURLs(nil), Options{NoLocalWorker: true}); !errors.Is(err, ErrNoWorkers) {
		t.Fatalf("err = %v, want ErrNoWorkers", err)
	}
}

func TestMapEmptyInput(t *testing.T) {
	res, err := Map(context.Background(), enqueuer.FromURLs(nil), Options{Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if !res.Status.Complete() || res.Status.Total != 0 {
		t.Fatalf("status = %+v", res.Status)
	}
}
