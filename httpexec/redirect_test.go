package httpexec

import (
	"net/url"
	"testing"
)

// TestShouldStripAuth: the wants are requests' Session.should_strip_auth
// (2.34) for the same URLs, the cases the loopback suite cannot reach
// (the default ports 80 and 443).
func TestShouldStripAuth(t *testing.T) {
	tests := []struct {
		old, cur string
		want     bool
	}{
		{"http://a/x", "http://a/y", false},
		{"http://a/x", "http://a:81/y", true},
		{"http://a/x", "https://a/y", false},
		{"http://a:80/x", "https://a:443/y", false},
		{"http://a/x", "https://a:8443/y", true},
		{"http://a:8080/x", "https://a/y", true},
		{"https://a/x", "http://a/y", true},
		{"http://a/x", "http://b/y", true},
		{"http://A/x", "http://a/y", false},
		{"https://a:443/x", "https://a/y", false},
		{"http://a:80/x", "http://a/y", false},
		{"https://a/x", "https://a:80/y", true},
		{"http://a:81/x", "http://a:81/y", false},
	}
	for _, tt := range tests {
		t.Run(tt.old+" to "+tt.cur, func(t *testing.T) {
			o, err := url.Parse(tt.old)
			if err != nil {
				t.Fatal(err)
			}
			c, err := url.Parse(tt.cur)
			if err != nil {
				t.Fatal(err)
			}
			if got := shouldStripAuth(o, c); got != tt.want {
				t.Errorf("shouldStripAuth = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRequoteURI: the wants are requests.utils.requote_uri's.
func TestRequoteURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/b?q=a b&r=%41", "/b?q=a%20b&r=A"},
		{"/é", "/%C3%A9"},
		{"/%7e%2f", "/~%2f"},
		{"/100%", "/100%"},
		{"/%zz%20", "/%25zz%2520"},
		{"/a#f g", "/a#f%20g"},
		{"/[x]!$&'()*+,;=:@", "/[x]!$&'()*+,;=:@"},
		{"/a|b\"c<d>", "/a%7Cb%22c%3Cd%3E"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := requoteURI(tt.in); got != tt.want {
				t.Errorf("requoteURI(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
