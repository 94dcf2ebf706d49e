package rdb

import (
	"strconv"
	"strings"
)

// reqfleet's keys. Every key of a queue carries the queue's name as a hash
// tag, as asynq's own keys do ("asynq:{QUEUE}:..."), so a queue's keys share
// one Redis Cluster slot and one Lua script may touch them all.

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

// InboxKey is the inbox list of a queue: other programs LPUSH JSON jobs onto it.
func InboxKey(queue string) string { return "reqfleet:{" + queue + "}:inbox" }

// InboxProcessingKey is the list of entries a forwarder has taken from the
// inbox and not yet finished.
func InboxProcessingKey(queue string) string { return "reqfleet:{" + queue + "}:inbox:processing" }

// InboxLeaseKey holds the token of the forwarder working on the queue's inbox.
func InboxLeaseKey(queue string) string { return "reqfleet:{" + queue + "}:inbox:lease" }

// InboxSeqKey counts the entries taken from the queue's inbox.
func InboxSeqKey(queue string) string { return "reqfleet:{" + queue + "}:inbox:seq" }

// QueuePattern matches every reqfleet key of a queue (for SCAN).
func QueuePattern(queue string) string { return "reqfleet:{" + queue + "}:*" }

// Fields of the batch hash.
const (
	BatchAccepted   = "accepted"   // jobs enqueued so far
	BatchTotal      = "total"      // jobs enqueued in all, set when sealed
	BatchSealed     = "sealed"     // "1" once the enqueuer has finished
	BatchDone       = "done"       // outcomes recorded (less those taken by retry)
	BatchResponses  = "responses"  // of which responses
	BatchExceptions = "exceptions" // of which exceptions
	BatchCreated    = "created"    // unix milliseconds
	BatchRevived    = "revived"    // "1": made anew by retry after the batch expired
	BatchRejected   = "rejected"   // inbox entries that were not jobs, done as InvalidJob exceptions; in total once sealed
)

// TriesKey is the tries history of a task its job's retry policy tried
// again (JSON each, oldest first), until its outcome is recorded.
func TriesKey(queue, taskID string) string { return "reqfleet:{" + queue + "}:tries:" + taskID }

// HostsKey is the queue's hash of outcomes by host, for the dashboard:
// field HostField(host, detail), value the outcomes recorded (retried
// ones included). At most MaxHostFields fields; past them an outcome of a
// host not yet in it counts under OtherHost.
func HostsKey(queue string) string { return "reqfleet:{" + queue + "}:hosts" }

// The batch hash's and the hosts hash's outcome detail fields: a response
// by its status code, an exception by its type.
const (
	CodeFieldPrefix = "code:"
	ExcFieldPrefix  = "exc:"
)

// CodeField is the detail field of responses of status code.
func CodeField(code int) string { return CodeFieldPrefix + strconv.Itoa(code) }

// ExcField is the detail field of exceptions of type typ.
func ExcField(typ string) string { return ExcFieldPrefix + typ }

// HostField is the hosts hash's field of detail's outcomes of host.
func HostField(host, detail string) string { return host + " " + detail }

// SplitHostField is HostField's host and detail.
func SplitHostField(f string) (host, detail string) {
	i := strings.LastIndexByte(f, ' ')
	if i < 0 {
		return f, ""
	}
	return f[:i], f[i+1:]
}

// MaxHostFields caps the hosts hash of a queue (hosts times outcome
// details); OtherHost is the host of what comes past it.
const (
	MaxHostFields = 2000
	OtherHost     = "other"
)
