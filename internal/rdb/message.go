package rdb

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrBadMessage is a task message that is not asynq's TaskMessage.
var ErrBadMessage = errors.New("not an asynq task message")

// asynq v0.26.0's internal/proto messages (TaskMessage, ServerInfo,
// WorkerInfo) as reqfleet reads and writes them, with protowire: every
// field number of them is in this file.

// TaskMessage is the part of asynq's TaskMessage reqfleet reads.
type TaskMessage struct {
	Type      string
	Payload   []byte
	ID        string
	Queue     string
	Retry     int
	Retried   int
	Timeout   int64 // seconds; 0: none
	Deadline  int64 // unix seconds; 0: none
	UniqueKey string
	Raw       []byte // the encoded message, as stored
}

// DecodeTaskMessage reads an encoded TaskMessage (protobuf; a field seen
// twice keeps its last value, as proto.Unmarshal does).
func DecodeTaskMessage(b []byte) (TaskMessage, error) {
	m := TaskMessage{Raw: b}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, fmt.Errorf("%w: %w", ErrBadMessage, protowire.ParseError(n))
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
			return m, fmt.Errorf("%w: field %d: %w", ErrBadMessage, num, protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case 1:
			m.Type = string(s)
		case 2:
			m.Payload = s
		case 3:
			m.ID = string(s)
		case 4:
			m.Queue = string(s)
		case 5:
			m.Retry = int(int32(v))
		case 6:
			m.Retried = int(int32(v))
		case 8:
			m.Timeout = int64(v)
		case 9:
			m.Deadline = int64(v)
		case 10:
			m.UniqueKey = string(s)
		}
	}
	if m.ID == "" {
		return m, fmt.Errorf("%w: no task id", ErrBadMessage)
	}
	return m, nil
}

// WithFailure is the message with error_msg and last_failed_at set, as
// rdb.Archive stores it: appended fields override earlier ones.
func (m TaskMessage) WithFailure(errMsg string, at time.Time) []byte {
	b := append([]byte(nil), m.Raw...)
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendString(b, errMsg)
	b = protowire.AppendTag(b, 11, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(at.Unix()))
}

// WithRetried is the message with its retried count set to n, as asynq's
// recoverer leaves it after n retries: appended fields override earlier
// ones.
func (m TaskMessage) WithRetried(n int) []byte {
	b := append([]byte(nil), m.Raw...)
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(n))
}

// ContextDeadline is when asynq's processor would cancel the task's context: its
// timeout from start, or its deadline, whichever comes first; zero if
// neither is set.
func (m TaskMessage) ContextDeadline(start time.Time) time.Time {
	var d time.Time
	if m.Timeout > 0 {
		d = start.Add(time.Duration(m.Timeout) * time.Second)
	}
	if m.Deadline > 0 {
		if dl := time.Unix(m.Deadline, 0); d.IsZero() || dl.Before(d) {
			d = dl
		}
	}
	return d
}

// MessageEncoder writes the TaskMessage that asynq's Client.EnqueueContext
// builds for one queue's tasks of one type, retry and timeout (no deadline,
// retention 0, no headers), as base.EncodeMessage encodes it: fields in
// number order, zero values left out (proto3), as protobuf-go's Marshal
// writes them.
type MessageEncoder struct {
	head []byte // the fields before the payload: type
	tail []byte // ... after the id: queue, retry, timeout
}

// NewMessageEncoder is the encoder of queue's tasks of type typ.
func NewMessageEncoder(queue, typ string, maxRetry int, timeout time.Duration) *MessageEncoder {
	e := &MessageEncoder{}
	e.head = protowire.AppendTag(nil, 1, protowire.BytesType)
	e.head = protowire.AppendString(e.head, typ)
	e.tail = appendString(nil, 4, queue)
	e.tail = appendVarint(e.tail, 5, uint64(int64(int32(maxRetry))))
	e.tail = appendVarint(e.tail, 8, uint64(int64(timeout.Seconds())))
	return e
}

// Encode is the message of task id with payload.
func (e *MessageEncoder) Encode(id string, payload []byte) []byte {
	n := len(e.head) + len(e.tail) + len(payload) + len(id) + 2*protowire.SizeVarint(uint64(len(payload))) + 2
	b := make([]byte, 0, n)
	b = append(b, e.head...)
	if len(payload) > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, payload)
	}
	b = appendString(b, 3, id)
	return append(b, e.tail...)
}

// ServerInfo is the part of asynq's ServerInfo a server-list entry shows.
type ServerInfo struct {
	Host           string
	PID            int
	ServerID       string
	Concurrency    int
	Queues         map[string]int
	StrictPriority bool
	Status         string
	Started        time.Time
	ActiveWorkers  int
}

// WorkerInfo is asynq's WorkerInfo of a running task.
type WorkerInfo struct {
	TaskID   string
	TaskType string
	Payload  []byte
	Queue    string
	Started  time.Time
	Deadline time.Time
}

// encodeServerInfo is base.EncodeServerInfo: internal/proto's ServerInfo.
func encodeServerInfo(s ServerInfo) []byte {
	b := appendString(nil, 1, s.Host)
	b = appendVarint(b, 2, uint64(int64(int32(s.PID))))
	b = appendString(b, 3, s.ServerID)
	b = appendVarint(b, 4, uint64(int64(int32(s.Concurrency))))
	qs := make([]string, 0, len(s.Queues))
	for q := range s.Queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	for _, q := range qs {
		entry := appendString(nil, 1, q)
		entry = appendVarint(entry, 2, uint64(int64(int32(s.Queues[q]))))
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, entry)
	}
	if s.StrictPriority {
		b = appendVarint(b, 6, 1)
	}
	b = appendString(b, 7, s.Status)
	b = appendTimestamp(b, 8, s.Started)
	return appendVarint(b, 9, uint64(int64(int32(s.ActiveWorkers))))
}

// encodeWorkerInfo is base.EncodeWorkerInfo: internal/proto's WorkerInfo.
func encodeWorkerInfo(s ServerInfo, w WorkerInfo) []byte {
	b := appendString(nil, 1, s.Host)
	b = appendVarint(b, 2, uint64(int64(int32(s.PID))))
	b = appendString(b, 3, s.ServerID)
	b = appendString(b, 4, w.TaskID)
	b = appendString(b, 5, w.TaskType)
	if len(w.Payload) > 0 {
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendBytes(b, w.Payload)
	}
	b = appendString(b, 7, w.Queue)
	b = appendTimestamp(b, 8, w.Started)
	return appendTimestamp(b, 9, w.Deadline)
}

// Proto3 encoding as protobuf-go writes it: zero values left out.

// appendString appends a string field, unless empty.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendVarint appends a varint field, unless zero.
func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendTimestamp writes a google.protobuf.Timestamp as timestamppb.New
// makes it (a zero time too: its seconds are negative).
func appendTimestamp(b []byte, num protowire.Number, t time.Time) []byte {
	ts := appendVarint(nil, 1, uint64(t.Unix()))
	ts = appendVarint(ts, 2, uint64(int64(int32(t.Nanosecond()))))
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, ts)
}
