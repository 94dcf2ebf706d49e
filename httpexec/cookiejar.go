package httpexec

import (
	"container/list"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"
)

// CookieLimits bound one session's cookie jar as a browser bounds its
// own. The zero value of each field is its default. When a new cookie
// would go over a limit, the jar forgets its oldest cookies (of the host
// for a host's limit, of any host for the jar's) until it fits.
type CookieLimits struct {
	MaxCookieBytes  int // one cookie, name and value: default 4 KiB; a larger one is ignored, as browsers do
	MaxPerHost      int // cookies of one domain: default 180 (Chrome's per-domain limit)
	MaxBytesPerHost int // bytes of one domain's cookies: default 256 KiB
	MaxCookies      int // cookies in the jar: default 3000 (Chrome's)
	MaxBytes        int // bytes of all the jar's cookies: default 1 MiB
}

// errNegativeCookieLimit: a CookieLimits field is negative.
var errNegativeCookieLimit = errors.New("cookie limits must not be negative")

func (l *CookieLimits) validate() error {
	if l.MaxCookieBytes < 0 || l.MaxPerHost < 0 || l.MaxBytesPerHost < 0 || l.MaxCookies < 0 || l.MaxBytes < 0 {
		return errNegativeCookieLimit
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxCookieBytes, 4<<10)
	def(&l.MaxPerHost, 180)
	def(&l.MaxBytesPerHost, 256<<10)
	def(&l.MaxCookies, 3000)
	def(&l.MaxBytes, 1<<20)
	return nil
}

// boundedJar is a net/http/cookiejar.Jar that holds at most what its
// CookieLimits allow. cookiejar has no limits and no way to list its
// cookies, so boundedJar keeps its own index of what it was given, oldest
// first, and forgets a cookie by setting it again, expired, from the URL
// that set it: the jar then finds the same entry (same domain, path and
// name) and drops it. The index may hold a cookie the jar refused or let
// expire; that costs an eviction too early, never a cookie too many.
type boundedJar struct {
	jar    *cookiejar.Jar
	limits CookieLimits

	mu    sync.Mutex
	order *list.List // of *jarEntry, oldest first
	byKey map[jarKey]*list.Element
	hosts map[string]*jarHost
	bytes int
}

type jarKey struct{ domain, path, name string }

type jarEntry struct {
	key          jarKey
	from         *url.URL // the URL that set it: its scheme, host and path
	domain, path string   // its Domain and Path attributes as they were set
	size         int
	inHost       *list.Element // in its jarHost's order
}

// jarHost is one domain's share of the jar: its entries (elements of the
// jar's order), oldest first, and their bytes.
type jarHost struct {
	order *list.List
	bytes int
}

func newBoundedJar(limits CookieLimits) (*boundedJar, error) {
	if err := limits.validate(); err != nil {
		return nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &boundedJar{jar: jar, limits: limits, order: list.New(), byKey: map[jarKey]*list.Element{}, hosts: map[string]*jarHost{}}, nil
}

// Cookies are the jar's, as cookiejar sends them.
func (j *boundedJar) Cookies(u *url.URL) []*http.Cookie { return j.jar.Cookies(u) }

// SetCookies stores the cookies within the limits, dropping those too big
// and forgetting the oldest to make room.
func (j *boundedJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return // cookiejar ignores them
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	from := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	now := time.Now()
	for _, c := range cookies {
		if len(c.Name)+len(c.Value) > j.limits.MaxCookieBytes {
			continue
		}
		k := cookieKey(u, c)
		if el, ok := j.byKey[k]; ok {
			j.remove(el) // replaced or deleted: the jar does the same
		}
		if c.MaxAge >= 0 && (c.Expires.IsZero() || c.Expires.After(now)) { // not a deletion
			e := &jarEntry{key: k, from: from, domain: c.Domain, path: c.Path, size: len(k.domain) + len(k.path) + len(c.Name) + len(c.Value)}
			j.makeRoom(e)
			j.add(e)
		}
		// One at a time: a cookie evicted for a later one of the same
		// response must be in the jar to be dropped from it.
		j.jar.SetCookies(u, []*http.Cookie{c})
	}
}

// makeRoom forgets the oldest cookies until e fits: the oldest of its
// domain for the domain's limits, then the oldest of all for the jar's.
func (j *boundedJar) makeRoom(e *jarEntry) {
	if h := j.hosts[e.key.domain]; h != nil {
		for h.order.Len() > 0 && (h.order.Len()+1 > j.limits.MaxPerHost || h.bytes+e.size > j.limits.MaxBytesPerHost) {
			j.evict(h.order.Front().Value.(*list.Element))
		}
	}
	for j.order.Len() > 0 && (j.order.Len()+1 > j.limits.MaxCookies || j.bytes+e.size > j.limits.MaxBytes) {
		j.evict(j.order.Front())
	}
}

// evict drops an entry from the index and from the jar.
func (j *boundedJar) evict(el *list.Element) {
	e := el.Value.(*jarEntry)
	j.remove(el)
	j.jar.SetCookies(e.from, []*http.Cookie{{Name: e.key.name, Domain: e.domain, Path: e.path, MaxAge: -1}})
}

func (j *boundedJar) add(e *jarEntry) {
	el := j.order.PushBack(e)
	j.byKey[e.key] = el
	h := j.hosts[e.key.domain]
	if h == nil {
		h = &jarHost{order: list.New()}
		j.hosts[e.key.domain] = h
	}
	e.inHost = h.order.PushBack(el)
	h.bytes += e.size
	j.bytes += e.size
}

func (j *boundedJar) remove(el *list.Element) {
	e := j.order.Remove(el).(*jarEntry)
	delete(j.byKey, e.key)
	if h := j.hosts[e.key.domain]; h != nil {
		h.order.Remove(e.inHost)
		h.bytes -= e.size
		if h.order.Len() == 0 {
			delete(j.hosts, e.key.domain)
		}
	}
	j.bytes -= e.size
}

// len is the number of cookies the jar may hold (for tests).
func (j *boundedJar) len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.order.Len()
}

// cookieKey is the entry cookiejar makes of c set from u: its domain (the
// host for a host-only cookie), path and name.
func cookieKey(u *url.URL, c *http.Cookie) jarKey {
	host := strings.ToLower(u.Hostname())
	domain := strings.ToLower(strings.TrimPrefix(c.Domain, "."))
	if domain == "" || net.ParseIP(host) != nil {
		domain = host
	}
	path := c.Path
	if path == "" || path[0] != '/' {
		path = defaultCookiePath(u.Path)
	}
	return jarKey{domain: domain, path: path, name: c.Name}
}

// defaultCookiePath is RFC 6265's default-path, as cookiejar computes it.
func defaultCookiePath(p string) string {
	if p == "" || p[0] != '/' {
		return "/"
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}
