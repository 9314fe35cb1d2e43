package alert

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// StateVersion is the version of State and DetectorState that this package
// writes and reads.
const StateVersion = 1

// State is everything an Engine remembers, as plain JSON-serialisable data:
// store it with the input offsets it reflects (at every exactly-once flush)
// and Restore it on start, so that no threshold, cap_reached or top-up fires
// twice across restarts and replays.
type State struct {
	Version int `json:"version"`
	// BurnBucket is the burn-rate bucket width (BurnWindow/60) the state was
	// taken with; burn history of another width is dropped on Restore.
	BurnBucket time.Duration `json:"burn_bucket"`
	Tenants    []TenantState `json:"tenants"` // sorted by tenant
}

// TenantState is one tenant's part of State.
type TenantState struct {
	Tenant string `json:"tenant"`
	// Entitlement is the state last published; "" when none was.
	Entitlement schemas.Entitlement `json:"entitlement,omitempty"`
	Last        time.Time           `json:"last,omitzero"` // latest event time seen
	Periods     []PeriodState       `json:"periods"`       // newest first, at most 2
	Burn        BurnState           `json:"burn"`
}

// PeriodState is what a tenant-period remembers.
type PeriodState struct {
	Start      time.Time        `json:"start"`
	End        time.Time        `json:"end"`
	Thresholds []ThresholdState `json:"thresholds,omitempty"` // those that fired, in firing order
	Capped     int              `json:"capped,omitempty"`     // times it became capped
	Blocked    int              `json:"blocked,omitempty"`    // times it became blocked
	Topups     int              `json:"topups,omitempty"`     // top-ups made
}

// ThresholdState is a threshold that fired in a period.
type ThresholdState struct {
	Threshold string `json:"threshold"` // percent, a plain decimal
	Spent     bool   `json:"spent"`     // fired and not re-armed since
	Fired     int    `json:"fired"`     // times fired; the next alert's id ends in Fired+1
}

// BurnState is a tenant's burn-rate window.
type BurnState struct {
	First   time.Time `json:"first,omitzero"` // earliest event time seen; zero when none
	Last    time.Time `json:"last,omitzero"`  // latest
	Head    int64     `json:"head"`           // index of the newest bucket: Unix time ÷ bucket width
	Buckets []int64   `json:"buckets"`        // credits (micros) of buckets Head−59 … Head
}

// Snapshot returns the engine's state. It shares nothing with the engine.
func (e *Engine) Snapshot() State { return e.snapshot(nil) }

// SnapshotTenants returns the state of the named tenants only (those the
// engine knows), at a cost that does not grow with the other tenants.
func (e *Engine) SnapshotTenants(names []string) State { return e.snapshot(names) }

func (e *Engine) snapshot(names []string) State {
	s := State{Version: StateVersion, BurnBucket: e.width, Tenants: make([]TenantState, 0, len(e.tenants))}
	for _, t := range pick(e.tenants, names) {
		ts := TenantState{Tenant: t.name, Entitlement: t.ent.public()}
		if t.last != 0 {
			ts.Last = time.Unix(0, t.last).UTC()
		}
		for _, ps := range []*periodState{&t.cur, &t.prev} {
			if ps.start.IsZero() {
				continue
			}
			p := PeriodState{Start: ps.start.UTC(), End: ps.end.UTC(), Capped: ps.capped, Blocked: ps.blocked, Topups: ps.topups}
			for _, f := range ps.fired {
				p.Thresholds = append(p.Thresholds, ThresholdState{Threshold: f.t.String(), Spent: f.spent, Fired: f.n})
			}
			ts.Periods = append(ts.Periods, p)
		}
		if t.burn.started {
			b := &t.burn
			ts.Burn = BurnState{First: time.Unix(0, b.first).UTC(), Last: time.Unix(0, b.last).UTC(), Head: b.head, Buckets: make([]int64, burnBuckets)}
			for i := range burnBuckets {
				ts.Burn.Buckets[i] = b.buckets[bucketSlot(b.head-burnBuckets+1+int64(i))]
			}
		}
		s.Tenants = append(s.Tenants, ts)
	}
	slices.SortFunc(s.Tenants, func(a, b TenantState) int { return cmp.Compare(a.Tenant, b.Tenant) })
	return s
}

// Restore returns an Engine configured by cfg that continues from state s,
// or every problem with cfg and s.
func Restore(cfg Config, s State) (*Engine, error) {
	e, err := New(cfg)
	if err != nil {
		return nil, err
	}
	var errs []error
	if s.Version != StateVersion {
		return nil, fmt.Errorf("restore alert state: version %d: want %d", s.Version, StateVersion)
	}
	for i, ts := range s.Tenants {
		if ts.Tenant == "" {
			errs = append(errs, fmt.Errorf("tenant %d: empty name", i))
			continue
		}
		if _, dup := e.tenants[ts.Tenant]; dup {
			errs = append(errs, fmt.Errorf("tenant %q: given twice", ts.Tenant))
			continue
		}
		if len(ts.Periods) > 2 {
			errs = append(errs, fmt.Errorf("tenant %q: %d periods: at most 2", ts.Tenant, len(ts.Periods)))
			continue
		}
		ent, ok := parseEnt(ts.Entitlement)
		if !ok {
			errs = append(errs, fmt.Errorf("tenant %q: entitlement %q: unknown", ts.Tenant, ts.Entitlement))
		}
		t := &tenant{name: ts.Tenant, ent: ent}
		if !ts.Last.IsZero() {
			t.last = ts.Last.UnixNano()
		}
		for j, p := range ts.Periods {
			ps := periodState{start: p.Start, end: p.End, capped: p.Capped, blocked: p.Blocked, topups: p.Topups}
			for _, th := range p.Thresholds {
				d, err := schemas.ParseDecimal(th.Threshold)
				if err != nil {
					errs = append(errs, fmt.Errorf("tenant %q: period %s: threshold %q: %w", ts.Tenant, period.Period{Start: p.Start, End: p.End}, th.Threshold, err))
					continue
				}
				ps.fired = append(ps.fired, thresholdState{t: d.Normalize(0), spent: th.Spent, n: th.Fired})
			}
			if j == 0 {
				t.cur = ps
			} else {
				t.prev = ps
			}
		}
		if len(ts.Periods) == 2 && !ts.Periods[0].Start.After(ts.Periods[1].Start) {
			errs = append(errs, fmt.Errorf("tenant %q: periods must be newest first", ts.Tenant))
		}
		if b := ts.Burn; len(b.Buckets) > 0 && s.BurnBucket == e.width {
			if len(b.Buckets) != burnBuckets {
				errs = append(errs, fmt.Errorf("tenant %q: burn buckets: %d, want %d", ts.Tenant, len(b.Buckets), burnBuckets))
			} else {
				t.burn = burn{started: true, first: b.First.UnixNano(), last: b.Last.UnixNano(), head: b.Head, headStart: b.Head * int64(e.width), headSlot: bucketSlot(b.Head)}
				for i, c := range b.Buckets {
					t.burn.buckets[bucketSlot(b.Head-burnBuckets+1+int64(i))] = c
					t.burn.sum = satAdd(t.burn.sum, c)
				}
			}
		}
		e.tenants[ts.Tenant] = t
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("restore alert state: %w", err)
	}
	return e, nil
}

// DetectorState is everything a Detector remembers, as plain
// JSON-serialisable data; see State for when to take and restore it.
type DetectorState struct {
	Version int            `json:"version"`
	Tenants []RunawayState `json:"tenants"` // sorted by tenant
}

// RunawayState is one tenant's detector state.
type RunawayState struct {
	Tenant string `json:"tenant"`
	// Minute is the start of the open minute; Credits and Drivers are its
	// usage so far.
	Minute  time.Time      `json:"minute"`
	Credits schemas.Micros `json:"credits"`
	Events  int32          `json:"events,omitempty"`
	Drivers []DriverState  `json:"drivers,omitempty"`
	// Recent are the last closed minutes, oldest first, for the explanation.
	Recent []MinuteState `json:"recent,omitempty"`
	// Learned is the baseline: log(credits/min + ε) of the learned minutes,
	// oldest first.
	Learned        []float32 `json:"learned,omitempty"`
	Run            int       `json:"run,omitempty"`     // consecutive flagged minutes
	Episode        bool      `json:"episode,omitempty"` // an alert fired and its episode goes on
	EpisodeMinutes int       `json:"episode_minutes,omitempty"`
	Quiet          int       `json:"quiet,omitempty"` // ordinary minutes in a row within the episode
	Mean           float64   `json:"mean"`            // long-run mean credits per minute
	MeanMinutes    int64     `json:"mean_minutes"`    // learned minutes behind Mean
}

// DriverState is a (meter, model) pair's credits in a minute.
type DriverState struct {
	Meter   string         `json:"meter"`
	Model   string         `json:"model,omitempty"`
	Credits schemas.Micros `json:"credits"`
}

// MinuteState is a recently closed minute.
type MinuteState struct {
	Minute  time.Time      `json:"minute"`
	Credits schemas.Micros `json:"credits"`
	Top     []DriverState  `json:"top,omitempty"`
}

// Snapshot returns the detector's state. It shares nothing with the detector.
func (d *Detector) Snapshot() DetectorState { return d.snapshot(nil) }

// SnapshotTenants returns the state of the named tenants only.
func (d *Detector) SnapshotTenants(names []string) DetectorState { return d.snapshot(names) }

func (d *Detector) snapshot(names []string) DetectorState {
	s := DetectorState{Version: StateVersion, Tenants: make([]RunawayState, 0, len(d.tenants))}
	for _, r := range pick(d.tenants, names) {
		if !r.started {
			continue
		}
		rs := RunawayState{
			Tenant: r.tenant, Minute: minuteTime(r.minute), Credits: schemas.Micros(r.credits), Events: r.events,
			Run: r.run, Episode: r.episode, EpisodeMinutes: r.epLen, Quiet: r.quiet, Mean: r.mean, MeanMinutes: r.meanN,
		}
		for _, dr := range r.drivers[:r.nDriver] {
			rs.Drivers = append(rs.Drivers, DriverState{Meter: dr.meter, Model: dr.model, Credits: schemas.Micros(dr.credits)})
		}
		for i := range r.recent {
			cm := r.recent[(r.recentNext+i)%len(r.recent)]
			if cm == (closedMinute{}) {
				continue
			}
			ms := MinuteState{Minute: minuteTime(cm.minute), Credits: schemas.Micros(cm.credits)}
			for _, dr := range cm.top {
				if dr != (driver{}) {
					ms.Top = append(ms.Top, DriverState{Meter: dr.meter, Model: dr.model, Credits: schemas.Micros(dr.credits)})
				}
			}
			rs.Recent = append(rs.Recent, ms)
		}
		start := 0
		if int(r.learnedLen) == len(r.learned) {
			start = int(r.learnedNext)
		}
		for i := range int(r.learnedLen) {
			rs.Learned = append(rs.Learned, r.learned[(start+i)%len(r.learned)])
		}
		s.Tenants = append(s.Tenants, rs)
	}
	slices.SortFunc(s.Tenants, func(a, b RunawayState) int { return cmp.Compare(a.Tenant, b.Tenant) })
	return s
}

func minuteTime(m int64) time.Time { return time.Unix(m*60, 0).UTC() }

// RestoreDetector returns a Detector configured by cfg that continues from
// state s, or every problem with cfg and s. A baseline longer than cfg's is
// cut to its newest minutes.
func RestoreDetector(cfg RunawayConfig, s DetectorState) (*Detector, error) {
	d, err := NewDetector(cfg)
	if err != nil {
		return nil, err
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("restore runaway state: version %d: want %d", s.Version, StateVersion)
	}
	var errs []error
	for i, rs := range s.Tenants {
		if rs.Tenant == "" {
			errs = append(errs, fmt.Errorf("tenant %d: empty name", i))
			continue
		}
		if _, dup := d.tenants[rs.Tenant]; dup {
			errs = append(errs, fmt.Errorf("tenant %q: given twice", rs.Tenant))
			continue
		}
		if len(rs.Drivers) > driverSlots {
			errs = append(errs, fmt.Errorf("tenant %q: %d drivers: at most %d", rs.Tenant, len(rs.Drivers), driverSlots))
			continue
		}
		r := newRunaway(rs.Tenant, &d.p)
		r.started = true
		r.minute = unixMinute(rs.Minute)
		r.credits = int64(rs.Credits)
		r.events = rs.Events
		for _, dr := range rs.Drivers {
			r.drivers[r.nDriver] = driver{meter: dr.Meter, model: dr.Model, credits: int64(dr.Credits)}
			r.keys[r.nDriver] = pairKey(dr.Meter, dr.Model)
			r.nDriver++
		}
		for _, ms := range rs.Recent[max(0, len(rs.Recent)-len(r.recent)):] {
			cm := closedMinute{minute: unixMinute(ms.Minute), credits: int64(ms.Credits)}
			for j, dr := range ms.Top[:min(len(ms.Top), topDrivers)] {
				cm.top[j] = driver{meter: dr.Meter, model: dr.Model, credits: int64(dr.Credits)}
			}
			r.recent[r.recentNext] = cm
			r.recentNext = (r.recentNext + 1) % len(r.recent)
		}
		for _, x := range rs.Learned[max(0, len(rs.Learned)-len(r.learned)):] {
			r.learned[r.learnedNext] = x
			r.learnedNext = (r.learnedNext + 1) % int32(len(r.learned))
			r.learnedLen = min(r.learnedLen+1, int32(len(r.learned)))
		}
		r.run, r.episode, r.epLen, r.quiet, r.mean, r.meanN = rs.Run, rs.Episode, rs.EpisodeMinutes, rs.Quiet, rs.Mean, rs.MeanMinutes
		d.tenants[rs.Tenant] = r
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("restore runaway state: %w", err)
	}
	return d, nil
}

// pick returns the values of m, or only those of the given keys when keys
// is not nil.
func pick[V any](m map[string]V, keys []string) []V {
	out := make([]V, 0, len(m))
	if keys == nil {
		for _, v := range m {
			out = append(out, v)
		}
		return out
	}
	out = out[:0:min(len(keys), len(m))]
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out = append(out, v)
		}
	}
	return out
}
