package tasks

import "testing"

// BenchmarkDecodeTask decodes payloads as the enqueuer writes them: a bare
// GET, and one with headers, params, a timeout and meta.
func BenchmarkDecodeTask(b *testing.B) {
	for _, bc := range []struct{ name, payload string }{
		{"get", `{"batch":"20261203T115534-a0dd710e","attempt":1,"job":{"id":"045e5280-9cb6-400f-87be-e19c5305c6dd","url":"http://127.0.0.1:40000/p1.html?i=1"}}`},
		{"headers", `{"batch":"20261203T115534-a0dd710e","attempt":1,"job":{"id":"045e5280-9cb6-400f-87be-e19c5305c6dd","method":"GET","url":"http://127.0.0.1:40000/search","params":{"q":"reqfleet","page":2},"headers":{"Accept":"application/json","X-Trace":"abc"},"timeout":[3.05,27],"meta":{"source":"crawl"}}}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			payload := []byte(bc.payload)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeTask(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
