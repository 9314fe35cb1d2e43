#include "textflag.h"

// Sixteen copies each of '"', '\\' and 0x20.
DATA plainConst<>+0(SB)/8, $0x2222222222222222
DATA plainConst<>+8(SB)/8, $0x2222222222222222
DATA plainConst<>+16(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA plainConst<>+24(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA plainConst<>+32(SB)/8, $0x2020202020202020
DATA plainConst<>+40(SB)/8, $0x2020202020202020
GLOBL plainConst<>(SB), RODATA|NOPTR, $48

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

	MOVOU plainConst<>+0(SB), X1
	MOVOU plainConst<>+16(SB), X2
	MOVOU plainConst<>+32(SB), X3
	LEAQ -16(CX), BX // the last offset a whole load may start at

block:
	MOVOU (SI)(AX*1), X0
	MOVO    X0, X4
	PCMPEQB X1, X4
	MOVO    X0, X5
	PCMPEQB X2, X5
	MOVO    X3, X6
	PCMPGTB X0, X6
	POR     X5, X4
	POR     X6, X4
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
	MOVO    X0, X4
	PCMPEQB X1, X4
	MOVO    X0, X5
	PCMPEQB X2, X5
	MOVO    X3, X6
	PCMPGTB X0, X6
	POR     X5, X4
	POR     X6, X4
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
