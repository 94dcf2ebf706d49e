package testkit

import (
	"sync"
	"testing"
)

// Hosts counts each host name apart, whatever the port, and keeps the most
// in flight at once after they are done.
func TestHosts(t *testing.T) {
	h := NewHosts()
	host, doneA := h.Arrive("localhost:8080")
	if host != "localhost" {
		t.Fatalf("host %q", host)
	}
	_, doneB := h.Arrive("localhost:9090")
	doneA()
	_, doneC := h.Arrive("localhost")
	doneB()
	doneC()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, done := h.Arrive("127.0.0.1:1")
			done()
		})
	}
	wg.Wait()
	for _, tc := range []struct {
		host           string
		seen           int
		mostLo, mostHi int // the concurrent ones may or may not overlap
	}{
		{"localhost", 3, 2, 2},
		{"127.0.0.1", 10, 1, 10},
		{"other", 0, 0, 0},
	} {
		if got := len(h.Seen(tc.host)); got != tc.seen {
			t.Errorf("%s: seen %d, want %d", tc.host, got, tc.seen)
		}
		if got := h.Most(tc.host); got < tc.mostLo || got > tc.mostHi {
			t.Errorf("%s: most %d, want %d to %d", tc.host, got, tc.mostLo, tc.mostHi)
		}
	}
}

func TestHostURL(t *testing.T) {
	if got := HostURL("http://127.0.0.1:4321", "localhost", "/x?y=1"); got != "http://localhost:4321/x?y=1" {
		t.Fatalf("HostURL = %q", got)
	}
}
