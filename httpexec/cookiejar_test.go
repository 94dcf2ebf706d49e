package httpexec

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func jarURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newTestJar(t testing.TB, l CookieLimits) *boundedJar {
	t.Helper()
	j, err := newBoundedJar(l)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// names are the names of the cookies the jar sends to u, in its order.
func names(j http.CookieJar, u *url.URL) string {
	var b []string
	for _, c := range j.Cookies(u) {
		b = append(b, c.Name)
	}
	return strings.Join(b, ",")
}

func TestBoundedJar(t *testing.T) {
	a, b := jarURL(t, "http://a.example/x/y"), jarURL(t, "http://b.example/")
	set := func(j *boundedJar, u *url.URL, cs ...*http.Cookie) { j.SetCookies(u, cs) }
	ck := func(name string) *http.Cookie { return &http.Cookie{Name: name, Value: "v", Path: "/"} }
	tests := []struct {
		name   string
		limits CookieLimits
		do     func(j *boundedJar)
		u      *url.URL
		want   string
		wantN  int
	}{
		{"kept as cookiejar keeps them", CookieLimits{}, func(j *boundedJar) { set(j, a, ck("c1"), ck("c2")) }, a, "c1,c2", 2},
		{"per host: the oldest goes", CookieLimits{MaxPerHost: 2}, func(j *boundedJar) {
			set(j, a, ck("c1"), ck("c2"))
			set(j, b, ck("b1"))
			set(j, a, ck("c3"))
		}, a, "c2,c3", 3},
		{"a replaced cookie is new again", CookieLimits{MaxPerHost: 2}, func(j *boundedJar) {
			set(j, a, ck("c1"), ck("c2"))
			set(j, a, ck("c1"))
			set(j, a, ck("c3"))
		}, a, "c1,c3", 2},
		{"a deleted cookie frees its place", CookieLimits{MaxPerHost: 2}, func(j *boundedJar) {
			set(j, a, ck("c1"), ck("c2"))
			set(j, a, &http.Cookie{Name: "c1", Path: "/", MaxAge: -1})
			set(j, a, ck("c3"))
		}, a, "c2,c3", 2},
		{"in all: the oldest of any host goes", CookieLimits{MaxCookies: 2}, func(j *boundedJar) {
			set(j, b, ck("b1"))
			set(j, a, ck("c1"), ck("c2"))
		}, b, "", 2},
		{"bytes per host", CookieLimits{MaxBytesPerHost: 3000}, func(j *boundedJar) {
			for i := range 5 {
				set(j, a, &http.Cookie{Name: "c" + strconv.Itoa(i), Value: strings.Repeat("v", 1000), Path: "/"})
			}
		}, a, "c3,c4", 2},
		{"a cookie over 4 KiB is ignored", CookieLimits{}, func(j *boundedJar) {
			set(j, a, &http.Cookie{Name: "big", Value: strings.Repeat("v", 5000)}, ck("c1"))
		}, a, "c1", 1},
		{"default path cookies evicted too", CookieLimits{MaxPerHost: 1}, func(j *boundedJar) {
			set(j, a, &http.Cookie{Name: "p1", Value: "v"})
			set(j, a, &http.Cookie{Name: "p2", Value: "v"})
		}, a, "p2", 1},
		{"domain cookies evicted too", CookieLimits{MaxPerHost: 1}, func(j *boundedJar) {
			set(j, a, &http.Cookie{Name: "d1", Value: "v", Domain: ".a.example", Path: "/"})
			set(j, a, &http.Cookie{Name: "d2", Value: "v", Domain: "a.example", Path: "/"})
		}, a, "d2", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newTestJar(t, tt.limits)
			tt.do(j)
			if got := names(j, tt.u); got != tt.want {
				t.Errorf("cookies %q, want %q", got, tt.want)
			}
			if n := j.len(); n != tt.wantN {
				t.Errorf("index holds %d, want %d", n, tt.wantN)
			}
		})
	}
	t.Run("negative limit", func(t *testing.T) {
		if _, err := newBoundedJar(CookieLimits{MaxCookies: -1}); !errors.Is(err, errNegativeCookieLimit) {
			t.Errorf("err = %v", err)
		}
		if _, err := NewSession(SessionConfig{Cookies: CookieLimits{MaxPerHost: -1}}); !errors.Is(err, errNegativeCookieLimit) {
			t.Errorf("NewSession err = %v", err)
		}
	})
}

// TestHostileCookies: jobs each setting 1000 cookies of 1 KB leave the
// session's jar within its limits. (The 150 such jobs are the
// RSS measurement's; 10 show the bound, and each job's Cookie header is
// built quadratically by net/http, which is slow under -race.)
func TestHostileCookies(t *testing.T) {
	value := strings.Repeat("c", 1000)
	srv := exServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Err() != nil {
			return
		}
		job := r.URL.Query().Get("job")
		for i := range 1000 {
			w.Header().Add("Set-Cookie", "j"+job+"n"+strconv.Itoa(i)+"="+value+"; Path=/")
		}
	})
	e := exExecutor(t, ExecConfig{})
	// 1000 cookies of 1 KB are 1 MB of headers, over the default header
	// block cap (which would make these jobs ConnectionErrors and leave
	// the jar alone): raised, so the jar's own bounds are what holds.
	s := exSession(t, SessionConfig{MaxResponseHeaderBytes: 2 << 20})
	jar, ok := s.Client.Jar.(*boundedJar)
	if !ok {
		t.Fatalf("session jar %T, want *boundedJar", s.Client.Jar)
	}
	const jobs = 10
	for i := range jobs {
		r := exResponse(t, exRun(t, e, s, exJob(srv.URL+"/?job="+strconv.Itoa(i))))
		if r.StatusCode != 200 {
			t.Fatalf("job %d: status %d", i, r.StatusCode)
		}
	}
	u := jarURL(t, srv.URL)
	sent := jar.Cookies(u)
	bytes := 0
	for _, c := range sent {
		bytes += len(c.Name) + len(c.Value)
	}
	if len(sent) == 0 || len(sent) > 180 || bytes > 256<<10 || jar.len() > 180 {
		t.Errorf("jar sends %d cookies (%d bytes), indexes %d: want at most 180 and 256 KiB", len(sent), bytes, jar.len())
	}
	if !strings.HasPrefix(sent[len(sent)-1].Name, "j"+strconv.Itoa(jobs-1)+"n") {
		t.Errorf("newest cookie %q, want one of the last job", sent[len(sent)-1].Name)
	}
}
