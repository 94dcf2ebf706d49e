package startstop

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// part runs until its ctx ends, then takes until finish is closed to wind
// down.
type part struct {
	Base
	finish chan struct{}
	cause  chan error
}

func newPart() *part { return &part{finish: make(chan struct{}), cause: make(chan error, 1)} }

func (p *part) Start(ctx context.Context) error {
	return p.Base.Start(ctx, func(ctx context.Context) {
		<-ctx.Done()
		p.cause <- context.Cause(ctx)
		<-p.finish
	})
}

func short(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

func long(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStopBoundedAndCallableAgain(t *testing.T) {
	p := newPart()
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	if err := p.Stop(short(t)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop of a part still winding down: %v, want the ctx's error", err)
	}
	if cause := <-p.cause; !errors.Is(cause, ErrStop) {
		t.Fatalf("run's cause %v, want ErrStop", cause)
	}
	if err := p.Stop(short(t)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Stop: %v", err)
	}
	close(p.finish)
	if err := p.Stop(long(t)); err != nil {
		t.Fatalf("Stop once finished: %v", err)
	}
	if err := p.Stop(short(t)); err != nil {
		t.Fatalf("Stop of a stopped part: %v", err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Done not closed")
	}
}

func TestStopWithParentCtx(t *testing.T) {
	p := newPart()
	ctx, cancel := context.WithCancelCause(context.Background())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("parent gone")
	cancel(boom)
	if cause := <-p.cause; !errors.Is(cause, boom) {
		t.Fatalf("cause %v, want the parent's", cause)
	}
	close(p.finish)
	if err := p.Stop(long(t)); err != nil {
		t.Fatal(err)
	}
}

func TestStopNeverStarted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start context.Context
		want  error
	}{
		{"never started", nil, nil},
		{"start with a done ctx", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}(), context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPart()
			if tc.start != nil {
				if err := p.Start(tc.start); !errors.Is(err, tc.want) {
					t.Fatalf("Start: %v, want %v", err, tc.want)
				}
			}
			if p.Started() {
				t.Fatal("started")
			}
			if err := p.Stop(short(t)); err != nil {
				t.Fatalf("Stop: %v", err)
			}
		})
	}
}
