package tasks

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Auth is requests' auth=(user, password): HTTP Basic credentials.
// It marshals as [user, password] so an outcome can be retried as it is,
// but it never prints its password: String, GoString and LogValue redact it.
type Auth struct {
	User     string
	Password string
}

const redacted = "[REDACTED]"

// MarshalJSON writes [user, password].
func (a Auth) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]string{a.User, a.Password})
}

func (a Auth) String() string { return fmt.Sprintf("[%s %s]", a.User, redacted) }
func (a Auth) GoString() string {
	return fmt.Sprintf("tasks.Auth{User:%q, Password:%q}", a.User, redacted)
}
func (a Auth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// Format prints String for every verb, and GoString for %#v: fmt calls a
// Formatter rather than a GoStringer, so Format must choose.
func (a Auth) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, a.GoString())
		return
	}
	fmt.Fprint(f, a.String())
}

func decodeAuth(raw json.RawMessage) (*Auth, error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return nil, fieldErr("auth", ErrType, "must be a [user, password] pair")
	}
	var a Auth
	if json.Unmarshal(pair[0], &a.User) != nil || json.Unmarshal(pair[1], &a.Password) != nil ||
		firstByte(pair[0]) != '"' || firstByte(pair[1]) != '"' {
		return nil, fieldErr("auth", ErrType, "user and password must be strings")
	}
	return &a, nil
}
