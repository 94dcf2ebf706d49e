package outcomes

import (
	"context"
	"encoding/json"
	"fmt"
)

// Defaults and bounds of PageOptions.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
	DefaultPageScan  = 100_000
)

// PageOptions select one page of a list.
type PageOptions struct {
	Batch string // only this batch's entries
	Type  string // exceptions only: only this exception type
	From  int64  // list index to start at (a previous Page's Next); 0: the oldest
	Limit int    // entries returned at most; default 100, at most 1000
	// MaxScan bounds the entries looked at by one call, so that a filter
	// that matches little still answers quickly; default 100,000.
	MaxScan int64
	// MaxScanBytes bounds the bytes read by one call; default 64 MiB.
	MaxScanBytes int64
}

// Page is one page of a list, oldest first.
type Page struct {
	Lines [][]byte
	Next  int64 // index to go on from
	More  bool  // the list holds entries at Next and after, not looked at yet
}

// Page reads a list from opts.From, oldest first, keeping the entries that
// match, until opts.Limit of them, opts.MaxScan looked at (or
// opts.MaxScanBytes read), or the end. The
// position is an index: entries removed from the list meanwhile (retry,
// results --pop) shift it, and a page may then skip or repeat some.
func (r *Reader) Page(ctx context.Context, kind Kind, opts PageOptions) (Page, error) {
	if opts.Limit <= 0 {
		opts.Limit = DefaultPageLimit
	}
	opts.Limit = min(opts.Limit, MaxPageLimit)
	if opts.MaxScan <= 0 {
		opts.MaxScan = DefaultPageScan
	}
	if opts.MaxScanBytes <= 0 {
		opts.MaxScanBytes = DefaultScanBytes
	}
	opts.From = max(opts.From, 0)
	key := kind.key(r.queue)
	p := Page{Next: opts.From, Lines: [][]byte{}}
	var c chunker
	for p.Next-opts.From < opts.MaxScan && c.read < opts.MaxScanBytes {
		n := min(c.next(), opts.From+opts.MaxScan-p.Next)
		lines, err := r.rdb.LRange(ctx, key, p.Next, p.Next+n-1).Result()
		if err != nil {
			return p, fmt.Errorf("read %s: %w", key, err)
		}
		c.saw(lines)
		for _, line := range lines {
			p.Next++
			if match(line, opts) {
				p.Lines = append(p.Lines, []byte(line))
				if len(p.Lines) == opts.Limit {
					break
				}
			}
		}
		if len(p.Lines) == opts.Limit || int64(len(lines)) < n {
			break
		}
	}
	size, err := r.rdb.LLen(ctx, key).Result()
	if err != nil {
		return p, fmt.Errorf("read %s: %w", key, err)
	}
	p.More = p.Next < size
	return p, nil
}

func match(line string, opts PageOptions) bool {
	if opts.Batch != "" && batchOf(line) != opts.Batch {
		return false
	}
	if opts.Type == "" {
		return true
	}
	var v struct {
		Exception struct {
			Type string `json:"type"`
		} `json:"exception"`
	}
	return json.Unmarshal([]byte(line), &v) == nil && v.Exception.Type == opts.Type
}
