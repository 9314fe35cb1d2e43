package dedup

import "math/bits"

// The key hash is deterministic across processes and machines, because
// snapshots written by one process are read by another. It is not a keyed
// (secret-seeded) hash: see doc.go for what that means for adversarial ids.
//
// It is built from the AES round function (ShiftRows, SubBytes,
// MixColumns, then xor with a 16-byte block: what x86's AESENC computes),
// which on amd64 is one instruction of four cycles' latency, so a key costs
// a handful of dependent instructions where a multiply-and-shift lane costs
// several per 8 bytes. The 128-bit state starts as a constant xor both
// field lengths; each 16-byte block of the tenant, then of the id, is
// absorbed as state = round(state) ⊕ block; two more rounds with fixed
// blocks end it. The round is a bijection of the state for a fixed block
// and of the block for a fixed state, so two (tenant, id) pairs with the
// same lengths that first differ in some block reach different states
// there and keep them different to the end: such pairs never collide.
// Pairs of other lengths start from different states, and their outputs
// behave as independent random values: the two final rounds spread every
// bit of the last block over every output bit (AES diffuses fully in two
// rounds), and every earlier bit has been through more rounds. More final
// rounds would only lengthen a dependent chain on the partition
// processor's hot path, which measurably slows it (four final rounds: 4–7 %
// in interleaved BenchmarkCore runs).
//
// A field of n bytes is cut into blocks as follows, which determines the
// bytes for its length: n = 0, no block; 1–3, one block of bytes 0, n/2 and
// n−1 in its first three bytes; 4–7, one block of bytes 0–3 and n−4 to n−1
// in its first eight; 8–16, one block of bytes 0–7 and n−8 to n−1; above
// 16, the blocks at 0, 16, 32, … that end before byte n, then the last 16
// bytes (which may overlap the block before). The other bytes of a block
// are zero.
const (
	foldK   = 0x9e3779b97f4a7c15
	aesPoly = 0x11b // x⁸ + x⁴ + x³ + x + 1, AES's field polynomial
)

// hashConst holds the start state and the two final blocks, each as lo,
// hi: the first 64 bits of the fractional parts of the square roots of the
// first six primes, constants with no structure to exploit. The assembly
// (hash_amd64.s, hash_arm64.s) loads them from here.
var hashConst = [6]uint64{
	0x6a09e667f3bcc908, 0xbb67ae8584caa73b,
	0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
	0x510e527fade682d1, 0x9b05688c2b3e6c1f,
}

// block is 16 bytes of AES state: lo holds bytes 0–7 and hi bytes 8–15,
// little-endian, as in an x86 XMM register.
type block struct{ lo, hi uint64 }

// keyHashRef is the definition of the key (hi, lo) of (tenant, id), which
// keyHash computes (in assembly where the CPU has AES instructions).
func keyHashRef(tenant string, id []byte) (hi, lo uint64) {
	s := block{hashConst[0] ^ uint64(len(tenant)), hashConst[1] ^ uint64(len(id))}
	s = absorbField(s, tenant)
	s = absorbField(s, id)
	for j := 2; j < len(hashConst); j += 2 {
		s = aesRound(s, block{hashConst[j], hashConst[j+1]})
	}
	return s.hi, s.lo
}

// absorbField absorbs the blocks of p (see the cutting rule above).
func absorbField[T string | []byte](s block, p T) block {
	n := len(p)
	switch {
	case n == 0:
		return s
	case n < 4:
		return aesRound(s, block{lo: uint64(p[0]) | uint64(p[n/2])<<8 | uint64(p[n-1])<<16})
	case n < 8:
		return aesRound(s, block{lo: uint64(le32(p[:4])) | uint64(le32(p[n-4:]))<<32})
	case n <= 16:
		return aesRound(s, block{le64(p[:8]), le64(p[n-8:])})
	}
	off := 0
	for ; off+16 < n; off += 16 {
		s = aesRound(s, block{le64(p[off:]), le64(p[off+8:])})
	}
	return aesRound(s, block{le64(p[n-16:]), le64(p[n-8:])})
}

func le64[T string | []byte](p T) uint64 {
	_ = p[7]
	return uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
		uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
}

func le32[T string | []byte](p T) uint32 {
	_ = p[3]
	return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
}

// aesRound is one AES encryption round with round key k, as x86's AESENC:
// ShiftRows, SubBytes, MixColumns, then xor k. Byte r + 4c of the state is
// row r of column c. Column c of the result takes row r from column
// c + r (ShiftRows), and MixColumns is linear, so the column is the xor of
// one te lookup per row, rotated to that row (the usual T-table form).
func aesRound(s, k block) block {
	// Byte j of the state: bits 8j… of lo (j < 8), of hi (j ≥ 8).
	at := func(j uint) byte {
		if j >= 8 {
			return byte(s.hi >> (8 * (j - 8)))
		}
		return byte(s.lo >> (8 * j))
	}
	var out [4]uint64
	for c := range uint(4) {
		out[c] = uint64(te[at(4*c)] ^
			bits.RotateLeft32(te[at(1+4*((c+1)%4))], 8) ^
			bits.RotateLeft32(te[at(2+4*((c+2)%4))], 16) ^
			bits.RotateLeft32(te[at(3+4*((c+3)%4))], 24))
	}
	return block{(out[0] | out[1]<<32) ^ k.lo, (out[2] | out[3]<<32) ^ k.hi}
}

// te[x] is the column that MixColumns makes of S(x) in row 0 and zeros
// elsewhere: 2·S(x), S(x), S(x), 3·S(x) in rows 0–3 (bits 0–31). A byte in
// row r contributes te rotated left by 8r bits.
var te = func() (t [256]uint32) {
	for x := range 256 {
		s := sbox[x]
		t[x] = uint32(gmul(s, 2)) | uint32(s)<<8 | uint32(s)<<16 | uint32(gmul(s, 3))<<24
	}
	return t
}()

// sbox is AES's S-box, computed at start-up from its definition (the
// multiplicative inverse in GF(2⁸), then an affine map) rather than typed
// in; TestAESRound checks the round against the published example.
var sbox = func() (t [256]byte) {
	for x := range 256 {
		inv := byte(0) // 0 maps to 0
		if x != 0 {
			// x^254 = x⁻¹, by square-and-multiply.
			inv = 1
			p := byte(x)
			for e := 254; e > 0; e >>= 1 {
				if e&1 != 0 {
					inv = gmul(inv, p)
				}
				p = gmul(p, p)
			}
		}
		b := inv
		t[x] = b ^ bits.RotateLeft8(b, 1) ^ bits.RotateLeft8(b, 2) ^ bits.RotateLeft8(b, 3) ^ bits.RotateLeft8(b, 4) ^ 0x63
	}
	return t
}()

// gmul multiplies in GF(2⁸) modulo aesPoly.
func gmul(a, b byte) byte {
	var r byte
	for b != 0 {
		if b&1 != 0 {
			r ^= a
		}
		hi := a & 0x80
		a <<= 1
		if hi != 0 {
			a ^= aesPoly & 0xff
		}
		b >>= 1
	}
	return r
}

// foldDigest folds a caller's 64-bit content digest into digestBits bits,
// so that every bit of the digest can change the stored value (a digest that
// is, say, a plain quantity differs mostly in its low bits).
func foldDigest(d uint64) uint64 {
	return ((d ^ d>>32) * foldK) >> (64 - digestBits)
}
