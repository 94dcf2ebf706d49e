package tasks

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// keepReference is keep as it was written first, with encoding/json's
// tokenizer: the scanner in keep must cut the same members.
func keepReference(data []byte) (*keptForm, error) {
	var c bytes.Buffer
	if err := json.Compact(&c, data); err != nil {
		return nil, syntaxError(err)
	}
	var esc bytes.Buffer
	json.HTMLEscape(&esc, c.Bytes())
	in := esc.Bytes()
	out := []byte{'{'}
	k := &keptForm{at: 1}
	dec := json.NewDecoder(bytes.NewReader(in))
	if _, err := dec.Token(); err != nil {
		return nil, syntaxError(err)
	}
	for dec.More() {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, syntaxError(err)
		}
		member := bytes.TrimPrefix(in[start:dec.InputOffset()], []byte(","))
		if key, _ := tok.(string); key == "id" {
			k.at = len(out)
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, member...)
	}
	k.raw = append(out, '}')
	return k, nil
}

var keepSeeds = []string{
	`{}`, `{"url":"http://x"}`, `{"url": "http://x"}`, ` { "id" : "a" , "url" : "x" } `,
	`{"id":"a","url":"x"}`, `{"url":"x","id":"a"}`, `{"url":"x","id":"a","meta":{"id":1}}`,
	`{"\u0069d":"a","url":"x"}`, `{"i\"d":"a","url":"x"}`, `{"id":"a","id":"b","url":"x"}`,
	`{"url":"x","json":{"a":[1,"<b>&",null,{"c":"}]\"{"}]},"meta":"\u2028"}`,
	"{\"url\":\"x\u2028\u2029\",\"m\":\"\xff\xfe\"}", `{"url":"x","n":-1.5e3,"t":true,"f":false,"z":null}`,
	`{"url":"x","a":[[],{},[{}]],"b":"\\","c":"\\\""}`, "{\"url\":\"x\",\n\t\"p\":[1,\r 2]}",
}

func TestKeepMatchesReference(t *testing.T) {
	for _, s := range keepSeeds {
		t.Run(s, func(t *testing.T) { checkKeep(t, []byte(s)) })
	}
}

func FuzzKeep(f *testing.F) {
	for _, s := range keepSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil || m == nil {
			return // keep is given objects only
		}
		checkKeep(t, data)
	})
}

func checkKeep(t *testing.T, data []byte) {
	t.Helper()
	want, werr := keepReference(data)
	got, gerr := keep(data)
	if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("keep(%q) = %+v, %v; want %+v, %v", data, got, gerr, want, werr)
	}
}
