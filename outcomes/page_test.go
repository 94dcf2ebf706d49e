package outcomes

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"
)

func pageIDs(t *testing.T, p Page) []string {
	t.Helper()
	ids := make([]string, len(p.Lines))
	for i, l := range p.Lines {
		var v struct{ ID string }
		if err := json.Unmarshal(l, &v); err != nil {
			t.Fatal(err)
		}
		ids[i] = v.ID
	}
	return ids
}

func TestPage(t *testing.T) {
	backends(t, func(t *testing.T, r redis.UniversalClient) {
		ctx := context.Background()
		rd := newReader(t, r)
		a := push(t, r, Exceptions, "a", 700) // 700 ConnectionErrors of batch a
		b := push(t, r, Exceptions, "b", 3)
		if err := r.RPush(ctx, Exceptions.key("q1"), `{"id":"t","batch":"b","exception":{"type":"ReadTimeout","message":"m"},"attempt":1}`).Err(); err != nil {
			t.Fatal(err)
		}

		// All of batch a, by pages of 300: each page goes on from the last.
		var got []string
		var from int64
		pages := 0
		for {
			p, err := rd.Page(ctx, Exceptions, PageOptions{Batch: "a", From: from, Limit: 300})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			got = append(got, pageIDs(t, p)...)
			from = p.Next
			if !p.More {
				break
			}
			if pages > 10 {
				t.Fatal("paging does not end")
			}
		}
		if len(got) != len(a) || got[0] != a[0] || got[699] != a[699] || pages != 3 {
			t.Fatalf("batch a: %d ids in %d pages, want %d in 3", len(got), pages, len(a))
		}

		for _, tc := range []struct {
			name string
			opts PageOptions
			want []string
			next int64
			more bool
		}{
			{name: "batch b", opts: PageOptions{Batch: "b"}, want: append(b, "t"), next: 704},
			{name: "batch b, one type", opts: PageOptions{Batch: "b", Type: "ReadTimeout"}, want: []string{"t"}, next: 704},
			{name: "limit", opts: PageOptions{Batch: "b", Limit: 2}, want: b[:2], next: 702, more: true},
			{name: "from", opts: PageOptions{Batch: "b", From: 702}, want: []string{b[2], "t"}, next: 704},
			{name: "past the end", opts: PageOptions{From: 9999}, want: []string{}, next: 9999},
			{name: "scan bound", opts: PageOptions{Batch: "b", MaxScan: 600}, want: []string{}, next: 600, more: true},
			{name: "byte bound: one call", opts: PageOptions{Batch: "b", MaxScanBytes: 1}, want: []string{}, next: 16, more: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p, err := rd.Page(ctx, Exceptions, tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				ids := pageIDs(t, p)
				if !slices.Equal(ids, tc.want) {
					t.Errorf("ids %v, want %v", ids, tc.want)
				}
				if p.Next != tc.next || p.More != tc.more {
					t.Errorf("next %d more %v, want %d %v", p.Next, p.More, tc.next, tc.more)
				}
			})
		}

		// A limit above the bound is the bound.
		push(t, r, Exceptions, "c", 400)
		p, err := rd.Page(ctx, Exceptions, PageOptions{Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Lines) != MaxPageLimit || p.Next != MaxPageLimit || !p.More {
			t.Errorf("limit 5000: %d lines, next %d, more %v; want %d, %d, true", len(p.Lines), p.Next, p.More, MaxPageLimit, MaxPageLimit)
		}
	})
}
