package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// MalformedReasons lists the dead-letter reasons of the records that the
// generator writes for Config.Malformed, each equally likely. The other
// reasons of SPEC 3.2 depend on the catalog's rates (no_rate) or on a clock
// (too_far_future, too_old), which the generator does not know.
var MalformedReasons = []schemas.Reason{
	schemas.ReasonMalformedJSON, schemas.ReasonMissingField, schemas.ReasonBadField,
	schemas.ReasonBadQuantity, schemas.ReasonBadTime, schemas.ReasonUnknownMeter,
	schemas.ReasonUnknownTenant,
}

// ringSize is how many recent fresh events duplicates and conflicts copy.
const ringSize = 4096

// runawayFactor multiplies a runaway tenant's share of events.
const runawayFactor = 10

// Generator writes one deterministic stream of usage records. It is not safe
// for concurrent use. Build it with New.
type Generator struct {
	cfg   resolved
	rng   *rand.Rand
	tag   string  // seed-derived part of every event id
	uuid  uint64  // seed-derived key of UUID ids (Config.UUIDs)
	props float64 // fraction of fresh events with properties
	next  int64   // index of the next record
	seq   uint64  // events built so far (ids)

	// Tenants in the order of cfg.tenantIDs, JSON-quoted.
	tenants [][]byte
	// Tenant choice: cumulative weights by rank, and rank → tenant index.
	// cdf2 applies from record half on (runaway tenants ×10).
	cdf, cdf2  []float64
	rankTenant []int32
	half       int64
	stepNs     float64 // event-time nanoseconds per record before half
	step2Ns    float64 // … from half on
	startMs    int64

	meters    [][]byte // JSON-quoted meter names
	kinds     []meterKind
	models    [][]byte   // JSON-quoted; index 0 is the absent model
	meterMods [][]uint16 // per meter: indices into models

	// Thresholds on one uniform draw per record, cumulative.
	tMal, tDup, tConf, tLate, tOOO float64

	oooMaxMs, lateMinMs, lateMaxMs int64

	unknownTenant string   // prefix of tenant ids that are not the generator's
	unknownMeters []string // meter names that are not the generator's

	ring    [ringSize]event
	ringN   int
	ringPos int
	scratch []byte

	st counters
}

// counters are the running Stats, in arrays to stay cheap.
type counters struct {
	records, bytes, counted, ooo, late, dups, conflicts, ce int64
	malformed                                               [7]int64
	quantity                                                []schemas.Micros
	events                                                  []int64
	firstMs, lastMs                                         int64
}

// New checks cfg and returns a generator positioned at the first record.
// Every problem with cfg is reported at once.
func New(cfg Config) (*Generator, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, fmt.Errorf("loadgen config: %w", err)
	}
	g := &Generator{
		cfg:     r,
		rng:     rand.New(rand.NewPCG(r.Seed, 0x6576656e74730001)),
		tag:     idTag(r.Seed),
		uuid:    mix64(r.Seed ^ 0x5bd1e9955bd1e995),
		props:   propsFraction(r.Properties),
		startMs: r.Start.UnixMilli(),
		scratch: make([]byte, 0, 256),
	}
	g.tenants = make([][]byte, len(r.tenantIDs))
	for i, id := range r.tenantIDs {
		g.tenants[i] = jsonString(id)
	}
	var weights []float64
	g.rankTenant, weights = tenantRanks(r)
	g.cdf, g.cdf2 = make([]float64, len(weights)), make([]float64, len(weights))
	runaway := make(map[int32]bool, len(r.Runaway))
	for i, id := range r.tenantIDs {
		if slices.Contains(r.Runaway, id) {
			runaway[int32(i)] = true
		}
	}
	var sum, sum2 float64
	for k, w := range weights {
		sum += w
		g.cdf[k] = sum
		if runaway[g.rankTenant[k]] {
			w *= runawayFactor
		}
		sum2 += w
		g.cdf2[k] = sum2
	}
	g.half = r.Events / 2
	g.stepNs = 1e9 / r.Rate
	g.step2Ns = g.stepNs * sum / sum2

	g.models = [][]byte{nil}
	for _, m := range r.models {
		g.models = append(g.models, jsonString(m))
	}
	for i, m := range r.Meters {
		g.meters = append(g.meters, jsonString(m))
		g.kinds = append(g.kinds, kindOf(m))
		var idx []uint16
		for _, mod := range r.meterMods[i] {
			idx = append(idx, uint16(slices.Index(r.models, mod)+1)) // "" → 0
		}
		g.meterMods = append(g.meterMods, idx)
	}

	g.tMal = r.Malformed
	g.tDup = g.tMal + r.Duplicates
	g.tConf = g.tDup + r.Conflicts
	g.tLate = g.tConf + r.Late
	g.tOOO = g.tLate + r.OutOfOrder
	g.oooMaxMs = r.OutOfOrderMax.Milliseconds()
	g.lateMinMs = LateMin.Milliseconds()
	g.lateMaxMs = r.LateMax.Milliseconds()

	g.unknownTenant = "zz-unknown-"
	for slices.ContainsFunc(r.tenantIDs, func(id string) bool { return strings.HasPrefix(id, g.unknownTenant) }) {
		g.unknownTenant = "z" + g.unknownTenant
	}
	for _, m := range []string{"gpu_hours", "storage_gb_hours", "tokens_cached", "images"} {
		if !slices.Contains(r.Meters, m) {
			g.unknownMeters = append(g.unknownMeters, m)
		}
	}
	for n := 0; len(g.unknownMeters) < 2; n++ {
		m := fmt.Sprintf("unknown_meter_%d", n)
		if !slices.Contains(r.Meters, m) {
			g.unknownMeters = append(g.unknownMeters, m)
		}
	}
	g.st.quantity = make([]schemas.Micros, len(r.Meters))
	g.st.events = make([]int64, len(r.Meters))
	g.st.firstMs, g.st.lastMs = math.MaxInt64, math.MinInt64
	return g, nil
}

// tenantRanks returns the tenant index of every Zipf rank (a seeded
// permutation, so that the whales are not simply the first ids) and the
// weight of every rank.
func tenantRanks(r resolved) ([]int32, []float64) {
	n := len(r.tenantIDs)
	rng := rand.New(rand.NewPCG(r.Seed, 0x72616e6b73000002))
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	w := make([]float64, n)
	for k := range w {
		w[k] = math.Pow(float64(k+1), -r.Skew)
	}
	return perm, w
}

// idTag derives four base-36 characters from the seed, so that streams of
// different seeds do not share event ids.
func idTag(seed uint64) string {
	z := mix64(seed)
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b [4]byte
	for i := range b {
		b[i] = digits[z%36]
		z /= 36
	}
	return string(b[:])
}

// Next appends the next record, one JSON object without a newline, to dst
// and returns it with true; at the end of the stream it returns dst
// unchanged and false. Next allocates nothing beyond growing dst.
func (g *Generator) Next(dst []byte) ([]byte, bool) {
	if g.next >= g.cfg.Events {
		return dst, false
	}
	i := g.next
	g.next++
	var baseNs float64
	if i < g.half {
		baseNs = float64(i) * g.stepNs
	} else {
		baseNs = float64(g.half)*g.stepNs + float64(i-g.half)*g.step2Ns
	}
	offMs := int64(baseNs / 1e6)
	n0 := len(dst)
	u := g.rng.Float64()
	switch {
	case u < g.tMal:
		dst = g.malformed(dst, i, offMs)
	case u < g.tDup && g.ringN > 0:
		ev := &g.ring[g.rng.IntN(g.ringN)]
		dst = g.encode(dst, ev, mutation{})
		g.st.dups++
		if ev.ce {
			g.st.ce++
		}
	case u < g.tConf && g.ringN > 0:
		ev := g.ring[g.rng.IntN(g.ringN)]
		ev.qty += g.bump(&ev)
		dst = g.encode(dst, &ev, mutation{})
		g.st.conflicts++
		if ev.ce {
			g.st.ce++
		}
	default:
		var delay int64
		switch {
		case u >= g.tConf && u < g.tLate:
			if hi := min(g.lateMaxMs, offMs); hi >= g.lateMinMs {
				delay = g.lateMinMs + g.rng.Int64N(hi-g.lateMinMs+1)
				g.st.late++
			}
		case u >= g.tLate && u < g.tOOO:
			if hi := min(g.oooMaxMs, offMs); hi >= 1 {
				delay = 1 + g.rng.Int64N(hi)
				g.st.ooo++
			}
		}
		var ev event
		g.fresh(&ev, i, offMs-delay)
		g.ring[g.ringPos] = ev
		g.ringPos = (g.ringPos + 1) % ringSize
		g.ringN = min(g.ringN+1, ringSize)
		dst = g.encode(dst, &ev, mutation{})
		g.count(&ev)
	}
	g.st.records++
	g.st.bytes += int64(len(dst) - n0)
	return dst, true
}

// count adds a fresh event to the stats.
func (g *Generator) count(ev *event) {
	g.st.counted++
	g.st.quantity[ev.meter] += ev.qty
	g.st.events[ev.meter]++
	if ev.ce {
		g.st.ce++
	}
	g.st.firstMs = min(g.st.firstMs, ev.ms)
	g.st.lastMs = max(g.st.lastMs, ev.ms)
}

// fresh fills ev with a new event of record i at offMs after Start.
func (g *Generator) fresh(ev *event, i, offMs int64) {
	cdf := g.cdf
	if i >= g.half && len(g.cfg.Runaway) > 0 {
		cdf = g.cdf2
	}
	x := g.rng.Float64() * cdf[len(cdf)-1]
	lo, hi := 0, len(cdf)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if cdf[mid] <= x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	ev.tenant = g.rankTenant[lo]
	ev.meter = uint16(g.rng.IntN(len(g.meters)))
	mods := g.meterMods[ev.meter]
	ev.model = mods[g.rng.IntN(len(mods))]
	g.seq++
	ev.seq = g.seq
	g.quantity(ev)
	ev.ms = g.startMs + offMs
	ev.zone = 0
	if g.rng.IntN(100) < 3 {
		ev.zone = uint8(1 + g.rng.IntN(len(zoneOffsets)-1))
	}
	ev.props, ev.propv = 0, 0
	if g.rng.Float64() < g.props {
		ev.props = uint8(1 + g.rng.IntN(numPropTemplates))
		ev.propv = g.rng.Uint32()
	}
	ev.ce = g.cfg.CloudEvents > 0 && g.rng.Float64() < g.cfg.CloudEvents
}

// mix64 is the splitmix64 finalizer of z + the golden ratio: a bijection
// that scatters nearby inputs.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// propsFraction is Config.Properties with its default applied.
func propsFraction(f float64) float64 {
	switch {
	case f == 0:
		return DefaultProperties
	case f < 0:
		return 0
	}
	return f
}

// WriteTo writes the rest of the stream as JSON Lines, buffered, and returns
// the number of bytes written.
func (g *Generator) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	buf := make([]byte, 0, 1024)
	var n int64
	for {
		var ok bool
		buf, ok = g.Next(buf[:0])
		if !ok {
			break
		}
		buf = append(buf, '\n')
		m, err := bw.Write(buf)
		n += int64(m)
		if err != nil {
			return n, fmt.Errorf("write generated records: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write generated records: %w", err)
	}
	return n, nil
}

// Stats counts what the generator has written so far.
type Stats struct {
	Records     int64 // records written, of every kind
	Bytes       int64 // bytes of those records, newlines not included
	Counted     int64 // fresh well-formed events, each counted once by a pipeline (includes OutOfOrder and Late)
	OutOfOrder  int64 // of Counted: event time up to OutOfOrderMax behind the stream
	Late        int64 // of Counted: event time LateMin to LateMax behind the stream
	Duplicates  int64 // exact re-sends of a counted event (same bytes)
	Conflicts   int64 // re-sends of a counted event's (tenant, id) with another quantity
	CloudEvents int64 // records in CloudEvents form, among Counted, Duplicates and Conflicts

	// Malformed counts the records a pipeline must dead-letter, by reason
	// (every reason of MalformedReasons is present, possibly with 0).
	Malformed map[schemas.Reason]int64
	// Quantity is the sum of the counted events' quantities per meter (every
	// meter present); duplicates and conflicts are not included.
	Quantity map[string]schemas.Micros
	// Events is the number of counted events per meter (every meter present).
	Events map[string]int64
	// First and Last are the earliest and latest event times of counted
	// events, UTC; zero when none was written.
	First, Last time.Time
}

// MalformedTotal returns the number of records to be dead-lettered.
func (s Stats) MalformedTotal() int64 {
	var n int64
	for _, c := range s.Malformed {
		n += c
	}
	return n
}

// Stats returns the counts of what has been written so far.
func (g *Generator) Stats() Stats {
	s := Stats{
		Records: g.st.records, Bytes: g.st.bytes, Counted: g.st.counted,
		OutOfOrder: g.st.ooo, Late: g.st.late, Duplicates: g.st.dups,
		Conflicts: g.st.conflicts, CloudEvents: g.st.ce,
		Malformed: make(map[schemas.Reason]int64, len(MalformedReasons)),
		Quantity:  make(map[string]schemas.Micros, len(g.cfg.Meters)),
		Events:    make(map[string]int64, len(g.cfg.Meters)),
	}
	for i, r := range MalformedReasons {
		s.Malformed[r] = g.st.malformed[i]
	}
	for i, m := range g.cfg.Meters {
		s.Quantity[m] = g.st.quantity[i]
		s.Events[m] = g.st.events[i]
	}
	if g.st.counted > 0 {
		s.First = time.UnixMilli(g.st.firstMs).UTC()
		s.Last = time.UnixMilli(g.st.lastMs).UTC()
	}
	return s
}

// TenantIDs returns the generator's tenants, in the order of Config.TenantIDs
// followed by the synthesised ones. The caller must not modify the slice.
func (g *Generator) TenantIDs() []string { return g.cfg.tenantIDs }
