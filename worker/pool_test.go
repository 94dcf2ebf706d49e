package worker

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/reqfleet/reqfleet/httpexec"
)

func TestPoolHooksInOrder(t *testing.T) {
	var calls []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); calls = append(calls, s); mu.Unlock() }
	newS := func() (*httpexec.Session, error) {
		note("session")
		return &httpexec.Session{Client: &http.Client{}}, nil
	}
	init := func(s *httpexec.Session) (*httpexec.Session, error) {
		note("initializer")
		s.Header = http.Header{"X-Init": {"1"}}
		return s, nil
	}
	auth := func(s *httpexec.Session) (*httpexec.Session, error) {
		note("auth_generator")
		if s.Header.Get("X-Init") != "1" {
			t.Error("auth generator ran before the initializer")
		}
		return s, nil
	}
	p, err := newPool(2, newS, init, auth)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	want := []string{"session", "initializer", "auth_generator", "session", "initializer", "auth_generator"}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
	if len(p.all) != 2 || len(p.ch) != 2 {
		t.Fatalf("pool holds %d sessions (%d free), want 2", len(p.all), len(p.ch))
	}
}

func TestPoolErrors(t *testing.T) {
	boom := errors.New("boom")
	ok := func() (*httpexec.Session, error) { return &httpexec.Session{Client: &http.Client{}}, nil }
	tests := []struct {
		name    string
		newS    func() (*httpexec.Session, error)
		init    httpexec.Initializer
		auth    httpexec.AuthGenerator
		wantErr error
	}{
		{"constructor fails", func() (*httpexec.Session, error) { return nil, boom }, nil, nil, boom},
		{"initializer fails", ok, func(*httpexec.Session) (*httpexec.Session, error) { return nil, boom }, nil, boom},
		{"auth generator fails", ok, nil, func(*httpexec.Session) (*httpexec.Session, error) { return nil, boom }, boom},
		{"initializer returns nil", ok, func(*httpexec.Session) (*httpexec.Session, error) { return nil, nil }, nil, ErrNilSession},
		{"session without client", func() (*httpexec.Session, error) { return &httpexec.Session{}, nil }, nil, nil, ErrNilSession},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newPool(3, tc.newS, tc.init, tc.auth); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// A session is never used by two jobs at once, and get waits for one.
func TestPoolExclusive(t *testing.T) {
	const n = 3
	p, err := newPool(n, func() (*httpexec.Session, error) { return &httpexec.Session{Client: &http.Client{}}, nil }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	inUse := map[*httpexec.Session]*atomic.Int32{}
	for _, s := range p.all {
		inUse[s] = new(atomic.Int32)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				s, err := p.get(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if inUse[s].Add(1) != 1 {
					t.Error("session handed to two jobs at once")
				}
				inUse[s].Add(-1)
				p.put(s)
			}
		}()
	}
	wg.Wait()

	for range n {
		if _, err := p.get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("get from an empty pool with a cancelled ctx: %v", err)
	}
}
