package outcomes

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

// HostCounts are the queue's outcomes of one host, fleet-wide, as the
// workers count them in Redis (every outcome recorded, retried ones
// included). Host "other" holds the hosts past the cap of fields.
type HostCounts struct {
	Host       string           `json:"host"`
	Responses  int64            `json:"responses"`
	Exceptions int64            `json:"exceptions"`
	ByStatus   map[string]int64 `json:"by_status,omitempty"`
	ByType     map[string]int64 `json:"by_type,omitempty"`
}

// Hosts reads the queue's outcomes by host, most outcomes first.
func (r *Reader) Hosts(ctx context.Context) ([]HostCounts, error) {
	m, err := r.rdb.HGetAll(ctx, rdb.HostsKey(r.queue)).Result()
	if err != nil {
		return nil, fmt.Errorf("read hosts: %w", err)
	}
	byHost := map[string]*HostCounts{}
	for f, v := range m {
		n, _ := strconv.ParseInt(v, 10, 64)
		host, detail := rdb.SplitHostField(f)
		h := byHost[host]
		if h == nil {
			h = &HostCounts{Host: host}
			byHost[host] = h
		}
		if c, ok := strings.CutPrefix(detail, rdb.CodeFieldPrefix); ok {
			if h.ByStatus == nil {
				h.ByStatus = map[string]int64{}
			}
			h.ByStatus[c] += n
			h.Responses += n
		} else if e, ok := strings.CutPrefix(detail, rdb.ExcFieldPrefix); ok {
			if h.ByType == nil {
				h.ByType = map[string]int64{}
			}
			h.ByType[e] += n
			h.Exceptions += n
		}
	}
	out := make([]HostCounts, 0, len(byHost))
	for _, h := range byHost {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b HostCounts) int {
		return cmp.Or(cmp.Compare(b.Responses+b.Exceptions, a.Responses+a.Exceptions), strings.Compare(a.Host, b.Host))
	})
	return out, nil
}
