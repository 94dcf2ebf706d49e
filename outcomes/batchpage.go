package outcomes

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

// BatchPage is a page of batches, newest first, and the cursor of the next
// ("" when there is none).
type BatchPage struct {
	Batches []BatchStatus `json:"batches"`
	Next    string        `json:"next_cursor,omitempty"`
}

// ErrCursor: a page cursor that BatchesPage did not write.
var ErrCursor = fmt.Errorf("%w: bad cursor", ErrConfig)

// BatchesPage lists up to limit batches of the queue, newest first, from
// cursor ("" for the newest; else a BatchPage's Next). Batches made while
// paging do not shift the pages: a cursor is a batch's creation time and id.
func (r *Reader) BatchesPage(ctx context.Context, limit int64, cursor string) (BatchPage, error) {
	key := rdb.BatchesKey(r.queue)
	maxScore, after := "+inf", ""
	if cursor != "" {
		ms, id, ok := strings.Cut(cursor, ":")
		if _, err := strconv.ParseInt(ms, 10, 64); !ok || err != nil || id == "" {
			return BatchPage{}, ErrCursor
		}
		maxScore, after = ms, id
	}
	// Batches of the cursor's own millisecond come in reverse id order:
	// skip those up to the cursor's id.
	skip := int64(0)
	if after != "" {
		n, err := r.rdb.ZCount(ctx, key, maxScore, maxScore).Result()
		if err != nil {
			return BatchPage{}, fmt.Errorf("list batches: %w", err)
		}
		skip = n
	}
	zs, err := r.rdb.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Max: maxScore, Min: "-inf", Count: limit + skip + 1}).Result()
	if err != nil {
		return BatchPage{}, fmt.Errorf("list batches: %w", err)
	}
	var page BatchPage
	page.Batches = []BatchStatus{}
	var lastScore, lastID string
	for _, z := range zs {
		id, _ := z.Member.(string)
		score := strconv.FormatInt(int64(z.Score), 10)
		if after != "" && score == maxScore && id >= after {
			continue
		}
		if int64(len(page.Batches)) == limit {
			page.Next = lastScore + ":" + lastID
			break
		}
		lastScore, lastID = score, id
		st, err := r.Batch(ctx, id)
		if err != nil {
			continue // expired
		}
		page.Batches = append(page.Batches, st)
	}
	return page, nil
}
