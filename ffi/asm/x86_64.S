# runts machine code for x86_64, assembled by ffi/asm/assemble.sh into ffi/routine_x86_64.ts.
# Two routines, laid out back to back (offsets are pinned in routine_x86_64.ts):
#
# run_program(header *rdi): the child side of clone(). Executes a syscall program and never
# returns. Header: u64 count, u64 report_fd, then `count` records of 72 bytes:
#   +0  u64 nr          syscall number
#   +8  u64 a0..a5      arguments (6 x 8 bytes)
#   +56 u8  refs        bit i set: argument i is the index of an earlier record; use its result
#   +57 u8  flags       1 IGNORE (any error tolerated), 2 SKIP_ON_OK, 4 SKIP_ON_ERR (tolerated
#                       errors only), 8 ZERO_FAILS (result 0 is reported as ECANCELED)
#   +58 u16 ok1, +60 u16 ok2   errnos that are tolerated
#   +62 u16 skip        records to skip after this one (with SKIP_ON_OK / SKIP_ON_ERR)
#   +64 i64 result      written by the routine (raw kernel result: -errno on failure)
# On the first untolerated failure it writes {u64 index, u64 errno} (16 bytes) to report_fd and
# calls exit_group(errno). After the last record it calls exit_group(0).
#
# raw_syscall(nr, a0, a1, a2, a3, a4, a5): the `syscall` instruction as a C function that returns
# the kernel's result unchanged (-errno on failure), so no thread-local errno is involved and it
# can run on any thread (nonblocking FFI calls).

    .intel_syntax noprefix
    .text
    .globl run_program
run_program:
    mov r12, rdi
    mov r13, [r12]
    lea r14, [r12+16]
    xor r15d, r15d
next_record:
    cmp r15, r13
    jae finished
    movzx ecx, byte ptr [r14+56]
    xor ebx, ebx
resolve:
    bt ecx, ebx
    jnc resolved
    mov rax, [r14+rbx*8+8]
    imul rax, rax, 72
    mov rax, [r12+rax+80]
    mov [r14+rbx*8+8], rax
resolved:
    inc ebx
    cmp ebx, 6
    jb resolve
    mov rax, [r14]
    mov rdi, [r14+8]
    mov rsi, [r14+16]
    mov rdx, [r14+24]
    mov r10, [r14+32]
    mov r8, [r14+40]
    mov r9, [r14+48]
    syscall
    mov [r14+64], rax
    movzx ecx, byte ptr [r14+57]
    cmp rax, -4095
    jae failed
    test rax, rax
    jnz succeeded
    test ecx, 8
    jz succeeded
    mov eax, 125
    jmp report
succeeded:
    test ecx, 2
    jz advance
skip:
    movzx eax, word ptr [r14+62]
    add r15, rax
    imul rax, rax, 72
    add r14, rax
advance:
    add r14, 72
    inc r15
    jmp next_record
failed:
    neg rax
    test ecx, 1
    jnz tolerated
    cmp ax, word ptr [r14+58]
    je tolerated
    cmp ax, word ptr [r14+60]
    je tolerated
    jmp report
tolerated:
    test ecx, 4
    jnz skip
    jmp advance
report:
    push rax
    push r15
    mov rdi, [r12+8]
    mov rsi, rsp
    mov edx, 16
    mov eax, 1
    syscall
    pop rax
    pop rdi
    mov eax, 231
    syscall
    hlt
finished:
    xor edi, edi
    mov eax, 231
    syscall
    hlt

    .globl raw_syscall
raw_syscall:
    mov rax, rdi
    mov rdi, rsi
    mov rsi, rdx
    mov rdx, rcx
    mov r10, r8
    mov r8, r9
    mov r9, [rsp+8]
    syscall
    ret
