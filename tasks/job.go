// Package tasks is reqfleet's job model: the request job in the shape of
// requests' keyword arguments, the task envelope carried through the queue,
// the outcomes (responses and exceptions) and the Redis key names shared by
// the enqueuer and the worker. It imports nothing else of reqfleet.
package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/maphash"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIDLen bounds a job id, in bytes.
const MaxIDLen = 512

// Job is one HTTP request, as the keyword arguments of requests.request:
// a Python user's dicts for requests_toolbelt's threaded.map decode as they
// are. ID and Meta are reqfleet's own: ID names the job in its outcome
// (generated when absent) and Meta is carried to the outcome untouched.
type Job struct {
	ID      string            `json:"id,omitempty"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Params  *Pairs            `json:"params,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// RemoveHeaders are the headers given as null: not sent, the
	// session's and the default ones (User-Agent, Accept...) included,
	// as requests removes a header set to None. Marshalled back into
	// "headers" as nulls, sorted.
	RemoveHeaders  []string          `json:"-"`
	Data           *Pairs            `json:"data,omitempty"`
	JSON           json.RawMessage   `json:"json,omitempty"`
	Cookies        map[string]string `json:"cookies,omitempty"`
	Auth           *Auth             `json:"auth,omitempty"`
	Timeout        *Timeout          `json:"timeout,omitempty"`
	AllowRedirects *bool             `json:"allow_redirects,omitempty"`
	Meta           json.RawMessage   `json:"meta,omitempty"`
	// Retries is the job's automatic retry policy (retry.go); nil: none,
	// as requests.
	Retries *Retry `json:"retries,omitempty"`

	// kept is the job as DecodeJob was given it, which MarshalJSON writes
	// back while the fields still hold what was decoded from it.
	kept *keptForm
}

// keptForm is a decoded job's JSON object as given: compacted (and
// HTML-escaped, as json.Marshal writes it), its keys in their order and its
// values as written, without its id members: the id is the Job's ID,
// generated or not, spliced in at at.
type keptForm struct {
	raw []byte
	at  int    // where the id member goes in raw: after its last member before the id, or 1
	sum uint64 // fieldSum of the fields decoded from raw
}

// keepSeed seeds the hashes of keptForm.sum; they never leave the process.
var keepSeed = maphash.MakeSeed()

// Normalized returns the job without the form it was given in: MarshalJSON
// writes it in the normalised form (params and data as pairs, the method in
// upper case, keys in the field order), as it does a job built in Go.
func (j Job) Normalized() Job {
	j.kept = nil
	return j
}

// FollowRedirects reports allow_redirects, which defaults to true.
func (j *Job) FollowRedirects() bool { return j.AllowRedirects == nil || *j.AllowRedirects }

// unsupported names requests' keyword arguments that reqfleet does not take,
// with what to do instead.
var unsupported = map[string]string{
	"files":   "multipart uploads are not supported; send the body as data",
	"stream":  "bodies are always read, up to the worker's --max-body",
	"verify":  "TLS verification is the worker's setting (--insecure)",
	"cert":    "client certificates are not supported",
	"proxies": "the proxy is the worker's setting (--proxy)",
	"hooks":   "hooks cannot be sent through a queue",
}

type fieldDecoder func(j *Job, raw json.RawMessage) error

var decoders = map[string]fieldDecoder{
	"id":              decodeID,
	"method":          decodeMethod,
	"url":             decodeURL,
	"params":          func(j *Job, raw json.RawMessage) (err error) { j.Params, err = decodePairs("params", raw); return },
	"headers":         decodeHeaders,
	"data":            func(j *Job, raw json.RawMessage) (err error) { j.Data, err = decodePairs("data", raw); return },
	"json":            func(j *Job, raw json.RawMessage) error { j.JSON = compact(raw); return nil },
	"cookies":         decodeCookies,
	"auth":            func(j *Job, raw json.RawMessage) (err error) { j.Auth, err = decodeAuth(raw); return },
	"timeout":         func(j *Job, raw json.RawMessage) (err error) { j.Timeout, err = decodeTimeout(raw); return },
	"allow_redirects": decodeAllowRedirects,
	"meta":            func(j *Job, raw json.RawMessage) error { j.Meta = compact(raw); return nil },
	"retries":         func(j *Job, raw json.RawMessage) (err error) { j.Retries, err = decodeRetries(raw); return },
}

// compact returns a compacted copy of a valid JSON value, as json.Marshal
// writes it back, so a job survives a round trip unchanged.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return slices.Clone(raw)
	}
	return b.Bytes()
}

// DecodeJob parses one job. Unknown keys, wrong types and a missing url are
// errors that wrap ErrUnknownField, ErrType, ErrValue or ErrRequired in a
// *FieldError. A null value means the field is absent, as None does in
// requests. The URL itself is not checked here: a URL that requests would
// refuse when sending becomes an exception when the job runs.
func DecodeJob(data []byte) (Job, error) {
	// A job as the worker reads it back is compact; a job from a file
	// mostly is not, and is told apart at its first space.
	return decodeJob(data, firstByte(data) == '{' && isCompact(data) && json.Valid(data))
}

// decodeJob is DecodeJob; validCompact says data is known to be valid,
// compact JSON starting with '{' (as a job read back from the queue), whose
// members are then taken without encoding/json.
func decodeJob(data []byte, validCompact bool) (Job, error) {
	var fields map[string]json.RawMessage
	if validCompact {
		fields = make(map[string]json.RawMessage, 4)
		for key, val := range objectMembers(data) {
			fields[key] = val
		}
	} else if err := json.Unmarshal(data, &fields); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || !json.Valid(data) {
			return Job{}, syntaxError(err)
		}
		return Job{}, ErrNotObject
	}
	if fields == nil {
		return Job{}, ErrNotObject
	}
	var j Job
	for _, k := range sortedKeys(fields) { // report the same first error every time
		dec, ok := decoders[k]
		if !ok {
			if hint, ok := unsupported[k]; ok {
				return Job{}, fieldErr(k, ErrUnknownField, "%s", hint)
			}
			return Job{}, fieldErr(k, ErrUnknownField, "a job takes %s", fieldList())
		}
		raw := fields[k]
		if firstByte(raw) == 'n' { // null: absent
			continue
		}
		if err := dec(&j, raw); err != nil {
			return Job{}, err
		}
	}
	if j.URL == "" {
		return Job{}, fieldErr("url", ErrRequired, "every job needs a url")
	}
	if j.Method == "" {
		j.Method = "GET"
	}
	k, err := keep(data)
	if err != nil {
		return Job{}, err
	}
	k.sum = j.fieldSum()
	j.kept = k
	return j, nil
}

// keep returns data, a valid JSON object, compacted and HTML-escaped, with
// its id members cut out and the place of the last one noted. A job read
// back from the queue is in that form already (json.Marshal wrote it), and
// is then only walked, not rewritten.
func keep(data []byte) (*keptForm, error) {
	in := data
	if compact, escaped := jsonForm(data); !compact || !escaped {
		var c bytes.Buffer
		if err := json.Compact(&c, data); err != nil {
			return nil, syntaxError(err)
		}
		var esc bytes.Buffer
		json.HTMLEscape(&esc, c.Bytes())
		in = esc.Bytes()
	}
	if len(in) < 2 || in[0] != '{' {
		return nil, &SyntaxError{Msg: "not an object"}
	}
	out := make([]byte, 0, len(in))
	out = append(out, '{')
	k := &keptForm{at: 1}
	for i := 1; i < len(in) && in[i] != '}'; {
		if in[i] == ',' {
			i++
		}
		start := i
		keyEnd := skipString(in, i)
		if keyEnd < 0 || keyEnd >= len(in) || in[keyEnd] != ':' {
			return nil, &SyntaxError{Offset: int64(i), Msg: "bad object member"}
		}
		end := skipValue(in, keyEnd+1)
		if end < 0 {
			return nil, &SyntaxError{Offset: int64(keyEnd + 1), Msg: "bad object member"}
		}
		i = end
		if isIDKey(in[start:keyEnd]) {
			k.at = len(out)
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, in[start:end]...)
	}
	k.raw = append(out, '}')
	return k, nil
}

func syntaxError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return &SyntaxError{Offset: syn.Offset, Msg: syn.Error()}
	}
	return &SyntaxError{Msg: err.Error()}
}

// SyntaxError is JSON that does not parse; it wraps ErrSyntax.
type SyntaxError struct {
	Offset int64 // byte offset where parsing failed, when known
	Msg    string
}

func (e *SyntaxError) Error() string { return ErrSyntax.Error() + ": " + e.Msg }
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

func fieldList() string { return strings.Join(sortedKeys(decoders), ", ") }

func decodeString(field string, raw json.RawMessage) (string, error) {
	if s, ok := plainString(raw); ok {
		return s, nil
	}
	var s string
	if firstByte(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fieldErr(field, ErrType, "must be a string")
	}
	return s, nil
}

func decodeID(j *Job, raw json.RawMessage) error {
	s, err := decodeString("id", raw)
	if err != nil {
		return err
	}
	if s == "" || len(s) > MaxIDLen || !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
		return fieldErr("id", ErrValue, "must be 1 to %d bytes of printable UTF-8", MaxIDLen)
	}
	j.ID = s
	return nil
}

func decodeMethod(j *Job, raw json.RawMessage) error {
	s, err := decodeString("method", raw)
	if err != nil {
		return err
	}
	if s == "" || !IsToken(s) {
		return fieldErr("method", ErrValue, "%q is not an HTTP method", s)
	}
	j.Method = strings.ToUpper(s)
	return nil
}

func decodeURL(j *Job, raw json.RawMessage) error {
	s, err := decodeString("url", raw)
	if err != nil {
		return err
	}
	// requests strips leading white space (Python's str.lstrip); an empty
	// url is no url.
	j.URL = strings.TrimLeftFunc(s, isPySpace)
	return nil
}

// isPySpace reports whether Python's str.isspace is true for r: Unicode
// white space and the separators U+001C to U+001F.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

func decodeHeaders(j *Job, raw json.RawMessage) error {
	var (
		remove []string
		m      map[string]string
		err    error
		given  map[string]json.RawMessage // the object's strings, once read
	)
	if firstByte(raw) == '{' {
		// As requests reads a dict of headers into its case-insensitive
		// dict: of names that differ only in case, the last given wins.
		keys, vals, err := orderedMembers(raw)
		if err == nil {
			last := make(map[string]int, len(keys))
			for i, k := range keys {
				last[strings.ToLower(k)] = i
			}
			all := make(map[string]json.RawMessage, len(keys))
			for i, k := range keys {
				if last[strings.ToLower(k)] != i {
					continue
				}
				if firstByte(vals[i]) == 'n' { // null: remove the header
					if !IsToken(k) {
						return fieldErr("headers", ErrValue, "%q is not a valid header name", k)
					}
					remove = append(remove, k)
					continue
				}
				all[k] = vals[i]
			}
			slices.Sort(remove)
			given = all
		}
	}
	if given != nil {
		m, err = stringsOf("headers", given)
	} else {
		m, err = decodeStringMap("headers", raw)
	}
	if err != nil {
		return err
	}
	j.RemoveHeaders = remove
	for _, k := range sortedKeys(m) { // report the same first error every time
		v := m[k]
		if !IsToken(k) {
			return fieldErr("headers", ErrValue, "%q is not a valid header name", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fieldErr("headers."+k, ErrValue, "a header value must not contain CR, LF or NUL")
		}
		if i := strings.IndexFunc(v, func(r rune) bool { return r > 0xff }); i >= 0 {
			// requests sends header values in latin-1 (http.client) and
			// fails on what latin-1 cannot encode.
			return fieldErr("headers."+k, ErrValue, "a header value must be latin-1 (requests sends it so): %q is not", v[i:i+utf8.RuneLen(utf8RuneAt(v, i))])
		}
	}
	j.Headers = m
	return nil
}

func decodeCookies(j *Job, raw json.RawMessage) error {
	m, err := decodeStringMap("cookies", raw)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		if !IsToken(k) {
			return fieldErr("cookies", ErrValue, "%q is not a valid cookie name", k)
		}
		if strings.ContainsAny(v, "\r\n\x00;") {
			return fieldErr("cookies."+k, ErrValue, "a cookie value must not contain CR, LF, NUL or ';'")
		}
	}
	j.Cookies = m
	return nil
}

func decodeStringMap(field string, raw json.RawMessage) (map[string]string, error) {
	if firstByte(raw) != '{' {
		return nil, fieldErr(field, ErrType, "must be an object of strings")
	}
	m, err := rawObject(raw)
	if err != nil {
		return nil, fieldErr(field, ErrType, "must be an object of strings")
	}
	return stringsOf(field, m)
}

// stringsOf is an object's members read as strings (nil for none); the
// first not a string, in the keys' order, is the error.
func stringsOf(field string, m map[string]json.RawMessage) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil // {} is no headers, as an absent field: omitted when marshalled
	}
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		s, err := decodeString(field+"."+k, m[k])
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

func utf8RuneAt(s string, i int) rune {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func decodeAllowRedirects(j *Job, raw json.RawMessage) error {
	var b bool
	if err := json.Unmarshal(bytes.TrimSpace(raw), &b); err != nil {
		return fieldErr("allow_redirects", ErrType, "must be true or false")
	}
	j.AllowRedirects = &b
	return nil
}

// IsToken reports whether s is an RFC 9110 token (header names, methods).
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isControl reports C0 and C1 control characters and DEL.
func isControl(r rune) bool { return unicode.IsControl(r) }

// MarshalJSON writes the job as DecodeJob reads it. A decoded job is
// written as it was given (its keys in their order, its values as written),
// with its ID in the place of the id it was given or first when it had
// none, as long as its other fields hold what was decoded; a job built or
// changed in Go is written in the normalised form. The zero Job (no job at
// all, as in the exception of a payload that was not a job) is written as
// null, which UnmarshalJSON reads back as the zero Job.
func (j Job) MarshalJSON() ([]byte, error) {
	if j.unchanged() {
		return j.kept.withID(j.ID), nil
	}
	j.kept = nil
	if reflect.ValueOf(j).IsZero() {
		return []byte("null"), nil
	}
	return j.marshalNormal()
}

// unchanged: the job has its kept form and its fields are still those
// decoded from it (MarshalJSON writes the kept form then).
func (j Job) unchanged() bool {
	if j.kept == nil {
		return false
	}
	return j.fieldSum() == j.kept.sum
}

// appendKept appends the job as MarshalJSON writes it when that is its
// kept form (compact and HTML-escaped, as json.Marshal writes); false, b
// as it was, when the job is not unchanged.
func (j Job) appendKept(b []byte) ([]byte, bool) {
	if !j.unchanged() {
		return b, false
	}
	return j.kept.appendWithID(b, j.ID), true
}

// withID is the kept form with the member "id": id spliced in, or without
// one when id is "".
func (k *keptForm) withID(id string) []byte {
	if id == "" {
		return k.raw
	}
	return k.appendWithID(make([]byte, 0, len(k.raw)+len(id)+8), id)
}

// appendWithID appends the kept form with the member "id" (withID).
func (k *keptForm) appendWithID(b []byte, id string) []byte {
	if id == "" {
		return append(b, k.raw...)
	}
	b = append(b, k.raw[:k.at]...)
	if k.at > 1 {
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = appendJSONString(b, id)
	if k.at == 1 && len(k.raw) > 2 {
		b = append(b, ',')
	}
	return append(b, k.raw[k.at:]...)
}

// marshalNormal writes the job's fields, in the normalised form.
func (j Job) marshalNormal() ([]byte, error) {
	type plain Job // Job's fields and tags without its methods
	if len(j.RemoveHeaders) == 0 {
		return json.Marshal(plain(j))
	}
	h := make(map[string]*string, len(j.Headers)+len(j.RemoveHeaders))
	for k, v := range j.Headers {
		h[k] = &v
	}
	for _, k := range j.RemoveHeaders {
		h[k] = nil
	}
	return json.Marshal(struct {
		plain
		Headers map[string]*string `json:"headers"` // shadows plain's
	}{plain(j), h})
}

// LogValue logs the job without its password (json.Marshal keeps it, so a
// JSON log handler must not marshal the job itself), and without the values
// of its cookies and of its Authorization, Proxy-Authorization and Cookie
// headers.
func (j Job) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 12)
	add := func(key string, v slog.Value) { attrs = append(attrs, slog.Attr{Key: key, Value: v}) }
	if j.ID != "" {
		add("id", slog.StringValue(j.ID))
	}
	add("method", slog.StringValue(j.Method))
	add("url", slog.StringValue(j.URL))
	if j.Params != nil {
		add("params", slog.StringValue(j.Params.Encode()))
	}
	if len(j.Headers) > 0 {
		add("headers", redactMap(j.Headers, IsSecretHeader))
	}
	if len(j.RemoveHeaders) > 0 {
		add("headers_removed", slog.StringValue(strings.Join(j.RemoveHeaders, ", ")))
	}
	if j.Data != nil {
		add("data", slog.StringValue(j.Data.Encode()))
	}
	if len(j.JSON) > 0 {
		add("json", slog.StringValue(string(j.JSON)))
	}
	if len(j.Cookies) > 0 {
		add("cookies", redactMap(j.Cookies, func(string) bool { return true }))
	}
	if j.Auth != nil {
		add("auth", j.Auth.LogValue())
	}
	if j.Timeout != nil {
		if b, err := j.Timeout.MarshalJSON(); err == nil {
			add("timeout", slog.StringValue(string(b)))
		}
	}
	if j.AllowRedirects != nil {
		add("allow_redirects", slog.BoolValue(*j.AllowRedirects))
	}
	if len(j.Meta) > 0 {
		add("meta", slog.StringValue(string(j.Meta)))
	}
	return slog.GroupValue(attrs...)
}

// IsSecretHeader names the headers that carry credentials as the password
// of auth does; their values are never logged or put in messages.
func IsSecretHeader(name string) bool {
	return strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Proxy-Authorization") ||
		strings.EqualFold(name, "Cookie")
}

// redactMap is m as a group in key order, with the values of secret keys
// redacted.
func redactMap(m map[string]string, secret func(string) bool) slog.Value {
	attrs := make([]slog.Attr, 0, len(m))
	for _, k := range sortedKeys(m) {
		v := m[k]
		if secret(k) {
			v = redacted
		}
		attrs = append(attrs, slog.String(k, v))
	}
	return slog.GroupValue(attrs...)
}

// DefaultRetries gives the job the retry policy p (a worker's or the
// CLI's default) when it has none of its own. A decoded job keeps the form
// it was given, with "retries" added last.
func (j *Job) DefaultRetries(p *Retry) error {
	if j.Retries != nil || p == nil {
		return nil
	}
	j.Retries = p
	k := j.kept
	if k == nil {
		return nil
	}
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	raw := make([]byte, 0, len(k.raw)+len(v)+12)
	raw = append(raw, k.raw[:len(k.raw)-1]...)
	if len(k.raw) > 2 {
		raw = append(raw, ',')
	}
	raw = append(raw, `"retries":`...)
	raw = append(append(raw, v...), '}')
	j.kept = &keptForm{raw: raw, at: k.at, sum: j.fieldSum()}
	return nil
}
