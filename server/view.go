package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/textproto"
	"unicode/utf8"

	"github.com/reqfleet/reqfleet/httpexec"
	"github.com/reqfleet/reqfleet/tasks"
)

// errNotOutcome: a list entry that is not a JSON object.
var errNotOutcome = errors.New("not an outcome")

// viewOutcome is an outcome line as the dashboard shows it: the request
// redacted as the UI redacts jobs (redactJob), the response's URLs
// without passwords, the Set-Cookie and secret headers' values hidden, and
// the body cut to bodyCap bytes ("body_cut": true; 0: whole).
func viewOutcome(line []byte, bodyCap int) (map[string]any, error) {
	var o map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if dec.Decode(&o) != nil || o == nil {
		return nil, errNotOutcome
	}
	if req, ok := o["request"].(map[string]any); ok {
		redactJob(req)
	}
	redactResponse(o)
	if hist, ok := o["history"].([]any); ok {
		for _, h := range hist {
			if hm, ok := h.(map[string]any); ok {
				redactResponse(hm)
			}
		}
	}
	if body, ok := o["body"].(string); ok && bodyCap > 0 && len(body) > bodyCap {
		cut := body[:bodyCap]
		for len(cut) > 0 && !utf8.ValidString(cut) {
			cut = cut[:len(cut)-1]
		}
		o["body"], o["body_cut"] = cut, true
	}
	return o, nil
}

// redactResponse hides a response's (or redirect's) secrets in place.
func redactResponse(o map[string]any) {
	if u, ok := o["url"].(string); ok {
		o["url"] = httpexec.RedactRawURL(u)
	}
	if h, ok := o["headers"].(map[string]any); ok {
		for k := range h {
			if tasks.IsSecretHeader(k) || textproto.CanonicalMIMEHeaderKey(k) == "Set-Cookie" {
				h[k] = redacted
			}
		}
	}
}
