package schemas

import (
	"math"
	"strconv"
	"time"
)

// DecodeGrant decodes one grant record (SPEC 2.2). It applies the same JSON
// rules as Decoder.DecodeUsage (exactly one RFC 8259 object, valid UTF-8,
// unknown keys ignored, a recognized key twice is bad_field) and checks the
// fields in this order, returning the first problem as a *RecordError:
//
//   - id: required string, 1–128 bytes.
//   - tenant: required string, 1–128 bytes of [A-Za-z0-9._:-].
//   - credits: required JSON number or decimal string -?digits(.digits)?,
//     exactly > 0 with at most 6 fractional digits, within Micros.
//   - price: required (use 0 for free grants); JSON number or decimal string,
//     ≥ 0, at most 18 fractional digits, fitting a Decimal. The written scale
//     is kept ("10.00" has Scale 2); trailing zeros beyond 18 are dropped.
//   - kind: required string, one of bundle, topup, promo, adjustment.
//   - time: required RFC 3339 string, as for usage events; bad_time if not.
//   - expires_after_periods: optional JSON number (absent or null = 0) whose
//     exact value is an integer in [0, 2147483647].
//
// Missing or null required fields are missing_field; every other field
// problem is bad_field, except time (bad_time).
func DecodeGrant(b []byte) (Grant, error) {
	var d Decoder
	g, re := d.grant(b)
	if re != nil {
		return Grant{}, re
	}
	return g, nil
}

func (d *Decoder) grant(b []byte) (Grant, *RecordError) {
	var g Grant
	if !d.scanDocument(b, modeGrant) {
		return g, d.syntaxError()
	}
	id, re := d.id(b, &d.slots[slotID], "id")
	if re != nil {
		return g, re
	}
	g.ID = string(id)
	if g.Tenant, re = d.tenant(b, &d.slots[slotTenant], "tenant", false); re != nil {
		return g, re
	}
	if g.Credits, re = d.credits(b, &d.slots[slotCredits], "credits"); re != nil {
		return g, re
	}
	if g.Price, re = d.price(b, &d.slots[slotPrice], "price"); re != nil {
		return g, re
	}
	kind, re := d.stringField(b, &d.slots[slotKind], "kind", true, &d.tmp)
	if re != nil {
		return g, re
	}
	g.Kind = GrantKind(kind)
	if !g.Kind.Valid() {
		return g, Errorf(ReasonBadField, "kind", "%q is not one of bundle, topup, promo, adjustment", clip(kind))
	}
	if g.Time, re = d.time(b, &d.slots[slotTime], "time"); re != nil {
		return g, re
	}
	g.ExpiresAfterPeriods, re = d.expires(b, &d.slots[slotExpires], "expires_after_periods")
	return g, re
}

// decimalParts returns the parts of a JSON number or decimal string field
// whose presence has been checked.
func (d *Decoder) decimalParts(b []byte, sp *span, field string) (numParts, *RecordError) {
	switch sp.kind {
	case kindNumber:
		return jsonNumberParts(b[sp.start:sp.end]), nil
	case kindString:
		p, ok := decimalStringParts(d.text(b, sp, &d.tmp))
		if !ok {
			return p, Errorf(ReasonBadField, field, "string is not a plain decimal -?digits(.digits)?")
		}
		return p, nil
	}
	return numParts{}, Errorf(ReasonBadField, field, "is a %s, not a number or decimal string", sp.kind)
}

func (d *Decoder) credits(b []byte, sp *span, field string) (Micros, *RecordError) {
	if ok, re := present(sp, field, true); !ok {
		return 0, re
	}
	p, re := d.decimalParts(b, sp, field)
	if re != nil {
		return 0, re
	}
	m, st := p.scaled(6)
	switch {
	case st == numZero || p.neg:
		return 0, Errorf(ReasonBadField, field, "must be more than 0")
	case st == numInexact:
		return 0, Errorf(ReasonBadField, field, "has more than 6 fractional digits")
	case st == numTooBig || m > math.MaxInt64:
		return 0, Errorf(ReasonBadField, field, "is out of range")
	}
	return Micros(m), nil
}

func (d *Decoder) price(b []byte, sp *span, field string) (Decimal, *RecordError) {
	if ok, re := present(sp, field, true); !ok {
		return Decimal{}, re
	}
	p, re := d.decimalParts(b, sp, field)
	if re != nil {
		return Decimal{}, re
	}
	// Keep the written scale, within [0, MaxScale].
	scale := int64(len(p.frac)) - p.exp
	scale = max(0, min(scale, MaxScale))
	v, st := p.scaled(int(scale))
	if (st == numTooBig || v > math.MaxInt64) && p.fracDigits() < scale {
		// Drop written trailing zeros that make the coefficient overflow.
		scale = p.fracDigits()
		v, st = p.scaled(int(scale))
	}
	switch {
	case st == numZero:
		return Decimal{Scale: uint8(scale)}, nil
	case p.neg:
		return Decimal{}, Errorf(ReasonBadField, field, "is negative")
	case st == numInexact:
		return Decimal{}, Errorf(ReasonBadField, field, "has more than %d fractional digits", MaxScale)
	case st == numTooBig || v > math.MaxInt64:
		return Decimal{}, Errorf(ReasonBadField, field, "is out of range")
	}
	return Decimal{Coef: int64(v), Scale: uint8(scale)}, nil
}

func (d *Decoder) expires(b []byte, sp *span, field string) (int, *RecordError) {
	if ok, re := present(sp, field, false); !ok {
		return 0, re
	}
	if sp.kind != kindNumber {
		return 0, Errorf(ReasonBadField, field, "is a %s, not an integer", sp.kind)
	}
	p := jsonNumberParts(b[sp.start:sp.end])
	v, st := p.scaled(0)
	switch {
	case st == numZero:
		return 0, nil
	case p.neg:
		return 0, Errorf(ReasonBadField, field, "is negative")
	case st == numInexact:
		return 0, Errorf(ReasonBadField, field, "is not an integer")
	case st == numTooBig || v > math.MaxInt32:
		return 0, Errorf(ReasonBadField, field, "is out of range")
	}
	return int(v), nil
}

// AppendGrantJSON appends the canonical JSON form of g: keys in the order
// id, tenant, credits, price, kind, time, expires_after_periods; credits as a
// decimal string with the fewest fractional digits, price as a decimal
// string with its own scale (Decimal.String), time as RFC 3339 with
// nanoseconds as needed in UTC. DecodeGrant of the result returns g when g
// is valid (its Time then compares Equal and is in UTC).
func AppendGrantJSON(b []byte, g Grant) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, g.ID)
	b = append(b, `,"tenant":`...)
	b = appendJSONString(b, g.Tenant)
	b = append(b, `,"credits":"`...)
	b = g.Credits.Decimal().Normalize(0).Append(b)
	b = append(b, `","price":"`...)
	b = g.Price.Append(b)
	b = append(b, `","kind":`...)
	b = appendJSONString(b, string(g.Kind))
	b = append(b, `,"time":"`...)
	b = g.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","expires_after_periods":`...)
	b = strconv.AppendInt(b, int64(g.ExpiresAfterPeriods), 10)
	return append(b, '}')
}
