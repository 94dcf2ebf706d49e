package server

import (
	"bytes"
	"encoding/json"

	"github.com/hibiken/asynqmon"

	"github.com/reqfleet/reqfleet/httpexec"
	"github.com/reqfleet/reqfleet/tasks"
)

const redacted = "[REDACTED]"

// redactPayload shows a reqfleet task in the UI without its secrets: the
// password of auth, the values of the Authorization, Proxy-Authorization
// and Cookie headers and of the cookies, and a password in the URL. Other
// tasks are shown as asynqmon shows them.
func redactPayload(typ string, payload []byte) string {
	if typ != tasks.TypeRequest {
		return asynqmon.DefaultPayloadFormatter.FormatPayload(typ, payload)
	}
	var task map[string]json.RawMessage
	if json.Unmarshal(payload, &task) != nil {
		return "(not a reqfleet task)"
	}
	// The job as it was given (its numbers as written; a key given twice
	// is shown once, as the worker reads it: the last).
	var job map[string]any
	dec := json.NewDecoder(bytes.NewReader(task["job"]))
	dec.UseNumber()
	if dec.Decode(&job) != nil || job == nil {
		return "(not a reqfleet task)"
	}
	redactJob(job)
	b, err := json.Marshal(job)
	if err != nil {
		return "(not a reqfleet task)"
	}
	task["job"] = b
	out, err := json.Marshal(task)
	if err != nil {
		return "(not a reqfleet task)"
	}
	return string(out)
}

// redactJob hides a job's secrets in place, as decoded with UseNumber: the
// password of auth, the values of the Authorization, Proxy-Authorization
// and Cookie headers and of the cookies, and a password in the URL.
func redactJob(job map[string]any) {
	if auth, ok := job["auth"].([]any); ok && len(auth) == 2 {
		auth[1] = redacted
	} else if _, ok := job["auth"]; ok {
		job["auth"] = redacted
	}
	if h, ok := job["headers"].(map[string]any); ok {
		for k := range h {
			if tasks.IsSecretHeader(k) && h[k] != nil { // null removes the header: nothing to hide
				h[k] = redacted
			}
		}
	}
	if c, ok := job["cookies"].(map[string]any); ok {
		for k := range c {
			c[k] = redacted
		}
	}
	if raw, ok := job["url"].(string); ok {
		// As a string: a URL that url.Parse refuses may hold a password too.
		job["url"] = httpexec.RedactRawURL(raw)
	}
}
