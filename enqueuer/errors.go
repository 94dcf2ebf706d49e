package enqueuer

import (
	"errors"
	"fmt"

	"github.com/reqfleet/reqfleet/internal/redisretry"
)

// Sentinel errors, returned wrapped: match them with errors.Is.
var (
	// ErrConfig: a Config field is missing or out of range.
	ErrConfig = errors.New("invalid enqueuer config")
	// ErrClosed: the Enqueuer was closed.
	ErrClosed = errors.New("enqueuer closed")
	// ErrSealed: a job was added to a batch after Seal.
	ErrSealed = errors.New("batch is sealed")
	// ErrDuplicateID: a job's id was already used in its batch.
	ErrDuplicateID = errors.New("duplicate job id in batch")
	// ErrInvalidJob: a job that the worker would refuse (no url, a bad
	// header, ...). It also wraps the tasks package's error, whose sentinel
	// (tasks.ErrRequired, tasks.ErrValue, ...) errors.Is finds too.
	ErrInvalidJob = errors.New("invalid job")
	// ErrLineTooLong: an input line longer than the reader's maxLine.
	ErrLineTooLong = errors.New("line too long")
	// ErrEnqueue: Redis refused or failed to enqueue.
	ErrEnqueue = errors.New("enqueue failed")
	// ErrRedisUnavailable: Redis stayed unreachable (or kept failing with
	// errors that pass, such as LOADING) for all of Config.RedisRetryFor.
	// It comes wrapped, with ErrEnqueue where jobs were being enqueued.
	ErrRedisUnavailable = redisretry.ErrUnavailable
	// ErrLeaseLost: the batch was sealed by the fleet's sweepers, as its
	// enqueuer's lease (Config.BatchLease) ran out: this enqueuer could not
	// renew it (Redis away for longer, or Close before Seal). The batch
	// holds the jobs queued until then; later ones are refused.
	ErrLeaseLost = errors.New("batch sealed by the fleet: its enqueuer's lease ran out")
	// ErrNoRequest: an exception that carries no request (an InvalidJob
	// outcome of a payload that was not a job) cannot be retried.
	ErrNoRequest = errors.New("exception has no request to retry")
)

// LineError is an error of one input line; every reader error is one.
// Its message reads "line 12: field \"timeout\": ...".
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// JobError is a job that AddMany refused (ErrDuplicateID, ErrInvalidJob):
// Index is its 1-based position in that call's input, counting the items
// of the iterator, and ID the job's id as given (empty when it had none).
type JobError struct {
	Index int
	ID    string
	Err   error
}

func (e *JobError) Error() string {
	if e.ID == "" {
		return fmt.Sprintf("job %d: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("job %d (id %q): %v", e.Index, e.ID, e.Err)
}
func (e *JobError) Unwrap() error { return e.Err }
