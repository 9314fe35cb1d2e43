package period

import (
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestCalendar(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	tests := []struct {
		name       string
		cal        Calendar
		at         string
		start, end string
		ok         bool
	}{
		{"utc anchor 1", Calendar{AnchorDay: 1, Start: ts("2026-01-01T00:00:00Z")}, "2026-02-10T12:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", true},
		{"exactly on boundary", Calendar{AnchorDay: 1, Start: ts("2026-01-01T00:00:00Z")}, "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", true},
		{"before start", Calendar{AnchorDay: 1, Start: ts("2026-01-01T00:00:00Z")}, "2025-12-31T23:59:59Z", "", "", false},
		{"first period from a mid-month start", Calendar{AnchorDay: 1, Start: ts("2026-01-10T00:00:00Z")}, "2026-01-20T00:00:00Z", "2026-01-10T00:00:00Z", "2026-02-01T00:00:00Z", true},
		// Anchor 15 in New York across the March 8, 2026 DST change: the
		// period starts at local midnight in EST (UTC−5) and ends at local
		// midnight in EDT (UTC−4).
		{"anchor 15 across DST", Calendar{AnchorDay: 15, Location: ny, Start: ts("2026-01-15T05:00:00Z")}, "2026-03-01T00:00:00Z", "2026-02-15T05:00:00Z", "2026-03-15T04:00:00Z", true},
		{"anchor 15 before local midnight", Calendar{AnchorDay: 15, Location: ny, Start: ts("2026-01-15T05:00:00Z")}, "2026-03-15T03:59:59Z", "2026-02-15T05:00:00Z", "2026-03-15T04:00:00Z", true},
		{"year wrap", Calendar{AnchorDay: 28, Start: ts("2025-01-28T00:00:00Z")}, "2026-01-05T00:00:00Z", "2025-12-28T00:00:00Z", "2026-01-28T00:00:00Z", true},
	}
	for _, tt := range tests {
		p, ok := tt.cal.At(ts(tt.at))
		if ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if !p.Start.Equal(ts(tt.start)) || !p.End.Equal(ts(tt.end)) {
			t.Errorf("%s: At(%s) = %s, want %s/%s", tt.name, tt.at, p, tt.start, tt.end)
		}
		if !p.Contains(ts(tt.at)) {
			t.Errorf("%s: %s does not contain %s", tt.name, p, tt.at)
		}
	}
}

func TestNextPrevChain(t *testing.T) {
	t.Parallel()
	cal := Calendar{AnchorDay: 15, Location: mustLoc(t, "Europe/Berlin"), Start: ts("2026-01-03T00:00:00Z")}
	p := cal.First()
	if !p.Start.Equal(cal.Start) {
		t.Fatalf("first period starts %s, want the calendar start", p.Start)
	}
	for i := 0; i < 40; i++ {
		n := cal.Next(p)
		if !n.Start.Equal(p.End) || !n.End.After(n.Start) {
			t.Fatalf("period %d: %s does not follow %s", i, n, p)
		}
		if back, ok := cal.Prev(n); !ok || back != p {
			t.Fatalf("Prev(%s) = %s, %v; want %s", n, back, ok, p)
		}
		if !cal.IsBoundary(n.Start) || cal.IsBoundary(n.Start.Add(time.Second)) {
			t.Fatalf("IsBoundary wrong around %s", n.Start)
		}
		if l := n.Start.In(cal.Location); l.Day() != 15 || l.Hour() != 0 {
			t.Fatalf("period %s does not start at local midnight on the 15th: %s", n, l)
		}
		p = n
	}
	if _, ok := cal.Prev(cal.First()); ok {
		t.Error("the first period has a predecessor")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []Calendar{{AnchorDay: 0, Start: ts("2026-01-01T00:00:00Z")}, {AnchorDay: 29, Start: ts("2026-01-01T00:00:00Z")}, {AnchorDay: 1}} {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	if err := (Calendar{AnchorDay: 28, Start: ts("2026-01-01T00:00:00Z")}).Validate(); err != nil {
		t.Error(err)
	}
}
