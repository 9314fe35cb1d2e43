#include "textflag.h"

// Sixteen copies each of '"', '\\' and 0x20.
DATA plainConst<>+0(SB)/8, $0x2222222222222222
DATA plainConst<>+8(SB)/8, $0x2222222222222222
DATA plainConst<>+16(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA plainConst<>+24(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA plainConst<>+32(SB)/8, $0x2020202020202020
DATA plainConst<>+40(SB)/8, $0x2020202020202020
GLOBL plainConst<>(SB), RODATA|NOPTR, $48

// LOADCONST loads the constants CLASSIFY compares with.
#define LOADCONST \
	MOVOU plainConst<>+0(SB), X1; \
	MOVOU plainConst<>+16(SB), X2; \
	MOVOU plainConst<>+32(SB), X3

// CLASSIFY sets, for the 16 bytes in X0, X4 to 0xff where a byte is '"'
// (X1 holds 16 of them) and X5 to 0xff where a byte needs attention inside
// a string: '\\' (X2), or below 0x20 (X3) as a signed byte, which takes in
// the control characters and every byte ≥ 0x80. X6 is scratch.
#define CLASSIFY \
	MOVO    X0, X4; \
	PCMPEQB X1, X4; \
	MOVO    X0, X5; \
	PCMPEQB X2, X5; \
	MOVO    X3, X6; \
	PCMPGTB X0, X6; \
	POR     X6, X5

// func plainString(b []byte, i int) int
//
// 16 bytes per step with SSE2 (part of every amd64 CPU): a byte needs
// attention when it equals '"' or '\\', or when it is below 0x20 as a
// signed byte, which takes in both the control characters and every byte
// ≥ 0x80. Once fewer than 16 bytes are left, the last 16 bytes of b are
// read instead (the bytes already judged masked off), so that no load goes
// past the end of b; fewer than 16 bytes from i on are read byte by byte.
// The answer is the first such byte's offset if that byte is '"', else -1.
TEXT ·plainString(SB), NOSPLIT, $0-40
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ i+24(FP), AX
	MOVQ CX, BX
	SUBQ AX, BX
	JLE  fail     // i ≥ len(b)
	CMPQ BX, $16
	JB   short

	LOADCONST
	LEAQ -16(CX), BX // the last offset a whole load may start at

block:
	MOVOU (SI)(AX*1), X0
	CLASSIFY
	POR     X5, X4
	PMOVMSKB X4, DX
	TESTL DX, DX
	JNZ   found
	ADDQ  $16, AX
	CMPQ  AX, BX
	JBE   block

	// Fewer than 16 bytes left, from AX: read the last 16 bytes of b, of
	// which the first AX - BX were judged already.
	CMPQ AX, CX
	JEQ  fail
	MOVQ AX, R8
	SUBQ BX, R8
	MOVQ BX, AX
	MOVOU (SI)(AX*1), X0
	CLASSIFY
	POR     X5, X4
	PMOVMSKB X4, DX
	MOVQ R8, CX
	SHRL CX, DX
	SHLL CX, DX
	TESTL DX, DX
	JZ   fail

found:
	BSFL DX, DX
	ADDQ DX, AX
	CMPB (SI)(AX*1), $0x22
	JNE  fail
	MOVQ AX, ret+32(FP)
	RET

short:
	MOVBLZX (SI)(AX*1), DX
	CMPB DL, $0x22
	JEQ  quote
	CMPB DL, $0x5c
	JEQ  fail
	CMPB DL, $0x20
	JB   fail
	CMPB DL, $0x80
	JAE  fail
	INCQ AX
	CMPQ AX, CX
	JB   short

fail:
	MOVQ $-1, ret+32(FP)
	RET

quote:
	MOVQ AX, ret+32(FP)
	RET

// func stringMasks(b []byte) (quotes, special uint64)
//
// For len(b) in [16, 64]: bit k of quotes is set when b[k] is '"', and bit
// k of special when b[k] needs attention inside a string ('\\', below 0x20
// or ≥ 0x80, as in plainString). Whole 16-byte blocks are classified in
// turn; a last, partial block is read as the final 16 bytes of b, its bits
// for bytes already classified shifted out.
TEXT ·stringMasks(SB), NOSPLIT, $0-40
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
	LOADCONST
	XORQ R8, R8 // quotes
	XORQ R9, R9 // special
	XORQ AX, AX // offset of the next block
	LEAQ -16(BX), R10 // the last offset a whole load may start at

mblock:
	MOVOU (SI)(AX*1), X0
	CLASSIFY
	PMOVMSKB X4, DX
	PMOVMSKB X5, DI
	MOVQ AX, CX
	SHLQ CX, DX
	SHLQ CX, DI
	ORQ  DX, R8
	ORQ  DI, R9
	ADDQ $16, AX
	CMPQ AX, R10
	JBE  mblock

	CMPQ AX, BX
	JEQ  mdone
	// The last 16 bytes, from R10; the first AX - R10 were classified.
	MOVOU (SI)(R10*1), X0
	CLASSIFY
	PMOVMSKB X4, DX
	PMOVMSKB X5, DI
	MOVQ AX, CX
	SUBQ R10, CX
	SHRQ CX, DX
	SHRQ CX, DI
	MOVQ AX, CX
	SHLQ CX, DX
	SHLQ CX, DI
	ORQ  DX, R8
	ORQ  DI, R9

mdone:
	MOVQ R8, quotes+24(FP)
	MOVQ R9, special+32(FP)
	RET
