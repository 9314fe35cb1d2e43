package clickhouse

import (
	"context"
	"fmt"
	"strconv"
)

// PartitionState is one tenant's opaque state, stored by the streaming
// pipeline with a flush.
type PartitionState struct {
	Tenant string
	State  []byte
}

// WritePartitionStates stores the states of the tenants a flush of
// (topic, partition) touched, under version = the flush's last offset.
// Writing the same flush again writes the same rows, which collapse.
func (c *Client) WritePartitionStates(ctx context.Context, topic string, partition int32, version int64, states []PartitionState) error {
	if len(states) == 0 {
		return nil
	}
	in := &insert{table: "partition_state"}
	topics := make([]string, len(states))
	parts := make([]int32, len(states))
	tenants := make([]string, len(states))
	versions := make([]int64, len(states))
	blobs := make([]string, len(states))
	for i, s := range states {
		topics[i], parts[i], tenants[i], versions[i], blobs[i] = topic, partition, s.Tenant, version, string(s.State)
	}
	in.col("topic", topics)
	in.col("partition", parts)
	in.col("tenant", tenants)
	in.col("version", versions)
	in.col("state", blobs)
	if err := c.send(ctx, in); err != nil {
		return fmt.Errorf("write partition states of %s/%d at %d: %w", topic, partition, version, err)
	}
	return nil
}

// PartitionStates calls fn with, per tenant of (topic, partition), the state
// of the highest version at or below maxVersion.
func (c *Client) PartitionStates(ctx context.Context, topic string, partition int32, maxVersion int64, fn func(tenant string, state []byte) error) error {
	q := "SELECT tenant, argMax(state, version) FROM " + c.db + ".partition_state" +
		" WHERE topic = " + quoteString(topic) + " AND partition = " + strconv.FormatInt(int64(partition), 10) +
		" AND version <= " + strconv.FormatInt(maxVersion, 10) + " GROUP BY tenant ORDER BY tenant"
	rows, err := c.conn.Query(ctx, q)
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
