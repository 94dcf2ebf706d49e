package tasks

import (
	"encoding/json"
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

// decodeError turns an error of json.Unmarshal into one that wraps a
// sentinel: syntax errors wrap ErrSyntax, wrong types ErrType (or
// ErrNotObject for the whole value), and errors of this package's own
// decoders (a job inside a task or an outcome) keep theirs.
func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return syntaxError(err)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return ErrNotObject
		}
		return fieldErr(typ.Field, ErrType, "must be %s, not %s", typ.Type, typ.Value)
	}
	for _, s := range []error{ErrSyntax, ErrNotObject, ErrUnknownField, ErrRequired, ErrType, ErrValue} {
		if errors.Is(err, s) {
			return err
		}
	}
	return fmt.Errorf("%w: %w", ErrValue, err)
}

// decodeObject unmarshals a JSON object into v, with decodeError's errors.
// Any other JSON value (null included) is ErrNotObject.
func decodeObject(data []byte, v any) error {
	if firstByte(data) != '{' {
		if !json.Valid(data) {
			var x any
			return syntaxError(json.Unmarshal(data, &x))
		}
		return ErrNotObject
	}
	if err := json.Unmarshal(data, v); err != nil {
		return decodeError(err)
	}
	return nil
}
