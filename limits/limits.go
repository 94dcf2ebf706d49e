// Package limits is reqfleet's per-host limits, fleet-wide: a rate (GCRA,
// github.com/go-redis/redis_rate), a burst and a concurrency per host
// name or "*.example.com" pattern, kept in Redis (internal/rdb) so that
// every worker applies a change within a second, without a restart. The
// worker (its admission, worker/admit.go), `reqfleet limits` and serve's
// /v1/limits use it; it imports tasks and internal/rdb only.
package limits

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

// Errors of the package.
var (
	ErrHost  = errors.New("limits: bad host or pattern")
	ErrRate  = errors.New("limits: bad rate")
	ErrLimit = errors.New("limits: bad limit")
	// ErrFull: the table holds rdb.MaxLimits hosts and patterns already.
	ErrFull = rdb.ErrLimitsFull
)

// Limit is one host's (or pattern's) limit. Rate 0: no rate limit;
// Concurrency 0: no concurrency limit.
type Limit struct {
	Rate        int           `json:"rate,omitempty"`        // requests a Per
	Per         time.Duration `json:"per,omitempty"`         // default a second
	Burst       int           `json:"burst,omitempty"`       // requests at once beyond the rate; default 1
	Concurrency int           `json:"concurrency,omitempty"` // requests in flight fleet-wide
	Auto        bool          `json:"auto,omitempty"`        // adaptive throttling (--auto-throttle) for this host
}

// MaxRate and MaxConcurrency bound a limit's numbers.
const (
	MaxRate        = 1_000_000
	MaxConcurrency = 100_000
)

// IsZero: no limit at all.
func (l Limit) IsZero() bool { return l.Rate == 0 && l.Concurrency == 0 && !l.Auto }

// Normalized is l with its defaults (Per a second, Burst 1 when rated).
func (l Limit) Normalized() Limit {
	if l.Rate > 0 {
		l.Per = cmp.Or(l.Per, time.Second)
		l.Burst = cmp.Or(l.Burst, 1)
	}
	return l
}

// Validate checks the numbers.
func (l Limit) Validate() error {
	switch {
	case l.Rate < 0 || l.Rate > MaxRate:
		return fmt.Errorf("%w: rate %d: 0 to %d", ErrLimit, l.Rate, MaxRate)
	case l.Per < 0 || l.Per > 24*time.Hour || l.Per > 0 && l.Per < time.Millisecond:
		return fmt.Errorf("%w: per %v: 1ms to 24h", ErrLimit, l.Per)
	case l.Burst < 0 || l.Burst > MaxRate:
		return fmt.Errorf("%w: burst %d: 0 to %d", ErrLimit, l.Burst, MaxRate)
	case l.Concurrency < 0 || l.Concurrency > MaxConcurrency:
		return fmt.Errorf("%w: concurrency %d: 0 to %d", ErrLimit, l.Concurrency, MaxConcurrency)
	case l.IsZero():
		return fmt.Errorf("%w: neither a rate nor a concurrency", ErrLimit)
	}
	return nil
}

// RateLimit is l's GCRA limit (zero when it has no rate).
func (l Limit) RateLimit() rdb.RateLimit {
	if l.Rate == 0 {
		return rdb.RateLimit{}
	}
	n := l.Normalized()
	return rdb.RateLimit{Rate: n.Rate, Period: n.Per, Burst: n.Burst}
}

// String is the limit as `reqfleet limits` shows it: "20/s burst 5
// concurrency 3".
func (l Limit) String() string {
	var parts []string
	if l.Rate > 0 {
		n := l.Normalized()
		parts = append(parts, FormatRate(n.Rate, n.Per), "burst "+strconv.Itoa(n.Burst))
	}
	if l.Concurrency > 0 {
		parts = append(parts, "concurrency "+strconv.Itoa(l.Concurrency))
	}
	if l.Auto {
		parts = append(parts, "auto")
	}
	return strings.Join(parts, " ")
}

// ParseRate reads "20/s", "300/m", "1000/h", "5/10s" (a Go duration after
// the slash) or "20" (a second).
func ParseRate(s string) (rate int, per time.Duration, err error) {
	num, unit, found := strings.Cut(strings.TrimSpace(s), "/")
	rate, err = strconv.Atoi(num)
	if err != nil || rate < 1 || rate > MaxRate {
		return 0, 0, fmt.Errorf("%w %q: want N/s, N/m, N/h or N/<duration>, N from 1 to %d", ErrRate, s, MaxRate)
	}
	per = time.Second
	if found {
		switch unit {
		case "s":
		case "m":
			per = time.Minute
		case "h":
			per = time.Hour
		default:
			per, err = time.ParseDuration(unit)
			if err != nil || per < time.Millisecond || per > 24*time.Hour {
				return 0, 0, fmt.Errorf("%w %q: the period after / is s, m, h or a duration from 1ms to 24h", ErrRate, s)
			}
		}
	}
	return rate, per, nil
}

// FormatRate is ParseRate's inverse.
func FormatRate(rate int, per time.Duration) string {
	switch per {
	case time.Second:
		return strconv.Itoa(rate) + "/s"
	case time.Minute:
		return strconv.Itoa(rate) + "/m"
	case time.Hour:
		return strconv.Itoa(rate) + "/h"
	}
	return strconv.Itoa(rate) + "/" + per.String()
}

// NormalizeHost reads a host name (a port, brackets and a final dot are
// dropped, letters lowered) or a "*.example.com" pattern, as the limits
// table keys them.
func NormalizeHost(s string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(s))
	wild := strings.HasPrefix(h, "*.")
	if wild {
		h = h[2:]
	}
	if strings.ContainsAny(h, "*/@?#") {
		return "", fmt.Errorf("%w %q: a host name (port ignored) or *.example.com", ErrHost, s)
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), ".")
	if h == "" || !rdb.ValidHostKey("*."+h) {
		return "", fmt.Errorf("%w %q: a host name (port ignored) or *.example.com", ErrHost, s)
	}
	if wild {
		return "*." + h, nil
	}
	return h, nil
}

// HostOf is the host of a job's URL as the limits see it: its host name,
// lowered, without port or final dot; "" when it has none.
func HostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// Table resolves a host to its limit: its own, else the longest pattern
// that matches it ("*.example.com" matches a.example.com and
// b.a.example.com, not example.com), else the default. The key is whose
// limit it is (the host, or the pattern: a pattern's hosts share one
// limit); the default is each host's own.
type Table struct {
	exact   map[string]Limit
	wild    []wildcard // longest suffix first
	def     Limit
	version int64
}

type wildcard struct {
	suffix string // ".example.com"
	limit  Limit
}

// NewTable builds a table from entries (host or pattern -> limit) and a
// default for the other hosts (zero: none).
func NewTable(entries map[string]Limit, def Limit) *Table {
	t := &Table{exact: make(map[string]Limit), def: def}
	for k, l := range entries {
		if suffix, ok := strings.CutPrefix(k, "*"); ok {
			t.wild = append(t.wild, wildcard{suffix: suffix, limit: l})
			continue
		}
		t.exact[k] = l
	}
	slices.SortFunc(t.wild, func(a, b wildcard) int {
		return cmp.Or(len(b.suffix)-len(a.suffix), strings.Compare(a.suffix, b.suffix))
	})
	return t
}

// Version is the limits table's version the table was read at.
func (t *Table) Version() int64 { return t.version }

// Empty: no host is limited.
func (t *Table) Empty() bool {
	return t == nil || len(t.exact) == 0 && len(t.wild) == 0 && t.def.IsZero()
}

// AnyAuto: some limit (or the default) asks for adaptive throttling.
func (t *Table) AnyAuto() bool {
	if t == nil {
		return false
	}
	if t.def.Auto {
		return true
	}
	for _, l := range t.exact {
		if l.Auto {
			return true
		}
	}
	for _, w := range t.wild {
		if w.limit.Auto {
			return true
		}
	}
	return false
}

// Lookup is host's limit and its key; ok false when host is not limited.
func (t *Table) Lookup(host string) (key string, l Limit, ok bool) {
	if t == nil || host == "" {
		return "", Limit{}, false
	}
	if l, ok := t.exact[host]; ok {
		return host, l, true
	}
	for _, w := range t.wild {
		if strings.HasSuffix(host, w.suffix) {
			return "*" + w.suffix, w.limit, true
		}
	}
	if t.def.IsZero() || !rdb.ValidHostKey(host) {
		return "", Limit{}, false
	}
	return host, t.def, true
}

// Store reads and writes the fleet's limits in Redis.
type Store struct {
	c *rdb.Client
}

// NewStore is a store on r (not closed by it).
func NewStore(r redis.UniversalClient) *Store { return &Store{c: rdb.New(r)} }

// Set sets the limit of a host or pattern (normalized, see
// NormalizeHost); every worker applies it within a second.
func (s *Store) Set(ctx context.Context, host string, l Limit) (string, error) {
	key, err := NormalizeHost(host)
	if err != nil {
		return "", err
	}
	if err := l.Validate(); err != nil {
		return "", err
	}
	n := l.Normalized()
	return key, s.c.SetLimit(ctx, key, rdb.HostLimit{Rate: n.Rate, Period: n.Per, Burst: n.Burst, Concurrency: n.Concurrency, Auto: n.Auto})
}

// Remove removes the limit of a host or pattern; false when it had none.
func (s *Store) Remove(ctx context.Context, host string) (bool, error) {
	key, err := NormalizeHost(host)
	if err != nil {
		return false, err
	}
	return s.c.DeleteLimit(ctx, key)
}

// Version is the table's version (it changes with every Set and Remove).
func (s *Store) Version(ctx context.Context) (int64, error) { return s.c.LimitsVersion(ctx) }

// Table reads the table, with def as the default for other hosts.
// Entries that do not decode are left out.
func (s *Store) Table(ctx context.Context, def Limit) (*Table, error) {
	raw, version, _, err := s.c.Limits(ctx)
	if err != nil {
		return nil, err
	}
	entries := make(map[string]Limit, len(raw))
	for k, h := range raw {
		entries[k] = fromRDB(h)
	}
	t := NewTable(entries, def)
	t.version = version
	return t, nil
}

func fromRDB(h rdb.HostLimit) Limit {
	return Limit{Rate: h.Rate, Per: h.Period, Burst: h.Burst, Concurrency: h.Concurrency, Auto: h.Auto}
}

// Status is one limited host's limit and its state now.
type Status struct {
	Host        string    `json:"host"` // the host or pattern
	Limit       Limit     `json:"limit"`
	InFlight    int64     `json:"in_flight"`              // concurrency slots held (requests in flight, or admitted and about to start)
	PausedUntil time.Time `json:"paused_until,omitzero"`  // a Retry-After pause, fleet-wide
	AutoRate    float64   `json:"auto_rate,omitempty"`    // adaptive throttling's current rate, requests a second
	AutoLatency float64   `json:"auto_latency,omitempty"` // its latency estimate, seconds
}

// Get is one host's or pattern's status; ok false when it has no limit.
func (s *Store) Get(ctx context.Context, host string) (st Status, ok bool, err error) {
	key, err := NormalizeHost(host)
	if err != nil {
		return Status{}, false, err
	}
	all, err := s.List(ctx)
	if err != nil {
		return Status{}, false, err
	}
	for _, st := range all {
		if st.Host == key {
			return st, true, nil
		}
	}
	return Status{}, false, nil
}

// List is every limited host's status, by host.
func (s *Store) List(ctx context.Context) ([]Status, error) {
	raw, _, _, err := s.c.Limits(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]Status, 0, len(raw))
	for k, h := range raw {
		st, err := s.state(ctx, k, fromRDB(h), now)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Host, b.Host) })
	return out, nil
}

// State is the state of host key (a host or pattern, as Table.Lookup
// names it) under limit l.
func (s *Store) State(ctx context.Context, key string, l Limit) (Status, error) {
	return s.state(ctx, key, l, time.Now())
}

func (s *Store) state(ctx context.Context, key string, l Limit, now time.Time) (Status, error) {
	st := Status{Host: key, Limit: l}
	var err error
	if st.InFlight, err = s.c.InFlight(ctx, key, now); err != nil {
		return st, err
	}
	if st.PausedUntil, err = s.c.HostPausedUntil(ctx, key, now); err != nil {
		return st, err
	}
	if l.Auto {
		a, err := s.c.AutoState(ctx, key)
		if err != nil {
			return st, err
		}
		st.AutoRate, st.AutoLatency = a.Rate, a.Latency
	}
	return st, nil
}

// Parked is a host with jobs of a queue waiting for its limits.
type Parked struct {
	Host   string    `json:"host"`   // the host or pattern
	Parked int64     `json:"parked"` // jobs waiting
	Due    time.Time `json:"due"`    // when a releaser looks at it next
}

// MaxParkedListed is the most hosts Parked lists.
const MaxParkedListed = 100

// Parked lists the hosts with jobs of queue waiting for their limits
// (throttled), the soonest due first, at most MaxParkedListed.
func (s *Store) Parked(ctx context.Context, queue string) ([]Parked, error) {
	hs, err := s.c.ParkedHosts(ctx, queue, MaxParkedListed)
	if err != nil {
		return nil, err
	}
	out := make([]Parked, len(hs))
	for i, h := range hs {
		out[i] = Parked{Host: h.Key, Parked: h.Parked, Due: h.Due}
	}
	return out, nil
}

// Paused lists the hosts paused by a Retry-After, with their pause's end.
func (s *Store) Paused(ctx context.Context) (map[string]time.Time, error) {
	return s.c.PausedHosts(ctx, time.Now())
}
