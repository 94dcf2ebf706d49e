package tasks

import (
	"bytes"
	"encoding/json"
	"iter"
)

// A small scanner for JSON that encoding/json has already found valid,
// for the worker's hot path: a job read back from the queue was written by
// json.Marshal (compact, HTML-escaped), and is walked here without being
// decoded into a map or tokenized again. Everything else goes through
// encoding/json as before; scan_test.go diffs the two.

// jsonForm reports whether data, valid JSON, is compact (no white space
// outside strings, as json.Compact writes it) and escaped (no <, >, & and
// no U+2028 or U+2029, as json.HTMLEscape writes it).
func jsonForm(data []byte) (compact, escaped bool) {
	compact, escaped = true, true
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '<' || c == '>' || c == '&':
			escaped = false
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && data[i+2]&^1 == 0xA8:
			escaped = false
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			compact = false
		}
	}
	return compact, escaped
}

// isCompact is jsonForm's compact, stopping at the first white space.
func isCompact(data []byte) bool {
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return false
		}
	}
	return true
}

// objectMembers yields the members of data, a valid, compact JSON object,
// in order: each key decoded, each value as written (a slice of data).
func objectMembers(data []byte) iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		for i := 1; i < len(data) && data[i] != '}'; {
			if data[i] == ',' {
				i++
			}
			keyEnd := skipString(data, i)
			if keyEnd < 0 || keyEnd >= len(data) || data[keyEnd] != ':' {
				return
			}
			end := skipValue(data, keyEnd+1)
			if end < 0 {
				return
			}
			key, ok := plainString(data[i:keyEnd])
			if !ok {
				_ = json.Unmarshal(data[i:keyEnd], &key)
			}
			if !yield(key, data[keyEnd+1:end]) {
				return
			}
			i = end
		}
	}
}

// plainString is the JSON string raw, valid JSON, when it holds neither
// escapes nor bytes beyond ASCII (whose decoding, invalid UTF-8 included,
// is left to encoding/json).
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	s := raw[1 : len(raw)-1]
	for _, c := range s {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return "", false
		}
	}
	return string(s), true
}

// skipString returns the index just past the string starting at in[i],
// or -1.
func skipString(in []byte, i int) int {
	if i >= len(in) || in[i] != '"' {
		return -1
	}
	for i++; i < len(in); i++ {
		switch in[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index just past the value starting at in[i] in
// compact valid JSON, or -1.
func skipValue(in []byte, i int) int {
	depth := 0
	for i < len(in) {
		switch in[i] {
		case '"':
			if i = skipString(in, i); i < 0 {
				return -1
			}
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return -1
}

// isIDKey reports whether a member's key, as written, is "id".
func isIDKey(raw []byte) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == `"id"`
	}
	var key string
	return json.Unmarshal(raw, &key) == nil && key == "id"
}

// rawObject is raw, a JSON object, as json.Unmarshal reads it into a map
// of raw values (a key met twice: its last value). A compact one (as a
// job's fields are when the enqueuer wrote them) is walked by
// objectMembers; anything else goes through json.Unmarshal. raw must be
// valid JSON, as every value a decoder gets is (FuzzRawObject diffs the
// two).
func rawObject(raw []byte) (map[string]json.RawMessage, error) {
	if firstByte(raw) != '{' || !isCompact(raw) {
		var m map[string]json.RawMessage
		err := json.Unmarshal(raw, &m)
		return m, err
	}
	m := make(map[string]json.RawMessage, 4)
	for k, v := range objectMembers(raw) {
		m[k] = v
	}
	return m, nil
}

// orderedMembers are the members of raw, a JSON object, in order, a key
// given twice kept twice: walked by objectMembers when compact, else read
// by encoding/json's Decoder (membersByDecoder; FuzzOrderedMembers diffs
// the two). raw must be valid JSON.
func orderedMembers(raw []byte) (keys []string, vals []json.RawMessage, err error) {
	if !isCompact(raw) {
		return membersByDecoder(raw)
	}
	for k, v := range objectMembers(raw) {
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, nil
}

// membersByDecoder is orderedMembers by encoding/json's Decoder.
func membersByDecoder(raw []byte) (keys []string, vals []json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return nil, nil, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, nil
}
