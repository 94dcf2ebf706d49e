package worker

import (
	"net/url"
	"strings"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/tasks"
)

// detail is what an outcome counts in its batch (responses by status,
// exceptions by type) and, with host, in the queue's fleet-wide hosts hash
// (rdb.HostsKey), for the dashboard.
func detail(o tasks.Outcome) (field, host string) {
	switch v := o.(type) {
	case *tasks.Response:
		return rdb.CodeField(v.StatusCode), hostOf(v.Request.URL)
	case *tasks.Exception:
		return rdb.ExcField(v.Exception.Type), hostOf(v.Request.URL)
	}
	return "", ""
}

// hostOf is the URL's host[:port] in lower case, as the metrics' host
// label: never its user info, path or query; "invalid" when it has none.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "invalid"
	}
	return strings.ToLower(u.Host)
}
