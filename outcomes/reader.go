// Package outcomes reads what the fleet produced: the results and exceptions
// lists, batch progress and queue statistics. It is the reading side of
// reqfleet, used by the CLI and by the Map API, as pool.responses() and
// pool.exceptions() are in the original.
package outcomes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/redisretry"
	"github.com/reqfleet/reqfleet/tasks"
)

// Errors of the reader.
var (
	ErrConfig  = errors.New("outcomes config")
	ErrNoBatch = errors.New("no such batch")
)

// Kind selects a list.
type Kind int

const (
	Results    Kind = iota // responses
	Exceptions             // exceptions
)

func (k Kind) key(queue string) string {
	if k == Exceptions {
		return rdb.ExceptionsKey(queue)
	}
	return rdb.ResultsKey(queue)
}

// Reader reads one queue's outcomes.
type Reader struct {
	rdb   redis.UniversalClient
	queue string
	retry redisretry.Policy // Wait's, while Redis is away
}

// SetRedisRetryFor sets how long Wait keeps trying, with capped exponential
// backoff, while Redis fails with errors that pass (restarting, unreachable);
// default 2m, negative for not at all. Call it before using the Reader.
func (r *Reader) SetRedisRetryFor(d time.Duration) { r.retry.For = d }

// NewReader reads the outcomes of queue ("" means "default").
func NewReader(rdb redis.UniversalClient, queue string) (*Reader, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: Redis is required", ErrConfig)
	}
	if queue == "" {
		queue = "default"
	}
	if err := tasks.ValidateQueue(queue); err != nil {
		return nil, err
	}
	return &Reader{rdb: rdb, queue: queue}, nil
}

// Queue is the queue read.
func (r *Reader) Queue() string { return r.queue }

// ReadOptions select and consume entries.
type ReadOptions struct {
	Batch  string        // only this batch's entries
	Pop    bool          // remove what is read, atomically: two readers never get the same entry
	Follow bool          // after the last entry, wait for new ones until ctx ends
	Every  time.Duration // how often Follow looks for new entries; default 200ms
	Chunk  int64         // entries fetched per round trip; default 500
}

// Lines yields the raw JSON lines of a list, oldest first. With Pop, each
// line is removed from Redis before it is yielded; if the loop stops early,
// the lines taken but not yet yielded are put back at the head.
func (r *Reader) Lines(ctx context.Context, kind Kind, opts ReadOptions) iter.Seq2[[]byte, error] {
	key := kind.key(r.queue)
	if opts.Every <= 0 {
		opts.Every = 200 * time.Millisecond
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 500
	}
	return func(yield func([]byte, error) bool) {
		var off int64 // index of the first entry not yet looked at
		for {
			chunk, err := r.rdb.LRange(ctx, key, off, off+opts.Chunk-1).Result()
			if err != nil {
				if opts.Follow && ctx.Err() != nil {
					return // following ends with ctx, quietly
				}
				yield(nil, fmt.Errorf("read %s: %w", key, err))
				return
			}
			if len(chunk) == 0 {
				if !opts.Follow {
					return
				}
				if err := sleep(ctx, opts.Every); err != nil {
					return // ctx ended: following stops quietly
				}
				continue
			}
			picked := chunk
			if opts.Batch != "" {
				picked = picked[:0:0]
				for _, line := range chunk {
					if batchOf(line) == opts.Batch {
						picked = append(picked, line)
					}
				}
			}
			if !opts.Pop {
				off += int64(len(chunk))
				for _, line := range picked {
					if !yield([]byte(line), nil) {
						return
					}
				}
				continue
			}
			taken, err := r.take(ctx, key, picked)
			if err != nil {
				yield(nil, err)
				return
			}
			// Every picked entry is gone now, taken by us or by another reader;
			// the others stay in the list ahead of where we go on.
			off += int64(len(chunk) - len(picked))
			for i, line := range taken {
				if !yield([]byte(line), nil) {
					r.putBack(key, taken[i+1:])
					return
				}
			}
		}
	}
}

// take removes the entries atomically and returns those this caller removed.
func (r *Reader) take(ctx context.Context, key string, entries []string) ([]string, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	removed, err := rdb.New(r.rdb).Pop(ctx, key, entries)
	if err != nil {
		return nil, fmt.Errorf("pop %s: %w", key, err)
	}
	taken := entries[:0:0]
	for i, ok := range removed {
		if ok {
			taken = append(taken, entries[i])
		}
	}
	return taken, nil
}

// putBack returns entries, in order, to the head of the list.
func (r *Reader) putBack(key string, entries []string) {
	if len(entries) == 0 {
		return
	}
	args := make([]any, len(entries))
	for i, e := range entries {
		args[len(entries)-1-i] = e
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.rdb.LPush(ctx, key, args...).Err()
}

// Responses yields the results list decoded, like pool.responses().
func (r *Reader) Responses(ctx context.Context, opts ReadOptions) iter.Seq2[tasks.Response, error] {
	return decoded(r.Lines(ctx, Results, opts), tasks.DecodeResponse)
}

// Exceptions yields the exceptions list decoded, like pool.exceptions().
func (r *Reader) Exceptions(ctx context.Context, opts ReadOptions) iter.Seq2[tasks.Exception, error] {
	return decoded(r.Lines(ctx, Exceptions, opts), tasks.DecodeException)
}

func decoded[T any](lines iter.Seq2[[]byte, error], decode func([]byte) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for line, err := range lines {
			var v T
			if err == nil {
				v, err = decode(line)
			}
			if !yield(v, err) {
				return
			}
		}
	}
}

// Len is the number of entries in a list.
func (r *Reader) Len(ctx context.Context, kind Kind) (int64, error) {
	return r.rdb.LLen(ctx, kind.key(r.queue)).Result()
}

// batchOf returns an outcome line's batch. Outcomes are written with id and
// batch first, so the first "batch":" is the top-level one (a quote inside a
// JSON string is always escaped); the full decode is the fallback.
func batchOf(line string) string {
	const tag = `"batch":"`
	if i := strings.Index(line, tag); i >= 0 {
		rest := line[i+len(tag):]
		if j := strings.IndexAny(rest, `"\\`); j >= 0 && rest[j] == '"' {
			return rest[:j]
		}
	}
	var v struct {
		Batch string `json:"batch"`
	}
	_ = json.Unmarshal([]byte(line), &v)
	return v.Batch
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Retrying is the number of exceptions a retry has taken and not yet
// re-enqueued.
func (r *Reader) Retrying(ctx context.Context) (int64, error) {
	return r.rdb.LLen(ctx, rdb.RetryingKey(r.queue)).Result()
}

// Range is the raw entries start to stop (inclusive; negative from the
// end, as LRANGE) of a list, oldest first.
func (r *Reader) Range(ctx context.Context, kind Kind, start, stop int64) ([]string, error) {
	return r.rdb.LRange(ctx, kind.key(r.queue), start, stop).Result()
}
