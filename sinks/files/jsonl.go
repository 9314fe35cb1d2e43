package files

import (
	"encoding/base64"
	"time"
	"unicode/utf8"

	"github.com/creditflow/creditflow/schemas"
)

// AppendDeadLetter appends one line of deadletter.jsonl (SPEC 5) to b:
//
//	{"reason":"bad_time","record":"<record as a JSON string>"}\n
//
// record is the original input line, without its line ending. Valid UTF-8
// is kept verbatim, escaping only '"', '\\' and control characters. When
// record is not valid UTF-8, each invalid byte becomes U+FFFD in "record"
// and a further field "record_base64" holds the exact bytes (standard
// base64, padded), so nothing is lost.
func AppendDeadLetter(b []byte, reason schemas.Reason, record []byte) []byte {
	b = append(b, `{"reason":`...)
	b, _ = appendJSONString(b, reason)
	b = append(b, `,"record":`...)
	var valid bool
	b, valid = appendJSONString(b, record)
	if !valid {
		b = append(b, `,"record_base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, record)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// AppendAlertJSON appends one line of alerts.jsonl (SPEC 5) to b: a JSON
// object ending in "\n" with the fields, in this order,
//
//	id, type, tenant, period_start, time
//
// then by type:
//
//	threshold:   threshold, consumed, available, projected_exhaustion, entitlement
//	cap_reached: consumed, available, entitlement
//	topup:       grant_id, credits, price
//	runaway:     rate_per_minute, baseline_per_minute, drivers [{meter, model, credits}]
//
// Every value is a JSON string except drivers. threshold is the percentage
// without trailing zero decimals ("80", "87.5"); credits have 6 decimals;
// price is printed with the decimals it has; instants are RFC 3339 UTC with
// the fractional seconds present. projected_exhaustion and entitlement are
// left out when zero; an unknown type gets the common fields only. Drivers
// keep the order given.
func AppendAlertJSON(b []byte, a schemas.Alert) []byte {
	b = append(b, `{"id":`...)
	b, _ = appendJSONString(b, a.ID)
	b = append(b, `,"type":`...)
	b, _ = appendJSONString(b, a.Type)
	b = append(b, `,"tenant":`...)
	b, _ = appendJSONString(b, a.Tenant)
	b = appendTimeField(b, "period_start", a.PeriodStart)
	b = appendTimeField(b, "time", a.Time)
	switch a.Type {
	case schemas.AlertThreshold:
		b = append(b, `,"threshold":"`...)
		b = a.Threshold.Normalize(0).Append(b)
		b = append(b, '"')
		b = appendMicrosField(b, "consumed", a.Consumed)
		b = appendMicrosField(b, "available", a.Available)
		if !a.ProjectedExhaustion.IsZero() {
			b = appendTimeField(b, "projected_exhaustion", a.ProjectedExhaustion)
		}
		b = appendEntitlement(b, a.Entitlement)
	case schemas.AlertCapReached:
		b = appendMicrosField(b, "consumed", a.Consumed)
		b = appendMicrosField(b, "available", a.Available)
		b = appendEntitlement(b, a.Entitlement)
	case schemas.AlertTopup:
		b = append(b, `,"grant_id":`...)
		b, _ = appendJSONString(b, a.GrantID)
		b = appendMicrosField(b, "credits", a.Credits)
		b = append(b, `,"price":"`...)
		b = a.Price.Append(b)
		b = append(b, '"')
	case schemas.AlertRunaway:
		b = appendMicrosField(b, "rate_per_minute", a.RatePerMinute)
		b = appendMicrosField(b, "baseline_per_minute", a.BaselinePerMinute)
		b = append(b, `,"drivers":[`...)
		for i, d := range a.Drivers {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"meter":`...)
			b, _ = appendJSONString(b, d.Meter)
			b = append(b, `,"model":`...)
			b, _ = appendJSONString(b, d.Model)
			b = appendMicrosField(b, "credits", d.Credits)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// appendTimeField appends ,"name":"<t>" with t as by appendTime; name is a
// constant that needs no escaping.
func appendTimeField(b []byte, name string, t time.Time) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":"`...)
	b = appendTime(b, t)
	return append(b, '"')
}

// appendMicrosField appends ,"name":"<m with 6 decimals>".
func appendMicrosField(b []byte, name string, m schemas.Micros) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":"`...)
	b = m.Append(b)
	return append(b, '"')
}

// appendEntitlement appends ,"entitlement":"<e>" unless e is empty.
func appendEntitlement(b []byte, e schemas.Entitlement) []byte {
	if e == "" {
		return b
	}
	b = append(b, `,"entitlement":`...)
	b, _ = appendJSONString(b, e)
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Valid UTF-8 is copied
// verbatim except '"', '\\' and control characters (U+0000–U+001F), which
// are escaped. Each byte that is not part of valid UTF-8 is written as
// U+FFFD and valid is false.
func appendJSONString[S ~string | ~[]byte](b []byte, s S) (_ []byte, valid bool) {
	valid = true
	b = append(b, '"')
	start := 0 // s[start:i] is pending verbatim output
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = utf8.AppendRune(b, utf8.RuneError)
			valid = false
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"'), valid
}

// decodeRune is utf8.DecodeRune for strings and byte slices. The
// conversion of at most utf8.UTFMax bytes does not escape, so it does not
// allocate.
func decodeRune[S ~string | ~[]byte](s S) (rune, int) {
	return utf8.DecodeRuneInString(string(s[:min(len(s), utf8.UTFMax)]))
}
