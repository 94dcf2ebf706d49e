package httpexec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestDeniedReason(t *testing.T) {
	denied := []string{
		"127.0.0.1", "127.255.0.9", "::1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"fc00::1", "fd00:ec2::254", "169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%eth0",
		"100.64.0.1", "100.100.100.200", "0.0.0.0", "0.1.2.3", "::", "224.0.0.1", "239.255.255.250",
		"ff02::1", "ff05::2", "255.255.255.255", "240.0.0.1", "198.18.0.1", "192.0.0.170",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
		"64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b:1::1", "2002:7f00:1::", "2002:a9fe:a9fe::1", "fec0::1",
	}
	allowed := []string{
		"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2a00:1450:4001:82b::200e",
	}
	for _, s := range denied {
		if r := deniedReason(netip.MustParseAddr(s)); r == "" {
			t.Errorf("%s: allowed, want denied", s)
		}
	}
	for _, s := range allowed {
		if r := deniedReason(netip.MustParseAddr(s)); r != "" {
			t.Errorf("%s: denied (%s), want allowed", s, r)
		}
	}
}

// countingServer is a loopback target that counts the connections it
// accepts and the requests it serves.
type countingServer struct {
	*httptest.Server
	conns, requests atomic.Int32
}

func newCountingServer(t *testing.T, body string) *countingServer {
	t.Helper()
	c := &countingServer{}
	c.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		fmt.Fprint(w, body)
	}))
	c.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

// fakeResolver answers every A query with ip and AAAA queries with nothing,
// as a DNS server under an attacker's control may.
func fakeResolver(t *testing.T, ip netip.Addr) (*net.Resolver, *atomic.Int32) {
	t.Helper()
	var queries atomic.Int32
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			var n uint16
			if binary.Read(server, binary.BigEndian, &n) != nil {
				return
			}
			q := make([]byte, n)
			if _, err := io.ReadFull(server, q); err != nil || len(q) < 12 {
				return
			}
			queries.Add(1)
			end := 12 // the question: labels, then type and class
			for end < len(q) && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5
			if end > len(q) {
				return
			}
			qtype := binary.BigEndian.Uint16(q[end-4:])
			resp := append([]byte(nil), q[:2]...)
			resp = append(resp, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0)
			resp = append(resp, q[12:end]...)
			if qtype == 1 && ip.Is4() {
				resp[7] = 1 // one answer
				a := ip.As4()
				resp = append(resp, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, a[:]...)
			}
			out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
			_, _ = server.Write(append(out, resp...))
		}()
		return client, nil
	}}, &queries
}

func TestDenyPrivate(t *testing.T) {
	e := exExecutor(t, ExecConfig{})
	port := func(s *countingServer) string {
		return s.Listener.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):]
	}

	t.Run("off: loopback allowed", func(t *testing.T) {
		srv := newCountingServer(t, "ok")
		if r := exResponse(t, exRun(t, e, exSession(t, SessionConfig{}), exJob(srv.URL))); r.Body != "ok" {
			t.Fatalf("body %q", r.Body)
		}
	})
	for _, tc := range []struct{ name, url string }{
		{"loopback IP", "http://127.0.0.1:%s/"},
		{"localhost by name", "http://localhost:%s/"},
		{"IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]:%s/"},
	} {
		t.Run("on: "+tc.name, func(t *testing.T) {
			srv := newCountingServer(t, "secret")
			exc := exException(t, exRun(t, e, exSession(t, SessionConfig{DenyPrivate: true}), exJob(fmt.Sprintf(tc.url, port(srv)))), tasks.DeniedAddress)
			if !strings.Contains(exc.Exception.Message, "loopback") {
				t.Errorf("message %q", exc.Exception.Message)
			}
			if srv.conns.Load() != 0 {
				t.Fatalf("%d connections reached the target", srv.conns.Load())
			}
		})
	}
	t.Run("on: a name resolving to loopback (DNS rebinding)", func(t *testing.T) {
		srv := newCountingServer(t, "secret")
		res, queries := fakeResolver(t, netip.MustParseAddr("127.0.0.1"))
		s := exSession(t, SessionConfig{DenyPrivate: true, Resolver: res})
		exException(t, exRun(t, e, s, exJob("http://rebind.test:"+port(srv)+"/")), tasks.DeniedAddress)
		if queries.Load() == 0 {
			t.Fatal("the fake resolver was not asked")
		}
		if srv.conns.Load() != 0 {
			t.Fatalf("%d connections reached the target", srv.conns.Load())
		}
		// Off, the same name reaches it: the resolver trick works.
		if r := exResponse(t, exRun(t, e, exSession(t, SessionConfig{Resolver: res}), exJob("http://rebind.test:"+port(srv)+"/"))); r.Body != "secret" {
			t.Fatalf("off: body %q", r.Body)
		}
	})
	t.Run("on: an injected dialer that lands on loopback", func(t *testing.T) {
		srv := newCountingServer(t, "secret")
		addr := srv.Listener.Addr().String()
		s := exSession(t, SessionConfig{DenyPrivate: true, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}})
		exException(t, exRun(t, e, s, exJob("http://public.example/")), tasks.DeniedAddress)
		if srv.requests.Load() != 0 {
			t.Fatal("the request was sent")
		}
	})
}

// Through a proxy: the proxy's own (loopback) address is trusted; the
// target is checked before the request goes to it.
func TestDenyPrivateProxy(t *testing.T) {
	e := exExecutor(t, ExecConfig{})
	proxy := newCountingServer(t, "from the proxy")
	pu, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := exSession(t, SessionConfig{DenyPrivate: true, Proxy: pu})
	if r := exResponse(t, exRun(t, e, s, exJob("http://93.184.216.34/"))); r.Body != "from the proxy" {
		t.Fatalf("public target: body %q", r.Body)
	}
	for _, u := range []string{"http://127.0.0.1:9/", "http://localhost:9/", "http://169.254.169.254/latest/meta-data/"} {
		before := proxy.requests.Load()
		exc := exException(t, exRun(t, e, s, exJob(u)), tasks.DeniedAddress)
		if proxy.requests.Load() != before {
			t.Fatalf("%s: the proxy was asked for it (%s)", u, exc.Exception.Message)
		}
	}
}

func TestDeniedErrorIsClassified(t *testing.T) {
	err := &url.Error{Op: "Get", URL: "http://x/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &deniedError{addr: netip.MustParseAddr("10.0.0.1"), reason: "a private address"}}}
	if got := classify(err); got != tasks.DeniedAddress {
		t.Fatalf("classify = %q", got)
	}
	var de *deniedError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "10.0.0.1") {
		t.Fatalf("error %q", err)
	}
}
