package outcomes

import (
	"context"
	"reflect"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/rdb"
	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestHosts(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx := context.Background()
		r.HSet(ctx, rdb.HostsKey("q"),
			rdb.HostField("a:80", rdb.CodeField(200)), 3, rdb.HostField("a:80", rdb.CodeField(500)), 1,
			rdb.HostField("a:80", rdb.ExcField("ReadTimeout")), 2, rdb.HostField("b", rdb.ExcField("ConnectionError")), 9)
		rd, err := NewReader(r, "q")
		if err != nil {
			t.Fatal(err)
		}
		got, err := rd.Hosts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []HostCounts{
			{Host: "b", Exceptions: 9, ByType: map[string]int64{"ConnectionError": 9}},
			{Host: "a:80", Responses: 4, Exceptions: 2, ByStatus: map[string]int64{"200": 3, "500": 1}, ByType: map[string]int64{"ReadTimeout": 2}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("hosts\n got %+v\nwant %+v", got, want)
		}
	})
}

func TestBatchDetails(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx := context.Background()
		r.HSet(ctx, rdb.BatchKey("q", "B"), rdb.BatchAccepted, 3, rdb.BatchDone, 3, rdb.CodeField(200), 2,
			rdb.ExcField("ConnectionError"), 1, rdb.ExcField("ReadTimeout"), 0)
		rd, _ := NewReader(r, "q")
		st, err := rd.Batch(ctx, "B")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(st.ByStatus, map[string]int64{"200": 2}) || !reflect.DeepEqual(st.ByType, map[string]int64{"ConnectionError": 1}) {
			t.Fatalf("by status %v, by type %v", st.ByStatus, st.ByType)
		}
	})
}
