package loadgen

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
)

// TestCatalogYAMLParses loads CatalogYAML's output with catalog.Parse and
// checks that every tenant, meter and (meter, model) the generator emits is
// in it and rated.
func TestCatalogYAMLParses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{Events: 20_000, Tenants: 300}},
		{"explicit", Config{
			Events: 20_000, Seed: 7, Tenants: 40,
			TenantIDs: []string{"acme", "globex", "t-000002"},
			Meters:    []string{"tokens_in", "images", "gpu_seconds"},
			Models:    []string{"gpt-large", "*", "flux-1"},
			Start:     time.Date(2025, 11, 20, 8, 0, 0, 0, time.UTC),
		}},
		{"meter models", Config{
			Events: 20_000, Tenants: 10,
			MeterModels: map[string][]string{"api_calls": {"*"}, "tokens_out": {"gpt-small"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			y := CatalogYAML(tc.cfg)
			if !bytes.Equal(y, CatalogYAML(tc.cfg)) {
				t.Fatal("CatalogYAML is not deterministic")
			}
			c, err := catalog.Parse("generated.yaml", y)
			if err != nil {
				t.Fatalf("catalog.Parse: %v\n%s", err, head(y, 60))
			}
			if len(c.Warnings) > 0 {
				t.Errorf("warnings: %v", c.Warnings)
			}
			g, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(c.Tenants), len(g.TenantIDs()); got != want {
				t.Errorf("catalog has %d tenants, generator %d", got, want)
			}
			start := CatalogStart(tc.cfg)
			for _, ev := range decodeAll(t, g) {
				if ev.err != nil {
					continue
				}
				ten := c.Tenant(ev.Tenant)
				if ten == nil {
					continue // unknown_tenant records
				}
				if ten.Start.After(ev.Time) || ev.Time.Before(start) {
					t.Fatalf("event at %v precedes tenant %s start %v", ev.Time, ev.Tenant, ten.Start)
				}
				if c.Meter(ev.Meter) == nil {
					continue // unknown_meter records
				}
				if _, ok := c.Rate(ev.Meter, ev.Model, ev.Time); !ok {
					t.Fatalf("no rate for (%s, %q) at %v", ev.Meter, ev.Model, ev.Time)
				}
			}
		})
	}
}

func head(b []byte, lines int) []byte {
	for i, c := range b {
		if c == '\n' {
			if lines--; lines == 0 {
				return b[:i]
			}
		}
	}
	return b
}

// TestDemoCatalog shows the wiring `creditflow gen` needs for an existing
// catalog: tenants, meters and, per meter, the models rated at Start (""
// where a "*" rate applies). Every well-formed event is then rated.
func TestDemoCatalog(t *testing.T) {
	t.Parallel()
	c, err := catalog.Load("../../testdata/catalogs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC) // every demo tenant has started
	cfg := Config{Events: 20_000, Start: start, Malformed: 0.05, Late: 0.01, OutOfOrder: 0.05, Rate: 20,
		MeterModels: map[string][]string{}}
	for _, tn := range c.Tenants {
		cfg.TenantIDs = append(cfg.TenantIDs, tn.ID)
	}
	for _, m := range c.Meters {
		cfg.Meters = append(cfg.Meters, m.Name)
	}
	for _, r := range c.Rates {
		if r.EffectiveFrom.After(start) {
			continue
		}
		model := r.Model
		if model == catalog.AnyModel {
			model = ""
		}
		if !slices.Contains(cfg.MeterModels[r.Meter], model) {
			cfg.MeterModels[r.Meter] = append(cfg.MeterModels[r.Meter], model)
		}
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	counted := 0
	for _, ev := range decodeAll(t, g) {
		if ev.err != nil || c.Tenant(ev.Tenant) == nil || c.Meter(ev.Meter) == nil {
			continue
		}
		counted++
		if _, ok := c.Rate(ev.Meter, ev.Model, ev.Time); !ok {
			t.Fatalf("no rate for (%s, %q) at %v", ev.Meter, ev.Model, ev.Time)
		}
	}
	if counted < 15_000 {
		t.Errorf("only %d rated events", counted)
	}
}
