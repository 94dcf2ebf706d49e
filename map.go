package reqfleet

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/internal/redisconn"
	"github.com/reqfleet/reqfleet/outcomes"
	"github.com/reqfleet/reqfleet/tasks"
	"github.com/reqfleet/reqfleet/worker"
)

// ErrNoWorkers: Map was told to run no local worker on an embedded Redis,
// where nobody else can reach the jobs.
var ErrNoWorkers = errors.New("no local worker and no shared Redis: nothing would run the jobs")

// Options of Map. The zero value runs everything in-process on an embedded
// Redis with one session per CPU.
type Options struct {
	// Redis is the fleet's Redis; nil starts an embedded one that lives
	// until Result.Close.
	Redis redis.UniversalClient
	// Queue is the queue to use; default "default".
	Queue string
	// Concurrency is the number of local sessions (0: one per CPU).
	Concurrency int
	// NoLocalWorker leaves the work to other `reqfleet worker` processes.
	NoLocalWorker bool
	// Worker and Enqueuer are templates for the local worker and the
	// enqueuer; Map sets their Redis, queue and concurrency.
	Worker   worker.Config
	Enqueuer enqueuer.Config
	// Progress, if set, is called as the batch advances (about 10 times a second).
	Progress func(outcomes.BatchStatus)
	Logger   *slog.Logger
}

// Result is a finished Map: its batch, and the responses and exceptions in
// Redis, read with Responses and Exceptions.
type Result struct {
	Batch   string
	Status  outcomes.BatchStatus
	Elapsed time.Duration // from the first job enqueued to the last outcome

	reader *outcomes.Reader
	close  []func()
}

// Responses yields the batch's responses, like pool.responses().
func (r *Result) Responses(ctx context.Context) iter.Seq2[tasks.Response, error] {
	return r.reader.Responses(ctx, outcomes.ReadOptions{Batch: r.Batch})
}

// Exceptions yields the batch's exceptions, like pool.exceptions().
func (r *Result) Exceptions(ctx context.Context) iter.Seq2[tasks.Exception, error] {
	return r.reader.Exceptions(ctx, outcomes.ReadOptions{Batch: r.Batch})
}

// Reader reads the queue the batch ran on.
func (r *Result) Reader() *outcomes.Reader { return r.reader }

// Close frees what Map started (the embedded Redis and its connection).
func (r *Result) Close() error {
	for i := len(r.close) - 1; i >= 0; i-- {
		r.close[i]()
	}
	r.close = nil
	return nil
}

// Map runs the jobs as threaded.map does: it enqueues them as one batch,
// works them with a local pool of sessions (and any workers of the fleet on
// the same Redis), waits until every job has its outcome and returns.
//
// If the input fails part way (a bad line), the jobs before it still run:
// Map waits for them and returns the Result together with the input error.
//
// If ctx ends (Ctrl-C), Map stops enqueueing (the batch is sealed with
// the jobs enqueued so far) and shuts the local worker down: it starts no
// more jobs, and those in flight get Worker.ShutdownTimeout to finish and
// record their outcomes. It then returns the Result, whose Status is the
// batch's after that shutdown, with ctx's error; the outcomes recorded can
// still be read, with a context that has not ended.
func Map(ctx context.Context, jobs iter.Seq2[tasks.Job, error], opts Options) (_ *Result, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Queue == "" {
		opts.Queue = "default"
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = runtime.NumCPU()
	}
	res := &Result{}
	defer func() {
		if res.reader == nil { // failed before any job ran: free all now
			res.Close()
		}
	}()

	rdb := opts.Redis
	if rdb == nil {
		if opts.NoLocalWorker {
			return nil, ErrNoWorkers
		}
		emb, err := redisconn.StartEmbedded()
		if err != nil {
			return nil, err
		}
		res.close = append(res.close, emb.Close)
		rdb, err = redisconn.Open(emb.URL(), opts.Concurrency+32)
		if err != nil {
			return nil, err
		}
		res.close = append(res.close, func() { rdb.Close() })
	}

	reader, err := outcomes.NewReader(rdb, opts.Queue)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() {
		// Interrupted: the status after the local worker's shutdown (the
		// deferred call below, which runs first), with what it let finish.
		if ctx.Err() == nil || res.reader == nil {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if st, err := reader.Batch(rctx, res.Batch); err == nil {
			res.Status = st
		}
		res.Elapsed = time.Since(start)
	}()

	var w *worker.Worker
	if !opts.NoLocalWorker {
		wc := opts.Worker
		wc.Redis = rdb
		wc.Queues = map[string]int{opts.Queue: 1}
		wc.Concurrency = opts.Concurrency
		if wc.Logger == nil {
			wc.Logger = opts.Logger
		}
		if w, err = worker.New(wc); err != nil {
			return nil, err
		}
		if err := w.Start(); err != nil {
			return nil, err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if serr := w.Shutdown(sctx); serr != nil && err == nil {
				err = serr
			}
		}()
	}

	ec := opts.Enqueuer
	ec.Redis = rdb
	ec.Queue = opts.Queue
	if ec.Logger == nil {
		ec.Logger = opts.Logger
	}
	enq, err := enqueuer.New(ec)
	if err != nil {
		return nil, err
	}
	defer enq.Close()

	start = time.Now()
	receipt, inputErr := enq.EnqueueMany(ctx, jobs)
	if receipt.Batch == "" { // not even a batch: nothing runs
		return nil, inputErr
	}
	res.Batch, res.reader = receipt.Batch, reader
	st, err := reader.Wait(ctx, receipt.Batch, 100*time.Millisecond, opts.Progress)
	res.Status, res.Elapsed = st, time.Since(start)
	if err != nil {
		return res, err
	}
	return res, inputErr
}
