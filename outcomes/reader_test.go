package outcomes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
	"github.com/reqfleet/reqfleet/tasks"
)

// backends runs a test against miniredis and a real redis-server.
var backends = testredis.Each

func newReader(t *testing.T, rdb redis.UniversalClient) *Reader {
	t.Helper()
	r, err := NewReader(rdb, "q1")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// push appends n responses of batch to the results list, ids "<batch>-<i>".
func push(t *testing.T, rdb redis.UniversalClient, kind Kind, batch string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-%d", batch, i)
		var v any = &tasks.Response{ID: id, Batch: batch, StatusCode: 200, Request: tasks.Job{Method: "GET", URL: "http://x/" + id}, Attempt: 1}
		if kind == Exceptions {
			v = &tasks.Exception{ID: id, Batch: batch, Request: tasks.Job{Method: "GET", URL: "http://x/" + id}, Exception: tasks.ExceptionInfo{Type: tasks.ConnectionError}, Attempt: 1}
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := rdb.RPush(context.Background(), kind.key("q1"), b).Err(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func responseIDs(t *testing.T, r *Reader, opts ReadOptions) []string {
	t.Helper()
	var ids []string
	for resp, err := range r.Responses(context.Background(), opts) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.ID)
	}
	return ids
}

func TestReadFilterPop(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		r := newReader(t, rdb)
		a := push(t, rdb, Results, "A", 7)
		b := push(t, rdb, Results, "B", 5)

		tests := []struct {
			name string
			opts ReadOptions
			want []string
			left int64
		}{
			{"all, small chunks", ReadOptions{Chunk: 2}, append(slices.Clone(a), b...), 12},
			{"batch B", ReadOptions{Batch: "B", Chunk: 3}, b, 12},
			{"pop batch A", ReadOptions{Batch: "A", Pop: true, Chunk: 4}, a, 5},
			{"pop the rest", ReadOptions{Pop: true, Chunk: 2}, b, 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got := responseIDs(t, r, tc.opts)
				if !slices.Equal(got, tc.want) {
					t.Fatalf("ids = %v, want %v", got, tc.want)
				}
				if n, _ := r.Len(context.Background(), Results); n != tc.left {
					t.Fatalf("left %d entries, want %d", n, tc.left)
				}
			})
		}
	})
}

func TestPopEarlyStopPutsBack(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		r := newReader(t, rdb)
		ids := push(t, rdb, Exceptions, "A", 10)
		var got []string
		for e, err := range r.Exceptions(context.Background(), ReadOptions{Pop: true, Chunk: 5}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e.ID)
			if len(got) == 3 {
				break
			}
		}
		rest := []string{}
		for e, err := range r.Exceptions(context.Background(), ReadOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			rest = append(rest, e.ID)
		}
		if !slices.Equal(got, ids[:3]) || !slices.Equal(rest, ids[3:]) {
			t.Fatalf("popped %v, left %v; want %v and %v in order", got, rest, ids[:3], ids[3:])
		}
	})
}

func TestConcurrentPoppersShareNothing(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		ids := push(t, rdb, Results, "A", 300)
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, _ := NewReader(rdb, "q1")
				for resp, err := range r.Responses(context.Background(), ReadOptions{Pop: true, Chunk: 7}) {
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					seen[resp.ID]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if seen[id] != 1 {
				t.Fatalf("entry %s read %d times, want exactly once", id, seen[id])
			}
		}
		if len(seen) != len(ids) {
			t.Fatalf("read %d distinct entries, want %d", len(seen), len(ids))
		}
	})
}

func TestFollow(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { rdb.Close() })
	r := newReader(t, rdb)
	push(t, rdb, Results, "A", 2)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for resp, err := range r.Responses(ctx, ReadOptions{Follow: true, Every: 5 * time.Millisecond}) {
			if err != nil {
				t.Error(err)
				return
			}
			got <- resp.ID
		}
	}()
	want := []string{"A-0", "A-1"}
	for _, w := range want {
		if id := <-got; id != w {
			t.Fatalf("got %s, want %s", id, w)
		}
	}
	push(t, rdb, Results, "B", 1) // arrives while following
	if id := <-got; id != "B-0" {
		t.Fatalf("got %s, want B-0", id)
	}
	cancel()
	<-done // following ends with ctx
}

func TestReadErrorIsReported(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	r := newReader(t, rdb)
	m.Close()
	for _, err := range r.Responses(context.Background(), ReadOptions{}) {
		if err == nil {
			t.Fatal("want an error from a closed Redis")
		}
		return
	}
	t.Fatal("no error yielded")
}

func TestNewReaderValidates(t *testing.T) {
	if _, err := NewReader(nil, "q"); !errors.Is(err, ErrConfig) {
		t.Fatalf("nil redis: err = %v", err)
	}
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { rdb.Close() })
	if _, err := NewReader(rdb, "bad{queue}"); !errors.Is(err, tasks.ErrQueue) {
		t.Fatalf("bad queue: err = %v", err)
	}
	if r, err := NewReader(rdb, ""); err != nil || r.Queue() != "default" {
		t.Fatalf("empty queue: %v %v", r, err)
	}
}

func TestBatchOf(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"id":"1","batch":"B1","request":{}}`, "B1"},
		{`{"id":"a\"batch\":\"no","batch":"B2"}`, "B2"},
		{`{"batch":"esc\u0041ped"}`, "escAped"},
		{`not json`, ""},
	} {
		if got := batchOf(tc.line); got != tc.want {
			t.Errorf("batchOf(%s) = %q, want %q", tc.line, got, tc.want)
		}
	}
}
