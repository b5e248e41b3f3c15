/* Entry of every long-mode guest: kqemu-run sets RSP, and passes the vCPU
 * id in RDI, --arg in RSI and the vCPU count in RDX, as main() takes them.
 * If main returns, its value goes to the exit port. */
	.section .text.start, "ax"
	.globl _start
	.code64
_start:
	call	main
	mov	%eax, %edx
	mov	$0xf4, %dx
	out	%al, %dx
1:	cli
	hlt
	jmp	1b

	.section .note.GNU-stack, "", @progbits
