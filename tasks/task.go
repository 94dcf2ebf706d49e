package tasks

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
)

// TypeRequest is the asynq task type of a request job.
const TypeRequest = "reqfleet:request"

// Task is what travels through the queue: the job, the batch it belongs to
// and which attempt this is (1 for the first run, raised by retry).
type Task struct {
	Batch   string `json:"batch"`
	Attempt int    `json:"attempt"`
	Job     Job    `json:"job"`
}

// Marshal encodes the task as the asynq payload.
func (t Task) Marshal() ([]byte, error) { return json.Marshal(t) }

// TaskID is the asynq task id of a job's attempt: enqueuing the same attempt
// twice is refused by asynq while the first is still queued.
func (t Task) TaskID() string {
	return t.Batch + ":" + strconv.Itoa(t.Attempt) + ":" + t.Job.ID
}

// OutcomeKey names this attempt's outcome in the batch's dedupe set.
func (t Task) OutcomeKey() string { return strconv.Itoa(t.Attempt) + ":" + t.Job.ID }

// DecodeTask parses an asynq payload written by Marshal, checking the job as
// DecodeJob does. Errors wrap the package's sentinels: a missing batch, an
// attempt below 1, a missing job or a job without an id wrap ErrRequired in
// a *FieldError naming "batch", "attempt", "job" or "id".
func DecodeTask(payload []byte) (Task, error) {
	var env struct {
		Batch   string          `json:"batch"`
		Attempt int             `json:"attempt"`
		Job     json.RawMessage `json:"job"`
	}
	if err := decodeObject(payload, &env); err != nil {
		return Task{}, fmt.Errorf("task payload: %w", err)
	}
	if env.Batch == "" {
		return Task{}, fmt.Errorf("task payload: %w", fieldErr("batch", ErrRequired, "a task needs a batch"))
	}
	if env.Attempt < 1 {
		return Task{}, fmt.Errorf("task payload: %w", fieldErr("attempt", ErrRequired, "a task needs an attempt, 1 or more"))
	}
	if len(env.Job) == 0 || firstByte(env.Job) == 'n' {
		return Task{}, fmt.Errorf("task payload: %w", fieldErr("job", ErrRequired, "a task needs a job"))
	}
	j, err := DecodeJob(env.Job)
	if err != nil {
		return Task{}, fmt.Errorf("task payload: %w", err)
	}
	if j.ID == "" {
		return Task{}, fmt.Errorf("task payload: %w", fieldErr("id", ErrRequired, "a queued job needs an id"))
	}
	return Task{Batch: env.Batch, Attempt: env.Attempt, Job: j}, nil
}

// LogValue logs the task with its job's LogValue, which leaves out the
// password that json.Marshal keeps.
func (t Task) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("batch", t.Batch),
		slog.Int("attempt", t.Attempt),
		slog.Attr{Key: "job", Value: t.Job.LogValue()},
	)
}
