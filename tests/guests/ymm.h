/* SPDX-License-Identifier: GPL-2.0 */
/*
 * YMM0-15 to 16 32-byte slots at a register's address, for the two sides
 * of the vector-state check: the guest xsave.bin and the host process
 * ymm-marker.  As an asm string, so that each side uses it in its own asm
 * statement with its own operand.
 */
#ifndef KQEMU_YMM_H
#define KQEMU_YMM_H

#define YMM_STORE_ALL(base)						\
	"vmovdqa %%ymm0, 0x000(" base ")\n vmovdqa %%ymm1, 0x020(" base ")\n"	\
	"vmovdqa %%ymm2, 0x040(" base ")\n vmovdqa %%ymm3, 0x060(" base ")\n"	\
	"vmovdqa %%ymm4, 0x080(" base ")\n vmovdqa %%ymm5, 0x0a0(" base ")\n"	\
	"vmovdqa %%ymm6, 0x0c0(" base ")\n vmovdqa %%ymm7, 0x0e0(" base ")\n"	\
	"vmovdqa %%ymm8, 0x100(" base ")\n vmovdqa %%ymm9, 0x120(" base ")\n"	\
	"vmovdqa %%ymm10, 0x140(" base ")\n vmovdqa %%ymm11, 0x160(" base ")\n" \
	"vmovdqa %%ymm12, 0x180(" base ")\n vmovdqa %%ymm13, 0x1a0(" base ")\n" \
	"vmovdqa %%ymm14, 0x1c0(" base ")\n vmovdqa %%ymm15, 0x1e0(" base ")\n"

#endif
