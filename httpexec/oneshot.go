package httpexec

import (
	"io"
	"net/http"
)

// oneShot stands in front of a session's Transport so that each request
// goes on the wire once. http.Transport silently sends a request again on
// a new connection when a reused keep-alive connection is closed before
// the answer, if the request is "replayable" (a GET, HEAD, OPTIONS or
// TRACE, or one with an Idempotency-Key header, whose body is absent or
// can be had again from GetBody); requests never does. So the Transport
// gets a shallow copy of each request (each redirect hop too) that is not
// replayable: no GetBody, and a body that is never nil.
//
// The client keeps its own request, GetBody included, so a 307 or 308
// redirect still sends the body again.
//
// oneShot also times each hop for the response's elapsed_ms, as requests'
// elapsed: from sending the request to having the response's headers.
type oneShot struct {
	next http.RoundTripper
	// identity is the TransferEncoding of a bodyless request given an
	// empty body: with it the Transport writes neither a Content-Length
	// nor a Transfer-Encoding header and no body, as for a nil body,
	// without probing the body first. Only read, never changed.
	identity []string
}

func newOneShot(next http.RoundTripper) *oneShot {
	return &oneShot{next: next, identity: []string{"identity"}}
}

func (o *oneShot) RoundTrip(req *http.Request) (*http.Response, error) {
	r := *req
	r.GetBody = nil
	if (r.Body == nil || r.Body == http.NoBody) && replayable(&r) {
		// A body without GetBody is what makes the request not
		// replayable. With Content-Length 0 the Transport takes the
		// body's length as unknown; "identity" keeps it from probing the
		// body or sending an empty chunked one.
		r.Body, r.ContentLength, r.TransferEncoding = emptyBody{}, 0, o.identity
	}
	a := attemptFrom(req.Context())
	if a != nil {
		a.hopStart = a.now()
	}
	resp, err := o.next.RoundTrip(&r)
	if a != nil {
		a.hopEnd = a.now()
	}
	return resp, err
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// Transport.
func (o *oneShot) CloseIdleConnections() {
	if c, ok := o.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// replayable mirrors net/http's Request.isReplayable for a request without
// a body: the requests the Transport would send again.
func replayable(r *http.Request) bool {
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, ok := r.Header["Idempotency-Key"]
	_, xok := r.Header["X-Idempotency-Key"]
	return ok || xok
}

// emptyBody is a request body with nothing in it that is not http.NoBody.
// WriteTo spares the Transport's io.Copy its 32 KiB buffer.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error)         { return 0, io.EOF }
func (emptyBody) WriteTo(io.Writer) (int64, error) { return 0, nil }
func (emptyBody) Close() error                     { return nil }
