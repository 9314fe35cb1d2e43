package window

import "slices"

// ranks orders the registered series by key, so that an emission sorts
// its rows by small integers instead of comparing strings: every series
// that has been ranked holds a rank, and ranks increase with (Tenant,
// Meter, Model). A series registered since the last ranking has rank 0
// until the next emission that includes it ranks every pending series at
// once: it sorts them (p log p comparisons for p pending) and merges them
// into the ranked ones (one pass over all), then renumbers. Once a
// partition has seen its tenants, emissions find their series ranked and
// compare no string.
//
// Ranks need not be consecutive: a reclaim drops the ranked series it
// frees and leaves the others' ranks as they are, which still increase.
type ranks struct {
	of      []uint32 // rank by series id; 0: not ranked
	sorted  []int32  // ranked series ids, in key order
	pending []int32  // registered series ids without a rank, in no order
	merged  []int32  // scratch for the merge
}

// registered notes that series id was just registered (its id may be a
// reused one).
func (r *ranks) registered(id int32) {
	if int(id) >= len(r.of) {
		r.of = slices.Grow(r.of, int(id)+1-len(r.of))[:id+1]
	}
	r.of[id] = 0
	r.pending = append(r.pending, id)
}

// reclaimed forgets the series that are not live. (Their ranks stay in
// of until their ids are registered again.)
func (r *ranks) reclaimed(live []bool) {
	dead := func(id int32) bool { return !live[id] }
	r.sorted = slices.DeleteFunc(r.sorted, dead)
	r.pending = slices.DeleteFunc(r.pending, dead)
}

// rank ranks every pending series of w.
func (w *Windows) rank() {
	r := &w.ranks
	if len(r.pending) == 0 {
		return
	}
	byKey := func(a, b int32) int { return compareKeys(&w.series[a], &w.series[b]) }
	slices.SortFunc(r.pending, byKey)
	m := r.merged[:0]
	i, j := 0, 0
	for i < len(r.sorted) && j < len(r.pending) {
		if byKey(r.sorted[i], r.pending[j]) < 0 {
			m = append(m, r.sorted[i])
			i++
		} else {
			m = append(m, r.pending[j])
			j++
		}
	}
	m = append(append(m, r.sorted[i:]...), r.pending[j:]...)
	for k, id := range m {
		r.of[id] = uint32(k + 1)
	}
	r.merged, r.sorted, r.pending = r.sorted[:0], m, r.pending[:0]
}
