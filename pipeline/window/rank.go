package window

import "slices"

// ranks orders the registered series by key, so that an emission sorts
// its rows by small integers instead of comparing strings: every series
// that has been ranked holds a rank, and ranks increase with (Tenant,
// Meter, Model). A series registered since the last ranking is pending,
// with rank 0, until pending series number a quarter of the ranked ones
// and an emission that includes one ranks them all at once (see rank and
// rankedKeys). Once a partition has seen its tenants, emissions find their
// series ranked and compare no string.
//
// Ranks need not be consecutive: a reclaim drops the ranked series it
// frees and leaves the others' ranks as they are, which still increase.
type ranks struct {
	of      []uint32  // rank by series id; 0: not ranked
	sorted  []int32   // ranked series ids, in key order
	pending []int32   // registered series ids without a rank, in no order
	merged  []int32   // scratch for the merge
	keys    []sortKey // scratch for sorting pending
	tmp     []sortKey
	order   []int32 // scratch: pending, sorted
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

// rank ranks every pending series of w: it sorts them (like an emission
// without ranks, see sortKeys), finds where each goes among the ranked
// ones by galloping from where the one before went, and renumbers. That
// costs O(p log p + p log(r/p)) comparisons for p pending and r ranked
// series (a few per pending series, however many are ranked), plus one
// pass over the ranks without comparisons.
func (w *Windows) rank() {
	r := &w.ranks
	if len(r.pending) == 0 {
		return
	}
	byKey := func(a, b int32) int { return compareKeys(&w.series[a], &w.series[b]) }
	// Sorted as emissions used to be: by the tenants' first 16 bytes, then
	// by comparison within equal prefixes.
	keys := r.keys[:0]
	for k, id := range r.pending {
		keys = append(keys, tenantKey(&w.series[id], k))
	}
	r.tmp = sortKeys(keys, r.tmp, func(a, b int32) int { return byKey(r.pending[a], r.pending[b]) })
	order := r.order[:0]
	for _, k := range keys {
		order = append(order, r.pending[k.i])
	}
	m := r.merged[:0]
	i := 0 // r.sorted[:i] is in m, and precedes every pending series left
	for _, id := range order {
		// Gallop: every ranked series before lo precedes id; none from
		// hi-1 on does (or hi passed the end).
		lo, hi, step := i, i+1, 1
		for hi <= len(r.sorted) && byKey(r.sorted[hi-1], id) < 0 {
			lo, step = hi, 2*step
			hi = lo + step
		}
		hi = min(hi, len(r.sorted))
		k, _ := slices.BinarySearchFunc(r.sorted[lo:hi], id, byKey)
		m = append(append(m, r.sorted[i:lo+k]...), id)
		i = lo + k
	}
	m = append(m, r.sorted[i:]...)
	for k, id := range m {
		r.of[id] = uint32(k + 1)
	}
	r.merged, r.sorted, r.pending = r.sorted[:0], m, r.pending[:0]
	r.keys, r.order = keys[:0], order[:0]
}
