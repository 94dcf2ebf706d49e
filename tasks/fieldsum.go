package tasks

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"time"
)

// fieldSum hashes the job's fields, all but ID and kept: a decoded job
// keeps its kept form while its fields still hash to the sum taken when it
// was decoded (unchanged). It writes every field, nil and empty told apart,
// each string and list with its length first, a map's entries in any
// order; TestFieldSumCoversEveryField fails when a field is added to Job,
// or to a type it holds, and left out here. It allocates nothing, where
// hashing json.Marshal's normal form took a sixth of a job's decode.
func (j *Job) fieldSum() uint64 {
	var s fieldHasher
	s.h.SetSeed(keepSeed)
	s.str(j.Method)
	s.str(j.URL)
	s.pairs(j.Params)
	s.strMap(j.Headers)
	s.strs(j.RemoveHeaders)
	s.pairs(j.Data)
	s.bytes(j.JSON)
	s.strMap(j.Cookies)
	if s.present(j.Auth != nil) {
		s.str(j.Auth.User)
		s.str(j.Auth.Password)
	}
	if s.present(j.Timeout != nil) {
		s.dur(j.Timeout.Connect)
		s.dur(j.Timeout.Read)
		s.bool(j.Timeout.Pair)
	}
	if s.present(j.AllowRedirects != nil) {
		s.bool(*j.AllowRedirects)
	}
	s.bytes(j.Meta)
	s.retry(j.Retries)
	return s.h.Sum64()
}

type fieldHasher struct {
	h   maphash.Hash
	buf [8]byte
}

func (s *fieldHasher) uint(n uint64) {
	binary.LittleEndian.PutUint64(s.buf[:], n)
	_, _ = s.h.Write(s.buf[:])
}

func (s *fieldHasher) int(n int)               { s.uint(uint64(n)) }
func (s *fieldHasher) dur(d time.Duration)     { s.uint(uint64(d)) }
func (s *fieldHasher) float(f float64)         { s.uint(math.Float64bits(f)) }
func (s *fieldHasher) bool(b bool)             { _ = s.h.WriteByte(boolByte(b)) }
func (s *fieldHasher) present(ok bool) bool    { s.bool(ok); return ok }
func (s *fieldHasher) str(v string)            { s.int(len(v)); _, _ = s.h.WriteString(v) }
func (s *fieldHasher) bytes(v []byte)          { s.present(v != nil); s.int(len(v)); _, _ = s.h.Write(v) }
func (s *fieldHasher) count(c Count)           { s.int(c.N); s.bool(c.Set); s.bool(c.Off) }
func (s *fieldHasher) nilOrLen(n int, ok bool) { s.present(ok); s.int(n) }

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func (s *fieldHasher) strs(v []string) {
	s.nilOrLen(len(v), v != nil)
	for _, x := range v {
		s.str(x)
	}
}

func (s *fieldHasher) ints(v []int) {
	s.nilOrLen(len(v), v != nil)
	for _, x := range v {
		s.int(x)
	}
}

// strMap writes the map's size and the sum of its entries' hashes, which
// does not depend on the order a map is walked in.
func (s *fieldHasher) strMap(m map[string]string) {
	s.nilOrLen(len(m), m != nil)
	var sum uint64
	for k, v := range m {
		var e fieldHasher
		e.h.SetSeed(keepSeed)
		e.str(k)
		e.str(v)
		sum += e.h.Sum64()
	}
	s.uint(sum)
}

func (s *fieldHasher) pairs(p *Pairs) {
	if !s.present(p != nil) {
		return
	}
	if s.present(p.Text != nil) {
		s.str(*p.Text)
	}
	s.nilOrLen(len(p.List), p.List != nil)
	for _, kv := range p.List {
		s.str(kv.Key)
		s.str(kv.Value)
	}
}

func (s *fieldHasher) retry(r *Retry) {
	if !s.present(r != nil) {
		return
	}
	for _, c := range [...]Count{r.Total, r.Connect, r.Read, r.Redirect, r.Status, r.Other} {
		s.count(c)
	}
	s.ints(r.StatusForcelist)
	s.strs(r.AllowedMethods)
	s.bool(r.AnyMethod)
	s.float(r.BackoffFactor)
	s.float(r.BackoffMax)
	s.float(r.BackoffJitter)
	s.bool(r.RespectRetryAfter)
	s.int(r.RetryAfterMax)
	s.strs(r.Exceptions)
	s.bool(r.int)
}
