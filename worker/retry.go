package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/reqfleet/reqfleet/tasks"
)

// Automatic retries. After each try of a job with a retry policy
// (tasks.Retry, urllib3's Retry) the worker reads the job's tries history,
// adds the try just made and asks the policy (Retry.Next) whether to try
// again and when. If so, nothing is recorded: the try waits off the
// session, in asynq's retry set (same task id, state "retry", its error
// message; its retried count, the job's crash count, unchanged), until a
// forwarder (forward.go, or asynq's own under AsynqProcessor) puts it back
// on the queue:
//
//   - fetcher: rdb.RetryLater moves the task from active (releasing its
//     lease) to the retry set and adds the try to the history in one
//     script, only while the task is still active with the message this
//     worker fetched, so a worker whose lease was lost cannot move a job
//     another worker now holds;
//   - asynq's processor: rdb.AddTry adds the try (once, however often the
//     call is sent), then the handler returns a retryLaterError, which asynq
//     takes as no failure (IsFailure) and retries after its delay
//     (RetryDelayFunc).
//
// The last try's outcome is recorded as any other, with the history in its
// retries, and the history is dropped (a history left by a failed drop
// expires with the batch's TTL). A worker lost between tries loses
// nothing: the job waits in Redis; one lost during a try is recovered as
// any job, and the try it was making is not in the history. A retry that
// cannot be scheduled (Redis away for RecordTimeout) records the try as
// the job's outcome instead: never sent again without a trace.

// DefaultMaxRetryAfter is Config.MaxRetryAfter's default.
const DefaultMaxRetryAfter = 5 * time.Minute

// triesKept is the most tries a history keeps: every try a policy may make.
const triesKept = tasks.MaxRetries + 1

// retryLaterError is the handler's answer to asynq's processor for a job
// its policy tries again after delay.
type retryLaterError struct {
	delay time.Duration
	msg   string
}

func (e *retryLaterError) Error() string { return e.msg }

// isFailure is asynq's Config.IsFailure: a policy's retry is no failure,
// as a crash is.
func isFailure(err error) bool { return !errors.As(err, new(*retryLaterError)) }

// asynqRetryDelay is asynq's Config.RetryDelayFunc: a policy's delay, or
// the quick retry of crash recovery. asynq scores a retry in whole seconds
// (truncated), so a policy's delay gets one more second: never early.
func asynqRetryDelay(n int, err error, t *asynq.Task) time.Duration {
	var rl *retryLaterError
	if errors.As(err, &rl) {
		if rl.delay <= 0 {
			return 0
		}
		return rl.delay + time.Second
	}
	return retryDelay(n, err, t)
}

// afterTry is the retry decision for the try out of task t: the outcome to
// record (with its history when the job was tried more than once), or
// done true when the job was scheduled for another try, nothing to
// record. err is the asynq processor's retryLaterError.
func (w *Worker) afterTry(ctx context.Context, queue string, t tasks.Task, out tasks.Outcome, a *ack) (_ tasks.Outcome, done bool, err error) {
	id := a.taskID()
	if id == "" {
		id, _ = asynq.GetTaskID(ctx)
	}
	if id == "" {
		return out, false, nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	raw, err := w.store.Tries(rctx, queue, id)
	if err != nil {
		// Redis away: decided on this try alone; scheduling a retry needs
		// Redis too, and falls back to recording.
		w.log.Warn("reading a job's tries failed", "queue", queue, "task", id, "err", err)
	}
	tries := make([]tasks.Try, 0, len(raw)+1)
	for _, r := range raw {
		var tr tasks.Try
		if json.Unmarshal([]byte(r), &tr) == nil {
			tries = append(tries, tr)
		}
	}
	try := tasks.TryOf(out)
	tries = append(tries, try)
	now := w.exec.Now()
	d := t.Job.Retries.Next(t.Job.Method, tries, retryAfter(out), now, w.cfg.MaxRetryAfter)
	if d.Again && a == nil {
		if n, _ := asynq.GetRetryCount(ctx); !asynqCanRetry(ctx, n) {
			w.log.Warn("job's asynq retries used up: not tried again by its policy", "queue", queue, "task", id)
			d.Again = false
		}
	}
	if !d.Again {
		if len(tries) > 1 {
			setRetries(out, tries)
		}
		return out, false, nil
	}
	line, err := json.Marshal(try)
	if err != nil {
		return out, false, nil
	}
	why := "retry " + strconv.Itoa(len(tries)) + ": " + tryName(try)
	if a == nil {
		if _, err := w.store.AddTry(rctx, queue, id, line, len(raw), triesKept, w.cfg.BatchTTL); err != nil {
			w.log.Warn("adding a job's try to its history failed; retried all the same", "queue", queue, "task", id, "err", err)
		}
		return nil, true, &retryLaterError{delay: d.After, msg: why}
	}
	moved, err := w.retryLater(ctx, queue, a, why, now.Add(d.After), line, now)
	if err != nil {
		w.log.Warn("scheduling a job's retry failed; its try recorded as its outcome", "queue", queue, "task", id, "err", err)
		if len(tries) > 1 {
			setRetries(out, tries)
		}
		return out, false, nil
	}
	if !moved {
		w.log.Warn("job no longer this worker's (its lease ran out and it was recovered): not retried here", "queue", queue, "task", id)
	}
	w.log.Debug("job tried again later", "queue", queue, "task", id, "after", d.After, "retry_after", d.RetryAfter, "why", why)
	return nil, true, nil
}

// asynqCanRetry says whether asynq's processor retries a job that failed
// now rather than archiving it: its asynq retries are not used up.
func asynqCanRetry(ctx context.Context, retried int) bool {
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	return !ok || retried < maxRetry
}

// retryLater moves the fetched task to the retry set, trying while Redis
// is away for up to RecordTimeout, as record does.
func (w *Worker) retryLater(ctx context.Context, queue string, a *ack, why string, at time.Time, line []byte, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.RecordTimeout)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		moved, err := w.store.RetryLater(cctx, queue, *a.msg, why, at, line, triesKept, w.cfg.BatchTTL, now)
		ccancel()
		if err == nil {
			return moved, nil
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return false, fmt.Errorf("retry later: %w", err)
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// dropTries deletes the history of a job whose outcome was recorded.
func (w *Worker) dropTries(ctx context.Context, queue string, a *ack) {
	id := a.taskID()
	if id == "" {
		id, _ = asynq.GetTaskID(ctx)
	}
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.store.DropTries(ctx, queue, id); err != nil {
		w.log.Warn("dropping a job's tries failed; they expire", "queue", queue, "task", id, "err", err)
	}
}

func (a *ack) taskID() string {
	if a == nil {
		return ""
	}
	return a.id
}

// retryAfter is a response's Retry-After header.
func retryAfter(o tasks.Outcome) string {
	if r, ok := o.(*tasks.Response); ok {
		return r.Headers["Retry-After"]
	}
	return ""
}

// retried says whether the outcome has a tries history.
func retried(o tasks.Outcome) bool {
	switch o := o.(type) {
	case *tasks.Response:
		return o.Retries != nil
	case *tasks.Exception:
		return o.Retries != nil
	}
	return false
}

func setRetries(o tasks.Outcome, tries []tasks.Try) {
	switch o := o.(type) {
	case *tasks.Response:
		o.Retries = tries
	case *tasks.Exception:
		o.Retries = tries
	}
}

func tryName(t tasks.Try) string {
	if t.Exception != "" {
		return t.Exception
	}
	return "status " + strconv.Itoa(t.StatusCode)
}
