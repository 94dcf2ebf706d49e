package tasks

// WithoutSum is j with its kept form's sum left out, for comparing two
// jobs decoded from the same JSON written differently (its escapes), whose
// sums differ with the bytes of their json and meta.
func WithoutSum(j Job) Job {
	if j.kept != nil {
		k := *j.kept
		k.sum = 0
		j.kept = &k
	}
	return j
}
