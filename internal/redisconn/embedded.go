package redisconn

import (
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-process Redis (miniredis) on a loopback port. Its key
// expiry does not follow the wall clock by itself, so a goroutine advances it
// once a second.
type Embedded struct {
	m    *miniredis.Miniredis
	stop chan struct{}
	wg   sync.WaitGroup
}

// StartEmbedded starts an embedded Redis on 127.0.0.1 and a free port.
func StartEmbedded() (*Embedded, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	e := &Embedded{m: m, stop: make(chan struct{})}
	e.wg.Add(1)
	go e.tick(time.Second)
	return e, nil
}

func (e *Embedded) tick(every time.Duration) {
	defer e.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.m.FastForward(every)
		case <-e.stop:
			return
		}
	}
}

// Addr is host:port of the embedded Redis.
func (e *Embedded) Addr() string { return e.m.Addr() }

// URL is a redis:// URL of the embedded Redis.
func (e *Embedded) URL() string { return "redis://" + e.m.Addr() }

// Close stops the embedded Redis; its data is gone.
func (e *Embedded) Close() {
	close(e.stop)
	e.wg.Wait()
	e.m.Close()
}
