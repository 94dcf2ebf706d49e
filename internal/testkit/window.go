package testkit

import (
	"slices"
	"time"
)

// MaxInWindow is the most of the times ts (sorted in place) that fall in
// any window of length w: what a rate limit holds to, as a server sees it.
func MaxInWindow(ts []time.Time, w time.Duration) int {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	most, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}
