// SPDX-License-Identifier: GPL-2.0
/*
 * CPUID for guests, for both backends.
 *
 * What kqemu can give (KQEMU_GET_SUPPORTED_CPUID) is the host's CPUID with
 * every feature cleared that a guest on kqemu does not have: those kqemu
 * intercepts and refuses (VMX, SVM, MONITOR/MWAIT, the PMU, RDT), state it
 * does not switch (PKU, XSAVE components beyond kqemu_xfeatures, XSAVES'
 * supervisor state, AMX, CET), modes it does not walk (LA57), and MSRs
 * nobody emulates for it (TSC_ADJUST, ARCH_CAPABILITIES).  The hypervisor
 * bit is set.  A VMM builds its guest's table from this and gives it back
 * with KQEMU_SET_CPUID; from then on the guest's CPUID is answered here,
 * without an exit, and the table bounds what the guest's XSETBV enables.
 */
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <asm/processor-flags.h>

#include "kqemu.h"

struct leaf_mask {
	u32 function, index;
	bool indexed;
	u32 eax, ebx, ecx, edx;		/* the bits kept */
};

#define ALL	0xffffffffU

/* Feature bits by leaf, register and bit number. */
#define B(n)	BIT(n)

static void host_cpuid(u32 fn, u32 idx, u32 *a, u32 *b, u32 *c, u32 *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(fn), "c"(idx));
}

/*
 * Leaf 1 ECX: not DTES64 (2), MONITOR (3), DS-CPL (4), VMX (5), SMX (6),
 * EST (7), TM2 (8), xTPR (14), PDCM (15), DCA (18), x2APIC (21: the VMM's
 * APIC says), TSC-deadline (24: likewise), OSXSAVE (27: CR4's, at run
 * time); XSAVE (26) and the AVX family only with their state switched.
 */
#define L1_ECX_OFF	(B(2) | B(3) | B(4) | B(5) | B(6) | B(7) | B(8) | B(14) | B(15) | \
			 B(18) | B(21) | B(24) | B(27))
#define L1_ECX_AVX	(B(12) | B(28) | B(29))		/* FMA, AVX, F16C */
/* Leaf 1 EDX: not DS (21), ACPI (22), TM (29), PBE (31). */
#define L1_EDX_OFF	(B(21) | B(22) | B(29) | B(31))
/*
 * Leaf 7.0 EBX: not SGX (2), TSC_ADJUST (1), MPX (14), PQM (12), PQE (15),
 * Intel PT (25); AVX2 (5) with AVX; AVX-512's with its state.
 */
#define L7_EBX_OFF	(B(1) | B(2) | B(12) | B(14) | B(15) | B(25))
#define L7_EBX_AVX	B(5)
#define L7_EBX_AVX512	(B(16) | B(17) | B(21) | B(26) | B(27) | B(28) | B(30) | B(31))
/*
 * Leaf 7.0 ECX: not PKU (3), OSPKE (4), WAITPKG (5: UMWAIT would idle the
 * host's CPU), CET_SS (7), LA57 (16), RDPID without TSC_AUX (22), KL (23),
 * SGX_LC (30); the vector ones with their state.
 */
#define L7_ECX_OFF	(B(3) | B(4) | B(5) | B(7) | B(16) | B(23) | B(30))
#define L7_ECX_AVX	(B(9) | B(10))			/* VAES, VPCLMULQDQ */
#define L7_ECX_AVX512	(B(1) | B(6) | B(11) | B(12) | B(14))
/* Leaf 7.0 EDX: FSRM (4), MD_CLEAR (10: VERW works), SERIALIZE (14) only. */
#define L7_EDX_KEEP	(B(4) | B(10) | B(14))
#define L7_EDX_AVX512	(B(2) | B(3) | B(8) | B(23))
/* Leaf 0x80000001 ECX: not SVM (2), CR8_LEGACY (4), OSVW (9), IBS (10),
 * SKINIT (12), WDT (13), LWP (15), TCE (17), NODEID (19), the counters
 * (23, 24, 26, 27, 28), MONITORX (29); XOP, FMA4 with AVX. */
#define LX1_ECX_OFF	(B(2) | B(4) | B(9) | B(10) | B(12) | B(13) | B(15) | B(17) | B(19) | \
			 B(23) | B(24) | B(26) | B(27) | B(28) | B(29))
#define LX1_ECX_AVX	(B(11) | B(16))
#define LX1_EDX_RDTSCP	B(27)

static bool xf(u64 bits)
{
	return (kqemu_xfeatures & bits) == bits;
}

#define XF_AVX		(BIT_ULL(1) | BIT_ULL(2))
#define XF_AVX512	(XF_AVX | GENMASK_ULL(7, 5))

/* The leaves kqemu offers, with the host's values filtered; N counts them all. */
static unsigned int supported(struct kqemu_cpuid_entry *out, unsigned int room)
{
	u32 max_basic, max_ext, a, b, c, d, i;
	unsigned int n = 0;
	bool avx = xf(XF_AVX), avx512 = xf(XF_AVX512);

#define EMIT(fn, idx, flg, ea, eb, ec, ed) do {				\
	if (n < room)							\
		out[n] = (struct kqemu_cpuid_entry){ .function = (fn),	\
			.index = (idx), .flags = (flg), .eax = (ea),	\
			.ebx = (eb), .ecx = (ec), .edx = (ed) };	\
	n++;								\
} while (0)

	host_cpuid(0, 0, &max_basic, &b, &c, &d);
	max_basic = min_t(u32, max_basic, 0xd);
	EMIT(0, 0, 0, max_basic, b, c, d);
	for (i = 1; i <= max_basic; i++) {
		host_cpuid(i, 0, &a, &b, &c, &d);
		switch (i) {
		case 1:
			c &= ~L1_ECX_OFF;
			if (!kqemu_xfeatures)
				c &= ~B(26);
			if (!avx)
				c &= ~L1_ECX_AVX;
			c |= B(31);		/* a hypervisor */
			d &= ~L1_EDX_OFF;
			/* The initial APIC ID and the count of logical CPUs: the VMM's. */
			b &= 0xffff;
			EMIT(1, 0, 0, a, b, c, d);
			break;
		case 2:
			EMIT(2, 0, 0, a, b, c, d);
			break;
		case 4: {
			u32 j;

			for (j = 0; j < 8; j++) {
				host_cpuid(4, j, &a, &b, &c, &d);
				/* Cores and threads sharing the cache: the VMM's topology. */
				EMIT(4, j, KQEMU_CPUID_INDEXED, a & 0x3ff, b, c, d);
				if (!(a & 0x1f))
					break;
			}
			break;
		}
		case 7:
			host_cpuid(7, 0, &a, &b, &c, &d);
			b &= ~L7_EBX_OFF;
			if (!avx)
				b &= ~L7_EBX_AVX;
			if (!avx512)
				b &= ~L7_EBX_AVX512;
			c &= ~L7_ECX_OFF;
			if (!kqemu_has_tsc_aux())
				c &= ~B(22);
			if (!avx)
				c &= ~L7_ECX_AVX;
			if (!avx512)
				c &= ~L7_ECX_AVX512;
			d &= L7_EDX_KEEP | (avx512 ? L7_EDX_AVX512 : 0);
			EMIT(7, 0, KQEMU_CPUID_INDEXED, min_t(u32, a, 1), b, c, d);
			if (a >= 1) {
				host_cpuid(7, 1, &a, &b, &c, &d);
				/* AVX-VNNI (4) with AVX, AVX512_BF16 (5) with AVX-512. */
				a &= (avx ? B(4) : 0) | (avx512 ? B(5) : 0);
				EMIT(7, 1, KQEMU_CPUID_INDEXED, a, 0, 0, 0);
			}
			break;
		case 0xd: {
			u32 j;

			if (!kqemu_xfeatures)
				break;
			EMIT(0xd, 0, KQEMU_CPUID_INDEXED, (u32)kqemu_xfeatures,
			     kqemu_xsave_size(kqemu_xfeatures), kqemu_xsave_size(kqemu_xfeatures),
			     (u32)(kqemu_xfeatures >> 32));
			host_cpuid(0xd, 1, &a, &b, &c, &d);
			/* XSAVEOPT, XSAVEC, XGETBV with ECX 1; not XSAVES (no XSS). */
			EMIT(0xd, 1, KQEMU_CPUID_INDEXED, a & 7, 0, 0, 0);
			for (j = 2; j < 8; j++) {
				if (!(kqemu_xfeatures & BIT_ULL(j)))
					continue;
				host_cpuid(0xd, j, &a, &b, &c, &d);
				EMIT(0xd, j, KQEMU_CPUID_INDEXED, a, b, c & ~1U, 0);
			}
			break;
		}
		default:
			/* 3, 5, 6, 8-0xc: serial number, MONITOR, power, PMU, topology, RDT. */
			break;
		}
	}

	host_cpuid(0x80000000, 0, &max_ext, &b, &c, &d);
	if (max_ext < 0x80000000)
		return n;
	max_ext = min_t(u32, max_ext, 0x80000008);
	EMIT(0x80000000, 0, 0, max_ext, b, c, d);
	for (i = 0x80000001; i <= max_ext; i++) {
		host_cpuid(i, 0, &a, &b, &c, &d);
		switch (i) {
		case 0x80000001:
			c &= ~LX1_ECX_OFF;
			if (!avx)
				c &= ~LX1_ECX_AVX;
			if (!kqemu_has_tsc_aux())
				d &= ~LX1_EDX_RDTSCP;
			EMIT(i, 0, 0, a, b, c, d);
			break;
		case 0x80000002 ... 0x80000006:	/* brand string, caches */
			EMIT(i, 0, 0, a, b, c, d);
			break;
		case 0x80000007:
			EMIT(i, 0, 0, 0, 0, 0, d & B(8));	/* invariant TSC */
			break;
		case 0x80000008:
			/*
			 * Physical address bits: at most KQEMU_MAX_GUEST_PHYS's 48;
			 * linear: 48 (no LA57).  No feature bits (IBPB and the like
			 * have MSRs nobody emulates here), no core count.
			 */
			EMIT(i, 0, 0, (min_t(u32, a & 0xff, 48)) | (48 << 8), 0, 0, 0);
			break;
		}
	}
#undef EMIT
	return n;
}

long kqemu_supported_cpuid(void __user *argp)
{
	struct kqemu_cpuid __user *u = argp;
	struct kqemu_cpuid head;
	struct kqemu_cpuid_entry *e;
	unsigned int n;
	long ret = 0;

	if (copy_from_user(&head, argp, sizeof(head)))
		return -EFAULT;
	if (head.flags || head.reserved)
		return -EINVAL;
	n = supported(NULL, 0);
	if (head.nent < n) {
		head.nent = n;
		return copy_to_user(argp, &head, sizeof(head)) ? -EFAULT : -E2BIG;
	}
	e = kcalloc(n, sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	n = supported(e, n);
	head.nent = n;
	if (copy_to_user(argp, &head, sizeof(head)) ||
	    copy_to_user(u->entries, e, n * sizeof(*e)))
		ret = -EFAULT;
	kfree(e);
	return ret;
}

static int cmp_entry(const void *x, const void *y)
{
	const struct kqemu_cpuid_entry *a = x, *b = y;

	if (a->function != b->function)
		return a->function < b->function ? -1 : 1;
	if (a->index != b->index)
		return a->index < b->index ? -1 : 1;
	return 0;
}

static const struct kqemu_cpuid_entry *lookup(const struct kqemu_vcpu *vcpu, u32 fn, u32 idx)
{
	unsigned int i;

	/* Few entries, looked up on an exit already: a scan is enough. */
	for (i = 0; i < vcpu->cpuid_nent; i++) {
		const struct kqemu_cpuid_entry *e = &vcpu->cpuid[i];

		if (e->function == fn && (!(e->flags & KQEMU_CPUID_INDEXED) || e->index == idx))
			return e;
	}
	return NULL;
}

long kqemu_set_cpuid(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_cpuid __user *u = argp;
	struct kqemu_cpuid_entry *e = NULL;
	const struct kqemu_cpuid_entry *x;
	struct kqemu_cpuid head;
	unsigned int i;

	if (copy_from_user(&head, argp, sizeof(head)))
		return -EFAULT;
	if (head.flags || head.reserved)
		return -EINVAL;
	if (head.nent > KQEMU_MAX_CPUID_ENTRIES)
		return -E2BIG;
	if (head.nent) {
		e = memdup_user(u->entries, head.nent * sizeof(*e));
		if (IS_ERR(e))
			return PTR_ERR(e);
	}
	for (i = 0; i < head.nent; i++) {
		if (e[i].padding || (e[i].flags & ~KQEMU_CPUID_INDEXED))
			goto inval;
		if (!(e[i].flags & KQEMU_CPUID_INDEXED))
			e[i].index = 0;
	}
	sort(e, head.nent, sizeof(*e), cmp_entry, NULL);
	for (i = 1; i < head.nent; i++)
		if (e[i].function == e[i - 1].function &&
		    (e[i].index == e[i - 1].index ||
		     !(e[i].flags & KQEMU_CPUID_INDEXED) || !(e[i - 1].flags & KQEMU_CPUID_INDEXED)))
			goto inval;
	kfree(vcpu->cpuid);
	vcpu->cpuid = e;
	vcpu->cpuid_nent = head.nent;
	vcpu->cpuid_xcr0 = ~0ULL;
	if (e) {
		x = lookup(vcpu, 0xd, 0);
		vcpu->cpuid_xcr0 = x ? ((u64)x->edx << 32 | x->eax) | 1 : 1;
	}
	return 0;
inval:
	kfree(e);
	return -EINVAL;
}

/*
 * The guest's CPUID at RIP, from its table: true when answered (RIP is
 * still the CPUID's; the backend steps over it), false to exit.
 */
bool kqemu_cpuid(struct kqemu_vcpu *vcpu)
{
	u32 fn = vcpu->gprs[0], idx = vcpu->gprs[1];
	const struct kqemu_cpuid_entry *e;
	u32 a = 0, b = 0, c = 0, d = 0;

	if (!vcpu->cpuid)
		return false;
	e = lookup(vcpu, fn, idx);
	if (e) {
		a = e->eax;
		b = e->ebx;
		c = e->ecx;
		d = e->edx;
	}
	if (fn == 1) {
		c &= ~B(27);
		if (kqemu_backend->get_cr4(vcpu) & X86_CR4_OSXSAVE)
			c |= B(27);
	} else if (fn == 0xd && idx == 0 && e) {
		b = kqemu_xsave_size(vcpu->xcr0);
	}
	vcpu->gprs[0] = a;
	vcpu->gprs[3] = b;
	vcpu->gprs[1] = c;
	vcpu->gprs[2] = d;
	return true;
}
