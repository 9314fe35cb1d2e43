package stream

import (
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchPools lends the Kafka client the memory it decodes fetches into:
// the decompressed bytes of record batches and the slices of Records (see
// kgo.WithPools). The runner recycles each record once it is processed (a
// batch keeps copies of what it needs: ids and properties in its arena,
// dead letters cloned), so that steady consumption reuses the same memory
// instead of allocating about a kilobyte per record for the garbage
// collector to reclaim. Slices are kept by power-of-two capacity class.
type fetchPools struct {
	bytes [maxClass]sync.Pool // *[]byte
	recs  [maxClass]sync.Pool // *[]kgo.Record
}

const maxClass = 40

// class returns the capacity class that holds at least n elements.
func class(n int) int { return min(bits.Len(uint(max(n, 1)-1)), maxClass-1) }

// GetDecompressBytes returns room for a batch's decompressed records: its
// compressed size times four (a typical ratio for JSON), grown by the
// client if that is not enough.
func (p *fetchPools) GetDecompressBytes(compressed []byte, _ kgo.CompressionCodecType) []byte {
	c := class(4 * len(compressed))
	if b, ok := p.bytes[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<c)
}

// PutDecompressBytes takes back a slice (the client zeroed it).
func (p *fetchPools) PutDecompressBytes(b []byte) {
	if c := bits.Len(uint(cap(b))) - 1; c >= 0 && c < maxClass && cap(b) == 1<<c {
		p.bytes[c].Put(&b)
	}
}

// GetRecords returns a slice of Records with capacity n.
func (p *fetchPools) GetRecords(n int) []kgo.Record {
	c := class(n)
	if r, ok := p.recs[c].Get().(*[]kgo.Record); ok {
		return (*r)[:0]
	}
	return make([]kgo.Record, 0, 1<<c)
}

// PutRecords takes back a slice of Records.
func (p *fetchPools) PutRecords(r []kgo.Record) {
	if c := bits.Len(uint(cap(r))) - 1; c >= 0 && c < maxClass && cap(r) == 1<<c {
		clear(r[:cap(r)])
		p.recs[c].Put(&r)
	}
}
