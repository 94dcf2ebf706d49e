package redisconn

import (
	"context"
	"errors"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestParseClusterAddrs(t *testing.T) {
	got, err := ParseClusterAddrs(" 127.0.0.1:7000, [::1]:7001,,redis-2:7002 ")
	if err != nil || len(got) != 3 || got[1] != "[::1]:7001" {
		t.Fatalf("ParseClusterAddrs = %q, %v", got, err)
	}
	for _, bad := range []string{"", " , ", "host", "host:", ":7000", "redis://h:1"} {
		if _, err := ParseClusterAddrs(bad); !errors.Is(err, ErrCluster) {
			t.Errorf("ParseClusterAddrs(%q) = %v, want ErrCluster", bad, err)
		}
	}
}

func TestOpenCluster(t *testing.T) {
	if _, err := OpenCluster(Cluster{}, 0); !errors.Is(err, ErrCluster) {
		t.Fatalf("no address: %v", err)
	}
	c := testredis.StartCluster(t)
	ctx := context.Background()
	rdb, err := OpenCluster(Cluster{Addrs: c.Addrs()[:1]}, 4) // one seed is enough
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	// Keys of three queues' hash tags land on three nodes.
	for _, q := range []string{"default", "other", "run"} {
		if err := rdb.Set(ctx, "reqfleet:{"+q+"}:k", 1, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// The asynq option opens a cluster client too (the web UI's).
	opt := ClusterConnOpt(Cluster{Addrs: c.Addrs()})
	if _, ok := opt.(asynq.RedisClusterClientOpt); !ok {
		t.Fatalf("ClusterConnOpt = %T", opt)
	}
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	if _, err := insp.Queues(); err != nil {
		t.Fatal(err)
	}
}

func TestConnOpt(t *testing.T) {
	opt, err := ConnOpt("redis://:pw@127.0.0.1:6379/2", 7)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := opt.(asynq.RedisClientOpt)
	if !ok || o.PoolSize != 7 || o.DB != 2 || o.Password != "pw" {
		t.Fatalf("ConnOpt = %+v", opt)
	}
	if _, err := ConnOpt("http://u:s3cret@h", 0); !errors.Is(err, ErrURL) {
		t.Fatalf("bad URL: %v", err)
	}
}
