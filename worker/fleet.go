package worker

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/startstop"
)

// fleetEvery is how often a worker writes its state in the fleet list
// (rdb.WriteFleetWorker); the state expires after fleetTTL unwritten.
const (
	fleetEvery = 2 * time.Second
	fleetTTL   = 3 * fleetEvery
)

// fleetBeat writes the worker process's one row of the dashboard's
// workers: its sessions, how many are busy and the outcomes it recorded,
// whatever its mode (the fetcher's one entry in asynq's server list, or
// one entry per asynq server under AsynqProcessor).
type fleetBeat struct {
	store *rdb.Client
	state rdb.FleetWorker // fixed fields
	busy  func() int
	done  *atomic.Int64
	now   func() time.Time
	log   *slog.Logger
	life  startstop.Base
}

func (f *fleetBeat) Start(ctx context.Context) error {
	return f.life.Start(ctx, func(ctx context.Context) {
		t := time.NewTicker(fleetEvery)
		defer t.Stop()
		for {
			f.write(ctx)
			select {
			case <-ctx.Done():
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				defer cancel()
				if err := f.store.ClearFleetWorker(cctx, f.state.ID); err != nil {
					f.log.Debug("clearing the fleet entry failed; it expires", "err", err)
				}
				return
			case <-t.C:
			}
		}
	})
}

// Stop ends the beat and removes the entry; bounded by ctx.
func (f *fleetBeat) Stop(ctx context.Context) error {
	if f == nil {
		return nil
	}
	return f.life.Stop(ctx)
}

func (f *fleetBeat) write(ctx context.Context) {
	s := f.state
	s.Busy, s.Done, s.Updated = f.busy(), f.done.Load(), f.now()
	wctx, cancel := context.WithTimeout(ctx, fleetEvery)
	defer cancel()
	if err := f.store.WriteFleetWorker(wctx, s, s.Updated, fleetTTL); err != nil && ctx.Err() == nil {
		f.log.Debug("writing the fleet entry failed; next beat tries again", "err", err)
	}
}
