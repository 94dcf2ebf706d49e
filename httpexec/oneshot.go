package httpexec

import (
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// oneShot stands in front of a session's Transport. It decides which
// requests may go on the wire a second time: when a reused keep-alive
// connection closes before any byte of the answer (the server closed it
// as it was taken: an idle timeout, or a close shortly after each
// answer), the request is sent once more, on another connection, only if
// it is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE: RFC 9110
// section 9.2.2) or carries an Idempotency-Key (or X-Idempotency-Key)
// header; never a POST or PATCH otherwise. requests has no such resend
// (urllib3 checks a pooled connection before reusing it, which narrows
// the race but does not close it).
//
// http.Transport itself resends GET, HEAD, OPTIONS, TRACE and the
// requests with either key header on exactly that condition
// (shouldRetryRequest, isReplayable) when it can have the body again
// (GetBody): those keep their GetBody. For PUT and DELETE oneShot resends
// once itself. Every other request goes to the Transport without GetBody,
// so that it is not replayable to it (a request that was not written at
// all may still go again: the server saw nothing of it).
//
// Each resend is counted in the attempt (connection_retries). The client
// keeps its own request, GetBody included, so a 307 or 308 redirect still
// sends the body again.
//
// oneShot also writes the job's cookies from the jar into each hop's
// Cookie header (jobJar.header), and times each hop for the response's elapsed_ms, as requests'
// elapsed: from sending the request to having the response's headers.
type oneShot struct {
	next http.RoundTripper
}

func newOneShot(next http.RoundTripper) *oneShot { return &oneShot{next: next} }

func (o *oneShot) RoundTrip(req *http.Request) (*http.Response, error) {
	resend := resendable(req)
	// What the hop's trace tells: the job's own trace (attempt.trace)
	// reports to its attempt's hop; a request without an attempt gets a
	// trace of its own. One trace a request, not two: httptrace composes
	// two traces' hooks with reflect.MakeFunc, and every call of a
	// composed hook goes through reflect (3% of a worker's CPU).
	a := attemptFrom(req.Context())
	var h *hop
	r := req.WithContext(req.Context()) // a shallow copy: the client's request is left alone
	if a != nil {
		h = &a.hop
		h.reset()
	} else {
		h = new(hop)
		r = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn:              h.gotConn,
			GotFirstResponseByte: h.gotFirstByte,
		}))
	}
	if !resend {
		r.GetBody = nil
	}
	if a != nil && a.jar != nil {
		if c := a.jar.header(r.URL); c != "" {
			r.Header = r.Header.Clone()
			if had := r.Header.Get("Cookie"); had != "" {
				c = had + "; " + c
			}
			r.Header["Cookie"] = []string{c}
		}
	}
	if a != nil {
		a.hopStart = a.now()
	}
	resp, err := o.next.RoundTrip(r)
	if err != nil && resend && !goReplays(req) && h.reused.Load() && !h.answered.Load() && req.Context().Err() == nil {
		// The Transport does not resend a PUT or DELETE: send it once
		// more, on the connection the Transport gives now (the one that
		// closed is out of its pool).
		if rr, ok := again(r); ok {
			if a != nil {
				a.hopStart = a.now()
			}
			resp, err = o.next.RoundTrip(rr)
		}
	}
	if a != nil {
		a.hopEnd = a.now()
		if n := h.conns.Load(); n > 1 {
			a.connRetries += int(n - 1)
		}
	}
	return resp, err
}

// again is r ready to be sent once more: its body had again from
// GetBody; ok is false when it cannot be.
func again(r *http.Request) (*http.Request, bool) {
	rr := *r
	if r.Body == nil || r.Body == http.NoBody {
		return &rr, true
	}
	if r.GetBody == nil {
		return nil, false
	}
	b, err := r.GetBody()
	if err != nil {
		return nil, false
	}
	rr.Body = b
	return &rr, true
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// Transport.
func (o *oneShot) CloseIdleConnections() {
	if c, ok := o.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// goReplays mirrors net/http's Request.isReplayable, but for the body:
// the methods and headers the Transport sends again by itself.
func goReplays(r *http.Request) bool {
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return hasIdempotencyKey(r)
}

// resendable: the requests that may be sent once more after a reused
// connection closed before answering.
func resendable(r *http.Request) bool {
	switch r.Method {
	case http.MethodPut, http.MethodDelete:
		return true
	}
	return goReplays(r)
}

func hasIdempotencyKey(r *http.Request) bool {
	_, ok := r.Header["Idempotency-Key"]
	_, xok := r.Header["X-Idempotency-Key"]
	return ok || xok
}

// hop is what oneShot learns of one hop (one RoundTrip) from the client's
// trace: the connections it took, whether the last was reused, and
// whether any byte of the answer came on it. The trace's hooks may run in
// the Transport's goroutines.
type hop struct {
	conns            atomic.Int32
	reused, answered atomic.Bool
}

func (h *hop) reset() {
	h.conns.Store(0)
	h.reused.Store(false)
	h.answered.Store(false)
}

func (h *hop) gotConn(info httptrace.GotConnInfo) {
	h.conns.Add(1)
	h.reused.Store(info.Reused)
	h.answered.Store(false)
}

func (h *hop) gotFirstByte() { h.answered.Store(true) }
