# Ring-3 guest of runts' KVM self-test: user code makes `syscall`s that reach the VMM as exits.
# The VMM builds page tables, GDT (0x08 kernel code, 0x10 kernel data, 0x18 user code32,
# 0x20 user data, 0x28 user code64, 0x30 TSS) and registers, and starts `start` in ring 0 with
# RSP = kernel stack, RBX = user stack, R12 = how many getpid calls the user code makes.
# The syscall entry reads port 0xf5: that exit is the syscall (number in RAX, arguments in RDI,
# RSI, RDX, R10, R8, R9); the VMM's answer arrives as the port's value and is sign-extended.
	.code64
	.text
	.globl load_addr
	.set load_addr, 0x10000

start:
	mov $0xc0000081, %ecx		# STAR: syscall CS 0x08, sysret base 0x18 (CS 0x2b, SS 0x23)
	xor %eax, %eax
	mov $0x00180008, %edx
	wrmsr
	mov $0xc0000082, %ecx		# LSTAR: the syscall entry
	lea entry(%rip), %rax
	mov %rax, %rdx
	shr $32, %rdx
	wrmsr
	mov $0xc0000084, %ecx		# SFMASK: clear TF, IF, DF, NT on entry
	mov $0x4700, %eax
	xor %edx, %edx
	wrmsr
	lea user(%rip), %rcx		# sysret to ring 3 at user, RFLAGS = 0x2
	mov $0x2, %r11d
	mov %rbx, %rsp
	sysretq

# The return is an iretq frame built on the stack the syscall arrived with (SS, RSP, RFLAGS,
# CS, RIP): it works from ring 0 and also where the backend runs the entry at CPL 3 (PVM here:
# CS is still 0x2b at the entry, and sysretq there is a #GP).
entry:
	in $0xf5, %eax
	cltq
	push $0x23			# SS
	push %rsp			# RSP as it was: the value pushed is before this push...
	addq $8, (%rsp)			# ...and one push (SS) earlier
	push %r11			# RFLAGS
	push $0x2b			# CS
	push %rcx			# RIP
	iretq

# Ring 3: write(1, hello, len); R12 × getpid(), each answer must be 1; exit_group(42 + wrong).
user:
	mov $1, %eax
	mov $1, %edi
	lea hello(%rip), %rsi
	mov $(hello_end - hello), %edx
	syscall
	xor %r14d, %r14d
	mov %r12, %r13
1:	test %r13, %r13
	jz 2f
	mov $39, %eax
	syscall
	cmp $1, %rax
	je 3f
	inc %r14
3:	dec %r13
	jmp 1b
2:	mov $231, %eax
	lea 42(%r14), %rdi
	syscall
	ud2

hello:
	.ascii "hello from ring 3 via syscall\n"
hello_end:
