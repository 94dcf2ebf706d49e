package httpexec

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestPyJSON: the wants are Python 3's json.dumps(json.loads(in)).
func TestPyJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1,"b":[1,2.50,{"c":null}],"d":true}`, `{"a": 1, "b": [1, 2.5, {"c": null}], "d": true}`},
		{`{"z":1,"a":2}`, `{"z": 1, "a": 2}`},
		{`"é\u00e9😀\u007f\u0001/<>&"`, `"\u00e9\u00e9\ud83d\ude00\u007f\u0001/<>&"`},
		{`"q\"b\\s\n\r\t\b\f"`, `"q\"b\\s\n\r\t\b\f"`},
		{`[1e3,-0,-0.0,1e16,0.00001,1e400,-1e400]`, `[1000.0, 0, -0.0, 1e+16, 1e-05, Infinity, -Infinity]`},
		{`[]`, `[]`}, {`{}`, `{}`}, {`[[],{}]`, `[[], {}]`}, {`12345678901234567890123`, `12345678901234567890123`},
		// A key given twice: the last value, where the key first stood.
		{`{"a":1,"b":{"c":2,"c":[3,{"d":1,"d":2}]},"a":"last"}`, `{"a": "last", "b": {"c": [3, {"d": 2}]}}`},
		{`[{"k":1,"k":2},{"k":3}]`, `[{"k": 2}, {"k": 3}]`},
		{`{"x":{"y":1},"x":{"z":2}}`, `{"x": {"z": 2}}`},
		{`{"a":1e3,"a":"é"}`, `{"a": "\u00e9"}`},
		{`[{"a":1},{"a":2},{"b":{"a":1}}]`, `[{"a": 1}, {"a": 2}, {"b": {"a": 1}}]`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := pyJSON([]byte(tt.in))
			if err != nil || string(got) != tt.want {
				t.Errorf("pyJSON(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzPyTree: a value read whole (pyTree) is written as the streaming
// writer writes it, when no object gives a key twice; when one does,
// keyTwice says so and what is written gives every key once.
func FuzzPyTree(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[1,2.50,{"c":null}]}`, `{"a":1,"a":2}`, `[{"k":1},{"k":1}]`, `"é"`, `[1e400]`, `{"x":{"y":{"x":1}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		twice, err := keyTwice(raw)
		if err != nil {
			t.Fatalf("keyTwice(%q): %v", raw, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		n, err := pyTree(dec)
		if err != nil {
			t.Fatalf("pyTree(%q): %v", raw, err)
		}
		var tree bytes.Buffer
		n.write(&tree)
		if json.Valid(tree.Bytes()) { // Infinity is not JSON
			if again, err := keyTwice(tree.Bytes()); err != nil || again {
				t.Fatalf("pyTree(%q) wrote %s, a key twice (%v)", raw, tree.Bytes(), err)
			}
		}
		if twice {
			return
		}
		dec = json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var stream bytes.Buffer
		if err := pyValue(dec, &stream); err != nil {
			t.Fatal(err)
		}
		if tree.String() != stream.String() {
			t.Fatalf("%q: pyTree wrote %s, the stream %s", raw, tree.Bytes(), stream.Bytes())
		}
	})
}

// A deep object with a key given twice at the bottom is read in one pass
// down and written once (no copy a level).
func TestPyJSONDeepKeyTwice(t *testing.T) {
	const depth = 5000
	in := strings.Repeat(`{"a":`, depth) + `{"k":1,"k":2}` + strings.Repeat(`}`, depth)
	want := strings.Repeat(`{"a": `, depth) + `{"k": 2}` + strings.Repeat(`}`, depth)
	got, err := pyJSON([]byte(in))
	if err != nil || string(got) != want {
		t.Fatalf("pyJSON: %v (%d bytes, want %d)", err, len(got), len(want))
	}
}
