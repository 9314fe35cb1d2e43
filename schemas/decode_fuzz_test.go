package schemas

import (
	"bytes"
	"encoding/json"
	"math/big"
	"regexp"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"
)

// This file holds a slow, independent reference for DecodeUsage built on
// encoding/json, regexp and math/big, and the fuzz target comparing the two.

// refKeyCounts counts the keys of the JSON object raw (which must be valid).
// encoding/json keeps only the last of duplicate keys, so the reference
// counts them with the token API.
func refKeyCounts(raw []byte) map[string]int {
	counts := map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		panic(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			panic(err)
		}
		counts[tok.(string)]++
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			panic(err)
		}
	}
	return counts
}

// refField is one recognized field as the reference sees it.
type refField struct {
	name  string
	raw   json.RawMessage // the last value, nil when absent
	count int
}

func (f refField) missing() bool { return f.count == 0 || (f.count == 1 && string(f.raw) == "null") }

func (f refField) kind() byte {
	switch f.raw[0] {
	case '"', '{', '[', 'n':
		return f.raw[0]
	case 't', 'f':
		return 'b'
	}
	return '0'
}

func (f refField) str() string {
	var s string
	if err := json.Unmarshal(f.raw, &s); err != nil {
		panic(err)
	}
	return s
}

func refErr(r Reason, field string) *RecordError { return &RecordError{Reason: r, Field: field} }

// presence applies "absent or null, then duplicate". ok is false when the
// caller must stop (err set) or the optional field is absent (err nil).
func (f refField) presence(required bool) (bool, *RecordError) {
	switch {
	case f.missing() && required:
		return false, refErr(ReasonMissingField, f.name)
	case f.missing():
		return false, nil
	case f.count > 1:
		return false, refErr(ReasonBadField, f.name)
	}
	return true, nil
}

func (f refField) stringValue(required bool) (string, bool, *RecordError) {
	ok, err := f.presence(required)
	if !ok {
		return "", false, err
	}
	if f.kind() != '"' {
		return "", false, refErr(ReasonBadField, f.name)
	}
	return f.str(), true, nil
}

var (
	refTenantRE  = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)
	refDecimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	refNumberRE  = regexp.MustCompile(`^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$`)
	refTimeRE    = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))$`)
)

// refQuantity converts a number's text to Micros using big integers:
// value = mantissa × 10^e, which must be ≥ 0, ≤ 1e12 and a whole number of
// millionths.
func refQuantity(text string) (Micros, bool) {
	m := refNumberRE.FindStringSubmatch(text)
	if m == nil {
		panic("reference: not a number: " + text)
	}
	mant, ok := new(big.Int).SetString(m[2]+m[3], 10)
	if !ok {
		panic("reference: mantissa " + m[2] + m[3])
	}
	if mant.Sign() == 0 {
		return 0, true
	}
	if m[1] == "-" {
		return 0, false
	}
	e := big.NewInt(0)
	if m[4] != "" {
		if _, ok := e.SetString(m[4], 10); !ok {
			panic("reference: exponent " + m[4])
		}
	}
	e.Sub(e, big.NewInt(int64(len(m[3]))))
	// Now |value| = mant × 10^e. Work in millionths: mant × 10^(e+6).
	e.Add(e, big.NewInt(6))
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	digits := int64(len(m[2] + m[3]))
	switch {
	case e.Cmp(big.NewInt(18)) > 0:
		return 0, false // mant ≥ 1, so the value is ≥ 10^13
	case e.Sign() >= 0:
		v := new(big.Int).Mul(mant, new(big.Int).Exp(big.NewInt(10), e, nil))
		if v.Cmp(limit) > 0 {
			return 0, false
		}
		return Micros(v.Int64()), true
	case e.Cmp(big.NewInt(-digits)) < 0:
		return 0, false // 10^-e > mant: not a whole number of millionths
	default:
		div := new(big.Int).Exp(big.NewInt(10), new(big.Int).Neg(e), nil)
		q, r := new(big.Int).QuoRem(mant, div, new(big.Int))
		if r.Sign() != 0 || q.Cmp(limit) > 0 {
			return 0, false
		}
		return Micros(q.Int64()), true
	}
}

// refTime parses RFC 3339 with a regular expression and time.Date.
func refTime(s string) (time.Time, bool) {
	m := refTimeRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	n := make([]int, len(m))
	for i, v := range m {
		if i > 0 && v != "" && v != "+" && v != "-" {
			n[i], _ = strconv.Atoi(v)
		}
	}
	year, month, day, hour, minute, sec := n[1], n[2], n[3], n[4], n[5], n[6]
	if month < 1 || month > 12 || hour > 23 || minute > 59 || sec > 59 || n[9] > 23 || n[10] > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if m[7] != "" {
		frac := m[7] + "000000000"[len(m[7]):]
		nsec, _ = strconv.Atoi(frac)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day || int(t.Month()) != month {
		return time.Time{}, false // 31 April, 29 February of a common year, …
	}
	off := time.Duration(n[9])*time.Hour + time.Duration(n[10])*time.Minute
	if m[8] == "-" {
		off = -off
	}
	t = t.Add(-off)
	if t.Year() < 0 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// refDecodeUsage is the reference decoder. Errors carry Reason and Field.
func refDecodeUsage(b []byte) (UsageEvent, *RecordError) {
	var ev UsageEvent
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if !utf8.Valid(b) || !json.Valid(b) || len(trimmed) == 0 || trimmed[0] != '{' {
		return ev, refErr(ReasonMalformedJSON, "")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return ev, refErr(ReasonMalformedJSON, "")
	}
	counts := refKeyCounts(b)
	field := func(key, name string) refField { return refField{name: name, raw: top[key], count: counts[key]} }

	ce := counts["specversion"] > 0
	var id, tenant, meter, model, quantity, tm, props refField
	var inner map[string]json.RawMessage
	if ce {
		spec := field("specversion", "specversion")
		if spec.count > 1 || spec.kind() != '"' || spec.str() != "1.0" {
			return ev, refErr(ReasonBadField, "specversion")
		}
		id, tenant, meter, tm = field("id", "id"), field("subject", "subject"), field("type", "type"), field("time", "time")
		data := field("data", "data")
		var innerCounts map[string]int
		switch {
		case data.count > 1:
		case data.missing():
		case data.kind() == '{':
			if err := json.Unmarshal(data.raw, &inner); err != nil {
				panic(err)
			}
			innerCounts = refKeyCounts(data.raw)
		}
		dfield := func(key string) refField {
			return refField{name: "data." + key, raw: inner[key], count: innerCounts[key]}
		}
		model, quantity, props = dfield("model"), dfield("quantity"), dfield("properties")
		// The order: specversion, id, subject, type, then data itself.
		if err := refCheckIDTenantMeter(&ev, id, tenant, meter); err != nil {
			return UsageEvent{}, err
		}
		switch {
		case data.count > 1:
			return UsageEvent{}, refErr(ReasonBadField, "data")
		case data.missing():
			return UsageEvent{}, refErr(ReasonMissingField, "data.quantity")
		case data.kind() != '{':
			return UsageEvent{}, refErr(ReasonBadField, "data")
		}
	} else {
		id, tenant, meter, model = field("id", "id"), field("tenant", "tenant"), field("meter", "meter"), field("model", "model")
		quantity, tm, props = field("quantity", "quantity"), field("time", "time"), field("properties", "properties")
		if err := refCheckIDTenantMeter(&ev, id, tenant, meter); err != nil {
			return UsageEvent{}, err
		}
	}

	s, ok, err := model.stringValue(false)
	if err != nil {
		return UsageEvent{}, err
	}
	if ok && len(s) > 128 {
		return UsageEvent{}, refErr(ReasonBadField, model.name)
	}
	ev.Model = s

	if ok, err := quantity.presence(true); !ok {
		return UsageEvent{}, err
	}
	var text string
	switch quantity.kind() {
	case '"':
		text = quantity.str()
		if !refDecimalRE.MatchString(text) {
			return UsageEvent{}, refErr(ReasonBadQuantity, quantity.name)
		}
	case '0':
		text = string(quantity.raw)
	default:
		return UsageEvent{}, refErr(ReasonBadQuantity, quantity.name)
	}
	q, good := refQuantity(text)
	if !good {
		return UsageEvent{}, refErr(ReasonBadQuantity, quantity.name)
	}
	ev.Quantity = q

	if ok, err := tm.presence(true); !ok {
		return UsageEvent{}, err
	}
	if tm.kind() != '"' {
		return UsageEvent{}, refErr(ReasonBadTime, tm.name)
	}
	t, good := refTime(tm.str())
	if !good {
		return UsageEvent{}, refErr(ReasonBadTime, tm.name)
	}
	ev.Time = t

	ok, err = props.presence(false)
	if err != nil {
		return UsageEvent{}, err
	}
	if ok {
		if props.kind() != '{' {
			return UsageEvent{}, refErr(ReasonBadField, props.name)
		}
		ev.Properties = props.raw
	}
	return ev, nil
}

func refCheckIDTenantMeter(ev *UsageEvent, id, tenant, meter refField) *RecordError {
	s, _, err := id.stringValue(true)
	if err != nil {
		return err
	}
	if len(s) < 1 || len(s) > 128 {
		return refErr(ReasonBadField, id.name)
	}
	ev.ID = []byte(s)
	if s, _, err = tenant.stringValue(true); err != nil {
		return err
	}
	if len(s) < 1 || len(s) > 128 || !refTenantRE.MatchString(s) {
		return refErr(ReasonBadField, tenant.name)
	}
	ev.Tenant = s
	if s, _, err = meter.stringValue(true); err != nil {
		return err
	}
	if len(s) < 1 || len(s) > 128 {
		return refErr(ReasonBadField, meter.name)
	}
	ev.Meter = s
	return nil
}

// eventsDiff compares two events field by field and describes the first
// difference.
func eventsDiff(got, want *UsageEvent) string {
	switch {
	case !bytes.Equal(got.ID, want.ID):
		return "ID " + strconv.Quote(string(got.ID)) + " want " + strconv.Quote(string(want.ID))
	case got.Tenant != want.Tenant:
		return "Tenant " + strconv.Quote(got.Tenant) + " want " + strconv.Quote(want.Tenant)
	case got.Meter != want.Meter:
		return "Meter " + strconv.Quote(got.Meter) + " want " + strconv.Quote(want.Meter)
	case got.Model != want.Model:
		return "Model " + strconv.Quote(got.Model) + " want " + strconv.Quote(want.Model)
	case got.Quantity != want.Quantity:
		return "Quantity " + got.Quantity.String() + " want " + want.Quantity.String()
	case !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC:
		return "Time " + got.Time.String() + " want " + want.Time.String()
	case !bytes.Equal(got.Properties, want.Properties) || (got.Properties == nil) != (want.Properties == nil):
		return "Properties " + strconv.Quote(string(got.Properties)) + " want " + strconv.Quote(string(want.Properties))
	}
	return ""
}

// fuzzSeeds are valid events of both forms and one record per reason.
var fuzzSeeds = []string{
	`{"id":"e1","tenant":"acme","meter":"tokens","model":"gpt","quantity":12.5,"time":"2024-02-29T23:59:59.123456789+05:30","properties":{"a":[1,2,{"b":null}]}}`,
	`{"id":"e\u00e9\ud83d\ude00","tenant":"t:1","meter":"api.calls","quantity":"1.0000000","time":"2024-01-01t00:00:00z"}`,
	`{"specversion":"1.0","id":"c1","source":"/x","subject":"acme","type":"tokens","time":"2024-03-01T00:00:00Z","data":{"quantity":1.5e3,"model":"m","properties":{}}}`,
	`{"id":"e1","tenant":"acme","meter":"tokens","quantity":1,"time":"2024-01-01T00:00:00Z"} x`,
	`{"tenant":"acme","meter":"tokens","quantity":1,"time":"2024-01-01T00:00:00Z"}`,
	`{"id":"e1","tenant":"ac me","meter":"tokens","quantity":1,"time":"2024-01-01T00:00:00Z"}`,
	`{"id":"e1","tenant":"acme","meter":"tokens","quantity":1.0000001,"time":"2024-01-01T00:00:00Z"}`,
	`{"id":"e1","tenant":"acme","meter":"tokens","quantity":1,"time":"2023-02-29T00:00:00Z"}`,
	`{"specversion":"1.0","id":"c1","subject":"acme","type":"tokens","time":"2024-03-01T00:00:00Z"}`,
	`{"id":"e1","id":"e2","tenant":"acme","meter":"tokens","quantity":"-0","time":"2024-01-01T00:00:00-00:00"}`,
	` {"\u0069d" : "\ud800\u0041\/" , "tenant":"\u0061", "meter":"m\n", "model":null, "quantity":0.00000000012e10, "time":"0000-01-01T00:00:00.1-00:00", "properties":null, "x":[true,false,null,-0.0e-0,"\t"]}` + "\n",
	`{"specversion":"1.0","id":"c1","subject":"acme","type":"tokens","time":"2024-03-01T00:00:00Z","data":null,"data":{"quantity":"7"}}`,
	`{"specversion":"1.0","id":"c1","subject":"acme","type":"tokens","time":"9999-12-31T23:59:59+01:00","data":{"quantity":"1000000000000.0000001","model":"m","model":"n"}}`,
	`{"id":"é😀","tenant":"A.b_c:d-9","meter":"\u00e9","quantity":999999999999.999999e0,"time":"2024-12-31T23:59:59.999999999-23:59","properties":{"k":{"k":{"k":[[]]}}}}`,
}

func FuzzDecodeUsage(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		// Decode something else first, so that stale state would show.
		var prev UsageEvent
		_ = d.DecodeUsage([]byte(fuzzSeeds[2]), &prev)

		var ev UsageEvent
		err := d.DecodeUsage(b, &ev)
		want, wantErr := refDecodeUsage(b)
		if err != nil {
			re, ok := err.(*RecordError)
			if !ok {
				t.Fatalf("error %T %v, want *RecordError", err, err)
			}
			if wantErr == nil {
				t.Fatalf("DecodeUsage(%q) = %v, reference accepts", b, err)
			}
			if re.Reason != wantErr.Reason || re.Field != wantErr.Field {
				t.Fatalf("DecodeUsage(%q) = %v, reference says field %q: %s", b, err, wantErr.Field, wantErr.Reason)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("DecodeUsage(%q) accepted, reference says field %q: %s", b, wantErr.Field, wantErr.Reason)
		}
		if diff := eventsDiff(&ev, &want); diff != "" {
			t.Fatalf("DecodeUsage(%q): %s", b, diff)
		}
		// The canonical form decodes to the same event.
		canon := AppendUsageJSON(nil, &ev)
		kept := ev.Clone()
		var again UsageEvent
		if err := d.DecodeUsage(canon, &again); err != nil {
			t.Fatalf("DecodeUsage(AppendUsageJSON) of %q = %v", canon, err)
		}
		if diff := eventsDiff(&again, &kept); diff != "" {
			t.Fatalf("round trip through %q: %s", canon, diff)
		}
	})
}
