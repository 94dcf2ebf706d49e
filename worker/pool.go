package worker

import (
	"context"
	"fmt"

	"github.com/reqfleet/reqfleet/httpexec"
)

// pool hands out sessions: a buffered channel of exactly N, so a session is
// never used by two jobs at once and there is no lock to contend on.
type pool struct {
	all []*httpexec.Session
	ch  chan *httpexec.Session
}

// newPool makes n sessions as the original Pool does: the session
// constructor, then the initializer, then the auth generator.
func newPool(n int, newSession func() (*httpexec.Session, error), init httpexec.Initializer, auth httpexec.AuthGenerator) (*pool, error) {
	p := &pool{ch: make(chan *httpexec.Session, n)}
	for i := range n {
		s, err := newSession()
		if err == nil && init != nil {
			s, err = init(s)
		}
		if err == nil && auth != nil {
			s, err = auth(s)
		}
		if err == nil && (s == nil || s.Client == nil) {
			err = ErrNilSession
		}
		if err != nil {
			p.close()
			return nil, fmt.Errorf("session %d of %d: %w", i+1, n, err)
		}
		p.all = append(p.all, s)
		p.ch <- s
	}
	return p, nil
}

// get waits for a free session or for ctx.
func (p *pool) get(ctx context.Context) (*httpexec.Session, error) {
	select {
	case s := <-p.ch:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pool) put(s *httpexec.Session) { p.ch <- s }

func (p *pool) close() {
	for _, s := range p.all {
		s.Close()
	}
}
