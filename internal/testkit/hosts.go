package testkit

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Hosts is a test target's record of its requests by host name (the
// request's Host without its port): when each arrived and the most in
// flight at once, which is what per-host limits hold to as a server sees
// them. Safe for concurrent use.
type Hosts struct {
	mu       sync.Mutex
	arrivals map[string][]time.Time
	inFlight map[string]int
	maxIn    map[string]int
}

// NewHosts returns an empty record.
func NewHosts() *Hosts {
	return &Hosts{arrivals: map[string][]time.Time{}, inFlight: map[string]int{}, maxIn: map[string]int{}}
}

// Arrive records a request for hostPort (an http.Request's Host) arriving
// now, and returns its host name and the func that records it done.
func (h *Hosts) Arrive(hostPort string) (host string, done func()) {
	host, _, _ = strings.Cut(hostPort, ":")
	h.mu.Lock()
	h.arrivals[host] = append(h.arrivals[host], time.Now())
	h.inFlight[host]++
	h.maxIn[host] = max(h.maxIn[host], h.inFlight[host])
	h.mu.Unlock()
	return host, func() {
		h.mu.Lock()
		h.inFlight[host]--
		h.mu.Unlock()
	}
}

// Seen is when host's requests arrived, in order.
func (h *Hosts) Seen(host string) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.arrivals[host])
}

// Most is the most of host's requests in flight at once.
func (h *Hosts) Most(host string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxIn[host]
}

// HostURL is the test server at base (http://127.0.0.1:PORT) under another
// host name (localhost, or 127.0.0.1 itself), with path.
func HostURL(base, host, path string) string {
	u, _ := url.Parse(base)
	return "http://" + host + ":" + u.Port() + path
}
