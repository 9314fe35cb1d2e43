package schemas

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestDaysFromCivil(t *testing.T) {
	t.Parallel()
	// Every day of years 0000–9999 against the standard library.
	d := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for ; d.Before(end); d = d.AddDate(0, 0, 1) {
		if got, want := daysFromCivil(d.Year(), int(d.Month()), d.Day()), d.Unix()/86400-boolInt(d.Unix() < 0 && d.Unix()%86400 != 0); got != want {
			t.Fatalf("daysFromCivil(%s) = %d, want %d", d.Format(time.DateOnly), got, want)
		}
		if daysIn(int(d.Month()), d.Year()) != time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day() {
			t.Fatalf("daysIn(%s) wrong", d.Format("2006-01"))
		}
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// TestParseRFC3339MatchesStdlib formats random instants with random offsets
// and fraction lengths and checks that parseRFC3339 agrees with time.Parse.
func TestParseRFC3339MatchesStdlib(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC).Unix()
	for range 200_000 {
		inst := time.Unix(lo+rng.Int64N(hi-lo), rng.Int64N(1e9))
		off := (rng.IntN(24*60*2-1) - (24*60 - 1)) * 60
		layout := "2006-01-02T15:04:05" + []string{"", ".0", ".000", ".000000", ".000000000", ".999999999"}[rng.IntN(6)] + "Z07:00"
		s := inst.In(time.FixedZone("", off)).Format(layout)
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("time.Parse(%q): %v", s, err)
		}
		if rng.IntN(2) == 0 {
			s = strings.ToLower(s)
		}
		got, ok := parseRFC3339([]byte(s))
		if !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("parseRFC3339(%q) = %v, %v; want %v", s, got, ok, want.UTC())
		}
	}
}

func TestParseRFC3339NoAllocs(t *testing.T) {
	s := []byte("2024-02-29T23:59:59.123456789+05:30")
	if n := testing.AllocsPerRun(100, func() { parseRFC3339(s) }); n != 0 {
		t.Errorf("parseRFC3339 allocates %v times, want 0", n)
	}
}
