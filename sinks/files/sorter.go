package files

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
)

// DefaultSorterBytes is the memory budget of a Sorter when NewSorter is given
// zero: 64 MiB.
const DefaultSorterBytes = 64 << 20

// sortEntryOverhead is the bookkeeping a buffered record costs besides its
// bytes, counted against the memory budget.
const sortEntryOverhead = 64

// Sorter writes lines (JSON lines: alerts, dead letters) to a file sorted by
// a byte-wise key, in bounded memory, stably: lines with equal keys keep the
// order in which they were added. A Sorter is not safe for concurrent use
// and must be closed with Close.
type Sorter struct {
	out      *atomicFile
	maxBytes int
	arena    []byte // keys and lines of the buffered records
	ents     []sortEnt
	runs     runSet[sortRec]
	closed   bool
}

type sortEnt struct{ off, klen, llen int }

// sortRec is a record in a run: its key and its line, with the newline.
type sortRec struct{ key, line []byte }

// NewSorter returns a Sorter that writes to path (which appears when Close
// succeeds, not before), spills to tempDir (empty: the directory of path)
// and buffers up to maxBytes of keys and lines, plus a small overhead per
// record, before spilling (zero: DefaultSorterBytes).
func NewSorter(path, tempDir string, maxBytes int) (*Sorter, error) {
	var errs []error
	if path == "" {
		errs = append(errs, errors.New("path is required"))
	}
	if maxBytes < 0 {
		errs = append(errs, fmt.Errorf("max bytes %d: must not be negative", maxBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sorter: %w", err)
	}
	if maxBytes == 0 {
		maxBytes = DefaultSorterBytes
	}
	if tempDir == "" {
		tempDir = filepath.Dir(path)
	}
	out, err := createAtomic(path)
	if err != nil {
		return nil, fmt.Errorf("sorter: %w", err)
	}
	return &Sorter{out: out, maxBytes: maxBytes, runs: runSet[sortRec]{f: sortFormat, dir: tempDir}}, nil
}

// Add buffers one line under key; both are copied. A newline is appended to
// line unless it ends with one; line should hold no other newline.
func (s *Sorter) Add(key, line []byte) error {
	if s.closed {
		return errors.New("sorter add: sorter is closed")
	}
	off := len(s.arena)
	s.arena = append(s.arena, key...)
	s.arena = append(s.arena, line...)
	llen := len(line)
	if llen == 0 || line[llen-1] != '\n' {
		s.arena = append(s.arena, '\n')
		llen++
	}
	s.ents = append(s.ents, sortEnt{off: off, klen: len(key), llen: llen})
	if len(s.arena)+sortEntryOverhead*len(s.ents) >= s.maxBytes {
		if err := s.runs.spill(s.sorted()); err != nil {
			return fmt.Errorf("sorter add: %w", err)
		}
		s.arena, s.ents = s.arena[:0], s.ents[:0]
	}
	return nil
}

// sorted returns the buffered records, stably sorted by key. They alias the
// arena.
func (s *Sorter) sorted() []sortRec {
	recs := make([]sortRec, len(s.ents))
	for i, e := range s.ents {
		recs[i] = sortRec{key: s.arena[e.off : e.off+e.klen], line: s.arena[e.off+e.klen : e.off+e.klen+e.llen]}
	}
	slices.SortStableFunc(recs, func(a, b sortRec) int { return bytes.Compare(a.key, b.key) })
	return recs
}

// Close merges every added line into the output file and removes the
// temporary files, also on error (then no file appears). It returns the
// number of lines written. Close must be called exactly once.
func (s *Sorter) Close() (lines int64, err error) {
	if s.closed {
		return 0, errors.New("close sorter: already closed")
	}
	s.closed = true
	defer func() {
		if rerr := s.runs.removeAll(); rerr != nil && err == nil {
			err = fmt.Errorf("close sorter: %w", rerr)
		}
		s.out.Abort() // no-op after Commit
	}()
	bw := bufio.NewWriterSize(s.out, 1<<16)
	err = s.runs.merge(s.sorted(), func(r *sortRec) error {
		lines++
		_, err := bw.Write(r.line)
		return err
	})
	s.arena, s.ents = nil, nil
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", s.out.path, err)
	}
	if err := s.out.Commit(); err != nil {
		return 0, err
	}
	return lines, nil
}

// sortFormat stores a record as uvarint key length, key, uvarint line
// length, line.
var sortFormat = runFormat[sortRec]{
	name: "sorter",
	cmp:  func(a, b *sortRec) int { return bytes.Compare(a.key, b.key) },
	newEncoder: func() func(b []byte, r *sortRec) []byte {
		return func(b []byte, r *sortRec) []byte {
			b = binary.AppendUvarint(b, uint64(len(r.key)))
			b = append(b, r.key...)
			b = binary.AppendUvarint(b, uint64(len(r.line)))
			return append(b, r.line...)
		}
	},
	newDecoder: func(br *bufio.Reader) func(out *sortRec) error {
		read := func(dst []byte, first bool) ([]byte, error) {
			n, err := binary.ReadUvarint(br)
			if err != nil {
				if first {
					return dst, err // io.EOF at a clean end
				}
				return dst, noEOF(err)
			}
			if n > math.MaxInt32 {
				return dst, errors.New("corrupt spill record: length too large")
			}
			dst = slices.Grow(dst[:0], int(n))[:n]
			_, err = io.ReadFull(br, dst)
			return dst, noEOF(err)
		}
		return func(out *sortRec) error {
			var err error
			if out.key, err = read(out.key, true); err != nil {
				return err
			}
			out.line, err = read(out.line, false)
			return err
		}
	},
}
