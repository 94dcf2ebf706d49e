package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

// GET /v1/hosts reads the hosts hash the workers count: most outcomes
// first, "other" as a host; an empty queue answers an empty list.
func TestHostsAPI(t *testing.T) {
	e := setup(t, nil)
	if h := decode[Hosts](t, e.do(t, "GET", "/v1/hosts", "", "")); h.Hosts == nil || len(h.Hosts) != 0 || h.Queue != "default" {
		t.Fatalf("empty: %+v", h)
	}
	ctx := context.Background()
	e.rdb.HSet(ctx, rdb.HostsKey("other"), rdb.HostField("a.example:443", rdb.CodeField(200)), 5,
		rdb.HostField(rdb.OtherHost, rdb.ExcField("ConnectionError")), 7)
	a := e.do(t, "GET", "/v1/hosts?queue=other", "", "")
	h := decode[Hosts](t, a)
	if a.code != http.StatusOK || len(h.Hosts) != 2 || h.Hosts[0].Host != rdb.OtherHost || h.Hosts[0].ByType["ConnectionError"] != 7 ||
		h.Hosts[1].Host != "a.example:443" || h.Hosts[1].ByStatus["200"] != 5 {
		t.Fatalf("hosts: %d %s", a.code, a.body)
	}
}
