package loadgen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

// minuteUsage is a corpus tenant's credits per minute.
type minuteUsage struct {
	total []float64
}

// TestCorpus builds the default corpus and checks its order, its labels
// and that every pattern has the shape its label claims.
func TestCorpus(t *testing.T) {
	t.Parallel()
	cfg := CorpusConfig{}
	start := DefaultCorpusStart
	const minutes = 72 * 60
	usage := map[string]*minuteUsage{}
	var last time.Time
	events := 0
	labels, err := Corpus(cfg, func(ev *schemas.UsageEvent) error {
		events++
		if ev.Time.Before(last) {
			return errors.New("events out of order at " + ev.Time.String())
		}
		last = ev.Time
		if ev.Time.Before(start) || !ev.Time.Before(start.Add(72*time.Hour)) {
			return errors.New("event outside the corpus: " + ev.Time.String())
		}
		if ev.Quantity <= 0 {
			return errors.New("quantity not positive")
		}
		u := usage[ev.Tenant]
		if u == nil {
			u = &minuteUsage{make([]float64, minutes)}
			usage[ev.Tenant] = u
		}
		m := int(ev.Time.Sub(start) / time.Minute)
		q := float64(ev.Quantity) / schemas.MicrosPerUnit
		u.total[m] += q
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events, %d tenants", events, len(labels))

	count := map[Pattern]int{}
	for i, l := range labels {
		count[l.Pattern]++
		if i > 0 && labels[i-1].Tenant >= l.Tenant {
			t.Errorf("labels not sorted by tenant at %s", l.Tenant)
		}
		u := usage[l.Tenant]
		if u == nil {
			t.Fatalf("tenant %s sent nothing", l.Tenant)
		}
		if l.Baseline < 0.5 || l.Baseline > 500 {
			t.Errorf("%s: baseline %v outside 0.5–500", l.Tenant, l.Baseline)
		}
		firstMin := int(l.First.Sub(start) / time.Minute)
		onsetMin := int(l.Onset.Sub(start) / time.Minute)
		mean := func(from, to int) float64 { // mean credits/min in [from, to)
			s := 0.0
			for m := from; m < to; m++ {
				s += u.total[m]
			}
			return s / float64(to-from)
		}
		hasOnset := l.Pattern == PatternStep || l.Pattern == PatternBlip
		if hasOnset != !l.Onset.IsZero() {
			t.Errorf("%s (%s): onset %v", l.Tenant, l.Pattern, l.Onset)
		}
		if !l.Onset.IsZero() && l.Onset.Truncate(time.Minute) != l.Onset {
			t.Errorf("%s: onset %v not on a minute", l.Tenant, l.Onset)
		}
		late := firstMin >= 60*60
		switch l.Pattern {
		case PatternSteady, PatternCycle, PatternBlip, PatternRamp:
			if firstMin != 0 {
				t.Errorf("%s (%s): first event at %v", l.Tenant, l.Pattern, l.First)
			}
		case PatternNew:
			if !late || firstMin >= 66*60 {
				t.Errorf("%s (new): first event at %v, want in [60h, 66h)", l.Tenant, l.First.Sub(start))
			}
		}
		for m := firstMin; m < minutes; m++ {
			r := u.total[m] / l.Baseline
			switch {
			case l.Pattern == PatternSteady || l.Pattern == PatternNew ||
				(l.Pattern == PatternStep && m < onsetMin) ||
				(l.Pattern == PatternBlip && m != onsetMin):
				if r < 0.79 || r > 1.26 {
					t.Fatalf("%s (%s): minute %d at %.2f× baseline", l.Tenant, l.Pattern, m, r)
				}
			case l.Pattern == PatternCycle:
				if r < 0.39 || r > 1.9 {
					t.Fatalf("%s (cycle): minute %d at %.2f× baseline", l.Tenant, m, r)
				}
			}
		}
		switch l.Pattern {
		case PatternStep:
			if late {
				if onsetMin != firstMin+30 && onsetMin != firstMin+31 {
					t.Errorf("%s: new tenant's step at minute %d, first event at %d", l.Tenant, onsetMin, firstMin)
				}
			} else if onsetMin < 24*60 || onsetMin > minutes-4*60 {
				t.Errorf("%s: step at %v", l.Tenant, l.Onset.Sub(start))
			}
			before, after := mean(max(firstMin, onsetMin-30), onsetMin), mean(onsetMin, onsetMin+30)
			if r := after / before; r < 8 || r > 12 {
				t.Errorf("%s: step ×%.1f", l.Tenant, r)
			}
			if l.Meter == "" || (l.Model == "") != (l.Meter == "api_calls") {
				t.Errorf("%s: step without a driving pair: %+v", l.Tenant, l)
			}
		case PatternBlip:
			if onsetMin < 24*60 {
				t.Errorf("%s: blip at %v", l.Tenant, l.Onset.Sub(start))
			}
			if r := u.total[onsetMin] / mean(onsetMin-30, onsetMin); r < 8 || r > 25 {
				t.Errorf("%s: blip ×%.1f", l.Tenant, r)
			}
		case PatternCycle:
			hi, lo := 0.0, math.Inf(1)
			for h := range 24 {
				v := mean(h*60, h*60+60)
				hi, lo = max(hi, v), min(lo, v)
			}
			if hi/lo < 2 {
				t.Errorf("%s: cycle from %.1f to %.1f", l.Tenant, lo, hi)
			}
		case PatternRamp:
			if r := mean(minutes-60, minutes) / mean(0, 60); r < 1.5 || r > 3.5 {
				t.Errorf("%s: ramp ends at ×%.1f", l.Tenant, r)
			}
		}
	}
	want := map[Pattern]int{PatternSteady: 10, PatternCycle: 10, PatternBlip: 10, PatternStep: 15, PatternRamp: 10, PatternNew: 5}
	if diff := cmp.Diff(want, count); diff != "" {
		t.Errorf("patterns (-want +got):\n%s", diff)
	}
}

// TestCorpusDriver checks that a step's extra usage comes from the labeled
// (meter, model) pair.
func TestCorpusDriver(t *testing.T) {
	t.Parallel()
	cfg := CorpusConfig{Seed: 3, Duration: 48 * time.Hour, TenantsPerPattern: 3}
	type acc struct{ driver, total float64 }
	before, after := map[string]*acc{}, map[string]*acc{}
	// First pass for the labels, second for the usage.
	labels, err := Corpus(cfg, func(*schemas.UsageEvent) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	byTenant := map[string]Label{}
	for _, l := range labels {
		byTenant[l.Tenant] = l
	}
	_, err = Corpus(cfg, func(ev *schemas.UsageEvent) error {
		l := byTenant[ev.Tenant]
		if l.Pattern != PatternStep {
			return nil
		}
		m := before
		if !ev.Time.Before(l.Onset) {
			m = after
		}
		a := m[ev.Tenant]
		if a == nil {
			a = &acc{}
			m[ev.Tenant] = a
		}
		q := float64(ev.Quantity)
		a.total += q
		if ev.Meter == l.Meter && ev.Model == l.Model {
			a.driver += q
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for tenant, a := range after {
		if share := a.driver / a.total; share < 0.85 {
			t.Errorf("%s: driving pair has %.0f%% of the usage after the step", tenant, 100*share)
		}
		if b := before[tenant]; b.driver/b.total > 0.8 {
			t.Errorf("%s: driving pair already had %.0f%% before the step", tenant, 100*b.driver/b.total)
		}
	}
	if len(after) != 4 { // 3 steps, 1 of 3 new tenants
		t.Errorf("%d tenants with a step", len(after))
	}
}

// TestWriteCorpus checks that WriteCorpus is deterministic, that its events
// decode to what Corpus emits and that its labels round-trip.
func TestWriteCorpus(t *testing.T) {
	t.Parallel()
	cfg := CorpusConfig{Seed: 9, Duration: 48 * time.Hour, TenantsPerPattern: 2, EventsPerMinute: 1, Meter: "api_calls"}
	var ev1, lab1, ev2, lab2 bytes.Buffer
	if err := WriteCorpus(cfg, &ev1, &lab1); err != nil {
		t.Fatal(err)
	}
	if err := WriteCorpus(cfg, &ev2, &lab2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev1.Bytes(), ev2.Bytes()) || !bytes.Equal(lab1.Bytes(), lab2.Bytes()) {
		t.Fatal("WriteCorpus is not deterministic")
	}
	var want []schemas.UsageEvent
	labels, err := Corpus(cfg, func(ev *schemas.UsageEvent) error {
		want = append(want, ev.Clone())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d := schemas.NewDecoder()
	sc := bufio.NewScanner(&ev1)
	type key struct{ tenant, id string }
	ids := map[key]bool{}
	i := 0
	for ; sc.Scan(); i++ {
		var ev schemas.UsageEvent
		if err := d.DecodeUsage(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, sc.Bytes())
		}
		w := want[i]
		if !bytes.Equal(w.ID, ev.ID) || w.Tenant != ev.Tenant || w.Meter != ev.Meter || w.Model != ev.Model ||
			w.Quantity != ev.Quantity || !w.Time.Equal(ev.Time) || ev.Properties != nil {
			t.Fatalf("line %d: wrote %+v, emitted %+v", i+1, ev, w)
		}
		k := key{ev.Tenant, string(ev.ID)}
		if ids[k] {
			t.Fatalf("line %d: id %s/%s used twice", i+1, ev.Tenant, ev.ID)
		}
		ids[k] = true
		if ev.Meter != "api_calls" && ev.Meter != "tokens_in" {
			t.Fatalf("line %d: meter %s", i+1, ev.Meter)
		}
	}
	if i != len(want) {
		t.Fatalf("wrote %d events, emitted %d", i, len(want))
	}
	var got []Label
	if err := json.Unmarshal(lab1.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(labels, got); diff != "" {
		t.Errorf("labels (-Corpus +written):\n%s", diff)
	}
	if strings.Contains(lab1.String(), `"onset":"0001`) {
		t.Error("zero onsets are written")
	}
}

func TestCorpusErrors(t *testing.T) {
	t.Parallel()
	_, err := Corpus(CorpusConfig{Duration: time.Hour, TenantsPerPattern: -1, EventsPerMinute: -2}, nil)
	for _, w := range []string{"duration 1h0m0s", "tenants per pattern -1", "events per minute -2"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not mention %q", err, w)
		}
	}
	boom := errors.New("boom")
	_, err = Corpus(CorpusConfig{Duration: 48 * time.Hour, TenantsPerPattern: 1}, func(*schemas.UsageEvent) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("emit error not returned: %v", err)
	}
}
