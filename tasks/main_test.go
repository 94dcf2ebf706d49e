package tasks_test

import (
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/reqfleet/reqfleet/tasks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sentinels are the errors every decoding failure of a job must wrap.
var sentinels = []error{
	tasks.ErrSyntax, tasks.ErrNotObject, tasks.ErrUnknownField,
	tasks.ErrRequired, tasks.ErrType, tasks.ErrValue,
}

// mustDecode decodes a job that must be valid.
func mustDecode(t testing.TB, in string) tasks.Job {
	t.Helper()
	j, err := tasks.DecodeJob([]byte(in))
	if err != nil {
		t.Fatalf("DecodeJob(%s): %v", in, err)
	}
	return j
}

// checkErr checks that err wraps want and, when field is not empty, that it
// holds a *FieldError for that field.
func checkErr(t testing.TB, err, want error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q does not wrap %q", err, want)
	}
	if field == "" {
		return
	}
	var fe *tasks.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q holds no *FieldError", err)
	}
	if fe.Field != field {
		t.Fatalf("FieldError.Field = %q, want %q (error %q)", fe.Field, field, err)
	}
	if !errors.Is(fe, want) {
		t.Fatalf("FieldError %q does not wrap %q", fe, want)
	}
}

// wrapsSentinel reports whether err wraps exactly one of the sentinels.
func wrapsSentinel(err error) bool {
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	return n == 1
}

func ptr[T any](v T) *T { return &v }
