package enqueuer

// idSet is a set of 64-bit id hashes: an open-addressing table with
// linear probing, 8 bytes a slot and at most 3/4 full, so a million ids
// take 16 MiB (Go's map takes about twice that). The hashes are xxhash
// values, uniform already, so a slot is the hash's low bits.
type idSet struct {
	slots []uint64 // 0: empty
	n     int
}

const idSetMinSlots = 1024

// norm keeps 0 for empty slots: the hash 0 is stored as 1, which makes the
// two ids equal to the set, as a 64-bit collision would.
func norm(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// add adds h, and reports false when it was there already.
func (s *idSet) add(h uint64) bool {
	h = norm(h)
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			s.n++
			return true
		}
	}
}

// has reports whether h is in the set.
func (s *idSet) has(h uint64) bool {
	if s.n == 0 {
		return false
	}
	h = norm(h)
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// remove deletes h, shifting back the entries after it in its run so that
// no lookup stops early at the hole.
func (s *idSet) remove(h uint64) {
	if s.n == 0 {
		return
	}
	h = norm(h)
	mask := uint64(len(s.slots) - 1)
	i := h & mask
	for s.slots[i] != h {
		if s.slots[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	s.slots[i] = 0
	s.n--
	for j := (i + 1) & mask; s.slots[j] != 0; j = (j + 1) & mask {
		home := s.slots[j] & mask
		// The entry at j may move to the hole at i unless its home slot
		// lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			s.slots[i], s.slots[j] = s.slots[j], 0
			i = j
		}
	}
}

// len is the number of hashes in the set.
func (s *idSet) len() int { return s.n }

func (s *idSet) grow() {
	old := s.slots
	s.slots = make([]uint64, max(idSetMinSlots, 2*len(old)))
	s.n = 0
	for _, h := range old {
		if h != 0 {
			s.add(h)
		}
	}
}
