package bench

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// target is the local HTTP server the jobs and the ceiling hit: a fast
// handler returning a small body. It notes when each /probe/K request
// arrives, for the pickup latency.
type target struct {
	srv  *http.Server
	url  string // http://127.0.0.1:PORT/
	body []byte

	mu     sync.Mutex
	probes map[int]chan time.Time
}

func startTarget(bodySize int) (*target, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &target{url: "http://" + l.Addr().String() + "/", probes: map[int]chan time.Time{}}
	t.body = []byte(`{"ok":true,"pad":"` + strings.Repeat("x", max(bodySize-18, 0)) + `"}`)
	t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = t.srv.Serve(l) }()
	return t, nil
}

func (t *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if k, ok := strings.CutPrefix(r.URL.Path, "/probe/"); ok {
		now := time.Now()
		if n, err := strconv.Atoi(k); err == nil {
			select {
			case t.probe(n) <- now:
			default:
			}
		}
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(t.body))}
	_, _ = w.Write(t.body)
}

// probe is the channel where probe n's arrival time goes.
func (t *target) probe(n int) chan time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.probes[n]
	if !ok {
		c = make(chan time.Time, 1)
		t.probes[n] = c
	}
	return c
}

func (t *target) close() { _ = t.srv.Close() }
