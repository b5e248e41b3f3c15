/* A real-mode guest: prints over the serial port, exits with 0. */
	.code16
	.globl _start
_start:
	mov	$msg, %si
1:	lodsb
	test	%al, %al
	jz	2f
	mov	$0x3f8, %dx
	out	%al, %dx
	jmp	1b
2:	mov	$0, %al
	mov	$0xf4, %dx
	out	%al, %dx
	cli
	hlt
msg:	.asciz	"Hello from real mode\n"

	.section .note.GNU-stack, "", @progbits
