package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PartitionState is one tenant's opaque state, stored by the streaming
// pipeline with a checkpoint.
type PartitionState struct {
	Tenant string
	State  []byte
}

// Checkpoint is tenant states of one (topic, partition) as of offset
// Offset. A full checkpoint (Prev < 0) holds every tenant that has a state;
// an incremental one holds the tenants whose state changed since checkpoint
// Prev, and every other tenant has the state of the chain Prev builds on.
// Incremental checkpoints keep the stored volume proportional to activity;
// the explicit chain means rows left by a writer that crashed before its
// range was committed are never mistaken for part of a later checkpoint.
type Checkpoint struct {
	Topic     string
	Partition int32
	Offset    int64
	Prev      int64 // the checkpoint this one builds on; negative for a full one
	States    []PartitionState
}

// WritePartitionStates stores checkpoints of one or more partitions in ONE
// insert, all or nothing: the rows of every state, under version = the
// checkpoint's offset, plus a marker row per checkpoint (tenant ”) that
// LatestCheckpoint finds only if the whole insert landed. Writing the same
// checkpoint again writes the same rows, which collapse. partition_state has
// no partition key, so one insert of at most max_insert_block_size rows
// (1,048,576 by default; more than any partition's tenants) is one part.
func (c *Client) WritePartitionStates(ctx context.Context, cps ...Checkpoint) error {
	if len(cps) == 0 {
		return nil
	}
	in, err := partitionStatesInsert(cps)
	if err != nil {
		return fmt.Errorf("write partition states: %w", err)
	}
	if err := c.send(ctx, in); err != nil {
		return fmt.Errorf("write partition states of %d checkpoints (%s/%d at %d, …): %w", len(cps), cps[0].Topic, cps[0].Partition, cps[0].Offset, err)
	}
	return nil
}

func partitionStatesInsert(cps []Checkpoint) (*insert, error) {
	n := 0
	for _, cp := range cps {
		n += len(cp.States) + 1
	}
	topics := make([]string, 0, n)
	parts := make([]int32, 0, n)
	tenants := make([]string, 0, n)
	versions := make([]int64, 0, n)
	blobs := make([]string, 0, n)
	var errs []error
	for _, cp := range cps {
		if cp.Topic == "" || cp.Partition < 0 || cp.Offset < 0 {
			errs = append(errs, fmt.Errorf("checkpoint %s/%d at %d: empty topic or negative partition or offset", cp.Topic, cp.Partition, cp.Offset))
			continue
		}
		for _, s := range cp.States {
			if s.Tenant == "" {
				errs = append(errs, fmt.Errorf("checkpoint %s/%d at %d: a state without tenant", cp.Topic, cp.Partition, cp.Offset))
				continue
			}
			topics, parts, tenants = append(topics, cp.Topic), append(parts, cp.Partition), append(tenants, s.Tenant)
			versions, blobs = append(versions, cp.Offset), append(blobs, string(s.State))
		}
		topics, parts, tenants = append(topics, cp.Topic), append(parts, cp.Partition), append(tenants, "")
		versions, blobs = append(versions, cp.Offset), append(blobs, strconv.FormatInt(max(cp.Prev, -1), 10))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	in := &insert{table: "partition_state"}
	in.col("topic", topics)
	in.col("partition", parts)
	in.col("tenant", tenants)
	in.col("version", versions)
	in.col("state", blobs)
	return in, nil
}

// CheckpointChain returns the partition's latest complete checkpoint at or
// below maxOffset and the checkpoints it builds on, newest first, ending
// with a full one; nil when there is none (or its chain is broken, which
// only a hand-edited table causes).
func (c *Client) CheckpointChain(ctx context.Context, topic string, partition int32, maxOffset int64) ([]int64, error) {
	rows, err := c.conn.Query(ctx, checkpointMarkersSQL(c.db, topic, partition, maxOffset))
	if err != nil {
		return nil, fmt.Errorf("read checkpoints of %s/%d: %w", topic, partition, err)
	}
	defer rows.Close()
	prev := map[int64]int64{}
	latest := int64(-1)
	for rows.Next() {
		var (
			v int64
			p string
		)
		if err := rows.Scan(&v, &p); err != nil {
			return nil, fmt.Errorf("scan checkpoints of %s/%d: %w", topic, partition, err)
		}
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s/%d at %d: marker %q is not an offset", topic, partition, v, p)
		}
		prev[v] = n
		latest = max(latest, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoints of %s/%d: %w", topic, partition, err)
	}
	var chain []int64
	for v := latest; v >= 0; {
		p, ok := prev[v]
		if !ok || len(chain) > len(prev) {
			return nil, nil
		}
		chain = append(chain, v)
		v = p
	}
	return chain, nil
}

func checkpointMarkersSQL(db, topic string, partition int32, maxOffset int64) string {
	return "SELECT DISTINCT version, state FROM " + db + ".partition_state" +
		" WHERE topic = " + quoteString(topic) + " AND partition = " + strconv.FormatInt(int64(partition), 10) +
		" AND tenant = '' AND version <= " + strconv.FormatInt(maxOffset, 10)
}

// PartitionStates calls fn with, per tenant of (topic, partition), its
// state in the newest of the given checkpoints (a CheckpointChain) that
// holds one, in tenant order.
func (c *Client) PartitionStates(ctx context.Context, topic string, partition int32, chain []int64, fn func(tenant string, state []byte) error) error {
	if len(chain) == 0 {
		return nil
	}
	rows, err := c.conn.Query(ctx, partitionStatesSQL(c.db, topic, partition, chain))
	if err != nil {
		return fmt.Errorf("read partition states of %s/%d: %w", topic, partition, err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant, state string
		if err := rows.Scan(&tenant, &state); err != nil {
			return fmt.Errorf("scan partition states: %w", err)
		}
		if err := fn(tenant, []byte(state)); err != nil {
			return err
		}
	}
	return rows.Err()
}

func partitionStatesSQL(db, topic string, partition int32, chain []int64) string {
	vs := make([]string, len(chain))
	for i, v := range chain {
		vs[i] = strconv.FormatInt(v, 10)
	}
	return "SELECT tenant, argMax(state, version) FROM " + db + ".partition_state" +
		" WHERE topic = " + quoteString(topic) + " AND partition = " + strconv.FormatInt(int64(partition), 10) +
		" AND tenant != '' AND version IN (" + strings.Join(vs, ", ") + ") GROUP BY tenant ORDER BY tenant"
}
