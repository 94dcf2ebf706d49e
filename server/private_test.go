package server

import (
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestPrivateURL(t *testing.T) {
	tests := []struct {
		url    string
		denied bool
	}{
		{"http://127.0.0.1/", true},
		{"http://localhost:8080/", true},
		{"http://a.localhost/", true},
		{"http://10.1.2.3/", true},
		{"http://0.1.2.3/", true},            // "this network": the local host on Linux
		{"http://127.1/", true},              // inet_aton shorthand
		{"http://127.0.1/", true},            // three parts
		{"http://0x7f000001/", true},         // one hex number
		{"http://2130706433/", true},         // one decimal number
		{"http://0177.0.0.1/", true},         // octal
		{"http://0x7f.1/", true},             // hex and shorthand
		{"http://127.0.0.1./", true},         // trailing dot
		{"http://[::1]/", true},              // IPv6 loopback
		{"http://[::127.0.0.1]/", true},      // IPv4-compatible
		{"http://[::ffff:127.0.0.1]/", true}, // IPv4-mapped
		{"http://[64:ff9b::7f00:1]/", true},  // NAT64
		{"http://[2002:7f00:1::]/", true},    // 6to4
		{"http://[fe80::1%25eth0]/", true},   // link-local with a zone
		{"http://169.254.169.254/latest/meta-data/", true},
		{"http://100.64.0.1/", true},
		{"http://erin:pw@127.0.0.1/x%zz", true}, // url.Parse refuses it, the worker sends it
		{"http://8.8.8.8/", false},
		{"http://134744072/", false}, // 8.8.8.8 as one number
		{"http://[2606:4700::1111]/", false},
		{"http://example.com/", false},
		{"http://1.2.3.4.example/", false},
		{"http://0x7f000001.example/", false},
		{"http://127.0.0.256/", false}, // not an address: a name, the worker's to resolve
		{"http://1.2.3.4.5/", false},
		{"ftp://127.0.0.1/", false}, // the worker refuses it without sending: InvalidSchema
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			why := privateURL(tt.url)
			if (why != "") != tt.denied {
				t.Errorf("privateURL(%q) = %q, want denied %v", tt.url, why, tt.denied)
			}
			if strings.Contains(why, "pw") {
				t.Errorf("reason %q shows the password", why)
			}
		})
	}
}

// TestRedactPayloadKeptForm redacts jobs as users write them: the payload
// carries the job as it was given.
func TestRedactPayloadKeptForm(t *testing.T) {
	tests := []struct {
		name, job string
		want      []string // in the redacted payload
	}{
		{"auth", `{"url": "http://h/", "auth": ["erin", "s3cret"]}`, []string{`"auth":["erin","[REDACTED]"]`}},
		{"secret headers in any case", `{"url": "http://h/", "headers": {"authorization": "Bearer s3cret", "PROXY-Authorization": "Basic s3cret", "cookie": "a=s3cret", "X-Name": null, "A": "b"}}`,
			[]string{`"authorization":"[REDACTED]"`, `"PROXY-Authorization":"[REDACTED]"`, `"cookie":"[REDACTED]"`, `"X-Name":null`, `"A":"b"`}},
		{"cookies", `{"url": "http://h/", "cookies": {"sid": "s3cret"}}`, []string{`"sid":"[REDACTED]"`}},
		{"url password after white space", `{"url": "  http://erin:s3cret@h/"}`, []string{`erin:xxxxx@h/`}},
		{"a key given twice", `{"url": "http://h/", "headers": {"Authorization": "s3cret"}, "headers": {"Cookie": "s3cret"}}`,
			[]string{`"Cookie":"[REDACTED]"`}},
		{"numbers as written", `{"url": "http://h/", "json": {"f": 1.0, "e": 1e3}, "auth": ["u", "s3cret"]}`, []string{`"json":{"e":1e3,"f":1.0}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := tasks.DecodeJob([]byte(tt.job))
			if err != nil {
				t.Fatal(err)
			}
			job.ID = "x"
			payload, err := tasks.Task{Batch: "b", Attempt: 1, Job: job}.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(payload), "s3cret") {
				t.Fatalf("payload %s: the test's secret is not in it", payload)
			}
			out := redactPayload(tasks.TypeRequest, payload)
			if strings.Contains(out, "s3cret") || !strings.Contains(out, `"batch":"b"`) || !strings.Contains(out, `"id":"x"`) {
				t.Errorf("redacted: %s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("redacted: %s, want %s in it", out, w)
				}
			}
		})
	}
}

func TestRedactPayloadUnparsableURL(t *testing.T) {
	tests := []struct{ url, want string }{
		{"http://erin:pw@127.0.0.1/x%zz", "http://erin:xxxxx@127.0.0.1/x%zz"},
		{"http://erin:pw@127.0.0.1/ok", "http://erin:xxxxx@127.0.0.1/ok"},
		{"http://erin@127.0.0.1/", "http://erin@127.0.0.1/"},
		{"http://h/%zz", "http://h/%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			payload, err := tasks.Task{Batch: "b", Attempt: 1, Job: tasks.Job{ID: "x", Method: "GET", URL: tt.url}}.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			out := redactPayload(tasks.TypeRequest, payload)
			if strings.Contains(out, ":pw@") || !strings.Contains(out, `"url":"`+tt.want+`"`) {
				t.Errorf("redacted: %s, want url %s", out, tt.want)
			}
		})
	}
}
