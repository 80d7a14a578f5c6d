# Real-mode guests of runts' KVM self-test (16-bit code; the VMM loads this image at load_addr
# with CS = DS = 0 and starts at one of its labels).
# Ports: 0x3f8 the 16550 UART's data register, 0xf6 the VMM's counting port (benchmark).
	.code16
	.text
	.globl load_addr
	.set load_addr, 0x1000

# hello: prints msg on the UART, then halts.
hello:
	xor %ax, %ax
	mov %ax, %ds
	cld
	mov $0x3f8, %dx
	mov $(msg - hello + load_addr), %si
1:	lodsb
	test %al, %al
	jz 2f
	out %al, (%dx)
	jmp 1b
2:	hlt
	jmp 2b

# spin: loops forever (the VMM's timeout must stop it).
spin:
	jmp spin

# pio_loop: ECX (set by the VMM) writes to port 0xf6, then halts: one exit per write.
pio_loop:
	out %al, $0xf6
	dec %ecx
	jnz pio_loop
	hlt

msg:
	.asciz "hello from real mode\n"
