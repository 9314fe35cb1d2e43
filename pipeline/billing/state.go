package billing

import (
	"fmt"
	"slices"
	"strings"

	"github.com/creditflow/creditflow/pipeline/alert"
	"github.com/creditflow/creditflow/pipeline/ledger"
)

// TenantState is everything the book remembers of one tenant: its ledger,
// its alert state and its runaway baseline, as plain JSON-serialisable data.
// The streaming pipeline stores the states of the tenants a flush touched
// together with that flush, and restores them when it takes a partition
// over, so that balances and alerts continue exactly where the stored
// offsets left them.
type TenantState struct {
	Tenant  string              `json:"tenant"`
	Ledger  ledger.State        `json:"ledger"`
	Alerts  *alert.TenantState  `json:"alerts,omitempty"`
	Runaway *alert.RunawayState `json:"runaway,omitempty"`
}

// Snapshot returns the states of the given tenants (unknown ids are left
// out), sorted by tenant.
func (b *Book) Snapshot(tenants []string) []TenantState {
	want := make(map[string]bool, len(tenants))
	for _, id := range tenants {
		want[id] = true
	}
	states := make(map[string]*TenantState, len(tenants))
	for id := range want {
		if a := b.accounts[id]; a != nil {
			states[id] = &TenantState{Tenant: id, Ledger: a.ledger.Snapshot()}
		}
	}
	// The engine and detector snapshot all their tenants; keep the wanted.
	for _, ts := range b.engine.SnapshotTenants(tenants).Tenants {
		if s := states[ts.Tenant]; s != nil {
			s.Alerts = &ts
		}
	}
	if b.detector != nil {
		for _, rs := range b.detector.SnapshotTenants(tenants).Tenants {
			if s := states[rs.Tenant]; s != nil {
				s.Runaway = &rs
			}
		}
	}
	out := make([]TenantState, 0, len(states))
	for _, s := range states {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(x, y TenantState) int { return strings.Compare(x.Tenant, y.Tenant) })
	return out
}

// Restore replaces the state of the given tenants. It is meant for a fresh
// book: the alert engine and the runaway detector are rebuilt from the
// given states alone.
func (b *Book) Restore(states []TenantState) error {
	eng := b.engine.Snapshot()
	eng.Tenants = eng.Tenants[:0]
	det := alert.DetectorState{Version: alert.StateVersion}
	for _, s := range states {
		a := b.accounts[s.Tenant]
		if a == nil {
			return fmt.Errorf("restore tenant %q: not in the catalog", s.Tenant)
		}
		a.ledger = ledger.Restore(b.cat, a.tenant, s.Ledger)
		a.ledger.SharePlans(b.plans)
		a.cur = periodTerms{}
		if s.Alerts != nil {
			eng.Tenants = append(eng.Tenants, *s.Alerts)
		}
		if s.Runaway != nil {
			det.Tenants = append(det.Tenants, *s.Runaway)
		}
	}
	slices.SortFunc(eng.Tenants, func(x, y alert.TenantState) int { return strings.Compare(x.Tenant, y.Tenant) })
	slices.SortFunc(det.Tenants, func(x, y alert.RunawayState) int { return strings.Compare(x.Tenant, y.Tenant) })
	engine, err := alert.Restore(b.cfg.Alert, eng)
	if err != nil {
		return err
	}
	b.engine = engine
	for _, a := range b.order {
		a.h = alert.Handle{} // resolve afresh in the new engine and detector
	}
	if b.detector != nil {
		d, err := alert.RestoreDetector(b.cfg.Alert.Runaway, det)
		if err != nil {
			return err
		}
		b.detector = d
	}
	b.updateNextClose()
	return nil
}
