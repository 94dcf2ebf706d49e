package server

import "strings"

// v1Prefix is the API's path prefix; a /v1 request no route takes is
// answered by unrouted.
const v1Prefix = "/v1/"

// route is one entry of the server's route table, as routes' handle
// registered it on the mux.
type route struct {
	Method string // "" for any
	Path   string // ServeMux path pattern, {name} for a path value
	Name   string // the metrics' route label
	Auth   bool   // wants the token
}

func newRoute(pattern, name string, auth bool) route {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	return route{Method: method, Path: path, Name: name, Auth: auth}
}
