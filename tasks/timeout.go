package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
)

// MaxTimeout bounds a job's timeout; larger values are refused.
const MaxTimeout = 24 * time.Hour

// Timeout is requests' timeout=: one number of seconds for both phases, or a
// [connect, read] pair where null means no limit for that phase. Read is the
// longest wait between bytes from the server, as in requests, not a total.
type Timeout struct {
	Connect time.Duration // 0: no limit
	Read    time.Duration // 0: no limit
	Pair    bool          // given as [connect, read]
}

// MarshalJSON writes seconds, or [connect, read] with null for no limit.
func (t Timeout) MarshalJSON() ([]byte, error) {
	if !t.Pair {
		return json.Marshal(t.Read.Seconds())
	}
	return json.Marshal([2]*float64{secondsOrNil(t.Connect), secondsOrNil(t.Read)})
}

func secondsOrNil(d time.Duration) *float64 {
	if d == 0 {
		return nil
	}
	s := d.Seconds()
	return &s
}

func decodeTimeout(raw json.RawMessage) (*Timeout, error) {
	const want = "must be seconds (a number above 0) or a [connect, read] pair"
	if firstByte(raw) == '[' {
		var pair []json.RawMessage
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			return nil, fieldErr("timeout", ErrType, want)
		}
		c, err := seconds(pair[0], true)
		if err != nil {
			return nil, err
		}
		r, err := seconds(pair[1], true)
		if err != nil {
			return nil, err
		}
		return &Timeout{Connect: c, Read: r, Pair: true}, nil
	}
	d, err := seconds(raw, false)
	if err != nil {
		return nil, err
	}
	return &Timeout{Connect: d, Read: d}, nil
}

// seconds reads a JSON number of seconds (or null, when nullable, for no
// limit). Numbers too large for a float64 are values out of range, not
// wrong types.
func seconds(raw json.RawMessage, nullable bool) (time.Duration, error) {
	switch c := firstByte(raw); {
	case c == 'n' && nullable:
		return 0, nil
	case c != '-' && (c < '0' || c > '9'):
		return 0, fieldErr("timeout", ErrType, "must be a number")
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fieldErr("timeout", ErrType, "must be a number")
	}
	if math.IsNaN(f) || f <= 0 || f > MaxTimeout.Seconds() {
		return 0, fieldErr("timeout", ErrValue, "seconds must be above 0 and at most %v", MaxTimeout.Seconds())
	}
	// Round, not truncate: 1.001*1e9 is 1000999999.99..., and a truncated
	// timeout of 1.001 was 1.000999999s; Duration.Seconds() read back must
	// also give the same Duration, or a job changes through an outcome.
	d := time.Duration(math.Round(f * float64(time.Second)))
	if d <= 0 {
		d = time.Nanosecond
	}
	return d, nil
}
