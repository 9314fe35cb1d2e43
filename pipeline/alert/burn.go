package alert

import (
	"math"
	"math/bits"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// burn is a tenant's credits over the last burn window of event time, in
// burnBuckets buckets of width window/burnBuckets, for the burn rate behind
// a projected exhaustion.
type burn struct {
	started     bool
	first, last int64 // earliest and latest event time seen, Unix ns
	head        int64 // index of the newest bucket (time / width)
	headStart   int64 // head × width, Unix ns
	headSlot    int   // head's position in buckets
	sum         int64 // credits in the buckets, saturating
	buckets     [burnBuckets]int64
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

func bucketSlot(i int64) int {
	return int(((i % burnBuckets) + burnBuckets) % burnBuckets)
}

// add counts c credits at ns (Unix ns). Credits older than the window are
// ignored.
func (b *burn) add(width time.Duration, ns int64, c int64) {
	if off := ns - b.headStart; b.started && uint64(off) < uint64(width) && c >= 0 && b.sum <= math.MaxInt64-c {
		// The common case: the newest bucket, no overflow.
		b.buckets[b.headSlot] += c
		b.sum += c
		b.first = min(b.first, ns)
		b.last = max(b.last, ns)
		return
	}
	b.addSlow(width, ns, c)
}

// addSlow is add for other buckets and extreme values.
func (b *burn) addSlow(width time.Duration, ns int64, c int64) {
	idx := floorDiv(ns, int64(width))
	if !b.started {
		b.started, b.head, b.first, b.last = true, idx, ns, ns
	}
	switch {
	case idx > b.head:
		if idx-b.head >= burnBuckets {
			b.buckets = [burnBuckets]int64{}
			b.sum = 0
		} else {
			for i := b.head + 1; i <= idx; i++ {
				s := bucketSlot(i)
				b.sum -= b.buckets[s]
				b.buckets[s] = 0
			}
		}
		b.head = idx
	case idx <= b.head-burnBuckets:
		return
	}
	b.headStart, b.headSlot = b.head*int64(width), bucketSlot(b.head)
	s := bucketSlot(idx)
	b.buckets[s] = satAdd(b.buckets[s], c)
	b.sum = satAdd(b.sum, c)
	b.first = min(b.first, ns)
	b.last = max(b.last, ns)
}

// exhaustion returns when consumed c reaches available a at the current burn
// rate, projected from t and truncated to the second: t + (a − c) × span ÷
// credits, with credits those of the window and span the event time they
// cover (from the window's first bucket, or the tenant's first event when
// later, to the latest event; at least one bucket width). Exact integer
// arithmetic; zero when c ≥ a, when nothing was burnt, or when the result
// lies beyond time.Duration's range (about 292 years).
func (b *burn) exhaustion(width time.Duration, t time.Time, c, a schemas.Micros) time.Time {
	if c >= a || b.sum <= 0 {
		return time.Time{}
	}
	from := max(b.first, (b.head-burnBuckets+1)*int64(width))
	span := max(b.last-from, int64(width))
	hi, lo := bits.Mul64(uint64(a-c), uint64(span))
	if hi >= uint64(b.sum) {
		return time.Time{}
	}
	q, _ := bits.Div64(hi, lo, uint64(b.sum))
	if q > math.MaxInt64 {
		return time.Time{}
	}
	return t.Add(time.Duration(q)).UTC().Truncate(time.Second)
}
