package dedup

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// DiskConfig configures a DiskCold. The zero value is valid.
type DiskConfig struct {
	// Dir is the directory in which DiskCold creates its own temporary
	// directory for run files; "" means os.TempDir(). Close removes the
	// temporary directory.
	Dir string
	// MemEntries: entries buffered in memory (24 bytes each) before they are
	// written out as a run. Zero means 65536 (1.5 MiB). Must be ≥ 0.
	MemEntries int
	// RunsPerLevel: once a level holds this many runs, they are merged into
	// one run of the next level, so no level holds more than RunsPerLevel−1
	// runs between calls. Zero means 8. Must be 0 or at least 2.
	RunsPerLevel int
	// BloomBits: Bloom filter bits per stored entry, the bulk of DiskCold's
	// memory. Zero means 10 (about 1% false positives, 1.25 bytes per
	// entry). Must be between 0 and 64.
	BloomBits int
}

// DiskCold defaults.
const (
	DefaultMemEntries   = 1 << 16
	DefaultRunsPerLevel = 8
	DefaultBloomBits    = 10

	blockEntries = 256  // entries per indexed block of a run file: 6 KiB read per probe
	tailMax      = 1024 // unsorted entries buffered before they are merged into the sorted buffer
	ioBuffer     = 64 << 10
)

// DiskCold is a Cold tier on local disk for batch runs such as replay. It
// keeps entries in sorted, immutable run files in a temporary directory,
// with a Bloom filter and a sparse index per run in memory, and merges runs
// LSM-style (see the package documentation, "Cold tier"). It is not crash
// safe: its files are scratch space for one run, and Close removes them.
// It is not safe for concurrent use. A DiskCold must be closed with Close.
type DiskCold struct {
	dir       string
	memMax    int
	perLevel  int
	bloomBits int
	every     int // entries per indexed block (blockEntries; smaller in tests)

	sorted []entry // buffered entries, sorted by (hi, lo, meta); cap memMax+tailMax
	tail   []entry // buffered entries, unsorted
	levels [][]*run
	forget int64 // Lookup ignores, and merges drop, entries older than this (ms)
	seq    int
	closed bool
	err    error // first write failure: DiskCold is unusable after it

	block   []byte
	wbuf    *bufio.Writer
	readers []*bufio.Reader
	stats   DiskStats
}

// run is one immutable run file of 24-byte records (hi, lo, meta, each
// little-endian uint64) sorted by (hi, lo, meta), that is by key and then
// by event time.
type run struct {
	f          *os.File
	n          int
	index      []uint64 // hi of records 0, every, 2·every, …
	bloom      bloom
	minT, maxT int64 // event times (ms) of the records
}

// DiskStats describes a DiskCold's state and work so far.
type DiskStats struct {
	Entries     int64 // entries stored, in memory and in runs (forgotten ones not yet dropped included)
	Runs        int   // run files
	DiskBytes   int64 // bytes in run files: 24 per entry
	IndexBytes  int64 // memory held by Bloom filters and sparse indexes
	BufferBytes int64 // memory held by the write buffer and I/O buffers
	Flushes     int64 // runs written from the buffer
	Merges      int64 // merges of a level's runs
	Lookups     int64 // calls to Lookup
	BloomPasses int64 // run probes that the Bloom filter or time range did not rule out
	BlockReads  int64 // blocks read from run files
}

var errDiskClosed = errors.New("dedup disk cold tier is closed")

// NewDiskCold returns an empty DiskCold configured by cfg, having created
// its temporary directory, or every problem with cfg.
func NewDiskCold(cfg DiskConfig) (*DiskCold, error) {
	var errs []error
	if cfg.MemEntries < 0 {
		errs = append(errs, fmt.Errorf("mem entries %d: must not be negative", cfg.MemEntries))
	}
	if cfg.RunsPerLevel < 0 || cfg.RunsPerLevel == 1 {
		errs = append(errs, fmt.Errorf("runs per level %d: must be 0 or at least 2", cfg.RunsPerLevel))
	}
	if cfg.BloomBits < 0 || cfg.BloomBits > 64 {
		errs = append(errs, fmt.Errorf("bloom bits %d: must be between 0 and 64", cfg.BloomBits))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &DiskCold{
		memMax:    cmp.Or(cfg.MemEntries, DefaultMemEntries),
		perLevel:  cmp.Or(cfg.RunsPerLevel, DefaultRunsPerLevel),
		bloomBits: cmp.Or(cfg.BloomBits, DefaultBloomBits),
		every:     blockEntries,
		forget:    math.MinInt64,
	}
	dir, err := os.MkdirTemp(cfg.Dir, "creditflow-dedup-")
	if err != nil {
		return nil, fmt.Errorf("create dedup cold tier directory: %w", err)
	}
	c.dir = dir
	return c, nil
}

// Dir returns the temporary directory that holds the run files.
func (c *DiskCold) Dir() string { return c.dir }

func (c *DiskCold) usable() error {
	if c.closed {
		return errDiskClosed
	}
	return c.err
}

func (c *DiskCold) tailLimit() int { return min(tailMax, c.memMax) }

// Add buffers entries, writing a run when the buffer is full and merging
// runs when a level is full. Entries older than the latest Forget are
// ignored. After a write error DiskCold is unusable: that error is returned
// by every later call but Close.
func (c *DiskCold) Add(entries []Entry) error {
	if err := c.usable(); err != nil {
		return err
	}
	if c.tail == nil {
		c.tail = make([]entry, 0, c.tailLimit())
		c.sorted = make([]entry, 0, c.memMax+c.tailLimit())
	}
	for _, e := range entries {
		if e.Millis < c.forget {
			continue
		}
		c.tail = append(c.tail, entry{
			hi:   e.Key.Hi,
			lo:   e.Key.Lo,
			meta: uint64(clampMillis(e.Millis)+1)<<digestBits | uint64(e.Digest)&digestMask,
		})
		if len(c.tail) == c.tailLimit() {
			if err := c.settle(); err != nil {
				return err
			}
		}
	}
	return nil
}

func cmpEntry(a, b entry) int {
	if x := cmp.Compare(a.hi, b.hi); x != 0 {
		return x
	}
	if x := cmp.Compare(a.lo, b.lo); x != 0 {
		return x
	}
	return cmp.Compare(a.meta, b.meta)
}

// settle sorts the tail into the sorted buffer, merging from the back in
// place, and writes the buffer out as a run once it holds memMax entries.
func (c *DiskCold) settle() error {
	t := c.tail
	slices.SortFunc(t, cmpEntry)
	a := len(c.sorted)
	c.sorted = c.sorted[:a+len(t)]
	s := c.sorted
	i, j := a-1, len(t)-1
	for k := len(s) - 1; j >= 0; k-- {
		if i >= 0 && cmpEntry(s[i], t[j]) > 0 {
			s[k] = s[i]
			i--
		} else {
			s[k] = t[j]
			j--
		}
	}
	c.tail = c.tail[:0]
	if len(c.sorted) >= c.memMax {
		return c.flush()
	}
	return nil
}

// flush writes the sorted buffer as a level-0 run and merges full levels.
func (c *DiskCold) flush() error {
	w, err := c.createRun(len(c.sorted))
	if err != nil {
		return err
	}
	for _, e := range c.sorted {
		if e.millis() >= c.forget {
			if err := w.add(e); err != nil {
				return c.broken(w.abort(err))
			}
		}
	}
	r, err := w.finish()
	if err != nil {
		return c.broken(err)
	}
	c.sorted = c.sorted[:0]
	c.stats.Flushes++
	c.push(0, r)
	return c.compact()
}

func (c *DiskCold) broken(err error) error {
	if c.err == nil {
		c.err = err
	}
	return err
}

// push adds r (nil for an empty run) to the runs of level l.
func (c *DiskCold) push(l int, r *run) {
	if r == nil {
		return
	}
	for len(c.levels) <= l {
		c.levels = append(c.levels, nil)
	}
	c.levels[l] = append(c.levels[l], r)
}

// compact merges every level that holds perLevel runs into one run of the
// next level, from level 0 up.
func (c *DiskCold) compact() error {
	for l := 0; l < len(c.levels); l++ {
		if len(c.levels[l]) < c.perLevel {
			continue
		}
		r, err := c.merge(c.levels[l])
		if err != nil {
			return c.broken(err)
		}
		clear(c.levels[l])
		c.levels[l] = c.levels[l][:0]
		c.stats.Merges++
		c.push(l+1, r)
	}
	return nil
}

// merge writes the entries of ins that are not forgotten into one new run,
// and removes ins.
func (c *DiskCold) merge(ins []*run) (*run, error) {
	type cursor struct {
		r   *bufio.Reader
		e   entry
		end bool
	}
	var rec [entrySize]byte
	next := func(cur *cursor) error {
		if _, err := io.ReadFull(cur.r, rec[:]); err != nil {
			if err == io.EOF {
				cur.end = true
				return nil
			}
			return fmt.Errorf("read dedup run: %w", err)
		}
		cur.e = decodeEntry(rec[:])
		return nil
	}
	expect := 0
	curs := make([]cursor, 0, len(ins))
	for _, r := range ins {
		if r.maxT < c.forget {
			continue
		}
		expect += r.n
		if len(c.readers) <= len(curs) {
			c.readers = append(c.readers, bufio.NewReaderSize(nil, ioBuffer))
		}
		br := c.readers[len(curs)]
		br.Reset(io.NewSectionReader(r.f, 0, int64(r.n)*entrySize))
		curs = append(curs, cursor{r: br})
		if err := next(&curs[len(curs)-1]); err != nil {
			return nil, err
		}
	}
	w, err := c.createRun(expect)
	if err != nil {
		return nil, err
	}
	for {
		m := -1
		for i := range curs {
			if !curs[i].end && (m < 0 || cmpEntry(curs[i].e, curs[m].e) < 0) {
				m = i
			}
		}
		if m < 0 {
			break
		}
		if curs[m].e.millis() >= c.forget {
			if err := w.add(curs[m].e); err != nil {
				return nil, w.abort(err)
			}
		}
		if err := next(&curs[m]); err != nil {
			return nil, w.abort(err)
		}
	}
	for i := range c.readers {
		c.readers[i].Reset(nil)
	}
	out, err := w.finish()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, r := range ins {
		errs = append(errs, c.remove(r))
	}
	return out, errors.Join(errs...)
}

func decodeEntry(p []byte) entry {
	return entry{
		hi:   binary.LittleEndian.Uint64(p),
		lo:   binary.LittleEndian.Uint64(p[8:]),
		meta: binary.LittleEndian.Uint64(p[16:]),
	}
}

// remove closes and deletes r's file.
func (c *DiskCold) remove(r *run) error {
	name := r.f.Name()
	err := r.f.Close()
	if e := os.Remove(name); e != nil && err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("remove dedup run: %w", err)
	}
	return nil
}

// runWriter writes one run file and builds its index and Bloom filter.
type runWriter struct {
	c      *DiskCold
	r      *run
	expect int
	rec    [entrySize]byte
}

// createRun starts a run file for about expect entries.
func (c *DiskCold) createRun(expect int) (*runWriter, error) {
	c.seq++
	f, err := os.OpenFile(filepath.Join(c.dir, fmt.Sprintf("run-%08d", c.seq)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create dedup run: %w", err)
	}
	if c.wbuf == nil {
		c.wbuf = bufio.NewWriterSize(f, ioBuffer)
	} else {
		c.wbuf.Reset(f)
	}
	return &runWriter{
		c:      c,
		r:      &run{f: f, bloom: newBloom(expect, c.bloomBits), minT: math.MaxInt64, maxT: math.MinInt64},
		expect: expect,
	}, nil
}

func (w *runWriter) add(e entry) error {
	r := w.r
	if r.n%w.c.every == 0 {
		r.index = append(r.index, e.hi)
	}
	r.n++
	r.bloom.add(e.hi, e.lo)
	t := e.millis()
	r.minT = min(r.minT, t)
	r.maxT = max(r.maxT, t)
	binary.LittleEndian.PutUint64(w.rec[:], e.hi)
	binary.LittleEndian.PutUint64(w.rec[8:], e.lo)
	binary.LittleEndian.PutUint64(w.rec[16:], e.meta)
	if _, err := w.c.wbuf.Write(w.rec[:]); err != nil {
		return fmt.Errorf("write dedup run %s: %w", r.f.Name(), err)
	}
	return nil
}

// abort removes the unfinished run and returns err.
func (w *runWriter) abort(err error) error {
	w.c.wbuf.Reset(nil)
	return errors.Join(err, w.c.remove(w.r))
}

// finish flushes the run; an empty run is removed and finish returns nil.
// A run much smaller than expected gets a Bloom filter of its own size.
func (w *runWriter) finish() (*run, error) {
	if err := w.c.wbuf.Flush(); err != nil {
		return nil, w.abort(fmt.Errorf("write dedup run %s: %w", w.r.f.Name(), err))
	}
	w.c.wbuf.Reset(nil)
	r := w.r
	if r.n == 0 {
		return nil, w.c.remove(r)
	}
	r.index = slices.Clip(r.index)
	if 2*r.n < w.expect {
		r.bloom = newBloom(r.n, w.c.bloomBits)
		if len(w.c.readers) == 0 {
			w.c.readers = append(w.c.readers, bufio.NewReaderSize(nil, ioBuffer))
		}
		br := w.c.readers[0]
		br.Reset(io.NewSectionReader(r.f, 0, int64(r.n)*entrySize))
		defer br.Reset(nil)
		for range r.n {
			if _, err := io.ReadFull(br, w.rec[:]); err != nil {
				return nil, w.abort(fmt.Errorf("read back dedup run %s: %w", r.f.Name(), err))
			}
			e := decodeEntry(w.rec[:])
			r.bloom.add(e.hi, e.lo)
		}
	}
	return r, nil
}

// Lookup implements Cold: it searches the buffer, then each run whose time
// range overlaps [from, to] and whose Bloom filter may hold key, reading
// one block (6 KiB) per such run, rarely two.
func (c *DiskCold) Lookup(key Key, from, to int64, digest uint32) (Result, error) {
	if err := c.usable(); err != nil {
		return 0, err
	}
	c.stats.Lookups++
	from = max(from, c.forget)
	if from > to {
		return NewEvent, nil
	}
	d := uint64(digest) & digestMask
	res := NewEvent
	match := func(e entry) bool {
		if e.hi != key.Hi || e.lo != key.Lo {
			return false
		}
		if t := e.millis(); t >= from && t <= to {
			if e.meta&digestMask == d {
				return true
			}
			res = Conflict
		}
		return false
	}
	for i := range c.tail {
		if match(c.tail[i]) {
			return Duplicate, nil
		}
	}
	i, _ := slices.BinarySearchFunc(c.sorted, key, func(e entry, k Key) int {
		if x := cmp.Compare(e.hi, k.Hi); x != 0 {
			return x
		}
		return cmp.Compare(e.lo, k.Lo)
	})
	for ; i < len(c.sorted) && c.sorted[i].hi == key.Hi && c.sorted[i].lo == key.Lo; i++ {
		if match(c.sorted[i]) {
			return Duplicate, nil
		}
	}
	for l := range c.levels {
		for _, r := range c.levels[l] {
			if r.maxT < from || r.minT > to || !r.bloom.has(key.Hi, key.Lo) {
				continue
			}
			c.stats.BloomPasses++
			dup, err := c.searchRun(r, key, match)
			if err != nil {
				return 0, err
			}
			if dup {
				return Duplicate, nil
			}
		}
	}
	return res, nil
}

// searchRun reads the blocks of r that may hold key and reports whether
// match accepted one of its entries. Its entries start in the last block
// whose first hi is below key.Hi (or block 0) and end before the first
// larger hi.
func (c *DiskCold) searchRun(r *run, key Key, match func(entry) bool) (bool, error) {
	b, _ := slices.BinarySearch(r.index, key.Hi)
	b = max(b-1, 0)
	if c.block == nil {
		c.block = make([]byte, c.every*entrySize)
	}
	for ; b < len(r.index); b++ {
		first := b * c.every
		buf := c.block[:min(c.every, r.n-first)*entrySize]
		if _, err := r.f.ReadAt(buf, int64(first)*entrySize); err != nil {
			return false, fmt.Errorf("read dedup run %s: %w", r.f.Name(), err)
		}
		c.stats.BlockReads++
		for p := buf; len(p) > 0; p = p[entrySize:] {
			hi := binary.LittleEndian.Uint64(p)
			if hi < key.Hi {
				continue
			}
			if hi > key.Hi {
				return false, nil
			}
			e := entry{hi: hi, lo: binary.LittleEndian.Uint64(p[8:]), meta: binary.LittleEndian.Uint64(p[16:])}
			if match(e) {
				return true, nil
			}
		}
	}
	return false, nil
}

// Forget implements Cold: Lookup ignores entries older than before from
// now on, runs holding only such entries are deleted at once, and merges
// drop the rest of them.
func (c *DiskCold) Forget(before int64) error {
	if err := c.usable(); err != nil {
		return err
	}
	if before <= c.forget {
		return nil
	}
	c.forget = before
	var errs []error
	for l, rs := range c.levels {
		keep := rs[:0]
		for _, r := range rs {
			if r.maxT < before {
				errs = append(errs, c.remove(r))
				continue
			}
			keep = append(keep, r)
		}
		clear(rs[len(keep):])
		c.levels[l] = keep
	}
	if err := errors.Join(errs...); err != nil {
		return c.broken(err)
	}
	return nil
}

// Stats returns the current state and counters.
func (c *DiskCold) Stats() DiskStats {
	st := c.stats
	st.Entries = int64(len(c.sorted) + len(c.tail))
	for _, rs := range c.levels {
		for _, r := range rs {
			st.Runs++
			st.Entries += int64(r.n)
			st.DiskBytes += int64(r.n) * entrySize
			st.IndexBytes += int64(r.bloom.bytes() + 8*cap(r.index))
		}
	}
	st.BufferBytes = int64(cap(c.sorted)+cap(c.tail))*entrySize + int64(cap(c.block)) + int64(len(c.readers))*ioBuffer
	if c.wbuf != nil {
		st.BufferBytes += ioBuffer
	}
	return st
}

// Close closes and deletes every run file and the temporary directory.
// Later calls to Close do nothing; other methods fail after Close.
func (c *DiskCold) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for _, rs := range c.levels {
		for _, r := range rs {
			if err := r.f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close dedup run: %w", err))
			}
		}
	}
	c.levels = nil
	c.sorted, c.tail = nil, nil
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove dedup cold tier directory: %w", err))
	}
	return errors.Join(errs...)
}
