package metrics

import (
	"net/url"
	"strings"
	"testing"
)

// urlHostByParse is urlHost as it was: url.Parse alone.
func urlHostByParse(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", false
	}
	return strings.ToLower(u.Host), true
}

var hostCases = []struct {
	url, host string
	plain     bool // read without url.Parse
}{
	{"http://127.0.0.1:8080/x?y#z", "127.0.0.1:8080", true},
	{"https://example.com", "example.com", true},
	{"http://example.com?q=/a", "example.com", true},
	{"http://example.com#/a", "example.com", true},
	{"HTTP://a-b.example/", "a-b.example", true},
	{"http://Example.COM:80/", "example.com:80", false},
	{"http://user:secret@example.com/", "example.com", false},
	{"http://[::1]:8080/", "[::1]:8080", false},
	{"http://example.com:/", "example.com:", false},
	{"http://example.com:8080:9/", "", false},
	{"http:///path", "", false},
	{"example.com/path", "", false},
	{"http://exa mple.com/", "", false},
	{"://example.com/", "", false},
	{"", "", false},
}

func TestURLHost(t *testing.T) {
	for _, tc := range hostCases {
		t.Run(tc.url, func(t *testing.T) {
			got, ok := urlHost(tc.url)
			if got != tc.host || ok != (tc.host != "") {
				t.Errorf("urlHost(%q) = %q, %v; want %q", tc.url, got, ok, tc.host)
			}
			if _, plain := plainHost(tc.url); plain != tc.plain {
				t.Errorf("plainHost(%q) took it: %v, want %v", tc.url, plain, tc.plain)
			}
			if want, wok := urlHostByParse(tc.url); got != want || ok != wok {
				t.Errorf("url.Parse reads %q, %v", want, wok)
			}
		})
	}
}

// FuzzURLHost: what plainHost reads, url.Parse reads the same.
func FuzzURLHost(f *testing.F) {
	for _, tc := range hostCases {
		f.Add(tc.url)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := urlHost(raw)
		want, wok := urlHostByParse(raw)
		if got != want || ok != wok {
			t.Fatalf("urlHost(%q) = %q, %v; url.Parse reads %q, %v", raw, got, ok, want, wok)
		}
	})
}

func TestCodeLabel(t *testing.T) {
	for code, want := range map[int]string{0: "0", 200: "200", 404: "404", 599: "599", 600: "600", 999: "999", -1: "-1"} {
		if got := codeLabel(code); got != want {
			t.Errorf("codeLabel(%d) = %q", code, got)
		}
	}
}

func BenchmarkURLHost(b *testing.B) {
	for _, tc := range []struct{ name, url string }{
		{"plain", "http://127.0.0.1:40000/path?q=1"},
		{"parsed", "http://user:pw@Example.COM:40000/path?q=1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, ok := urlHost(tc.url); !ok {
					b.Fatal("no host")
				}
			}
		})
	}
}
