// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's FPU: x87, SSE and, where the host has them, the XSAVE
 * components AVX and AVX-512 give, with the guest's own XCR0.  One copy of
 * this for both backends.
 *
 * The backends run the guest between kernel_fpu_begin() and
 * kernel_fpu_end(): the current task's registers are saved, or were never
 * loaded since the last context switch, and are restored on its way back
 * to userspace.  Whatever the registers hold at entry is therefore some
 * other context's state: the task that ran last on this CPU (another
 * user's process, say) or the kernel's own SIMD code.  So every entry
 * loads *every* component kqemu switches from the vCPU's own area, not only
 * those the guest's XCR0 enables: a component the area never held comes up
 * in its initial state (XRSTOR's XSTATE_BV), so nothing of another context
 * is left for the guest to read, even if it enables a component behind
 * kqemu's back (QEMU's SVM does not intercept XSETBV).  Every exit saves
 * them all back.
 *
 * The components switched, kqemu_xfeatures, are the host's XCR0 restricted
 * to x87, SSE, AVX, and AVX-512's three; a guest may enable those and no
 * others.  Not PKRU (guests do not get CR4.PKE), nor AMX (whose state the
 * kernel grants per process), nor MPX.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/fpu/api.h>
#include <asm/processor-flags.h>

#include "kqemu.h"

#define XF_FP		BIT_ULL(0)
#define XF_SSE		BIT_ULL(1)
#define XF_YMM		BIT_ULL(2)
#define XF_OPMASK	BIT_ULL(5)
#define XF_ZMM_HI256	BIT_ULL(6)
#define XF_HI16_ZMM	BIT_ULL(7)
#define XF_AVX512	(XF_OPMASK | XF_ZMM_HI256 | XF_HI16_ZMM)
#define XF_GUEST	(XF_FP | XF_SSE | XF_YMM | XF_AVX512)

#define FXSAVE_SIZE	512
#define XSAVE_HDR_SIZE	64

/* Legacy area: FCW at 0, MXCSR at 24, as FNINIT and power-on leave them. */
#define FCW_INIT	0x37f
#define MXCSR_INIT	0x1f80

u64 kqemu_xfeatures;		/* 0: no XSAVE, FXSAVE only */
static unsigned int xsave_size = FXSAVE_SIZE;
static u32 mxcsr_mask;		/* the MXCSR bits this CPU has */
static unsigned int xsave_end[8];	/* where each switched component ends */

static void fpu_cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
		     : "a"(leaf), "c"(sub));
}

static u64 xgetbv0(void)
{
	u32 lo, hi;

	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((u64)hi << 32) | lo;
}

static void xsetbv0(u64 v)
{
	asm volatile("xsetbv" : : "c"(0), "a"((u32)v), "d"((u32)(v >> 32)));
}

static void xsave(void *area, u64 mask)
{
	asm volatile("xsave64 %0" : "+m"(*(u8 *)area)
		     : "a"((u32)mask), "d"((u32)(mask >> 32)) : "memory");
}

static void xrstor(const void *area, u64 mask)
{
	asm volatile("xrstor64 %0" : : "m"(*(const u8 *)area),
		     "a"((u32)mask), "d"((u32)(mask >> 32)) : "memory");
}

/* At module load: what kqemu switches, and how large the area is. */
void kqemu_fpu_setup(void)
{
	u32 a, b, c, d, i;
	unsigned long cr4;

	/*
	 * FXSAVE reports the MXCSR bits the CPU has at offset 28 (0 there
	 * means the original 0xffbf); FXRSTOR and XRSTOR #GP on any other.
	 */
	u8 fx[FXSAVE_SIZE] __aligned(16) = { 0 };

	kernel_fpu_begin();
	asm volatile("fxsave64 %0" : "=m"(fx));
	kernel_fpu_end();
	mxcsr_mask = *(u32 *)(fx + 28) ?: 0xffbf;

	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	fpu_cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & BIT(26)) || !(cr4 & X86_CR4_OSXSAVE))
		return;		/* no XSAVE: FXSAVE's x87 and SSE */
	kqemu_xfeatures = xgetbv0() & XF_GUEST;
	/* AVX-512's three go together, and need AVX. */
	if ((kqemu_xfeatures & XF_AVX512) != XF_AVX512 || !(kqemu_xfeatures & XF_YMM))
		kqemu_xfeatures &= ~XF_AVX512;
	xsave_size = FXSAVE_SIZE + XSAVE_HDR_SIZE;
	for (i = 2; i < 64; i++) {
		if (!(kqemu_xfeatures & BIT_ULL(i)))
			continue;
		fpu_cpuid(0xd, i, &a, &b, &c, &d);
		xsave_size = max(xsave_size, b + a);	/* offset + size */
		if (i < ARRAY_SIZE(xsave_end))
			xsave_end[i] = b + a;
	}
	pr_info("guest FPU: XSAVE components %#llx, %u bytes per vCPU\n",
		kqemu_xfeatures, xsave_size);
}

int kqemu_fpu_init(struct kqemu_vcpu *vcpu)
{
	u8 *area;

	/* XSAVE wants 64-byte alignment; kmalloc promises less. */
	vcpu->fpu_alloc = kzalloc(xsave_size + 63, GFP_KERNEL_ACCOUNT);
	if (!vcpu->fpu_alloc)
		return -ENOMEM;
	area = PTR_ALIGN((u8 *)vcpu->fpu_alloc, 64);
	*(u16 *)area = FCW_INIT;
	*(u32 *)(area + 24) = MXCSR_INIT;
	vcpu->fpu = area;
	vcpu->xcr0 = XF_FP;
	return 0;
}

void kqemu_fpu_free(struct kqemu_vcpu *vcpu)
{
	kfree(vcpu->fpu_alloc);
	vcpu->fpu_alloc = vcpu->fpu = NULL;
}

/*
 * Between kernel_fpu_begin() and the entry, interrupts off: every switched
 * component from the vCPU's area, then the guest's XCR0.  Returns the
 * host's XCR0 for kqemu_fpu_put().
 */
u64 kqemu_fpu_load(struct kqemu_vcpu *vcpu)
{
	u64 host_xcr0;

	if (!kqemu_xfeatures) {
		asm volatile("fxrstor64 %0" : : "m"(*(u8 *)vcpu->fpu));
		return 0;
	}
	xrstor(vcpu->fpu, kqemu_xfeatures);
	host_xcr0 = xgetbv0();
	if (vcpu->xcr0 != host_xcr0)
		xsetbv0(vcpu->xcr0);
	return host_xcr0;
}

/* Right after the exit, interrupts off: the host's XCR0, then save it all. */
void kqemu_fpu_put(struct kqemu_vcpu *vcpu, u64 host_xcr0)
{
	u64 now;

	if (!kqemu_xfeatures) {
		asm volatile("fxsave64 %0" : "=m"(*(u8 *)vcpu->fpu));
		return;
	}
	now = xgetbv0();
	/*
	 * A CPU that ran the guest's XSETBV itself (QEMU's SVM ignores the
	 * intercept) left the guest's choice in XCR0: keep it as the
	 * guest's, within what kqemu switches.
	 */
	if (now != vcpu->xcr0)
		vcpu->xcr0 = (now & kqemu_xfeatures) | XF_FP;
	if (now != host_xcr0)
		xsetbv0(host_xcr0);
	xsave(vcpu->fpu, kqemu_xfeatures);
}

/*
 * The guest's XSETBV, intercepted (the CPU raised #UD itself where CR4.OSXSAVE
 * is clear, and #GP at CPL > 0).  0: done; -EINVAL: #GP, as a CPU would
 * give for this value or one kqemu does not switch.
 */
static bool xcr0_valid(u64 value)
{
	if (!kqemu_xfeatures)
		return value == XF_FP;
	if (!(value & XF_FP) || (value & ~kqemu_xfeatures))
		return false;
	if ((value & XF_YMM) && !(value & XF_SSE))
		return false;
	if ((value & XF_AVX512) && ((value & XF_AVX512) != XF_AVX512 || !(value & XF_YMM)))
		return false;
	return true;
}

/* The XSAVE area's size, in the standard form, for these components. */
unsigned int kqemu_xsave_size(u64 xcr0)
{
	unsigned int i, size = FXSAVE_SIZE + XSAVE_HDR_SIZE;

	for (i = 2; i < ARRAY_SIZE(xsave_end); i++)
		if (xcr0 & kqemu_xfeatures & BIT_ULL(i))
			size = max(size, xsave_end[i]);
	return size;
}

/* The guest's XSETBV: within what kqemu switches and its CPUID table names. */
int kqemu_guest_xsetbv(struct kqemu_vcpu *vcpu, u32 index, u64 value)
{
	if (index != 0 || !kqemu_xfeatures || !xcr0_valid(value) ||
	    (value & ~vcpu->cpuid_xcr0))
		return -EINVAL;
	vcpu->xcr0 = value;
	return 0;
}

/* KQEMU_GET_XSAVE. */
long kqemu_fpu_get_xsave(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_xsave *x;
	long ret = 0;

	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	x->xcr0 = vcpu->xcr0;
	x->size = xsave_size;
	memcpy(x->region, vcpu->fpu, xsave_size);
	if (copy_to_user(argp, x, sizeof(*x)))
		ret = -EFAULT;
	kfree(x);
	return ret;
}

/*
 * KQEMU_SET_XSAVE: only what FXRSTOR and XRSTOR take without a fault,
 * since they run in the kernel at the next entry.
 */
long kqemu_fpu_set_xsave(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_xsave *x;
	long ret = -EINVAL;
	u64 *hdr;

	x = memdup_user(argp, sizeof(*x));
	if (IS_ERR(x))
		return PTR_ERR(x);
	hdr = (u64 *)(x->region + FXSAVE_SIZE);
	if (x->flags || memchr_inv(x->reserved, 0, sizeof(x->reserved)) ||
	    !xcr0_valid(x->xcr0) || (*(u32 *)(x->region + 24) & ~mxcsr_mask))
		goto out;
	/* XSTATE_BV within what is switched, XCOMP_BV 0, the rest reserved. */
	if (kqemu_xfeatures &&
	    ((hdr[0] & ~kqemu_xfeatures) || memchr_inv(hdr + 1, 0, XSAVE_HDR_SIZE - 8)))
		goto out;
	memcpy(vcpu->fpu, x->region, xsave_size);
	vcpu->xcr0 = x->xcr0;
	ret = 0;
out:
	kfree(x);
	return ret;
}

/* CR4 for guests: KQEMU_CR4_GUEST, and OSXSAVE where kqemu switches XSAVE state. */
u64 kqemu_cr4_guest(void)
{
	return KQEMU_CR4_GUEST | (kqemu_xfeatures ? X86_CR4_OSXSAVE : 0);
}
