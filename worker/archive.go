package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/reqfleet/reqfleet/httpexec"
	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/startstop"
	"github.com/reqfleet/reqfleet/internal/testkit"
	"github.com/reqfleet/reqfleet/tasks"
)

// Crash recovery. The lease recoverer of every worker (recover.go) takes
// a lost worker's jobs back within seconds; asynq's own stays as the
// safety net. asynq gives a job to one worker under a 30s lease that
// the worker's heartbeat extends. When the worker dies (SIGKILL, OOM, a lost
// machine), the lease runs out; some worker's asynq recoverer (every minute,
// for leases expired 30s ago or more) then retries the job, or archives it
// ("asynq: task lease expired") once its MaxRetry is used up. The enqueuer
// gives jobs 25 asynq retries, used only for such crashes (a job's own
// failures are exceptions, never asynq retries), and retryDelay makes
// those retries quick. Whatever asynq archives all the same, the sweeper
// turns into a WorkerLost exception, which `reqfleet retry` can send again.

// SweepConfig configures the archive sweeper. The zero value is a default.
type SweepConfig struct {
	Interval time.Duration // how often each served queue is swept; default 5s
	Batch    int           // archived tasks handled per queue and sweep; default 500
	Disabled bool          // no sweeper in this worker (another worker of the fleet must sweep)
}

func (c *SweepConfig) validate() error {
	if c.Interval < 0 || c.Batch < 0 {
		return fmt.Errorf("%w: Sweep.Interval and Sweep.Batch must not be negative", ErrConfig)
	}
	if c.Interval == 0 {
		c.Interval = 5 * time.Second
	}
	if c.Batch == 0 {
		c.Batch = 500
	}
	return nil
}

// retryDelay is asynq's RetryDelayFunc: how long a job waits before asynq
// runs it again after n retries. asynq retries reqfleet jobs only when their
// worker was lost (its lease expired) or could not record the outcome, so
// the wait is short: 2s, doubling up to 30s. asynq's own default (n⁴+15s
// and more) would add minutes to the 30-90s that finding a lost worker
// takes already.
func retryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	return min(2*time.Second<<min(max(n, 0), 5), 30*time.Second)
}

// recordFunc records one outcome exactly once (the recorder's record).
type recordFunc func(ctx context.Context, queue string, t tasks.Task, o tasks.Outcome) (fresh bool, err error)

// sweeper moves the tasks that asynq archived into the exceptions list,
// through the same exactly-once record script as every outcome, so that
// several workers sweeping the same queue still make one entry per job.
type sweeper struct {
	cfg    SweepConfig
	insp   *asynq.Inspector
	record recordFunc
	queues []string
	worker string
	now    func() time.Time
	log    *slog.Logger

	// sealOrphans seals a queue's batches whose enqueuer's lease ran out
	// (rdb.Client.SealOrphans), or nil.
	sealOrphans func(ctx context.Context, queue string, ttl, grace time.Duration, max int) ([]rdb.Orphan, error)

	life  startstop.Base
	swept testkit.Signal[struct{}] // tests: a sweep is done
}

func newSweeper(cfg SweepConfig, insp *asynq.Inspector, record recordFunc, queues map[string]int, worker string, now func() time.Time, log *slog.Logger) *sweeper {
	qs := make([]string, 0, len(queues))
	for q := range queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	return &sweeper{cfg: cfg, insp: insp, record: record, queues: qs, worker: worker, now: now,
		log: log.With("component", "archive-sweeper")}
}

// Start sweeps at once and then every Interval, until Stop or ctx ends.
func (s *sweeper) Start(ctx context.Context) error {
	return s.life.Start(ctx, func(ctx context.Context) {
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		for {
			s.sweep(ctx)
			s.swept.Signal(struct{}{})
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// Stop ends the sweeps and waits for the one in progress (a Redis call in
// it is bounded by the client's timeouts), or until ctx ends: it then
// returns ctx's error and the sweep finishes in the background.
func (s *sweeper) Stop(ctx context.Context) error {
	if s == nil {
		return nil
	}
	return s.life.Stop(ctx)
}

// sweep handles the archived tasks of every served queue, logging what it
// could not do: the next sweep tries again.
func (s *sweeper) sweep(ctx context.Context) int {
	total := 0
	for _, q := range s.queues {
		n, err := s.sweepQueue(ctx, q)
		total += n
		if err != nil && ctx.Err() == nil {
			s.log.Warn("archive sweep failed; trying again next time", "queue", q, "err", err)
		}
		s.sealQueue(ctx, q)
	}
	return total
}

// sealQueue seals the queue's batches whose enqueuer is gone (its lease
// ran out), with the jobs queued for them, so that waiting for them ends.
func (s *sweeper) sealQueue(ctx context.Context, queue string) {
	if s.sealOrphans == nil {
		return
	}
	sealed, err := s.sealOrphans(ctx, queue, orphanTTL, orphanGrace, 100)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("sealing batches of lost enqueuers failed; trying again next time", "queue", queue, "err", err)
		}
		return
	}
	for _, o := range sealed {
		s.log.Info("batch sealed: its enqueuer is gone", "queue", queue, "batch", o.ID, "total", o.Total)
	}
}

// orphanTTL is the lifetime of a batch hash sealed by a sweeper: the
// enqueuer's default BatchTTL.
const orphanTTL = 7 * 24 * time.Hour

// orphanGrace is how long after a sweep first saw a batch's lease run out
// its enqueuer may still renew it: one that lost Redis while Redis was
// down for all (a restart) keeps its batch.
const orphanGrace = 5 * time.Second

// archived is what the sweeper needs of an archived task.
type archived struct {
	id, lastErr string
	retried     int
	payload     []byte
}

// sweepQueue records and deletes up to Batch archived request tasks of the
// queue. It reports how many it turned into exceptions (duplicates of an
// outcome already recorded are deleted without one).
func (s *sweeper) sweepQueue(ctx context.Context, queue string) (int, error) {
	found, err := s.list(queue)
	if err != nil {
		return 0, err
	}
	recorded := 0
	for _, a := range found {
		if ctx.Err() != nil {
			return recorded, ctx.Err()
		}
		fresh, err := s.handle(ctx, queue, a)
		if err != nil {
			return recorded, err
		}
		if fresh {
			recorded++
		}
	}
	return recorded, nil
}

// list pages through the queue's archive (newest failure first) for up to
// Batch tasks of reqfleet's type; others are left alone.
func (s *sweeper) list(queue string) ([]archived, error) {
	const pageSize = 100
	var out []archived
	seen := make(map[string]bool)
	for page := 1; len(out) < s.cfg.Batch; page++ {
		infos, err := s.insp.ListArchivedTasks(queue, asynq.Page(page), asynq.PageSize(pageSize))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return nil, nil // nothing was ever enqueued to it
		}
		if err != nil {
			return out, fmt.Errorf("list archived tasks of queue %s: %w", queue, err)
		}
		for _, ti := range infos {
			if ti.Type != tasks.TypeRequest || seen[ti.ID] {
				continue // not ours; or seen on the page before, moved by a new arrival
			}
			seen[ti.ID] = true
			out = append(out, archived{id: ti.ID, lastErr: ti.LastErr, retried: ti.Retried, payload: ti.Payload})
		}
		if len(infos) < pageSize {
			break
		}
	}
	return out, nil
}

// handle records the archived task's exception and deletes the task. The
// record script dedupes on the batch, attempt and id, so a job whose
// outcome was recorded (asynq archived it after all), or that another
// sweeper got first, gets no second entry.
func (s *sweeper) handle(ctx context.Context, queue string, a archived) (fresh bool, err error) {
	t, exc := s.exception(a)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	fresh, err = s.record(rctx, queue, t, exc)
	if err != nil {
		return false, fmt.Errorf("record archived task %s: %w", a.id, err)
	}
	if fresh {
		s.log.Warn("archived job recorded as an exception", "queue", queue, "task", a.id,
			"exception", exc.Exception.Type, "batch", exc.Batch, "id", exc.ID, "attempt", exc.Attempt)
	}
	err = s.insp.DeleteTask(queue, a.id)
	if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) { // not found: another sweeper deleted it
		return fresh, fmt.Errorf("delete archived task %s: %w", a.id, err)
	}
	return fresh, nil
}

// exception is the outcome of an archived task: WorkerLost for a job (with
// the whole request, so that retry can send it again), InvalidJob for a
// payload that is not one.
//
// A payload that is not a job (a foreign or corrupt task of reqfleet's
// type) is recorded too, rather than left in the archive: if its batch,
// attempt and id can be read, it is counted in its batch, which then
// completes instead of waiting forever; if not, it is recorded under batch
// "" with the asynq task id for an id. Its request cannot be kept (it is
// not a job), so retry leaves it where it is.
func (s *sweeper) exception(a archived) (tasks.Task, *tasks.Exception) {
	t, err := tasks.DecodeTask(a.payload)
	if err == nil {
		msg := "the job's worker was lost before it recorded an outcome"
		if a.lastErr != "" {
			msg += " (" + a.lastErr + ", after " + strconv.Itoa(a.retried) + " asynq retries)"
		}
		return t, &tasks.Exception{
			ID: t.Job.ID, Batch: t.Batch, Request: t.Job,
			Exception:  tasks.ExceptionInfo{Type: tasks.WorkerLost, Message: msg},
			Attempt:    t.Attempt,
			Worker:     s.worker,
			FinishedAt: s.now(),
		}
	}
	// What can be read of the envelope; type errors leave fields empty.
	var env struct {
		Batch   string `json:"batch"`
		Attempt int    `json:"attempt"`
		Job     struct {
			ID string `json:"id"`
		} `json:"job"`
	}
	_ = json.Unmarshal(a.payload, &env)
	if env.Attempt < 1 {
		env.Attempt = 1
	}
	id := env.Job.ID
	if id == "" || len(id) > tasks.MaxIDLen {
		id = "asynq:" + a.id
	}
	t = tasks.Task{Batch: env.Batch, Attempt: env.Attempt, Job: tasks.Job{ID: id}}
	return t, &tasks.Exception{
		ID: id, Batch: env.Batch,
		Exception:  tasks.ExceptionInfo{Type: tasks.InvalidJob, Message: httpexec.OneLine("queued payload is not a job: " + err.Error())},
		Attempt:    env.Attempt,
		Worker:     s.worker,
		FinishedAt: s.now(),
	}
}

// startSweeper starts the worker's archive sweeper (unless disabled); Start
// calls it with w.mu held.
func (w *Worker) startSweeper() {
	if w.cfg.Sweep.Disabled {
		return
	}
	w.sweep = newSweeper(w.cfg.Sweep, asynq.NewInspectorFromRedisClient(w.cfg.Redis), w.rec.record,
		w.cfg.Queues, w.cfg.Name, w.exec.Now, w.log)
	w.sweep.sealOrphans = rdb.New(w.cfg.Redis).SealOrphans
	_ = w.sweep.Start(context.Background()) // a new sweeper: cannot fail
}

// stopSweeper stops it, bounded by ctx; a worker that was never started
// has none.
func (w *Worker) stopSweeper(ctx context.Context) error {
	w.mu.Lock()
	s := w.sweep
	w.mu.Unlock()
	return s.Stop(ctx)
}
