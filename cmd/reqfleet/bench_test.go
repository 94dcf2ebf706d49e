package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/reqfleet/reqfleet/internal/testredis"
)

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "-n", "0"},
		{"bench", "--workers", "0"},
		{"bench", "--shards", "-1"},
		{"bench", "--fetch-batch", "-1"},
		{"bench", "extra"},
		{"bench", "--in-process", "--cpuprofile-dir", "/tmp"},
	} {
		var c cli
		ctx := context.Background()
		if got := exitCode(ctx, c.run(ctx, args...)); got != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, got, exitUsage)
		}
	}
	var c cli
	ctx := context.Background()
	for _, flag := range []string{"--shards", "--fetch-batch"} {
		if got := exitCode(ctx, c.run(ctx, "worker", flag, "-2")); got != exitUsage {
			t.Errorf("worker %s -2: exit %d", flag, got)
		}
	}
}

// A tiny in-process bench prints its JSON (the figures are checked in
// package bench; the speed is the bench's to print, never a test's).
func TestBenchJSON(t *testing.T) {
	srv := testredis.Start(t)
	var c cli
	err := c.run(context.Background(), "bench", "--in-process", "--redis", srv.URL(), "-n", "200", "-c", "4",
		"--rounds", "1", "--idle-probes", "1", "--latency-jobs", "20", "--latency-rate", "200", "-q", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, c.stderr.String())
	}
	var res struct {
		Jobs     int     `json:"jobs"`
		EndToEnd float64 `json:"end_to_end_jobs_per_s"`
		Ratio    float64 `json:"ratio"`
	}
	if err := json.Unmarshal([]byte(c.stdout.String()), &res); err != nil || res.Jobs != 200 || res.EndToEnd <= 0 || res.Ratio <= 0 {
		t.Fatalf("%+v %v\n%s", res, err, c.stdout.String())
	}
}

// --ceiling-of runs only the ceiling's client: -n requests in all, from -c
// clients, and prints its rate.
func TestBenchCeilingOf(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	var c cli
	if err := c.run(context.Background(), "bench", "--ceiling-of", srv.URL, "-n", "40", "-c", "3"); err != nil {
		t.Fatalf("%v\n%s", err, c.stderr.String())
	}
	var res struct {
		Rate float64 `json:"ceiling_jobs_per_s"`
	}
	if err := json.Unmarshal([]byte(c.stdout.String()), &res); err != nil || res.Rate <= 0 {
		t.Fatalf("%+v %v\n%s", res, err, c.stdout.String())
	}
	if n := hits.Load(); n != 40 {
		t.Fatalf("%d requests, want 40", n)
	}
}
