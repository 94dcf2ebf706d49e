package enqueuer

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// BenchmarkEnqueuePath compares the fast path with asynq's Client on a real
// redis-server: b.N jobs read from JSONL as one batch, at each concurrency.
//
//	go test -run XXX -bench EnqueuePath -benchtime 200000x ./enqueuer/
func BenchmarkEnqueuePath(b *testing.B) {
	for _, asynqClient := range []bool{false, true} {
		for _, conc := range []int{16, 256} {
			name := fmt.Sprintf("fast/c=%d", conc)
			if asynqClient {
				name = fmt.Sprintf("asynq-client/c=%d", conc)
			}
			b.Run(name, func(b *testing.B) {
				v := newEnv(b, realBackend, func(c *Config) {
					c.AsynqClient, c.Concurrency = asynqClient, conc
				})
				in := bytes.Repeat([]byte(`{"url": "http://127.0.0.1:8080/"}`+"\n"), b.N) // as reqfleet bench's file
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
}
