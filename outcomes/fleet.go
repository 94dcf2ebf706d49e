package outcomes

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

// FleetWorker is one worker process of the fleet, as it writes itself
// every 2s (worker's fleet beat): its sessions, how many are busy and the
// outcomes it recorded since it started.
type FleetWorker = rdb.FleetWorker

// Fleet lists the worker processes alive at now (all queues), one each,
// up to 1000.
func Fleet(ctx context.Context, r redis.UniversalClient, now time.Time) ([]FleetWorker, error) {
	ws, err := rdb.New(r).FleetWorkers(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("read the fleet: %w", err)
	}
	return ws, nil
}
