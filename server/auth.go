package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// requireToken lets a request through when no token is set, or when it
// carries the token: "Authorization: Bearer TOKEN", or Basic auth with the
// token as the password. The comparison takes the same time whatever the
// guess. For the UI (ui), a refusal asks a browser for Basic credentials.
func (s *Server) requireToken(h http.Handler, ui bool) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	want := sha256.Sum256([]byte(s.cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tokenOK(r, want) {
			h.ServeHTTP(w, r)
			return
		}
		if ui {
			w.Header().Set("WWW-Authenticate", `Basic realm="reqfleet", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="reqfleet"`)
		}
		writeError(w, http.StatusUnauthorized, apiError{Error: "unauthorized: send Authorization: Bearer $REQFLEET_API_TOKEN"})
	})
}

func tokenOK(r *http.Request, want [32]byte) bool {
	var got string
	h := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		got = strings.TrimSpace(tok)
	} else if _, pass, ok := r.BasicAuth(); ok {
		got = pass
	} else {
		return false
	}
	// Hashing first makes the comparison's time independent of the
	// lengths too.
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}
