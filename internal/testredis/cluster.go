package testredis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of three redis-server masters (no replicas) on
// free loopback ports, owned by a test.
type Cluster struct {
	Nodes []*Server
	bus   []int // the nodes' cluster bus ports
}

// clusterSlots is Redis Cluster's slot count.
const clusterSlots = 16384

// StartCluster starts three cluster-enabled redis-servers, splits the slots
// between them, joins them (CLUSTER MEET) and waits for cluster_state:ok on
// every node. They stop in t.Cleanup. Where redis-server is missing the test
// is skipped (failed under CI), as with Start.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	const n = 3
	c := &Cluster{}
	for range n {
		bus, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		c.bus = append(c.bus, bus)
		c.Nodes = append(c.Nodes, Start(t,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", // in the server's own --dir
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", "5000",
		))
	}
	if err := c.create(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// Addrs are the nodes' host:port.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		out[i] = s.Addr()
	}
	return out
}

// Client returns a cluster client, closed in t.Cleanup.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// create does what `redis-cli --cluster create` does for masters only.
func (c *Cluster) create(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	clients := make([]*redis.Client, len(c.Nodes))
	for i, s := range c.Nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: s.Addr()})
		defer clients[i].Close()
	}
	per := clusterSlots / len(c.Nodes)
	for i, cl := range clients {
		lo, hi := i*per, (i+1)*per-1
		if i == len(clients)-1 {
			hi = clusterSlots - 1
		}
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return fmt.Errorf("testredis: cluster addslots on %s: %w", c.Nodes[i].Addr(), err)
		}
		if err := cl.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("testredis: cluster set-config-epoch on %s: %w", c.Nodes[i].Addr(), err)
		}
	}
	for i := 1; i < len(c.Nodes); i++ {
		// The bus port is not the default port+10000: MEET names it.
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", c.Nodes[i].Port, c.bus[i]).Err(); err != nil {
			return fmt.Errorf("testredis: cluster meet %s: %w", c.Nodes[i].Addr(), err)
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ready := true
		for _, cl := range clients {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(clients))) {
				ready = false
				break
			}
		}
		if ready {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("testredis: cluster of %v not ready: %w", c.Addrs(), ctx.Err())
		}
	}
}
