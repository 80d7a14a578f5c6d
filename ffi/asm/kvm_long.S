# 64-bit long-mode guests of runts' KVM self-test. The VMM builds the page tables (identity map),
# the GDT and the registers: it starts at `start` in ring 0 with RSI = the address of the data it
# placed (u64 count, then count u64 values) and RSP = a stack.
# Ports: 0x3f8 the UART's data register, 0xf4 the exit device (a byte: the guest's status).
	.code64
	.text
	.globl load_addr
	.set load_addr, 0x10000

start:
	cld
	mov (%rsi), %rcx
	add $8, %rsi
	xor %eax, %eax
1:	test %rcx, %rcx
	jz 2f
	add (%rsi), %rax
	add $8, %rsi
	dec %rcx
	jmp 1b
2:	mov %rax, %rbx			# the sum
	lea msg(%rip), %rsi
	call puts
	mov %rbx, %rax
	call putdec
	lea nl(%rip), %rsi
	call puts
	mov %bl, %al			# exit status: the sum's low byte
	out %al, $0xf4
3:	hlt
	jmp 3b

# The guests of the VMM's error tests, started at their label like `start`:
# mmio: a write to 0x3ff000, mapped by the page tables but above 2 MiB of guest memory: an MMIO
# exit the VMM has no device for.
mmio:
	movb $1, 0x3ff000
	hlt
# fault: an invalid opcode with no IDT: #UD, then #DF, then a triple fault: a SHUTDOWN exit.
fault:
	ud2
# badport: a write to port 0x80, where the VMM has no device.
badport:
	out %al, $0x80
	hlt
# emulfail: an AVX instruction in ring 0. Where the guest's ring 0 is emulated (the PVM backend)
# the emulator has no AVX: an INTERNAL_ERROR exit (suberror 1, emulation failure) at this rip.
# (With VT-x or AMD-V it runs natively and, CR4.OSXSAVE being clear, faults: #UD, no IDT, a
# triple fault.)
emulfail:
	vpxor %xmm0, %xmm0, %xmm0
	hlt

# puts: the NUL-terminated string at RSI to the UART.
puts:
	mov $0x3f8, %dx
4:	lodsb
	test %al, %al
	jz 5f
	out %al, (%dx)
	jmp 4b
5:	ret

# putdec: RAX in decimal to the UART.
putdec:
	lea numend(%rip), %rdi
	mov $10, %r8d
6:	xor %edx, %edx
	div %r8
	add $0x30, %dl
	dec %rdi
	mov %dl, (%rdi)
	test %rax, %rax
	jnz 6b
	mov %rdi, %rsi
	jmp puts

msg:
	.asciz "long mode: sum of the VMM's numbers = "
nl:
	.asciz "\n"
numbuf:
	.space 24
numend:
	.byte 0
