package webhook

import (
	"sync/atomic"

	"github.com/creditflow/creditflow/schemas"
)

// item is one alert waiting for delivery, with the state that survives an
// interrupted delivery (its encoded body and the attempts made so far).
type item struct {
	alert    schemas.Alert
	body     []byte // nil until first encoded
	attempts int
	// outcome is the counter deliver's verdict goes to (delivered or
	// failed); done adds it together with clearing the in-flight mark.
	outcome *atomic.Uint64
}

// ring is a bounded FIFO that grows on demand up to max and, once full,
// overwrites its oldest entry. It is not safe for concurrent use.
type ring struct {
	buf  []item
	head int // index of the oldest entry
	n    int
	max  int
}

// add makes room for a new newest entry and returns its slot, which the
// caller fills in place (sparing a copy of the large item), and whether the
// oldest entry was dropped to make room. The slot may hold stale data.
func (r *ring) add() (slot *item, dropped bool) {
	if r.n == r.max {
		slot = &r.buf[r.head]
		r.head = (r.head + 1) % len(r.buf)
		return slot, true
	}
	if r.n == len(r.buf) {
		r.grow()
	}
	slot = &r.buf[(r.head+r.n)%len(r.buf)]
	r.n++
	return slot, false
}

// pushFront puts it back as the oldest entry; when the ring is full it is
// itself the oldest, so it is dropped and pushFront reports true.
func (r *ring) pushFront(it item) (dropped bool) {
	if r.n == r.max {
		return true
	}
	if r.n == len(r.buf) {
		r.grow()
	}
	r.head = (r.head - 1 + len(r.buf)) % len(r.buf)
	r.buf[r.head] = it
	r.n++
	return false
}

// pop removes and returns the oldest entry.
func (r *ring) pop() (item, bool) {
	if r.n == 0 {
		return item{}, false
	}
	it := r.buf[r.head]
	r.buf[r.head] = item{} // release the alert's memory
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return it, true
}

// grow doubles the buffer (at least 64, at most max), keeping order.
func (r *ring) grow() {
	size := min(max(2*len(r.buf), 64), r.max)
	buf := make([]item, size)
	for i := range r.n {
		buf[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = buf, 0
}
