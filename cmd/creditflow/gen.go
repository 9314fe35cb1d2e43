package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/loadgen"
	"github.com/creditflow/creditflow/schemas"
)

func runGen(ctx context.Context, args []string, e *env) error {
	fs := newFlags("gen", e)
	var (
		cfg        loadgen.Config
		start      timeFlag
		out        = fs.String("out", "-", "events file to write (JSON lines); - for standard output")
		catalogIn  = fs.String("catalog", "", "take tenants, meters and models from this catalog instead of synthesising them")
		catalogOut = fs.String("catalog-out", "", "also write a catalog that covers every generated tenant, meter and model")
		runaway    = fs.String("runaway", "", "comma-separated tenant ids that step up 10× half way through")
		corpus     = fs.String("corpus", "", "instead of load, write a labeled corpus: 'runaway' (events to --out, labels to --labels)")
		labels     = fs.String("labels", "", "labels file for --corpus")
		seed       = fs.Uint64("seed", 1, "random seed: the same seed writes the same bytes")
		brokers    = fs.String("brokers", "", "produce to Kafka (comma-separated seed brokers) instead of writing a file; key = tenant")
		topic      = fs.String("topic", "usage.events", "topic for --brokers")
		live       = fs.Bool("live", false, "with --brokers: pace production so that event time follows the wall clock from --start")
	)
	fs.Int64Var(&cfg.Events, "events", 100000, "number of records")
	fs.IntVar(&cfg.Tenants, "tenants", 10000, "number of tenants (sizes follow a Zipf law)")
	fs.Float64Var(&cfg.Rate, "rate", 2000, "events per second of event time")
	fs.Float64Var(&cfg.Skew, "skew", 1.1, "Zipf exponent of tenant sizes")
	fs.Float64Var(&cfg.Duplicates, "duplicates", 0.02, "fraction of exact re-sends")
	fs.Float64Var(&cfg.Conflicts, "conflicts", 0.001, "fraction of same-id, different-content copies")
	fs.Float64Var(&cfg.OutOfOrder, "out-of-order", 0.05, "fraction delayed within the allowed out-of-orderness")
	fs.Float64Var(&cfg.Late, "late", 0.001, "fraction delayed beyond the allowed out-of-orderness")
	fs.Float64Var(&cfg.Malformed, "malformed", 0.001, "fraction of bad records, spread over the dead-letter reasons")
	fs.Float64Var(&cfg.CloudEvents, "cloudevents", 0.05, "fraction written as CloudEvents")
	fs.Float64Var(&cfg.Properties, "properties", loadgen.DefaultProperties, "fraction of events with a properties object (0 for none)")
	fs.BoolVar(&cfg.UUIDs, "uuids", false, "write UUID event ids (36 bytes) instead of short e-<tag>-<n> ones")
	fs.Var(&start, "start", "event time of the first event, RFC 3339 (default 2026-01-01T00:00:00Z)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: creditflow gen [--events N] [--tenants N] [--seed N] [--out FILE] [--catalog-out FILE] [flags]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Seed = *seed
	cfg.Start = start.t
	if cfg.Properties == 0 {
		cfg.Properties = -1 // none; zero in a Config means the default
	}
	if *runaway != "" {
		cfg.Runaway = strings.Split(*runaway, ",")
	}
	if *corpus != "" {
		if *corpus != "runaway" {
			return usagef("--corpus %q: only 'runaway' is known", *corpus)
		}
		if *labels == "" || *out == "-" {
			return usagef("--corpus needs --out FILE and --labels FILE")
		}
		return writeFiles(func(w io.Writer, lw io.Writer) error {
			return loadgen.WriteCorpus(loadgen.CorpusConfig{Seed: cfg.Seed, Start: cfg.Start}, w, lw)
		}, *out, *labels)
	}
	if *catalogIn != "" {
		cat, err := catalog.Load(*catalogIn)
		if err != nil {
			return fmt.Errorf("invalid catalog:\n%w", err)
		}
		fromCatalog(&cfg, cat)
	}
	g, err := loadgen.New(cfg)
	if err != nil {
		return usageError{err}
	}
	if *catalogOut != "" {
		if err := os.WriteFile(*catalogOut, loadgen.CatalogYAML(cfg), 0o644); err != nil {
			return fmt.Errorf("write catalog: %w", err)
		}
	}
	if *brokers != "" {
		return produceGen(ctx, e, g, cfg, strings.Split(*brokers, ","), *topic, *live)
	}
	t0 := time.Now()
	var w io.Writer = e.stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			return fmt.Errorf("create events file: %w", err)
		}
		w = f
	}
	n, err := g.WriteTo(w)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	st := g.Stats()
	e.log.Info().Str("component", "gen").Int64("bytes", n).Interface("stats", st).
		Dur("elapsed", time.Since(t0)).Str("out", *out).Msg("generated")
	return ctx.Err()
}

// writeFiles creates two files and hands buffered writers to write.
func writeFiles(write func(a, b io.Writer) error, pathA, pathB string) error {
	fa, err := os.Create(pathA)
	if err != nil {
		return err
	}
	fb, err := os.Create(pathB)
	if err != nil {
		fa.Close()
		return err
	}
	ba, bb := bufio.NewWriterSize(fa, 1<<20), bufio.NewWriter(fb)
	err = write(ba, bb)
	err = errors.Join(err, ba.Flush(), bb.Flush(), fa.Close(), fb.Close())
	return err
}

// fromCatalog makes the generator emit only what cat can price: its tenants
// (started by the first event), its meters, and the models that have a rate
// in force at the start (a "*" rate means events without a model too).
func fromCatalog(cfg *loadgen.Config, cat *catalog.Catalog) {
	start := cfg.Start
	if start.IsZero() {
		start = loadgen.CatalogStart(*cfg)
	}
	cfg.TenantIDs = cfg.TenantIDs[:0]
	for _, t := range cat.Tenants {
		if !t.Start.After(start) {
			cfg.TenantIDs = append(cfg.TenantIDs, t.ID)
		}
	}
	cfg.Meters = cfg.Meters[:0]
	for _, m := range cat.Meters {
		cfg.Meters = append(cfg.Meters, m.Name)
	}
	cfg.MeterModels = map[string][]string{}
	for _, r := range cat.Rates {
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
	if cfg.Tenants > len(cfg.TenantIDs) || cfg.Tenants == 0 {
		cfg.Tenants = len(cfg.TenantIDs)
	}
}

// produceGen sends the generator's records to Kafka, keyed by tenant (as
// SPEC 2.1 asks; a record too broken to name its tenant goes unkeyed).
func produceGen(ctx context.Context, e *env, g *loadgen.Generator, cfg loadgen.Config, brokers []string, topic string, live bool) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	dec := schemas.NewDecoder()
	var ev schemas.UsageEvent
	var n int64
	var failed error
	var mu sync.Mutex
	t0 := e.now()
	rate := cfg.Rate
	if rate == 0 {
		rate = 2000
	}
	for {
		b, ok := g.Next(nil)
		if !ok {
			break
		}
		var key []byte
		if dec.DecodeUsage(b, &ev) == nil {
			key = []byte(ev.Tenant)
		}
		cl.Produce(ctx, &kgo.Record{Key: key, Value: b}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
		})
		n++
		if live && n%100 == 0 {
			due := t0.Add(time.Duration(float64(n) / rate * float64(time.Second)))
			if d := due.Sub(e.now()); d > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(d):
				}
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if failed != nil {
		return fmt.Errorf("produce: %w", failed)
	}
	e.log.Info().Str("component", "gen").Int64("records", n).Str("topic", topic).Strs("brokers", brokers).
		Dur("elapsed", e.now().Sub(t0)).Msg("produced")
	return nil
}
