package schemas

import "time"

// PeriodClose is one tenant's closed billing period: the figures of SPEC 3.5
// and 3.8, in the column order of SPEC 5 (period_closes.csv). Credits are
// Micros; money is a Decimal already rounded to the currency's decimals.
type PeriodClose struct {
	Tenant                string
	PeriodStart           time.Time // UTC
	PeriodEnd             time.Time // UTC
	Plan                  string
	RolloverIn            Micros
	Included              Micros
	GrantCreditsAvailable Micros
	Available             Micros
	Consumed              Micros
	Overage               Micros
	BillableOverage       Micros
	UncollectedOverage    Micros
	OverageAmount         Decimal
	RolloverOut           Micros
	ExpiredCredits        Micros
	RecognizedRevenue     Decimal
	DeferredRevenueEnd    Decimal
	Currency              string
}

// LineItemKind names a line of a close (SPEC 3.8).
type LineItemKind string

// Line item kinds.
const (
	LineSubscriptionFee     LineItemKind = "subscription_fee"
	LineIncludedUsage       LineItemKind = "included_usage"
	LineRolloverUsage       LineItemKind = "rollover_usage"
	LinePrepaidUsage        LineItemKind = "prepaid_usage"
	LineCreditPurchase      LineItemKind = "credit_purchase"
	LineOverage             LineItemKind = "overage"
	LineOverageUncollected  LineItemKind = "overage_uncollected"
	LineLateUsageAdjustment LineItemKind = "late_usage_adjustment"
)

// LineItem is one line of a close, in the column order of SPEC 5
// (line_items.csv and .parquet). Quantity is credits (or 1 for the fee).
type LineItem struct {
	Tenant            string
	PeriodStart       time.Time // UTC
	PeriodEnd         time.Time // UTC
	Kind              LineItemKind
	Description       string
	Quantity          Micros
	UnitPrice         Decimal // exact; never rounded
	Amount            Decimal // rounded half-up to the currency's decimals
	Currency          string
	ChargedAtPurchase bool
}

// AlertType names an alert (SPEC 5, alerts.jsonl).
type AlertType string

// Alert types.
const (
	AlertThreshold  AlertType = "threshold"
	AlertRunaway    AlertType = "runaway"
	AlertCapReached AlertType = "cap_reached"
	AlertTopup      AlertType = "topup"
)

// Entitlement is a tenant's access state (SPEC 3.6).
type Entitlement string

// Entitlement states.
const (
	EntitlementActive  Entitlement = "active"
	EntitlementOverage Entitlement = "overage" // bill mode, past the allotment
	EntitlementCapped  Entitlement = "capped"  // bill mode, cap reached
	EntitlementBlocked Entitlement = "blocked" // block mode, past the allotment
)

// Alert is one alert. ID is deterministic (the same crossing always gets the
// same id), so that every sink can drop repeats. Fields that do not apply to
// Type are zero and left out of the JSON form.
type Alert struct {
	ID          string
	Type        AlertType
	Tenant      string
	PeriodStart time.Time // UTC
	Time        time.Time // event time of the record that triggered it, UTC

	// threshold and cap_reached
	Threshold           Decimal // percent of the allotment, e.g. 80
	Consumed            Micros
	Available           Micros
	ProjectedExhaustion time.Time // zero when usage does not run out at the current burn rate
	Entitlement         Entitlement

	// topup
	GrantID string
	Credits Micros
	Price   Decimal

	// runaway
	RatePerMinute     Micros // credits per minute now
	BaselinePerMinute Micros // the tenant's normal credits per minute
	Drivers           []Driver
}

// Driver is a (meter, model) pair and its share of a runaway's usage.
type Driver struct {
	Meter, Model string
	Credits      Micros
}
