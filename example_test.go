package reqfleet_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"

	"github.com/reqfleet/reqfleet"
	"github.com/reqfleet/reqfleet/enqueuer"
)

// Map is threaded.map: jobs in, responses and exceptions out.
func ExampleMap() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	jobs := enqueuer.FromURLs([]string{srv.URL + "/", srv.URL + "/missing", "ftp://example.com/"})
	ctx := context.Background()
	res, err := reqfleet.Map(ctx, jobs, reqfleet.Options{Concurrency: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()

	var codes []int
	for r, err := range res.Responses(ctx) {
		if err == nil {
			codes = append(codes, r.StatusCode)
		}
	}
	slices.Sort(codes)
	fmt.Println("responses:", codes)
	for e, err := range res.Exceptions(ctx) {
		if err == nil {
			fmt.Println("exception:", e.Exception.Type, e.Request.URL)
		}
	}
	// Output:
	// responses: [200 404]
	// exception: InvalidSchema ftp://example.com/
}
