package enqueuer

import (
	"math/rand/v2"
	"testing"
)

// TestIDSet checks the set against a map through random adds and removes,
// with hashes crowded into few home slots so that runs wrap and shift.
func TestIDSet(t *testing.T) {
	tests := []struct {
		name string
		hash func(r *rand.Rand) uint64
	}{
		{"uniform", func(r *rand.Rand) uint64 { return r.Uint64() }},
		{"crowded", func(r *rand.Rand) uint64 { return r.Uint64N(64)<<32 | uint64(1023-r.IntN(8)) }},
		{"small", func(r *rand.Rand) uint64 { return r.Uint64N(3000) }}, // 0 included
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var s idSet
			want := make(map[uint64]bool)
			for i := range 50000 {
				h := norm(tt.hash(r))
				if r.IntN(3) == 0 {
					s.remove(h)
					delete(want, h)
				} else if added := s.add(h); added == want[h] {
					t.Fatalf("step %d: add(%#x) = %v with the hash there: %v", i, h, added, want[h])
				} else {
					want[h] = true
				}
				if s.len() != len(want) {
					t.Fatalf("step %d: len %d, want %d", i, s.len(), len(want))
				}
			}
			for h := range want {
				if !s.has(h) {
					t.Fatalf("%#x lost", h)
				}
			}
			for range 10000 {
				if h := norm(tt.hash(r)); s.has(h) != want[h] {
					t.Fatalf("has(%#x) = %v, want %v", h, s.has(h), want[h])
				}
			}
		})
	}
}

func TestIDSetMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	var s idSet
	r := rand.New(rand.NewPCG(3, 4))
	for range 1_000_000 {
		s.add(r.Uint64())
	}
	if s.len() != 1_000_000 || len(s.slots)*8 > 16<<20 {
		t.Fatalf("%d ids in %d bytes", s.len(), len(s.slots)*8)
	}
}
