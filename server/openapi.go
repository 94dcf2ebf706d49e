package server

import (
	_ "embed"
	"net/http"
)

// openapiJSON documents the /v1 API (OpenAPI 3.1). openapi_test.go checks it
// against the route table and the handlers' answers.
//
//go:embed openapi.json
var openapiJSON []byte

func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openapiJSON)
}
