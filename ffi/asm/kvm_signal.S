# Host code, not a guest: the handler of the signal that stops a vCPU thread. It only has to
# exist: a signal with a handler makes a running KVM_RUN return EINTR, where the default action
# would end the process and an ignored signal would not interrupt it. The restorer returns from
# the handler (SA_RESTORER), as the kernel's signal frame expects.
	.code64
	.text
	.globl load_addr
	.set load_addr, 0

handler:
	ret
restorer:
	mov $15, %eax			# rt_sigreturn
	syscall
