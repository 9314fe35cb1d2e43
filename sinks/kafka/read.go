package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/schemas"
)

// ErrSkippedRecords is wrapped by the error of ReadEntitlements when some
// records could not be decoded: the returned map then holds the states of
// all other records and is usable.
var ErrSkippedRecords = errors.New("undecodable records skipped")

// ReadEntitlements returns every tenant's latest entitlement state, which is
// what a product does at start-up before enforcing access: it reads the
// compacted entitlements topic of cfg from each partition's start to the
// partition's last stable offset at the time of the call (records written
// later are not read), and keeps the last record per key. A tombstone (nil
// value) removes the key. A tenant found in two partitions (after the
// partition count changed) keeps the record with the later timestamp.
//
// It reads committed data only (read_committed) and does not join a
// consumer group. opts are applied after cfg.ClientOptions (a logger, …).
// The topic must exist. Records whose value DecodeEntitlement refuses, or
// whose tenant is not the record key, are skipped: the map is then returned
// with an error wrapping ErrSkippedRecords. Any other error comes with a nil
// map.
//
// A partition is read once the record just before its end offset has been
// seen. That record always exists: the log cleaner never cleans the active
// segment, which holds the last batch, and retention that empties a
// partition also moves its start offset to the end, so the partition is
// then not read at all. ReadEntitlements still only waits as long as ctx
// allows.
func ReadEntitlements(ctx context.Context, cfg Config, opts ...kgo.Opt) (map[string]schemas.EntitlementChange, error) {
	cfg, err := cfg.ready()
	if err != nil {
		return nil, err
	}
	topic := cfg.Topics.Entitlements
	type latest struct {
		e         schemas.EntitlementChange
		partition int32
		ts        time.Time
	}
	found := make(map[string]latest)
	var (
		skipped int
		first   error
	)
	err = readTopic(ctx, cfg, topic, nil, opts, func(r *kgo.Record) {
		if r.Value == nil {
			delete(found, string(r.Key))
			return
		}
		e, err := DecodeEntitlement(r.Value)
		if err == nil && e.Tenant != string(r.Key) {
			err = fmt.Errorf("tenant %q is not the record key %q", e.Tenant, r.Key)
		}
		if err != nil {
			skipped++
			if first == nil {
				first = fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			return
		}
		if old, ok := found[e.Tenant]; ok && old.partition != r.Partition && r.Timestamp.Before(old.ts) {
			return
		}
		found[e.Tenant] = latest{e: e, partition: r.Partition, ts: r.Timestamp}
	})
	if err != nil {
		return nil, fmt.Errorf("read entitlements: %w", err)
	}
	out := make(map[string]schemas.EntitlementChange, len(found))
	for k, v := range found {
		out[k] = v.e
	}
	if skipped > 0 {
		return out, fmt.Errorf("read entitlements from %s: %w: %d, the first %w", topic, ErrSkippedRecords, skipped, first)
	}
	return out, nil
}

// ReadAlertIDs returns the ids of the alerts on the alerts topic of cfg
// whose record timestamp is at or after since, up to each partition's last
// stable offset at the time of the call. The lead's outbox uses it after a
// crash to find which alerts reached Kafka. The id is the "id" header; a
// record without one (not written by Producer.Alerts) contributes the "id"
// field of its JSON value, or nothing. The topic must exist; opts are
// applied after cfg.ClientOptions. See ReadEntitlements on how a read ends.
func ReadAlertIDs(ctx context.Context, cfg Config, since time.Time, opts ...kgo.Opt) (map[string]bool, error) {
	cfg, err := cfg.ready()
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool)
	err = readTopic(ctx, cfg, cfg.Topics.Alerts, &since, opts, func(r *kgo.Record) {
		if r.Timestamp.Before(since) {
			return
		}
		for _, h := range r.Headers {
			if h.Key == HeaderID {
				ids[string(h.Value)] = true
				return
			}
		}
		var v struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(r.Value, &v) == nil && v.ID != "" {
			ids[v.ID] = true
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read alert ids: %w", err)
	}
	return ids, nil
}

// readTopic calls fn for every data record of topic from each partition's
// start (or, with since, the first offset whose timestamp is at or after
// since) to its last stable offset now, in offset order per partition.
func readTopic(ctx context.Context, cfg Config, topic string, since *time.Time, opts []kgo.Opt, fn func(*kgo.Record)) error {
	base, err := cfg.ClientOptions()
	if err != nil {
		return err
	}
	all := append(base, opts...)
	all = append(all, kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return fmt.Errorf("new kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	var starts kadm.ListedOffsets
	if since == nil || since.UnixMilli() <= 0 {
		// Kafka gives negative timestamps special meanings (-1 latest,
		// -2 earliest, …): no record is older than the epoch anyway.
		starts, err = adm.ListStartOffsets(ctx, topic)
	} else {
		starts, err = adm.ListOffsetsAfterMilli(ctx, since.UnixMilli(), topic)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("list end offsets of %s: %w", topic, err)
	}

	from := make(map[int32]kgo.Offset)
	end := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		s, ok := starts.Lookup(o.Topic, o.Partition)
		if !ok || s.Offset < 0 || s.Offset >= o.Offset {
			return
		}
		from[o.Partition] = kgo.NewOffset().At(s.Offset)
		end[o.Partition] = o.Offset
	})
	if len(from) == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: from})

	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consume %s: %d partitions not read to their end: %w", topic, len(end), err)
		}
		for _, fe := range fs.Errors() {
			return fmt.Errorf("consume %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			last, open := end[r.Partition]
			if !open || r.Offset >= last {
				return // past the end of the read
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if r.Offset >= last-1 {
				delete(end, r.Partition)
			}
		})
	}
	return nil
}
