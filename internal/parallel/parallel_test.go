package parallel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestForEach(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		items   []int
		failAt  int
		wantErr error
	}{
		{"all", []int{1, 2, 3, 4, 5, 6, 7}, -1, nil},
		{"none", nil, -1, nil},
		{"first error wins", []int{1, 2, 3, 4, 5, 6, 7}, 3, boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var running, peak, calls atomic.Int32
			err := ForEach(context.Background(), 2, tc.items, func(ctx context.Context, i int) error {
				calls.Add(1)
				n := running.Add(1)
				defer running.Add(-1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				if i == tc.failAt {
					return boom
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) && !(err == nil && tc.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if peak.Load() > 2 {
				t.Fatalf("%d calls at once, want at most 2", peak.Load())
			}
			if tc.wantErr == nil && int(calls.Load()) != len(tc.items) {
				t.Fatalf("%d calls, want %d", calls.Load(), len(tc.items))
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ForEach(ctx, 2, []int{1}, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: err = %v", err)
	}
}
