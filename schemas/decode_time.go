package schemas

import (
	"time"
)

// parseRFC3339 parses YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm) as RFC 3339
// section 5.6 defines it: T and Z in either case, a fraction of 1–9 digits,
// a real calendar date, hour ≤ 23, minute ≤ 59, second ≤ 59 (leap seconds
// are refused), offset hours ≤ 23 and minutes ≤ 59. The result is in UTC
// and must itself lie in the years 0000–9999, so that it can be written back
// as RFC 3339 UTC ("0000-01-01T00:00:00+01:00" is refused). It does not
// allocate.
func parseRFC3339(s []byte) (time.Time, bool) {
	base, ok := parseMinute(s)
	if !ok {
		return time.Time{}, false
	}
	return parseRest(s, base)
}

// parseMinute parses the leading YYYY-MM-DDTHH:MM of a timestamp of at
// least the shortest valid length and returns it in seconds from the Unix
// epoch, as if it were UTC.
func parseMinute(s []byte) (int64, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") {
		return 0, false
	}
	// Digits as byte values 0–9; anything else wraps to ≥ 10.
	y0, y1, y2, y3 := s[0]-'0', s[1]-'0', s[2]-'0', s[3]-'0'
	mo0, mo1, d0, d1 := s[5]-'0', s[6]-'0', s[8]-'0', s[9]-'0'
	h0, h1, mi0, mi1 := s[11]-'0', s[12]-'0', s[14]-'0', s[15]-'0'
	if max(y0, y1, y2, y3, mo0, mo1, d0, d1, h0, h1, mi0, mi1) > 9 ||
		s[4] != '-' || s[7] != '-' || s[10]|0x20 != 't' || s[13] != ':' {
		return 0, false
	}
	year := int(y0)*1000 + int(y1)*100 + int(y2)*10 + int(y3)
	month, day := int(mo0)*10+int(mo1), int(d0)*10+int(d1)
	hour, minute := int(h0)*10+int(h1), int(mi0)*10+int(mi1)
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 {
		return 0, false
	}
	return daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60), true
}

// parseRest parses the :SS[.fraction](Z|±hh:mm) that follows the minute
// that parseMinute returned as base, up to the end of s, and returns the
// instant in UTC.
func parseRest(s []byte, base int64) (time.Time, bool) {
	t, end, ok := parseTail(s, base)
	return t, ok && end == len(s)
}

// parseTail is parseRest for a timestamp that need not end s: it returns
// the offset just past the timestamp.
func parseTail(s []byte, base int64) (time.Time, int, bool) {
	// len(s) ≥ 20, as parseMinute checked.
	s0, s1 := s[17]-'0', s[18]-'0'
	if s[16] != ':' || s0 > 5 || s1 > 9 {
		return time.Time{}, 0, false
	}
	return parseFraction(s, base+int64(s0)*10+int64(s1))
}

// parseFraction parses the [.fraction](Z|±hh:mm) at s[19:] of a timestamp
// whose first 19 bytes came to base seconds (as if UTC), and returns the
// instant in UTC and the offset just past the timestamp.
func parseFraction(s []byte, base int64) (time.Time, int, bool) {
	// The common case first: milliseconds in UTC, ".sssZ".
	if len(s) >= 24 && s[19] == '.' && s[23] == 'Z' {
		d0, d1, d2 := s[20]-'0', s[21]-'0', s[22]-'0'
		if max(d0, d1, d2) <= 9 && inYears(base) {
			ms := int64(d0)*100 + int64(d1)*10 + int64(d2)
			return time.Unix(base, ms*1e6).UTC(), 24, true
		}
	}
	i := 19
	nsec := 0
	if s[i] == '.' {
		i++
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			nsec = nsec*10 + int(s[j]-'0')
			j++
		}
		n := j - i
		if n == 0 || n > 9 {
			return time.Time{}, 0, false
		}
		nsec *= int(pow10[9-n])
		i = j
	}
	if i >= len(s) {
		return time.Time{}, 0, false
	}
	offset := 0 // seconds east of UTC
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(s)-i < 6 || s[i+3] != ':' {
			return time.Time{}, 0, false
		}
		oh, ok1 := num(s[i+1 : i+3])
		om, ok2 := num(s[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, 0, false
		}
		offset = oh*3600 + om*60
		if s[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return time.Time{}, 0, false
	}
	secs := base - int64(offset)
	if !inYears(secs) {
		return time.Time{}, 0, false // an offset moved it out of 0000–9999 in UTC
	}
	return time.Unix(secs, int64(nsec)).UTC(), i, true
}

// inYears reports whether the Unix time secs lies in the years 0000–9999
// in UTC.
func inYears(secs int64) bool { return secs >= minUnix && secs <= maxUnix }

// minuteCache remembers the last YYYY-MM-DDTHH:MM:SS (bytes as given) that
// parsed: events of a stream mostly share it, and then only the fraction
// and the offset are left to parse.
//
// It also remembers the last YYYY-MM-DD that parsed, so that a timestamp of
// the same day but another second (an out-of-order event, or the next
// second) parses only its time of day.
type minuteCache struct {
	p0, p1 uint64 // the first 16 bytes, little-endian
	p2     uint32 // the next 3
	base   int64  // their value in seconds from the Unix epoch, as if UTC
	set    bool

	d0      uint64 // the first 8 bytes of the day
	d1      uint16 // the next 2
	dayBase int64  // the day's midnight in seconds from the Unix epoch, as if UTC
	daySet  bool
}

// parse is parseRFC3339 through the cache.
func (c *minuteCache) parse(s []byte) (time.Time, bool) {
	t, end, ok := c.parsePrefix(s)
	return t, ok && end == len(s)
}

// parsePrefix parses the timestamp at the start of s, which may go on
// after it, through the cache, and returns the offset just past it.
func (c *minuteCache) parsePrefix(s []byte) (time.Time, int, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") {
		return time.Time{}, 0, false
	}
	p0, p1, p2 := at8(s, 0), at8(s, 8), at4(s, 16)&(1<<24-1)
	if c.set && p0 == c.p0 && p1 == c.p1 && p2 == c.p2 {
		return parseFraction(s, c.base)
	}
	var base int64
	if d1 := uint16(p1); c.daySet && p0 == c.d0 && d1 == c.d1 {
		// The checks of parseMinute on HH:MM of a known day.
		h0, h1, mi0, mi1 := s[11]-'0', s[12]-'0', s[14]-'0', s[15]-'0'
		if max(h0, h1, mi0, mi1) > 9 || s[10]|0x20 != 't' || s[13] != ':' {
			return time.Time{}, 0, false
		}
		hour, minute := int(h0)*10+int(h1), int(mi0)*10+int(mi1)
		if hour > 23 || minute > 59 {
			return time.Time{}, 0, false
		}
		base = c.dayBase + int64(hour*3600+minute*60)
	} else {
		var ok bool
		if base, ok = parseMinute(s); !ok {
			return time.Time{}, 0, false
		}
		// parseMinute checked the date: remember its midnight.
		hour, minute := int(s[11]-'0')*10+int(s[12]-'0'), int(s[14]-'0')*10+int(s[15]-'0')
		c.d0, c.d1, c.dayBase, c.daySet = p0, d1, base-int64(hour*3600+minute*60), true
	}
	s0, s1 := s[17]-'0', s[18]-'0'
	if s[16] != ':' || s0 > 5 || s1 > 9 {
		return time.Time{}, 0, false
	}
	base += int64(s0)*10 + int64(s1)
	c.p0, c.p1, c.p2, c.base, c.set = p0, p1, p2, base, true
	return parseFraction(s, base)
}

// Bytes 16–23 of a timestamp "YYYY-MM-DDTHH:MM:SS.sssZ" as a little-endian
// word: quickFixed masks the bytes that must equal the remembered second
// and the '.' and 'Z' (quickPunct), leaving the three digits of the
// milliseconds.
const (
	quickFixed = 0xff000000ffffffff
	quickPunct = 'Z'<<56 | '.'<<24
)

// quick parses the most common timestamp, milliseconds in UTC
// ("YYYY-MM-DDTHH:MM:SS.sssZ") in the second the cache remembers, at b[i],
// with three word loads and no branch on its content; ok is false for any
// other (parsePrefix then decides), and when b ends within 25 bytes (the
// timestamp and one more) of i.
func (c *minuteCache) quick(b []byte, i int) (t time.Time, ok bool) {
	if len(b)-i < 25 {
		return time.Time{}, false
	}
	s := b[i : i+24 : i+24]
	w0, w1, w2 := at8(s, 0), at8(s, 8), at8(s, 16)
	// digitRun of bytes 20–23: the 'Z' stops it after the three digits.
	if !c.set || w0 != c.p0 || w1 != c.p1 || w2&quickFixed != uint64(c.p2)|quickPunct || digitRun(w2>>32) != 3 || !inYears(c.base) {
		return time.Time{}, false
	}
	ms := int64(w2>>32&0xf)*100 + int64(w2>>40&0xf)*10 + int64(w2>>48&0xf)
	return time.Unix(c.base, ms*1e6).UTC(), true
}

// The first and last second of years 0000–9999 in UTC, as Unix times.
const (
	minUnix = -62167219200 // 0000-01-01T00:00:00Z
	maxUnix = 253402300799 // 9999-12-31T23:59:59Z
)

// num parses a fixed-width run of ASCII digits.
func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// daysIn returns the number of days in month m (1–12) of year y.
func daysIn(m, y int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to the proleptic Gregorian
// date y-m-d, for years 0–9999.
func daysFromCivil(y, m, d int) int64 {
	// Count years from March so that the leap day is the last of the year,
	// and shift by one 400-year era (146097 days) to keep y positive.
	y += 400
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400                     // [0, 399]
	doy := (153*((m+9)%12)+2)/5 + d - 1    // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return int64(era*146097+doe) - 719468 - 146097
}
