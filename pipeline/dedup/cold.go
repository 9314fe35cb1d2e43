package dedup

import (
	"fmt"
	"time"
)

// Key is the 128-bit hash of (tenant, id) under which the Set stores an
// event (see the package documentation, "Keys"). A Cold tier sees keys
// only, never tenants or ids.
type Key struct{ Hi, Lo uint64 }

// Entry is one recorded event as the Set hands it to a Cold tier.
type Entry struct {
	Key    Key
	Millis int64  // event time in Unix milliseconds, truncated, in [0, about year 2527]
	Digest uint32 // the caller's content digest folded to 20 bits
}

// Cold is the second tier of a Set: it stores entries that have left the
// Set's memory and answers lookups for events older than the Set's Floor.
// The Set calls it only from its own methods, so an implementation used by
// one Set need not be safe for concurrent use. Times are Unix milliseconds.
type Cold interface {
	// Add stores entries. It receives entries that expired from the Set's
	// memory (in batches, during Expire or Check) and new events older than
	// the Set's Floor − Horizon (one at a time, during Check). The slice is
	// only valid during the call. Every entry added must be found by
	// Lookup until Forget drops it.
	Add(entries []Entry) error
	// Lookup reports NewEvent when no stored entry of key has an event time
	// in [from, to] (inclusive), Duplicate when one has the given digest, and
	// Conflict when all that do have other digests. It records nothing.
	Lookup(key Key, from, to int64, digest uint32) (Result, error)
	// Forget tells the tier that no lookup will ask for event times before
	// before again: it may drop entries older than that, and from now on
	// Lookup must not report them. before never decreases.
	Forget(before int64) error
}

// spillBatch is how many expired entries a sweep hands to Cold at once.
const spillBatch = 4096

// Err returns the first error the Cold tier returned, or nil. After an
// error the Set keeps going, but copies older than Floor may since have been
// counted twice (Check answers them from memory alone when Cold fails), so
// a caller that relies on Cold checks Err, e.g. at the end of a replay, and
// fails the run if it is not nil.
func (s *Set) Err() error { return s.err }

func (s *Set) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// checkCold is check for an event older than the floor when there is a
// Cold tier. The event may match entries in memory, expired ones included
// (they have not been handed to Cold yet), or in Cold; when it is new it is
// recorded in memory if it is not yet expired, else in Cold.
func (s *Set) checkCold(hi, lo uint64, ms int64, d uint64) Result {
	res, _ := s.match(hi, lo, ms, d, s.forget)
	if res == Duplicate {
		return Duplicate
	}
	key := Key{hi, lo}
	r, err := s.cold.Lookup(key, ms-s.hms, ms+s.hms, uint32(d))
	if err != nil {
		s.fail(fmt.Errorf("dedup: look up an event older than the floor in the cold tier: %w", err))
		return res
	}
	if r == Duplicate || r == Conflict {
		return r
	}
	if res != NewEvent {
		return res
	}
	switch {
	case ms >= s.cut:
		if s.n >= s.growAt {
			s.makeRoom()
		}
		s.insert(entry{hi: hi, lo: lo, meta: uint64(ms+1)<<digestBits | d})
		s.n++
		s.minT = min(s.minT, ms)
	case ms >= s.forget:
		s.one[0] = Entry{Key: key, Millis: ms, Digest: uint32(d)}
		if err := s.cold.Add(s.one[:]); err != nil {
			s.fail(fmt.Errorf("dedup: record an event older than the floor in the cold tier: %w", err))
		}
	}
	return NewEvent
}

// advanceCold moves the floor below which Check consults Cold, and the
// point before which entries are dropped for good, to match watermark. It
// runs when Expire raised the cutoff.
func (s *Set) advanceCold(watermark time.Time) {
	s.coldBelow = s.cut + s.hms
	if f := watermark.Add(-s.maxAge).UnixMilli() - s.hms; f > s.forget {
		s.forget = f
		if err := s.cold.Forget(f); err != nil {
			s.fail(fmt.Errorf("dedup: drop old entries from the cold tier: %w", err))
		}
	}
}

// handOver queues an expired entry for Cold; sweep flushes the queue.
func (s *Set) handOver(e *entry) {
	if s.spill == nil {
		s.spill = make([]Entry, 0, spillBatch)
	}
	s.spill = append(s.spill, Entry{Key: Key{e.hi, e.lo}, Millis: e.millis(), Digest: uint32(e.meta & digestMask)})
	if len(s.spill) == spillBatch {
		s.flushSpill()
	}
}

func (s *Set) flushSpill() {
	if len(s.spill) == 0 {
		return
	}
	if err := s.cold.Add(s.spill); err != nil {
		s.fail(fmt.Errorf("dedup: hand %d expired entries to the cold tier: %w", len(s.spill), err))
	}
	s.spill = s.spill[:0]
}
