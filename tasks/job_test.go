package tasks_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestDecodeJobMethod(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"absent is GET", `{"url": "http://x"}`, "GET"},
		{"null is GET", `{"url": "http://x", "method": null}`, "GET"},
		{"upper", `{"url": "http://x", "method": "POST"}`, "POST"},
		{"lower is uppercased", `{"url": "http://x", "method": "delete"}`, "DELETE"},
		{"mixed case", `{"url": "http://x", "method": "PaTcH"}`, "PATCH"},
		{"extension token", `{"url": "http://x", "method": "m-search"}`, "M-SEARCH"},
		{"WebDAV", `{"url": "http://x", "method": "propfind"}`, "PROPFIND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustDecode(t, tt.in).Method; got != tt.want {
				t.Errorf("Method = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeJobURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", `{"url": "https://example.com/a?b=c"}`, "https://example.com/a?b=c"},
		{"leading spaces stripped", `{"url": "  \t\r\n https://example.com"}`, "https://example.com"},
		{"leading unicode space stripped", `{"url": "\u00a0\u3000https://example.com"}`, "https://example.com"},
		{"leading separators stripped (Python isspace)", `{"url": "\u001c\u001fhttps://example.com"}`, "https://example.com"},
		{"trailing space kept (lstrip only)", `{"url": "https://example.com "}`, "https://example.com "},
		{"no scheme is not a decode error", `{"url": "example.com"}`, "example.com"},
		{"other scheme is not a decode error", `{"url": "ftp://x"}`, "ftp://x"},
		{"garbage is not a decode error", `{"url": "not a url at all"}`, "not a url at all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustDecode(t, tt.in).URL; got != tt.want {
				t.Errorf("URL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeJobFields(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want tasks.Job
	}{
		{
			name: "minimal",
			in:   `{"url": "http://x"}`,
			want: tasks.Job{Method: "GET", URL: "http://x"},
		},
		{
			name: "every field",
			in: `{"id": "job-1", "method": "post", "url": "http://x/p",
				"params": {"q": "go", "page": 2}, "headers": {"X-Token": "t", "Accept": "*/*"},
				"data": "a=b", "json": {"k": [1, 2]}, "cookies": {"sid": "abc"},
				"auth": ["user", "pw"], "timeout": [3.05, 27], "allow_redirects": false,
				"meta": {"row": 7}}`,
			want: tasks.Job{
				ID: "job-1", Method: "POST", URL: "http://x/p",
				Params:         &tasks.Pairs{List: []tasks.Pair{{"q", "go"}, {"page", "2"}}},
				Headers:        map[string]string{"X-Token": "t", "Accept": "*/*"},
				Data:           &tasks.Pairs{Text: ptr("a=b")},
				JSON:           json.RawMessage(`{"k":[1,2]}`),
				Cookies:        map[string]string{"sid": "abc"},
				Auth:           &tasks.Auth{User: "user", Password: "pw"},
				Timeout:        &tasks.Timeout{Connect: 3050e6, Read: 27e9, Pair: true},
				AllowRedirects: ptr(false),
				Meta:           json.RawMessage(`{"row":7}`),
			},
		},
		{
			name: "nulls are absent",
			in: `{"id": null, "method": null, "url": "http://x", "params": null, "headers": null,
				"data": null, "json": null, "cookies": null, "auth": null, "timeout": null,
				"allow_redirects": null, "meta": null}`,
			want: tasks.Job{Method: "GET", URL: "http://x"},
		},
		{
			name: "empty objects are absent",
			in:   `{"url": "http://x", "headers": {}, "cookies": {}}`,
			want: tasks.Job{Method: "GET", URL: "http://x"},
		},
		{
			name: "json and meta any JSON, compacted",
			in:   `{"url": "http://x", "json": [ 1 , "a b" , { } ], "meta": "row 7"}`,
			want: tasks.Job{Method: "GET", URL: "http://x", JSON: json.RawMessage(`[1,"a b",{}]`), Meta: json.RawMessage(`"row 7"`)},
		},
		{
			name: "json false and 0 are values, not absent",
			in:   `{"url": "http://x", "json": false, "meta": 0}`,
			want: tasks.Job{Method: "GET", URL: "http://x", JSON: json.RawMessage(`false`), Meta: json.RawMessage(`0`)},
		},
		{
			name: "allow_redirects true",
			in:   `{"url": "http://x", "allow_redirects": true}`,
			want: tasks.Job{Method: "GET", URL: "http://x", AllowRedirects: ptr(true)},
		},
		{
			name: "id with colons and unicode",
			in:   `{"url": "http://x", "id": "a:b:ünï"}`,
			want: tasks.Job{ID: "a:b:ünï", Method: "GET", URL: "http://x"},
		},
		{
			name: "id of MaxIDLen bytes",
			in:   `{"url": "http://x", "id": "` + strings.Repeat("i", tasks.MaxIDLen) + `"}`,
			want: tasks.Job{ID: strings.Repeat("i", tasks.MaxIDLen), Method: "GET", URL: "http://x"},
		},
		{
			name: "white space around the object",
			in:   " \n\t{\"url\": \"http://x\"}\r\n ",
			want: tasks.Job{Method: "GET", URL: "http://x"},
		},
		{
			name: "headers with any printable value",
			in:   `{"url": "http://x", "headers": {"User-Agent": "reqfleet/1 (+https://x)", "X-Empty": "", "X-U": "ü\t"}}`,
			want: tasks.Job{Method: "GET", URL: "http://x", Headers: map[string]string{"User-Agent": "reqfleet/1 (+https://x)", "X-Empty": "", "X-U": "ü\t"}},
		},
		{
			name: "cookies",
			in:   `{"url": "http://x", "cookies": {"sid": "abc=", "theme": ""}}`,
			want: tasks.Job{Method: "GET", URL: "http://x", Cookies: map[string]string{"sid": "abc=", "theme": ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustDecode(t, tt.in).Normalized()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeJob:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// TestDecodeJobPython decodes the dicts a requests_toolbelt user passes to
// threaded.map, as json.dumps writes them.
func TestDecodeJobPython(t *testing.T) {
	in := `[{"method": "GET", "url": "https://httpbin.org/get"},
		{"method": "POST", "url": "https://httpbin.org/post", "data": {"key": "value", "n": 1, "flag": true, "skip": null}},
		{"method": "GET", "url": "https://httpbin.org/get", "params": [["a", "1"], ["a", "2"]], "timeout": 5},
		{"method": "PUT", "url": "https://httpbin.org/put", "json": {"a": [1, 2.5, null]}, "headers": {"Content-Type": "application/json"}},
		{"method": "GET", "url": "https://httpbin.org/basic-auth/u/p", "auth": ["u", "p"], "allow_redirects": false, "timeout": [3.05, null]}]`
	var dicts []json.RawMessage
	if err := json.Unmarshal([]byte(in), &dicts); err != nil {
		t.Fatal(err)
	}
	for i, d := range dicts {
		j := mustDecode(t, string(d))
		if j.URL == "" || j.Method == "" {
			t.Errorf("dict %d: %+v", i, j)
		}
	}
	j := mustDecode(t, string(dicts[1]))
	if got, want := j.Data.Encode(), "key=value&n=1&flag=True"; got != want {
		t.Errorf("data = %q, want %q", got, want)
	}
}

func TestDecodeJobErrors(t *testing.T) {
	long := strings.Repeat("i", tasks.MaxIDLen+1)
	tests := []struct {
		name  string
		in    string
		want  error
		field string
	}{
		{"url missing", `{}`, tasks.ErrRequired, "url"},
		{"url missing, others set", `{"method": "GET", "headers": {"A": "b"}}`, tasks.ErrRequired, "url"},
		{"url null", `{"url": null}`, tasks.ErrRequired, "url"},
		{"url empty", `{"url": ""}`, tasks.ErrRequired, "url"},
		{"url only white space", `{"url": " \t\n"}`, tasks.ErrRequired, "url"},
		{"url number", `{"url": 5}`, tasks.ErrType, "url"},
		{"url list", `{"url": ["http://x"]}`, tasks.ErrType, "url"},
		{"url object", `{"url": {"href": "http://x"}}`, tasks.ErrType, "url"},

		{"method empty", `{"url": "http://x", "method": ""}`, tasks.ErrValue, "method"},
		{"method with space", `{"url": "http://x", "method": "GE T"}`, tasks.ErrValue, "method"},
		{"method with CRLF", `{"url": "http://x", "method": "GET\r\n"}`, tasks.ErrValue, "method"},
		{"method non-ASCII", `{"url": "http://x", "method": "GÉT"}`, tasks.ErrValue, "method"},
		{"method with slash", `{"url": "http://x", "method": "GET/1"}`, tasks.ErrValue, "method"},
		{"method number", `{"url": "http://x", "method": 1}`, tasks.ErrType, "method"},
		{"method bool", `{"url": "http://x", "method": true}`, tasks.ErrType, "method"},

		{"id empty", `{"url": "http://x", "id": ""}`, tasks.ErrValue, "id"},
		{"id too long", `{"url": "http://x", "id": "` + long + `"}`, tasks.ErrValue, "id"},
		{"id with newline", `{"url": "http://x", "id": "a\nb"}`, tasks.ErrValue, "id"},
		{"id with NUL", `{"url": "http://x", "id": "a\u0000b"}`, tasks.ErrValue, "id"},
		{"id with DEL", `{"url": "http://x", "id": "a\u007fb"}`, tasks.ErrValue, "id"},
		{"id with C1 control", `{"url": "http://x", "id": "a\u0085b"}`, tasks.ErrValue, "id"},
		{"id number", `{"url": "http://x", "id": 7}`, tasks.ErrType, "id"},

		{"allow_redirects string", `{"url": "http://x", "allow_redirects": "true"}`, tasks.ErrType, "allow_redirects"},
		{"allow_redirects number", `{"url": "http://x", "allow_redirects": 1}`, tasks.ErrType, "allow_redirects"},
		{"allow_redirects list", `{"url": "http://x", "allow_redirects": [true]}`, tasks.ErrType, "allow_redirects"},

		{"headers string", `{"url": "http://x", "headers": "A: b"}`, tasks.ErrType, "headers"},
		{"headers list", `{"url": "http://x", "headers": [["A", "b"]]}`, tasks.ErrType, "headers"},
		{"header value number", `{"url": "http://x", "headers": {"X-N": 1}}`, tasks.ErrType, "headers.X-N"},
		{"header name null, not a token", `{"url": "http://x", "headers": {"X N": null}}`, tasks.ErrValue, "headers"},
		{"header value list", `{"url": "http://x", "headers": {"X-N": ["a"]}}`, tasks.ErrType, "headers.X-N"},
		{"header name with space", `{"url": "http://x", "headers": {"X Token": "t"}}`, tasks.ErrValue, "headers"},
		{"header name with colon", `{"url": "http://x", "headers": {"X-Token:": "t"}}`, tasks.ErrValue, "headers"},
		{"header name empty", `{"url": "http://x", "headers": {"": "t"}}`, tasks.ErrValue, "headers"},
		{"header name non-ASCII", `{"url": "http://x", "headers": {"X-Ü": "t"}}`, tasks.ErrValue, "headers"},
		{"header value not latin-1", `{"url": "http://x", "headers": {"X-E": "5 €"}}`, tasks.ErrValue, "headers.X-E"},
		{"header value with CR", `{"url": "http://x", "headers": {"X-Token": "a\rb"}}`, tasks.ErrValue, "headers.X-Token"},
		{"header value with LF", `{"url": "http://x", "headers": {"X-Token": "a\nb"}}`, tasks.ErrValue, "headers.X-Token"},
		{"header value with CRLF injection", `{"url": "http://x", "headers": {"X-Token": "t\r\nHost: evil"}}`, tasks.ErrValue, "headers.X-Token"},
		{"header value with NUL", `{"url": "http://x", "headers": {"X-Token": "a\u0000b"}}`, tasks.ErrValue, "headers.X-Token"},

		{"cookies string", `{"url": "http://x", "cookies": "a=b"}`, tasks.ErrType, "cookies"},
		{"cookie value number", `{"url": "http://x", "cookies": {"a": 1}}`, tasks.ErrType, "cookies.a"},
		{"cookie value null", `{"url": "http://x", "cookies": {"a": null}}`, tasks.ErrType, "cookies.a"},
		{"cookie name with space", `{"url": "http://x", "cookies": {"a b": "c"}}`, tasks.ErrValue, "cookies"},
		{"cookie name empty", `{"url": "http://x", "cookies": {"": "c"}}`, tasks.ErrValue, "cookies"},
		{"cookie value with semicolon", `{"url": "http://x", "cookies": {"a": "b; c=d"}}`, tasks.ErrValue, "cookies.a"},
		{"cookie value with LF", `{"url": "http://x", "cookies": {"a": "b\nc"}}`, tasks.ErrValue, "cookies.a"},

		{"unknown key", `{"url": "http://x", "body": "x"}`, tasks.ErrUnknownField, "body"},
		{"keys are case sensitive", `{"URL": "http://x"}`, tasks.ErrUnknownField, "URL"},
		{"unknown key with null value", `{"url": "http://x", "nope": null}`, tasks.ErrUnknownField, "nope"},
		{"unknown key wins over missing url", `{"uri": "http://x"}`, tasks.ErrUnknownField, "uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := tasks.DecodeJob([]byte(tt.in))
			checkErr(t, err, tt.want, tt.field)
			if !wrapsSentinel(err) {
				t.Errorf("error %q wraps more or less than one sentinel", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("message %q does not name the field %q", err, tt.field)
			}
			if !reflect.DeepEqual(j, tasks.Job{}) {
				t.Errorf("a failed decode returned %+v, want the zero Job", j)
			}
		})
	}
}

// TestDecodeJobUnsupported checks that requests' keyword arguments that
// reqfleet does not take are refused with a hint, not the list of fields.
func TestDecodeJobUnsupported(t *testing.T) {
	_, err := tasks.DecodeJob([]byte(`{"url": "http://x", "bogus": 1}`))
	var generic *tasks.FieldError
	if !errors.As(err, &generic) {
		t.Fatalf("unknown key: %v", err)
	}
	for _, k := range []string{"files", "stream", "verify", "cert", "proxies", "hooks"} {
		t.Run(k, func(t *testing.T) {
			_, err := tasks.DecodeJob([]byte(`{"url": "http://x", "` + k + `": true}`))
			checkErr(t, err, tasks.ErrUnknownField, k)
			var fe *tasks.FieldError
			errors.As(err, &fe)
			if fe.Detail == "" || fe.Detail == generic.Detail {
				t.Errorf("%s: detail %q gives no hint", k, fe.Detail)
			}
		})
	}
}

func TestDecodeJobNotObject(t *testing.T) {
	for _, in := range []string{`[]`, `[{"url": "http://x"}]`, `"http://x"`, `1`, `-1.5`, `true`, `false`, `null`, ` null `} {
		t.Run(in, func(t *testing.T) {
			_, err := tasks.DecodeJob([]byte(in))
			checkErr(t, err, tasks.ErrNotObject, "")
			if !wrapsSentinel(err) {
				t.Errorf("error %q wraps more or less than one sentinel", err)
			}
		})
	}
}

func TestDecodeJobSyntax(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ``},
		{"white space", " \n"},
		{"unclosed", `{"url": "http://x"`},
		{"missing value", `{"url": }`},
		{"trailing comma", `{"url": "http://x",}`},
		{"trailing garbage", `{"url": "http://x"} x`},
		{"two objects", `{"url": "http://x"}{"url": "http://y"}`},
		{"trailing comma after object", `{"url": "http://x"},`},
		{"Python repr", `{'url': 'http://x'}`},
		{"Python None", `{"url": "http://x", "json": None}`},
		{"NaN", `{"url": "http://x", "timeout": NaN}`},
		{"bad escape", `{"url": "http:\x"}`},
		{"control character in string", "{\"url\": \"http://x\n\"}"},
		{"garbage after array", `[] ]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tasks.DecodeJob([]byte(tt.in))
			checkErr(t, err, tasks.ErrSyntax, "")
			var syn *tasks.SyntaxError
			if !errors.As(err, &syn) {
				t.Errorf("error %q is not a *SyntaxError", err)
			}
			if !wrapsSentinel(err) {
				t.Errorf("error %q wraps more or less than one sentinel", err)
			}
		})
	}
}

// TestDecodeJobFirstError checks that a job with several faults reports the
// same one every time, whatever Go's map order.
func TestDecodeJobFirstError(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		field string
	}{
		{"keys", `{"zz": 1, "url": 5, "aa": 1, "mm": 1}`, "aa"},
		{"header names", `{"url": "http://x", "headers": {"b c": "x", "a b": "x", "d e": "x", "f g": "x"}}`, "headers"},
		{"header values", `{"url": "http://x", "headers": {"B": "\n", "A": "\n", "C": "\n", "D": "\n"}}`, "headers.A"},
		{"cookie values", `{"url": "http://x", "cookies": {"b": ";", "a": ";", "c": ";", "d": ";"}}`, "cookies.a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, first := tasks.DecodeJob([]byte(tt.in))
			var fe *tasks.FieldError
			if !errors.As(first, &fe) || fe.Field != tt.field {
				t.Fatalf("error %v, want one for field %q", first, tt.field)
			}
			for range 50 {
				_, err := tasks.DecodeJob([]byte(tt.in))
				if err.Error() != first.Error() {
					t.Fatalf("error %q, then %q", first, err)
				}
			}
		})
	}
}

func TestFollowRedirects(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"url": "http://x"}`, true},
		{`{"url": "http://x", "allow_redirects": null}`, true},
		{`{"url": "http://x", "allow_redirects": true}`, true},
		{`{"url": "http://x", "allow_redirects": false}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			j := mustDecode(t, tt.in)
			if got := j.FollowRedirects(); got != tt.want {
				t.Errorf("FollowRedirects() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestJobRoundTrip checks that a job in the normalised form (as built in
// Go) marshals to JSON that decodes to the same job.
func TestJobRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		out  string // json.Marshal of the decoded job; "" to skip
	}{
		{"minimal", `{"url": "http://x"}`, `{"method":"GET","url":"http://x"}`},
		{"params object becomes pairs", `{"url": "http://x", "params": {"a": 1, "b": [true, null, "c"], "d": null}}`,
			`{"method":"GET","url":"http://x","params":[["a","1"],["b","True"],["b","c"]]}`},
		{"params string", `{"url": "http://x", "params": "a=1&b"}`, `{"method":"GET","url":"http://x","params":"a=1\u0026b"}`},
		{"empty params", `{"url": "http://x", "params": {}}`, `{"method":"GET","url":"http://x","params":[]}`},
		{"data pairs", `{"url": "http://x", "data": [["k", "v"], ["k", 2]]}`, `{"method":"GET","url":"http://x","data":[["k","v"],["k","2"]]}`},
		{"timeout number", `{"url": "http://x", "timeout": 2.5}`, `{"method":"GET","url":"http://x","timeout":2.5}`},
		{"timeout pair", `{"url": "http://x", "timeout": [null, 10]}`, `{"method":"GET","url":"http://x","timeout":[null,10]}`},
		{"timeout odd float", `{"url": "http://x", "timeout": 1.234567891}`, `{"method":"GET","url":"http://x","timeout":1.234567891}`},
		{"json with white space", `{"url": "http://x", "json": { "a" : [ 1, 2 ] }}`, `{"method":"GET","url":"http://x","json":{"a":[1,2]}}`},
		{"json with HTML characters", `{"url": "http://x", "json": {"q": "<a&b>"}}`, ""},
		{"null header removes it", `{"url": "http://x", "headers": {"User-Agent": null, "A": "b", "Accept": null}}`,
			`{"method":"GET","url":"http://x","headers":{"A":"b","Accept":null,"User-Agent":null}}`},
		{"only null headers", `{"url": "http://x", "headers": {"X": null}}`, `{"method":"GET","url":"http://x","headers":{"X":null}}`},
		{"auth keeps password", `{"url": "http://x", "auth": ["u", "p"]}`, `{"method":"GET","url":"http://x","auth":["u","p"]}`},
		{"everything", `{"id": "j:1", "method": "patch", "url": " http://x/é", "params": [["q", "ü"]],
			"headers": {"A": "b"}, "data": {"x": 1.50}, "json": [1], "cookies": {"c": "d"}, "auth": ["u", "p"],
			"timeout": [0.001, 86400], "allow_redirects": false, "meta": {"m": [null]}}`, ""},
		{"invalid UTF-8 becomes U+FFFD", "{\"url\": \"http://x/\xff\", \"cookies\": {\"A\": \"\xfe\"}}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := mustDecode(t, tt.in).Normalized()
			b, err := json.Marshal(j)
			if err != nil {
				t.Fatal(err)
			}
			if tt.out != "" && string(b) != tt.out {
				t.Errorf("json.Marshal:\n got %s\nwant %s", b, tt.out)
			}
			j2 := mustDecode(t, string(b))
			if len(j.JSON) > 0 { // json.Marshal escapes <, > and &: same JSON value
				j.JSON = htmlEscape(j.JSON)
			}
			if !reflect.DeepEqual(j, j2.Normalized()) {
				t.Errorf("round trip:\n got %#v\nwant %#v", j2, j)
			}
			b2, err := json.Marshal(j2)
			if err != nil || string(b2) != string(b) {
				t.Errorf("second marshal: %s, %v; want %s", b2, err, b)
			}
		})
	}
}

// TestJobZero checks that the zero Job (the request of an InvalidJob
// exception) marshals as null and null unmarshals as the zero Job.
func TestJobZero(t *testing.T) {
	b, err := json.Marshal(tasks.Job{})
	if err != nil || string(b) != "null" {
		t.Fatalf("json.Marshal(Job{}) = %s, %v; want null", b, err)
	}
	var j tasks.Job
	if err := json.Unmarshal([]byte("null"), &j); err != nil || !reflect.DeepEqual(j, tasks.Job{}) {
		t.Fatalf("json.Unmarshal(null) = %+v, %v; want the zero Job", j, err)
	}
	var p *tasks.Job
	if err := json.Unmarshal([]byte("null"), &p); err != nil || p != nil {
		t.Fatalf("json.Unmarshal(null, *Job) = %v, %v", p, err)
	}
	// Not zero: marshalled as an object.
	b, err = json.Marshal(tasks.Job{URL: "http://x"})
	if err != nil || string(b) != `{"method":"","url":"http://x"}` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
}

func TestJobUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  error
		field string
	}{
		{"valid", `{"url": "http://x", "method": "put"}`, nil, ""},
		{"missing url", `{"method": "GET"}`, tasks.ErrRequired, "url"},
		{"unknown field", `{"url": "http://x", "verify": false}`, tasks.ErrUnknownField, "verify"},
		{"not an object", `[1]`, tasks.ErrNotObject, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var j tasks.Job
			err := json.Unmarshal([]byte(tt.in), &j)
			if tt.want == nil {
				if err != nil || j.Method != "PUT" {
					t.Fatalf("json.Unmarshal = %+v, %v", j, err)
				}
				return
			}
			checkErr(t, err, tt.want, tt.field)
		})
	}
}

// htmlEscape escapes <, >, & and U+2028/U+2029 as json.Marshal does in a
// json.RawMessage: the same JSON value, written differently.
func htmlEscape(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	json.HTMLEscape(&b, raw)
	return b.Bytes()
}

// Header names that differ only in case: the last given wins, as in
// requests' case-insensitive dict (conformance cases header_case_twice,
// header_null_then_value, header_value_then_null).
func TestDecodeJobHeaderCaseTwice(t *testing.T) {
	for _, tc := range []struct {
		headers string
		want    map[string]string
		remove  []string
	}{
		{`{"X-A":"1","x-a":"2"}`, map[string]string{"x-a": "2"}, nil},
		{`{ "X-A" : "1", "x-a" : "2" }`, map[string]string{"x-a": "2"}, nil},
		{`{"Accept":null,"accept":"t","X-K":"1"}`, map[string]string{"accept": "t", "X-K": "1"}, nil},
		{`{"accept":"t","Accept":null}`, nil, []string{"Accept"}},
		{`{"b":null,"A":null,"x":"1","X":"2"}`, map[string]string{"X": "2"}, []string{"A", "b"}},
	} {
		j, err := tasks.DecodeJob([]byte(`{"url":"http://x","headers":` + tc.headers + `}`))
		if err != nil {
			t.Fatalf("%s: %v", tc.headers, err)
		}
		if !reflect.DeepEqual(j.Headers, tc.want) || !slices.Equal(j.RemoveHeaders, tc.remove) {
			t.Errorf("%s: headers %v, removed %v; want %v, %v", tc.headers, j.Headers, j.RemoveHeaders, tc.want, tc.remove)
		}
	}
}
