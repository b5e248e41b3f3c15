/*
 * String I/O in real mode, through kqemu-run's test device (see strio.c):
 * 16-bit addresses, whose offsets wrap at 64 KiB while the upper halves of
 * ESI, EDI and ECX stay as they were.  REP INSB of 512 bytes into
 * 2000:FF00 wraps to 2000:0000 halfway; LODSB, which wraps the same way,
 * checks them against the device's pattern; REP OUTSB sends them back
 * across the same wrap, and the device's hash must be the guest's own
 * FNV-1a of the pattern.  Exits with 0 after "strio16: all checks
 * passed", or 1 after a line naming the check that failed.
 */
	.code16
	.globl _start
_start:
	cli
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %ss
	mov	$0x7000, %sp
	mov	$0x2000, %ax
	mov	%ax, %es
	cld

	mov	$0x550, %dx		/* STRIO_RESET */
	out	%al, %dx
	mov	$0xabcdff00, %edi
	mov	$0x12340200, %ecx
	mov	$0x540, %dx		/* STRIO_DATA */
	rep insb
	mov	$m_edi, %bp
	cmp	$0xabcd0100, %edi
	jne	fail
	mov	$m_ecx, %bp
	cmp	$0x12340000, %ecx
	jne	fail

	/* The 512 bytes, read back across the wrap: byte n is pattern(n). */
	mov	%es, %ax
	mov	%ax, %ds
	mov	$0xff00, %si
	xor	%bx, %bx
1:	lodsb
	mov	%al, %cl
	mov	%bx, %dx
	imul	$131, %dx, %dx
	add	%bh, %dl
	add	$7, %dl
	mov	$m_data, %bp
	cmp	%dl, %cl
	jne	fail
	inc	%bx
	cmp	$0x200, %bx
	jne	1b

	mov	$0x550, %dx
	out	%al, %dx
	mov	$0x5678ff00, %esi
	mov	$0x200, %cx
	mov	$0x540, %dx
	rep outsb
	mov	$m_esi, %bp
	cmp	$0x56780100, %esi
	jne	fail

	/* FNV-1a of pattern(0..511), against the device's. */
	mov	$2166136261, %eax
	xor	%bx, %bx
2:	mov	%bx, %dx
	imul	$131, %dx, %dx
	add	%bh, %dl
	add	$7, %dl
	movzbl	%dl, %edx
	xor	%edx, %eax
	imul	$16777619, %eax, %eax
	inc	%bx
	cmp	$0x200, %bx
	jne	2b
	mov	%eax, %edi
	mov	$0x544, %dx		/* STRIO_HASH */
	in	%dx, %eax
	mov	$m_hash, %bp
	cmp	%edi, %eax
	jne	fail
	mov	$0x548, %dx		/* STRIO_OUT_COUNT */
	in	%dx, %eax
	mov	$m_count, %bp
	cmp	$0x200, %eax
	jne	fail

	mov	$m_ok, %bp
	call	puts
	mov	$0, %al
	jmp	exit

fail:	mov	$m_fail, %si
	xor	%ax, %ax
	mov	%ax, %ds
	call	puts_si
	call	puts
	mov	$1, %al
exit:	mov	$0xf4, %dx
	out	%al, %dx
	cli
	hlt

/* The string at 0:BP, then the one at 0:SI, to the serial port. */
puts:	xor	%ax, %ax
	mov	%ax, %ds
	mov	%bp, %si
puts_si:
	lodsb
	test	%al, %al
	jz	3f
	mov	$0x3f8, %dx
	out	%al, %dx
	jmp	puts_si
3:	ret

m_ok:	.asciz	"strio16: all checks passed\n"
m_fail:	.asciz	"strio16: FAIL: "
m_edi:	.asciz	"rep insb: EDI is not 0xabcd0100 (DI wraps, the upper half stays)\n"
m_ecx:	.asciz	"rep insb: ECX is not 0x12340000 (CX counts, the upper half stays)\n"
m_data:	.asciz	"rep insb: the bytes across the wrap are not the pattern\n"
m_esi:	.asciz	"rep outsb: ESI is not 0x56780100 (SI wraps, the upper half stays)\n"
m_hash:	.asciz	"rep outsb: the device's hash is not the pattern's\n"
m_count: .asciz	"rep outsb: the device did not get 512 bytes\n"

	.section .note.GNU-stack, "", @progbits
