package tasks

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// decodeTaskReference is DecodeTask all through encoding/json, as it was
// before the scanner: the fast path must give the same task or error.
func decodeTaskReference(payload []byte) (Task, error) {
	var env envelope
	if err := decodeObject(payload, &env); err != nil {
		return Task{}, err
	}
	if env.Batch == "" || env.Attempt < 1 || len(env.Job) == 0 || firstByte(env.Job) == 'n' {
		return Task{}, ErrRequired
	}
	j, err := decodeJob(env.Job, false)
	if err != nil {
		return Task{}, err
	}
	if j.ID == "" {
		return Task{}, ErrRequired
	}
	return Task{Batch: env.Batch, Attempt: env.Attempt, Job: j}, nil
}

var taskSeeds = []string{
	`{"batch":"B","attempt":1,"job":{"id":"j","url":"http://x"}}`,
	`{"batch":"B","attempt":2,"job":{"url":"http://x","id":"j","method":"POST","headers":{"A":"b","C":null},"meta":{"t0":1}}}`,
	`{"batch":"B\u00e9","attempt":1,"job":{"i\u0064":"j","url":"http://x/\u2028"}}`,
	"{\"batch\":\"B\xff\",\"attempt\":1,\"job\":{\"id\":\"j\xfe\",\"url\":\"http://x\"}}",
	`{"Batch":"B","attempt":1,"job":{"id":"j","url":"http://x"}}`,
	`{"batch":"B","attempt":1.0,"job":{"id":"j","url":"http://x"}}`,
	`{"batch":"B","attempt":-1,"job":{"id":"j","url":"http://x"}}`,
	`{"batch":"B","attempt":99999999999999999999,"job":{"id":"j","url":"http://x"}}`,
	`{"batch":null,"attempt":1,"job":{"id":"j","url":"http://x"}}`,
	`{"batch":1,"attempt":1,"job":{"id":"j","url":"http://x"}}`,
	`{"batch":"B","attempt":1,"job":null}`, `{"batch":"B","attempt":1,"job":"x"}`, `{"batch":"B","attempt":1}`,
	`{"batch":"B","attempt":1,"job":{"id":"j","url":"http://x"},"job":{"id":"k","url":"http://y"}}`,
	`{"batch":"B","attempt":1,"job":{"id":"j","url":"http://x","url":"http://y"}}`,
	`{"batch":"B","attempt":1,"job":{"id":"j","url":"http://x","bogus":1}}`,
	`{"batch":"B","attempt":1,"job":{"id":"j","url":"http://x","json":{"a":[1,"<b>",{}]},"params":[["a","1"]]}}`,
	` {"batch": "B", "attempt": 1, "job": {"id": "j", "url": "http://x"}}`,
	`{"batch":"B","attempt":1,"job":{}}`, `{}`, `[]`, `null`, `{"batch":"B"`, ``,
}

func TestDecodeTaskFastMatchesReference(t *testing.T) {
	for _, s := range taskSeeds {
		t.Run(s, func(t *testing.T) { checkDecodeTask(t, []byte(s)) })
	}
}

func FuzzDecodeTaskFast(f *testing.F) {
	for _, s := range taskSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDecodeTask)
}

func checkDecodeTask(t *testing.T, payload []byte) {
	t.Helper()
	checkMembers(t, payload)
	want, werr := decodeTaskReference(payload)
	got, gerr := DecodeTask(payload)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("DecodeTask(%q): error %v, reference %v", payload, gerr, werr)
	}
	if werr != nil {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeTask(%q) = %#v, reference %#v", payload, got, want)
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Fatalf("DecodeTask(%q) marshals as %s, reference %s", payload, gb, wb)
	}
}

func TestObjectMembers(t *testing.T) {
	in := `{"a":1,"b\u0021":"x","c":{"d":[1,{"e":"}"}]},"a":null,"\u00e9":true}`
	var got [][2]string
	for k, v := range objectMembers([]byte(in)) {
		got = append(got, [2]string{k, string(v)})
	}
	want := [][2]string{{"a", "1"}, {"b!", `"x"`}, {"c", `{"d":[1,{"e":"}"}]}`}, {"a", "null"}, {"é", "true"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("members %q, want %q", got, want)
	}
}

// checkMembers diffs objectMembers (last key wins) and plainString with
// encoding/json, on a valid compact object.
func checkMembers(t *testing.T, data []byte) {
	t.Helper()
	var want map[string]json.RawMessage
	if firstByte(data) != '{' || json.Unmarshal(data, &want) != nil {
		return
	}
	compact, _ := jsonForm(data)
	if isCompact(data) != compact {
		t.Fatalf("isCompact(%s) = %v, jsonForm says %v", data, !compact, compact)
	}
	if !compact {
		return
	}
	got := map[string]json.RawMessage{}
	for k, v := range objectMembers(data) {
		got[k] = v
		if s, ok := plainString(v); ok {
			var w string
			if err := json.Unmarshal(v, &w); err != nil || w != s {
				t.Fatalf("plainString(%s) = %q, json %q %v", v, s, w, err)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("objectMembers(%s) = %q, json %q", data, got, want)
	}
}

// FuzzRawObject: for valid JSON, rawObject reads what json.Unmarshal reads
// into a map of raw values.
func FuzzRawObject(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `{"a":"b","a":1}`, `{"A":null,"b":{"c":[1,"x"]}}`, `{"\u00e9\n":"v","\xff":"w"}`, `{ "a" : 1 }`, `[1]`, `"s"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		var want map[string]json.RawMessage
		werr := json.Unmarshal(raw, &want)
		got, err := rawObject(raw)
		if (err == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("rawObject(%q) = %q, %v; json.Unmarshal: %q, %v", raw, got, err, want, werr)
		}
	})
}

// FuzzOrderedMembers: for a valid, compact object, orderedMembers reads
// the members, in order, a key given twice kept twice, as encoding/json's
// Decoder does.
func FuzzOrderedMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b","a":1}`, `{"q":[1,"x",null],"p":2.50}`, `{"e":{"x":1}}`, `{"\u00e9":"v","\xff":true}`, `{"n":null,"t":false}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if firstByte(raw) != '{' || !json.Valid(raw) || !isCompact(raw) {
			return
		}
		keys, vals, err := orderedMembers(raw)
		wkeys, wvals, werr := membersByDecoder(raw)
		if !slices.Equal(keys, wkeys) || !reflect.DeepEqual(vals, wvals) || (err == nil) != (werr == nil) {
			t.Fatalf("orderedMembers(%q) = %q %q, %v; the decoder: %q %q, %v", raw, keys, vals, err, wkeys, wvals, werr)
		}
	})
}
