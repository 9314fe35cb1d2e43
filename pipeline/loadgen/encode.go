package loadgen

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/creditflow/creditflow/schemas"
)

// event is everything needed to write one record, kept small so that the
// ring of recent events can re-write it for duplicates and conflicts.
type event struct {
	seq    uint64
	qty    schemas.Micros
	ms     int64 // event time, Unix milliseconds
	propv  uint32
	tenant int32
	meter  uint16
	model  uint16 // index into Generator.models; 0 = no model
	qfmt   uint8  // quantity format: see quantity
	zone   uint8  // index into zoneOffsets
	props  uint8  // properties template; 0 = none
	ce     bool   // CloudEvents form
}

// Quantity formats: qString writes a JSON string rather than a number; the
// low bits are the fractional digits to write, qMinimal meaning as few as
// needed.
const (
	qString  = 0x80
	qMinimal = 0x0f
)

// meterKind selects the quantity distribution of a meter.
type meterKind uint8

const (
	kindOther meterKind = iota
	kindTokensIn
	kindTokensOut
	kindTokens
	kindCalls
	kindCompute
)

func kindOf(meter string) meterKind {
	switch {
	case meter == "tokens_in" || meter == "input_tokens":
		return kindTokensIn
	case meter == "tokens_out" || meter == "output_tokens":
		return kindTokensOut
	case strings.HasPrefix(meter, "tokens") || strings.HasSuffix(meter, "tokens"):
		return kindTokens
	case meter == "api_calls" || meter == "requests" || meter == "calls":
		return kindCalls
	case strings.HasPrefix(meter, "compute") || strings.HasSuffix(meter, "seconds"):
		return kindCompute
	}
	return kindOther
}

// lognormal returns exp(ln(median) + sigma·z), z standard normal.
func (g *Generator) lognormal(median, sigma float64) float64 {
	return median * math.Exp(sigma*g.rng.NormFloat64())
}

// quantity sets ev.qty and ev.qfmt after the meter's distribution.
func (g *Generator) quantity(ev *event) {
	asString := func(pct int) uint8 {
		if g.rng.IntN(100) < pct {
			return qString
		}
		return 0
	}
	switch k := g.kinds[ev.meter]; k {
	case kindTokensIn, kindTokensOut, kindTokens:
		median := 400.0
		switch k {
		case kindTokensIn:
			median = 600
		case kindTokensOut:
			median = 250
		}
		v := math.Round(min(max(g.lognormal(median, 1.0), 1), 200_000))
		ev.qty = schemas.Micros(v) * schemas.MicrosPerUnit
		ev.qfmt = 0
		if g.rng.IntN(100) < 10 {
			ev.qty += schemas.MicrosPerUnit / 2 // e.g. "1234.5"
			ev.qfmt = 1
		}
		ev.qfmt |= asString(35)
	case kindCalls:
		n := 1
		if g.rng.IntN(100) < 5 {
			n = 2 + g.rng.IntN(19)
		}
		ev.qty = schemas.Micros(n) * schemas.MicrosPerUnit
		ev.qfmt = asString(10)
	case kindCompute:
		ms := math.Round(min(max(g.lognormal(2.5, 1.2), 0.001), 36_000) * 1000)
		ev.qty = schemas.Micros(ms) * 1000
		ev.qfmt = 3 | asString(40)
	default:
		c := math.Round(min(max(g.lognormal(10, 1.0), 0.01), 1e6) * 100)
		ev.qty = schemas.Micros(c) * 10_000
		ev.qfmt = qMinimal | asString(30)
	}
}

// bump returns a positive change of ev's quantity that its format can show.
func (g *Generator) bump(ev *event) schemas.Micros {
	step := schemas.Micros(schemas.MicrosPerUnit)
	switch d := ev.qfmt &^ qString; {
	case d == qMinimal:
		step = 10_000
	case d > 0 && d <= 6:
		step = schemas.Micros(schemas.Pow10(6 - int(d)))
	}
	return step * schemas.Micros(1+g.rng.IntN(100))
}

// Fields of the native form, in the order written.
type field uint8

const (
	fNone field = iota
	fID
	fTenant
	fMeter
	fModel
	fQuantity
	fTime
	fProperties
)

// mutation changes how encode writes an event: skip leaves a field out,
// field's value is replaced by value (raw JSON), and tenant/meter replace
// those names (raw JSON strings).
type mutation struct {
	skip   field
	field  field
	value  []byte
	tenant []byte
	meter  []byte
}

// encode appends ev, in native or CloudEvents form, changed by mut (native
// form only).
func (g *Generator) encode(dst []byte, ev *event, mut mutation) []byte {
	if ev.ce && mut.skip == fNone && mut.field == fNone && mut.tenant == nil && mut.meter == nil {
		return g.encodeCE(dst, ev)
	}
	first := true
	key := func(dst []byte, f field, name string) ([]byte, bool) {
		if mut.skip == f {
			return dst, false
		}
		if first {
			dst = append(dst, '{')
			first = false
		} else {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
		if mut.field == f {
			return append(dst, mut.value...), false
		}
		return dst, true
	}
	var ok bool
	if dst, ok = key(dst, fID, "id"); ok {
		dst = g.appendID(dst, ev.seq, true)
	}
	if dst, ok = key(dst, fTenant, "tenant"); ok {
		if mut.tenant != nil {
			dst = append(dst, mut.tenant...)
		} else {
			dst = append(dst, g.tenants[ev.tenant]...)
		}
	}
	if dst, ok = key(dst, fMeter, "meter"); ok {
		if mut.meter != nil {
			dst = append(dst, mut.meter...)
		} else {
			dst = append(dst, g.meters[ev.meter]...)
		}
	}
	if ev.model != 0 || mut.field == fModel {
		if dst, ok = key(dst, fModel, "model"); ok {
			dst = append(dst, g.models[ev.model]...)
		}
	}
	if dst, ok = key(dst, fQuantity, "quantity"); ok {
		dst = appendQuantity(dst, ev.qty, ev.qfmt)
	}
	if dst, ok = key(dst, fTime, "time"); ok {
		dst = append(dst, '"')
		dst = appendTime(dst, ev.ms, zoneOffsets[ev.zone])
		dst = append(dst, '"')
	}
	if ev.props != 0 {
		if dst, ok = key(dst, fProperties, "properties"); ok {
			dst = appendProps(dst, ev.props, ev.propv)
		}
	}
	return append(dst, '}')
}

// encodeCE appends ev in CloudEvents 1.0 structured JSON (SPEC 2.1).
func (g *Generator) encodeCE(dst []byte, ev *event) []byte {
	dst = append(dst, `{"specversion":"1.0","id":`...)
	dst = g.appendID(dst, ev.seq, true)
	dst = append(dst, `,"source":"//creditflow/loadgen","type":`...)
	dst = append(dst, g.meters[ev.meter]...)
	dst = append(dst, `,"subject":`...)
	dst = append(dst, g.tenants[ev.tenant]...)
	dst = append(dst, `,"time":"`...)
	dst = appendTime(dst, ev.ms, zoneOffsets[ev.zone])
	dst = append(dst, `","datacontenttype":"application/json","data":{"quantity":`...)
	dst = appendQuantity(dst, ev.qty, ev.qfmt)
	if ev.model != 0 {
		dst = append(dst, `,"model":`...)
		dst = append(dst, g.models[ev.model]...)
	}
	if ev.props != 0 {
		dst = append(dst, `,"properties":`...)
		dst = appendProps(dst, ev.props, ev.propv)
	}
	return append(dst, '}', '}')
}

// appendID appends the id of event seq, e.g. e-k3x9-2s or, with
// Config.UUIDs, a version 4 UUID such as 3f1c9a2e-7b4d-4e0a-9c55-1d2e3f4a5b6c
// (quoted when quote).
func (g *Generator) appendID(dst []byte, seq uint64, quote bool) []byte {
	if quote {
		dst = append(dst, '"')
	}
	if g.cfg.UUIDs {
		hi := mix64(seq ^ g.uuid)
		dst = appendUUID(dst, hi, mix64(hi^0xd1b54a32d192ed03))
		if quote {
			dst = append(dst, '"')
		}
		return dst
	}
	dst = append(dst, "e-"...)
	dst = append(dst, g.tag...)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, seq, 36)
	if quote {
		dst = append(dst, '"')
	}
	return dst
}

// appendUUID appends the 128 bits hi:lo as a version 4, variant 1 UUID in
// its 36-byte text form.
func appendUUID(dst []byte, hi, lo uint64) []byte {
	const hex = "0123456789abcdef"
	hi = hi&^(0xf<<12) | 4<<12   // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 1
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0xf])
	}
	return dst
}

// appendQuantity appends q in format f (see qString, qMinimal).
func appendQuantity(dst []byte, q schemas.Micros, f uint8) []byte {
	str := f&qString != 0
	digits := int(f &^ qString)
	if str {
		dst = append(dst, '"')
	}
	dst = appendMicros(dst, q, digits)
	if str {
		dst = append(dst, '"')
	}
	return dst
}

// appendMicros appends q ≥ 0 with the given fractional digits (0–6; qMinimal
// for as few as needed). Digits beyond those are dropped, so callers pass
// quantities that fit.
func appendMicros(dst []byte, q schemas.Micros, digits int) []byte {
	u := uint64(q)
	dst = strconv.AppendUint(dst, u/schemas.MicrosPerUnit, 10)
	frac := u % schemas.MicrosPerUnit
	if digits == qMinimal {
		if frac == 0 {
			return dst
		}
		digits = 6
		for frac%10 == 0 {
			frac /= 10
			digits--
		}
	} else {
		if digits == 0 {
			return dst
		}
		frac /= schemas.Pow10(6 - digits)
	}
	dst = append(dst, '.')
	for p := schemas.Pow10(digits - 1); p > 0; p /= 10 {
		dst = append(dst, byte('0'+frac/p%10))
	}
	return dst
}

// zoneOffsets are the UTC offsets, in minutes, that event times are written
// with; index 0 writes "Z".
var zoneOffsets = [...]int{0, 120, -300, 330, 540}

// appendTime appends the instant ms (Unix milliseconds) as RFC 3339 with a
// millisecond fraction, in UTC ("Z") when offMin is 0, else as local time
// with a numeric offset.
func appendTime(dst []byte, ms int64, offMin int) []byte {
	ms += int64(offMin) * 60_000
	days := floorDiv(ms, 86_400_000)
	rem := ms - days*86_400_000
	y, m, d := civil(days)
	dst = append4(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, 'T')
	dst = append2(dst, int(rem/3_600_000))
	dst = append(dst, ':')
	dst = append2(dst, int(rem/60_000%60))
	dst = append(dst, ':')
	dst = append2(dst, int(rem/1000%60))
	dst = append(dst, '.')
	f := int(rem % 1000)
	dst = append(dst, byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	if offMin == 0 {
		return append(dst, 'Z')
	}
	sign := byte('+')
	if offMin < 0 {
		sign, offMin = '-', -offMin
	}
	dst = append(dst, sign)
	dst = append2(dst, offMin/60)
	dst = append(dst, ':')
	return append2(dst, offMin%60)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date.
func civil(days int64) (y, m, d int) {
	z := days + 719_468
	era := floorDiv(z, 146_097)
	doe := z - era*146_097
	yoe := (doe - doe/1460 + doe/36_524 - doe/146_096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10%10), byte('0'+v%10)) }

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// Properties templates.
const numPropTemplates = 4

var regions = [...]string{"eu-west-1", "us-east-1", "ap-northeast-1", "sa-east-1"}

// appendProps appends properties object template t (1–numPropTemplates)
// filled in from v.
func appendProps(dst []byte, t uint8, v uint32) []byte {
	const hex = "0123456789abcdef"
	switch t {
	case 1:
		dst = append(dst, `{"region":"`...)
		dst = append(dst, regions[v%uint32(len(regions))]...)
		return append(dst, `"}`...)
	case 2:
		if v%2 == 0 {
			return append(dst, `{"feature":"chat","stream":true}`...)
		}
		return append(dst, `{"feature":"completion","stream":false}`...)
	case 3:
		dst = append(dst, `{"request_id":"r-`...)
		for s := 28; s >= 0; s -= 4 {
			dst = append(dst, hex[v>>uint(s)&0xf])
		}
		return append(dst, `"}`...)
	default:
		dst = append(dst, `{"region":"`...)
		dst = append(dst, regions[v%uint32(len(regions))]...)
		dst = append(dst, `","feature":"batch","priority":`...)
		return append(dst, byte('0'+v%5), '}')
	}
}
