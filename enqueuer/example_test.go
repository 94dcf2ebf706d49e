package enqueuer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/reqfleet/reqfleet/enqueuer"
	"github.com/reqfleet/reqfleet/tasks"
)

func ExampleEnqueuer_EnqueueMany() {
	mr, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 32}) // PoolSize >= Concurrency
	defer rdb.Close()

	e, err := enqueuer.New(enqueuer.Config{Redis: rdb, Queue: "crawl"})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	jobs := `{"url": "https://example.com/1"}
{"method": "POST", "url": "https://example.com/2", "json": {"a": 1}, "timeout": 5}
{"url": "https://example.com/3", "timeout": "soon"}
{"url": "https://example.com/4"}
`
	rec, err := e.EnqueueMany(context.Background(), enqueuer.ReadJSONL(strings.NewReader(jobs), 0))
	var le *enqueuer.LineError
	if errors.As(err, &le) {
		fmt.Println("stopped at line", le.Line, "type error:", errors.Is(err, tasks.ErrType))
	}
	fmt.Println("accepted:", rec.Accepted)
	// Output:
	// stopped at line 3 type error: true
	// accepted: 2
}
