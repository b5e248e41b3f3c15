#!/bin/bash
# The speculation checklist of the world switch, read off the built module:
# for each step that the kernel kqemu.ko was built for has a flag for (its
# cpufeatures.h) and gives kqemu the means to take (its Module.symvers),
# the instruction or call must be in the module's alternatives, where the
# kernel patches it in at load when the CPU and the kernel's mitigation
# choice call for it; and both entry functions must take their steps.
# Usage: spec-check.sh KQEMU_KO KERNEL_HEADERS_DIR TAG     ok/not ok lines
set -uo pipefail
ko=$1 kdir=$2 tag=$3
feat=$(cat "$kdir"/arch/x86/include/asm/cpufeatures.h \
	"$(dirname "$kdir")"/linux-headers-*-common/arch/x86/include/asm/cpufeatures.h 2>/dev/null)
symvers=$kdir/Module.symvers
has_flag() { grep -q "define $1[[:space:]]" <<<"$feat"; }
exported() { awk -v s="$1" '$2 == s && NF == 4 { f = 1 } END { exit !f }' "$symvers"; }
say() { if [ "$1" = ok ]; then echo "ok - $tag $2"; else echo "not ok - $tag $2"; fi; }

repl=$(objdump -dr --section=.altinstr_replacement "$ko" 2>/dev/null)
text=$(objdump -d --no-show-raw-insn "$ko" 2>/dev/null)
func() { awk -v f="<$1>:" '$2 == f { on = 1; next } on && /^[0-9a-f]+ </ { exit } on' <<<"$text"; }

# want WHAT PATTERN [FLAG] [SYMBOL]: PATTERN in the replacements, where the
# kernel has FLAG and exports SYMBOL.
want() {
	local what=$1 pattern=$2 flag=${3:-} sym=${4:-}
	if [ -n "$flag" ] && ! has_flag "$flag"; then
		echo "# $tag $what: this kernel has no $flag"
		return
	fi
	if [ -n "$sym" ] && ! exported "$sym"; then
		echo "# $tag $what: this kernel does not export $sym to kqemu (guests are refused where the CPU needs it)"
		return
	fi
	# Once for each entry function.
	local n
	n=$(grep -cE "$pattern" <<<"$repl")
	if [ "$n" -ge 2 ]; then say ok "spec: $what ($n sites)"; else say fail "spec: $what ($n sites, want 2)"; fi
}

want "VERW clears the CPU buffers before entry (X86_FEATURE_CLEAR_CPU_BUF_VM)" 'verw +0x(48|38)\(%rsp\)' X86_FEATURE_CLEAR_CPU_BUF_VM
# FILL_RETURN_BUFFER's loop: two calls, then RSP back by 16.
want "the RSB is filled after exit (X86_FEATURE_RSB_VMEXIT)" 'add +\$0x10,%rsp' X86_FEATURE_RSB_VMEXIT
want "one RSB entry is replaced after exit (X86_FEATURE_RSB_VMEXIT_LITE)" 'add +\$0x8,%rsp' X86_FEATURE_RSB_VMEXIT_LITE
want "RET is untrained after exit (X86_FEATURE_UNRET)" 'entry_untrain_ret' X86_FEATURE_UNRET entry_untrain_ret
want "RET is untrained after exit (X86_FEATURE_SRSO_ALIAS)" 'srso_alias_untrain_ret' X86_FEATURE_SRSO_ALIAS srso_alias_untrain_ret
want "IBPB after exit (X86_FEATURE_IBPB_ON_VMEXIT)" 'wrmsr' X86_FEATURE_IBPB_ON_VMEXIT
if has_flag X86_FEATURE_CLEAR_BHB_VMEXIT; then
	want "branch history cleared after exit (X86_FEATURE_CLEAR_BHB_VMEXIT)" 'clear_bhb_loop' X86_FEATURE_CLEAR_BHB_VMEXIT clear_bhb_loop
else
	want "branch history cleared after exit (X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT)" 'clear_bhb_loop' X86_FEATURE_CLEAR_BHB_LOOP_ON_VMEXIT clear_bhb_loop
fi
# Each entry function patches in at both ends: its own alternatives sites
# are the NOP runs and skipped jumps around VMRUN/VMLAUNCH.
for f in __kqemu_svm_vmrun:vmrun __kqemu_vmx_vmrun:vmlaunch; do
	body=$(func "${f%%:*}")
	entry=${f#*:}
	if grep -q "$entry" <<<"$body" && grep -q 'nop' <<<"$body"; then
		say ok "spec: ${f%%:*} has its entry and the patch sites around it"
	else
		say fail "spec: ${f%%:*} has its entry and the patch sites around it"
	fi
done
# And the C half: IBPB between guests and the L1D flush (spec.c).
if grep -q 'kqemu_spec_before_entry' <<<"$text"; then
	say ok "spec: both backends call kqemu_spec_before_entry (IBPB between guests, L1D flush)"
else
	say fail "spec: both backends call kqemu_spec_before_entry (IBPB between guests, L1D flush)"
fi
