package files

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// WindowsHeader is the header row of windows.csv (SPEC 5). Callers must not modify it.
var WindowsHeader = []string{"tenant", "meter", "model", "window_start", "window_end", "events", "quantity", "credits"}

// DefaultMaxRows is WindowsWriterConfig.MaxRows when zero.
const DefaultMaxRows = 1 << 20

// WindowsWriterConfig configures a WindowsWriter.
type WindowsWriterConfig struct {
	// Path is the CSV file to write (required). It appears when Close
	// succeeds and not before.
	Path string
	// TempDir holds the spill files; empty means the directory of Path.
	TempDir string
	// MaxRows is the number of rows held in memory before a sorted run is
	// spilled to TempDir; zero means DefaultMaxRows (1,048,576). A row
	// costs about 150 bytes plus its strings when they are not shared
	// with other rows.
	MaxRows int
}

// WindowsWriter writes windows.csv (SPEC 5): one row of final totals per
// (tenant, meter, model, window_start), sorted by those columns. It takes
// the pipeline's delta rows (schemas.WindowTotal, several per window when
// late corrections happen) in any order and sums them, in bounded memory:
// see the package documentation. It satisfies
// interface{ Write(context.Context, []schemas.WindowTotal) error }.
//
// A WindowsWriter is not safe for concurrent use and must be closed with
// Close, which writes the file and removes the temporary files.
type WindowsWriter struct {
	out     *atomicFile
	maxRows int
	buf     []schemas.WindowTotal
	runs    runSet[schemas.WindowTotal]
	closed  bool
}

// NewWindowsWriter returns a WindowsWriter for cfg. It creates the temporary
// output file at once, so that an unwritable directory is reported here.
func NewWindowsWriter(cfg WindowsWriterConfig) (*WindowsWriter, error) {
	var errs []error
	if cfg.Path == "" {
		errs = append(errs, errors.New("path is required"))
	}
	if cfg.MaxRows < 0 {
		errs = append(errs, fmt.Errorf("max rows %d: must not be negative", cfg.MaxRows))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("windows writer config: %w", err)
	}
	if cfg.MaxRows == 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.TempDir == "" {
		cfg.TempDir = filepath.Dir(cfg.Path)
	}
	out, err := createAtomic(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("windows writer: %w", err)
	}
	return &WindowsWriter{
		out:     out,
		maxRows: cfg.MaxRows,
		runs:    runSet[schemas.WindowTotal]{f: windowFormat, dir: cfg.TempDir},
	}, nil
}

// Write adds delta rows; rows may come in any order and the slice may be
// reused by the caller after Write returns. The Late flag is ignored.
func (w *WindowsWriter) Write(ctx context.Context, rows []schemas.WindowTotal) error {
	if w.closed {
		return errors.New("write windows: writer is closed")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write windows: %w", err)
	}
	for len(rows) > 0 {
		n := min(len(rows), w.maxRows-len(w.buf))
		w.buf = append(w.buf, rows[:n]...)
		rows = rows[n:]
		if len(w.buf) >= w.maxRows {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush sorts and sums the buffer; it spills the result unless summing
// freed at least half the buffer.
func (w *WindowsWriter) flush() error {
	var err error
	if w.buf, err = sortAndSum(w.buf); err != nil {
		return fmt.Errorf("write windows: %w", err)
	}
	if len(w.buf) <= w.maxRows/2 {
		return nil
	}
	if err := w.runs.spill(w.buf); err != nil {
		return fmt.Errorf("write windows: %w", err)
	}
	clear(w.buf) // drop string references
	w.buf = w.buf[:0]
	return nil
}

// Close merges everything written into the CSV file and removes the
// temporary files, also on error (then no file appears at Path). It returns
// the number of data rows written. Close must be called exactly once.
func (w *WindowsWriter) Close() (rowsWritten int64, err error) {
	if w.closed {
		return 0, errors.New("close windows writer: already closed")
	}
	w.closed = true
	defer func() {
		if rerr := w.runs.removeAll(); rerr != nil && err == nil {
			err = fmt.Errorf("close windows writer: %w", rerr)
		}
		w.out.Abort() // no-op after Commit
	}()

	tail, err := sortAndSum(w.buf)
	if err != nil {
		return 0, fmt.Errorf("close windows writer: %w", err)
	}
	w.buf = nil
	bw := bufio.NewWriterSize(w.out, 1<<16)
	cw := csv.NewWriter(bw)
	if err := cw.Write(WindowsHeader); err != nil {
		return 0, fmt.Errorf("write %s: %w", w.out.path, err)
	}
	rec := make([]string, len(WindowsHeader))
	var scratch []byte
	err = w.runs.merge(tail, func(r *schemas.WindowTotal) error {
		rec[0], rec[1], rec[2] = r.Tenant, r.Meter, r.Model
		// Format the other five fields into one string: one allocation.
		var ends [5]int
		scratch = appendTime(scratch[:0], r.Start)
		ends[0] = len(scratch)
		scratch = appendTime(scratch, r.End)
		ends[1] = len(scratch)
		scratch = strconv.AppendInt(scratch, r.Events, 10)
		ends[2] = len(scratch)
		scratch = r.Quantity.Append(scratch)
		ends[3] = len(scratch)
		scratch = r.Credits.Append(scratch)
		ends[4] = len(scratch)
		all, start := string(scratch), 0
		for i, end := range ends {
			rec[3+i] = all[start:end]
			start = end
		}
		rowsWritten++
		return cw.Write(rec)
	})
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", w.out.path, err)
	}
	cw.Flush()
	if err := errors.Join(cw.Error(), bw.Flush()); err != nil {
		return 0, fmt.Errorf("write %s: %w", w.out.path, err)
	}
	if err := w.out.Commit(); err != nil {
		return 0, err
	}
	return rowsWritten, nil
}

// sortAndSum sorts rows by window and sums rows of the same window in place.
func sortAndSum(rows []schemas.WindowTotal) ([]schemas.WindowTotal, error) {
	if len(rows) == 0 {
		return rows, nil
	}
	sort.Sort(windowSlice(rows))
	out := rows[:1]
	for i := 1; i < len(rows); i++ {
		last := &out[len(out)-1]
		if schemas.CompareWindows(last, &rows[i]) == 0 {
			if err := sumWindow(last, &rows[i]); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, rows[i])
	}
	clear(rows[len(out):])
	return out, nil
}

// windowSlice sorts by schemas.CompareWindows without copying rows for each comparison.
type windowSlice []schemas.WindowTotal

func (s windowSlice) Len() int           { return len(s) }
func (s windowSlice) Less(i, j int) bool { return schemas.CompareWindows(&s[i], &s[j]) < 0 }
func (s windowSlice) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

// sumWindow adds src, a delta of the same window, to dst.
func sumWindow(dst, src *schemas.WindowTotal) error {
	if !dst.End.Equal(src.End) {
		return fmt.Errorf("window %s/%s/%s at %s: deltas disagree on the end (%s, %s)",
			dst.Tenant, dst.Meter, dst.Model, formatTime(dst.Start), formatTime(dst.End), formatTime(src.End))
	}
	q, err1 := schemas.AddMicros(dst.Quantity, src.Quantity)
	c, err2 := schemas.AddMicros(dst.Credits, src.Credits)
	e := dst.Events + src.Events
	if err := errors.Join(err1, err2); err != nil || (e > dst.Events) != (src.Events > 0) {
		return fmt.Errorf("window %s/%s/%s at %s: sum: %w",
			dst.Tenant, dst.Meter, dst.Model, formatTime(dst.Start), cmp.Or(err, schemas.ErrOverflow))
	}
	dst.Quantity, dst.Credits, dst.Events, dst.Late = q, c, e, false
	return nil
}

// windowFormat stores window rows in spill files. A record is a flags byte
// (bit i set: string i of tenant, meter, model equals the previous record's),
// the strings that differ as uvarint length + bytes, then varints: start
// seconds, start nanoseconds, end seconds, end nanoseconds, events,
// quantity, credits.
var windowFormat = runFormat[schemas.WindowTotal]{
	name:    "windows",
	cmp:     schemas.CompareWindows,
	combine: sumWindow,
	newEncoder: func() func(b []byte, r *schemas.WindowTotal) []byte {
		var prev [3]string
		first := true
		return func(b []byte, r *schemas.WindowTotal) []byte {
			strs := [3]string{r.Tenant, r.Meter, r.Model}
			var flags byte
			for i := range strs {
				if !first && strs[i] == prev[i] {
					flags |= 1 << i
				}
			}
			b = append(b, flags)
			for i := range strs {
				if flags&(1<<i) == 0 {
					b = binary.AppendUvarint(b, uint64(len(strs[i])))
					b = append(b, strs[i]...)
				}
			}
			b = binary.AppendVarint(b, r.Start.Unix())
			b = binary.AppendUvarint(b, uint64(r.Start.Nanosecond()))
			b = binary.AppendVarint(b, r.End.Unix())
			b = binary.AppendUvarint(b, uint64(r.End.Nanosecond()))
			b = binary.AppendVarint(b, r.Events)
			b = binary.AppendVarint(b, int64(r.Quantity))
			b = binary.AppendVarint(b, int64(r.Credits))
			prev, first = strs, false
			return b
		}
	},
	newDecoder: func(br *bufio.Reader) func(out *schemas.WindowTotal) error {
		var prev [3]string
		var scratch []byte
		return func(out *schemas.WindowTotal) error {
			flags, err := br.ReadByte()
			if err != nil {
				return err // io.EOF at a clean end
			}
			d := varintReader{br: br}
			var strs [3]string
			for i := range strs {
				if flags&(1<<i) != 0 {
					strs[i] = prev[i]
					continue
				}
				n := d.uvarint()
				if d.err == nil && n > math.MaxInt32 {
					d.err = errors.New("corrupt spill record: string too long")
				}
				if d.err != nil {
					return d.err
				}
				scratch = slices.Grow(scratch[:0], int(n))[:n]
				if _, err := io.ReadFull(br, scratch); err != nil {
					return noEOF(err)
				}
				strs[i] = string(scratch)
			}
			startSec, startNs := d.varint(), d.uvarint()
			endSec, endNs := d.varint(), d.uvarint()
			events, qty, credits := d.varint(), d.varint(), d.varint()
			if d.err != nil {
				return d.err
			}
			*out = schemas.WindowTotal{
				WindowKey: schemas.WindowKey{Tenant: strs[0], Meter: strs[1], Model: strs[2]},
				Start:     time.Unix(startSec, int64(startNs)).UTC(),
				End:       time.Unix(endSec, int64(endNs)).UTC(),
				Events:    events,
				Quantity:  schemas.Micros(qty),
				Credits:   schemas.Micros(credits),
			}
			prev = strs
			return nil
		}
	},
}

// varintReader reads varints inside a record, keeping the first error; an
// end of file inside a record is io.ErrUnexpectedEOF.
type varintReader struct {
	br  *bufio.Reader
	err error
}

func (d *varintReader) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.br)
	d.err = noEOF(err)
	return v
}

func (d *varintReader) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.br)
	d.err = noEOF(err)
	return v
}

// noEOF turns io.EOF, which inside a record means truncation, into
// io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
