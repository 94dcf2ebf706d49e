package tasks

import "fmt"

// Redis keys. Every key of a queue carries the queue's name as a hash tag,
// as asynq's own keys do ("asynq:{QUEUE}:..."), so a queue's keys share one
// Redis Cluster slot and one Lua script may touch them all.

// ResultsKey is the list of responses (JSON lines, oldest first).
func ResultsKey(queue string) string { return "reqfleet:{" + queue + "}:results" }

// ExceptionsKey is the list of exceptions (JSON lines, oldest first).
func ExceptionsKey(queue string) string { return "reqfleet:{" + queue + "}:exceptions" }

// RetryingKey is the list of exceptions that retry has taken and not yet
// re-enqueued; a rerun of retry finishes them first.
func RetryingKey(queue string) string { return "reqfleet:{" + queue + "}:retrying" }

// BatchesKey is a sorted set of the queue's batch ids, scored by creation time.
func BatchesKey(queue string) string { return "reqfleet:{" + queue + "}:batches" }

// BatchKey is a batch's hash of counters (see the Batch* field names).
func BatchKey(queue, batch string) string { return "reqfleet:{" + queue + "}:batch:" + batch }

// SeenKey is the set of a batch's recorded outcomes, "attempt:id".
func SeenKey(queue, batch string) string { return "reqfleet:{" + queue + "}:seen:" + batch }

// WorkersKey is a sorted set of worker names scored by their last heartbeat.
func WorkersKey(queue string) string { return "reqfleet:{" + queue + "}:workers" }

// Fields of the batch hash.
const (
	BatchAccepted   = "accepted"   // jobs enqueued so far
	BatchTotal      = "total"      // jobs enqueued in all, set when sealed
	BatchSealed     = "sealed"     // "1" once the enqueuer has finished
	BatchDone       = "done"       // outcomes recorded (less those taken by retry)
	BatchResponses  = "responses"  // of which responses
	BatchExceptions = "exceptions" // of which exceptions
	BatchCreated    = "created"    // unix milliseconds
)

// ValidateQueue checks that a queue name is usable in reqfleet's and asynq's
// keys: 1 to 128 characters of letters, digits, '-', '_', '.' and ':'.
func ValidateQueue(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("%w %q: must be 1 to 128 characters", ErrQueue, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return fmt.Errorf("%w %q: use letters, digits, '-', '_', '.' or ':'", ErrQueue, name)
		}
	}
	return nil
}
