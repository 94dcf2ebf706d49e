package tasks

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AppendOutcome appends o's JSON, byte for byte as json.Marshal(o) writes
// it, to dst: the worker's hot path encodes each outcome into a buffer it
// reuses. A *Response is written without reflection; anything unusual in
// it (a time json.Marshal refuses, a float it cannot write, a Response
// type with fields this encoder does not know) goes to json.Marshal, as
// does every other outcome. outcome_json_test.go diffs the two.
func AppendOutcome(dst []byte, o Outcome) ([]byte, error) {
	if r, ok := o.(*Response); ok && r != nil && responseFieldsKnown {
		if b, ok := r.appendJSON(dst); ok {
			return b, nil
		}
	}
	b, err := json.Marshal(o)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// responseFields are Response's JSON names, in order, as appendJSON writes
// them; a Response with other fields is left to json.Marshal.
var responseFields = []string{"id", "batch", "request", "status_code", "reason", "headers", "url", "history",
	"body", "body_encoding", "truncated", "elapsed_ms", "attempt", "worker", "finished_at",
	"headers_truncated", "history_truncated", "connection_retries", "throttled_ms", "retries"}

var responseFieldsKnown = slices.Equal(jsonNames(reflect.TypeFor[Response]()), responseFields)

// jsonNames are a struct's JSON member names, in field order.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			names = append(names, "?"+f.Name)
			continue
		}
		names = append(names, name)
	}
	return names
}

// appendJSON writes r as json.Marshal does; false: leave it to json.Marshal.
func (r *Response) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"batch":`...)
	b = appendJSONString(b, r.Batch)
	b = append(b, `,"request":`...)
	if kept, ok := r.Request.appendKept(b); ok {
		b = kept
	} else {
		req, err := r.Request.Normalized().MarshalJSON() // not unchanged: its normal form
		if err != nil {
			return b, false
		}
		if compact, escaped := jsonForm(req); !compact || !escaped {
			return b, false // json.Marshal would rewrite it
		}
		b = append(b, req...)
	}
	b = append(b, `,"status_code":`...)
	b = strconv.AppendInt(b, int64(r.StatusCode), 10)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, r.Reason)
	b = append(b, `,"headers":`...)
	b = appendStringMap(b, r.Headers)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, r.URL)
	if len(r.History) > 0 {
		h, err := json.Marshal(r.History)
		if err != nil {
			return b, false
		}
		b = append(b, `,"history":`...)
		b = append(b, h...)
	}
	b = append(b, `,"body":`...)
	b = appendJSONString(b, r.Body)
	if r.BodyEncoding != "" {
		b = append(b, `,"body_encoding":`...)
		b = appendJSONString(b, r.BodyEncoding)
	}
	if r.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	b = append(b, `,"elapsed_ms":`...)
	var ok bool
	if b, ok = appendJSONFloat(b, r.ElapsedMS); !ok {
		return b, false
	}
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(r.Attempt), 10)
	b = append(b, `,"worker":`...)
	b = appendJSONString(b, r.Worker)
	b = append(b, `,"finished_at":`...)
	if b, ok = appendJSONTime(b, r.FinishedAt); !ok {
		return b, false
	}
	if r.HeadersTruncated {
		b = append(b, `,"headers_truncated":true`...)
	}
	if r.HistoryTruncated {
		b = append(b, `,"history_truncated":true`...)
	}
	if r.ConnectionRetries != 0 {
		b = append(b, `,"connection_retries":`...)
		b = strconv.AppendInt(b, int64(r.ConnectionRetries), 10)
	}
	if r.ThrottledMS != 0 {
		b = append(b, `,"throttled_ms":`...)
		b = strconv.AppendInt(b, r.ThrottledMS, 10)
	}
	if len(r.Retries) > 0 {
		t, err := json.Marshal(r.Retries)
		if err != nil {
			return b, false
		}
		b = append(b, `,"retries":`...)
		b = append(b, t...)
	}
	return append(b, '}'), true
}

// appendStringMap writes m as json.Marshal does: null when nil, the keys
// sorted.
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := sortedKeys(m)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONFloat writes f as json.Marshal writes a float64; false for
// what it refuses (NaN, infinities).
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 -> e-9, as encoding/json
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendJSONTime writes t as its MarshalJSON does; false for what that
// refuses (a year beyond 0-9999, a zone offset of a day or more).
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as encoding/json does (HTML-escaped): ", \ and
// control characters escaped, <, > and & as \u003c..., U+2028 and U+2029
// as \u2028 and \u2029, and each byte that is not UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
