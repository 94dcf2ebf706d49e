package server

import (
	"errors"
	"net/url"
	"strconv"

	"github.com/reqfleet/reqfleet/tasks"
)

// retriesParam is the retry policy of POST /v1/jobs' ?retries=N
// &retry_on=LIST&retry_backoff=F for the jobs without one of their own (as
// the CLI's --retries, --retry-on, --retry-backoff); nil for none.
func retriesParam(q url.Values) (*tasks.Retry, *apiError) {
	if q.Get("retries") == "" && q.Get("retry_on") == "" && q.Get("retry_backoff") == "" {
		return nil, nil
	}
	total, backoff := 0, 0.0
	var err error
	if s := q.Get("retries"); s != "" {
		if total, err = strconv.Atoi(s); err != nil {
			return nil, &apiError{Error: "retries: must be a whole number", Field: "retries"}
		}
	}
	if s := q.Get("retry_backoff"); s != "" {
		if backoff, err = strconv.ParseFloat(s, 64); err != nil {
			return nil, &apiError{Error: "retry_backoff: must be a number of seconds", Field: "retry_backoff"}
		}
	}
	p, err := tasks.RetryFlags(total, q.Get("retry_on"), backoff)
	var fe *tasks.FieldError
	if errors.As(err, &fe) {
		return nil, &apiError{Error: fe.Field + ": " + fe.Detail, Field: fe.Field}
	}
	if err != nil {
		return nil, &apiError{Error: err.Error()}
	}
	return p, nil
}
