package enqueuer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/tasks"
)

func TestConfigValidate(t *testing.T) {
	rdb, _ := miniBackend(t)
	tests := []struct {
		name string
		cfg  Config
		err  error // nil: valid
	}{
		{"no redis", Config{}, ErrConfig},
		{"bad queue", Config{Redis: rdb, Queue: "a b"}, tasks.ErrQueue},
		{"negative concurrency", Config{Redis: rdb, Concurrency: -1}, ErrConfig},
		{"short timeout", Config{Redis: rdb, TaskTimeout: time.Millisecond}, ErrConfig},
		{"short ttl", Config{Redis: rdb, BatchTTL: time.Millisecond}, ErrConfig},
		{"defaults", Config{Redis: rdb}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			err := cfg.validate()
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !errors.Is(err, ErrConfig) {
					t.Fatalf("err %v, want %v and ErrConfig", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Queue != DefaultQueue || cfg.MaxRetry != DefaultMaxRetry || cfg.TaskTimeout != DefaultTaskTimeout ||
				cfg.Concurrency != DefaultFastConcurrency || cfg.BatchTTL != DefaultBatchTTL || cfg.Logger == nil || cfg.Now == nil {
				t.Fatalf("defaults not filled: %+v", cfg)
			}
		})
	}
	cfg := Config{Redis: rdb, MaxRetry: -1}
	if err := cfg.validate(); err != nil || cfg.MaxRetry != 0 {
		t.Fatalf("MaxRetry -1: %d %v, want 0 <nil>", cfg.MaxRetry, err)
	}
}

func TestNewBatch(t *testing.T) {
	v := newMini(t, func(c *Config) { c.BatchTTL = time.Hour })
	ctx := context.Background()
	b1, err := v.e.NewBatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := v.e.NewBatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^20261125T201300-[0-9a-f]{8}$`).MatchString(b1.ID()) || b1.ID() == b2.ID() {
		t.Fatalf("batch ids %q %q", b1.ID(), b2.ID())
	}
	wantHash(t, v.hash(t, b1.ID()), map[string]int{rdb.BatchCreated: int(testNow.UnixMilli()), rdb.BatchAccepted: 0})
	if ttl := v.mr.TTL(rdb.BatchKey(testQueue, b1.ID())); ttl != time.Hour {
		t.Errorf("unsealed batch ttl %v, want 1h", ttl)
	}
	zs, err := v.rdb.ZRangeWithScores(ctx, rdb.BatchesKey(testQueue), 0, -1).Result()
	if err != nil || len(zs) != 2 || zs[0].Score != float64(testNow.UnixMilli()) {
		t.Fatalf("batches %v %v", zs, err)
	}
}

func TestAdd(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, func(c *Config) { c.MaxRetry = 3; c.TaskTimeout = time.Minute }, path)
		ctx := context.Background()
		b, err := v.e.NewBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t1, err := b.Add(ctx, tasks.Job{URL: "http://h/1"})
		if err != nil {
			t.Fatal(err)
		}
		t2, err := b.Add(ctx, tasks.Job{ID: "mine", Method: "post", URL: "http://h/2", Headers: map[string]string{"A": "b"}})
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(t1.Job.ID) || t1.Job.Method != "GET" || t1.Batch != b.ID() || t1.Attempt != 1 {
			t.Errorf("task 1 %+v: want a generated uuid, GET, the batch, attempt 1", t1)
		}
		if t2.Job.ID != "mine" || t2.Job.Method != "POST" {
			t.Errorf("task 2 %+v", t2)
		}
		got := v.pending(t)
		if len(got) != 2 || got[0].Job.ID != t1.Job.ID || got[1].Job.ID != "mine" || got[1].Job.Headers["A"] != "b" {
			t.Fatalf("pending %+v", got)
		}
		info, err := v.insp.GetTaskInfo(testQueue, t2.TaskID())
		if err != nil {
			t.Fatal(err)
		}
		if info.MaxRetry != 3 || info.Timeout != time.Minute || info.Retention != 0 || info.Queue != testQueue {
			t.Errorf("task options: max retry %d timeout %v retention %v queue %s", info.MaxRetry, info.Timeout, info.Retention, info.Queue)
		}
		if b.Accepted() != 2 {
			t.Errorf("accepted %d", b.Accepted())
		}
	})
}

func TestAddRefuses(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		tests := []struct {
			name string
			job  tasks.Job
			errs []error
		}{
			{"duplicate id", tasks.Job{ID: "dup", URL: "http://h/"}, []error{ErrDuplicateID}},
			{"no url", tasks.Job{ID: "x"}, []error{ErrInvalidJob, tasks.ErrRequired}},
			{"bad header", tasks.Job{URL: "http://h/", Headers: map[string]string{"a b": "c"}}, []error{ErrInvalidJob, tasks.ErrValue}},
			{"bad method", tasks.Job{URL: "http://h/", Method: "G T"}, []error{ErrInvalidJob, tasks.ErrValue}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				v := newMini(t, nil, path)
				ctx := context.Background()
				b, err := v.e.NewBatch(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.Add(ctx, tasks.Job{ID: "dup", URL: "http://h/0"}); err != nil {
					t.Fatal(err)
				}
				_, err = b.Add(ctx, tt.job)
				for _, want := range tt.errs {
					if !errors.Is(err, want) {
						t.Errorf("err %v, want %v", err, want)
					}
				}
				if n := len(v.pending(t)); n != 1 || b.Accepted() != 1 {
					t.Errorf("%d pending, %d accepted, want 1", n, b.Accepted())
				}
				// The same id in another batch is fine.
				b2, err := v.e.NewBatch(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b2.Add(ctx, tasks.Job{ID: "dup", URL: "http://h/"}); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

func TestSeal(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, func(c *Config) { c.BatchTTL = 48 * time.Hour }, path)
		ctx := context.Background()
		b, err := v.e.NewBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := b.Add(ctx, tasks.Job{URL: "http://h/" + strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 { // sealing twice is fine
			if err := b.Seal(ctx); err != nil {
				t.Fatal(err)
			}
		}
		wantHash(t, v.hash(t, b.ID()), map[string]int{rdb.BatchAccepted: 3, rdb.BatchTotal: 3, rdb.BatchSealed: 1,
			rdb.BatchCreated: int(testNow.UnixMilli())})
		if ttl := v.mr.TTL(rdb.BatchKey(testQueue, b.ID())); ttl != 48*time.Hour {
			t.Errorf("ttl %v", ttl)
		}
		if _, err := b.Add(ctx, tasks.Job{URL: "http://h/"}); !errors.Is(err, ErrSealed) {
			t.Errorf("Add after Seal: %v", err)
		}
		if _, err := b.AddMany(ctx, nJobs(1)); !errors.Is(err, ErrSealed) {
			t.Errorf("AddMany after Seal: %v", err)
		}
	})
}

func TestEnqueue(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, nil, path)
		task, err := v.e.Enqueue(context.Background(), tasks.Job{URL: "http://h/"})
		if err != nil {
			t.Fatal(err)
		}
		wantHash(t, v.hash(t, task.Batch), map[string]int{rdb.BatchTotal: 1, rdb.BatchSealed: 1})
		if p := v.pending(t); len(p) != 1 || p[0].Job.ID != task.Job.ID {
			t.Fatalf("pending %+v", p)
		}
		_, err = v.e.Enqueue(context.Background(), tasks.Job{})
		if !errors.Is(err, ErrInvalidJob) {
			t.Fatalf("invalid job: %v", err)
		}
	})
}

func TestClosed(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, nil, path)
		ctx := context.Background()
		b, err := v.e.NewBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.e.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := v.e.NewBatch(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("NewBatch: %v", err)
		}
		if _, err := b.Add(ctx, tasks.Job{URL: "http://h/"}); !errors.Is(err, ErrClosed) {
			t.Errorf("Add: %v", err)
		}
		// What was accepted can still be sealed.
		if err := b.Seal(ctx); err != nil {
			t.Errorf("Seal after Close: %v", err)
		}
		if _, err := v.e.Retry(ctx, RetryOptions{}); !errors.Is(err, ErrClosed) {
			t.Errorf("Retry: %v", err)
		}
		// The Redis client is the caller's, still open.
		if err := v.rdb.Ping(ctx).Err(); err != nil {
			t.Errorf("redis closed: %v", err)
		}
	})
}

// TestEnqueueManyBadLine: EnqueueMany of a JSONL input with a bad line 5
// enqueues exactly the jobs before it, seals the batch with their count and
// returns the line's error with the receipt.
func TestEnqueueManyBadLine(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		good := "{\"url\": \"http://h/1\"}\n{\"id\": \"j2\", \"url\": \"http://h/2\"}\n\n{\"url\": \"http://h/3\", \"method\": \"post\"}\n"
		after := "\n{\"url\": \"http://h/6\"}\n{\"url\": \"http://h/7\"}\n"
		tests := []struct {
			name    string
			bad     string
			maxLine int
			err     error
		}{
			{"invalid json", `{"url": "http://h/5"`, 0, tasks.ErrSyntax},
			{"unknown key", `{"url": "http://h/5", "proxies": {}}`, 0, tasks.ErrUnknownField},
			{"wrong type", `{"url": "http://h/5", "timeout": "5s"}`, 0, tasks.ErrType},
			{"missing url", `{"method": "GET"}`, 0, tasks.ErrRequired},
			{"not an object", `["http://h/5"]`, 0, tasks.ErrNotObject},
			{"huge line", `{"url": "http://h/` + strings.Repeat("5", 200) + `"}`, 100, ErrLineTooLong},
			{"duplicate id", `{"id": "j2", "url": "http://h/5"}`, 0, ErrDuplicateID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				v := newMini(t, func(c *Config) { c.Concurrency = 4 }, path)
				in := good + tt.bad + "\n" + after
				rec, err := v.e.EnqueueMany(context.Background(), ReadJSONL(strings.NewReader(in), tt.maxLine))
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				var le *LineError
				var je *JobError
				switch {
				case errors.As(err, &le):
					if le.Line != 5 || !strings.Contains(err.Error(), "line 5: ") {
						t.Errorf("error %q names line %d, want 5", err, le.Line)
					}
				case errors.As(err, &je):
					if je.Index != 4 || je.ID != "j2" { // the 4th job
						t.Errorf("job error %+v, want job 4 j2", je)
					}
				default:
					t.Errorf("error %v: neither a line nor a job error", err)
				}
				if rec.Accepted != 3 || rec.Batch == "" {
					t.Errorf("receipt %+v, want 3 accepted", rec)
				}
				var urls []string
				for _, task := range v.pending(t) {
					urls = append(urls, task.Job.Method+" "+task.Job.URL)
					if task.Batch != rec.Batch {
						t.Errorf("task of batch %q, want %q", task.Batch, rec.Batch)
					}
				}
				if want := []string{"GET http://h/1", "GET http://h/2", "POST http://h/3"}; !sameElems(urls, want) {
					t.Errorf("queued %q, want %q", urls, want)
				}
				wantHash(t, v.hash(t, rec.Batch), map[string]int{rdb.BatchTotal: 3, rdb.BatchAccepted: 3, rdb.BatchSealed: 1})
			})
		}
	})
}

func sameElems(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestAddManyConcurrent runs AddMany calls from several goroutines on one
// batch, against miniredis and a real redis-server.
func TestAddManyConcurrent(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		for _, be := range backends {
			t.Run(be.name, func(t *testing.T) {
				v := newEnv(t, be.start, func(c *Config) { c.Concurrency = 8 }, path)
				v.e.flushEvery = 50
				ctx := context.Background()
				b, err := v.e.NewBatch(ctx)
				if err != nil {
					t.Fatal(err)
				}
				const callers, per = 4, 250
				var wg sync.WaitGroup
				counts := make([]int, callers)
				errs := make([]error, callers)
				for c := range callers {
					wg.Go(func() {
						jobs := func(yield func(tasks.Job, error) bool) {
							for i := range per {
								id := ""
								if i%2 == 0 {
									id = fmt.Sprintf("c%d-%d", c, i)
								}
								if !yield(tasks.Job{ID: id, URL: fmt.Sprintf("http://h/%d/%d", c, i)}, nil) {
									return
								}
							}
						}
						counts[c], errs[c] = b.AddMany(ctx, jobs)
					})
				}
				wg.Wait()
				for c := range callers {
					if errs[c] != nil || counts[c] != per {
						t.Fatalf("caller %d: %d, %v", c, counts[c], errs[c])
					}
				}
				// Progress is written before Seal.
				wantHash(t, v.hash(t, b.ID()), map[string]int{rdb.BatchAccepted: callers * per})
				if err := b.Seal(ctx); err != nil {
					t.Fatal(err)
				}
				wantHash(t, v.hash(t, b.ID()), map[string]int{rdb.BatchTotal: callers * per, rdb.BatchSealed: 1})
				p := v.pending(t)
				seen := make(map[string]bool)
				for _, task := range p {
					if seen[task.Job.ID] {
						t.Fatalf("id %s twice", task.Job.ID)
					}
					seen[task.Job.ID] = true
				}
				if len(p) != callers*per {
					t.Fatalf("%d pending, want %d", len(p), callers*per)
				}
			})
		}
	})
}

// TestAddManyBatchesProgress counts the HINCRBY of accepted: one per
// flushEvery jobs, and one at the end.
func TestAddManyBatchesProgress(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, nil, path)
		v.e.flushEvery = 50
		var hincr atomic.Int64
		v.rdb.AddHook(countHook{"hincrby", &hincr})
		ctx := context.Background()
		b, err := v.e.NewBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := b.AddMany(ctx, nJobs(525)); n != 525 || err != nil {
			t.Fatalf("%d %v", n, err)
		}
		if got := hincr.Load(); got < 2 || got > 12 {
			t.Errorf("%d HINCRBY for 525 jobs, want 11 or so", got)
		}
		wantHash(t, v.hash(t, b.ID()), map[string]int{rdb.BatchAccepted: 525})
	})
}

// TestAddProgressByTime: a lone Add writes progress once flushInterval
// has passed.
func TestAddProgressByTime(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		var now atomic.Int64
		now.Store(testNow.UnixNano())
		v := newMini(t, func(c *Config) { c.Now = func() time.Time { return time.Unix(0, now.Load()) } }, path)
		ctx := context.Background()
		b, err := v.e.NewBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Add(ctx, tasks.Job{URL: "http://h/1"}); err != nil {
			t.Fatal(err)
		}
		if h := v.hash(t, b.ID()); h[rdb.BatchAccepted] != "0" {
			t.Fatalf("accepted written at once: %v", h)
		}
		now.Add(int64(2 * time.Second))
		if _, err := b.Add(ctx, tasks.Job{URL: "http://h/2"}); err != nil {
			t.Fatal(err)
		}
		wantHash(t, v.hash(t, b.ID()), map[string]int{rdb.BatchAccepted: 2})
	})
}

type countHook struct {
	cmd string
	n   *atomic.Int64
}

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == h.cmd {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestAddManyRedisDown: Redis fails for good after some jobs; AddMany says
// how many it accepted, and exactly those are queued.
func TestAddManyRedisDown(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, func(c *Config) { c.Concurrency = 4 }, path)
		ctx := context.Background()
		b, err := v.e.NewBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		jobs := func(yield func(tasks.Job, error) bool) {
			for i := range 1000 {
				if i == 100 {
					v.mr.SetError("LOADING down for a test")
				}
				if !yield(tasks.Job{URL: "http://h/" + strconv.Itoa(i)}, nil) {
					return
				}
			}
		}
		n, err := b.AddMany(ctx, jobs)
		if !errors.Is(err, ErrEnqueue) {
			t.Fatalf("err %v, want ErrEnqueue", err)
		}
		if n > 100 || !strings.Contains(err.Error(), fmt.Sprintf(" %d jobs accepted", n)) {
			t.Fatalf("accepted %d, error %q", n, err)
		}
		v.mr.SetError("")
		if p := len(v.pending(t)); p != n || b.Accepted() != n {
			t.Fatalf("%d pending, %d accepted, AddMany said %d", p, b.Accepted(), n)
		}
		if err := b.Seal(ctx); err != nil {
			t.Fatal(err)
		}
		wantHash(t, v.hash(t, b.ID()), map[string]int{rdb.BatchTotal: n})
	})
}

// TestAddRedisBlip: a Redis error that passes is tried again.
func TestAddRedisBlip(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, nil, path)
		ctx := context.Background()
		b, err := v.e.NewBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var blips atomic.Int64
		v.e.hooks.onBackoff = func(error) { blips.Add(1); v.mr.SetError("") }
		v.mr.SetError("LOADING blip")
		if _, err := b.Add(ctx, tasks.Job{URL: "http://h/"}); err != nil {
			t.Fatal(err)
		}
		if blips.Load() != 1 || len(v.pending(t)) != 1 {
			t.Fatalf("%d blips, %d pending", blips.Load(), len(v.pending(t)))
		}
	})
}

// TestEnqueueManyCanceled: ctx ends midway; the batch is sealed with the
// jobs queued.
func TestEnqueueManyCanceled(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, func(c *Config) { c.Concurrency = 2 }, path)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		jobs := func(yield func(tasks.Job, error) bool) {
			for i := range 1000 {
				if i == 50 {
					cancel()
				}
				if !yield(tasks.Job{URL: "http://h/" + strconv.Itoa(i)}, nil) {
					return
				}
			}
		}
		rec, err := v.e.EnqueueMany(ctx, jobs)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		if p := len(v.pending(t)); p != rec.Accepted || p > 51 {
			t.Fatalf("%d pending, receipt %+v", p, rec)
		}
		wantHash(t, v.hash(t, rec.Batch), map[string]int{rdb.BatchTotal: rec.Accepted, rdb.BatchSealed: 1})
	})
}

// TestEnqueueManyNothingSent: EnqueueMany that fails before sending any
// job (its first line bad, its ctx ended) leaves no batch behind: neither
// the hash nor the queue's batches set has it.
func TestEnqueueManyNothingSent(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		in   string
		err  error
	}{
		{"bad first line", context.Background(), "{\"url\": 5}\n{\"url\": \"http://h/2\"}\n", tasks.ErrType},
		{"ctx ended", cancelled, "{\"url\": \"http://h/1\"}\n", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newMini(t, nil)
			b, err := v.e.NewBatch(context.Background()) // another batch, untouched
			if err != nil {
				t.Fatal(err)
			}
			v.e.cfg.Now = func() time.Time { return testNow.Add(time.Second) } // another id
			rec, err := v.e.EnqueueMany(tt.ctx, ReadJSONL(strings.NewReader(tt.in), 0))
			if !errors.Is(err, tt.err) || rec != (Receipt{}) {
				t.Fatalf("receipt %+v, err %v; want none and %v", rec, err, tt.err)
			}
			ids, err := v.rdb.ZRange(context.Background(), rdb.BatchesKey(testQueue), 0, -1).Result()
			if err != nil || len(ids) != 1 || ids[0] != b.ID() {
				t.Fatalf("batches %q (%v), want only the other batch %s", ids, err, b.ID())
			}
			keys, err := v.rdb.Keys(context.Background(), rdb.BatchKey(testQueue, "*")).Result()
			if err != nil || len(keys) != 1 {
				t.Fatalf("batch hashes %q (%v), want the other's only", keys, err)
			}
			if n := len(v.pending(t)); n != 0 {
				t.Fatalf("%d jobs queued", n)
			}
		})
	}
}

// TestEnqueueManyInputError: an error of the iterator itself.
func TestEnqueueManyInputError(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, nil, path)
		boom := errors.New("boom")
		jobs := func(yield func(tasks.Job, error) bool) {
			for i := range 10 {
				if !yield(tasks.Job{URL: "http://h/" + strconv.Itoa(i)}, nil) {
					return
				}
			}
			if !yield(tasks.Job{}, boom) {
				return
			}
			t.Error("iterator went on after its error")
		}
		rec, err := v.e.EnqueueMany(context.Background(), jobs)
		if !errors.Is(err, boom) || rec.Accepted != 10 || len(v.pending(t)) != 10 {
			t.Fatalf("err %v, receipt %+v, %d pending", err, rec, len(v.pending(t)))
		}
	})
}

// TestAddLostReply: asynq's enqueue runs but its reply is lost; the try
// again finds the task queued, and counts it once.
func TestAddLostReply(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, nil, path)
		ctx := context.Background()
		b, err := v.e.NewBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var lost atomic.Int64
		v.rdb.AddHook(lostReplyHook{seen: new(sync.Map), n: &lost, match: func(cmd redis.Cmder) (any, bool) {
			return "enqueue", cmd.Name() == "eval" || cmd.Name() == "evalsha"
		}})
		if _, err := b.Add(ctx, tasks.Job{ID: "j1", URL: "http://h/1"}); err != nil {
			t.Fatal(err)
		}
		if n, err := b.AddMany(ctx, nJobs(3)); n != 3 || err != nil {
			t.Fatalf("%d %v", n, err)
		}
		if lost.Load() != 1 || b.Accepted() != 4 || len(v.pending(t)) != 4 {
			t.Fatalf("%d lost, %d accepted, %d pending", lost.Load(), b.Accepted(), len(v.pending(t)))
		}
	})
}

// TestAddManyInvalidJobInOrder: the workers check jobs in parallel, yet
// exactly the jobs before an invalid one are enqueued.
func TestAddManyInvalidJobInOrder(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		for _, bad := range []int{1, 2, 17, 150, 300} {
			t.Run(strconv.Itoa(bad), func(t *testing.T) {
				v := newMini(t, func(c *Config) { c.Concurrency = 16 }, path)
				jobs := func(yield func(tasks.Job, error) bool) {
					for i := 1; i <= 300; i++ {
						job := tasks.Job{URL: "http://h/" + strconv.Itoa(i)}
						if i == bad {
							job.Headers = map[string]string{"bad header": "x"}
						}
						if i == bad+5 {
							job.ID = "never-claimed-for-long"
						}
						if !yield(job, nil) {
							return
						}
					}
				}
				ctx := context.Background()
				rec, err := v.e.EnqueueMany(ctx, jobs)
				var je *JobError
				if !errors.As(err, &je) || je.Index != bad || !errors.Is(err, ErrInvalidJob) || !errors.Is(err, tasks.ErrValue) {
					t.Fatalf("err %v, want job %d invalid", err, bad)
				}
				if rec.Accepted != bad-1 {
					t.Fatalf("accepted %d, want %d", rec.Accepted, bad-1)
				}
				var urls, want []string
				for _, task := range v.pending(t) {
					urls = append(urls, task.Job.URL)
				}
				for i := 1; i < bad; i++ {
					want = append(want, "http://h/"+strconv.Itoa(i))
				}
				if !sameElems(urls, want) {
					t.Fatalf("queued %d jobs %q, want the %d before job %d", len(urls), urls, len(want), bad)
				}
				if bad == 1 { // nothing sent: no batch left behind
					if rec.Batch != "" {
						t.Fatalf("receipt %+v, want no batch", rec)
					}
					return
				}
				wantHash(t, v.hash(t, rec.Batch), map[string]int{rdb.BatchTotal: bad - 1, rdb.BatchSealed: 1})
			})
		}
	})
}

// TestAddAgainAfterFailure: a job that Redis refused may be added again
// with its id.
func TestAddAgainAfterFailure(t *testing.T) {
	forEachEnqueuePath(t, func(t *testing.T, path func(*Config)) {
		v := newMini(t, nil, path)
		ctx := context.Background()
		b, err := v.e.NewBatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v.mr.SetError("LOADING down")
		if _, err := b.Add(ctx, tasks.Job{ID: "x", URL: "http://h/"}); !errors.Is(err, ErrEnqueue) {
			t.Fatalf("err %v, want ErrEnqueue", err)
		}
		v.mr.SetError("")
		if _, err := b.Add(ctx, tasks.Job{ID: "x", URL: "http://h/"}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Add(ctx, tasks.Job{ID: "x", URL: "http://h/"}); !errors.Is(err, ErrDuplicateID) {
			t.Fatalf("err %v, want ErrDuplicateID", err)
		}
	})
}
