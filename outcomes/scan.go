package outcomes

// DefaultScanBytes bounds the bytes of a list that one job lookup or one
// page reads (per list), whatever the entries' sizes: an outcome is a few
// hundred bytes to --max-outcome (2 MiB).
const DefaultScanBytes = 64 << 20

// chunkBytes is about what one LRANGE reply of a scan holds.
const chunkBytes = 1 << 20

// chunker sizes a scan's LRANGE calls from the entries seen so far, so
// that a reply holds about chunkBytes, and counts the bytes read.
type chunker struct {
	n    int64 // entries the next call asks for
	read int64 // bytes read so far
}

func (c *chunker) next() int64 {
	if c.n == 0 {
		c.n = 16
	}
	return c.n
}

func (c *chunker) saw(lines []string) {
	if len(lines) == 0 {
		return
	}
	var b int64
	for _, l := range lines {
		b += int64(len(l))
	}
	c.read += b
	c.n = min(max(chunkBytes/max(b/int64(len(lines)), 1), 1), 1000)
}
