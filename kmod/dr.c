// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's debug registers, for both backends.
 *
 * Each vCPU keeps its own DR0-3, DR6 and DR7.  The hardware holds the
 * guest's DR6 and DR7 while it runs (SVM: the VMCB; VMX: the VMCS's DR7),
 * and its DR0-3 while one of its breakpoints is enabled in DR7 or while it
 * may MOV to them itself (SVM, after the first MOV DR since an exit): the
 * host's are put back at every exit, so that the host's own hardware
 * breakpoints and watchpoints (perf, ptrace) stay its own.  On VMX every
 * MOV DR exits and is done here (kqemu_mov_dr()), with the CPU's checks.
 */
#include <linux/uaccess.h>
#include <asm/processor-flags.h>

#include "kqemu.h"

#define DR6_FIXED	0xffff0ff0ULL	/* reads as 1: bits 4-11, 16-31 */
#define DR6_VOLATILE	0x0000e00fULL	/* B0-B3, BD, BS, BT */
#define DR7_FIXED	0x400ULL
#define DR7_VOLATILE	0xffff2bffULL	/* L/G 0-3, LE, GE, RTM, GD, RW/LEN 0-3 */
#define DR7_GD		BIT_ULL(13)
#define DR6_BD		BIT_ULL(13)

void kqemu_dr_reset(struct kqemu_dr *d)
{
	memset(d, 0, sizeof(*d));
	d->dr6 = DR6_FIXED;
	d->dr7 = DR7_FIXED;
}

static unsigned long read_db(int i)
{
	unsigned long v = 0;

	switch (i) {
	case 0: asm volatile("mov %%dr0, %0" : "=r"(v)); break;
	case 1: asm volatile("mov %%dr1, %0" : "=r"(v)); break;
	case 2: asm volatile("mov %%dr2, %0" : "=r"(v)); break;
	case 3: asm volatile("mov %%dr3, %0" : "=r"(v)); break;
	}
	return v;
}

static void write_db(int i, unsigned long v)
{
	switch (i) {
	case 0: asm volatile("mov %0, %%dr0" : : "r"(v)); break;
	case 1: asm volatile("mov %0, %%dr1" : : "r"(v)); break;
	case 2: asm volatile("mov %0, %%dr2" : : "r"(v)); break;
	case 3: asm volatile("mov %0, %%dr3" : : "r"(v)); break;
	}
}

/*
 * Interrupts off, right before the entry: the guest's DR0-3 where one of
 * its breakpoints is on or where it may MOV to and from them itself (OWNED:
 * SVM without the DR intercept), the host's kept in HOST.  False: nothing
 * was loaded.
 */
bool kqemu_load_guest_db(const struct kqemu_dr *d, bool owned, unsigned long host[4])
{
	int i;

	if (!owned && !(d->dr7 & 0xff))
		return false;
	for (i = 0; i < 4; i++) {
		host[i] = read_db(i);
		if (host[i] != d->db[i])
			write_db(i, d->db[i]);
	}
	return true;
}

/* Right after the exit: what an OWNED guest wrote, then the host's DR0-3 back. */
void kqemu_put_host_db(struct kqemu_dr *d, bool owned, const unsigned long host[4])
{
	int i;

	for (i = 0; i < 4; i++) {
		if (owned)
			d->db[i] = read_db(i);
		if (host[i] != d->db[i])
			write_db(i, host[i]);
	}
}

/*
 * A guest's MOV from (TO_DR false) or to a debug register, at CPL 0 or not,
 * in 64-bit mode or not (the operand's width).  Returns 0 when done (the
 * caller steps over it), or the vector of the exception a CPU raises:
 * #UD for DR4/5 with CR4.DE and for DR8-15, #GP at CPL > 0 or for a DR6/7
 * value with bits above 31, #DB when DR7.GD guards the debug registers.
 */
int kqemu_mov_dr(struct kqemu_vcpu *vcpu, unsigned int dr, bool to_dr, unsigned int gpr,
		 bool long_mode, u64 cr4, unsigned int cpl)
{
	struct kqemu_dr *d = &vcpu->dr;
	u64 val;

	if (dr > 7 || ((dr == 4 || dr == 5) && (cr4 & X86_CR4_DE)))
		return 6;
	if (cpl)
		return 13;
	if (d->dr7 & DR7_GD) {
		d->dr7 &= ~DR7_GD;
		d->dr6 = (d->dr6 & ~DR6_VOLATILE) | DR6_BD;
		return 1;
	}
	if (dr == 4 || dr == 5)
		dr += 2;
	if (!to_dr) {
		val = dr < 4 ? d->db[dr] : dr == 6 ? d->dr6 : d->dr7;
		vcpu->gprs[gpr] = long_mode ? val : (u32)val;
		return 0;
	}
	val = long_mode ? vcpu->gprs[gpr] : (u32)vcpu->gprs[gpr];
	if (dr < 4) {
		d->db[dr] = val;
		return 0;
	}
	if (val >> 32)
		return 13;
	if (dr == 6)
		d->dr6 = (val & DR6_VOLATILE) | DR6_FIXED;
	else
		d->dr7 = (val & DR7_VOLATILE) | DR7_FIXED;
	return 0;
}

/*
 * VMX: a #DB exit, whose qualification has the DR6 bits the CPU would have
 * set (B0-B3, BD, BS): the guest's DR6 as after the #DB.
 */
void kqemu_dr_debug_exit(struct kqemu_vcpu *vcpu, u64 qual)
{
	struct kqemu_dr *d = &vcpu->dr;

	d->dr6 = (d->dr6 & ~0xfULL) | (qual & DR6_VOLATILE);
}

long kqemu_get_debugregs(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_debugregs r = { 0 };

	memcpy(r.db, vcpu->dr.db, sizeof(r.db));
	r.dr6 = vcpu->dr.dr6;
	r.dr7 = vcpu->dr.dr7;
	return copy_to_user(argp, &r, sizeof(r)) ? -EFAULT : 0;
}

long kqemu_set_debugregs(struct kqemu_vcpu *vcpu, void __user *argp)
{
	struct kqemu_debugregs r;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	if (r.flags || r.reserved0 || memchr_inv(r.reserved, 0, sizeof(r.reserved)) ||
	    (r.dr6 >> 32) || (r.dr7 >> 32))
		return -EINVAL;
	memcpy(vcpu->dr.db, r.db, sizeof(r.db));
	vcpu->dr.dr6 = (r.dr6 & DR6_VOLATILE) | DR6_FIXED;
	vcpu->dr.dr7 = (r.dr7 & DR7_VOLATILE) | DR7_FIXED;
	return 0;
}
