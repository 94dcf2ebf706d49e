package tasks

import (
	"encoding/json"
	"fmt"
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
// DecodeJob does.
func DecodeTask(payload []byte) (Task, error) {
	var env struct {
		Batch   string          `json:"batch"`
		Attempt int             `json:"attempt"`
		Job     json.RawMessage `json:"job"`
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		return Task{}, fmt.Errorf("task payload: %w", syntaxError(err))
	}
	if env.Batch == "" || env.Attempt < 1 {
		return Task{}, fmt.Errorf("task payload: %w", fieldErr("batch", ErrRequired, "a task needs a batch and an attempt"))
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
