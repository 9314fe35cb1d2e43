#include "textflag.h"

// ROUND is x86's AESENC of V0 with the block in V1: AESE with a zero key
// (V7) is ShiftRows and SubBytes, AESMC is MixColumns.
#define ROUND \
	AESE  V7.B16, V0.B16; \
	AESMC V0.B16, V0.B16; \
	VEOR  V1.B16, V0.B16, V0.B16

// func keyHashAES(t *byte, tn int, id *byte, idn int) (hi, lo uint64)
//
// V0 is the state. The field being absorbed is at R0, R1 bytes long; R9
// counts the fields done. Blocks are cut as keyHashRef's comment says.
TEXT ·keyHashAES(SB), NOSPLIT, $0-48
	MOVD t+0(FP), R0
	MOVD tn+8(FP), R1
	MOVD id+16(FP), R2
	MOVD idn+24(FP), R3
	MOVD $·hashConst(SB), R5
	VLD1.P 16(R5), [V0.B16]
	VMOV R1, V1.D[0]
	VMOV R3, V1.D[1]
	VEOR V1.B16, V0.B16, V0.B16
	VEOR V7.B16, V7.B16, V7.B16
	MOVD $0, R9

field:
	CMP  $16, R1
	BHI  long
	CBZ  R1, next
	ADD  R1, R0, R8 // the field's end
	CMP  $8, R1
	BLO  under8
	// 8–16 bytes: bytes 0–7, then the last 8.
	MOVD (R0), R6
	MOVD -8(R8), R7
	B    pair

under8:
	MOVD $0, R7
	CMP  $4, R1
	BLO  under4
	// 4–7 bytes: bytes 0–3, then the last 4.
	MOVWU (R0), R6
	MOVWU -4(R8), R10
	ORR   R10<<32, R6, R6
	B     pair

under4:
	// 1–3 bytes: bytes 0, n/2 and n−1.
	MOVBU (R0), R6
	LSR   $1, R1, R10
	MOVBU (R0)(R10), R10
	ORR   R10<<8, R6, R6
	MOVBU -1(R8), R10
	ORR   R10<<16, R6, R6

pair:
	VMOV R6, V1.D[0]
	VMOV R7, V1.D[1]
	ROUND
	B    next

long:
	// Above 16 bytes: whole blocks while more than 16 bytes remain, then
	// the last 16 bytes of the field.
	VLD1.P 16(R0), [V1.B16]
	ROUND
	SUB  $16, R1, R1
	CMP  $16, R1
	BHI  long
	ADD  R1, R0, R8
	SUB  $16, R8, R8
	VLD1 (R8), [V1.B16]
	ROUND

next:
	CBNZ R9, final
	MOVD $1, R9
	MOVD R2, R0
	MOVD R3, R1
	B    field

final:
	VLD1.P 16(R5), [V1.B16]
	ROUND
	VLD1.P 16(R5), [V1.B16]
	ROUND
	VMOV V0.D[0], R6
	VMOV V0.D[1], R7
	MOVD R7, hi+32(FP)
	MOVD R6, lo+40(FP)
	RET
