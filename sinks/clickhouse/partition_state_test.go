package clickhouse

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCheckpointChain: full and incremental checkpoints, a checkpoint above
// the committed offset (a writer that died before its commit) ignored, and
// states resolved per tenant along the chain.
func TestCheckpointChain(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	st := func(tenant, s string) PartitionState { return PartitionState{Tenant: tenant, State: []byte(s)} }
	// One insert for two partitions; then increments for partition 0.
	if err := c.WritePartitionStates(ctx,
		Checkpoint{Topic: "usage", Partition: 0, Offset: 9, Prev: -1, States: []PartitionState{st("a", "a@9"), st("b", "b@9")}},
		Checkpoint{Topic: "usage", Partition: 1, Offset: 4, Prev: -1, States: []PartitionState{st("z", "z@4")}},
	); err != nil {
		t.Fatal(err)
	}
	if err := c.WritePartitionStates(ctx, Checkpoint{Topic: "usage", Partition: 0, Offset: 20, Prev: 9, States: []PartitionState{st("a", "a@20")}}); err != nil {
		t.Fatal(err)
	}
	// A writer that died before committing 30 left a checkpoint there; the
	// next owner committed up to 25 from checkpoint 20 and checkpointed 28.
	if err := c.WritePartitionStates(ctx, Checkpoint{Topic: "usage", Partition: 0, Offset: 30, Prev: 20, States: []PartitionState{st("b", "b@30 (lost)")}}); err != nil {
		t.Fatal(err)
	}
	if err := c.WritePartitionStates(ctx, Checkpoint{Topic: "usage", Partition: 0, Offset: 28, Prev: 20, States: []PartitionState{st("c", "c@28")}}); err != nil {
		t.Fatal(err)
	}
	// Writing a checkpoint again changes nothing.
	if err := c.WritePartitionStates(ctx, Checkpoint{Topic: "usage", Partition: 0, Offset: 20, Prev: 9, States: []PartitionState{st("a", "a@20")}}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		partition int32
		max       int64
		chain     []int64
		states    map[string]string
	}{
		{"before any", 0, 8, nil, map[string]string{}},
		{"full", 0, 19, []int64{9}, map[string]string{"a": "a@9", "b": "b@9"}},
		{"incremental", 0, 27, []int64{20, 9}, map[string]string{"a": "a@20", "b": "b@9"}},
		{"next owner's", 0, 29, []int64{28, 20, 9}, map[string]string{"a": "a@20", "b": "b@9", "c": "c@28"}},
		{"other partition", 1, 100, []int64{4}, map[string]string{"z": "z@4"}},
	} {
		chain, err := c.CheckpointChain(ctx, "usage", tt.partition, tt.max)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.chain, chain); d != "" {
			t.Errorf("%s: chain (-want +got):\n%s", tt.name, d)
		}
		got := map[string]string{}
		if err := c.PartitionStates(ctx, "usage", tt.partition, chain, func(tenant string, state []byte) error {
			got[tenant] = string(state)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.states, got); d != "" {
			t.Errorf("%s: states (-want +got):\n%s", tt.name, d)
		}
	}
	// With chain 30 → 20 → 9 (max ≥ 30) the lost b@30 would be read: that is
	// why the consumer asks only up to its committed offset.
	if err := c.WritePartitionStates(ctx, Checkpoint{Topic: "usage", Partition: 0, Offset: 5, States: []PartitionState{{State: []byte("x")}}}); err == nil {
		t.Error("a state without tenant was accepted")
	}
}
