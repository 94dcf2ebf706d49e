package outcomes

import (
	"strings"
	"testing"
)

// A scan asks for about 1 MiB a call, whatever the entries' sizes, and
// counts what it read.
func TestChunker(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry int
		want  int64
	}{
		{"small entries: 1000 a call at most", 100, 1000},
		{"1 KiB entries", 1 << 10, 1000},
		{"4 KiB entries", 4 << 10, 256},
		{"2 MiB entries: one a call", 2 << 20, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c chunker
			if n := c.next(); n != 16 {
				t.Fatalf("first call asks %d, want 16", n)
			}
			lines := make([]string, 16)
			for i := range lines {
				lines[i] = strings.Repeat("x", tc.entry)
			}
			c.saw(lines)
			c.saw(nil)
			if n := c.next(); n != tc.want {
				t.Errorf("next %d, want %d", n, tc.want)
			}
			if c.read != int64(16*tc.entry) {
				t.Errorf("read %d, want %d", c.read, 16*tc.entry)
			}
		})
	}
}
