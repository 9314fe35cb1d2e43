package schemas

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

// canonicalRecords returns records in the canonical layout (and close to
// it), as AppendUsageJSON and most producers write them.
func canonicalRecords(rng *rand.Rand, n int) [][]byte {
	out := make([][]byte, 0, n)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range n {
		ev := UsageEvent{
			ID:       fmt.Appendf(nil, "e-%x", rng.Uint32()),
			Tenant:   fmt.Sprintf([]string{"t-%06d", "tenant-with-a-long-name-%d", "%d"}[rng.IntN(3)], rng.IntN(10000)),
			Meter:    []string{"tokens_in", "api_calls", "compute_seconds", "m", "meter-with-a-long-name", "meter-with-a-long-name-2"}[rng.IntN(6)],
			Model:    []string{"", "gpt-small", "embed-1", "x", "model_with_a_long_name_1", "model_with_a_long_name_2"}[rng.IntN(6)],
			Quantity: Micros(rng.Int64N(3)) * Micros(rng.Int64N(1e12)),
			Time:     base.Add(time.Duration(rng.Int64N(int64(48 * time.Hour)))),
		}
		if rng.IntN(3) == 0 {
			ev.Properties = []byte([]string{
				`{"region":"eu-west-1","n":[1,2.5,{"a":null}]}`,                                            // nested: the general object scanner
				`{"region":"eu-west-1","stream":true,"priority":3,"x":null,"f":false,"n":-1.5e3,"z":0.25}`, // flat
				`{}`, `{"request_id":"r-0f3a9c1b"}`, `{"a":1E+2,"b":"","c":0}`,
			}[rng.IntN(5)])
		}
		b := AppendUsageJSON(nil, &ev)
		if rng.IntN(2) == 0 { // a number rather than a string quantity
			q := ev.Quantity.Decimal().Normalize(0).String()
			b = []byte(replaceOnce(string(b), `"quantity":"`+q+`"`, `"quantity":`+q))
		}
		out = append(out, b)
	}
	return out
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}

// mutate changes b a little: a byte replaced, inserted or deleted, or a
// piece repeated.
func mutate(rng *rand.Rand, b []byte) []byte {
	const alphabet = "\"\\{}[],:0123456789.eE-+nultrfsZzT \t\n\x00\x1f\x7fa\xc3\xa9\xff"
	c := append([]byte(nil), b...)
	for range 1 + rng.IntN(2) {
		if len(c) == 0 {
			return c
		}
		i := rng.IntN(len(c))
		ch := alphabet[rng.IntN(len(alphabet))]
		switch rng.IntN(4) {
		case 0:
			c[i] = ch
		case 1:
			c = append(c[:i], append([]byte{ch}, c[i:]...)...)
		case 2:
			c = append(c[:i], c[i+1:]...)
		default:
			j := min(len(c), i+1+rng.IntN(12))
			c = append(c[:j], append(append([]byte(nil), c[i:j]...), c[j:]...)...)
		}
	}
	return c
}

// TestFastPathsAgree checks the one-pass paths of DecodeUsage against the
// general path on canonical records, the benchmark mix and small mutations
// of both: whenever usageCanonical or usageFast accepts a record, the
// general path accepts it too and decodes the same event.
func TestFastPathsAgree(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(17, 18))
	records := append(canonicalRecords(rng, 3000), benchEvents(2000)...)
	dc, df, dg := NewDecoder(), NewDecoder(), NewDecoder()
	var canonical, fast, inputs int
	check := func(b []byte) {
		inputs++
		var want UsageEvent
		err := dg.usageGeneral(b, &want)
		for _, p := range []struct {
			name string
			fn   func([]byte, *UsageEvent) bool
			n    *int
		}{{"usageCanonical", dc.usageCanonical, &canonical}, {"usageFast", df.usageFast, &fast}} {
			var got UsageEvent
			if !p.fn(b, &got) {
				continue
			}
			*p.n++
			if err != nil {
				t.Fatalf("%s accepts %q; the general path says %v", p.name, b, err)
			}
			if diff := eventsDiff(&got, &want); diff != "" {
				t.Fatalf("%s(%q): %s", p.name, b, diff)
			}
		}
	}
	for _, r := range records {
		check(r)
		for range 20 {
			check(mutate(rng, r))
		}
	}
	t.Logf("%d inputs: %d decoded by usageCanonical, %d by usageFast", inputs, canonical, fast)
	if canonical < 3000 || fast < 4000 {
		t.Errorf("the fast paths took %d and %d of %d inputs; the test is too weak", canonical, fast, inputs)
	}
}

// TestCanonicalAgainstAppend: every record that AppendUsageJSON writes for
// a valid event takes the canonical path and decodes to that event.
func TestCanonicalAgainstAppend(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(19, 20))
	d := NewDecoder()
	for _, b := range canonicalRecords(rng, 2000) {
		var want, got UsageEvent
		if err := NewDecoder().usageGeneral(b, &want); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !d.usageCanonical(b, &got) {
			t.Fatalf("%s does not take the canonical path", b)
		}
		if diff := eventsDiff(&got, &want); diff != "" {
			t.Fatalf("%s: %s", b, diff)
		}
	}
}

// TestMinuteCacheMatchesParse runs timestamps that share their leading
// second (valid, mutated, with offsets and fractions) through one
// minuteCache and checks that it answers as parseRFC3339, also when the
// timestamp is followed by more bytes.
func TestMinuteCacheMatchesParse(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 22))
	var c minuteCache
	// An empty cache remembers no second, not the one of all-zero bytes.
	if _, ok := c.quick([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00.123Z\""), 0); ok {
		t.Fatal("an empty minuteCache answered quick")
	}
	quick := 0
	base := time.Date(2026, 3, 1, 23, 59, 58, 0, time.UTC)
	for i := range 200000 {
		at := base.Add(time.Duration(rng.Int64N(int64(3 * time.Second))))
		layout := "2006-01-02T15:04:05" + []string{"", ".0", ".000", ".000000", ".999999999"}[rng.IntN(5)] + []string{"Z07:00", "-07:00"}[rng.IntN(2)]
		zone := time.UTC
		if rng.IntN(3) == 0 {
			zone = time.FixedZone("", (rng.IntN(48)-24)*1800)
		}
		s := []byte(at.In(zone).Format(layout))
		if i%7 == 0 {
			s = mutate(rng, s)
		}
		want, wantOK := parseRFC3339(s)
		got, ok := c.parse(s)
		if ok != wantOK || got != want {
			t.Fatalf("minuteCache.parse(%q) = %v, %v; parseRFC3339 says %v, %v", s, got, ok, want, wantOK)
		}
		rest := append(append([]byte(nil), s...), `","properties":{}}`...)
		// quick, which answers only in the second parse remembered, first:
		// when it does, parsePrefix must agree.
		qt, qok := c.quick(rest, 0)
		got, end, ok := c.parsePrefix(rest)
		if wantOK && (!ok || got != want || end != len(s)) {
			t.Fatalf("minuteCache.parsePrefix(%q) = %v, %d, %v; want %v, %d", rest, got, end, ok, want, len(s))
		}
		if qok {
			quick++
			if !ok || qt != got || end != len("2006-01-02T15:04:05.000Z") {
				t.Fatalf("minuteCache.quick(%q) = %v; parsePrefix says %v, %d, %v", rest, qt, got, end, ok)
			}
		}
	}
	if quick < 10000 {
		t.Fatalf("quick answered %d times, want the common case", quick)
	}
}

// TestInternFront checks the tenant front table with strings around its
// 8- and 16-byte boundaries, read from buffers with and without spare
// capacity (whose bytes must not matter).
func TestInternFront(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(23, 24))
	d := NewDecoder()
	var keys []string
	for n := 1; n <= 40; n++ {
		for range 300 {
			b := make([]byte, n)
			for i := range b {
				b[i] = "ab._:-0Z"[rng.IntN(8)]
			}
			keys = append(keys, string(b))
		}
	}
	// view returns s as a slice of a buffer followed by junk.
	view := func(s string) []byte {
		buf := append([]byte(s), "\"junk-junk-junk-junk"...)
		if rng.IntN(2) == 0 {
			return []byte(s)[:len(s):len(s)]
		}
		return buf[:len(s)]
	}
	want := map[string]string{}
	for _, k := range keys {
		got := d.internTenant(view(k))
		if got != k {
			t.Fatalf("internTenant(%q) = %q", k, got)
		}
		if w, ok := want[k]; ok && unsafe.StringData(w) != unsafe.StringData(got) {
			t.Fatalf("internTenant(%q) returned a new copy", k)
		}
		want[k] = got
	}
	misses := 0
	for k, w := range want {
		// A string whose probe run was too long is left to the map.
		got, ok := d.tenants.lookup(view(k))
		if !ok {
			misses++
		} else if unsafe.StringData(got) != unsafe.StringData(w) {
			t.Fatalf("lookup(%q) = %q", k, got)
		}
		for _, other := range []string{k + "a", k[:len(k)-1], "x" + k[1:]} {
			if _, in := want[other]; in || other == "" {
				continue
			}
			if got, ok := d.tenants.lookup(view(other)); ok {
				t.Fatalf("lookup(%q) = %q, want a miss", other, got)
			}
		}
	}
	t.Logf("%d of %d strings not in the front table", misses, len(want))
	if misses*100 > len(want) {
		t.Errorf("%d of %d strings not in the front table", misses, len(want))
	}
}

// TestCanonQuantity checks the word-wise canonQuantity against
// canonQuantitySlow on every shape of quantity it may meet: 0–14 integer
// digits, 0–8 fractional digits, quoted or not, leading zeros, a missing
// or wrong closing quote or comma, bytes just below and above the digits,
// and mutations of all of these, each followed by the rest of a record or
// by nothing.
func TestCanonQuantity(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(23, 24))
	digitsOf := func(n int) string {
		b := make([]byte, n)
		for k := range b {
			b[k] = byte('0' + rng.IntN(10))
		}
		if n > 0 && rng.IntN(4) == 0 {
			b[0] = '0'
		}
		return string(b)
	}
	tails := []string{`,"time":"2026-01-01T00:00:00.000Z"}`, `,`, ``, `}`, `,"t"`}
	var inputs, accepted int
	check := func(v string) {
		t.Helper()
		for _, tail := range tails {
			b := []byte(`"quantity":` + v + tail)
			i := len(`"quantity":`)
			inputs++
			m, e, ok := canonQuantity(b, i)
			wm, we, wok := canonQuantitySlow(b, i)
			if m != wm || e != we || ok != wok {
				t.Fatalf("canonQuantity(%q) = %d, %d, %v; canonQuantitySlow = %d, %d, %v", b[i:], m, e, ok, wm, we, wok)
			}
			if ok {
				accepted++
			}
		}
	}
	odd := []string{"", "/", ":", "0", "9", "a", "-", "+", "e", ".", `"`, "\x80", "\xb9", "\xff", " "}
	for in := 0; in <= 14; in++ {
		for fn := 0; fn <= 8; fn++ {
			for range 4 {
				v := digitsOf(in)
				if fn > 0 || rng.IntN(3) == 0 {
					v += "." + digitsOf(fn)
				}
				for _, q := range []bool{false, true} {
					w := v
					if q {
						w = `"` + v + `"`
					}
					check(w)
					check(w + odd[rng.IntN(len(odd))])
					if q {
						check(`"` + v) // no closing quote
					}
					for range 4 {
						check(string(mutate(rng, []byte(w))))
					}
				}
			}
		}
	}
	t.Logf("%d inputs, %d accepted", inputs, accepted)
	if accepted < inputs/10 {
		t.Errorf("only %d of %d inputs accepted; the test is too weak", accepted, inputs)
	}
}
