package webhook

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// push adds it as the newest entry, reporting whether the oldest was dropped.
func (r *ring) push(it item) bool {
	slot, dropped := r.add()
	*slot = it
	return dropped
}

func TestRing(t *testing.T) {
	t.Parallel()
	ids := func(r *ring) []string {
		var out []string
		for i := range r.n {
			out = append(out, r.buf[(r.head+i)%len(r.buf)].alert.ID)
		}
		return out
	}
	it := func(id string) item { return item{alert: alert(id)} }

	r := ring{max: 3}
	for _, id := range []string{"a", "b", "c"} {
		if r.push(it(id)) {
			t.Fatalf("push %s dropped below capacity", id)
		}
	}
	if !r.push(it("d")) {
		t.Fatal("push d into a full ring did not drop")
	}
	if diff := cmp.Diff([]string{"b", "c", "d"}, ids(&r)); diff != "" {
		t.Fatalf("after overflow (-want +got):\n%s", diff)
	}
	if got, _ := r.pop(); got.alert.ID != "b" {
		t.Fatalf("pop = %s, want b", got.alert.ID)
	}
	if r.pushFront(it("b2")) {
		t.Fatal("pushFront below capacity dropped")
	}
	if !r.pushFront(it("z")) {
		t.Fatal("pushFront into a full ring kept the item")
	}
	if diff := cmp.Diff([]string{"b2", "c", "d"}, ids(&r)); diff != "" {
		t.Fatalf("after pushFront (-want +got):\n%s", diff)
	}
	for _, want := range []string{"b2", "c", "d"} {
		got, ok := r.pop()
		if !ok || got.alert.ID != want {
			t.Fatalf("pop = %q %v, want %q", got.alert.ID, ok, want)
		}
	}
	if _, ok := r.pop(); ok {
		t.Fatal("pop from an empty ring succeeded")
	}
}

func TestRingGrowsOnDemand(t *testing.T) {
	t.Parallel()
	r := ring{max: 1000}
	if len(r.buf) != 0 {
		t.Fatal("ring preallocated")
	}
	// Wrap around before growing, to check growth keeps order.
	for i := range 40 {
		r.push(item{attempts: i})
	}
	for range 30 {
		r.pop()
	}
	for i := 40; i < 200; i++ {
		r.push(item{attempts: i})
	}
	if len(r.buf) >= 1000 {
		t.Fatalf("buffer grew to %d for 170 items", len(r.buf))
	}
	for want := 30; want < 200; want++ {
		got, ok := r.pop()
		if !ok || got.attempts != want {
			t.Fatalf("pop = %d %v, want %d", got.attempts, ok, want)
		}
	}
}
