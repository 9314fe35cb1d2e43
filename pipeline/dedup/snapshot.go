package dedup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// Snapshot format, version 2, all integers little-endian:
//
//	offset  size  field
//	0       8     magic "CFDEDUP\x00"
//	8       4     version (2)
//	12      4     flags (0)
//	16      8     horizon in ms (informational)
//	24      8     retention in ms (informational)
//	32      8     cut: entries with an event time (ms) below it are expired
//	40      8     n: number of entries
//	48      24·n  entries (hi, lo, meta), sorted by hi
//	48+24n  4     CRC-32C (Castagnoli) of every byte before it
//
// The entry encoding is the in-memory one, so the key hash and the meta
// layout (event ms + 1, folded digest) are part of the format: changing
// either requires a new version. Version 1 had another key hash (two
// multiply lanes); its snapshots are refused as ErrSnapshot, since their
// keys cannot be recomputed without the ids.
const (
	snapshotMagic   = "CFDEDUP\x00"
	snapshotVersion = 2
	headerSize      = 48
	chunkEntries    = 4096
)

// ErrSnapshot reports a snapshot that is not one this version can read, or
// whose checksum does not match its bytes.
var ErrSnapshot = errors.New("invalid dedup snapshot")

// WriteTo writes a snapshot of s to w: a versioned binary image of every
// recorded entry with a CRC-32C checksum, 52 + 24·Len() bytes. It returns
// the number of bytes written. s is not modified.
func (s *Set) WriteTo(w io.Writer) (int64, error) {
	crc := crc32.MakeTable(crc32.Castagnoli)
	buf := make([]byte, 0, headerSize+chunkEntries*entrySize)
	var total int64
	var sum uint32
	flush := func() error {
		sum = crc32.Update(sum, crc, buf)
		n, err := w.Write(buf)
		total += int64(n)
		buf = buf[:0]
		if err != nil {
			return fmt.Errorf("write dedup snapshot: %w", err)
		}
		return nil
	}
	buf = append(buf, snapshotMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, snapshotVersion)
	buf = binary.LittleEndian.AppendUint32(buf, 0)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(s.hms))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(s.retention.Milliseconds()))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(s.cut))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(s.n))
	for i := range s.tab {
		e := &s.tab[i]
		if e.meta == 0 {
			continue
		}
		if len(buf)+entrySize > cap(buf) {
			if err := flush(); err != nil {
				return total, err
			}
		}
		buf = binary.LittleEndian.AppendUint64(buf, e.hi)
		buf = binary.LittleEndian.AppendUint64(buf, e.lo)
		buf = binary.LittleEndian.AppendUint64(buf, e.meta)
	}
	if err := flush(); err != nil {
		return total, err
	}
	buf = binary.LittleEndian.AppendUint32(buf, sum)
	if err := flush(); err != nil {
		return total, err
	}
	return total, nil
}

// ReadFrom replaces the contents of s with the snapshot read from r, which
// must hold exactly one snapshot as written by WriteTo (ReadFrom reads no
// further than its checksum). It returns the number of bytes read. On any
// error s is left unchanged; a damaged or foreign snapshot yields an error
// wrapping ErrSnapshot.
//
// The snapshot's horizon and retention need not match s's configuration:
// entries are kept, s's own Horizon and Retention apply from now on, and
// the expiry cutoff carried by the snapshot is kept (Floor reflects it).
// Config.Cold is neither saved nor restored: a snapshot holds the in-memory
// tier only.
func (s *Set) ReadFrom(r io.Reader) (int64, error) {
	crc := crc32.MakeTable(crc32.Castagnoli)
	var total int64
	var sum uint32
	read := func(p []byte, what string) error {
		n, err := io.ReadFull(r, p)
		total += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("read dedup snapshot %s: truncated: %w: %w", what, ErrSnapshot, err)
			}
			return fmt.Errorf("read dedup snapshot %s: %w", what, err)
		}
		return nil
	}
	var hdr [headerSize]byte
	if err := read(hdr[:], "header"); err != nil {
		return total, err
	}
	sum = crc32.Update(sum, crc, hdr[:])
	if string(hdr[:8]) != snapshotMagic {
		return total, fmt.Errorf("read dedup snapshot: bad magic %q: %w", hdr[:8], ErrSnapshot)
	}
	if v := binary.LittleEndian.Uint32(hdr[8:]); v != snapshotVersion {
		return total, fmt.Errorf("read dedup snapshot: version %d, want %d: %w", v, snapshotVersion, ErrSnapshot)
	}
	cut := int64(binary.LittleEndian.Uint64(hdr[32:]))
	n := binary.LittleEndian.Uint64(hdr[40:])
	if n > math.MaxInt/entrySize {
		return total, fmt.Errorf("read dedup snapshot: %d entries: %w", n, ErrSnapshot)
	}

	// Grow as the data arrives, so a damaged count cannot make us allocate
	// more than the bytes actually present.
	ents := make([]entry, 0, min(n, 1<<16))
	buf := make([]byte, chunkEntries*entrySize)
	var prev uint64
	for left := n; left > 0; {
		k := min(left, chunkEntries)
		p := buf[:k*entrySize]
		if err := read(p, "entries"); err != nil {
			return total, err
		}
		sum = crc32.Update(sum, crc, p)
		for ; len(p) > 0; p = p[entrySize:] {
			e := entry{
				hi:   binary.LittleEndian.Uint64(p),
				lo:   binary.LittleEndian.Uint64(p[8:]),
				meta: binary.LittleEndian.Uint64(p[16:]),
			}
			if e.meta == 0 || e.hi < prev {
				return total, fmt.Errorf("read dedup snapshot: entry %d malformed or out of order: %w", len(ents), ErrSnapshot)
			}
			prev = e.hi
			ents = append(ents, e)
		}
		left -= k
	}
	var tail [4]byte
	if err := read(tail[:], "checksum"); err != nil {
		return total, err
	}
	if got := binary.LittleEndian.Uint32(tail[:]); got != sum {
		return total, fmt.Errorf("read dedup snapshot: checksum %08x, computed %08x: %w", got, sum, ErrSnapshot)
	}

	minT := int64(math.MaxInt64)
	for i := range ents {
		minT = min(minT, ents[i].millis())
	}
	s.n = len(ents)
	s.cut = cut
	if s.cold != nil && cut != math.MinInt64 {
		s.coldBelow = cut + s.hms
	}
	s.minT = minT
	s.dropped = 0
	s.slack = initSlack
	replaced := s.tab
	for {
		s.tab = s.alloc(capFor(len(ents)))
		if s.pack(ents) {
			break
		}
		s.mem.Free(s.tab)
		s.slack *= 2
	}
	s.mem.Free(replaced)
	return total, nil
}

// snapshotSize returns the size in bytes of a snapshot of n entries.
func snapshotSize(n int) int { return headerSize + n*entrySize + 4 }
