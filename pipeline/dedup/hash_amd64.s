#include "textflag.h"

// func keyHashAES(t *byte, tn int, id *byte, idn int) (hi, lo uint64)
//
// X0 is the state. The field being absorbed is at SI, CX bytes long; R9
// counts the fields done. Blocks are cut as keyHashRef's comment says.
TEXT ·keyHashAES(SB), NOSPLIT, $0-48
	MOVQ t+0(FP), SI
	MOVQ tn+8(FP), CX
	MOVQ id+16(FP), DI
	MOVQ idn+24(FP), DX
	MOVOU ·hashConst+0(SB), X0
	MOVQ  CX, X1
	PINSRQ $1, DX, X1
	PXOR  X1, X0
	XORQ  R9, R9

field:
	CMPQ CX, $16
	JA   long
	TESTQ CX, CX
	JEQ  next
	CMPQ CX, $8
	JB   under8
	// 8–16 bytes: bytes 0–7, then the last 8.
	MOVQ (SI), X1
	MOVQ -8(SI)(CX*1), AX
	PINSRQ $1, AX, X1
	AESENC X1, X0
	JMP  next

under8:
	CMPQ CX, $4
	JB   under4
	// 4–7 bytes: bytes 0–3, then the last 4.
	MOVL (SI), AX
	MOVL -4(SI)(CX*1), BX
	SHLQ $32, BX
	ORQ  BX, AX
	MOVQ AX, X1
	AESENC X1, X0
	JMP  next

under4:
	// 1–3 bytes: bytes 0, n/2 and n−1.
	MOVBQZX (SI), AX
	MOVQ CX, BX
	SHRQ $1, BX
	MOVBQZX (SI)(BX*1), BX
	SHLQ $8, BX
	ORQ  BX, AX
	MOVBQZX -1(SI)(CX*1), BX
	SHLQ $16, BX
	ORQ  BX, AX
	MOVQ AX, X1
	AESENC X1, X0
	JMP  next

long:
	// Above 16 bytes: whole blocks while more than 16 bytes remain, then
	// the last 16 bytes of the field.
	MOVOU (SI), X1
	AESENC X1, X0
	ADDQ $16, SI
	SUBQ $16, CX
	CMPQ CX, $16
	JA   long
	MOVOU -16(SI)(CX*1), X1
	AESENC X1, X0

next:
	TESTQ R9, R9
	JNE  final
	INCQ R9
	MOVQ DI, SI
	MOVQ DX, CX
	JMP  field

final:
	MOVOU ·hashConst+16(SB), X1
	AESENC X1, X0
	MOVOU ·hashConst+32(SB), X1
	AESENC X1, X0
	MOVQ   X0, AX
	PEXTRQ $1, X0, BX
	MOVQ BX, hi+32(FP)
	MOVQ AX, lo+40(FP)
	RET
