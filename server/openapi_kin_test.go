package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// kinSpec loads openapi.json with kin-openapi, which checks it is a valid
// OpenAPI 3.1 document (refs resolve, schemas and examples are well
// formed, parameters and responses are complete).
func kinSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapiJSON)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json: version %q", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentValid(t *testing.T) { kinSpec(t) }

// The answers of the examples' requests (TestOpenAPIExamples' own), and the
// error answers, validated whole against their schemas, nested fields
// included.
func TestOpenAPIAnswersValidate(t *testing.T) {
	doc := kinSpec(t)
	e := setup(t, func(c *Config) { c.Token = "tok" })
	e.startWorker(t)
	batch := fixtureBatch(t, e)
	validate := func(t *testing.T, path, method string, a answer) {
		t.Helper()
		op := doc.Paths.Find(path).GetOperation(method)
		resp := op.Responses.Status(a.code)
		if resp == nil || resp.Value == nil {
			t.Fatalf("%s %s: status %d not documented", method, path, a.code)
		}
		mt := resp.Value.Content.Get("application/json")
		if mt == nil {
			t.Fatalf("%s %s: %d has no JSON content documented", method, path, a.code)
		}
		var v any
		if err := json.Unmarshal([]byte(a.body), &v); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		if err := doc.ValidateSchemaJSON(mt.Schema.Value, v); err != nil {
			t.Errorf("%s %s: %d %.300s: %v", method, path, a.code, a.body, err)
		}
	}
	for _, tc := range []struct {
		method, path, spec, ctype, body string
		code                            int
	}{
		{"GET", "/v1/batches/" + batch, "/v1/batches/{id}", "", "", 200},
		{"GET", "/v1/batches/nope", "/v1/batches/{id}", "", "", 404},
		{"GET", "/v1/exceptions?batch=" + batch, "/v1/exceptions", "", "", 200},
		{"GET", "/v1/exceptions?limit=0", "/v1/exceptions", "", "", 400},
		{"GET", "/v1/jobs/order-17", "/v1/jobs/{id}", "", "", 200},
		{"GET", "/v1/jobs/order-18", "/v1/jobs/{id}", "", "", 200},
		{"GET", "/v1/jobs/nope", "/v1/jobs/{id}", "", "", 404},
		{"GET", "/v1/openapi.json", "/v1/openapi.json", "", "", 200},
		{"POST", "/v1/jobs", "/v1/jobs", "application/json", `{"url": "https://example.com/", "id": "order-99"}`, 202},
		{"POST", "/v1/jobs", "/v1/jobs", "application/x-ndjson", `{"url": 3}`, 400},
		{"POST", "/v1/jobs", "/v1/jobs", "text/plain", `{}`, 415},
		{"GET", "/v1/stats", "/v1/stats", "", "", 200},
		{"GET", "/v1/batches?limit=1", "/v1/batches", "", "", 200},
		{"GET", "/v1/batches?limit=0", "/v1/batches", "", "", 400},
		{"GET", "/v1/batches?cursor=nope", "/v1/batches", "", "", 400},
		{"GET", "/v1/hosts", "/v1/hosts", "", "", 200},
		{"GET", "/v1/hosts?queue=nope", "/v1/hosts", "", "", 400},
		{"GET", "/v1/workers", "/v1/workers", "", "", 200},
		{"POST", "/v1/retry", "/v1/retry", "application/json", `{"batch": "` + batch + `", "dry_run": true}`, 200},
		{"POST", "/v1/retry", "/v1/retry", "application/json", `{}`, 400},
		{"POST", "/v1/retry", "/v1/retry", "application/json", `{"all": true, "nope": 1}`, 400},
	} {
		t.Run(fmt.Sprint(tc.method, " ", tc.path, " ", tc.code), func(t *testing.T) {
			a := e.do(t, tc.method, tc.path, tc.ctype, tc.body)
			if a.code != tc.code {
				t.Fatalf("%d %s, want %d", a.code, a.body, tc.code)
			}
			validate(t, tc.spec, tc.method, a)
			a = e.do(t, tc.method, tc.path, tc.ctype, tc.body, "Authorization", "")
			if a.code != http.StatusUnauthorized {
				t.Fatalf("without the token: %d", a.code)
			}
			validate(t, tc.spec, tc.method, a)
		})
	}
}
