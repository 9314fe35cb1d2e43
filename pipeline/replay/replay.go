// Package replay runs the streaming pipeline's code over files: grants are
// read first, then usage events in file order through the same partition
// processor and billing book as `creditflow run`, with the watermark as the
// processing clock (SPEC 5). At the end of input the clock moves to Now, so
// every period whose end plus the close grace lies before Now is closed.
//
// Memory does not grow with the input's length: windows are emitted as the
// watermark passes them and handed to a bounded-memory writer; dedup forgets
// what lies beyond its horizon; only per-tenant period figures are kept.
//
// Blank lines in the input are skipped (they are not records). A line
// longer than MaxLine is dead-lettered as malformed_json with its bytes.
package replay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/creditflow/creditflow/pipeline/alert"
	"github.com/creditflow/creditflow/pipeline/billing"
	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/dedup"
	"github.com/creditflow/creditflow/pipeline/partition"
	"github.com/creditflow/creditflow/schemas"
)

// Sink receives what a replay produces. The files sink implements it for
// `creditflow replay`; tests use a memory sink.
type Sink interface {
	Windows(ctx context.Context, rows []schemas.WindowTotal) error
	DeadLetter(reason schemas.Reason, record []byte) error
	Alerts(alerts []schemas.Alert) error
	Closes(out *billing.Output) error
}

// Progress is told how far the input has been read.
type Progress func(read, total int64, records int64)

// Config configures a replay.
type Config struct {
	Catalog   *catalog.Catalog
	Events    string    // path of the usage events, JSON lines; required
	Grants    string    // path of the grants, JSON lines; optional
	Now       time.Time // wall clock for too_far_future, and the clock at end of input; required
	CloseAt   time.Time // the clock for closing at end of input; zero means Now
	Partition partition.Config
	Billing   billing.Config
	TempDir   string   // for dedup's on-disk cold tier; empty means os.TempDir()
	MaxLine   int      // longest record in bytes; zero means 1 MiB
	Progress  Progress // optional; called about every 64 KiB records
}

// Result summarises a replay.
type Result struct {
	Stats  partition.Stats
	Grants int64 // grants booked
	Closes int64
	Alerts int64
}

// Run replays cfg.Events into sink.
func Run(ctx context.Context, cfg Config, sink Sink) (Result, error) {
	var res Result
	var errs []error
	if cfg.Catalog == nil {
		errs = append(errs, errors.New("catalog: required"))
	}
	if cfg.Events == "" {
		errs = append(errs, errors.New("events file: required"))
	}
	if cfg.Now.IsZero() {
		errs = append(errs, errors.New("now: required"))
	}
	if cfg.MaxLine == 0 {
		cfg.MaxLine = 1 << 20
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	cfg.Partition.WatermarkClock = true
	// Exact dedup for every accepted event: copies older than the
	// in-memory horizon are checked against an on-disk cold tier that
	// keeps ids for max_event_age (the oldest an accepted event can be).
	cold, err := dedup.NewDiskCold(dedup.DiskConfig{Dir: cfg.TempDir})
	if err != nil {
		return res, fmt.Errorf("dedup cold tier: %w", err)
	}
	defer cold.Close()
	cfg.Partition.Dedup.Cold = cold
	if cfg.Partition.Dedup.MaxAge == 0 {
		cfg.Partition.Dedup.MaxAge = cfg.Partition.MaxEventAge
	}
	proc, err := partition.New(cfg.Partition, cfg.Catalog)
	if err != nil {
		return res, err
	}
	book, err := billing.New(cfg.Billing, cfg.Catalog)
	if err != nil {
		return res, err
	}
	var out billing.Output
	if cfg.Grants != "" {
		n, err := readGrants(cfg.Grants, cfg.MaxLine, book, sink, &out)
		if err != nil {
			return res, err
		}
		res.Grants = n
	}
	f, err := os.Open(cfg.Events)
	if err != nil {
		return res, fmt.Errorf("open events: %w", err)
	}
	defer f.Close()
	var total int64
	if fi, err := f.Stat(); err == nil {
		total = fi.Size()
	}

	lines := newLineReader(f, cfg.MaxLine)
	var windows []schemas.WindowTotal
	var lastWM time.Time
	for n := int64(0); ; n++ {
		line, err := lines.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("read events: %w", err)
		}
		if n&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if cfg.Progress != nil {
				cfg.Progress(lines.read, total, n)
			}
		}
		if isBlank(line) {
			continue
		}
		if lines.tooLong {
			if err := sink.DeadLetter(schemas.ReasonMalformedJSON, line); err != nil {
				return res, err
			}
			res.Stats.Records++
			res.Stats.DeadLetters++
			continue
		}
		r := proc.Process(line, cfg.Now)
		switch r.Outcome {
		case partition.DeadLetter:
			if err := sink.DeadLetter(r.Err.Reason, line); err != nil {
				return res, err
			}
		case partition.Counted:
			ev := r.Event
			u := alert.Usage{Tenant: ev.Tenant, Meter: ev.Meter, Model: ev.Model, Time: ev.Time, Credits: r.Credits}
			if err := book.Count(u, &out); err != nil {
				return res, err
			}
			wm := proc.Watermark()
			if wm.After(lastWM) {
				lastWM = wm
				if !wm.Before(book.NextClose()) {
					if err := book.CloseDue(wm, &out); err != nil {
						return res, err
					}
				}
				windows = proc.Advance(windows[:0])
				if len(windows) > 0 {
					if err := sink.Windows(ctx, windows); err != nil {
						return res, err
					}
				}
			}
			if err := flushOutput(sink, &out, &res); err != nil {
				return res, err
			}
		}
	}
	if cfg.Progress != nil {
		cfg.Progress(lines.read, total, proc.Stats().Records)
	}
	windows = proc.Flush(proc.Advance(windows[:0]))
	if len(windows) > 0 {
		if err := sink.Windows(ctx, windows); err != nil {
			return res, err
		}
	}
	if mt := proc.MaxEventTime(); !mt.IsZero() {
		book.Advance(mt.Add(time.Minute), &out) // close the last minute
	}
	closeAt := cfg.CloseAt
	if closeAt.IsZero() {
		closeAt = cfg.Now
	}
	if err := book.CloseDue(closeAt, &out); err != nil {
		return res, err
	}
	if err := flushOutput(sink, &out, &res); err != nil {
		return res, err
	}
	if err := proc.DedupErr(); err != nil {
		return res, fmt.Errorf("dedup cold tier: %w", err)
	}
	if err := cold.Close(); err != nil {
		return res, fmt.Errorf("dedup cold tier: %w", err)
	}
	st := proc.Stats()
	st.Records += res.Stats.Records
	st.DeadLetters += res.Stats.DeadLetters
	if res.Stats.DeadLetters > 0 {
		st.ByReason[schemas.ReasonMalformedJSON] += res.Stats.DeadLetters
	}
	res.Stats = st
	return res, nil
}

func flushOutput(sink Sink, out *billing.Output, res *Result) error {
	if len(out.Alerts) > 0 {
		if err := sink.Alerts(out.Alerts); err != nil {
			return err
		}
		res.Alerts += int64(len(out.Alerts))
	}
	if len(out.Closes) > 0 || len(out.Grants) > 0 || len(out.Entitlements) > 0 {
		if err := sink.Closes(out); err != nil {
			return err
		}
		res.Closes += int64(len(out.Closes))
	}
	out.Reset()
	return nil
}

// readGrants books every grant of path; a grant that fails to decode is
// dead-lettered with its reason.
func readGrants(path string, maxLine int, book *billing.Book, sink Sink, out *billing.Output) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open grants: %w", err)
	}
	defer f.Close()
	lines := newLineReader(f, maxLine)
	var n int64
	for {
		line, err := lines.next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read grants: %w", err)
		}
		if isBlank(line) {
			continue
		}
		g, err := schemas.DecodeGrant(line)
		if err != nil {
			reason := schemas.ReasonMalformedJSON
			var re *schemas.RecordError
			if errors.As(err, &re) {
				reason = re.Reason
			}
			if err := sink.DeadLetter(reason, line); err != nil {
				return n, err
			}
			continue
		}
		if book.Catalog().Tenant(g.Tenant) == nil {
			if err := sink.DeadLetter(schemas.ReasonUnknownTenant, line); err != nil {
				return n, err
			}
			continue
		}
		if err := book.Grant(g, out); err != nil {
			return n, err
		}
		n++
	}
}

func isBlank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// lineReader yields lines without their newline; a line longer than max is
// returned whole with tooLong set, read into a separate buffer.
type lineReader struct {
	r       *bufio.Reader
	max     int
	long    []byte
	read    int64
	tooLong bool
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10), max: max}
}

func (l *lineReader) next() ([]byte, error) {
	l.tooLong = false
	line, err := l.r.ReadSlice('\n')
	l.read += int64(len(line))
	if err == bufio.ErrBufferFull || (err == nil && len(line) > l.max) {
		l.long = append(l.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = l.r.ReadSlice('\n')
			l.read += int64(len(line))
			l.long = append(l.long, line...)
		}
		line = l.long
		l.tooLong = len(bytes.TrimRight(line, "\r\n")) > l.max
	}
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return line, nil
}
