package enqueuer

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// BenchmarkEnqueueMany enqueues b.N jobs read from JSONL as one batch.
func BenchmarkEnqueueMany(b *testing.B) {
	for _, be := range []struct {
		name  string
		start func(testing.TB) (*redis.Client, *miniredis.Miniredis)
	}{{"miniredis", miniBackend}, {"redis-server", realBackend}} {
		b.Run(be.name, func(b *testing.B) {
			v := newEnv(b, be.start, nil)
			in := jsonlInput(b.N)
			b.ReportAllocs()
			b.ResetTimer()
			rec, err := v.e.EnqueueMany(context.Background(), ReadJSONL(bytes.NewReader(in), 0))
			b.StopTimer()
			if err != nil || rec.Accepted != b.N {
				b.Fatalf("%+v %v", rec, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

// BenchmarkReadJSONL is the reading and decoding alone.
func BenchmarkReadJSONL(b *testing.B) {
	in := jsonlInput(b.N)
	b.SetBytes(int64(len(in) / max(b.N, 1)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for _, err := range ReadJSONL(bytes.NewReader(in), 0) {
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "jobs/s")
}

func jsonlInput(n int) []byte {
	var buf bytes.Buffer
	for i := range n {
		fmt.Fprintf(&buf, `{"method": "POST", "url": "https://example.com/items/%d", "headers": {"Accept": "application/json"}, "json": {"n": %d}, "timeout": 5}`+"\n", i, i)
	}
	return buf.Bytes()
}
