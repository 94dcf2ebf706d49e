package tasks

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped) by the decoders in this package.
// Match them with errors.Is; a *FieldError names the field at fault.
var (
	// ErrSyntax: the input is not valid JSON.
	ErrSyntax = errors.New("not valid JSON")
	// ErrNotObject: a job must be a JSON object.
	ErrNotObject = errors.New("a job must be a JSON object")
	// ErrUnknownField: a key that is not one of the job's fields.
	ErrUnknownField = errors.New("unknown field")
	// ErrRequired: a required field is missing or empty.
	ErrRequired = errors.New("required field missing")
	// ErrType: a field has the wrong JSON type.
	ErrType = errors.New("wrong type")
	// ErrValue: a field has the right type but a value that cannot be used.
	ErrValue = errors.New("invalid value")
	// ErrQueue: a queue name that reqfleet cannot use in its Redis keys.
	ErrQueue = errors.New("invalid queue name")
)

// FieldError says which field of a job is wrong and why.
type FieldError struct {
	Field  string // the job's key, e.g. "timeout" or "headers.X-Token"
	Err    error  // one of the sentinels above
	Detail string // what was expected, for people
}

func (e *FieldError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("field %q: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("field %q: %v: %s", e.Field, e.Err, e.Detail)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Err: err, Detail: fmt.Sprintf(format, args...)}
}
