package server

import (
	"context"
	"testing"

	"github.com/reqfleet/reqfleet/internal/rdb"
)

// The lookup finds every attempt of a job by its exact id, newest first,
// an id with quotes included, and not the jobs whose id merely contains it.
func TestLookup(t *testing.T) {
	e := setup(t, nil)
	s, err := New(Config{Redis: e.rdb})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	e.rdb.RPush(ctx, rdb.ExceptionsKey("default"),
		`{"id":"a\"b","batch":"B","exception":{"type":"ConnectionError","message":"m"},"attempt":1}`,
		`{"id":"a\"bc","batch":"B","exception":{"type":"ConnectionError","message":"m"},"attempt":1}`)
	e.rdb.RPush(ctx, rdb.ResultsKey("default"), `{"id":"a\"b","batch":"B","status_code":200,"attempt":2}`, `not json`)
	lk, err := s.lookupJob(ctx, "default", `a"b`)
	if err != nil {
		t.Fatal(err)
	}
	if len(lk.Outcomes) != 2 || lk.Scanned != 4 || lk.Partial {
		t.Fatalf("lookup %+v", lk)
	}
	if lk.Outcomes[0]["status_code"] == nil || lk.Outcomes[1]["exception"] == nil {
		t.Fatalf("outcomes %+v", lk.Outcomes)
	}
}
