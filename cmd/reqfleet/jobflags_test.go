package main

import (
	"context"
	"flag"
	"strings"
	"testing"
)

// enqueue's -H sets a header on every job, JSONL or URLs, unless the job
// sets that header itself (any case), or removes it (null): as run's -H,
// a session default, does.
func TestEnqueueHeaderEveryJob(t *testing.T) {
	for _, tc := range []struct{ format, input string }{
		{"jsonl", `{"url":"http://a/","headers":{"accept":"text/plain","X-Null":null}}` + "\n" + `{"url":"http://b/"}` + "\n"},
		{"urls", "http://a/\nhttp://b/\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			fs := flag.NewFlagSet("enqueue", flag.ContinueOnError)
			var in inputFlags
			in.register(fs, true)
			if err := fs.Parse([]string{"--format", tc.format, "-H", "Accept: application/json", "-H", "X-Fleet: 1", "-H", "X-Null: v"}); err != nil {
				t.Fatal(err)
			}
			seq, _, err := in.jobs(context.Background(), fs, strings.NewReader(tc.input), "input")
			if err != nil {
				t.Fatal(err)
			}
			var got []map[string]string
			for j, err := range seq {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, j.Headers)
			}
			if len(got) != 2 {
				t.Fatalf("%d jobs", len(got))
			}
			for i, h := range got {
				if h["X-Fleet"] != "1" {
					t.Errorf("job %d: headers %v, want X-Fleet: 1", i, h)
				}
			}
			if tc.format == "jsonl" {
				if h := got[0]; h["accept"] != "text/plain" || h["Accept"] != "" || h["X-Null"] != "" {
					t.Errorf("job 0: headers %v: its own Accept and null X-Null must win", h)
				}
			} else if got[0]["Accept"] != "application/json" || got[0]["X-Null"] != "v" {
				t.Errorf("job 0: headers %v", got[0])
			}
			if got[1]["Accept"] != "application/json" {
				t.Errorf("job 1: headers %v", got[1])
			}
		})
	}
}
