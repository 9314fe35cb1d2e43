package dedup

import "math/bits"

// The key hash is deterministic across processes and machines, because
// snapshots written by one process are read by another. It is not a keyed
// (secret-seeded) hash: see doc.go for what that means for adversarial ids.
//
// Two 64-bit lanes absorb the same 8-byte little-endian words, each with
// its own seed, odd multiplier and shifts. A lane step is
// (state ^ word) * odd, then an xor-shift: both are bijections, so two
// inputs of equal length that first differ in word j yield different lane
// states after word j. Each field's length is mixed in before and after it,
// and each lane ends in a multiply/xor-shift finaliser so every output bit
// depends on every input bit.
const (
	seedA = 0xffb53b1ad7449754
	seedB = 0x2fe6a477811b6800
	mulA  = 0xe7c7075dffa7daf1
	mulB  = 0xa1599db77a9b7123
	finA1 = 0xca79cd497752a30b
	finA2 = 0xcae9229faedc21f5
	finB1 = 0xd84cb5c287602987
	finB2 = 0x2e53e1946cd3a525
	foldK = 0x9e3779b97f4a7c15
)

// keyHashRef is the definition of the key (hi, lo) of (tenant, id), which
// keyHash computes (hash_fast.go, hash_portable.go).
func keyHashRef(tenant string, id []byte) (hi, lo uint64) {
	a, b := absorb(uint64(seedA), uint64(seedB), tenant)
	return absorb(a, b, id)
}

// absorb mixes p, length included, into the lane states a and b.
func absorb[T string | []byte](a, b uint64, p T) (uint64, uint64) {
	n := uint64(len(p))
	a ^= n * mulA
	b ^= n * mulB
	q := p
	for len(q) >= 8 {
		w := le64(q)
		a = (a ^ w) * mulA
		a ^= a >> 32
		b = (b ^ w) * mulB
		b ^= b >> 29
		q = q[8:]
	}
	if r := len(q); r > 0 {
		var w uint64
		if len(p) >= 8 {
			// The last 8 bytes, shifted so that only the r unread ones remain.
			w = le64(p[len(p)-8:]) >> (64 - 8*r)
		} else {
			for i := range r {
				w |= uint64(q[i]) << (8 * i)
			}
		}
		a = (a ^ w) * mulA
		a ^= a >> 32
		b = (b ^ w) * mulB
		b ^= b >> 29
	}
	return finishA(a ^ n), finishB(b ^ bits.RotateLeft64(n, 32))
}

func le64[T string | []byte](p T) uint64 {
	_ = p[7]
	return uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
		uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
}

func finishA(x uint64) uint64 {
	x ^= x >> 33
	x *= finA1
	x ^= x >> 29
	x *= finA2
	x ^= x >> 32
	return x
}

func finishB(x uint64) uint64 {
	x ^= x >> 31
	x *= finB1
	x ^= x >> 30
	x *= finB2
	x ^= x >> 33
	return x
}

// foldDigest folds a caller's 64-bit content digest into digestBits bits,
// so that every bit of the digest can change the stored value (a digest that
// is, say, a plain quantity differs mostly in its low bits).
func foldDigest(d uint64) uint64 {
	return ((d ^ d>>32) * foldK) >> (64 - digestBits)
}
