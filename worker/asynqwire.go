package worker

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// asynq v0.26.0's Redis layout, as far as the fetcher (fetch.go) needs it:
// the keys of internal/base and the fields of internal/proto's TaskMessage.
// asynqwire_test.go checks both against asynq itself.

func asynqPendingKey(q string) string    { return "asynq:{" + q + "}:pending" }
func asynqPausedKey(q string) string     { return "asynq:{" + q + "}:paused" }
func asynqActiveKey(q string) string     { return "asynq:{" + q + "}:active" }
func asynqLeaseKey(q string) string      { return "asynq:{" + q + "}:lease" }
func asynqArchivedKey(q string) string   { return "asynq:{" + q + "}:archived" }
func asynqTaskKeyPrefix(q string) string { return "asynq:{" + q + "}:t:" }
func asynqTaskKey(q, id string) string   { return asynqTaskKeyPrefix(q) + id }

func asynqProcessedTotalKey(q string) string { return "asynq:{" + q + "}:processed" }
func asynqFailedTotalKey(q string) string    { return "asynq:{" + q + "}:failed" }

func asynqProcessedKey(q string, t time.Time) string {
	return "asynq:{" + q + "}:processed:" + t.UTC().Format("2006-01-02")
}

func asynqFailedKey(q string, t time.Time) string {
	return "asynq:{" + q + "}:failed:" + t.UTC().Format("2006-01-02")
}

// asynq's constants: a lease lasts 30s (rdb.LeaseDuration) and the
// heartbeater extends it every 5s; daily stats live 90 days (statsTTL);
// archived tasks are kept 90 days and at most 10,000 a queue.
const (
	asynqLeaseDuration    = 30 * time.Second
	asynqLeaseExtendEvery = 5 * time.Second
	asynqStatsTTL         = 90 * 24 * time.Hour
	asynqArchivedDays     = 90
	asynqMaxArchiveSize   = 10000
)

// errBadMessage is a task message that is not asynq's TaskMessage.
var errBadMessage = errors.New("not an asynq task message")

// taskMessage is the part of asynq's TaskMessage the fetcher uses.
type taskMessage struct {
	typ       string
	payload   []byte
	id        string
	queue     string
	retry     int
	retried   int
	timeout   int64 // seconds; 0: none
	deadline  int64 // unix seconds; 0: none
	uniqueKey string
	raw       []byte // the encoded message, as stored
}

// decodeTaskMessage reads an encoded TaskMessage (protobuf; a field seen
// twice keeps its last value, as proto.Unmarshal does).
func decodeTaskMessage(b []byte) (taskMessage, error) {
	m := taskMessage{raw: b}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, fmt.Errorf("%w: %w", errBadMessage, protowire.ParseError(n))
		}
		b = b[n:]
		var v uint64
		var s []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			s, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return m, fmt.Errorf("%w: field %d: %w", errBadMessage, num, protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case 1:
			m.typ = string(s)
		case 2:
			m.payload = s
		case 3:
			m.id = string(s)
		case 4:
			m.queue = string(s)
		case 5:
			m.retry = int(int32(v))
		case 6:
			m.retried = int(int32(v))
		case 8:
			m.timeout = int64(v)
		case 9:
			m.deadline = int64(v)
		case 10:
			m.uniqueKey = string(s)
		}
	}
	if m.id == "" {
		return m, fmt.Errorf("%w: no task id", errBadMessage)
	}
	return m, nil
}

// withFailure is the message with error_msg and last_failed_at set, as
// rdb.Archive stores it: appended fields override earlier ones.
func (m taskMessage) withFailure(errMsg string, at time.Time) []byte {
	b := append([]byte(nil), m.raw...)
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendString(b, errMsg)
	b = protowire.AppendTag(b, 11, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(at.Unix()))
}

// deadline is when asynq's processor would cancel the task's context: its
// timeout from start, or its deadline, whichever comes first; zero if
// neither is set.
func (m taskMessage) contextDeadline(start time.Time) time.Time {
	var d time.Time
	if m.timeout > 0 {
		d = start.Add(time.Duration(m.timeout) * time.Second)
	}
	if m.deadline > 0 {
		if dl := time.Unix(m.deadline, 0); d.IsZero() || dl.Before(d) {
			d = dl
		}
	}
	return d
}
