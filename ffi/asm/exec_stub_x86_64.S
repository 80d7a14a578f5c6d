# runts exec stub for x86_64: a tiny static ELF that a container's process executes (from a
# sealed memfd) right before its program, so that the runtime binary is never the process's
# executable at that point (/proc/self/exe is this sealed copy, not the host's deno: the
# CVE-2019-5736 class). Called as argv = [path, arg0, arg1, ...]; execs path with [arg0, ...]
# and the same environment; exits 127 if that fails. Built by ffi/asm/assemble_stub.sh.
    .intel_syntax noprefix
    .text
    .globl _start
_start:
    mov rcx, [rsp]
    mov rdi, [rsp+8]
    lea rsi, [rsp+16]
    lea rdx, [rsp+rcx*8+16]
    mov eax, 59
    syscall
    mov edi, 127
    mov eax, 231
    syscall
    hlt
