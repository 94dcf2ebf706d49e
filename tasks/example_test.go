package tasks_test

import (
	"errors"
	"fmt"

	"github.com/reqfleet/reqfleet/tasks"
)

func ExampleDecodeJob() {
	// A dict for requests_toolbelt's threaded.map, as json.dumps writes it.
	j, err := tasks.DecodeJob([]byte(`{"method": "post", "url": "https://httpbin.org/post",
		"data": {"name": "a b", "n": 2, "ok": true, "skip": null, "tag": ["x", "y"]},
		"auth": ["alice", "s3cret"], "timeout": [3.05, 27]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(j.Method, j.URL)
	fmt.Println(j.Data.Encode())
	fmt.Println(j.Auth)
	fmt.Println(j.Timeout.Connect, j.Timeout.Read, j.FollowRedirects())
	// Output:
	// POST https://httpbin.org/post
	// name=a+b&n=2&ok=True&tag=x&tag=y
	// [alice [REDACTED]]
	// 3.05s 27s true
}

func ExampleDecodeJob_errors() {
	for _, in := range []string{
		`{"method": "GET"}`,
		`{"url": "https://x", "verify": false}`,
		`{"url": "https://x", "timeout": 0}`,
		`["https://x"]`,
	} {
		_, err := tasks.DecodeJob([]byte(in))
		var fe *tasks.FieldError
		switch {
		case errors.As(err, &fe):
			fmt.Printf("%s: required=%v unknown=%v value=%v\n", fe.Field,
				errors.Is(err, tasks.ErrRequired), errors.Is(err, tasks.ErrUnknownField), errors.Is(err, tasks.ErrValue))
		case errors.Is(err, tasks.ErrNotObject):
			fmt.Println("not an object")
		}
	}
	// Output:
	// url: required=true unknown=false value=false
	// verify: required=false unknown=true value=false
	// timeout: required=false unknown=false value=true
	// not an object
}

func ExampleTask_OutcomeKey() {
	t := tasks.Task{Batch: "b1", Attempt: 2, Job: tasks.Job{ID: "row:7", URL: "https://x"}}
	fmt.Println(t.TaskID())
	fmt.Println(t.OutcomeKey())
	// Output:
	// b1:2:row:7
	// 2:row:7
}
