package limits

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		rate int
		per  time.Duration
		ok   bool
	}{
		{"20/s", 20, time.Second, true},
		{"20", 20, time.Second, true},
		{"300/m", 300, time.Minute, true},
		{"1000/h", 1000, time.Hour, true},
		{"5/10s", 5, 10 * time.Second, true},
		{"0/s", 0, 0, false},
		{"-1/s", 0, 0, false},
		{"x/s", 0, 0, false},
		{"5/d", 0, 0, false},
		{"5/0s", 0, 0, false},
		{"2000000/s", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			rate, per, err := ParseRate(tt.in)
			if (err == nil) != tt.ok || rate != tt.rate || per != tt.per {
				t.Fatalf("ParseRate(%q) = %d, %v, %v", tt.in, rate, per, err)
			}
			if err != nil && !errors.Is(err, ErrRate) {
				t.Fatalf("error %v is not ErrRate", err)
			}
			if tt.ok {
				if r2, p2, _ := ParseRate(FormatRate(rate, per)); r2 != rate || p2 != per {
					t.Fatalf("FormatRate does not round-trip: %s", FormatRate(rate, per))
				}
			}
		})
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Example.COM", "example.com"},
		{"example.com:8443", "example.com"},
		{"example.com.", "example.com"},
		{"*.Example.com", "*.example.com"},
		{"[::1]:80", "::1"},
		{"127.0.0.1", "127.0.0.1"},
		{"", ""},
		{"*", ""},
		{"a*.example.com", ""},
		{"http://example.com/", ""},
		{"a b", ""},
		{"{tag}", ""},
		{"user@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeHost(tt.in)
			if got != tt.want || (err == nil) != (tt.want != "") {
				t.Fatalf("NormalizeHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://User:pw@Example.com:8443/p?q": "example.com",
		"http://example.com./":                 "example.com",
		"http://[::1]:9/":                      "::1",
		"not a url\x7f":                        "",
	} {
		if got := HostOf(in); got != want {
			t.Errorf("HostOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTableLookup(t *testing.T) {
	ten := Limit{Rate: 10}
	two := Limit{Concurrency: 2}
	one := Limit{Concurrency: 1}
	tab := NewTable(map[string]Limit{
		"example.com":     ten,
		"*.example.com":   two,
		"*.a.example.com": one,
	}, Limit{})
	tests := []struct {
		host, key string
		l         Limit
		ok        bool
	}{
		{"example.com", "example.com", ten, true},
		{"b.example.com", "*.example.com", two, true},
		{"x.a.example.com", "*.a.example.com", one, true},
		{"a.example.com", "*.example.com", two, true},
		{"example.org", "", Limit{}, false},
		{"notexample.com", "", Limit{}, false},
	}
	for _, tt := range tests {
		key, l, ok := tab.Lookup(tt.host)
		if key != tt.key || l != tt.l || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q %+v %v; want %q %+v %v", tt.host, key, l, ok, tt.key, tt.l, tt.ok)
		}
	}
	if !NewTable(nil, Limit{}).Empty() || tab.Empty() {
		t.Error("Empty wrong")
	}
	def := NewTable(nil, Limit{Rate: 5})
	if key, l, ok := def.Lookup("example.org"); !ok || key != "example.org" || l.Rate != 5 {
		t.Errorf("default: %q %+v %v; want each host its own key", key, l, ok)
	}
	if _, _, ok := def.Lookup("bad{host}"); ok {
		t.Error("a host that cannot name a key got the default")
	}
}

func TestLimitValidate(t *testing.T) {
	for _, l := range []Limit{{}, {Rate: -1}, {Concurrency: -1}, {Rate: 1, Per: time.Nanosecond}, {Rate: MaxRate + 1}} {
		if err := l.Validate(); !errors.Is(err, ErrLimit) {
			t.Errorf("%+v: %v, want ErrLimit", l, err)
		}
	}
	if s := (Limit{Rate: 20, Concurrency: 3}).String(); s != "20/s burst 1 concurrency 3" {
		t.Errorf("String: %q", s)
	}
}

func TestStore(t *testing.T) {
	testredis.Each(t, func(t *testing.T, r redis.UniversalClient) {
		ctx, s := context.Background(), NewStore(r)
		key, err := s.Set(ctx, "Example.com:443", Limit{Rate: 20, Burst: 5, Concurrency: 3})
		if err != nil || key != "example.com" {
			t.Fatalf("Set: %q %v", key, err)
		}
		if _, err := s.Set(ctx, "*.example.org", Limit{Concurrency: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Set(ctx, "bad host", Limit{Rate: 1}); !errors.Is(err, ErrHost) {
			t.Errorf("bad host: %v", err)
		}
		tab, err := s.Table(ctx, Limit{})
		if err != nil {
			t.Fatal(err)
		}
		if k, l, ok := tab.Lookup("a.example.org"); !ok || k != "*.example.org" || l.Concurrency != 2 {
			t.Errorf("lookup: %q %+v %v", k, l, ok)
		}
		if _, l, _ := tab.Lookup("example.com"); l != (Limit{Rate: 20, Per: time.Second, Burst: 5, Concurrency: 3}) {
			t.Errorf("stored limit %+v", l)
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 2 || list[0].Host != "*.example.org" || list[1].Host != "example.com" {
			t.Fatalf("List: %+v %v", list, err)
		}
		ok, err := s.Remove(ctx, "EXAMPLE.com")
		if err != nil || !ok {
			t.Fatalf("Remove: %v %v", ok, err)
		}
		if _, ok, _ := s.Get(ctx, "example.com"); ok {
			t.Error("removed limit still listed")
		}
		v, _ := s.Version(ctx)
		if v != tab.Version()+1 {
			t.Errorf("version %d after one more change from %d", v, tab.Version())
		}
	})
}
