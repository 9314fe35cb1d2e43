package schemas

import (
	"fmt"
	"strconv"
)

// Reason is the machine-readable cause of a dead letter (SPEC 3.2).
type Reason string

// Dead-letter reasons.
const (
	ReasonMalformedJSON Reason = "malformed_json"
	ReasonMissingField  Reason = "missing_field"
	ReasonBadField      Reason = "bad_field" // wrong type, length or characters
	ReasonBadQuantity   Reason = "bad_quantity"
	ReasonBadTime       Reason = "bad_time"
	ReasonUnknownMeter  Reason = "unknown_meter"
	ReasonUnknownTenant Reason = "unknown_tenant"
	ReasonNoRate        Reason = "no_rate"
	ReasonTooFarFuture  Reason = "too_far_future"
	ReasonTooOld        Reason = "too_old"
)

// Reasons lists every dead-letter reason, in SPEC order.
var Reasons = []Reason{
	ReasonMalformedJSON, ReasonMissingField, ReasonBadField, ReasonBadQuantity,
	ReasonBadTime, ReasonUnknownMeter, ReasonUnknownTenant, ReasonNoRate,
	ReasonTooFarFuture, ReasonTooOld,
}

// RecordError says why one record was refused: the field at fault (empty
// when the record as a whole is), the dead-letter reason and a human detail.
// The caller that knows the record's position sets Record ("line 17",
// "usage.events/3@42").
type RecordError struct {
	Record string
	Field  string
	Reason Reason
	Detail string
}

func (e *RecordError) Error() string {
	var b []byte
	if e.Record != "" {
		b = append(b, "record "...)
		b = append(b, e.Record...)
		b = append(b, ": "...)
	}
	if e.Field != "" {
		b = append(b, "field "...)
		b = strconv.AppendQuote(b, e.Field)
		b = append(b, ": "...)
	}
	b = append(b, e.Reason...)
	if e.Detail != "" {
		b = append(b, ": "...)
		b = append(b, e.Detail...)
	}
	return string(b)
}

// Errorf builds a RecordError.
func Errorf(reason Reason, field, format string, args ...any) *RecordError {
	return &RecordError{Field: field, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}
