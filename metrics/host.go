package metrics

import (
	"net/url"
	"strconv"
	"strings"
)

// urlHost is the host label's source: rawURL's host[:port] in lower case,
// as url.Parse reads it (never its user info); ok is false when it has
// none that parses. A plain URL (scheme://host[:port] then a path, query
// or fragment, the host in lower-case letters, digits, dots and dashes)
// is read without url.Parse, which costs a job's outcome more than the
// rest of its metrics; anything else goes through it. FuzzURLHost checks
// that the two agree.
func urlHost(rawURL string) (host string, ok bool) {
	if h, ok := plainHost(rawURL); ok {
		return h, true
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", false
	}
	return strings.ToLower(u.Host), true // never u.User
}

// plainHost is urlHost's way without url.Parse: ok only for a URL whose
// scheme is letters and whose authority is a lower-case host of letters,
// digits, dots and dashes with at most a port of digits, with no escape,
// space or control byte anywhere (which url.Parse may refuse).
func plainHost(rawURL string) (string, bool) {
	for j := range len(rawURL) {
		if c := rawURL[j]; c <= ' ' || c == 0x7f || c == '%' {
			return "", false
		}
	}
	i := strings.Index(rawURL, "://")
	if i <= 0 {
		return "", false
	}
	for j := range i {
		if c := rawURL[j]; (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return "", false
		}
	}
	rest := rawURL[i+3:]
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	host, port, hasPort := strings.Cut(rest, ":")
	if host == "" || hasPort && port == "" {
		return "", false
	}
	for j := range len(host) {
		if c := host[j]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '-' {
			return "", false
		}
	}
	for j := range len(port) {
		if c := port[j]; c < '0' || c > '9' {
			return "", false
		}
	}
	return rest, true
}

// codeLabels are the code labels of the usual statuses, made once.
var codeLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

// codeLabel is a status code's label: its decimal digits.
func codeLabel(code int) string {
	if code >= 0 && code < len(codeLabels) {
		return codeLabels[code]
	}
	return strconv.Itoa(code)
}
