package clickhouse

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// insert is one INSERT statement in column form: each vals[i] is a typed
// slice ([]string, []int64, []int32, []uint8, []uint32, []uint64,
// [][]string or [][]int64) holding column cols[i]. DateTime columns are
// []int64 unix seconds, which both clickhouse-go and SQL literals accept.
type insert struct {
	table string
	cols  []string
	vals  []any
}

func (in *insert) col(name string, v any) {
	in.cols = append(in.cols, name)
	in.vals = append(in.vals, v)
}

// head is the INSERT without data. It names its columns: ClickHouse 18.16
// cannot prepare a batch for "INSERT INTO t" without them.
func (in *insert) head(db string) string {
	return "INSERT INTO " + db + "." + quoteIdent(in.table) + " (" + strings.Join(in.cols, ", ") + ")"
}

func (in *insert) rows() int {
	if len(in.vals) == 0 {
		return 0
	}
	switch v := in.vals[0].(type) {
	case []string:
		return len(v)
	case []int64:
		return len(v)
	case []int32:
		return len(v)
	case []uint8:
		return len(v)
	}
	return -1
}

// quoteIdent quotes a validated identifier with backquotes.
func quoteIdent(s string) string { return "`" + s + "`" }

// quoteString renders s as a ClickHouse string literal. Backslash escapes
// are understood by every ClickHouse version.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func quoteStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quoteString(s)
	}
	return strings.Join(q, ", ")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Instants. DateTime columns hold unix seconds in [0, 2^32), the range of
// DateTime on every ClickHouse version; *_ns columns hold the exact instant
// in unix nanoseconds, which covers that whole range. The zero time.Time is
// stored as 0 and read back as the zero time.Time (1970-01-01T00:00:00Z
// itself is never a meaningful instant here).

var (
	minTime = time.Unix(0, 0)
	maxTime = time.Unix(math.MaxUint32, 0) // 2106-02-07T06:28:15Z
)

var errTimeRange = errors.New("outside 1970-01-01 … 2106-02-07, the range of DateTime")

// instant returns t as unix seconds (truncated) and unix nanoseconds.
func instant(t time.Time) (sec, ns int64, err error) {
	if t.IsZero() {
		return 0, 0, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, 0, fmt.Errorf("time %s: %w", t.UTC().Format(time.RFC3339Nano), errTimeRange)
	}
	ns = t.UnixNano()
	return t.Unix(), ns, nil
}

// wholeSeconds returns t as unix seconds; t must have no fraction of a
// second, since a DateTime column would drop it.
func wholeSeconds(t time.Time) (int64, error) {
	sec, _, err := instant(t)
	if err != nil {
		return 0, err
	}
	if t.Nanosecond() != 0 {
		return 0, fmt.Errorf("time %s has a fraction of a second, which DateTime cannot hold", t.UTC().Format(time.RFC3339Nano))
	}
	return sec, nil
}

// fromNS is the inverse of instant's ns.
func fromNS(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// fromDateTime turns a scanned DateTime into UTC, 0 into the zero time.
func fromDateTime(t time.Time) time.Time {
	if t.Unix() == 0 {
		return time.Time{}
	}
	return t.UTC()
}

// sinceSeconds returns the first whole second at or after t, clamped to 0,
// for comparisons with DateTime columns.
func sinceSeconds(t time.Time) int64 {
	switch {
	case t.IsZero() || t.Before(minTime):
		return 0
	case !t.Before(maxTime):
		return maxTime.Unix()
	}
	s := t.Unix()
	if t.Nanosecond() != 0 {
		s++
	}
	return s
}

// floorSeconds returns the whole second holding t, clamped to 0.
func floorSeconds(t time.Time) int64 {
	switch {
	case t.IsZero() || t.Before(minTime):
		return 0
	case t.After(maxTime):
		return maxTime.Unix()
	}
	return t.Unix()
}

// sinceNanos returns t in unix nanoseconds, clamped to the range that the
// tables can hold.
func sinceNanos(t time.Time) int64 {
	switch {
	case t.IsZero() || t.Before(minTime):
		return 0
	case t.After(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}
