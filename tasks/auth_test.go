package tasks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

// secret is the password of the tests' jobs: it must never be printed.
const secret = "hunter2-s3cret"

func secretJob(t testing.TB) tasks.Job {
	t.Helper()
	return mustDecode(t, `{"id": "j1", "url": "http://x", "auth": ["alice", "`+secret+`"],
		"headers": {"Authorization": "Bearer `+secret+`", "X-Ok": "visible"},
		"cookies": {"session": "`+secret+`"}, "json": {"a": 1}, "params": {"q": "v"},
		"timeout": [1, 2], "meta": {"m": 1}}`)
}

func TestDecodeAuth(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *tasks.Auth
	}{
		{"pair", `["user", "pass"]`, &tasks.Auth{User: "user", Password: "pass"}},
		{"empty strings", `["", ""]`, &tasks.Auth{}},
		{"unicode and colon", `["ü:x", "p:ä"]`, &tasks.Auth{User: "ü:x", Password: "p:ä"}},
		{"null", `null`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := mustDecode(t, `{"url": "http://x", "auth": `+tt.in+`}`)
			if !reflect.DeepEqual(j.Auth, tt.want) {
				t.Errorf("Auth = %#v, want %#v", j.Auth, tt.want)
			}
		})
	}
}

func TestDecodeAuthErrors(t *testing.T) {
	for _, in := range []string{
		`"user:pass"`, `["user"]`, `["user", "` + secret + `", "x"]`, `[]`, `[1, "p"]`, `["u", 2]`,
		`["u", null]`, `[null, "p"]`, `{"user": "u", "password": "p"}`, `true`, `5`, `[["u", "p"]]`,
	} {
		t.Run(in, func(t *testing.T) {
			_, err := tasks.DecodeJob([]byte(`{"url": "http://x", "auth": ` + in + `}`))
			checkErr(t, err, tasks.ErrType, "auth")
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q prints the password", err)
			}
		})
	}
}

// TestAuthMarshalKeepsPassword: outcomes keep the request whole, so that
// retry can send it again.
func TestAuthMarshalKeepsPassword(t *testing.T) {
	a := tasks.Auth{User: "alice", Password: secret}
	for _, v := range []any{a, &a} {
		b, err := json.Marshal(v)
		if err != nil || string(b) != `["alice","`+secret+`"]` {
			t.Errorf("json.Marshal(%T) = %s, %v", v, b, err)
		}
	}
	j := secretJob(t)
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"auth":["alice","`+secret+`"]`)) {
		t.Errorf("json.Marshal(job) = %s: lost the password", b)
	}
	if j2 := mustDecode(t, string(b)); !reflect.DeepEqual(j2.Auth, j.Auth) {
		t.Errorf("round trip: Auth = %#v, want %#v", j2.Auth, j.Auth)
	}
}

// TestAuthNeverPrinted prints auth, and everything that holds it, with
// every verb and checks the password is not there: fmt calls Auth's Format
// for a *Auth field too.
func TestAuthNeverPrinted(t *testing.T) {
	j := mustDecode(t, `{"id": "j1", "url": "http://x", "auth": ["alice", "`+secret+`"], "json": {"a": 1}}`)
	a := *j.Auth
	task := tasks.Task{Batch: "b", Attempt: 1, Job: j}
	resp := tasks.Response{ID: "j1", Request: j, StatusCode: 200}
	exc := tasks.Exception{ID: "j1", Request: j, Exception: tasks.ExceptionInfo{Type: tasks.ConnectionError}}
	values := []struct {
		name string
		v    any
	}{
		{"Auth", a}, {"*Auth", &a}, {"Job", j}, {"*Job", &j}, {"Task", task}, {"*Task", &task},
		{"Response", resp}, {"*Response", &resp}, {"Exception", exc}, {"*Exception", &exc},
		{"[]Job", []tasks.Job{j}}, {"[]*Job", []*tasks.Job{&j}}, {"map", map[string]*tasks.Auth{"a": &a}},
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v"} {
			t.Run(v.name+"/"+verb, func(t *testing.T) {
				if out := fmt.Sprintf(verb, v.v); strings.Contains(out, secret) {
					t.Errorf("%s of %s prints the password: %s", verb, v.name, out)
				}
			})
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if out := fmt.Sprintf(verb, a); !strings.Contains(out, "alice") {
			t.Errorf("%s of Auth = %s: lost the user", verb, out)
		}
	}
	if got := fmt.Sprint(a); got != "[alice [REDACTED]]" {
		t.Errorf("Sprint(Auth) = %q", got)
	}
	if got := a.String(); got != "[alice [REDACTED]]" {
		t.Errorf("String() = %q", got)
	}
	const goString = `tasks.Auth{User:"alice", Password:"[REDACTED]"}`
	if got := fmt.Sprintf("%#v", a); got != goString {
		t.Errorf("%%#v of Auth = %q, want %q", got, goString)
	}
	if got := a.GoString(); got != goString {
		t.Errorf("GoString() = %q, want %q", got, goString)
	}
	if got := fmt.Sprintf("%+v", j); !strings.Contains(got, "Auth:[alice [REDACTED]]") {
		t.Errorf("%%+v of Job = %s", got)
	}
}

func TestAuthNeverLogged(t *testing.T) {
	j := secretJob(t)
	a := *j.Auth
	task := tasks.Task{Batch: "b", Attempt: 2, Job: j}
	resp := tasks.Response{ID: "j1", Batch: "b", Request: j, StatusCode: 200, Body: "body", FinishedAt: time.Unix(0, 0).UTC()}
	exc := tasks.Exception{ID: "j1", Batch: "b", Request: j, Exception: tasks.ExceptionInfo{Type: tasks.ReadTimeout, Message: "slow"}}
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	}
	args := []struct {
		name string
		v    any
	}{
		{"Auth", a}, {"*Auth", &a}, {"Job", j}, {"*Job", &j}, {"Task", task}, {"*Task", &task},
		{"Response", resp}, {"*Response", &resp}, {"Exception", exc}, {"*Exception", &exc},
	}
	for hname, h := range handlers {
		for _, arg := range args {
			t.Run(hname+"/"+arg.name, func(t *testing.T) {
				var buf bytes.Buffer
				slog.New(h(&buf)).Info("msg", "v", arg.v)
				out := buf.String()
				if strings.Contains(out, secret) {
					t.Errorf("log prints the password: %s", out)
				}
				if !strings.Contains(out, "alice") {
					t.Errorf("log lost the user: %s", out)
				}
				if hname == "json" && !json.Valid(bytes.TrimSpace(buf.Bytes())) {
					t.Errorf("log is not JSON: %s", out)
				}
			})
		}
	}
}

func TestJobLogValue(t *testing.T) {
	var buf bytes.Buffer
	j := secretJob(t)
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})).Info("job", "job", j)
	want := `{"level":"INFO","msg":"job","job":{"id":"j1","method":"GET","url":"http://x","params":"q=v",` +
		`"headers":{"Authorization":"[REDACTED]","X-Ok":"visible"},"json":"{\"a\":1}","cookies":{"session":"[REDACTED]"},` +
		`"auth":"[alice [REDACTED]]","timeout":"[1,2]","meta":"{\"m\":1}"}}`
	if got := strings.TrimSpace(buf.String()); got != want {
		t.Errorf("log:\n got %s\nwant %s", got, want)
	}
}
