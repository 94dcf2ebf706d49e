package testkit

import (
	"testing"
	"time"
)

func TestMaxInWindow(t *testing.T) {
	at := func(ms ...int) []time.Time {
		ts := make([]time.Time, len(ms))
		for i, m := range ms {
			ts[i] = time.Unix(0, 0).Add(time.Duration(m) * time.Millisecond)
		}
		return ts
	}
	for _, tc := range []struct {
		name string
		ts   []time.Time
		want int
	}{
		{"none", nil, 0},
		{"one", at(5), 1},
		{"all in one window", at(0, 100, 999), 3},
		{"window is half-open", at(0, 1000), 1},
		{"unsorted", at(2500, 0, 2100, 900, 2900), 3},
		{"burst then spread", at(0, 1, 2, 500, 1001, 1600), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaxInWindow(tc.ts, time.Second); got != tc.want {
				t.Errorf("MaxInWindow = %d, want %d", got, tc.want)
			}
		})
	}
}
