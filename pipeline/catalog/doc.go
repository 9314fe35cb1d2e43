// Package catalog loads, validates and indexes the pricing catalog of SPEC
// 2.3: meters, rates, plans with their bundles, and tenants. Nothing about
// pricing is hard-coded elsewhere; every other package asks the Catalog.
//
// # Loading and problems
//
// Load and Parse accept YAML, and therefore JSON, which is YAML. The
// document is decoded into a yaml.Node tree rather than into structs, so
// that every finding carries the file, a path such as
// "plans[1].overage.cap_amount" and a line. Validation never stops at the
// first finding: an invalid catalog yields a Problems error listing every
// problem, one per line, sorted by line then path:
//
//	catalog.yaml:12: plans[0].overage.price_per_credit: must be a decimal ≥ 0, got "-1"
//
// Fatal problems are: YAML syntax errors and more than one document;
// duplicate keys; a value of the wrong shape (a sequence where a mapping is
// expected, …); a missing required field; a malformed or out-of-range
// value; a reference to an undeclared meter, plan or bundle; and duplicate
// names or ids. Non-fatal findings go to Catalog.Warnings and never stop a
// load: unknown keys (real catalogs carry extra fields such as a plan's
// "name"; they are ignored), a meter without any rate, a plan change to the
// plan already in force, and tenant cap overrides that no plan of the
// tenant can use. A key whose value is null is treated as absent. YAML
// anchors, aliases and merge keys ("<<") work as in YAML.
//
// # Numbers and times
//
// Credits (included_credits, rollover max_credits, cap_credits, bundle
// credits, below_credits) are schemas.Micros: at most six fractional
// digits. Rates, prices and percentages are schemas.Decimal. A decimal may
// be written as a YAML string ("0.002") or a number (0.002); either way the
// literal text is parsed, so 0.1 stays exactly 0.1. Exponents (1e-3), NaN,
// infinities, hex, underscores and a leading dot (.5) are refused. A plan's
// fee and a bundle's price are money and may have at most currency_decimals
// fractional digits (trailing zeros aside); they are stored with exactly
// that scale. Unit prices (price_per_credit) and cap_amount may be finer.
// Timestamps are RFC 3339 (date-only or space-separated YAML timestamps are
// refused) and are stored in UTC.
//
// # Defaults
//
//	currency_decimals        2 (0–6)
//	rate model               "*" (AnyModel)
//	plan fee                 0
//	plan included_credits    0
//	plan thresholds          [50, 80, 100]; [] means no threshold alerts
//	plan rollover            none (absent = unused included credits expire)
//	plan overage             mode block (absent = nothing billed past the allotment)
//	tenant anchor_day        1
//	tenant timezone          UTC ("Local" is refused: it depends on the machine)
//	tenant thresholds, caps  the plan's
//	auto_topup max_per_period 1
//
// Thresholds are sorted ascending; duplicates are a problem. When overage
// is present its mode is required: bill needs price_per_credit and allows
// at most one of cap_credits and cap_amount (cap_amount only with a price
// > 0, because SPEC 3.5 turns it into credits by division); block allows
// neither a price nor a cap. A rollover needs max_percent (0–100),
// max_credits, or both.
//
// Tenant overrides of thresholds, cap_credits and cap_amount may be written
// on the tenant or under an "overrides" mapping, not both. A cap override
// replaces the plan's cap of either kind (see Catalog.OverageFor) and has
// no effect on block-mode plans. An auto_topup bundle must be offered by
// the tenant's plan and by every plan it changes to. A plan change must be
// effective at a period start of the tenant's calendar after its start;
// Catalog.PlanAt returns the plan in force for a period.
//
// # Rate lookup
//
// Rates are indexed as meter → model → effective_from-sorted series. The
// lookup for an event (meter, model, time) is:
//
//	rates of (meter, model) with effective_from ≤ time ──latest──▶ found
//	        │ none (no such model, or not yet in force)
//	        ▼
//	rates of (meter, "*")  with effective_from ≤ time ──latest──▶ found
//	        │ none
//	        ▼
//	not found (the event is dead-lettered as no_rate)
//
// A rate applies from exactly its effective_from instant. An event with no
// model uses "*" directly. Catalog.Rate is a map lookup plus a binary
// search over Unix nanoseconds and does not allocate. Catalog.Pricing does
// the map lookups of a (meter, model) once; its At and AtUnixNano then
// cost only the binary search, and SpanUnixNano also returns the interval
// of event times over which its answer holds, for callers that keep it.
//
// A Catalog is immutable and safe for concurrent use. The package imports
// time/tzdata so that time zones load on machines without zoneinfo.
package catalog
