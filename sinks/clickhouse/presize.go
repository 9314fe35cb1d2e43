package clickhouse

import (
	"reflect"
	"sync"
	"unsafe"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// presize gives column c of a prepared batch the room for v, the values
// about to be appended to it, before Append copies them in: the buffer
// spare (from an earlier insert of the column, see buffers) when it is
// large enough, else new ones of the exact size.
//
// Why: clickhouse-go builds every insert in fresh columns, and appends
// values one by one, so a large insert grows each column's buffers by
// doubling: for the raw events of a streaming flush (hundreds of thousands
// of rows) that was 40 % of the pipeline's allocations and a tenth of its
// CPU (copying and clearing). The column types keep their buffer in an
// unexported field named col (a ch-go proto column) in clickhouse-go
// v2.51; presize reaches it through reflection and does nothing for a
// column that has no such field, so another version only loses the
// optimisation (TestPresize fails then, to say so).
func presize(c column.Interface, v any, spare any) bool {
	at := colField(c)
	if !at.IsValid() {
		return false
	}
	if col, ok := at.Interface().(*proto.ColStr); ok {
		s, ok := v.([]string)
		if !ok {
			return false
		}
		n := 0
		for _, x := range s {
			n += len(x)
		}
		if sp, ok := spare.(proto.ColStr); ok && len(col.Pos) == 0 && cap(sp.Buf) >= n && cap(sp.Pos) >= len(s) {
			col.Buf, col.Pos = sp.Buf[:0], sp.Pos[:0]
			return true
		}
		col.Buf = grow(col.Buf, n)
		col.Pos = grow(col.Pos, len(s))
		return true
	}
	cur, vals := at.Elem(), reflect.ValueOf(v)
	if cur.Kind() != reflect.Slice || vals.Kind() != reflect.Slice || cur.Type().Elem() != vals.Type().Elem() {
		return false // only plain numeric columns of the same element type
	}
	need := cur.Len() + vals.Len()
	if sp := reflect.ValueOf(spare); cur.Len() == 0 && sp.IsValid() && sp.Type() == cur.Type() && sp.Cap() >= need {
		cur.Set(sp.Slice(0, 0))
		return true
	}
	if cur.Cap() < need {
		grown := reflect.MakeSlice(cur.Type(), cur.Len(), need)
		reflect.Copy(grown, cur)
		cur.Set(grown)
	}
	return true
}

// colField returns a pointer to the buffer field of a clickhouse-go column
// (see presize), as a writable reflect.Value, or the zero Value.
func colField(c column.Interface) reflect.Value {
	rv := reflect.ValueOf(c)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	f := rv.Elem().FieldByName("col")
	if !f.IsValid() || !f.CanAddr() {
		return reflect.Value{}
	}
	// Through NewAt the field is writable, which f itself (unexported) is not.
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr()))
}

// buffers keeps, per table and column, the buffer of the last insert sent,
// to be reused by the next insert of that column: a streaming pipeline
// inserts similar sizes every flush, and without reuse each flush
// allocates (and the garbage collector reclaims) every column anew. A
// buffer is taken out while an insert uses it, so concurrent inserts never
// share one. It holds at most one buffer per column, as large as the
// largest insert of it.
type buffers struct {
	mu    sync.Mutex
	spare map[bufKey]any // proto.ColStr or a numeric column's slice
}

type bufKey struct{ table, col string }

func (b *buffers) take(table, col string) any {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := bufKey{table, col}
	sp := b.spare[k]
	delete(b.spare, k)
	return sp
}

// give keeps the buffer of column c, sent, for the next insert.
func (b *buffers) give(table, col string, c column.Interface) {
	if b == nil {
		return
	}
	at := colField(c)
	if !at.IsValid() {
		return
	}
	var sp any
	switch v := at.Elem(); {
	case v.Type() == reflect.TypeFor[proto.ColStr]():
		sp = v.Interface()
	case v.Kind() == reflect.Slice:
		sp = v.Interface()
	default:
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spare == nil {
		b.spare = map[bufKey]any{}
	}
	b.spare[bufKey{table, col}] = sp
}

// grow returns s with room for n more elements, allocated at once.
func grow[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	g := make([]T, len(s), len(s)+n)
	copy(g, s)
	return g
}
