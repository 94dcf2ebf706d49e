package asynqwire

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrBadMessage is a task message that is not asynq's TaskMessage.
var ErrBadMessage = errors.New("not an asynq task message")

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

// Proto3 encoding as protobuf-go writes it: zero values left out.

// AppendString appends a string field, unless empty.

func AppendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// AppendVarint appends a varint field, unless zero.
func AppendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// AppendTimestamp writes a google.protobuf.Timestamp as timestamppb.New
// makes it (a zero time too: its seconds are negative).
func AppendTimestamp(b []byte, num protowire.Number, t time.Time) []byte {
	ts := AppendVarint(nil, 1, uint64(t.Unix()))
	ts = AppendVarint(ts, 2, uint64(int64(int32(t.Nanosecond()))))
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, ts)
}
