package outcomes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
)

// TestBatchesPage: every batch once, newest first, across pages, batches of
// the same millisecond included; a new batch does not shift the pages.
func TestBatchesPage(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx := context.Background()
		var want []string
		for i := range 7 {
			id := fmt.Sprintf("b%d", i)
			ms := int64(1000 + i/3) // three batches a millisecond
			r.ZAdd(ctx, rdb.BatchesKey("q"), redis.Z{Score: float64(ms), Member: id})
			r.HSet(ctx, rdb.BatchKey("q", id), rdb.BatchCreated, ms, rdb.BatchAccepted, 1)
			want = append(want, id)
		}
		// newest first: by time, then by reverse id
		slices.SortFunc(want, func(a, b string) int {
			ta, tb := (a[1]-'0')/3, (b[1]-'0')/3
			if ta != tb {
				return int(tb) - int(ta)
			}
			return strings.Compare(b, a)
		})
		rd, _ := NewReader(r, "q")
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pages do not end")
			}
			p, err := rd.BatchesPage(ctx, 2, cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range p.Batches {
				got = append(got, b.ID)
			}
			if pages == 0 { // a batch made while paging
				r.ZAdd(ctx, rdb.BatchesKey("q"), redis.Z{Score: 5000, Member: "new"})
			}
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pages %v, want %v", got, want)
		}
		for _, bad := range []string{"x", "12", "a:b", "1:"} {
			if _, err := rd.BatchesPage(ctx, 2, bad); !errors.Is(err, ErrCursor) {
				t.Errorf("cursor %q: %v", bad, err)
			}
		}
	})
}
