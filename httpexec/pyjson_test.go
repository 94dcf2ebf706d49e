package httpexec

import "testing"

// TestPyJSON: the wants are Python 3's json.dumps(json.loads(in)).
func TestPyJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1,"b":[1,2.50,{"c":null}],"d":true}`, `{"a": 1, "b": [1, 2.5, {"c": null}], "d": true}`},
		{`{"z":1,"a":2}`, `{"z": 1, "a": 2}`},
		{`"é\u00e9😀\u007f\u0001/<>&"`, `"\u00e9\u00e9\ud83d\ude00\u007f\u0001/<>&"`},
		{`"q\"b\\s\n\r\t\b\f"`, `"q\"b\\s\n\r\t\b\f"`},
		{`[1e3,-0,-0.0,1e16,0.00001,1e400,-1e400]`, `[1000.0, 0, -0.0, 1e+16, 1e-05, Infinity, -Infinity]`},
		{`[]`, `[]`}, {`{}`, `{}`}, {`[[],{}]`, `[[], {}]`}, {`12345678901234567890123`, `12345678901234567890123`},
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
