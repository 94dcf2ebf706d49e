package redisconn

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpen(t *testing.T) {
	real := testredis.Start(t)
	emb, err := StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	for _, tc := range []struct{ name, url string }{
		{"real", real.URL()},
		{"real db 2", real.URL() + "/2"},
		{"embedded", emb.URL()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(tc.url, 4)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Ping(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenBadURLNeverShowsPassword(t *testing.T) {
	for _, u := range []string{
		"http://user:s3cret@host:6379",
		"redis://user:s3cret@host:6379/notanumber",
		"redis://user:s3cret@[::1:6379",
		"",
	} {
		t.Run(u, func(t *testing.T) {
			_, err := Open(u, 0)
			if !errors.Is(err, ErrURL) {
				t.Fatalf("err = %v, want ErrURL", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://u:pw@h:1/0": "redis://u:xxxxx@h:1/0",
		"redis://h:1":        "redis://h:1",
		"redis://u:pw@[::1":  "(unparsable URL)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
