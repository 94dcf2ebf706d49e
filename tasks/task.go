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
	env, fast := taskEnvelope(payload)
	if !fast {
		if err := decodeObject(payload, &env); err != nil {
			return Task{}, fmt.Errorf("task payload: %w", err)
		}
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
	var j Job
	var err error
	if fast {
		j, err = decodeJob(env.Job, firstByte(env.Job) == '{')
	} else {
		j, err = DecodeJob(env.Job)
	}
	if err != nil {
		return Task{}, fmt.Errorf("task payload: %w", err)
	}
	if j.ID == "" {
		return Task{}, fmt.Errorf("task payload: %w", fieldErr("id", ErrRequired, "a queued job needs an id"))
	}
	return Task{Batch: env.Batch, Attempt: env.Attempt, Job: j}, nil
}

// envelope is a task payload with its job not yet decoded.
type envelope struct {
	Batch   string          `json:"batch"`
	Attempt int             `json:"attempt"`
	Job     json.RawMessage `json:"job"`
}

// taskEnvelope reads a payload as Marshal writes it (valid, compact, its
// keys exactly batch, attempt and job, the batch a string and the attempt a
// whole number) without encoding/json's decoder; ok false: anything else,
// which decodeObject then reads, with its errors.
func taskEnvelope(payload []byte) (env envelope, ok bool) {
	if firstByte(payload) != '{' || !isCompact(payload) || !json.Valid(payload) {
		return env, false
	}
	ok = true
	for key, val := range objectMembers(payload) {
		switch key {
		case "batch":
			if firstByte(val) != '"' {
				ok = false
			} else if s, plain := plainString(val); plain {
				env.Batch = s
			} else {
				ok = json.Unmarshal(val, &env.Batch) == nil
			}
		case "attempt":
			n, err := strconv.Atoi(string(val))
			ok = err == nil && n >= 0
			env.Attempt = n
		case "job":
			env.Job = val
		default:
			ok = false // encoding/json matches keys in any case
		}
		if !ok {
			return envelope{}, false
		}
	}
	return env, true
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
