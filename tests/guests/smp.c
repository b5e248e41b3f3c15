// SPDX-License-Identifier: GPL-2.0
/*
 * Several vCPUs in one VM: each adds its id + 1 to a shared total a
 * thousand times with LOCK XADD; vCPU 0 waits for all and checks the sum.
 */
#include "guest.h"

static volatile unsigned long total, arrived;

int main(unsigned long vcpu, unsigned long arg, unsigned long nvcpus)
{
	unsigned long i, want = 0;

	for (i = 0; i < 1000; i++)
		__atomic_fetch_add(&total, vcpu + 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
	if (vcpu != 0) {
		for (;;)
			asm volatile("cli; hlt");
	}
	/*
	 * Wait with IF set: Bochs's SVM masks the host's interrupts while the
	 * guest has IF clear, so with fewer host CPUs than vCPUs a wait with
	 * IF clear could keep the other vCPUs' threads from ever running.
	 * The host's interrupts are the host's (V_INTR_MASKING), never the
	 * guest's, so IF changes nothing elsewhere.
	 */
	asm volatile("sti" ::: "memory");
	while (arrived < nvcpus)
		asm volatile("pause");
	asm volatile("cli" ::: "memory");
	for (i = 0; i < nvcpus; i++)
		want += 1000 * (i + 1);
	puts_serial("smp: ");
	put_dec(nvcpus);
	puts_serial(" vCPUs, total ");
	put_dec(total);
	puts_serial(total == want ? " as expected\n" : " WRONG\n");
	return total == want ? 0 : 1;
}
