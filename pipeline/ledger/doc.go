// Package ledger keeps one tenant's credit account: periods, balances,
// drawdown, rollover, overage, revenue, line items and upgrade
// recommendations (SPEC 3.5 and 3.8). It is pure: no I/O, no logging, no
// clock. The caller adds counted usage and grants, reads the live balance,
// and decides when a period may be closed.
//
// # The chain
//
// A tenant's periods come from its calendar (pipeline/period): the first
// starts at the tenant's start, the others on the anchor day at local
// midnight. Every period is evaluated from the state the previous one left,
// from the first period on, with every input known now:
//
//	start of P: R (rollover in), grant balances
//	      │
//	      ▼   I = included credits of the plan in force at P's start
//	      │   G = what is left of the grants usable in P (dated before P's end, not expired)
//	      │   C = credits of the usage with event time in P
//	drawdown of C: R ─▶ I ─▶ grants by (expiry, time, id) ─▶ overage O = max(0, C − A), A = R + I + G
//	      │
//	      ▼   rollover_out = min(unused included, max_percent % × I rounded down, max_credits)
//	start of P+1: R = rollover_out, grant balances after P
//
// Netting is per period: a grant dated late in P covers usage earlier in P.
// Unused included credits are max(0, I − max(0, C − R)); only included
// credits roll over, and only once: rollover that P does not use expires at
// P's end with the unused included credits that do not roll over, and with
// what is left of the grants whose last usable period is P. That sum is
// expired_credits. A grant with expires_after_periods = k ≥ 1 is usable in
// the period its time falls in and the k − 1 after it; k = 0 never
// expires. A grant dated before the tenant's start is usable from the first
// period on and its expiry counts from there. For every period
//
//	R + I + G = (C − O) + rollover_out + expired_credits + carried
//
// where carried is the grant credits left at P's end that stay usable
// later (the tests check this identity for random tenants).
//
// Overage: in bill mode the billable part is B = min(O, cap), where the cap
// is cap_credits, or cap_amount ÷ price_per_credit rounded down to 6
// decimals, or the smaller of the two when both are set (the catalog allows
// one); a cap_amount with a price of 0 cannot be converted and does not
// limit. U = O − B is uncollected. In block mode B = 0 and U = O. The
// overage amount is B × price_per_credit rounded half-up to the currency's
// decimals once. The first period is not prorated when it starts mid-month:
// it carries the full fee and included credits.
//
// The account caches the state at the start of every period it evaluated
// and recomputes only from the earliest period whose inputs changed, so
// Live costs O(1) amortised (plus O(log g) for g grants dated in the
// period) and a close evaluates one period when no late input arrived.
// The hot path of a caller that counts every event (the billing book) is
// AddUsageAt, which returns the period's number, then BalanceOf with it:
// no period search, no catalog lookup, no allocation. Accounts of one
// catalog may share their compiled plans (NewPlans, SharePlans).
// Results do not depend on the order of AddUsage and AddGrant calls; for a
// repeated grant id the first copy wins, as in dedup.
//
// # Closes and late inputs
//
// Close(P) writes P's figures and lines and keeps, for every closed period,
// its figures as last evaluated (consumed credits, overage amount, its own
// recognized revenue as an exact fraction). A written close never changes.
// When usage (or a grant) arrives for a closed period X, the next close
// re-evaluates the chain from X on and, for every closed period whose
// consumed credits or overage amount changed, adds a late_usage_adjustment
// line to its own close: quantity = the period's late credits (C now − C
// last closed), unit price 0, amount = the change of its (rounded) overage
// amount, which is negative when a late grant lowered the overage, and
// description "Late usage for period 2026-01-01/2026-02-01" (local dates
// in the tenant's time zone). The stored figures are then updated; the
// re-evaluated rollover of the last closed period simply becomes P's
// rollover_in.
//
// Lines of P's close, with the period columns of P, sorted by (tenant,
// period start, period end, kind, description), a line whose quantity and
// amount are both zero left out: subscription_fee (quantity 1, unit price
// and amount the fee, so never left out), included_usage, rollover_usage
// and prepaid_usage (credits drawn; unit price and amount 0),
// credit_purchase, overage (B at price_per_credit), overage_uncollected
// (U, unit price and amount 0), late_usage_adjustment. Zero money is
// written at the currency's scale.
//
// Only bundle and topup grants are purchases. Each gets one
// credit_purchase line, charged_at_purchase, in the close of the period its
// time falls in, or in the next close when it arrives after that period
// closed (its description then says "dated …"): quantity its credits,
// amount its price rounded half-up to the currency's decimals (the billed
// price, used for revenue as well), unit price billed price ÷ credits,
// exact when that decimal terminates within 18 fractional digits (written
// with the fewest digits, but no fewer than the price's), else rounded
// half-up to 10 decimals (UnitPriceDecimals).
//
// # Revenue (ASC 606)
//
// Credits carry the value they were paid at: an included credit fee ÷ I of
// its period (rollover keeps the value of the period it came from), a
// purchased grant's credit its billed price ÷ credits. Promo and adjustment
// grants are worth 0 whatever their price field says, because nothing bills
// it. Value is recognized when credits are consumed or expire and deferred
// while they remain; with I = 0 the whole fee is recognized in the period.
//
//	own(P)               = value consumed or expired in P + overage amount of P (+ the fee when I = 0)
//	recognized_revenue   = own(P) + Σ over re-evaluated closed X of (own(X) now − own(X) last closed)
//	deferred_revenue_end = value of rollover_out + value of the grant credits left (dated before P's end)
//
// Figures are exact fractions until each reported one is rounded half-up
// once. Over a tenant's life Σ recognized + the last deferred equals Σ fees
// + Σ credit purchases + Σ overage amounts + Σ adjustment amounts, within
// half a minor unit per reported figure (checked by the property tests).
//
// # Recommendations
//
// When the tenant had overage in at least two of its last three closed
// periods (P included), the close prices those periods under every other
// plan of the catalog, with the tenant's cap overrides applied as they
// would be on it: fee + overage amount for the same consumed credits against
// the same rollover_in and grant credits as actually evaluated, with the
// other plan's included credits, cap and price. Simplifications: rollover is
// not re-simulated under the other plan, credit purchases are left out (the
// same either way), and a block-mode plan that would have had overage in one
// of the periods is no candidate (a capped bill-mode plan is). The cheapest
// candidate (ties: lowest plan id) is recommended when it costs less than
// what the tenant paid (fees + overage amounts as now evaluated).
//
// # State
//
// Snapshot returns the account's persistent state as a plain, JSON-ready
// value (usage per period, grants with their billed flag, closed periods'
// figures, the earliest closed period with late inputs); Restore rebuilds
// an equivalent account from it and the catalog. Everything else is a cache.
package ledger
