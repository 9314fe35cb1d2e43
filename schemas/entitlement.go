package schemas

import "time"

// EntitlementChange is a tenant's new access state, published on change to
// the compacted entitlements topic keyed by tenant (SPEC 3.6), so that the
// latest record per key is every tenant's current state.
type EntitlementChange struct {
	Tenant      string
	State       Entitlement
	PeriodStart time.Time // UTC: the billing period the state applies to
	PeriodEnd   time.Time // UTC
	Time        time.Time // event time of the record that changed it
}

// DeadLetter is a refused input record: its original bytes, the reason and
// where it came from (SPEC 3.2).
type DeadLetter struct {
	Reason    Reason
	Detail    string // human-readable: which field, why
	Record    []byte // the original bytes, verbatim
	Key       []byte // the original record key
	Topic     string
	Partition int32
	Offset    int64
}
