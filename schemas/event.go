// Package schemas holds creditflow's wire types and their codecs: usage and
// grant events (SPEC 2.1, 2.2), exact decimals for credits and money, window
// totals, alerts and billing rows. It imports nothing of the pipeline.
package schemas

import (
	"strings"
	"time"
)

// UsageEvent is one decoded usage record (SPEC 2.1), in either the native or
// the CloudEvents form.
//
// On the hot path a Decoder fills a caller-owned UsageEvent: ID and
// Properties then alias the decoder's input or scratch and stay valid only
// until the next Decode; Tenant, Meter and Model are interned strings that
// stay valid for good. Call Clone to keep an event.
type UsageEvent struct {
	ID         []byte    // idempotency key, 1–128 bytes
	Tenant     string    // 1–128 bytes of [A-Za-z0-9._:-]
	Meter      string    // must name a catalog meter (checked by the catalog, not the decoder)
	Model      string    // optional; "" when absent
	Quantity   Micros    // ≥ 0, ≤ 1e12, at most 6 fractional digits
	Time       time.Time // event time, UTC
	Properties []byte    // raw JSON object, nil when absent
}

// Clone returns a copy of e that owns its byte slices.
func (e *UsageEvent) Clone() UsageEvent {
	c := *e
	c.ID = append([]byte(nil), e.ID...)
	if e.Properties != nil {
		c.Properties = append([]byte(nil), e.Properties...)
	}
	return c
}

// MaxQuantity is the largest accepted usage quantity, 1e12 (SPEC 2.1).
const MaxQuantity = Micros(1_000_000_000_000 * MicrosPerUnit)

// MaxKeyLen is the longest accepted id or tenant, in bytes.
const MaxKeyLen = 128

// GrantKind says why credits were granted.
type GrantKind string

// Grant kinds (SPEC 2.2).
const (
	GrantBundle     GrantKind = "bundle"
	GrantTopup      GrantKind = "topup"
	GrantPromo      GrantKind = "promo"
	GrantAdjustment GrantKind = "adjustment"
)

// Valid reports whether k is one of the four grant kinds.
func (k GrantKind) Valid() bool {
	switch k {
	case GrantBundle, GrantTopup, GrantPromo, GrantAdjustment:
		return true
	}
	return false
}

// Purchased reports whether the tenant paid for grants of this kind, so that
// the close bills them as a credit_purchase line.
func (k GrantKind) Purchased() bool { return k == GrantBundle || k == GrantTopup }

// Grant adds prepaid credits to a tenant (SPEC 2.2).
type Grant struct {
	ID                  string
	Tenant              string
	Credits             Micros    // > 0
	Price               Decimal   // money paid, ≥ 0
	Kind                GrantKind // bundle, topup, promo or adjustment
	Time                time.Time // when the credits become usable, UTC
	ExpiresAfterPeriods int       // ≥ 0; 0 = never expires
}

// WindowKey names one series of windows.
type WindowKey struct {
	Tenant, Meter, Model string
}

// WindowTotal is the usage of one (tenant, meter, model) in one tumbling
// window [Start, End). The pipeline emits totals as deltas: the first
// emission of a window carries everything counted by then, and every late
// event adds a further row with Late set. The sum of a window's rows is its
// total, which is what sinks store and analysts read.
type WindowTotal struct {
	WindowKey
	Start, End time.Time // UTC, half-open
	Events     int64
	Quantity   Micros
	Credits    Micros
	Late       bool // a correction to a window already emitted
}

// CompareWindows orders window totals by tenant, meter, model and start,
// which identify a window (its end follows from the width), looking at
// each field only while the earlier ones are equal.
func CompareWindows(a, b *WindowTotal) int {
	if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
		return c
	}
	if c := strings.Compare(a.Meter, b.Meter); c != 0 {
		return c
	}
	if c := strings.Compare(a.Model, b.Model); c != 0 {
		return c
	}
	return a.Start.Compare(b.Start)
}
