package httpexec

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
)

// DenyPrivate (SessionConfig.DenyPrivate, --deny-private) keeps jobs from
// reaching the worker's own network: loopback, private, link-local (cloud
// metadata at 169.254.169.254 included), shared (CGNAT), multicast,
// unspecified and reserved addresses, in their IPv4-mapped and embedded
// IPv6 forms too.
//
// The check is made on the address actually dialed, when it is dialed:
// the built-in dialer runs it in net.Dialer.ControlContext, after the name
// is resolved and before connect(2), for every address it tries. A name
// that resolves to a public address when a job is checked and to a private
// one when it connects (DNS rebinding) is refused all the same, and a
// refused address is never connected to.
//
// Through a proxy the worker dials only the proxy, which the operator chose
// and which is trusted: its own address is not checked. The target is
// checked before the request goes to the proxy, its address if it is one,
// else the addresses the worker resolves its name to; the proxy resolves
// the name again on its own, so there DNS rebinding is the proxy's to stop.
// A name the worker cannot resolve is left to the proxy.
//
// With an injected SessionConfig.DialContext the worker cannot see inside
// the dial: an address given as an IP is checked before the call, and the
// connection's remote address once it is made (and closed when refused).

// deniedError: DenyPrivate refused the address. It becomes an exception of
// type tasks.DeniedAddress.
type deniedError struct {
	addr   netip.Addr
	reason string
}

func (e *deniedError) Error() string {
	return "refused to connect to " + e.addr.String() + ": " + e.reason + " (the worker denies private addresses)"
}

var (
	cgnat      = netip.MustParsePrefix("100.64.0.0/10")  // shared address space (carrier-grade NAT); also Alibaba's metadata 100.100.100.200
	thisNet    = netip.MustParsePrefix("0.0.0.0/8")      // "this network": 0.x.x.x reaches the local host on Linux
	ietf       = netip.MustParsePrefix("192.0.0.0/24")   // IETF protocol assignments
	benchmark  = netip.MustParsePrefix("198.18.0.0/15")  // benchmarking
	reserved4  = netip.MustParsePrefix("240.0.0.0/4")    // reserved, and 255.255.255.255
	nat64      = netip.MustParsePrefix("64:ff9b::/96")   // NAT64: the last 32 bits are an IPv4 address
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48") // local-use NAT64
	sixToFour  = netip.MustParsePrefix("2002::/16")      // 6to4: bits 16-48 are an IPv4 address
	compat4    = netip.MustParsePrefix("::/96")          // IPv4-compatible (deprecated): ::a.b.c.d
	siteLocal  = netip.MustParsePrefix("fec0::/10")      // deprecated site-local
)

// deniedReason says why DenyPrivate refuses ip, or "" when it may be dialed.
func deniedReason(ip netip.Addr) string {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip), compat4.Contains(ip) && !ip.IsUnspecified() && !ip.IsLoopback():
			if r := deniedReason4(netip.AddrFrom4([4]byte(b[12:16]))); r != "" {
				return r + " (embedded in an IPv6 address)"
			}
		case sixToFour.Contains(ip):
			if r := deniedReason4(netip.AddrFrom4([4]byte(b[2:6]))); r != "" {
				return r + " (embedded in a 6to4 address)"
			}
		case nat64Local.Contains(ip):
			return "a local-use NAT64 address"
		case siteLocal.Contains(ip):
			return "a site-local address"
		}
	}
	return deniedReason4(ip)
}

func deniedReason4(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return "not an IP address"
	case ip.IsUnspecified(), thisNet.Contains(ip):
		return "an unspecified address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address (cloud metadata lives there)"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case cgnat.Contains(ip):
		return "a shared (carrier-grade NAT) address"
	case ietf.Contains(ip), benchmark.Contains(ip), reserved4.Contains(ip):
		return "a reserved address"
	}
	return ""
}

// checkAddr checks a dialed "ip:port" (or a bare IP).
func checkAddr(address string) error {
	var ip netip.Addr
	if ap, err := netip.ParseAddrPort(address); err == nil {
		ip = ap.Addr()
	} else if ip, err = netip.ParseAddr(address); err != nil {
		return &deniedError{reason: "not an IP address: " + address}
	}
	if r := deniedReason(ip); r != "" {
		return &deniedError{addr: ip.WithZone(""), reason: r}
	}
	return nil
}

// denyControl is the built-in dialer's ControlContext: it runs after the
// socket is made and before it connects, with the address being dialed.
func denyControl(_ context.Context, _, address string, _ syscall.RawConn) error {
	return checkAddr(address)
}

// guard is one session's DenyPrivate: its dial and its Proxy.
type guard struct {
	plain    func(ctx context.Context, network, addr string) (net.Conn, error) // SessionConfig.DialContext
	checked  func(ctx context.Context, network, addr string) (net.Conn, error) // the built-in dialer with denyControl; nil when DialContext was injected
	resolver *net.Resolver
	proxies  sync.Map // host:port of the proxies the session used: trusted
}

func newGuard(cfg SessionConfig) *guard {
	g := &guard{plain: cfg.DialContext, resolver: cfg.Resolver}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	if cfg.builtinDial {
		d := newDialer(cfg)
		d.ControlContext = denyControl
		g.checked = d.DialContext
	}
	return g
}

// dial is the session's DialContext under DenyPrivate.
func (g *guard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if _, ok := g.proxies.Load(strings.ToLower(addr)); ok {
		return g.plain(ctx, network, addr) // the operator's proxy
	}
	if g.checked != nil {
		return g.checked(ctx, network, addr)
	}
	// An injected dialer: check what can be seen of it.
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if _, err := netip.ParseAddr(host); err == nil {
			if err := checkAddr(host); err != nil {
				return nil, &net.OpError{Op: "dial", Net: network, Err: err}
			}
		}
	}
	conn, err := g.plain(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		if err := checkAddr(ta.AddrPort().String()); err != nil {
			conn.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
	}
	return conn, nil
}

// proxy wraps the Transport's Proxy: the proxy chosen is trusted, and the
// target it will be asked for is checked first.
func (g *guard) proxy(next func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	return func(req *http.Request) (*url.URL, error) {
		p, err := next(req)
		if err != nil || p == nil {
			return p, err
		}
		g.proxies.Store(proxyAddr(p), true)
		if err := g.checkTarget(req.Context(), req.URL.Hostname()); err != nil {
			return nil, err
		}
		return p, nil
	}
}

// checkTarget checks a proxied request's host: an IP as it is, a name by
// the addresses it resolves to here.
func (g *guard) checkTarget(ctx context.Context, host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		return checkAddr(ip.String())
	}
	ips, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // the proxy may know names this host does not
	}
	for _, ip := range ips {
		if err := checkAddr(ip.String()); err != nil {
			return err
		}
	}
	return nil
}

// proxyAddr is the host:port the Transport dials for a proxy URL (lower
// case, with the scheme's default port).
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return strings.ToLower(net.JoinHostPort(u.Hostname(), port))
}

// DeniedHost says why --deny-private would refuse a URL's host given as an
// address, or "" when the host is not one it refuses (a name is the
// dialer's to check, once resolved). The host is read as the system's
// resolver reads a literal (inet_aton): besides a dotted quad, the
// shorthand forms with fewer parts (127.1), and parts in hex (0x7f) or
// octal (0177) or as one number (2130706433); and IPv6 in any form,
// IPv4-mapped, IPv4-compatible, NAT64 and 6to4 ones included. serve uses
// it to refuse such URLs before they are queued.
func DeniedHost(host string) string {
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	ip, ok := ParseHostIP(host)
	if !ok {
		return ""
	}
	return deniedReason(ip)
}

// ParseHostIP reads host as an IP address the way inet_aton and the
// system's resolver do (see DeniedHost); ok is false when it is not one.
func ParseHostIP(host string) (ip netip.Addr, ok bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, true
	}
	return parseInetAton(host)
}

// parseInetAton is inet_aton: one to four parts separated by dots, each
// decimal, octal (a leading 0) or hex (0x); the last part fills the bytes
// the others leave.
func parseInetAton(s string) (netip.Addr, bool) {
	if s == "" || len(s) > 64 {
		return netip.Addr{}, false
	}
	var parts [4]uint64
	n := 0
	for rest := s; ; {
		if n == 4 {
			return netip.Addr{}, false
		}
		part, tail, more := strings.Cut(rest, ".")
		v, ok := parseAtonPart(part)
		if !ok {
			return netip.Addr{}, false
		}
		parts[n] = v
		n++
		if !more {
			break
		}
		rest = tail
	}
	var v uint64
	for i := range n - 1 {
		if parts[i] > 0xff {
			return netip.Addr{}, false
		}
		v |= parts[i] << (8 * (3 - i))
	}
	last := parts[n-1]
	if last >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func parseAtonPart(p string) (uint64, bool) {
	base := uint64(10)
	switch {
	case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true // "0x" is 0 for inet_aton
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p == "" || len(p) > 12 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		c := p[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*base + d
	}
	return v, true
}
