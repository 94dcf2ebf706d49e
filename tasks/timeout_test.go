package tasks_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestDecodeTimeout(t *testing.T) {
	tests := []struct {
		in   string
		want *tasks.Timeout
	}{
		{`5`, &tasks.Timeout{Connect: 5 * time.Second, Read: 5 * time.Second}},
		{`5.0`, &tasks.Timeout{Connect: 5 * time.Second, Read: 5 * time.Second}},
		{`0.5`, &tasks.Timeout{Connect: 500 * time.Millisecond, Read: 500 * time.Millisecond}},
		{`1e-3`, &tasks.Timeout{Connect: time.Millisecond, Read: time.Millisecond}},
		{`3.05`, &tasks.Timeout{Connect: 3050 * time.Millisecond, Read: 3050 * time.Millisecond}},
		{`0.29`, &tasks.Timeout{Connect: 290 * time.Millisecond, Read: 290 * time.Millisecond}},
		{`1e-10`, &tasks.Timeout{Connect: time.Nanosecond, Read: time.Nanosecond}}, // above 0: at least 1ns
		{`86400`, &tasks.Timeout{Connect: tasks.MaxTimeout, Read: tasks.MaxTimeout}},
		{`[3.05, 27]`, &tasks.Timeout{Connect: 3050 * time.Millisecond, Read: 27 * time.Second, Pair: true}},
		{`[null, 10]`, &tasks.Timeout{Read: 10 * time.Second, Pair: true}},
		{`[3, null]`, &tasks.Timeout{Connect: 3 * time.Second, Pair: true}},
		{`[null, null]`, &tasks.Timeout{Pair: true}},
		{`[ 1 , 2 ]`, &tasks.Timeout{Connect: time.Second, Read: 2 * time.Second, Pair: true}},
		{`null`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			j := mustDecode(t, `{"url": "http://x", "timeout": `+tt.in+`}`)
			if !reflect.DeepEqual(j.Timeout, tt.want) {
				t.Errorf("Timeout = %+v, want %+v", j.Timeout, tt.want)
			}
		})
	}
}

func TestDecodeTimeoutErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{`0`, tasks.ErrValue},
		{`0.0`, tasks.ErrValue},
		{`-0`, tasks.ErrValue},
		{`-1`, tasks.ErrValue},
		{`1e-400`, tasks.ErrValue}, // underflows to 0
		{`86400.001`, tasks.ErrValue},
		{`1e10`, tasks.ErrValue},
		{`1e400`, tasks.ErrValue}, // beyond float64: too large, not a wrong type
		{`-1e400`, tasks.ErrValue},
		{`[0, 1]`, tasks.ErrValue},
		{`[1, 0]`, tasks.ErrValue},
		{`[1, -1]`, tasks.ErrValue},
		{`[1, 1e400]`, tasks.ErrValue},
		{`[null, 100000]`, tasks.ErrValue},
		{`"5"`, tasks.ErrType},
		{`"NaN"`, tasks.ErrType},
		{`"Infinity"`, tasks.ErrType},
		{`true`, tasks.ErrType},
		{`{}`, tasks.ErrType},
		{`{"connect": 1, "read": 2}`, tasks.ErrType},
		{`[]`, tasks.ErrType},
		{`[1]`, tasks.ErrType},
		{`[1, 2, 3]`, tasks.ErrType},
		{`[1, "2"]`, tasks.ErrType},
		{`[true, 1]`, tasks.ErrType},
		{`[[1], 1]`, tasks.ErrType},
		{`[{}, 1]`, tasks.ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := tasks.DecodeJob([]byte(`{"url": "http://x", "timeout": ` + tt.in + `}`))
			checkErr(t, err, tt.want, "timeout")
			if !strings.Contains(err.Error(), "timeout") {
				t.Errorf("message %q does not name the field", err)
			}
		})
	}
}

func TestTimeoutMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   tasks.Timeout
		want string
	}{
		{"seconds", tasks.Timeout{Connect: 5 * time.Second, Read: 5 * time.Second}, `5`},
		{"fraction", tasks.Timeout{Connect: 1500 * time.Millisecond, Read: 1500 * time.Millisecond}, `1.5`},
		{"nanosecond", tasks.Timeout{Connect: 1, Read: 1}, `1e-9`},
		{"pair", tasks.Timeout{Connect: 3050 * time.Millisecond, Read: 27 * time.Second, Pair: true}, `[3.05,27]`},
		{"pair, no connect limit", tasks.Timeout{Read: 10 * time.Second, Pair: true}, `[null,10]`},
		{"pair, no read limit", tasks.Timeout{Connect: 10 * time.Second, Pair: true}, `[10,null]`},
		{"pair, no limit", tasks.Timeout{Pair: true}, `[null,null]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil || string(b) != tt.want {
				t.Fatalf("json.Marshal = %s, %v; want %s", b, err, tt.want)
			}
			j := mustDecode(t, `{"url": "http://x", "timeout": `+string(b)+`}`)
			if !reflect.DeepEqual(*j.Timeout, tt.in) {
				t.Errorf("round trip: %+v, want %+v", *j.Timeout, tt.in)
			}
		})
	}
}

// TestTimeoutRoundTrip checks that every duration survives MarshalJSON and
// decoding exactly, including those whose seconds are not exact floats:
// truncating instead of rounding lost a nanosecond.
func TestTimeoutRoundTrip(t *testing.T) {
	durations := []time.Duration{
		1, 2, 3, 7, 999, time.Microsecond, 290 * time.Millisecond, 1234567891, 3050 * time.Millisecond,
		1971831, 1001 * time.Millisecond, // seconds*1e9 falls just below: truncated, they lost 1ns
		time.Hour + 1, tasks.MaxTimeout - 1, tasks.MaxTimeout,
	}
	for d := time.Duration(1); d < tasks.MaxTimeout; d = d*3 + 7 {
		durations = append(durations, d)
	}
	for d := time.Duration(7919); d < 20_000*7919; d += 7919 {
		durations = append(durations, d)
	}
	for _, d := range durations {
		for _, pair := range []bool{false, true} {
			to := tasks.Timeout{Connect: d, Read: d, Pair: pair}
			b, err := json.Marshal(to)
			if err != nil {
				t.Fatal(err)
			}
			j, err := tasks.DecodeJob([]byte(`{"url": "http://x", "timeout": ` + string(b) + `}`))
			if err != nil {
				t.Fatalf("%v: %s: %v", d, b, err)
			}
			if *j.Timeout != to {
				t.Errorf("%v (pair %v): %s decodes as %+v", d, pair, b, *j.Timeout)
			}
		}
	}
	// And seconds as people write them, with up to 9 decimals.
	for _, s := range []string{"0.1", "0.2", "0.3", "0.29", "0.57", "1.1", "1.001", "1.005", "2.017", "4.999", "2.675", "1.000000001", "12345.678901234", "0.000000003"} {
		whole, frac, _ := strings.Cut(s, ".")
		w, _ := strconv.Atoi(whole)
		n, _ := strconv.Atoi((frac + "000000000")[:9])
		want := time.Duration(w)*time.Second + time.Duration(n)
		j := mustDecode(t, `{"url": "http://x", "timeout": `+s+`}`)
		if j.Timeout.Read != want {
			t.Errorf("timeout %s = %v, want %v", s, j.Timeout.Read, want)
		}
	}
}
