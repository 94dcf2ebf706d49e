package server

import (
	"testing"

	"github.com/reqfleet/reqfleet/outcomes"
)

// servedWorkers keeps the workers of the served queues, by name.
func TestServedWorkers(t *testing.T) {
	s := &Server{cfg: Config{Queues: []string{"a", "b"}}}
	fleet := []outcomes.FleetWorker{
		{Name: "z", Queues: map[string]int{"b": 1}},
		{Name: "x", Queues: map[string]int{"c": 1}},
		{Name: "y", Queues: map[string]int{"a": 1, "c": 2}},
	}
	got := s.servedWorkers(fleet)
	if len(got) != 2 || got[0].Name != "y" || got[1].Name != "z" {
		t.Fatalf("served %+v", got)
	}
	if got := s.servedWorkers(nil); got == nil || len(got) != 0 {
		t.Fatalf("none: %#v", got) // [] in JSON, not null
	}
}
