package outcomes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

// ErrNoJob: no batch looked at holds the job, and no outcome looked at is
// its.
var ErrNoJob = errors.New("no such job")

// States of a job: asynq's task states while it is queued, then done.
const (
	StatePending   = "pending"   // queued, not taken
	StateActive    = "active"    // taken by a worker
	StateScheduled = "scheduled" // asynq holds it for later
	StateRetry     = "retry"     // asynq will run it again (a lost worker)
	StateArchived  = "archived"  // asynq gave up on it: a sweep makes it a WorkerLost exception
	StateDone      = "done"      // its outcome is recorded
)

// Defaults of JobOptions' zero fields.
const (
	DefaultJobBatches  = 100
	DefaultJobAttempts = 8
	DefaultJobScan     = 100_000
)

// JobOptions bound a job lookup. Zero fields take the defaults.
type JobOptions struct {
	Batch       string // look in this batch only; default: the newest MaxBatches batches
	MaxBatches  int64  // batches looked at without Batch; default 100
	MaxAttempts int    // attempts looked at in each batch (retry raises it); default 8
	// MaxScan is how many entries of each list (results, exceptions),
	// newest first, are looked at for the outcome; default 100,000.
	MaxScan int64
	// MaxScanBytes bounds the bytes of each list read for the outcome;
	// default 64 MiB.
	MaxScanBytes int64
}

// JobStatus is where a job is: its state and, once done, its outcome.
type JobStatus struct {
	ID      string `json:"id"`
	Queue   string `json:"queue"`
	Batch   string `json:"batch"`
	Attempt int    `json:"attempt"`
	State   string `json:"state"`
	// Kind is "response" or "exception" when the outcome was found.
	Kind string `json:"kind,omitempty"`
	// Outcome is the recorded entry, as in the list; absent when the job is
	// not done, or its entry is no longer in the newest MaxScan entries of
	// the lists (or was taken by results --pop).
	Outcome json.RawMessage `json:"outcome,omitempty"`
}

// Job finds a job by its id: the newest batch (of those looked at) that
// holds it, its latest attempt there, and asynq's state of that attempt's
// task, or done with the recorded outcome. There is no index by job id: a
// lookup reads the batches' task and dedupe keys (MaxBatches x MaxAttempts
// of each, in one round trip) and scans the lists, newest first, up to
// MaxScan entries and MaxScanBytes each. A job found in no batch but whose outcome is in the
// lists is done.
func (r *Reader) Job(ctx context.Context, id string, opts JobOptions) (JobStatus, error) {
	if opts.MaxBatches <= 0 {
		opts.MaxBatches = DefaultJobBatches
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultJobAttempts
	}
	if opts.MaxScan <= 0 {
		opts.MaxScan = DefaultJobScan
	}
	if opts.MaxScanBytes <= 0 {
		opts.MaxScanBytes = DefaultScanBytes
	}
	st := JobStatus{ID: id, Queue: r.queue}
	batches := []string{opts.Batch}
	if opts.Batch == "" {
		var err error
		batches, err = r.rdb.ZRevRange(ctx, rdb.BatchesKey(r.queue), 0, opts.MaxBatches-1).Result()
		if err != nil {
			return st, fmt.Errorf("list batches: %w", err)
		}
	}
	type probe struct {
		state *redis.StringCmd
		seen  *redis.BoolCmd
	}
	probes := make([][]probe, len(batches))
	pipe := r.rdb.Pipeline()
	for i, b := range batches {
		probes[i] = make([]probe, opts.MaxAttempts)
		for a := range opts.MaxAttempts {
			attempt := strconv.Itoa(a + 1)
			probes[i][a] = probe{
				state: pipe.HGet(ctx, rdb.TaskKey(r.queue, b+":"+attempt+":"+id), "state"),
				seen:  pipe.SIsMember(ctx, rdb.SeenKey(r.queue, b), attempt+":"+id),
			}
		}
	}
	if len(batches) > 0 {
		_, _ = pipe.Exec(ctx) // each command's error is read below
	}
	for _, ps := range probes {
		for _, p := range ps {
			for _, err := range []error{p.state.Err(), p.seen.Err()} {
				if err != nil && !errors.Is(err, redis.Nil) {
					return st, fmt.Errorf("look up job %s: %w", id, err)
				}
			}
		}
	}
	for i, b := range batches {
		for a := opts.MaxAttempts - 1; a >= 0; a-- {
			p := probes[i][a]
			if state, err := p.state.Result(); err == nil && state != "" {
				st.Batch, st.Attempt, st.State = b, a+1, state
				return st, nil
			}
			if p.seen.Val() {
				st.Batch, st.Attempt, st.State = b, a+1, StateDone
				return st, r.findOutcome(ctx, &st, b, a+1, opts)
			}
		}
	}
	if err := r.findOutcome(ctx, &st, opts.Batch, 0, opts); err != nil {
		return st, err
	}
	if st.Outcome == nil {
		return st, fmt.Errorf("%w: %q in queue %q", ErrNoJob, id, r.queue)
	}
	st.State = StateDone
	return st, nil
}

// findOutcome fills in the job's outcome, of batch and attempt when set
// ("" and 0: any), looking at the newest opts.MaxScan entries of each list,
// opts.MaxScanBytes of each at most. Without an attempt it takes the
// newest entry of each list and keeps the latest attempt of the two: a
// job retried has its exception of attempt 1 in one list, its response
// of attempt 2 in the other.
func (r *Reader) findOutcome(ctx context.Context, st *JobStatus, batch string, attempt int, opts JobOptions) error {
	b, _ := json.Marshal(st.ID)
	quoted := string(b)
	found := false
	for _, k := range []struct {
		kind Kind
		name string
	}{{Exceptions, "exception"}, {Results, "response"}} {
		key := k.kind.key(r.queue)
		n, err := r.rdb.LLen(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		var c chunker
	scan:
		for hi := n - 1; hi >= 0 && hi >= n-opts.MaxScan && c.read < opts.MaxScanBytes; {
			lo := max(hi-c.next()+1, n-opts.MaxScan, 0)
			lines, err := r.rdb.LRange(ctx, key, lo, hi).Result()
			if err != nil {
				return fmt.Errorf("read %s: %w", key, err)
			}
			c.saw(lines)
			hi = lo - 1
			for j := len(lines) - 1; j >= 0; j-- {
				if !strings.Contains(lines[j], quoted) {
					continue
				}
				line := []byte(lines[j])
				var v struct {
					ID      string `json:"id"`
					Batch   string `json:"batch"`
					Attempt int    `json:"attempt"`
				}
				if json.Unmarshal(line, &v) != nil || v.ID != st.ID ||
					(batch != "" && v.Batch != batch) || (attempt != 0 && v.Attempt != attempt) {
					continue
				}
				if !found || v.Attempt > st.Attempt {
					st.Batch, st.Attempt, st.Kind, st.Outcome = v.Batch, v.Attempt, k.name, line
				}
				found = true
				if attempt != 0 {
					return nil // that attempt's one outcome
				}
				break scan // this list's newest; the other list may hold a later attempt
			}
		}
	}
	return nil
}
