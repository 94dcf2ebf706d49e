package worker

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/limits"
	"github.com/reqfleet/reqfleet/tasks"
)

// Admission to per-host limits (package limits), fleet-wide. Before a
// fetched job's request starts, the fetcher asks the admitter, for a job
// whose host has a limit (its own, a *.pattern's, or the worker's
// default) or is paused:
//
//   - a concurrency slot (rdb.HostAdmit: a per-host sorted set of holders
//     scored by lease end, renewed with the task leases, so that a dead
//     worker's slots are free within Lease), then a rate token (GCRA,
//     redis_rate): the job runs;
//   - else the job is parked (rdb.Park, one script: off the active list and
//     its lease, onto the host's park list in the queue), its session free
//     for other hosts' jobs, and the releaser (release.go) hands it back
//     admitted;
//   - a job the releaser handed back holds its slot already (AdmitHeld):
//     it takes its token and runs, with the time it waited (throttled_ms).
//
// While a host has parked jobs in a queue (this worker parked one, or its
// releaser saw the host in the queue's parked set within parkModeFor), its
// new jobs go to the park without asking for a token ("adopt only"), so
// that they queue behind the parked ones instead of taking the tokens
// first. A job for a host without any limit costs nothing: no Redis call.
//
// After a response, a 429 or 503 with Retry-After (seconds or an HTTP date)
// pauses its host fleet-wide for that long, capped by Config.MaxRetryAfter
// (rdb.PauseHost): admission parks the host's jobs until the pause ends;
// workers learn of pauses of hosts without a limit with the limits table,
// at once (rdb.LimitsChannel), or within LimitsRefresh should the message
// be lost.

// parkModeFor is how long a host stays in park mode after it was last
// seen with parked jobs.
const parkModeFor = 1500 * time.Millisecond

// maxLocalHosts bounds the admitter's per-host maps; past it they are
// cleared (they are caches).
const maxLocalHosts = 10000

// admitConfig is what the admitter takes from the worker's Config.
type admitConfig struct {
	defaults      limits.Limit
	maxRetryAfter time.Duration // <0: Retry-After pauses nothing
	lease         time.Duration // a slot's lease, as a task's
	refresh       time.Duration // how often the limits table's version is read
	fetcherOnly   bool          // asynq's processor runs the jobs: nothing is admitted; warn
	now           func() time.Time
	log           *slog.Logger
	onThrottled   func(queue, host string, waited time.Duration)
}

// admitter is a worker's side of the per-host limits.
type admitter struct {
	cfg   admitConfig
	store *rdb.Client
	lim   *limits.Store
	rate  *rdb.Rate
	table atomic.Pointer[limits.Table]
	wake  chan struct{} // the releaser: a job was parked
	auto  *autoThrottle // nil without --auto-throttle

	mu       sync.Mutex
	held     map[string]map[string]struct{} // host key -> slot members held
	parkMode map[string]time.Time           // queue+" "+host key -> until
	paused   map[string]time.Time           // host key -> pause end, as last read or set
	warned   atomic.Bool                    // fetcherOnly's warning given
}

func newAdmitter(cfg admitConfig, store *rdb.Client) *admitter {
	a := &admitter{
		cfg: cfg, store: store, lim: limits.NewStore(store.Redis()), rate: store.Rate(),
		wake:     make(chan struct{}, 1),
		held:     make(map[string]map[string]struct{}),
		parkMode: make(map[string]time.Time),
		paused:   make(map[string]time.Time),
	}
	a.table.Store(limits.NewTable(nil, cfg.defaults))
	return a
}

// refreshLoop reads the limits table when its version changes, and the
// paused hosts, every refresh, until done.
func (a *admitter) refreshLoop(done <-chan struct{}) {
	every(a.cfg.refresh, done, a.refresh)
}

// listen applies the changes published on rdb.LimitsChannel at once (a
// pause, or a table to read again), until done.
func (a *admitter) listen(done <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := a.store.SubscribeLimits(ctx)
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-done:
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			if key, until, ok := rdb.ParsePauseMsg(m.Payload); ok {
				a.notePause(key, until)
				continue
			}
			a.refresh()
		}
	}
}

// notePause records a host's pause locally.
func (a *admitter) notePause(key string, until time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.paused) > maxLocalHosts {
		clear(a.paused)
	}
	if until.After(a.paused[key]) {
		a.paused[key] = until
	}
}

func (a *admitter) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cur := a.table.Load()
	v, err := a.lim.Version(ctx)
	if err == nil && v != cur.Version() {
		var t *limits.Table
		if t, err = a.lim.Table(ctx, a.cfg.defaults); err == nil {
			a.table.Store(t)
			a.auto.any.Store(t.AnyAuto())
			if !t.Empty() && a.cfg.fetcherOnly && a.warned.CompareAndSwap(false, true) {
				a.cfg.log.Warn("per-host limits are set, but --asynq-processor runs the jobs: limits and pauses are applied by the fetcher only, not here")
			}
		}
	}
	if err != nil {
		a.cfg.log.Warn("reading the per-host limits failed; keeping the last read", "err", err)
		return
	}
	ph, err := a.store.PausedHosts(ctx, a.cfg.now())
	if err != nil {
		a.cfg.log.Warn("reading the paused hosts failed", "err", err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.now()
	for k, until := range a.paused {
		if !until.Add(2 * a.cfg.lease).After(now) {
			delete(a.paused, k)
		}
	}
	if len(a.paused)+len(ph) > maxLocalHosts {
		clear(a.paused)
	}
	maps.Copy(a.paused, ph)
}

// idle: no host is limited or paused (no job costs a thing).
func (a *admitter) idle() bool {
	if !a.table.Load().Empty() {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.paused) == 0
}

// lookup is the limit of host: its key and limit; ok false when neither
// limited nor paused (lately). A paused host without a limit has the zero limit
// (admission then only waits for the pause).
func (a *admitter) lookup(host string) (key string, l limits.Limit, ok bool) {
	if key, l, ok = a.table.Load().Lookup(host); ok {
		return key, l, true
	}
	if host == "" {
		return "", limits.Limit{}, false
	}
	a.mu.Lock()
	until, paused := a.paused[host]
	a.mu.Unlock()
	// Past the pause, for as long as a job released from the park may
	// hold its slot (2*lease): such a job is admitted as released (its
	// slot held, its throttled_ms read).
	if paused && until.Add(2*a.cfg.lease).After(a.cfg.now()) {
		return host, limits.Limit{}, true
	}
	return "", limits.Limit{}, false
}

// admitted is a job let through: the slot it holds (none for a host
// without a limit) and the time it waited parked.
type admitted struct {
	a         *admitter
	key       string // host key; "" when not limited
	member    string
	queue     string
	host      string
	limit     limits.Limit
	throttled time.Duration
}

// leave gives the job's slot up (and wakes the host's parked jobs when it
// has a concurrency limit). Nil-safe.
func (ad *admitted) leave() {
	if ad == nil || ad.key == "" {
		return
	}
	a := ad.a
	a.mu.Lock()
	if m := a.held[ad.key]; m != nil {
		delete(m, ad.member)
		if len(m) == 0 {
			delete(a.held, ad.key)
		}
	}
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.store.ReleaseSlots(ctx, ad.key, ad.member); err != nil {
		a.cfg.log.Warn("giving a host's slot up failed; its lease ends it", "host", ad.key, "err", err)
		return
	}
	if ad.limit.Concurrency > 0 {
		_ = a.store.WakeParked(ctx, ad.queue, ad.key, a.cfg.now()) // best effort: the releaser looks by itself within the slot's lease
	}
}

// waited is how long the job waited parked. Nil-safe.
func (ad *admitted) waited() time.Duration {
	if ad == nil {
		return 0
	}
	return ad.throttled
}

// admitOutcome is what admission did with a job.
type admitOutcome int

const (
	admitRun    admitOutcome = iota // run it
	admitParked                     // parked (or no longer ours): the runner is free
	admitFailed                     // Redis failed: give the job back
)

// admitTimeout bounds a job's admission: its Redis calls, or putting it
// back when they failed.
const admitTimeout = 10 * time.Second

// admit decides on the job (task id of queue): run (with what it holds)
// or park.
func (a *admitter) admit(ctx context.Context, queue, id string, t tasks.Task) (*admitted, admitOutcome, error) {
	if a.idle() {
		return nil, admitRun, nil
	}
	host := limits.HostOf(t.Job.URL)
	key, l, ok := a.lookup(host)
	if !ok {
		return nil, admitRun, nil
	}
	// Bounded here, not by the caller: most jobs have no limit and need
	// no Redis call, nor a context with a timer of its own.
	ctx, cancel := context.WithTimeout(ctx, admitTimeout)
	defer cancel()
	if a.auto.applies(l) {
		l = a.auto.effective(ctx, key, l)
	}
	now := a.cfg.now()
	member := rdb.SlotMember(queue, id)
	mode := queue + " " + key
	a.mu.Lock()
	parkMode := a.parkMode[mode].After(now)
	a.mu.Unlock()
	adm, err := a.store.HostAdmit(ctx, key, []string{member}, l.Concurrency, parkMode, now.Add(a.cfg.lease), now)
	if err != nil {
		return nil, admitFailed, err
	}
	ad := &admitted{a: a, key: key, member: member, queue: queue, host: host, limit: l}
	due := now
	switch adm.Codes[0] {
	case rdb.AdmitHeld, rdb.AdmitTaken:
		// A slot held: its token now, as it starts (released from the park
		// with its slot, or a slot taken now); none left (another job took
		// it): parked (again).
		var took bool
		due, took, err = a.takeToken(ctx, key, member, l, now)
		if err != nil {
			return nil, admitFailed, err
		}
		if !took {
			break
		}
		if adm.Codes[0] == rdb.AdmitHeld { // it waited in the park
			ms, err := a.store.ThrottledMS(ctx, queue, id)
			if err != nil {
				a.cfg.log.Warn("reading a job's throttled time failed", "queue", queue, "task", id, "err", err)
			}
			ad.throttled = time.Duration(ms) * time.Millisecond
		}
		a.hold(ad)
		if a.cfg.onThrottled != nil && ad.throttled > 0 {
			a.cfg.onThrottled(queue, host, ad.throttled)
		}
		return ad, admitRun, nil
	default: // refused
		switch {
		case !adm.PausedUntil.IsZero():
			due = adm.PausedUntil
		case !adm.FirstSlotEnd.IsZero() && !parkMode:
			due = earliest(adm.FirstSlotEnd, now.Add(a.cfg.lease))
		}
	}
	ok, err = a.store.Park(ctx, queue, key, id, due, now)
	if err != nil {
		return nil, admitFailed, err
	}
	if ok {
		a.setParkMode(mode, now)
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	return nil, admitParked, nil
}

// takeToken takes the rate token of a job whose slot is held (none to take
// without a rate). Without a token (another job took it) it gives the slot
// back and says when to try again.
func (a *admitter) takeToken(ctx context.Context, key, member string, l limits.Limit, now time.Time) (due time.Time, took bool, err error) {
	rl := l.RateLimit()
	if rl.Rate <= 0 {
		return now, true, nil
	}
	n, retry, err := a.rate.AllowAtMost(ctx, key, rl, 1)
	if err == nil && n > 0 {
		return now, true, nil
	}
	_ = a.store.ReleaseSlots(ctx, key, member) // else its lease ends it
	if err != nil {
		return now, false, err
	}
	return now.Add(max(retry, time.Millisecond)), false, nil
}

func (a *admitter) hold(ad *admitted) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.held[ad.key]
	if m == nil {
		m = make(map[string]struct{})
		a.held[ad.key] = m
	}
	m[ad.member] = struct{}{}
}

// setParkMode keeps queue+" "+key in park mode for parkModeFor from now.
func (a *admitter) setParkMode(mode string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.parkMode) > maxLocalHosts {
		clear(a.parkMode)
	}
	a.parkMode[mode] = now.Add(parkModeFor)
}

// renew extends the leases of every slot held, in one pipelined call,
// with the task leases (fetch.go's extendOnce).
func (a *admitter) renew() {
	a.mu.Lock()
	if len(a.held) == 0 {
		a.mu.Unlock()
		return
	}
	held := make(map[string][]string, len(a.held))
	for k, m := range a.held {
		for member := range m {
			held[k] = append(held[k], member)
		}
	}
	a.mu.Unlock()
	now := a.cfg.now()
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.lease)
	defer cancel()
	if err := a.store.RenewSlots(ctx, held, now.Add(a.cfg.lease), now); err != nil {
		a.cfg.log.Warn("extending host slot leases failed", "hosts", len(held), "err", err)
	}
}

// observe looks at a job's outcome: a 429 or 503 with Retry-After pauses
// its host fleet-wide; with adaptive throttling, the latency and status
// adjust the host's rate.
func (a *admitter) observe(ctx context.Context, t tasks.Task, o tasks.Outcome, elapsed time.Duration) {
	if a == nil {
		return
	}
	r, _ := o.(*tasks.Response)
	if !a.table.Load().Empty() && (a.auto.all || a.auto.any.Load()) {
		if key, l, ok := a.table.Load().Lookup(limits.HostOf(t.Job.URL)); ok && a.auto.applies(l) {
			a.auto.observe(ctx, key, l, r, o, elapsed)
		}
	}
	if r == nil || r.StatusCode != http.StatusTooManyRequests && r.StatusCode != http.StatusServiceUnavailable || a.cfg.maxRetryAfter < 0 {
		return
	}
	host := limits.HostOf(t.Job.URL)
	if host == "" {
		return
	}
	now := a.cfg.now()
	wait, ok := RetryAfter(header(r.Headers, "Retry-After"), now)
	if !ok || wait <= 0 {
		return
	}
	wait = min(wait, a.cfg.maxRetryAfter)
	key, _, limited := a.table.Load().Lookup(host)
	if !limited {
		key = host
	}
	if !rdb.ValidHostKey(key) {
		return
	}
	until, err := a.store.PauseHost(ctx, key, now.Add(wait), now)
	if err != nil {
		a.cfg.log.Warn("pausing a host for its Retry-After failed", "host", key, "err", err)
		return
	}
	a.notePause(key, until)
	a.cfg.log.Info("host paused fleet-wide for its Retry-After", "host", key, "status", r.StatusCode, "until", until)
}

// header is the value of the header name in h, whatever its case.
func header(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// RetryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110 10.2.3), as the wait from now; ok false when it is neither.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(365*24*3600))) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// admitJob is the fetcher's hook: false when the job was parked (or is no
// longer this worker's), its runner free for another.
func (f *fetcher) admitJob(j fetchedTask, t tasks.Task) (*admitted, bool) {
	if f.admit == nil {
		return nil, true
	}
	ad, out, err := f.admit.admit(context.Background(), j.queue, j.msg.ID, t)
	switch out {
	case admitRun:
		return ad, true
	case admitParked:
		f.release(j.queue, j.msg.ID)
		return nil, false
	}
	f.cfg.log.Warn("per-host admission failed; job put back", "queue", j.queue, "task", j.msg.ID, "err", err)
	ctx, cancel := context.WithTimeout(context.Background(), admitTimeout)
	defer cancel()
	if err := f.store.Requeue(ctx, j.queue, []string{j.msg.ID}); err != nil {
		f.cfg.log.Warn("putting a job back failed; its lease runs out", "queue", j.queue, "task", j.msg.ID, "err", err)
	}
	f.release(j.queue, j.msg.ID)
	return nil, false
}

// withThrottled sets the outcome's throttled_ms.
func withThrottled(o tasks.Outcome, d time.Duration) {
	if d <= 0 {
		return
	}
	switch v := o.(type) {
	case *tasks.Response:
		v.ThrottledMS = d.Milliseconds()
	case *tasks.Exception:
		v.ThrottledMS = d.Milliseconds()
	}
}

func (c *LimitsConfig) validate() error {
	if !c.Default.IsZero() {
		if err := c.Default.Validate(); err != nil {
			return fmt.Errorf("%w: default limit: %w", ErrConfig, err)
		}
		c.Default = c.Default.Normalized()
	}
	if c.Refresh < 0 {
		return fmt.Errorf("%w: limits refresh must not be negative", ErrConfig)
	}
	c.Refresh = cmp.Or(c.Refresh, time.Second)
	return nil
}

// startLimits starts the admitter's refresh loop and, with the fetcher,
// the releaser.
func (w *Worker) startLimits() {
	cfg := w.cfg.Limits
	w.admit = newAdmitter(admitConfig{
		defaults: cfg.Default, maxRetryAfter: w.cfg.MaxRetryAfter, lease: w.cfg.Lease, refresh: cfg.Refresh,
		fetcherOnly: w.cfg.AsynqProcessor, now: time.Now, log: w.log.With("component", "limits"), onThrottled: cfg.OnThrottled,
	}, w.store)
	w.admit.auto = newAutoThrottle(w.store, cfg.AutoThrottle)
	if w.cfg.AsynqProcessor && !cfg.Default.IsZero() {
		w.log.Warn("--default-rate/--default-concurrency are applied by the fetcher only: with --asynq-processor they do nothing")
	}
	w.admit.refresh() // the limits from the first job on
	w.limDone = make(chan struct{})
	done := w.limDone
	w.limWG.Go(func() { w.admit.refreshLoop(done) })
	w.limWG.Go(func() { w.admit.listen(done) })
	if !w.cfg.AsynqProcessor {
		w.release = newReleaser(w.admit, w.store, w.cfg.Queues, w.cfg.Lease, time.Now, w.log)
		_ = w.release.Start(context.Background()) // a new releaser: cannot fail
	}
}

// stopLimits stops the releaser and the refresh loop.
func (w *Worker) stopLimits(ctx context.Context) {
	w.mu.Lock()
	rel, done := w.release, w.limDone
	w.limDone = nil
	w.mu.Unlock()
	if rel != nil {
		_ = rel.Stop(ctx)
	}
	if done != nil {
		close(done)
	}
	w.limWG.Wait() // a refresh's calls are bounded by their timeouts
}
