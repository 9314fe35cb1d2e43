// Package period computes billing periods: a tenant's period is a calendar
// month starting on its anchor day (1–28) at 00:00 in its time zone (SPEC
// 3.5). A tenant's first period starts at its catalog start, which need not
// fall on an anchor boundary: it then runs to the next boundary.
//
// All functions are pure and return UTC instants. A local midnight that a
// daylight-saving change skips is taken as time.Date normalises it (the first
// instant after the gap).
package period

import (
	"fmt"
	"time"
)

// Calendar is one tenant's period calendar.
type Calendar struct {
	AnchorDay int            // 1–28
	Location  *time.Location // nil means UTC
	Start     time.Time      // start of the first period
}

// Period is a half-open interval [Start, End) in UTC.
type Period struct {
	Start, End time.Time
}

// String formats p as "2026-01-15T00:00:00Z/2026-02-15T00:00:00Z".
func (p Period) String() string {
	return p.Start.UTC().Format(time.RFC3339) + "/" + p.End.UTC().Format(time.RFC3339)
}

// Contains reports whether t lies in [Start, End).
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }

func (c Calendar) loc() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// boundary returns the anchor boundary of the local month (y, m).
func (c Calendar) boundary(y int, m time.Month) time.Time {
	return time.Date(y, m, c.AnchorDay, 0, 0, 0, 0, c.loc()).UTC()
}

// anchorAtOrBefore returns the latest anchor boundary ≤ t.
func (c Calendar) anchorAtOrBefore(t time.Time) time.Time {
	l := t.In(c.loc())
	b := c.boundary(l.Year(), l.Month())
	if b.After(t) {
		b = c.boundary(l.Year(), l.Month()-1)
	}
	return b
}

// nextAnchor returns the first anchor boundary > t.
func (c Calendar) nextAnchor(t time.Time) time.Time {
	b := c.anchorAtOrBefore(t)
	l := b.In(c.loc())
	return c.boundary(l.Year(), l.Month()+1)
}

// At returns the period that contains t, and false when t is before the
// calendar's start.
func (c Calendar) At(t time.Time) (Period, bool) {
	if t.Before(c.Start) {
		return Period{}, false
	}
	s := c.anchorAtOrBefore(t)
	if s.Before(c.Start) {
		s = c.Start.UTC()
	}
	return Period{Start: s, End: c.nextAnchor(t)}, true
}

// First returns the tenant's first period.
func (c Calendar) First() Period {
	p, _ := c.At(c.Start)
	return p
}

// Next returns the period after p.
func (c Calendar) Next(p Period) Period {
	return Period{Start: p.End, End: c.nextAnchor(p.End)}
}

// Prev returns the period before p, and false when p is the first.
func (c Calendar) Prev(p Period) (Period, bool) {
	if !p.Start.After(c.Start) {
		return Period{}, false
	}
	return c.At(p.Start.Add(-time.Nanosecond))
}

// IsBoundary reports whether t starts a period of c.
func (c Calendar) IsBoundary(t time.Time) bool {
	p, ok := c.At(t)
	return ok && p.Start.Equal(t)
}

// Validate checks the calendar's fields.
func (c Calendar) Validate() error {
	if c.AnchorDay < 1 || c.AnchorDay > 28 {
		return fmt.Errorf("anchor day %d: must be 1–28", c.AnchorDay)
	}
	if c.Start.IsZero() {
		return fmt.Errorf("start: required")
	}
	return nil
}
