package main

import (
	"fmt"
	"strings"
	"time"
)

// progress shows how far an input has been read: a bar redrawn in place on
// a terminal, a log line every few seconds otherwise.
type progress struct {
	e       *env
	mode    string // bar, log or none
	name    string
	start   time.Time
	last    time.Time
	every   time.Duration
	drawn   bool
	records int64
}

func newProgress(e *env, mode, name string) *progress {
	if mode == "auto" {
		mode = "log"
		if e.isTerminal {
			mode = "bar"
		}
	}
	now := e.now()
	every := 5 * time.Second
	if mode == "bar" {
		every = 200 * time.Millisecond
	}
	return &progress{e: e, mode: mode, name: name, start: now, last: now, every: every}
}

func (p *progress) update(read, total, records int64) {
	if p.mode == "none" {
		return
	}
	p.records = records
	now := p.e.now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start).Seconds()
	rate := float64(records) / max(elapsed, 1e-9)
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(read) / float64(total)
	}
	switch p.mode {
	case "bar":
		const width = 30
		filled := int(pct / 100 * width)
		filled = min(max(filled, 0), width)
		bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
		fmt.Fprintf(p.e.stderr, "\r%s [%s] %5.1f%% %s/%s %.0f rec/s ", p.name, bar, pct, size(read), size(total), rate)
		p.drawn = true
	case "log":
		p.e.log.Info().Str("component", "replay").Str("input", p.name).
			Float64("percent", float64(int(pct*10))/10).Int64("records", records).
			Int64("bytes_read", read).Int64("bytes_total", total).Float64("records_per_s", float64(int(rate))).
			Msg("progress")
	}
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.e.stderr)
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
