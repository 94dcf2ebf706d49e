package httpexec

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestSessionConfigValidate(t *testing.T) {
	mustURL := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name    string
		in      SessionConfig
		wantErr bool
		wantMax int
	}{
		{"defaults", SessionConfig{}, false, 16},
		{"kept", SessionConfig{MaxIdleConnsPerHost: 3}, false, 3},
		{"negative idle", SessionConfig{MaxIdleConnsPerHost: -1}, true, 0},
		{"http proxy", SessionConfig{Proxy: mustURL("http://127.0.0.1:3128")}, false, 16},
		{"socks5h proxy", SessionConfig{Proxy: mustURL("socks5h://127.0.0.1:1080")}, false, 16},
		{"ftp proxy", SessionConfig{Proxy: mustURL("ftp://127.0.0.1")}, true, 0},
		{"proxy without host", SessionConfig{Proxy: mustURL("http:///x")}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.in
			err := c.validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("validate() = %v, want error %v", err, tt.wantErr)
			}
			s, nerr := NewSession(tt.in)
			if (nerr != nil) != tt.wantErr {
				t.Fatalf("NewSession() = %v, want error %v", nerr, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			t.Cleanup(s.Close)
			if c.MaxIdleConnsPerHost != tt.wantMax || c.DialContext == nil {
				t.Errorf("config %+v", c)
			}
			if tr := exTransport(t, s); tr.MaxIdleConnsPerHost != tt.wantMax || tr.Proxy == nil || !tr.DisableCompression {
				t.Errorf("transport: MaxIdleConnsPerHost %d, proxy set %v, DisableCompression %v", tr.MaxIdleConnsPerHost, tr.Proxy != nil, tr.DisableCompression)
			}
		})
	}
}

func TestNewSession(t *testing.T) {
	a, b := exSession(t, SessionConfig{}), exSession(t, SessionConfig{Insecure: true})
	if a.Client == nil || a.Client.Jar == nil || a.Header == nil || a.Auth != nil {
		t.Fatalf("session %+v", a)
	}
	if a.Client == b.Client || a.Client.Jar == b.Client.Jar || exTransport(t, a) == exTransport(t, b) {
		t.Error("sessions share a client, jar or transport")
	}
	if exTransport(t, a).TLSClientConfig.InsecureSkipVerify || !exTransport(t, b).TLSClientConfig.InsecureSkipVerify {
		t.Error("Insecure not applied")
	}
	p := exTransport(t, a).Protocols
	if p == nil || !p.HTTP1() || p.HTTP2() {
		t.Errorf("protocols %v: want HTTP/1.1 only, as requests", p)
	}
}

func TestSessionCloseTolerant(t *testing.T) {
	var nilSession *Session
	nilSession.Close()
	(&Session{}).Close()
	s := exSession(t, SessionConfig{})
	s.Close()
	s.Close()
}

// TestSessionHooks: Initializer and AuthGenerator are plain functions of a
// session; the worker applies them in that order.
func TestSessionHooks(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		init     Initializer
		auth     AuthGenerator
		wantErr  error
		wantUser string
	}{
		{"both", func(s *Session) (*Session, error) { s.Header.Set("X-Init", "1"); return s, nil },
			func(s *Session) (*Session, error) { s.Auth = exAuth("gen"); return s, nil }, nil, "gen"},
		{"replacement session", func(s *Session) (*Session, error) {
			n := *s
			n.Auth = exAuth("replaced")
			return &n, nil
		}, func(s *Session) (*Session, error) { return s, nil }, nil, "replaced"},
		{"initializer fails", func(*Session) (*Session, error) { return nil, boom }, nil, boom, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.init(exSession(t, SessionConfig{}))
			if err == nil && tt.auth != nil {
				s, err = tt.auth(s)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (s.Auth == nil || s.Auth.User != tt.wantUser) {
				t.Errorf("auth %v, want user %q", s.Auth, tt.wantUser)
			}
		})
	}
}

func TestLimitDial(t *testing.T) {
	type result struct {
		deadline bool
		left     time.Duration
	}
	seen := make(chan result, 1)
	boom := errors.New("boom")
	base := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dl, ok := ctx.Deadline()
		seen <- result{ok, time.Until(dl)}
		if ok {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, boom
	}
	dial := limitDial(base)
	t.Run("outside a job: as it is", func(t *testing.T) {
		_, err := dial(context.Background(), "tcp", "x:1")
		if r := <-seen; r.deadline || !errors.Is(err, boom) {
			t.Errorf("deadline %v, err %v", r.deadline, err)
		}
	})
	t.Run("connect timeout", func(t *testing.T) {
		a := &attempt{jobTimeout: time.Minute, deadline: time.Now().Add(time.Minute)}
		a.timeout.Connect = 20 * time.Millisecond
		_, err := dial(context.WithValue(context.Background(), attemptKey{}, a), "tcp", "x:1")
		var ct *connectTimeoutError
		if r := <-seen; !r.deadline || r.left > time.Second || !errors.As(err, &ct) || ct.addr != "x:1" || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("deadline %v in %v, err %v", r.deadline, r.left, err)
		}
	})
	t.Run("the job's deadline comes first", func(t *testing.T) {
		a := &attempt{jobTimeout: time.Minute, deadline: time.Now().Add(20 * time.Millisecond)}
		a.timeout.Connect = time.Minute
		_, err := dial(context.WithValue(context.Background(), attemptKey{}, a), "tcp", "x:1")
		if r := <-seen; !r.deadline || r.left > time.Second || classify(err) != tasks.TotalTimeout {
			t.Errorf("deadline %v in %v, err %v (%s)", r.deadline, r.left, err, classify(err))
		}
	})
	t.Run("refused within the time", func(t *testing.T) {
		refused := limitDial(func(context.Context, string, string) (net.Conn, error) { return nil, boom })
		a := &attempt{jobTimeout: time.Minute, deadline: time.Now().Add(time.Minute)}
		a.timeout.Connect = time.Minute
		_, err := refused(context.WithValue(context.Background(), attemptKey{}, a), "tcp", "x:1")
		if err != boom {
			t.Errorf("err = %v, want the dial's own", err)
		}
	})
}

func TestJobJar(t *testing.T) {
	s := exSession(t, SessionConfig{})
	u, _ := url.Parse("http://x.example/")
	s.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "a", Value: "jar"}, {Name: "b", Value: "jar"}})
	names := func(cs []*http.Cookie) (out []string) {
		for _, c := range cs {
			out = append(out, c.Name+"="+c.Value)
		}
		return out
	}
	tests := []struct {
		name string
		jar  *jobJar
		want []string
	}{
		{"skips the job's names", &jobJar{jar: s.Client.Jar, job: map[string]string{"a": "job"}}, []string{"b=jar"}},
		{"replace sends none", &jobJar{jar: s.Client.Jar, replace: true}, nil},
		{"no session jar", &jobJar{job: map[string]string{"a": "job"}}, nil},
		{"redirected: the job's then the jar's", &jobJar{jar: s.Client.Jar, job: map[string]string{"a": "job"}, replace: true, redirected: true}, []string{"a=job", "a=jar", "b=jar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(tt.jar.cookies(u)); !slices.Equal(got, tt.want) {
				t.Errorf("Cookies = %v, want %v", got, tt.want)
			}
		})
	}
	(&jobJar{jar: s.Client.Jar, replace: true}).SetCookies(u, []*http.Cookie{{Name: "c", Value: "new"}})
	if got := names(s.Client.Jar.Cookies(u)); len(got) != 3 {
		t.Errorf("jar %v: SetCookies must reach the session's jar", got)
	}
}

func exAuth(user string) *tasks.Auth { return &tasks.Auth{User: user, Password: "pw"} }

func TestSessionConfigCaps(t *testing.T) {
	tests := []struct {
		name       string
		in         SessionConfig
		wantErr    error
		wantHeader int64
	}{
		{"default header block", SessionConfig{}, nil, 256 << 10},
		{"header block kept", SessionConfig{MaxResponseHeaderBytes: 1 << 20}, nil, 1 << 20},
		{"negative header block", SessionConfig{MaxResponseHeaderBytes: -1}, errNegativeHeaderBlock, 0},
		{"negative cookie limit", SessionConfig{Cookies: CookieLimits{MaxBytes: -1}}, errNegativeCookieLimit, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSession(tt.in)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("NewSession() = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			t.Cleanup(s.Close)
			if tr := exTransport(t, s); tr.MaxResponseHeaderBytes != tt.wantHeader {
				t.Errorf("MaxResponseHeaderBytes %d, want %d", tr.MaxResponseHeaderBytes, tt.wantHeader)
			}
			if _, ok := s.Client.Jar.(*boundedJar); !ok {
				t.Errorf("jar %T, want *boundedJar", s.Client.Jar)
			}
		})
	}
}
