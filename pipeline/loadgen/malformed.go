package loadgen

import (
	"strconv"

	"github.com/creditflow/creditflow/schemas"
)

// malformed appends a record that a pipeline must dead-letter, for one of
// MalformedReasons chosen at random, and counts it. Each reason has a few
// variants, all unambiguous: a record is wrong in exactly one way, the one
// its reason names (see doc.go).
func (g *Generator) malformed(dst []byte, i, offMs int64) []byte {
	var ev event
	g.fresh(&ev, i, offMs)
	ev.ce = false
	ri := g.rng.IntN(len(MalformedReasons))
	g.st.malformed[ri]++
	s := g.scratch[:0]
	var mut mutation
	switch MalformedReasons[ri] {
	case schemas.ReasonMalformedJSON:
		n0 := len(dst)
		dst = g.encode(dst, &ev, mutation{})
		rec := dst[n0:]
		switch g.rng.IntN(5) {
		case 0: // truncated: a proper prefix of an object is never complete
			return dst[:n0+1+g.rng.IntN(len(rec)-1)]
		case 1: // '=' for the first ':'
			for j, c := range rec {
				if c == ':' {
					rec[j] = '='
					break
				}
			}
			return dst
		case 2: // trailing comma
			rec[len(rec)-1] = ','
			return append(dst, '}')
		case 3: // unquoted first key: {id:"…",…}
			dst = append(dst[:n0], `{id:`...)
			return append(dst, rec[len(`{"id":`):]...)
		default: // not JSON at all
			dst = append(dst[:n0], "tenant="...)
			dst = append(dst, g.cfg.tenantIDs[ev.tenant]...)
			dst = append(dst, " quantity="...)
			return appendMicros(dst, ev.qty, qMinimal)
		}
	case schemas.ReasonMissingField:
		mut.skip = [...]field{fID, fTenant, fMeter, fQuantity, fTime}[g.rng.IntN(5)]
	case schemas.ReasonBadField:
		switch g.rng.IntN(6) {
		case 0: // a character outside [A-Za-z0-9._:-]
			mut.field = fTenant
			s = append(s, '"')
			s = append(s, g.cfg.tenantIDs[ev.tenant]...)
			s = append(s, []string{" x", "/prod", "!", "#1"}[g.rng.IntN(4)]...)
			s = append(s, '"')
		case 1: // id too long
			mut.field = fID
			s = append(s, '"')
			s = g.appendID(s, ev.seq, false)
			for n := 129 + g.rng.IntN(64); len(s) < n+1; {
				s = append(s, 'x')
			}
			s = append(s, '"')
		case 2: // tenant too long
			mut.field = fTenant
			s = append(s, '"')
			s = append(s, g.cfg.tenantIDs[ev.tenant]...)
			s = append(s, '.')
			for n := 129 + g.rng.IntN(64); len(s) < n+1; {
				s = append(s, 'a')
			}
			s = append(s, '"')
		case 3: // id is a number
			mut.field = fID
			s = strconv.AppendUint(s, ev.seq, 10)
		case 4: // meter is a number
			mut.field = fMeter
			s = strconv.AppendInt(s, int64(1+g.rng.IntN(99)), 10)
		default: // model is not a string
			mut.field = fModel
			s = append(s, []string{"7", "true", `["gpt-large"]`}[g.rng.IntN(3)]...)
		}
	case schemas.ReasonBadQuantity:
		mut.field = fQuantity
		switch g.rng.IntN(7) {
		case 0: // negative number
			s = append(s, '-')
			s = strconv.AppendInt(s, int64(1+g.rng.IntN(1000)), 10)
		case 1: // negative string
			s = append(s, `"-`...)
			s = appendMicros(s, ev.qty, qMinimal)
			s = append(s, '"')
		case 2: // seven fractional digits, the last not 0, number
			s = append(s, "0."...)
			s = g.appendFrac7(s)
		case 3: // seven fractional digits, the last not 0, string
			s = append(s, `"1.`...)
			s = g.appendFrac7(s)
			s = append(s, '"')
		case 4: // above 1e12
			s = strconv.AppendInt(s, 1_000_000_000_001+int64(g.rng.IntN(1_000_000)), 10)
		case 5: // not a number
			s = append(s, []string{`"12abc"`, `"NaN"`, `"1,5"`, `"Infinity"`}[g.rng.IntN(4)]...)
		default: // above 1e12, string
			s = append(s, `"9999999999999.5"`...)
		}
	case schemas.ReasonBadTime:
		mut.field = fTime
		s = append(s, '"')
		ts := s[1:] // the timestamp, once appended: 2006-01-02T15:04:05.000Z
		switch g.rng.IntN(5) {
		case 0: // no offset
			s = appendTime(s, ev.ms, 0)
			s = s[:len(s)-1]
		case 1: // month 13
			s = appendTime(s, ev.ms, 0)
			ts = s[1:]
			ts[5], ts[6] = '1', '3'
		case 2: // February 30th
			s = appendTime(s, ev.ms, 0)
			ts = s[1:]
			copy(ts[5:], "02-30")
		case 3: // hour 25
			s = appendTime(s, ev.ms, 0)
			ts = s[1:]
			ts[11], ts[12] = '2', '5'
		default: // not a timestamp
			s = append(s, []string{"yesterday", "1767225600", "now", "2026/03/02 10:00"}[g.rng.IntN(4)]...)
		}
		s = append(s, '"')
	case schemas.ReasonUnknownMeter:
		ev.model = 0
		s = append(s, '"')
		s = append(s, g.unknownMeters[g.rng.IntN(len(g.unknownMeters))]...)
		s = append(s, '"')
		mut.meter = s
	case schemas.ReasonUnknownTenant:
		s = append(s, '"')
		s = append(s, g.unknownTenant...)
		s = strconv.AppendUint(s, ev.seq, 36)
		s = append(s, '"')
		mut.tenant = s
	}
	if mut.field != fNone {
		mut.value = s
	}
	g.scratch = s
	return g.encode(dst, &ev, mut)
}

// appendFrac7 appends seven random decimal digits, the last one not 0 (a
// trailing 0 would make the seventh digit harmless).
func (g *Generator) appendFrac7(dst []byte) []byte {
	v := g.rng.IntN(1_000_000)
	for p := 100_000; p > 0; p /= 10 {
		dst = append(dst, byte('0'+v/p%10))
	}
	return append(dst, byte('1'+g.rng.IntN(9)))
}
