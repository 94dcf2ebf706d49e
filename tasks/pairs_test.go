package tasks_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestDecodePairs(t *testing.T) {
	tests := []struct {
		name   string
		value  string // the JSON value of params (and of data)
		want   *tasks.Pairs
		encode string
	}{
		{"string as it is", `"a=1&b=%20"`, &tasks.Pairs{Text: ptr("a=1&b=%20")}, "a=1&b=%20"},
		{"empty string", `""`, &tasks.Pairs{Text: ptr("")}, ""},
		{"object keeps its order", `{"b": "2", "a": "1", "c": "3"}`,
			&tasks.Pairs{List: []tasks.Pair{{"b", "2"}, {"a", "1"}, {"c", "3"}}}, "b=2&a=1&c=3"},
		{"numbers as Python prints them", `{"i": 1, "f": 1.50, "n": -2, "e": 1e3, "z": -0}`,
			&tasks.Pairs{List: []tasks.Pair{{"i", "1"}, {"f", "1.5"}, {"n", "-2"}, {"e", "1000.0"}, {"z", "0"}}}, "i=1&f=1.5&n=-2&e=1000.0&z=0"},
		{"booleans as Python prints them", `{"t": true, "f": false}`,
			&tasks.Pairs{List: []tasks.Pair{{"t", "True"}, {"f", "False"}}}, "t=True&f=False"},
		{"null dropped", `{"a": null, "b": "x", "c": null}`,
			&tasks.Pairs{List: []tasks.Pair{{"b", "x"}}}, "b=x"},
		{"empty string kept", `{"a": ""}`, &tasks.Pairs{List: []tasks.Pair{{"a", ""}}}, "a="},
		{"list value repeats the key", `{"a": [1, "x", null, true], "b": "y"}`,
			&tasks.Pairs{List: []tasks.Pair{{"a", "1"}, {"a", "x"}, {"a", "True"}, {"b", "y"}}}, "a=1&a=x&a=True&b=y"},
		{"empty list value drops the key", `{"a": [], "b": "y"}`,
			&tasks.Pairs{List: []tasks.Pair{{"b", "y"}}}, "b=y"},
		{"empty object", `{}`, &tasks.Pairs{List: []tasks.Pair{}}, ""},
		{"list of pairs", `[["a", "1"], ["b", 2], ["a", "3"]]`,
			&tasks.Pairs{List: []tasks.Pair{{"a", "1"}, {"b", "2"}, {"a", "3"}}}, "a=1&b=2&a=3"},
		{"list of pairs, null dropped", `[["a", null], ["b", false]]`,
			&tasks.Pairs{List: []tasks.Pair{{"b", "False"}}}, "b=False"},
		{"list of pairs, list value repeats the key", `[["a", ["1", 2]], ["b", "y"]]`,
			&tasks.Pairs{List: []tasks.Pair{{"a", "1"}, {"a", "2"}, {"b", "y"}}}, "a=1&a=2&b=y"},
		{"empty list", `[]`, &tasks.Pairs{List: []tasks.Pair{}}, ""},
		{"form-encoding", `{"q": "a b&c=d", "é": "ü", "safe": "-_.~", "+": "/?#"}`,
			&tasks.Pairs{List: []tasks.Pair{{"q", "a b&c=d"}, {"é", "ü"}, {"safe", "-_.~"}, {"+", "/?#"}}},
			"q=a+b%26c%3Dd&%C3%A9=%C3%BC&safe=-_.~&%2B=%2F%3F%23"},
		// As Python's json reads a key given twice (the last value, where
		// the key first stood), and requests sends the dict: the
		// conformance cases params_key_twice and data_key_twice run it.
		{"a key given twice: its last value, at its first place", `{"a": 1, "b": [3, 4], "a": 2}`,
			&tasks.Pairs{List: []tasks.Pair{{"a", "2"}, {"b", "3"}, {"b", "4"}}}, "a=2&b=3&b=4"},
		{"a key given twice, compact", `{"a":1,"b":"x","a":[5,6]}`,
			&tasks.Pairs{List: []tasks.Pair{{"a", "5"}, {"a", "6"}, {"b", "x"}}}, "a=5&a=6&b=x"},
	}
	for _, tt := range tests {
		for _, field := range []string{"params", "data"} {
			t.Run(field+"/"+tt.name, func(t *testing.T) {
				j := mustDecode(t, `{"url": "http://x", "`+field+`": `+tt.value+`}`)
				got := j.Params
				if field == "data" {
					got = j.Data
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s = %#v, want %#v", field, got, tt.want)
				}
				if enc := got.Encode(); enc != tt.encode {
					t.Errorf("Encode() = %q, want %q", enc, tt.encode)
				}
			})
		}
	}
}

func TestDecodePairsErrors(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  error
		field string // after "params"
	}{
		{"number", `5`, tasks.ErrType, ""},
		{"bool", `true`, tasks.ErrType, ""},
		{"object value", `{"a": {"b": 1}}`, tasks.ErrType, ".a"},
		{"nested list value", `{"a": [[1]]}`, tasks.ErrType, ".a"},
		{"object in list value", `{"a": [{}]}`, tasks.ErrType, ".a"},
		{"pair of one", `[["a"]]`, tasks.ErrType, ""},
		{"pair of three", `[["a", "b", "c"]]`, tasks.ErrType, ""},
		{"number key", `[[1, "b"]]`, tasks.ErrType, ""},
		{"null key", `[[null, "b"]]`, tasks.ErrType, ""},
		{"list of strings", `["a=b"]`, tasks.ErrType, ""},
		{"list of null", `[null]`, tasks.ErrType, ""},
		{"list of objects", `[{"a": "b"}]`, tasks.ErrType, ""},
		{"pair with object value", `[["a", {"b": 1}]]`, tasks.ErrType, ".a"},
		{"pair with nested list value", `[["a", [[1]]]]`, tasks.ErrType, ".a"},
	}
	for _, tt := range tests {
		for _, field := range []string{"params", "data"} {
			t.Run(field+"/"+tt.name, func(t *testing.T) {
				_, err := tasks.DecodeJob([]byte(`{"url": "http://x", "` + field + `": ` + tt.value + `}`))
				checkErr(t, err, tt.want, field+tt.field)
			})
		}
	}
}

func TestPairsMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		p    tasks.Pairs
		want string
	}{
		{"text", tasks.Pairs{Text: ptr("a=1&b=2")}, `"a=1\u0026b=2"`},
		{"empty text", tasks.Pairs{Text: ptr("")}, `""`},
		{"pairs", tasks.Pairs{List: []tasks.Pair{{"a", "1"}, {"b", "True"}}}, `[["a","1"],["b","True"]]`},
		{"no pairs", tasks.Pairs{}, `[]`},
		{"text wins over pairs", tasks.Pairs{Text: ptr("x"), List: []tasks.Pair{{"a", "1"}}}, `"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []any{tt.p, &tt.p} {
				b, err := json.Marshal(v)
				if err != nil || string(b) != tt.want {
					t.Errorf("json.Marshal(%T) = %s, %v; want %s", v, b, err, tt.want)
				}
			}
		})
	}
}

func TestPairsEncodeNil(t *testing.T) {
	var p *tasks.Pairs
	if got := p.Encode(); got != "" {
		t.Errorf("nil Encode() = %q", got)
	}
	if got := (&tasks.Pairs{}).Encode(); got != "" {
		t.Errorf("empty Encode() = %q", got)
	}
}

// A key given twice among many (past the members' index threshold) still
// keeps its last value at its first place.
func TestDecodePairsKeyTwiceAmongMany(t *testing.T) {
	var in strings.Builder
	var want []string
	in.WriteString(`{`)
	for i := range 40 {
		fmt.Fprintf(&in, `"k%d":%d,`, i, i)
		want = append(want, fmt.Sprintf("k%d=%d", i, i))
	}
	in.WriteString(`"k3":"last","k30":null}`) // null: left out, as requests leaves out None
	want[3] = "k3=last"
	want = append(want[:30], want[31:]...)
	j, err := tasks.DecodeJob([]byte(`{"url":"http://x","params":` + in.String() + `}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := j.Params.Encode(); got != strings.Join(want, "&") {
		t.Fatalf("params %s", got)
	}
}
