package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/reqfleet/reqfleet/limits"
)

// The spec's batch id in its examples; the tests put a real batch's id in
// its place.
const specBatch = "20261201T120000-0b7c9f5e"

type specSchema struct {
	Ref        string                     `json:"$ref"`
	Required   []string                   `json:"required"`
	Properties map[string]json.RawMessage `json:"properties"`
	Additional json.RawMessage            `json:"additionalProperties"`
	OneOf      []specSchema               `json:"oneOf"`
}

type specContent struct {
	Schema  specSchema      `json:"schema"`
	Example json.RawMessage `json:"example"`
}

type specParam struct {
	Name     string          `json:"name"`
	In       string          `json:"in"`
	Required bool            `json:"required"`
	Example  json.RawMessage `json:"example"`
}

type specOp struct {
	Parameters  []specParam `json:"parameters"`
	RequestBody *struct {
		Content map[string]specContent `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]specContent `json:"content"`
	} `json:"responses"`
	Pending string `json:"x-reqfleet-pending"`
}

type spec struct {
	OpenAPI    string                       `json:"openapi"`
	Paths      map[string]map[string]specOp `json:"paths"`
	Components struct {
		Schemas map[string]specSchema `json:"schemas"`
	} `json:"components"`
}

func loadSpec(t *testing.T) spec {
	t.Helper()
	var s spec
	if err := json.Unmarshal(openapiJSON, &s); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if s.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json: openapi %q, want 3.1.0", s.OpenAPI)
	}
	return s
}

// resolve follows a schema's $ref into components.
func (s spec) resolve(t *testing.T, sc specSchema) specSchema {
	t.Helper()
	for sc.Ref != "" {
		name, ok := strings.CutPrefix(sc.Ref, "#/components/schemas/")
		next, found := s.Components.Schemas[name]
		if !ok || !found {
			t.Fatalf("openapi.json: $ref %q resolves to nothing", sc.Ref)
		}
		sc = next
	}
	return sc
}

// checkBody checks a JSON object against a schema's top level: every
// required field is there, and every field is documented (unless the
// schema allows others); a oneOf takes the first alternative that fits.
func (s spec) checkBody(t *testing.T, sc specSchema, body []byte) error {
	t.Helper()
	sc = s.resolve(t, sc)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return fmt.Errorf("not a JSON object: %v: %.200s", err, body)
	}
	if len(sc.OneOf) > 0 {
		var errs []string
		for _, alt := range sc.OneOf {
			err := s.checkBody(t, alt, body)
			if err == nil {
				return nil
			}
			errs = append(errs, err.Error())
		}
		return fmt.Errorf("fits no oneOf: %s", strings.Join(errs, "; "))
	}
	for _, f := range sc.Required {
		if _, ok := obj[f]; !ok {
			return fmt.Errorf("required field %q missing: %.300s", f, body)
		}
	}
	if sc.Properties != nil && len(sc.Additional) == 0 {
		for f := range obj {
			if _, ok := sc.Properties[f]; !ok {
				return fmt.Errorf("field %q is not documented: %.300s", f, body)
			}
		}
	}
	return nil
}

func (s spec) operations() map[string]specOp {
	ops := map[string]specOp{}
	for path, item := range s.Paths {
		for method, op := range item {
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops
}

// The spec and the route table list the same /v1 routes with the same
// methods; an operation documented ahead of its branch (x-reqfleet-pending)
// must not be served yet, so that merging that branch makes this test
// check it.
func TestOpenAPIRoutes(t *testing.T) {
	s := loadSpec(t)
	e := setup(t, nil)
	srv, err := New(Config{Redis: e.rdb})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ops := s.operations()
	served := map[string]bool{}
	for _, r := range srv.table {
		if !strings.HasPrefix(r.Path, v1Prefix) {
			continue
		}
		key := r.Method + " " + r.Path
		served[key] = true
		op, ok := ops[key]
		switch {
		case !ok:
			t.Errorf("%s is served but not in openapi.json", key)
		case op.Pending != "":
			t.Errorf("%s is served, and openapi.json still marks it x-reqfleet-pending %q: drop the mark", key, op.Pending)
		}
		if !r.Auth {
			t.Errorf("%s is served without the token", key)
		}
	}
	if len(served) < 6 {
		t.Fatalf("route table: %d /v1 routes, want 6 or more: %v", len(served), srv.table)
	}
	for key, op := range ops {
		if !served[key] && op.Pending == "" {
			t.Errorf("openapi.json documents %s, which is not served", key)
		}
		for code, resp := range op.Responses {
			if code >= "400" {
				if c, ok := resp.Content["application/json"]; !ok || s.resolve(t, c.Schema).Required[0] != "error" {
					t.Errorf("%s: response %s is not an Error", key, code)
				}
			}
		}
		if _, ok := op.Responses["401"]; !ok {
			t.Errorf("%s: no 401 documented", key)
		}
	}
}

// Every served operation, sent its spec's example (path and query
// parameters, body), answers a documented 2xx whose body has the documented
// top-level fields; without the token it answers the documented 401.
func TestOpenAPIExamples(t *testing.T) {
	s := loadSpec(t)
	e := setup(t, func(c *Config) { c.Token = "tok" })
	e.startWorker(t)
	batch := fixtureBatch(t, e)
	// The limit the /v1/limits/{host} examples read and remove (then set).
	if _, err := limits.NewStore(e.rdb).Set(context.Background(), "example.com", limits.Limit{Rate: 20}); err != nil {
		t.Fatal(err)
	}

	ops := s.operations()
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	// Reads first, then writes, so that the reads see the fixture alone.
	slices.SortFunc(keys, func(a, b string) int {
		return strings.Compare(fmt.Sprint(!strings.HasPrefix(a, "GET "), a), fmt.Sprint(!strings.HasPrefix(b, "GET "), b))
	})
	tested := 0
	for _, key := range keys {
		op := ops[key]
		if op.Pending != "" {
			t.Logf("%s: documented ahead of branch %s: not served here", key, op.Pending)
			continue
		}
		tested++
		t.Run(key, func(t *testing.T) {
			method, path, _ := strings.Cut(key, " ")
			query := url.Values{}
			for _, p := range op.Parameters {
				var v any
				if len(p.Example) == 0 {
					if p.Required {
						t.Fatalf("required parameter %s has no example", p.Name)
					}
					continue
				}
				if err := json.Unmarshal(p.Example, &v); err != nil {
					t.Fatal(err)
				}
				val := strings.ReplaceAll(fmt.Sprint(v), specBatch, batch)
				switch p.In {
				case "path":
					path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(val))
				case "query":
					query.Set(p.Name, val)
				}
			}
			if len(query) > 0 {
				path += "?" + query.Encode()
			}
			ctype, body := "", ""
			if op.RequestBody != nil {
				for ct, c := range op.RequestBody.Content {
					if len(c.Example) == 0 {
						continue
					}
					ctype, body = ct, string(c.Example)
					if ct != "application/json" {
						var str string
						if err := json.Unmarshal(c.Example, &str); err != nil {
							t.Fatalf("%s example: %v", ct, err)
						}
						body = str
					}
					break
				}
				if ctype == "" {
					t.Fatal("requestBody has no example")
				}
			}
			a := e.do(t, method, path, ctype, body)
			resp, ok := op.Responses[fmt.Sprint(a.code)]
			if !ok || a.code/100 != 2 {
				t.Fatalf("%s %s: %d, documented: %v: %.500s", method, path, a.code, keysOf(op.Responses), a.body)
			}
			if a.code == http.StatusNoContent && len(resp.Content) == 0 {
				if a.body != "" {
					t.Fatalf("%s %s: a 204 with a body: %.200s", method, path, a.body)
				}
				return
			}
			mt, _, _ := strings.Cut(a.hdr.Get("Content-Type"), ";")
			c, ok := resp.Content[mt]
			if !ok {
				t.Fatalf("%s %s: Content-Type %q, documented: %v", method, path, mt, keysOf(resp.Content))
			}
			if mt == "application/x-ndjson" {
				ls := lines(a.body)
				if len(ls) == 0 {
					t.Fatalf("%s %s: no line", method, path)
				}
				for _, l := range ls {
					if err := s.checkBody(t, c.Schema, []byte(l)); err != nil {
						t.Errorf("%s %s: %v", method, path, err)
					}
				}
			} else if err := s.checkBody(t, c.Schema, []byte(a.body)); err != nil {
				t.Errorf("%s %s: %v", method, path, err)
			}

			// Without the token: the documented 401, an Error.
			a = e.do(t, method, path, ctype, body, "Authorization", "")
			if a.code != http.StatusUnauthorized {
				t.Fatalf("%s %s without the token: %d %s", method, path, a.code, a.body)
			}
			if err := s.checkBody(t, op.Responses["401"].Content["application/json"].Schema, []byte(a.body)); err != nil {
				t.Errorf("401: %v", err)
			}
		})
	}
	if tested < 6 {
		t.Fatalf("%d operations tested, want 6 or more", tested)
	}
}

func keysOf[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// fixtureBatch enqueues the jobs the spec's examples name (order-17, a
// response; order-18, an exception) in one batch, waits for it, and returns
// its id.
func fixtureBatch(t *testing.T, e *env) string {
	t.Helper()
	body := fmt.Sprintf(`{"url": %q, "id": "order-17"}`+"\n"+`{"url": "http://127.0.0.1:1/", "id": "order-18", "timeout": 5}`, e.target.URL+"/ok")
	a := e.do(t, "POST", "/v1/jobs", "application/x-ndjson", body)
	if a.code != http.StatusAccepted {
		t.Fatalf("POST /v1/jobs: %d %s", a.code, a.body)
	}
	rec := decode[Receipt](t, a)
	st := e.waitBatch(t, rec.Batch, "default")
	if st.Responses != 1 || st.Exceptions != 1 {
		t.Fatalf("fixture batch: %+v, want 1 response and 1 exception", st)
	}
	return rec.Batch
}
