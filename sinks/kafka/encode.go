package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/creditflow/creditflow/schemas"
	"github.com/creditflow/creditflow/sinks/files"
)

// appendAlert appends the value of an alert record: the alerts.jsonl object
// of files.AppendAlertJSON without its line ending.
func appendAlert(b []byte, a schemas.Alert) []byte {
	return trimNewline(files.AppendAlertJSON(b, a))
}

// appendDeadLetter appends the value of a dead-letter record: the
// deadletter.jsonl object of files.AppendDeadLetter ("reason", "record" and,
// for bytes that are not UTF-8, "record_base64") followed by "detail",
// "topic", "partition" and "offset".
func appendDeadLetter(b []byte, d schemas.DeadLetter) []byte {
	start := len(b)
	b = trimNewline(files.AppendDeadLetter(b, d.Reason, d.Record))
	if len(b) <= start || b[len(b)-1] != '}' {
		panic("kafka: files.AppendDeadLetter did not end in }") // a broken invariant of sinks/files
	}
	b = b[:len(b)-1]
	b = append(b, `,"detail":`...)
	b = appendJSONString(b, d.Detail)
	b = append(b, `,"topic":`...)
	b = appendJSONString(b, d.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(d.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, d.Offset, 10)
	return append(b, '}')
}

// appendEntitlement appends the value of an entitlement record:
//
//	{"tenant":…,"state":…,"period_start":…,"period_end":…,"time":…}
//
// with instants in RFC 3339 UTC (fractional seconds as needed).
func appendEntitlement(b []byte, e schemas.EntitlementChange) []byte {
	b = append(b, `{"tenant":`...)
	b = appendJSONString(b, e.Tenant)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, string(e.State))
	b = appendTimeField(b, "period_start", e.PeriodStart)
	b = appendTimeField(b, "period_end", e.PeriodEnd)
	b = appendTimeField(b, "time", e.Time)
	return append(b, '}')
}

// entitlementJSON is the decoding form of an entitlement record.
type entitlementJSON struct {
	Tenant      *string `json:"tenant"`
	State       *string `json:"state"`
	PeriodStart *string `json:"period_start"`
	PeriodEnd   *string `json:"period_end"`
	Time        *string `json:"time"`
}

// DecodeEntitlement decodes the value of an entitlement record, as written by
// Producer.Entitlements: a JSON object with the string fields tenant, state
// (active, overage, capped or blocked), period_start, period_end and time
// (RFC 3339). Every field is required; unknown fields are ignored. Instants
// are returned in UTC.
func DecodeEntitlement(b []byte) (schemas.EntitlementChange, error) {
	var (
		e schemas.EntitlementChange
		v entitlementJSON
	)
	if err := json.Unmarshal(b, &v); err != nil {
		return e, fmt.Errorf("decode entitlement: %w", err)
	}
	var errs []error
	str := func(name string, p *string) string {
		if p == nil {
			errs = append(errs, fmt.Errorf("field %q is missing", name))
			return ""
		}
		return *p
	}
	instant := func(name string, p *string) time.Time {
		s := str(name, p)
		if p == nil {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %q: %w", name, err))
		}
		return t.UTC()
	}
	e.Tenant = str("tenant", v.Tenant)
	if v.Tenant != nil && e.Tenant == "" {
		errs = append(errs, errors.New(`field "tenant" is empty`))
	}
	e.State = schemas.Entitlement(str("state", v.State))
	if v.State != nil {
		switch e.State {
		case schemas.EntitlementActive, schemas.EntitlementOverage, schemas.EntitlementCapped, schemas.EntitlementBlocked:
		default:
			errs = append(errs, fmt.Errorf("field \"state\": %q is not one of active, overage, capped, blocked", e.State))
		}
	}
	e.PeriodStart = instant("period_start", v.PeriodStart)
	e.PeriodEnd = instant("period_end", v.PeriodEnd)
	e.Time = instant("time", v.Time)
	if err := errors.Join(errs...); err != nil {
		return schemas.EntitlementChange{}, fmt.Errorf("decode entitlement: %w", err)
	}
	return e, nil
}

// appendClose appends the value of a close record: the figures of c under
// the column names of period_closes.csv (SPEC 5), then "line_items", an
// array of objects with the columns of line_items.csv that are not already
// on the close (kind, description, quantity, unit_price, amount, currency,
// charged_at_purchase). Credits are strings with 6 decimals; money and unit
// prices are exact decimal strings at the scale they carry (the ledger
// rounds money to the currency's decimals); instants are RFC 3339 UTC.
func appendClose(b []byte, c schemas.PeriodClose, items []schemas.LineItem) []byte {
	b = append(b, `{"tenant":`...)
	b = appendJSONString(b, c.Tenant)
	b = appendTimeField(b, "period_start", c.PeriodStart)
	b = appendTimeField(b, "period_end", c.PeriodEnd)
	b = append(b, `,"plan":`...)
	b = appendJSONString(b, c.Plan)
	b = appendMicrosField(b, "rollover_in", c.RolloverIn)
	b = appendMicrosField(b, "included", c.Included)
	b = appendMicrosField(b, "grant_credits_available", c.GrantCreditsAvailable)
	b = appendMicrosField(b, "available", c.Available)
	b = appendMicrosField(b, "consumed", c.Consumed)
	b = appendMicrosField(b, "overage", c.Overage)
	b = appendMicrosField(b, "billable_overage", c.BillableOverage)
	b = appendMicrosField(b, "uncollected_overage", c.UncollectedOverage)
	b = appendDecimalField(b, "overage_amount", c.OverageAmount)
	b = appendMicrosField(b, "rollover_out", c.RolloverOut)
	b = appendMicrosField(b, "expired_credits", c.ExpiredCredits)
	b = appendDecimalField(b, "recognized_revenue", c.RecognizedRevenue)
	b = appendDecimalField(b, "deferred_revenue_end", c.DeferredRevenueEnd)
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, c.Currency)
	b = append(b, `,"line_items":[`...)
	for i, l := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"kind":`...)
		b = appendJSONString(b, string(l.Kind))
		b = append(b, `,"description":`...)
		b = appendJSONString(b, l.Description)
		b = appendMicrosField(b, "quantity", l.Quantity)
		b = appendDecimalField(b, "unit_price", l.UnitPrice)
		b = appendDecimalField(b, "amount", l.Amount)
		b = append(b, `,"currency":`...)
		b = appendJSONString(b, l.Currency)
		b = append(b, `,"charged_at_purchase":`...)
		b = strconv.AppendBool(b, l.ChargedAtPurchase)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// closeID is the id header of a close record: tenant "/" period start.
func closeID(b []byte, tenant string, start time.Time) []byte {
	b = append(b, tenant...)
	b = append(b, '/')
	return start.UTC().AppendFormat(b, time.RFC3339Nano)
}

func trimNewline(b []byte) []byte { return bytes.TrimSuffix(b, []byte{'\n'}) }

func appendTimeField(b []byte, name string, t time.Time) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendMicrosField(b []byte, name string, m schemas.Micros) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":"`...)
	b = m.Append(b)
	return append(b, '"')
}

func appendDecimalField(b []byte, name string, d schemas.Decimal) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":"`...)
	b = d.Append(b)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping '"', '\\' and
// control characters; bytes that are not valid UTF-8 become U+FFFD (as
// encoding/json does).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
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
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
