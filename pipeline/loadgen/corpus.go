package loadgen

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// Pattern is the shape of one corpus tenant's usage over time (SPEC 3.7).
type Pattern string

// Corpus patterns. A detector must flag PatternStep and stay quiet on
// PatternSteady, PatternCycle, PatternBlip and PatternNew; PatternRamp is a
// slow change that a detector may or may not flag.
const (
	PatternSteady Pattern = "steady" // constant baseline with noise
	PatternCycle  Pattern = "cycle"  // baseline × (1 ± 50 %) on a daily sine
	PatternBlip   Pattern = "blip"   // one minute at ×10..×20, then back
	PatternStep   Pattern = "step"   // sustained ×10 from Onset on
	PatternRamp   Pattern = "ramp"   // linear rise to ×3 over 12 h, then flat
	PatternNew    Pattern = "new"    // appears late with little history, steady
)

// Label says what one corpus tenant does.
type Label struct {
	Tenant  string  `json:"tenant"`
	Pattern Pattern `json:"pattern"`
	// Onset is the first minute at ×10 for PatternStep and the blip minute
	// for PatternBlip; zero otherwise.
	Onset time.Time `json:"onset,omitzero"`
	// First is the tenant's first event time.
	First time.Time `json:"first"`
	// Meter and Model name the pair that drives the extra usage of a step,
	// blip or ramp; empty otherwise.
	Meter string `json:"meter,omitempty"`
	Model string `json:"model,omitempty"`
	// Baseline is the tenant's normal usage in credits per minute (before
	// noise and cycle). Not a billing figure, hence a float.
	Baseline float64 `json:"baseline_per_minute"`
}

// CorpusConfig describes a labeled corpus for runaway detection.
type CorpusConfig struct {
	// Seed selects the corpus; zero means 1.
	Seed uint64
	// Start is the first minute of the corpus; zero means
	// 2026-03-02T00:00:00Z. It is truncated to the minute.
	Start time.Time
	// Duration is the corpus length, a whole number of minutes ≥ 48h; zero
	// means 72h.
	Duration time.Duration
	// TenantsPerPattern is the number of tenants of each pattern; zero means
	// 10. Half of the new tenants (the odd ones) get a step 30 minutes after
	// they appear and are labeled PatternStep.
	TenantsPerPattern int
	// EventsPerMinute is each tenant's number of events per minute of
	// normal usage (a step, blip or ramp adds as many again on its driving
	// pair); zero means 4.
	EventsPerMinute int
	// Meter is the main meter; zero means "compute_seconds". Events use it
	// with the models gpt-large, gpt-small and embed-1, and a second meter
	// (api_calls, or tokens_in when Meter is api_calls) without a model.
	Meter string
}

// Corpus defaults.
var DefaultCorpusStart = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

const (
	defaultCorpusDuration = 72 * time.Hour
	minCorpusDuration     = 48 * time.Hour
	noiseSigma            = 0.1  // per-minute lognormal noise …
	noiseClip             = 2.23 // … clipped to about ±20 %
)

var corpusModels = [...]string{"gpt-large", "gpt-small", "embed-1"}

// corpusTenant is one tenant's plan for the corpus.
type corpusTenant struct {
	label     Label
	id        []byte
	first     int     // first active minute
	onset     int     // step or blip minute; -1 when none
	rampStart int     // ramp's first minute; -1 when none
	blip      float64 // blip multiplier
	phase     float64 // cycle phase, in days
	mix       [4]float64
	driver    int // index of the driving pair
	seq       uint64
}

// corpusEvent is one event of the minute being built.
type corpusEvent struct {
	ms     int64
	tenant int32
	pair   uint8
	seq    uint64
	qty    schemas.Micros
}

// Corpus builds the labeled corpus that cfg describes and passes every event
// to emit, in event-time order across all tenants (ties by tenant, then
// id). Quantity is the event's credits at rate 1, so a detector can read it
// as credits. The event and its ID are reused: emit must copy what it keeps
// (UsageEvent.Clone). It returns the labels, sorted by tenant, or the first
// error of emit, wrapped.
//
// Every tenant has its own baseline, log-uniform in 0.5–500 credits per
// minute, with ±20 % lognormal noise per minute. Steps, blips and ramps
// start at a random minute after at least 24 h of history; new tenants
// appear in the last 12 h but 6 (from 60 h on with the default 72 h).
func Corpus(cfg CorpusConfig, emit func(ev *schemas.UsageEvent) error) ([]Label, error) {
	var errs []error
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultCorpusStart
	}
	cfg.Start = cfg.Start.UTC().Truncate(time.Minute)
	if cfg.Duration == 0 {
		cfg.Duration = defaultCorpusDuration
	}
	if cfg.Duration < minCorpusDuration || cfg.Duration%time.Minute != 0 {
		errs = append(errs, fmt.Errorf("duration %v: must be a whole number of minutes ≥ %v", cfg.Duration, minCorpusDuration))
	}
	if cfg.TenantsPerPattern == 0 {
		cfg.TenantsPerPattern = 10
	}
	if cfg.TenantsPerPattern < 0 || cfg.TenantsPerPattern > 10_000 {
		errs = append(errs, fmt.Errorf("tenants per pattern %d: must be in [1, 10000]", cfg.TenantsPerPattern))
	}
	if cfg.EventsPerMinute == 0 {
		cfg.EventsPerMinute = 4
	}
	if cfg.EventsPerMinute < 0 || cfg.EventsPerMinute > 10_000 {
		errs = append(errs, fmt.Errorf("events per minute %d: must be in [1, 10000]", cfg.EventsPerMinute))
	}
	if cfg.Meter == "" {
		cfg.Meter = "compute_seconds"
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("corpus config: %w", err)
	}
	second := "api_calls"
	if cfg.Meter == second {
		second = "tokens_in"
	}
	pairs := [4][2]string{
		{cfg.Meter, corpusModels[0]}, {cfg.Meter, corpusModels[1]}, {cfg.Meter, corpusModels[2]}, {second, ""},
	}

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x636f727075730004))
	minutes := int(cfg.Duration / time.Minute)
	const day = 24 * 60
	randMinute := func(lo, hi int) int { return lo + rng.IntN(hi-lo+1) }

	patterns := []Pattern{PatternSteady, PatternCycle, PatternBlip, PatternStep, PatternRamp, PatternNew}
	var tenants []*corpusTenant
	for _, p := range patterns {
		for i := range cfg.TenantsPerPattern {
			t := &corpusTenant{onset: -1, rampStart: -1}
			t.label.Pattern = p
			t.label.Baseline = 0.5 * math.Exp(rng.Float64()*math.Log(1000))
			t.phase = rng.Float64()
			sum := 0.0
			for j := range t.mix {
				t.mix[j] = 0.1 + rng.Float64()
				sum += t.mix[j]
			}
			for j := range t.mix {
				t.mix[j] /= sum
			}
			t.driver = rng.IntN(len(pairs))
			switch p {
			case PatternBlip:
				t.onset = randMinute(day, minutes-60)
				t.blip = 10 + 10*rng.Float64()
			case PatternStep:
				t.onset = randMinute(day, minutes-4*60)
			case PatternRamp:
				t.rampStart = randMinute(day, minutes-13*60)
			case PatternNew:
				t.first = randMinute(minutes-12*60, minutes-6*60)
				if i%2 == 1 {
					t.label.Pattern = PatternStep
					t.onset = t.first + 30
				}
			}
			if t.onset >= 0 || t.rampStart >= 0 {
				t.label.Meter, t.label.Model = pairs[t.driver][0], pairs[t.driver][1]
			}
			if t.onset >= 0 {
				t.label.Onset = cfg.Start.Add(time.Duration(t.onset) * time.Minute)
			}
			tenants = append(tenants, t)
		}
	}
	// Neutral ids, so that an id does not give its pattern away.
	order := rng.Perm(len(tenants))
	width := max(4, len(strconv.Itoa(len(tenants))))
	for k, ti := range order {
		id := strconv.Itoa(k + 1)
		for len(id) < width {
			id = "0" + id
		}
		tenants[ti].label.Tenant = "c-" + id
		tenants[ti].id = []byte(tenants[ti].label.Tenant)
	}
	slices.SortFunc(tenants, func(a, b *corpusTenant) int { return cmp.Compare(a.label.Tenant, b.label.Tenant) })

	noise := func() float64 {
		z := min(max(rng.NormFloat64(), -noiseClip), noiseClip)
		return math.Exp(noiseSigma * z)
	}
	startMs := cfg.Start.UnixMilli()
	var batch []corpusEvent
	var weights []float64
	split := func(ti int, t *corpusTenant, minuteMs int64, credits float64, pair func() int) {
		weights = weights[:0]
		sum := 0.0
		for range cfg.EventsPerMinute {
			w := 0.5 + rng.Float64()
			weights = append(weights, w)
			sum += w
		}
		for _, w := range weights {
			q := schemas.Micros(math.Round(credits * w / sum * schemas.MicrosPerUnit))
			t.seq++
			batch = append(batch, corpusEvent{
				ms:     minuteMs + rng.Int64N(60_000),
				tenant: int32(ti),
				pair:   uint8(pair()),
				seq:    t.seq,
				qty:    max(q, 1),
			})
		}
	}
	var ev schemas.UsageEvent
	var idBuf []byte
	for m := range minutes {
		batch = batch[:0]
		minuteMs := startMs + int64(m)*60_000
		for ti, t := range tenants {
			if m < t.first {
				continue
			}
			normal, extra := 1.0, 0.0
			switch {
			case t.label.Pattern == PatternCycle:
				normal = 1 + 0.5*math.Sin(2*math.Pi*(float64(m)/day+t.phase))
			case t.onset >= 0 && t.label.Pattern == PatternBlip:
				if m == t.onset {
					extra = t.blip - 1
				}
			case t.onset >= 0: // steps, including new tenants' steps
				if m >= t.onset {
					extra = 9
				}
			case t.rampStart >= 0:
				if m >= t.rampStart {
					extra = 2 * min(1, float64(m-t.rampStart)/(12*60))
				}
			}
			split(ti, t, minuteMs, t.label.Baseline*normal*noise(), func() int {
				x := rng.Float64()
				for j, w := range t.mix {
					if x < w {
						return j
					}
					x -= w
				}
				return len(t.mix) - 1
			})
			if extra > 0 {
				split(ti, t, minuteMs, t.label.Baseline*extra*noise(), func() int { return t.driver })
			}
		}
		slices.SortFunc(batch, func(a, b corpusEvent) int {
			return cmp.Or(cmp.Compare(a.ms, b.ms), cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.seq, b.seq))
		})
		for _, e := range batch {
			t := tenants[e.tenant]
			if t.label.First.IsZero() {
				t.label.First = time.UnixMilli(e.ms).UTC()
			}
			idBuf = append(idBuf[:0], "ev-"...)
			idBuf = strconv.AppendUint(idBuf, e.seq, 36)
			ev = schemas.UsageEvent{
				ID:       idBuf,
				Tenant:   t.label.Tenant,
				Meter:    pairs[e.pair][0],
				Model:    pairs[e.pair][1],
				Quantity: e.qty,
				Time:     time.UnixMilli(e.ms).UTC(),
			}
			if err := emit(&ev); err != nil {
				return nil, fmt.Errorf("emit corpus event %s/%s: %w", ev.Tenant, ev.ID, err)
			}
		}
	}
	labels := make([]Label, len(tenants))
	for i, t := range tenants {
		labels[i] = t.label
	}
	return labels, nil
}

// WriteCorpus writes the corpus of cfg: its events as JSON Lines to events
// (native form, quantity as a decimal string) and its labels as one JSON
// array to labels, for `creditflow gen --corpus runaway`.
func WriteCorpus(cfg CorpusConfig, events io.Writer, labels io.Writer) error {
	bw := bufio.NewWriterSize(events, 256<<10)
	var buf []byte
	ls, err := Corpus(cfg, func(ev *schemas.UsageEvent) error {
		buf = appendUsageJSON(buf[:0], ev)
		buf = append(buf, '\n')
		_, err := bw.Write(buf)
		return err
	})
	if err != nil {
		return fmt.Errorf("write corpus events: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write corpus events: %w", err)
	}
	b, err := json.MarshalIndent(ls, "", "  ")
	if err != nil {
		return fmt.Errorf("encode corpus labels: %w", err)
	}
	if _, err := labels.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write corpus labels: %w", err)
	}
	return nil
}

// appendUsageJSON appends ev as one native-form usage record (SPEC 2.1):
// quantity (≥ 0) as a decimal string with as few fractional digits as
// needed, time as RFC 3339 UTC with milliseconds (finer digits are dropped),
// model and properties only when present.
func appendUsageJSON(dst []byte, ev *schemas.UsageEvent) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, ev.ID)
	dst = append(dst, `,"tenant":`...)
	dst = appendJSONString(dst, []byte(ev.Tenant))
	dst = append(dst, `,"meter":`...)
	dst = appendJSONString(dst, []byte(ev.Meter))
	if ev.Model != "" {
		dst = append(dst, `,"model":`...)
		dst = appendJSONString(dst, []byte(ev.Model))
	}
	dst = append(dst, `,"quantity":"`...)
	dst = appendMicros(dst, ev.Quantity, qMinimal)
	dst = append(dst, `","time":"`...)
	dst = appendTime(dst, ev.Time.UnixMilli(), 0)
	dst = append(dst, '"')
	if ev.Properties != nil {
		dst = append(dst, `,"properties":`...)
		dst = append(dst, ev.Properties...)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string, escaping what JSON requires.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
