package redisconn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestOpenURLTLS(t *testing.T) {
	s := testredis.StartTLS(t, "s3cret")
	ctx := context.Background()

	t.Run("trusting the CA", func(t *testing.T) {
		c, err := OpenURL(s.URL(), URLOptions{PoolSize: 2, CAFile: s.CAFile})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("not trusting it", func(t *testing.T) {
		c, err := OpenURL(s.URL(), URLOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Ping(ctx).Err()
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v, want a certificate error", err)
		}
	})
	t.Run("bad CA file", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.pem")
		if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{bad, filepath.Join(t.TempDir(), "missing.pem")} {
			if _, err := OpenURL(s.URL(), URLOptions{CAFile: f}); !errors.Is(err, ErrCA) {
				t.Fatalf("%s: err = %v, want ErrCA", f, err)
			}
		}
	})
}

// asynq's URL parser drops the user name; OpenURL keeps it, for Redis ACL
// users.
func TestOpenURLUser(t *testing.T) {
	s := testredis.StartAuth(t, "adminpw")
	ctx := context.Background()
	if err := s.Client(t).Do(ctx, "ACL", "SETUSER", "alice", "on", ">alicepw", "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	u := "redis://alice:alicepw@" + s.Addr()
	c, err := OpenURL(u, URLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if who, err := c.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || who != "alice" {
		t.Fatalf("ACL WHOAMI = %q, %v; want alice", who, err)
	}
}
