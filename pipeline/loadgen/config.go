package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// Config describes one generated stream of usage records. The zero value
// (plus Events) is a sensible stream: 10 000 Zipf-sized tenants, four meters,
// three models, 2 000 events per second of event time from
// 2026-01-01T00:00:00Z, every record well-formed, unique and on time.
//
// Fractions are of all records written; Duplicates + Conflicts + OutOfOrder
// + Late + Malformed must not exceed 1. See doc.go for what each kind of
// record looks like.
type Config struct {
	// Seed selects the stream: the same Config writes byte-identical output.
	// Zero means 1.
	Seed uint64
	// Events is the number of records to write, ≥ 0.
	Events int64
	// Tenants is the number of tenants events are spread over. Zero means
	// len(TenantIDs) when TenantIDs is given, else 10 000.
	Tenants int
	// TenantIDs are tenant ids to use, in order ([A-Za-z0-9._:-], 1–128
	// bytes, unique). When fewer than Tenants are given the rest are
	// synthesised as t-000001, t-000002, … (skipping ids already given);
	// when more are given only the first Tenants are used.
	TenantIDs []string
	// Meters are the meter names events use. Zero means tokens_in,
	// tokens_out, api_calls, compute_seconds. Quantities follow the name:
	// tokens* are token counts, api_calls mostly 1, compute_seconds seconds
	// with 3 decimals; any other meter gets amounts around 10 with up to 2
	// decimals.
	Meters []string
	// Models are the model names events use. Zero means gpt-large,
	// gpt-small, embed-1. A "*" entry (a catalog wildcard, not a model) is
	// ignored. Unless MeterModels says otherwise, tokens* meters always
	// carry a model and other meters carry none on half of their events.
	Models []string
	// MeterModels optionally fixes, per meter, the models it is emitted with
	// ("" or "*" meaning no model), e.g. built from a catalog's rates so that
	// no event lacks a rate. Meters missing from it use the rule of Models.
	MeterModels map[string][]string
	// Start is the event time of the first record; no event is earlier.
	// Zero means 2026-01-01T00:00:00Z.
	Start time.Time
	// Rate is the number of records per second of event time, so the stream
	// spans about Events/Rate seconds. Zero means 2000.
	Rate float64
	// Skew is the Zipf exponent of tenant sizes (> 0): tenant of rank k gets
	// a share proportional to 1/k^Skew. Zero means 1.1 (a few whales and a
	// long tail); a tiny value such as 1e-9 is almost uniform.
	Skew float64
	// Duplicates is the fraction of exact re-sends of a recent event (same
	// tenant, id and bytes), e.g. 0.02.
	Duplicates float64
	// Conflicts is the fraction of re-sends of a recent event's (tenant, id)
	// with a different quantity.
	Conflicts float64
	// OutOfOrder is the fraction of fresh events whose event time lies up to
	// OutOfOrderMax behind the stream's current time (within the pipeline's
	// allowed out-of-orderness). Zero means none.
	OutOfOrder float64
	// OutOfOrderMax bounds the delay of out-of-order events. Zero means 8s;
	// it must stay below the pipeline's allowed out-of-orderness (10s by
	// default) for those events to be on time.
	OutOfOrderMax time.Duration
	// Late is the fraction of fresh events delayed beyond the allowed
	// out-of-orderness: by LateMin (71s: 10s of out-of-orderness plus a 1m
	// window plus 1s) to LateMax, so that their 1-minute window has already
	// been emitted and they produce corrections.
	Late float64
	// LateMax bounds the delay of late events, > LateMin. Zero means 10m.
	LateMax time.Duration
	// Malformed is the fraction of records that a pipeline must dead-letter,
	// spread evenly over the reasons in MalformedReasons.
	Malformed float64
	// CloudEvents is the fraction of well-formed events written in
	// CloudEvents 1.0 structured form rather than the native form.
	CloudEvents float64
	// Properties is the fraction of fresh events that carry a small
	// properties object (region, feature, request id, …). Zero means
	// DefaultProperties; a negative value means none.
	Properties float64
	// UUIDs makes event ids random-looking UUIDs (36 bytes, derived from the
	// seed and the event's sequence number, so still reproducible) instead
	// of the short e-<tag>-<sequence in base 36>. Real producers mostly send
	// UUIDs; with them and Properties 1 records average about 200 bytes.
	UUIDs bool
	// Runaway lists tenant ids (each one of the generator's tenants) that
	// send 10× their usual number of events from the middle record on. The
	// overall rate rises accordingly so that other tenants keep theirs.
	Runaway []string
}

// DefaultProperties is the fraction of events with properties when
// Config.Properties is zero.
const DefaultProperties = 0.3

// LateMin is the smallest delay of a late event: the default allowed
// out-of-orderness (10s, SPEC 3.3) plus one default window (1m) plus 1s.
const LateMin = 71 * time.Second

// Default values of Config fields left zero.
var (
	DefaultStart  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	DefaultMeters = []string{"tokens_in", "tokens_out", "api_calls", "compute_seconds"}
	DefaultModels = []string{"gpt-large", "gpt-small", "embed-1"}
)

const (
	defaultTenants       = 10000
	defaultRate          = 2000
	defaultSkew          = 1.1
	defaultOutOfOrderMax = 8 * time.Second
	defaultLateMax       = 10 * time.Minute
	maxTenants           = 1 << 24
)

// resolved is a Config with defaults applied and its names worked out.
type resolved struct {
	Config
	tenantIDs []string
	models    []string   // non-empty model names, unique, in order
	meterMods [][]string // per meter: models it is emitted with ("" = none)
}

// resolve applies the defaults and derives tenants, meters and models. It
// reports every problem found but always returns a usable result, so that
// CatalogYAML can work from whatever cfg says.
func resolve(cfg Config) (resolved, error) {
	var errs []error
	r := resolved{Config: cfg}
	c := &r.Config
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Events < 0 {
		errs = append(errs, fmt.Errorf("events %d: must be ≥ 0", c.Events))
	}
	if c.Tenants < 0 || c.Tenants > maxTenants {
		errs = append(errs, fmt.Errorf("tenants %d: must be in [0, %d]", c.Tenants, maxTenants))
		c.Tenants = 0
	}
	if c.Tenants == 0 {
		c.Tenants = len(c.TenantIDs)
		if c.Tenants == 0 {
			c.Tenants = defaultTenants
		}
		c.Tenants = min(c.Tenants, maxTenants)
	}
	if len(c.Meters) == 0 {
		c.Meters = DefaultMeters
	}
	if c.Models == nil {
		c.Models = DefaultModels
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC().Truncate(time.Millisecond)
	if c.Rate == 0 {
		c.Rate = defaultRate
	}
	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) || c.Rate > 1e9 {
		errs = append(errs, fmt.Errorf("rate %v: must be in (0, 1e9] events per second", c.Rate))
		c.Rate = defaultRate
	}
	if c.Skew == 0 {
		c.Skew = defaultSkew
	}
	if !(c.Skew > 0) || c.Skew > 10 {
		errs = append(errs, fmt.Errorf("skew %v: must be in (0, 10]", c.Skew))
		c.Skew = defaultSkew
	}
	if c.OutOfOrderMax == 0 {
		c.OutOfOrderMax = defaultOutOfOrderMax
	}
	if c.OutOfOrderMax < time.Millisecond {
		errs = append(errs, fmt.Errorf("out-of-order max %v: must be ≥ 1ms", c.OutOfOrderMax))
	}
	if c.LateMax == 0 {
		c.LateMax = defaultLateMax
	}
	if c.LateMax <= LateMin {
		errs = append(errs, fmt.Errorf("late max %v: must exceed %v", c.LateMax, LateMin))
	}
	sum := 0.0
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"duplicates", c.Duplicates}, {"conflicts", c.Conflicts}, {"out-of-order", c.OutOfOrder},
		{"late", c.Late}, {"malformed", c.Malformed}, {"cloudevents", c.CloudEvents},
		{"properties", max(c.Properties, 0)},
	} {
		if !(f.v >= 0 && f.v <= 1) {
			errs = append(errs, fmt.Errorf("%s fraction %v: must be in [0, 1]", f.name, f.v))
			continue
		}
		if f.name != "cloudevents" && f.name != "properties" {
			sum += f.v
		}
	}
	if sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("duplicates + conflicts + out-of-order + late + malformed = %v: must be ≤ 1", sum))
	}

	// Tenants.
	seen := make(map[string]bool, c.Tenants)
	for i, id := range c.TenantIDs {
		if len(r.tenantIDs) == c.Tenants {
			break
		}
		if !validKey(id) {
			errs = append(errs, fmt.Errorf("tenant id %d %q: must be 1–128 bytes of [A-Za-z0-9._:-]", i, id))
			continue
		}
		if seen[id] {
			errs = append(errs, fmt.Errorf("tenant id %q: given twice", id))
			continue
		}
		seen[id] = true
		r.tenantIDs = append(r.tenantIDs, id)
	}
	for n := 1; len(r.tenantIDs) < c.Tenants; n++ {
		id := synthID(n)
		if !seen[id] {
			seen[id] = true
			r.tenantIDs = append(r.tenantIDs, id)
		}
	}
	for _, id := range c.Runaway {
		if !seen[id] {
			errs = append(errs, fmt.Errorf("runaway tenant %q: not one of the generator's tenants", id))
		}
	}

	// Meters and models.
	meterSeen := make(map[string]bool, len(c.Meters))
	var meters []string
	for _, m := range c.Meters {
		switch {
		case m == "":
			errs = append(errs, errors.New("meter name: must not be empty"))
		case meterSeen[m]:
			errs = append(errs, fmt.Errorf("meter %q: given twice", m))
		default:
			meterSeen[m] = true
			meters = append(meters, m)
		}
	}
	if len(meters) == 0 {
		meters = DefaultMeters
	}
	c.Meters = meters
	for _, m := range slices.Sorted(maps.Keys(c.MeterModels)) {
		if !meterSeen[m] {
			errs = append(errs, fmt.Errorf("meter models: meter %q is not in Meters", m))
		}
	}
	addModel := func(m string) {
		if m != "" && m != "*" && !slices.Contains(r.models, m) {
			r.models = append(r.models, m)
		}
	}
	for _, m := range c.Models {
		addModel(m)
	}
	for _, meter := range c.Meters {
		var mods []string
		if list, ok := c.MeterModels[meter]; ok && len(list) > 0 {
			for _, m := range list {
				if m == "*" {
					m = ""
				}
				if !slices.Contains(mods, m) {
					mods = append(mods, m)
				}
				addModel(m)
			}
		} else {
			isTokens := len(meter) >= 6 && meter[:6] == "tokens"
			if !isTokens || len(r.models) == 0 {
				// Half of the events carry no model.
				for range max(1, len(r.models)) {
					mods = append(mods, "")
				}
			}
			mods = append(mods, r.models...)
		}
		r.meterMods = append(r.meterMods, mods)
	}
	return r, errors.Join(errs...)
}

// synthID returns the n-th synthesised tenant id, t-000001 for n = 1.
func synthID(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 6 {
		s = "0" + s
	}
	return "t-" + s
}

// validKey reports whether s is a valid tenant id (SPEC 2.1).
func validKey(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// jsonString returns s as a JSON string literal.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}
