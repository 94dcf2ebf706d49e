package tasks

import (
	"testing"
	"time"
)

// BenchmarkAppendOutcome writes the response line of a decoded job, as the
// worker records it: the job unchanged since its decode, so written in its
// kept form (the check that it is unchanged included).
func BenchmarkAppendOutcome(b *testing.B) {
	for _, bc := range []struct{ name, payload string }{
		{"get", `{"batch":"b","attempt":1,"job":{"id":"045e5280-9cb6-400f-87be-e19c5305c6dd","url":"http://127.0.0.1:40000/p1.html?i=1"}}`},
		{"headers", `{"batch":"b","attempt":1,"job":{"id":"045e5280-9cb6-400f-87be-e19c5305c6dd","method":"GET","url":"http://127.0.0.1:40000/search","params":{"q":"reqfleet","page":2},"headers":{"Accept":"application/json","X-Trace":"abc"},"timeout":[3.05,27],"meta":{"source":"crawl"}}}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			t, err := DecodeTask([]byte(bc.payload))
			if err != nil {
				b.Fatal(err)
			}
			r := &Response{ID: t.Job.ID, Batch: t.Batch, Request: t.Job, StatusCode: 200, Reason: "OK",
				Headers: map[string]string{"Content-Type": "text/html", "Content-Length": "64"}, URL: t.Job.URL,
				Body: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ElapsedMS: 1.25,
				Attempt: 1, Worker: "host-1", FinishedAt: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = AppendOutcome(buf[:0], r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
