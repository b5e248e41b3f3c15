// SPDX-License-Identifier: GPL-2.0
/*
 * The x86 instructions guests use on device memory, decoded and carried
 * out for MMIO.  Without decode assists (QEMU's SVM has none) a nested
 * page fault or EPT violation says which guest-physical address was
 * touched and how, but not by which instruction: we fetch it from guest
 * memory (or take the bytes the CPU gives) and decode it here, for both
 * backends.  A load or store is one MMIO exit; a read-modify-write (ALU
 * ops, XCHG) is a read exit, then at the next KQEMU_RUN the result and
 * its flags, and a write exit; string ops do one element per exit.
 * Anything else goes to userspace as an emulation failure with its bytes.
 */
#include <linux/bitops.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <asm/processor-flags.h>

#include "kqemu.h"

#define X86_CR0_PG_BIT	31
#define X86_CR4_PAE_BIT	5
#define X86_CR4_PSE_BIT	4
#define X86_EFER_LMA_BIT 10

/* A page fault's error code. */
#define PF_PRESENT	BIT(0)
#define PF_WRITE	BIT(1)
#define PF_USER		BIT(2)

/* The flags arithmetic sets: CF, PF, AF, ZF, SF, OF. */
#define ARITH_FLAGS	(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | \
			 X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)

struct prefixes {
	bool opsize, addrsize, rex_w, rex_r, rex_b, rex_x, rex;
	bool rep;		/* F2 or F3 */
	int seg;		/* an override, 0-5 (ES, CS, SS, DS, FS, GS), or -1 */
};

/* Bytes of ModRM + SIB + displacement, from the ModRM byte on; -1 if short. */
static int modrm_length(const u8 *p, unsigned int avail, int addr_bits)
{
	u8 modrm, mod, rm;
	int len = 1;

	if (avail < 1)
		return -1;
	modrm = p[0];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod == 3)
		return 1;
	if (addr_bits == 16) {
		if (mod == 0 && rm == 6)
			len += 2;
		else
			len += mod == 1 ? 1 : mod == 2 ? 2 : 0;
		return len <= avail ? len : -1;
	}
	if (rm == 4) {
		if (avail < 2)
			return -1;
		len++;
		if (mod == 0 && (p[1] & 7) == 5)
			len += 4;
	} else if (mod == 0 && rm == 5) {
		len += 4;
	}
	len += mod == 1 ? 1 : mod == 2 ? 4 : 0;
	return len <= avail ? len : -1;
}

/* The legacy and REX prefixes; returns where the opcode starts. */
static unsigned int decode_prefixes(const u8 *bytes, unsigned int avail, int mode,
				    struct prefixes *pfx)
{
	unsigned int i = 0;

	memset(pfx, 0, sizeof(*pfx));
	pfx->seg = -1;
	for (; i < avail && i < 15; i++) {
		u8 b = bytes[i];

		if (b == 0x66)
			pfx->opsize = true;
		else if (b == 0x67)
			pfx->addrsize = true;
		else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e)
			pfx->seg = (b >> 3) & 3;	/* ES, CS, SS, DS */
		else if (b == 0x64 || b == 0x65)
			pfx->seg = b - 0x64 + 4;	/* FS, GS */
		else if (b == 0xf2 || b == 0xf3)
			pfx->rep = true;
		else if (b != 0xf0)
			break;
	}
	if (mode == 64 && i < avail && (bytes[i] & 0xf0) == 0x40) {
		u8 rex = bytes[i++];

		pfx->rex = true;
		pfx->rex_w = rex & 8;
		pfx->rex_r = rex & 4;
		pfx->rex_x = rex & 2;
		pfx->rex_b = rex & 1;
	}
	return i;
}

/*
 * The memory operand's ModRM (and the register in its reg field), for
 * every form but moffs and the string ops.
 */
static int decode_modrm(const u8 *bytes, unsigned int avail, unsigned int *i,
			int addr_bits, const struct prefixes *pfx, bool byte_op,
			struct kqemu_insn *insn)
{
	int mlen;
	u8 modrm;

	if (*i >= avail)
		return -ENODATA;
	modrm = bytes[*i];
	if ((modrm >> 6) == 3)
		return -EINVAL;		/* a register operand: not a memory access */
	mlen = modrm_length(bytes + *i, avail - *i, addr_bits);
	if (mlen < 0)
		return -ENODATA;
	*i += mlen;
	insn->reg = ((modrm >> 3) & 7) | (pfx->rex_r ? 8 : 0);
	/* Without REX, byte registers 4-7 are AH, CH, DH, BH. */
	if (byte_op && !pfx->rex && insn->reg >= 4) {
		insn->reg -= 4;
		insn->high_byte = true;
	}
	return 0;
}

/* An immediate of LEN bytes, sign-extended, then cut to the operand size. */
static int decode_imm(const u8 *bytes, unsigned int avail, unsigned int *i,
		      unsigned int len, struct kqemu_insn *insn)
{
	u64 imm = 0;

	if (*i + len > avail)
		return -ENODATA;
	memcpy(&imm, bytes + *i, len);
	*i += len;
	if (len == 1)
		imm = (u64)(s64)(s8)imm;
	else if (len == 2)
		imm = (u64)(s64)(s16)imm;
	else
		imm = (u64)(s64)(s32)imm;
	insn->imm = insn->size == 8 ? imm : imm & ((1ULL << (insn->size * 8)) - 1);
	insn->has_imm = true;
	return 0;
}

/*
 * mode: 16, 32 or 64, the code segment's default.  Fills insn and returns
 * 0; -ENODATA where the bytes end before the instruction does (a fetch
 * that stopped short), -EINVAL for an instruction this decoder does not
 * know.
 */
int kqemu_decode_mmio(const u8 *bytes, unsigned int avail, int mode,
		      struct kqemu_insn *insn)
{
	struct prefixes pfx;
	unsigned int i, grp;
	int addr_bits, op_size, ret;
	u8 op;
	bool byte_op;

	memset(insn, 0, sizeof(*insn));
	i = decode_prefixes(bytes, avail, mode, &pfx);
	if (i >= avail)
		return i >= 15 ? -EINVAL : -ENODATA;
	op = bytes[i++];

	addr_bits = mode == 64 ? (pfx.addrsize ? 32 : 64) :
		    mode == 32 ? (pfx.addrsize ? 16 : 32) : (pfx.addrsize ? 32 : 16);
	op_size = pfx.rex_w ? 8 : (mode == 16) != pfx.opsize ? 2 : 4;
	byte_op = !(op & 1);
	insn->size = byte_op ? 1 : op_size;
	insn->op = KQEMU_OP_MOV;
	insn->seg = pfx.seg >= 0 ? pfx.seg : KQEMU_SEG_DS;
	insn->addr_size = addr_bits / 8;

	if (op == 0x0f) {
		if (i >= avail)
			return -ENODATA;
		op = bytes[i++];
		/* MOVZX, MOVSX from 8 or 16 bits; F2/F3 make other ops of 0F xx. */
		if (pfx.rep || (op != 0xb6 && op != 0xb7 && op != 0xbe && op != 0xbf))
			return -EINVAL;
		insn->size = op & 1 ? 2 : 1;
		insn->dst_size = op_size;
		insn->sign_extend = op >= 0xbe;
		ret = decode_modrm(bytes, avail, &i, addr_bits, &pfx, false, insn);
		goto done;
	}

	switch (op) {
	case 0x00 ... 0x3f:
		/*
		 * ADD, OR, ADC, SBB, AND, SUB, XOR, CMP: bits 3-5 name the op,
		 * bit 1 the direction; PUSH/POP of segments, the prefixes and
		 * the BCD ops (low 3 bits 4 to 7) are not these.
		 */
		if ((op & 7) > 3)
			return -EINVAL;
		insn->op = KQEMU_OP_ALU;
		insn->alu = op >> 3;
		insn->mem_dst = !(op & 2);
		ret = decode_modrm(bytes, avail, &i, addr_bits, &pfx, byte_op, insn);
		break;
	case 0x63:
		/* MOVSXD, 64-bit mode only (elsewhere ARPL); without REX.W a MOV. */
		if (mode != 64)
			return -EINVAL;
		insn->size = min(op_size, 4);
		insn->dst_size = op_size;
		insn->sign_extend = true;
		ret = decode_modrm(bytes, avail, &i, addr_bits, &pfx, false, insn);
		break;
	case 0x80 ... 0x83:
		/* Group 1 with an immediate; 0x82 (0x80's alias) is #UD in 64-bit mode. */
		if (op == 0x82 && mode == 64)
			return -EINVAL;
		byte_op = op != 0x81 && op != 0x83;
		insn->size = byte_op ? 1 : op_size;
		insn->op = KQEMU_OP_ALU;
		insn->mem_dst = true;
		ret = decode_modrm(bytes, avail, &i, addr_bits, &pfx, false, insn);
		if (ret)
			return ret;
		insn->alu = insn->reg & 7;
		insn->reg = 0;
		insn->high_byte = false;
		ret = decode_imm(bytes, avail, &i, op == 0x81 ? min(insn->size, (u8)4) : 1, insn);
		break;
	case 0x84: case 0x85:
		insn->op = KQEMU_OP_ALU;
		insn->alu = KQEMU_ALU_TEST;
		insn->mem_dst = true;
		ret = decode_modrm(bytes, avail, &i, addr_bits, &pfx, byte_op, insn);
		break;
	case 0x86: case 0x87:
		insn->op = KQEMU_OP_XCHG;
		ret = decode_modrm(bytes, avail, &i, addr_bits, &pfx, byte_op, insn);
		break;
	case 0x88 ... 0x8b:		/* MOV r/m, reg; MOV reg, r/m */
		insn->is_write = op <= 0x89;
		ret = decode_modrm(bytes, avail, &i, addr_bits, &pfx, byte_op, insn);
		break;
	case 0xa0 ... 0xa3:
		/* MOV AL/rAX to or from moffs, as wide as the address size. */
		insn->is_write = op >= 0xa2;
		if (i + addr_bits / 8 > avail)
			return -ENODATA;
		i += addr_bits / 8;
		ret = 0;
		break;
	case 0xa4: case 0xa5:
		insn->op = KQEMU_OP_MOVS;
		insn->rep = pfx.rep;
		ret = 0;
		break;
	case 0xaa: case 0xab:
		insn->op = KQEMU_OP_STOS;
		insn->rep = pfx.rep;
		ret = 0;
		break;
	case 0xac: case 0xad:
		insn->op = KQEMU_OP_LODS;
		insn->rep = pfx.rep;
		ret = 0;
		break;
	case 0xc6: case 0xc7:		/* MOV r/m, imm: /0 only */
		insn->is_write = true;
		ret = decode_modrm(bytes, avail, &i, addr_bits, &pfx, false, insn);
		if (ret)
			return ret;
		if (insn->reg & 7)
			return -EINVAL;
		insn->reg = 0;
		ret = decode_imm(bytes, avail, &i, min(insn->size, (u8)4), insn);
		break;
	case 0xf6: case 0xf7:
	case 0xfe: case 0xff:
		/* Group 3: TEST imm, NOT, NEG; group 4/5: INC, DEC. */
		ret = decode_modrm(bytes, avail, &i, addr_bits, &pfx, false, insn);
		if (ret)
			return ret;
		grp = insn->reg & 7;
		insn->reg = 0;
		insn->high_byte = false;
		insn->op = KQEMU_OP_ALU;
		insn->mem_dst = true;
		if (op >= 0xfe) {
			if (grp > 1)
				return -EINVAL;	/* CALL, JMP, PUSH: not on device memory */
			insn->alu = grp ? KQEMU_ALU_DEC : KQEMU_ALU_INC;
			break;
		}
		if (grp > 3)
			return -EINVAL;		/* MUL, IMUL, DIV, IDIV */
		if (grp == 2 || grp == 3) {
			insn->alu = grp == 2 ? KQEMU_ALU_NOT : KQEMU_ALU_NEG;
			break;
		}
		insn->alu = KQEMU_ALU_TEST;	/* /1 is /0's alias */
		ret = decode_imm(bytes, avail, &i, min(insn->size, (u8)4), insn);
		break;
	default:
		return -EINVAL;
	}
done:
	if (ret)
		return ret;
	if (!insn->dst_size)
		insn->dst_size = insn->size;
	if (i > 15)
		return -EINVAL;
	insn->len = i;
	return 0;
}

u64 kqemu_reg_read(const u64 *gprs, const struct kqemu_insn *insn)
{
	u64 value = gprs[insn->reg];

	if (insn->high_byte)
		value >>= 8;
	return insn->size == 8 ? value : value & ((1ULL << (insn->size * 8)) - 1);
}

/* A read's data into its register, as the CPU would write it. */
void kqemu_reg_write(u64 *gprs, const struct kqemu_insn *insn, u64 value)
{
	u64 *reg = &gprs[insn->reg];
	unsigned int bits = insn->size * 8;

	if (bits < 64) {
		value &= (1ULL << bits) - 1;
		if (insn->sign_extend && (value >> (bits - 1)))
			value |= ~0ULL << bits;
	}
	if (insn->high_byte) {
		*reg = (*reg & ~0xff00ULL) | ((value & 0xff) << 8);
		return;
	}
	switch (insn->dst_size) {
	case 1:
		*reg = (*reg & ~0xffULL) | (value & 0xff);
		break;
	case 2:
		*reg = (*reg & ~0xffffULL) | (value & 0xffff);
		break;
	case 4:
		*reg = (u32)value;	/* 32-bit writes clear the upper half */
		break;
	default:
		*reg = value;
	}
}

static u64 size_mask(unsigned int bytes)
{
	return bytes == 8 ? ~0ULL : (1ULL << (bytes * 8)) - 1;
}

/*
 * An ALU op on A (the destination) and B, SIZE bytes wide: the result,
 * and in *RFLAGS the arithmetic flags as the CPU sets them.  Where the
 * manuals leave a flag undefined (AF after AND, OR, XOR, TEST) it is
 * cleared, as the CPUs we know do.
 */
u64 kqemu_alu(unsigned int alu, u64 a, u64 b, unsigned int size, u64 *rflags)
{
	u64 mask = size_mask(size), sign = 1ULL << (size * 8 - 1);
	u64 carry_in = *rflags & X86_EFLAGS_CF ? 1 : 0;
	u64 r, flags = 0;
	bool keep_cf = false;

	a &= mask;
	b &= mask;
	switch (alu) {
	case KQEMU_ALU_INC:
		b = 1;
		keep_cf = true;
		fallthrough;
	case KQEMU_ALU_ADD:
	case KQEMU_ALU_ADC:
		if (alu != KQEMU_ALU_ADC)
			carry_in = 0;
		r = (a + b + carry_in) & mask;
		if (r < a || (carry_in && r == a))
			flags |= X86_EFLAGS_CF;
		if ((a ^ r) & (b ^ r) & sign)
			flags |= X86_EFLAGS_OF;
		flags |= (a ^ b ^ r) & X86_EFLAGS_AF;
		break;
	case KQEMU_ALU_DEC:
		b = 1;
		keep_cf = true;
		fallthrough;
	case KQEMU_ALU_SUB:
	case KQEMU_ALU_SBB:
	case KQEMU_ALU_CMP:
		if (alu != KQEMU_ALU_SBB)
			carry_in = 0;
		r = (a - b - carry_in) & mask;
		if (a < b || (carry_in && a == b))
			flags |= X86_EFLAGS_CF;
		if ((a ^ b) & (a ^ r) & sign)
			flags |= X86_EFLAGS_OF;
		flags |= (a ^ b ^ r) & X86_EFLAGS_AF;
		break;
	case KQEMU_ALU_NEG:
		r = (0 - a) & mask;
		if (a)
			flags |= X86_EFLAGS_CF;
		if (a == sign)
			flags |= X86_EFLAGS_OF;
		flags |= (a ^ r) & X86_EFLAGS_AF;
		break;
	case KQEMU_ALU_NOT:
		return ~a & mask;		/* no flags change */
	case KQEMU_ALU_OR:
		r = a | b;
		break;
	case KQEMU_ALU_XOR:
		r = a ^ b;
		break;
	default:			/* AND, TEST */
		r = a & b;
		break;
	}
	if (!r)
		flags |= X86_EFLAGS_ZF;
	if (r & sign)
		flags |= X86_EFLAGS_SF;
	if (!(hweight8(r & 0xff) & 1))
		flags |= X86_EFLAGS_PF;
	if (keep_cf)
		flags = (flags & ~X86_EFLAGS_CF) | (*rflags & X86_EFLAGS_CF);
	*rflags = (*rflags & ~ARITH_FLAGS) | flags;
	return r;
}

/* --- carrying it out ---------------------------------------------------- */

static int exit_mmio(struct kqemu_vcpu *vcpu, u64 gpa, unsigned int len, bool write,
		     u64 value)
{
	struct kqemu_run *run = vcpu->run;

	run->exit_reason = KQEMU_EXIT_MMIO;
	run->mmio.phys_addr = gpa;
	run->mmio.len = len;
	run->mmio.is_write = write;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	if (write)
		memcpy(run->mmio.data, &value, len);
	return 1;
}

/* A read exit, whose data kqemu_mmio_complete() takes at the next KQEMU_RUN. */
static int exit_mmio_read(struct kqemu_vcpu *vcpu, const struct kqemu_insn *insn, u64 gpa)
{
	vcpu->pending_exit = KQEMU_EXIT_MMIO;
	vcpu->mmio.insn = *insn;
	vcpu->mmio.gpa = gpa;
	vcpu->next_rip = vcpu->rip + insn->len;
	return exit_mmio(vcpu, gpa, insn->size, false, 0);
}

/*
 * KQEMU_INTERNAL_ERROR_EMULATION for an MMIO access: the address and the
 * instruction's bytes (as many as could be read), for the VMM to emulate
 * or report; the registers it can read itself.
 */
static int exit_emulation(struct kqemu_vcpu *vcpu, u64 gpa, const u8 *bytes,
			  unsigned int n)
{
	struct kqemu_run *run = vcpu->run;

	run->exit_reason = KQEMU_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KQEMU_INTERNAL_ERROR_EMULATION;
	run->internal.flags = n ? KQEMU_INTERNAL_INSN : 0;
	memset(run->internal.data, 0, sizeof(run->internal.data));
	run->internal.data[0] = gpa;
	run->internal.data[1] = n;
	if (n)
		memcpy(&run->internal.data[2], bytes, min(n, 15U));
	return 1;
}

/* KQEMU_INTERNAL_ERROR_FETCH: the instruction is where no slot backs. */
int kqemu_exit_fetch(struct kqemu_vcpu *vcpu, u64 gpa)
{
	struct kqemu_run *run = vcpu->run;

	run->exit_reason = KQEMU_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KQEMU_INTERNAL_ERROR_FETCH;
	run->internal.flags = 0;
	memset(run->internal.data, 0, sizeof(run->internal.data));
	run->internal.data[0] = gpa;
	run->internal.data[2] = vcpu->rip;
	return 1;
}

/*
 * An NPF or EPT violation at GPA: guest memory the guest touched first, or
 * whose mapping the MMU notifier took away, is mapped and the guest goes
 * on (0).  Memory the VMM no longer has there is an exit for the VMM (1).
 * KQEMU_FAULT_MMIO: no slot backs GPA for this access, the caller emulates.
 */
int kqemu_nested_fault(struct kqemu_vcpu *vcpu, u64 gpa, bool write)
{
	struct kqemu_run *run = vcpu->run;
	int ret = kqemu_map_gpa(vcpu, gpa, write);

	if (ret == 1)
		return KQEMU_FAULT_MMIO;
	if (ret != -EFAULT)
		return ret;
	run->exit_reason = KQEMU_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KQEMU_INTERNAL_ERROR_MEMORY;
	run->internal.flags = 0;
	memset(run->internal.data, 0, sizeof(run->internal.data));
	run->internal.data[0] = gpa;
	run->internal.data[1] = write;
	run->internal.data[2] = vcpu->rip;
	return 1;
}

/* A linear address to guest-physical through the guest's tables. */
static int walk(struct kqemu_vm *vm, const struct kqemu_guest_view *g, u64 linear, u64 *gpa)
{
	const struct kqemu_paging *pg = &g->paging;

	return kqemu_gva_to_gpa(vm, pg->cr0, pg->cr3, pg->cr4, pg->efer, linear, gpa);
}

/*
 * Up to 15 bytes at the guest's RIP, stopping where memory ends; *STOP is
 * the guest-physical address where it did (all ones where the guest's own
 * tables do not map it).
 */
unsigned int kqemu_fetch_insn(struct kqemu_vcpu *vcpu, const struct kqemu_guest_view *g,
			      u8 *bytes, u64 *stop)
{
	struct kqemu_vm *vm = vcpu->vm;
	u64 linear = g->mode == 64 ? vcpu->rip : (u32)(g->seg_base[KQEMU_SEG_CS] + vcpu->rip);
	unsigned int got = 0;
	u64 gpa = ~0ULL;

	while (got < 15) {
		unsigned int chunk = min_t(unsigned int, 15 - got,
					   PAGE_SIZE - offset_in_page(linear + got));

		gpa = ~0ULL;
		if (walk(vm, g, linear + got, &gpa) ||
		    kqemu_read_guest(vm, gpa, bytes + got, chunk))
			break;
		got += chunk;
	}
	if (stop)
		*stop = gpa;
	return got;
}

/* RSI, RDI or RCX as the address size has it: the low 16, 32 or 64 bits. */
static void reg_assign(u64 *reg, u64 value, unsigned int addr_size)
{
	if (addr_size == 2)
		*reg = (*reg & ~0xffffULL) | (value & 0xffff);
	else if (addr_size == 4)
		*reg = (u32)value;
	else
		*reg = value;
}

/*
 * One element of a string op done: RSI and/or RDI step by its size, down
 * with RFLAGS.DF; with REP, RCX counts down and RIP moves on only once it
 * reaches 0, so that the guest re-executes the instruction for the next
 * element (which may run in the guest, if it is not MMIO) and can take an
 * interrupt between elements, as on the CPU.
 */
static void string_step(struct kqemu_vcpu *vcpu, const struct kqemu_insn *insn,
			bool src, bool dst, u64 next_rip)
{
	u64 delta = vcpu->rflags & X86_EFLAGS_DF ? -(u64)insn->size : insn->size;
	unsigned int ad = insn->addr_size;
	u64 *rcx = &vcpu->gprs[1];

	if (src)
		reg_assign(&vcpu->gprs[6], vcpu->gprs[6] + delta, ad);
	if (dst)
		reg_assign(&vcpu->gprs[7], vcpu->gprs[7] + delta, ad);
	if (insn->rep) {
		reg_assign(rcx, *rcx - 1, ad);
		if (*rcx & size_mask(ad))
			return;
	}
	vcpu->rip = next_rip;
}

/* Where a string op's operand is: its segment's base (64-bit mode: FS, GS only) + offset. */
static u64 string_linear(const struct kqemu_guest_view *g, unsigned int seg, u64 offset,
			 unsigned int addr_size)
{
	offset &= size_mask(addr_size);
	if (g->mode == 64)
		return seg == KQEMU_SEG_FS || seg == KQEMU_SEG_GS ?
		       g->seg_base[seg] + offset : offset;
	return (u32)(g->seg_base[seg] + offset);
}

struct string_operand {
	u64 gpa;
	bool mmio;		/* no slot backs it (for a write: no writable one) */
};

static int string_operand(struct kqemu_vm *vm, const struct kqemu_guest_view *g,
			  const struct kqemu_insn *insn, unsigned int seg, u64 offset,
			  bool write, struct string_operand *o)
{
	u64 linear = string_linear(g, seg, offset, insn->addr_size);
	int ret;

	/* An element split across two pages is beyond this emulator. */
	if (offset_in_page(linear) + insn->size > PAGE_SIZE)
		return -EINVAL;
	ret = walk(vm, g, linear, &o->gpa);
	if (ret)
		return ret;
	o->mmio = !kqemu_slot_backs(vm, o->gpa, write);
	return 0;
}

static int string_op(struct kqemu_vcpu *vcpu, const struct kqemu_guest_view *g,
		     const struct kqemu_insn *insn, u64 gpa, const u8 *bytes)
{
	struct kqemu_vm *vm = vcpu->vm;
	struct string_operand src = { .mmio = false }, dst = { .mmio = false };
	bool reads = insn->op != KQEMU_OP_STOS, writes = insn->op != KQEMU_OP_LODS;
	u64 value = 0;
	int ret;

	if (reads && string_operand(vm, g, insn, insn->seg, vcpu->gprs[6], false, &src))
		return exit_emulation(vcpu, gpa, bytes, insn->len);
	/* The destination is always ES:rDI, whatever the prefixes say. */
	if (writes && string_operand(vm, g, insn, KQEMU_SEG_ES, vcpu->gprs[7], true, &dst))
		return exit_emulation(vcpu, gpa, bytes, insn->len);
	/*
	 * The caller saw GPA unbacked, so one operand must be there.  If the
	 * guest's tables say otherwise (it changed them without flushing its
	 * TLB, or another vCPU did), entering again could fault for ever:
	 * the VMM hears of it instead, unless a slot now backs GPA (a race
	 * with its addition: the guest does the access itself).
	 */
	if (!(src.mmio && (src.gpa >> PAGE_SHIFT) == (gpa >> PAGE_SHIFT)) &&
	    !(dst.mmio && (dst.gpa >> PAGE_SHIFT) == (gpa >> PAGE_SHIFT)))
		return kqemu_slot_backs(vm, gpa, true) ? 0 :
		       exit_emulation(vcpu, gpa, bytes, insn->len);

	vcpu->mmio.dst_gpa = dst.gpa;
	vcpu->mmio.dst_mmio = dst.mmio;
	if (src.mmio)
		return exit_mmio_read(vcpu, insn, src.gpa);

	/* From guest memory (MOVS) or rAX (STOS) to MMIO: a write exit now. */
	if (insn->op == KQEMU_OP_MOVS) {
		ret = kqemu_read_guest(vm, src.gpa, &value, insn->size);
		if (ret)
			return exit_emulation(vcpu, gpa, bytes, insn->len);
	} else {
		value = vcpu->gprs[0] & size_mask(insn->size);
	}
	string_step(vcpu, insn, insn->op == KQEMU_OP_MOVS, true, vcpu->rip + insn->len);
	return exit_mmio(vcpu, dst.gpa, insn->size, true, value);
}

/*
 * An access to GPA that no slot backs (or a write to a read-only slot),
 * by the instruction at the guest's RIP: carried out as MMIO exits.
 * HINT, HINT_LEN: its bytes where the CPU gave them (decode assists), or
 * NULL; then, or if they are too few, they are read from guest memory.
 * Returns 1 (an exit in the run area) or 0 (enter the guest again).
 */
int kqemu_emulate_mmio(struct kqemu_vcpu *vcpu, const struct kqemu_guest_view *g,
		       u64 gpa, const u8 *hint, unsigned int hint_len)
{
	struct kqemu_insn insn;
	unsigned int avail = 0;
	u8 bytes[15];
	u64 stop = ~0ULL, value;
	int ret = -ENODATA;

	if (hint && hint_len) {
		avail = min(hint_len, 15U);
		memcpy(bytes, hint, avail);
		ret = kqemu_decode_mmio(bytes, avail, g->mode, &insn);
	}
	if (ret == -ENODATA) {
		avail = kqemu_fetch_insn(vcpu, g, bytes, &stop);
		ret = kqemu_decode_mmio(bytes, avail, g->mode, &insn);
	}
	/* The instruction runs on into memory that nothing backs. */
	if (ret == -ENODATA && avail < 15)
		return kqemu_exit_fetch(vcpu, stop);
	if (ret)
		return exit_emulation(vcpu, gpa, bytes, avail);

	switch (insn.op) {
	case KQEMU_OP_MOV:
		if (!insn.is_write)
			return exit_mmio_read(vcpu, &insn, gpa);
		value = insn.has_imm ? insn.imm : kqemu_reg_read(vcpu->gprs, &insn);
		vcpu->rip += insn.len;
		return exit_mmio(vcpu, gpa, insn.size, true, value);
	case KQEMU_OP_ALU:
	case KQEMU_OP_XCHG:
		/* Read first; the rest once the VMM has answered. */
		return exit_mmio_read(vcpu, &insn, gpa);
	default:
		return string_op(vcpu, g, &insn, gpa, bytes);
	}
}

/*
 * At the KQEMU_RUN after a read exit: the data into its register, or the
 * rest of the instruction.  Returns 1 where that is another exit (the
 * write of an RMW, XCHG or MOVS to MMIO; an error) for userspace first,
 * 0 where the guest goes on.
 */
int kqemu_mmio_complete(struct kqemu_vcpu *vcpu)
{
	struct kqemu_insn *insn = &vcpu->mmio.insn;
	u64 data = 0, result, old;
	int ret;

	memcpy(&data, vcpu->run->mmio.data, insn->size);
	vcpu->pending_exit = 0;
	switch (insn->op) {
	case KQEMU_OP_MOV:
		kqemu_reg_write(vcpu->gprs, insn, data);
		break;
	case KQEMU_OP_ALU:
		if (insn->mem_dst) {
			u64 other = insn->has_imm ? insn->imm : kqemu_reg_read(vcpu->gprs, insn);

			result = kqemu_alu(insn->alu, data, other, insn->size, &vcpu->rflags);
		} else {
			result = kqemu_alu(insn->alu, kqemu_reg_read(vcpu->gprs, insn), data,
					   insn->size, &vcpu->rflags);
		}
		vcpu->rip = vcpu->next_rip;
		/* CMP and TEST only set flags. */
		if (insn->alu == KQEMU_ALU_CMP || insn->alu == KQEMU_ALU_TEST)
			return 0;
		if (insn->mem_dst)
			return exit_mmio(vcpu, vcpu->mmio.gpa, insn->size, true, result);
		kqemu_reg_write(vcpu->gprs, insn, result);
		return 0;
	case KQEMU_OP_XCHG:
		old = kqemu_reg_read(vcpu->gprs, insn);
		kqemu_reg_write(vcpu->gprs, insn, data);
		vcpu->rip = vcpu->next_rip;
		return exit_mmio(vcpu, vcpu->mmio.gpa, insn->size, true, old);
	case KQEMU_OP_LODS:
		/* Into AL, AX, EAX or RAX (insn->reg is 0). */
		kqemu_reg_write(vcpu->gprs, insn, data);
		string_step(vcpu, insn, true, false, vcpu->next_rip);
		return 0;
	case KQEMU_OP_MOVS:
		if (!vcpu->mmio.dst_mmio) {
			ret = kqemu_write_guest(vcpu->vm, vcpu->mmio.dst_gpa, &data, insn->size);
			/* The slot went away meanwhile: say so, not drop the data. */
			if (ret)
				return exit_emulation(vcpu, vcpu->mmio.dst_gpa, NULL, 0);
		}
		string_step(vcpu, insn, true, true, vcpu->next_rip);
		if (vcpu->mmio.dst_mmio)
			return exit_mmio(vcpu, vcpu->mmio.dst_gpa, insn->size, true, data);
		return 0;
	}
	vcpu->rip = vcpu->next_rip;
	return 0;
}

/*
 * The guest's own page tables: linear to guest-physical.  Never under
 * mmu_lock: the tables are guest memory, read through the VMM's mappings.
 *
 * With KQEMU_ACCESS_CHECK the walk is the one the CPU makes for a data
 * access of the guest (string I/O's memory operand): the permissions of
 * every level are checked as the CPU checks them (U/S at CPL 3, R/W for a
 * write at CPL 3 or with CR0.WP, SMAP for a supervisor access to a user
 * page with RFLAGS.AC clear), and a successful walk sets the accessed bits,
 * and the dirty bit of the leaf for a write, as the CPU would.  Reserved
 * bits are not checked: a guest that sets them gets the translation its
 * other bits say, not the #PF(RSVD) of a CPU.  Protection keys are never
 * on (kqemu gives guests no CR4.PKE), and NX does not concern data.
 *
 * Returns 0 with *gpa; 1 for a page fault, with *pf_error its error code
 * (P, W/R, U/S); -EFAULT when a table lies in memory no slot backs.
 */
int kqemu_gva_translate(struct kqemu_vm *vm, const struct kqemu_paging *pg,
			u64 gva, unsigned int access, u64 *gpa, u32 *pf_error)
{
	bool check = access & KQEMU_ACCESS_CHECK;
	bool write = access & KQEMU_ACCESS_WRITE;
	bool user = pg->cpl == 3;
	u32 error = (write ? PF_WRITE : 0) | (user ? PF_USER : 0);
	u64 seen_gpa[4], seen[4];	/* the entries walked, for A and D */
	unsigned int esize, bits, nseen = 0, i;
	bool all_rw = true, all_us = true;
	int levels, shift;
	u64 table, entry = 0, frame, addr_mask;

	if (!(pg->cr0 & BIT_ULL(X86_CR0_PG_BIT))) {
		*gpa = gva & 0xffffffffULL;
		return 0;
	}
	if (pg->efer & BIT_ULL(X86_EFER_LMA_BIT)) {
		levels = 4;
		shift = 39;
		esize = 8;
		table = pg->cr3 & 0x000ffffffffff000ULL;
	} else if (pg->cr4 & BIT_ULL(X86_CR4_PAE_BIT)) {
		u64 pdpte;

		/* A PDPTE has no permission bits; the CPU loaded it with CR3. */
		if (kqemu_read_guest(vm, (pg->cr3 & 0xffffffe0ULL) + ((gva >> 30) & 3) * 8,
				     &pdpte, 8))
			return -EFAULT;
		if (!(pdpte & 1))
			goto not_present;
		levels = 2;
		shift = 21;
		esize = 8;
		table = pdpte & 0x000ffffffffff000ULL;
	} else {
		/* 32-bit paging: 4-byte entries, 10 bits a level. */
		levels = 2;
		shift = 22;
		esize = 4;
		table = pg->cr3 & 0xfffff000ULL;
	}
	bits = esize == 8 ? 9 : 10;
	addr_mask = esize == 8 ? 0x000ffffffffff000ULL : 0xfffff000ULL;

	for (; levels; levels--, shift -= bits) {
		u64 at = table + ((gva >> shift) & ((1U << bits) - 1)) * esize;

		entry = 0;
		if (kqemu_read_guest(vm, at, &entry, esize))
			return -EFAULT;
		if (!(entry & 1))
			goto not_present;
		seen_gpa[nseen] = at;
		seen[nseen++] = entry;
		all_rw &= !!(entry & 2);
		all_us &= !!(entry & 4);
		table = entry & addr_mask;
		/*
		 * A large page: 1 GiB at a 4-level PDPT, 2 MiB at a PAE or
		 * 4-level PD, 4 MiB at a 32-bit PD with CR4.PSE (whose bits
		 * above 4 GiB, PSE-36, are not honoured).
		 */
		if (levels > 1 && (entry & 0x80) &&
		    (esize == 8 || (pg->cr4 & BIT_ULL(X86_CR4_PSE_BIT))) &&
		    (esize == 4 || shift <= 30))
			break;
	}
	frame = levels ? table & ~((1ULL << shift) - 1) : table;
	if (levels)
		*gpa = frame | (gva & ((1ULL << shift) - 1));
	else
		*gpa = frame | (gva & 0xfff);
	if (!check)
		return 0;

	if ((user && !all_us) ||
	    (write && !all_rw && (user || (pg->cr0 & X86_CR0_WP))) ||
	    (!user && all_us && (pg->cr4 & X86_CR4_SMAP) && !(pg->rflags & X86_EFLAGS_AC))) {
		*pf_error = error | PF_PRESENT;
		return 1;
	}
	for (i = 0; i < nseen; i++) {
		u32 set = 0x20;		/* accessed */

		if (i == nseen - 1 && write)
			set |= 0x40;	/* dirty */
		if ((seen[i] & set) != set)
			kqemu_guest_set_bits(vm, seen_gpa[i], set);
	}
	return 0;

not_present:
	*pf_error = error;
	return check ? 1 : -EFAULT;
}

/* The same walk, for kqemu's own reads (instruction fetches): no checks. */
int kqemu_gva_to_gpa(struct kqemu_vm *vm, u64 cr0, u64 cr3, u64 cr4, u64 efer,
		     u64 gva, u64 *gpa)
{
	struct kqemu_paging pg = { .cr0 = cr0, .cr3 = cr3, .cr4 = cr4, .efer = efer };
	u32 error;

	return kqemu_gva_translate(vm, &pg, gva, 0, gpa, &error) ? -EFAULT : 0;
}

/*
 * INS or OUTS, from its bytes (at the guest's CS:RIP), where the hardware
 * does not say what the CPU decoded: the segment of OUTS's source (DS
 * unless overridden) and the address size.  Returns 0, or -EINVAL when
 * the bytes are not INS or OUTS (the guest changed them meanwhile).
 */
int kqemu_decode_string_io(const u8 *bytes, unsigned int avail, int mode,
			   int *seg, int *addr_bits)
{
	struct prefixes pfx;
	unsigned int i = decode_prefixes(bytes, avail, mode, &pfx);

	if (i >= avail || i >= 15 || bytes[i] < 0x6c || bytes[i] > 0x6f)
		return -EINVAL;
	*seg = pfx.seg >= 0 ? pfx.seg : KQEMU_SEG_DS;
	*addr_bits = mode == 64 ? (pfx.addrsize ? 32 : 64) :
		     mode == 32 ? (pfx.addrsize ? 16 : 32) : (pfx.addrsize ? 32 : 16);
	return 0;
}

/*
 * MOV to a control register (0F 22 /r), the one instruction a CR-write
 * intercept can stop at where the CPU does not decode it for us.  Returns
 * 0 with the control register, the source GPR and the length, or -EINVAL.
 */
int kqemu_decode_mov_to_cr(const u8 *bytes, unsigned int avail, int mode,
			   unsigned int *cr, unsigned int *gpr, unsigned int *len)
{
	struct prefixes pfx;
	unsigned int i = decode_prefixes(bytes, avail, mode, &pfx);
	u8 modrm;

	if (i + 3 > avail || bytes[i] != 0x0f || bytes[i + 1] != 0x22)
		return -EINVAL;
	modrm = bytes[i + 2];
	/* The mod bits are ignored: the operand is always a register. */
	*cr = ((modrm >> 3) & 7) | (pfx.rex_r ? 8 : 0);
	*gpr = (modrm & 7) | (pfx.rex_b ? 8 : 0);
	*len = i + 3;
	return 0;
}

/*
 * A guest's MOV to CR4 of VAL (OLD before): 0 when it may have it, or
 * -EINVAL for the #GP a CPU would raise or kqemu gives for a bit guests do
 * not get.  The rules are the CPU's: no PAE off in long mode, PCIDE only
 * in long mode and with CR3's PCID zero.
 */
int kqemu_guest_cr4_write(u64 old, u64 val, u64 efer, u64 cr3)
{
	if (val & ~kqemu_cr4_guest())
		return -EINVAL;
	if ((efer & EFER_LMA) && !(val & X86_CR4_PAE))
		return -EINVAL;
	if ((val & X86_CR4_PCIDE) && !(old & X86_CR4_PCIDE) &&
	    (!(efer & EFER_LMA) || (cr3 & 0xfff)))
		return -EINVAL;
	return 0;
}
