package server

import (
	"net/http"

	"github.com/reqfleet/reqfleet/outcomes"
)

// JobView is the answer to GET /dashboard/lookup?id= (and ?queue=,
// ?batch=): the job as GET /v1/jobs/{id} answers it, by the same lookup
// (lookupJob, outcomes.Reader.Job), with its outcome as the dashboard
// shows outcomes: redacted, the body cut (viewOutcome). Its errors are
// /v1's (writeError): 400, 404, 503.
type JobView struct {
	outcomes.JobStatus
	// Outcome takes the place of JobStatus's recorded entry (the shallower
	// field wins in JSON).
	Outcome map[string]any `json:"outcome,omitempty"`
}

func (s *Server) getLookup(w http.ResponseWriter, r *http.Request) {
	st, ok := s.lookupJob(w, r, r.URL.Query().Get("id"))
	if !ok {
		return
	}
	v := JobView{JobStatus: st}
	if st.Outcome != nil {
		o, err := viewOutcome(st.Outcome, outcomeBodyCap)
		if err != nil { // not an object: not shown, rather than shown unredacted
			o = map[string]any{}
		}
		v.Outcome = o
	}
	writeJSON(w, http.StatusOK, v)
}
