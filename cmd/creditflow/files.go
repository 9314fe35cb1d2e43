package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/creditflow/creditflow/pipeline/billing"
	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/ledger"
	"github.com/creditflow/creditflow/schemas"
	"github.com/creditflow/creditflow/sinks/files"
)

// Output file names (SPEC 5).
const (
	windowsFile         = "windows.csv"
	closesFile          = "period_closes.csv"
	closesParquetFile   = "period_closes.parquet"
	lineItemsFile       = "line_items.csv"
	lineItemsParquet    = "line_items.parquet"
	alertsFile          = "alerts.jsonl"
	deadLetterFile      = "deadletter.jsonl"
	recommendationsFile = "recommendations.csv"
)

// fileSink writes a replay's outputs into one directory. It satisfies
// replay.Sink. Windows, dead letters and alerts stream through
// bounded-memory sorters; closes are held until Close (one row per tenant
// and period, so they grow with tenants and months, not with events).
type fileSink struct {
	dir     string
	cat     *catalog.Catalog
	dryRun  bool
	windows *files.WindowsWriter
	dead    *files.Sorter
	alerts  *files.Sorter
	closes  []schemas.PeriodClose
	lines   []schemas.LineItem
	recs    []ledger.Recommendation
	buf     []byte
}

func newFileSink(dir string, cat *catalog.Catalog, dryRun bool) (*fileSink, error) {
	s := &fileSink{dir: dir, cat: cat, dryRun: dryRun}
	var err error
	// Memory budgets: about 32 MiB of window rows and 16 MiB of each JSONL
	// output before they spill sorted runs to disk.
	if s.windows, err = files.NewWindowsWriter(files.WindowsWriterConfig{Path: filepath.Join(dir, windowsFile), MaxRows: 1 << 18}); err != nil {
		return nil, err
	}
	if s.dead, err = files.NewSorter(filepath.Join(dir, deadLetterFile), dir, 16<<20); err != nil {
		return nil, err
	}
	if s.alerts, err = files.NewSorter(filepath.Join(dir, alertsFile), dir, 16<<20); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *fileSink) Windows(ctx context.Context, rows []schemas.WindowTotal) error {
	return s.windows.Write(ctx, rows)
}

func (s *fileSink) DeadLetter(reason schemas.Reason, record []byte) error {
	s.buf = files.AppendDeadLetter(s.buf[:0], reason, record)
	return s.dead.Add(s.buf, s.buf)
}

func (s *fileSink) Alerts(alerts []schemas.Alert) error {
	for i := range alerts {
		s.buf = files.AppendAlertJSON(s.buf[:0], alerts[i])
		if err := s.alerts.Add([]byte(alerts[i].ID), s.buf); err != nil {
			return err
		}
	}
	return nil
}

func (s *fileSink) Closes(out *billing.Output) error {
	for _, c := range out.Closes {
		s.closes = append(s.closes, c.Close)
		s.lines = append(s.lines, c.Lines...)
		if c.Recommendation != nil {
			s.recs = append(s.recs, *c.Recommendation)
		}
	}
	return nil
}

// abort drops temporary files after a failed run.
func (s *fileSink) abort() {
	s.windows.Close()
	s.dead.Close()
	s.alerts.Close()
}

// Close finishes every file and writes the manifest.
func (s *fileSink) Close() error {
	var errs []error
	if _, err := s.windows.Close(); err != nil {
		errs = append(errs, fmt.Errorf("windows: %w", err))
	}
	if _, err := s.dead.Close(); err != nil {
		errs = append(errs, fmt.Errorf("dead letters: %w", err))
	}
	if _, err := s.alerts.Close(); err != nil {
		errs = append(errs, fmt.Errorf("alerts: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return s.writeCloseFiles([]string{windowsFile, alertsFile, deadLetterFile})
}

// writeCloseFiles writes the close files and a manifest of them and extra.
func (s *fileSink) writeCloseFiles(extra []string) error {
	d := s.cat.CurrencyDecimals
	path := func(name string) string { return filepath.Join(s.dir, name) }
	if err := files.WriteClosesCSV(path(closesFile), s.closes, d); err != nil {
		return err
	}
	if err := files.WriteClosesParquet(path(closesParquetFile), s.closes, d); err != nil {
		return err
	}
	if err := files.WriteLineItemsCSV(path(lineItemsFile), s.lines, d); err != nil {
		return err
	}
	if err := files.WriteLineItemsParquet(path(lineItemsParquet), s.lines, d); err != nil {
		return err
	}
	if err := files.WriteRecommendationsCSV(path(recommendationsFile), recommendationHeader, recommendationRows(s.recs, d)); err != nil {
		return err
	}
	names := append([]string{closesFile, closesParquetFile, lineItemsFile, lineItemsParquet, recommendationsFile}, extra...)
	totals, err := files.ManifestTotals(s.closes, s.lines, d)
	if err != nil {
		return err
	}
	return files.WriteManifest(s.dir, names, totals)
}

var recommendationHeader = []string{"tenant", "period_start", "current_plan", "current_cost", "recommended_plan", "recommended_cost", "savings", "periods_over", "currency"}

func recommendationRows(recs []ledger.Recommendation, d int) [][]string {
	rows := make([][]string, 0, len(recs))
	for _, r := range recs {
		rows = append(rows, []string{
			r.Tenant, r.PeriodStart.UTC().Format("2006-01-02T15:04:05Z07:00"), r.CurrentPlan,
			r.CurrentCost.StringFixed(d), r.RecommendedPlan, r.RecommendedCost.StringFixed(d),
			r.Savings.StringFixed(d), fmt.Sprint(r.PeriodsOver), r.Currency,
		})
	}
	return rows
}
