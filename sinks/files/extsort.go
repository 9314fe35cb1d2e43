package files

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// mergeFanIn is the number of runs merged at once; with more runs, the
// merge first makes passes that merge consecutive groups of runs into longer
// runs, so that the data is read about log64(runs) times.
const mergeFanIn = 64

// runFormat describes how records of type T are ordered, combined and stored
// in run files.
type runFormat[T any] struct {
	name string // for temp file names and errors

	// cmp orders records.
	cmp func(a, b *T) int
	// combine folds src into dst when cmp(dst, src) == 0. Nil means records
	// are never combined; equal records then keep their order (earlier runs
	// first), which makes the sort stable.
	combine func(dst, src *T) error

	// newEncoder returns an appender for one run; it may keep state
	// between records of the run (prefix compression).
	newEncoder func() func(b []byte, r *T) []byte
	// newDecoder returns a reader for one run: it fills out and returns
	// io.EOF at a clean end of the run. Byte slices in out may be reused by
	// the next call.
	newDecoder func(br *bufio.Reader) func(out *T) error
}

// runSet is a set of sorted run files in dir.
type runSet[T any] struct {
	f     runFormat[T]
	dir   string
	paths []string
	buf   []byte
}

// spill writes sorted rows as a new run.
func (s *runSet[T]) spill(rows []T) error {
	return s.writeRun(func(write func(*T) error) error {
		for i := range rows {
			if err := write(&rows[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeRun creates a run file and fills it with the records that produce
// passes to write, in order.
func (s *runSet[T]) writeRun(produce func(write func(*T) error) error) (err error) {
	f, err := os.CreateTemp(s.dir, ".creditflow-"+s.f.name+"-*.run")
	if err != nil {
		return fmt.Errorf("create %s spill file: %w", s.f.name, err)
	}
	s.paths = append(s.paths, f.Name()) // removed by removeAll, even on error
	bw := bufio.NewWriterSize(f, 1<<16)
	enc := s.f.newEncoder()
	err = produce(func(r *T) error {
		s.buf = enc(s.buf[:0], r)
		_, err := bw.Write(s.buf)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	err = errors.Join(err, f.Close())
	if err != nil {
		return fmt.Errorf("write %s spill file %s: %w", s.f.name, f.Name(), err)
	}
	return nil
}

// merge emits every record of the runs and then of tail (sorted, in memory)
// in order, combining equal records when the format combines. Equal records
// that are not combined come out in run order, tail last.
func (s *runSet[T]) merge(tail []T, emit func(*T) error) error {
	for len(s.paths)+1 > mergeFanIn {
		// One pass: merge each group of mergeFanIn consecutive runs into
		// one run in its place, so that the order of equal records is kept.
		// Every file that exists stays in s.paths, for removeAll.
		old, merged := s.paths, []string(nil)
		for len(old) > 0 {
			group := old[:min(mergeFanIn, len(old))]
			old = old[len(group):]
			if len(group) == 1 {
				merged = append(merged, group[0])
				continue
			}
			s.paths = nil
			err := s.writeRun(func(write func(*T) error) error {
				return s.mergeSources(group, nil, write)
			})
			run := s.paths // the new run, when it was created
			s.paths = slices.Concat(merged, run, group, old)
			if err != nil {
				return err
			}
			for _, p := range group {
				if err := os.Remove(p); err != nil {
					return fmt.Errorf("remove %s spill file: %w", s.f.name, err)
				}
			}
			merged = append(merged, run...)
			s.paths = slices.Concat(merged, old)
		}
	}
	return s.mergeSources(s.paths, tail, emit)
}

// mergeSources k-way merges the run files at paths, then tail.
func (s *runSet[T]) mergeSources(paths []string, tail []T, emit func(*T) error) error {
	h := &mergeHeap[T]{cmp: s.f.cmp}
	defer func() {
		for _, it := range h.all {
			if it.file != nil {
				it.file.Close()
			}
		}
	}()
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("open %s spill file: %w", s.f.name, err)
		}
		it := &mergeItem[T]{order: i, file: f, dec: s.f.newDecoder(bufio.NewReaderSize(f, 1<<16))}
		h.all = append(h.all, it)
		if err := h.pushNext(it); err != nil {
			return fmt.Errorf("read %s spill file %s: %w", s.f.name, p, err)
		}
	}
	if len(tail) > 0 {
		it := &mergeItem[T]{order: len(paths), tail: tail}
		h.all = append(h.all, it)
		if err := h.pushNext(it); err != nil {
			return err
		}
	}

	if s.f.combine == nil {
		for len(h.items) > 0 {
			it := h.items[0]
			if err := emit(&it.cur); err != nil {
				return err
			}
			if err := h.advance(); err != nil {
				return fmt.Errorf("read %s spill file: %w", s.f.name, err)
			}
		}
		return nil
	}

	var pending T
	have := false
	for len(h.items) > 0 {
		it := h.items[0]
		if have && s.f.cmp(&pending, &it.cur) == 0 {
			if err := s.f.combine(&pending, &it.cur); err != nil {
				return err
			}
		} else {
			if have {
				if err := emit(&pending); err != nil {
					return err
				}
			}
			pending, have = it.cur, true
		}
		if err := h.advance(); err != nil {
			return fmt.Errorf("read %s spill file: %w", s.f.name, err)
		}
	}
	if have {
		return emit(&pending)
	}
	return nil
}

// removeAll deletes every run file.
func (s *runSet[T]) removeAll() error {
	var err error
	for _, p := range s.paths {
		if e := os.Remove(p); e != nil && !errors.Is(e, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove %s spill file: %w", s.f.name, e))
		}
	}
	s.paths = nil
	return err
}

// mergeItem is one source of a merge: a run file or the in-memory tail.
type mergeItem[T any] struct {
	cur   T
	order int // source position; breaks ties so that the merge is stable
	file  *os.File
	dec   func(out *T) error
	tail  []T
}

// next fills it.cur with the source's next record, or returns io.EOF.
func (it *mergeItem[T]) next() error {
	if it.dec != nil {
		err := it.dec(&it.cur)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("truncated record: %w", err)
		}
		return err
	}
	if len(it.tail) == 0 {
		return io.EOF
	}
	it.cur = it.tail[0]
	it.tail = it.tail[1:]
	return nil
}

// mergeHeap is a min-heap of sources ordered by their current record, then
// by source order.
type mergeHeap[T any] struct {
	cmp   func(a, b *T) int
	items []*mergeItem[T]
	all   []*mergeItem[T]
}

func (h *mergeHeap[T]) less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if c := h.cmp(&a.cur, &b.cur); c != 0 {
		return c < 0
	}
	return a.order < b.order
}

// pushNext reads it's first record and adds it to the heap unless empty.
func (h *mergeHeap[T]) pushNext(it *mergeItem[T]) error {
	switch err := it.next(); {
	case err == io.EOF:
		return nil
	case err != nil:
		return err
	}
	h.items = append(h.items, it)
	for i := len(h.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
	return nil
}

// advance moves the top source to its next record, dropping it at its end.
func (h *mergeHeap[T]) advance() error {
	top := h.items[0]
	switch err := top.next(); {
	case err == io.EOF:
		last := len(h.items) - 1
		h.items[0] = h.items[last]
		h.items = h.items[:last]
	case err != nil:
		return err
	}
	h.down(0)
	return nil
}

func (h *mergeHeap[T]) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}
