// SPDX-License-Identifier: GPL-2.0
/*
 * Just enough of an x86 decoder for MMIO.  Without decode assists (QEMU's
 * SVM has none) a nested page fault says which guest-physical address was
 * touched and how, but not by which instruction: we fetch it from guest
 * memory and decode the MOV forms compilers emit for device registers.
 * Anything else is reported to userspace as an emulation failure.
 */
#include <linux/kernel.h>
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
 * mode: 16, 32 or 64, the code segment's default.  Fills insn and returns
 * 0, or -EINVAL for an instruction this decoder does not know.
 */
int kqemu_decode_mmio(const u8 *bytes, unsigned int avail, int mode,
		      struct kqemu_insn *insn)
{
	struct prefixes pfx;
	unsigned int i;
	int addr_bits, op_size, mlen;
	u8 op, modrm;
	bool byte_op, twobyte = false;

	memset(insn, 0, sizeof(*insn));
	i = decode_prefixes(bytes, avail, mode, &pfx);
	if (i >= avail)
		return -EINVAL;
	op = bytes[i++];
	if (op == 0x0f) {
		if (i >= avail)
			return -EINVAL;
		twobyte = true;
		op = bytes[i++];
	}

	addr_bits = mode == 64 ? (pfx.addrsize ? 32 : 64) :
		    mode == 32 ? (pfx.addrsize ? 16 : 32) : (pfx.addrsize ? 32 : 16);
	op_size = pfx.rex_w ? 8 : (mode == 16) != pfx.opsize ? 2 : 4;

	if (!twobyte) {
		switch (op) {
		case 0x88: case 0x89:		/* MOV r/m, reg */
		case 0x8a: case 0x8b:		/* MOV reg, r/m */
			byte_op = !(op & 1);
			insn->is_write = op <= 0x89;
			break;
		case 0xc6: case 0xc7:		/* MOV r/m, imm */
			byte_op = op == 0xc6;
			insn->is_write = true;
			insn->has_imm = true;
			break;
		default:
			return -EINVAL;
		}
		insn->size = byte_op ? 1 : op_size;
		insn->dst_size = insn->size;
	} else {
		switch (op) {
		case 0xb6: case 0xb7:		/* MOVZX reg, r/m8/16 */
		case 0xbe: case 0xbf:		/* MOVSX reg, r/m8/16 */
			insn->size = op & 1 ? 2 : 1;
			insn->dst_size = op_size;
			insn->sign_extend = op >= 0xbe;
			byte_op = false;
			break;
		default:
			return -EINVAL;
		}
	}

	if (i >= avail)
		return -EINVAL;
	modrm = bytes[i];
	if ((modrm >> 6) == 3)
		return -EINVAL;		/* register operand: not a memory access */
	if (insn->has_imm && ((modrm >> 3) & 7))
		return -EINVAL;		/* C6/C7 other than /0 */
	mlen = modrm_length(bytes + i, avail - i, addr_bits);
	if (mlen < 0)
		return -EINVAL;
	i += mlen;

	insn->reg = ((modrm >> 3) & 7) | (pfx.rex_r ? 8 : 0);
	/* Without REX, byte registers 4-7 are AH, CH, DH, BH. */
	if (byte_op && !insn->has_imm && !pfx.rex && insn->reg >= 4) {
		insn->reg -= 4;
		insn->high_byte = true;
	}
	if (insn->has_imm) {
		unsigned int imm_len = insn->size == 8 ? 4 : insn->size;
		u64 imm = 0;

		if (i + imm_len > avail)
			return -EINVAL;
		memcpy(&imm, bytes + i, imm_len);
		if (insn->size == 8)
			imm = (u64)(s64)(s32)imm;
		insn->imm = imm;
		i += imm_len;
	}
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

/*
 * The guest's own page tables: linear to guest-physical.  Under mmu_lock.
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
