package partition

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
)

// TestSeriesCache fills the cache past its bounds and checks that entries
// are found by identity, that equal but distinct strings get entries of
// their own, and that a full cache starts over.
func TestSeriesCache(t *testing.T) {
	t.Parallel()
	var c seriesCache
	meter, model := "tokens", "big"
	pi := c.addPair(pair{meter: meter, model: model})
	if got := c.findPair(meter, model); got != pi {
		t.Fatalf("findPair = %d, want %d", got, pi)
	}
	if got := c.findPair(strings.Clone(meter), model); got != -1 {
		t.Errorf("findPair of an equal but distinct meter = %d, want -1 (keyed by identity)", got)
	}
	tenants := make([]string, maxSeries)
	for i := range tenants {
		tenants[i] = fmt.Sprint("t", i)
		if c.full() {
			t.Fatalf("full after %d series", i)
		}
		c.insert(tenants[i], newSeries(tenants[i], pi, int64(i)))
	}
	if !c.full() {
		t.Fatalf("not full after %d series", maxSeries)
	}
	for i, tn := range tenants {
		if s := c.find(tn, meter, model); s == nil || s.startNs != int64(i) {
			t.Fatalf("series %s: %+v", tn, s)
		}
	}
	if s := c.find(strings.Clone(tenants[7]), meter, model); s != nil {
		t.Errorf("an equal but distinct tenant found %+v", s)
	}
	c.reset()
	if c.find(tenants[7], meter, model) != nil || c.findPair(meter, model) != -1 || c.full() {
		t.Errorf("entries survived reset")
	}
	for i := range maxPairs + 1 {
		c.addPair(pair{meter: meter, model: fmt.Sprint("m", i)})
	}
	if len(c.pairs) != 1 {
		t.Errorf("%d pairs after exceeding the bound, want 1 (a fresh start)", len(c.pairs))
	}
}

// TestResolveWhenFull: with the series cache full, resolving a new series
// empties it and still prices and counts the event.
func TestResolveWhenFull(t *testing.T) {
	t.Parallel()
	p := newProc(t, Config{})
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	pi := p.cache.addPair(pair{meter: "x", model: "y", pricing: catalog.Pricing{}})
	for i := range maxSeries {
		tenant := fmt.Sprint("t", i)
		p.cache.insert(tenant, newSeries(tenant, pi, 0))
	}
	r := p.Process([]byte(`{"id":"1","tenant":"acme","meter":"tokens","model":"big","quantity":"100","time":"2026-01-09T00:00:01Z"}`), now)
	if r.Outcome != Counted || r.Credits.String() != "1.000000" {
		t.Fatalf("%v %v %v", r.Outcome, r.Err, r.Credits)
	}
	if p.cache.n != 1 || len(p.cache.pairs) != 1 {
		t.Errorf("cache holds %d series and %d pairs, want 1 and 1", p.cache.n, len(p.cache.pairs))
	}
}
