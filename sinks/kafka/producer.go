package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/schemas"
)

// Header keys set on produced records.
const (
	HeaderID              = "id"               // alerts, grants, closes: the idempotency key
	HeaderReason          = "reason"           // dead letters: the schemas.Reason
	HeaderSourceTopic     = "source_topic"     // dead letters: topic of the refused record
	HeaderSourcePartition = "source_partition" // dead letters: its partition, decimal
	HeaderSourceOffset    = "source_offset"    // dead letters: its offset, decimal
)

// Producer writes creditflow's output records to Kafka. It is an idempotent
// producer with acks=all (franz-go's defaults, set explicitly); every method
// waits until each record of its batch is acknowledged or failed, and
// returns the first failure. A nil error therefore means every record is
// durably on its topic. A failed call may still have written some of its
// records, so callers retry whole batches and consumers drop repeats by key
// or id header (see the package documentation).
//
// A Producer is safe for concurrent use and must be closed with Close.
type Producer struct {
	cl     *kgo.Client
	topics Topics
}

// NewProducer returns a Producer for cfg (defaults applied, validated).
// opts are appended after the options of cfg.ClientOptions and the
// producer's own (acks=all), so they can override them: a logger
// (kgo.WithLogger(NewLogger(log))), kgo.ProducerLinger and so on. It does
// not contact the brokers; the first produce does. It neither creates
// topics (see EnsureTopics) nor lets the broker create them on produce.
func NewProducer(cfg Config, opts ...kgo.Opt) (*Producer, error) {
	cfg, err := cfg.ready()
	if err != nil {
		return nil, err
	}
	base, err := cfg.ClientOptions()
	if err != nil {
		return nil, err
	}
	all := append(base, kgo.RequiredAcks(kgo.AllISRAcks()))
	all = append(all, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("new kafka producer: %w", err)
	}
	return &Producer{cl: cl, topics: cfg.Topics}, nil
}

// Close closes the producer's connections. It must be called once no method
// is running any more.
func (p *Producer) Close() { p.cl.Close() }

// Alerts writes one record per alert to the alerts topic: key tenant, value
// the alerts.jsonl object (files.AppendAlertJSON, without the line ending),
// header "id" the alert id. It returns once every record is acknowledged.
func (p *Producer) Alerts(ctx context.Context, as []schemas.Alert) error {
	if len(as) == 0 {
		return nil
	}
	return p.produce(ctx, alertsBatch(p.topics.Alerts, as), "alerts")
}

// alertsBatch builds the records of Alerts.
func alertsBatch(topic string, as []schemas.Alert) *batch {
	bb := newBatch(topic, len(as), 320, 1)
	for i := range as {
		a := &as[i]
		bb.begin()
		bb.key(a.Tenant)
		bb.value(func(b []byte) []byte { return appendAlert(b, *a) })
		bb.header(HeaderID, a.ID)
	}
	return bb
}

// Entitlements writes one record per change to the compacted entitlements
// topic: key tenant, value {"tenant","state","period_start","period_end",
// "time"} (see DecodeEntitlement). Records of one tenant go to one
// partition in slice order, so the last one written is the tenant's state.
func (p *Producer) Entitlements(ctx context.Context, es []schemas.EntitlementChange) error {
	if len(es) == 0 {
		return nil
	}
	bb := newBatch(p.topics.Entitlements, len(es), 160, 0)
	for i := range es {
		e := &es[i]
		bb.begin()
		bb.key(e.Tenant)
		bb.value(func(b []byte) []byte { return appendEntitlement(b, *e) })
	}
	return p.produce(ctx, bb, "entitlements")
}

// DeadLetters writes one record per refused input record to the dead-letter
// topic: key the original record's key (nil stays nil), value
// {"reason","record"[,"record_base64"],"detail","topic","partition","offset"}
// where "record" is the original bytes as a JSON string as in
// deadletter.jsonl (files.AppendDeadLetter), and headers "reason",
// "source_topic", "source_partition" and "source_offset".
func (p *Producer) DeadLetters(ctx context.Context, ds []schemas.DeadLetter) error {
	if len(ds) == 0 {
		return nil
	}
	bb := newBatch(p.topics.DeadLetter, len(ds), 400, 4)
	for i := range ds {
		d := &ds[i]
		bb.begin()
		if d.Key == nil {
			bb.nilKey()
		} else {
			bb.keyBytes(d.Key)
		}
		bb.value(func(b []byte) []byte { return appendDeadLetter(b, *d) })
		bb.header(HeaderReason, string(d.Reason))
		bb.header(HeaderSourceTopic, d.Topic)
		bb.headerFn(HeaderSourcePartition, func(b []byte) []byte { return strconv.AppendInt(b, int64(d.Partition), 10) })
		bb.headerFn(HeaderSourceOffset, func(b []byte) []byte { return strconv.AppendInt(b, d.Offset, 10) })
	}
	return p.produce(ctx, bb, "dead letters")
}

// Grants writes one record per grant to the grants topic: key tenant, value
// schemas.AppendGrantJSON (which schemas.DecodeGrant reads back), header
// "id" the grant id. The pipeline emits automatic top-ups this way.
func (p *Producer) Grants(ctx context.Context, gs []schemas.Grant) error {
	if len(gs) == 0 {
		return nil
	}
	bb := newBatch(p.topics.Grants, len(gs), 200, 1)
	for i := range gs {
		g := &gs[i]
		bb.begin()
		bb.key(g.Tenant)
		bb.value(func(b []byte) []byte { return schemas.AppendGrantJSON(b, *g) })
		bb.header(HeaderID, g.ID)
	}
	return p.produce(ctx, bb, "grants")
}

// Closes writes one record per close to the closes topic: key tenant, header
// "id" "<tenant>/<period_start RFC 3339>", value the close's figures under
// the period_closes.csv column names plus "line_items", the lines of ls
// whose (tenant, period_start, period_end) is the close's, in the order of
// ls. A line item without its close in cs, or a close given twice, is an
// error and nothing is written.
func (p *Producer) Closes(ctx context.Context, cs []schemas.PeriodClose, ls []schemas.LineItem) error {
	if len(cs) == 0 && len(ls) == 0 {
		return nil
	}
	type periodKey struct {
		tenant       string
		start, end   int64
		startN, endN int
	}
	keyOf := func(tenant string, start, end time.Time) periodKey {
		return periodKey{tenant, start.Unix(), end.Unix(), start.Nanosecond(), end.Nanosecond()}
	}
	idx := make(map[periodKey]int, len(cs))
	var errs []error
	for i := range cs {
		k := keyOf(cs[i].Tenant, cs[i].PeriodStart, cs[i].PeriodEnd)
		if _, dup := idx[k]; dup {
			errs = append(errs, fmt.Errorf("close of tenant %q period %s given twice", cs[i].Tenant, cs[i].PeriodStart.UTC().Format(time.RFC3339)))
		}
		idx[k] = i
	}
	lines := make([][]schemas.LineItem, len(cs))
	for _, l := range ls {
		i, ok := idx[keyOf(l.Tenant, l.PeriodStart, l.PeriodEnd)]
		if !ok {
			errs = append(errs, fmt.Errorf("line item %s of tenant %q period %s has no close", l.Kind, l.Tenant, l.PeriodStart.UTC().Format(time.RFC3339)))
			continue
		}
		lines[i] = append(lines[i], l)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("produce closes to %s: %w", p.topics.Closes, err)
	}
	bb := newBatch(p.topics.Closes, len(cs), 1500, 1)
	for i := range cs {
		c := &cs[i]
		bb.begin()
		bb.key(c.Tenant)
		bb.value(func(b []byte) []byte { return appendClose(b, *c, lines[i]) })
		bb.headerFn(HeaderID, func(b []byte) []byte { return closeID(b, c.Tenant, c.PeriodStart) })
	}
	return p.produce(ctx, bb, "closes")
}

// produce sends the batch and waits for every acknowledgement.
func (p *Producer) produce(ctx context.Context, bb *batch, what string) error {
	rs := bb.records()
	results := p.cl.ProduceSync(ctx, rs...)
	var (
		first  error
		failed int
	)
	for _, r := range results {
		if r.Err != nil {
			if first == nil {
				first = r.Err
			}
			failed++
		}
	}
	if first != nil {
		return fmt.Errorf("produce %s to %s: %d of %d records failed: %w", what, bb.topic, failed, len(rs), first)
	}
	return nil
}

// batch builds the records of one call with a single buffer for every key,
// value and header value, and a single slice of headers: spans are recorded
// while they grow and turned into slices once the batch is complete.
type batch struct {
	topic string
	buf   []byte
	spans [][2]int // in record order: key, value, then each header value
	hdrs  []kgo.RecordHeader
	hEnd  []int // per record: end of its headers in hdrs
	recs  []kgo.Record
	nilK  []bool
}

// newBatch sizes a batch for n records of about perRecord bytes and
// headers headers each.
func newBatch(topic string, n, perRecord, headers int) *batch {
	return &batch{
		topic: topic,
		buf:   make([]byte, 0, n*perRecord),
		spans: make([][2]int, 0, n*(2+headers)),
		hdrs:  make([]kgo.RecordHeader, 0, n*headers),
		hEnd:  make([]int, 0, n),
		recs:  make([]kgo.Record, 0, n),
		nilK:  make([]bool, 0, n),
	}
}

func (bb *batch) begin() {
	bb.recs = append(bb.recs, kgo.Record{Topic: bb.topic})
	bb.nilK = append(bb.nilK, false)
	bb.hEnd = append(bb.hEnd, len(bb.hdrs))
}

func (bb *batch) add(fn func([]byte) []byte) {
	start := len(bb.buf)
	bb.buf = fn(bb.buf)
	bb.spans = append(bb.spans, [2]int{start, len(bb.buf)})
}

func (bb *batch) key(k string) { bb.add(func(b []byte) []byte { return append(b, k...) }) }

func (bb *batch) keyBytes(k []byte) { bb.add(func(b []byte) []byte { return append(b, k...) }) }

func (bb *batch) nilKey() {
	bb.nilK[len(bb.nilK)-1] = true
	bb.add(func(b []byte) []byte { return b })
}

func (bb *batch) value(fn func([]byte) []byte) { bb.add(fn) }

func (bb *batch) header(k, v string) {
	bb.headerFn(k, func(b []byte) []byte { return append(b, v...) })
}

func (bb *batch) headerFn(k string, fn func([]byte) []byte) {
	bb.hdrs = append(bb.hdrs, kgo.RecordHeader{Key: k})
	bb.hEnd[len(bb.hEnd)-1] = len(bb.hdrs)
	bb.add(fn)
}

// records resolves the spans and returns pointers to the records.
func (bb *batch) records() []*kgo.Record {
	out := make([]*kgo.Record, len(bb.recs))
	s, h := 0, 0
	next := func() []byte {
		sp := bb.spans[s]
		s++
		return bb.buf[sp[0]:sp[1]:sp[1]]
	}
	for i := range bb.recs {
		r := &bb.recs[i]
		r.Key = next()
		if bb.nilK[i] {
			r.Key = nil
		}
		r.Value = next()
		if end := bb.hEnd[i]; end > h {
			r.Headers = bb.hdrs[h:end:end]
			for j := range r.Headers {
				r.Headers[j].Value = next()
			}
			h = end
		}
		out[i] = r
	}
	return out
}
