package main

// What a barco process sets up before the Go runtime starts.
//
// With glibc (the build without musl), one malloc arena for the whole
// process: glibc gives every thread that allocates its own arena, reserving
// 128 MiB of address space and trimming it each time; the Go runtime's
// threads allocate next to nothing in C, and barco lives for milliseconds.
//
// One P and no garbage collector from the first instruction: the Go
// runtime reads GOMAXPROCS and GOGC from the environment before any Go code
// runs, and setting them later (runtime.GOMAXPROCS, debug.SetGCPercent)
// comes after it has already made a second P, started a thread to spin on
// it, and stopped the world to undo that. The build links with
// -Wl,--wrap=main, so __wrap_main below runs between the C start-up
// code and the Go runtime's entry point: it hands the runtime an
// environment with GOMAXPROCS=1 and GOGC=off added where the caller set
// neither, and main removes them again (startupSettings) so that no child
// process inherits them. Built without the wrap, main sets both the late
// way.
//
// No heap profile either: nothing in barco reads one, and the linker then
// tells the runtime to set MemProfileRate to 0, but only late in its
// start-up, after the first P's allocation cache has taken the default
// rate; the first allocation after that still takes a sample (a stack
// unwind, a 1.4 MiB bucket table, a few page faults). GODEBUG=
// memprofilerate=0, read before the heap exists, avoids it; __wrap_main
// adds it where the caller set no GODEBUG, and main removes it as the
// others.
//
// A slack timer for sysmon. The runtime's monitor thread polls every 20 µs
// while the program works (for a millisecond after each blocking system
// call returns), and on a virtual machine each of those sleeps costs about
// as much CPU as it lasts: up to 2 ms of a barco command. With
// -Wl,--wrap=pthread_create, __wrap_pthread_create gives the first thread
// the runtime makes, sysmon, a timer slack of 10 ms (its longest sleep), so
// that it wakes a few times per command instead of a hundred; every other
// thread starts with the slack the process had, and no child inherits
// sysmon's (it forks nothing). The price: a goroutine that waits for the
// only P while another blocks in a system call may wait up to that long
// for sysmon to take the P back, so barco avoids making one goroutine's
// progress depend on another's while that one blocks (see hooks' stdin).
// (-Wl,-u,pthread_create keeps the C library's pthread_create in the
// binary for __real_pthread_create, a weak reference so that builds
// without the wrap link too.)
//
// Pages mapped ahead: __wrap_main maps the binary's code, read-only data,
// data and bss (populate_image) with one madvise per segment instead of a
// trap per page.
//
// Huge pages for the heap. On a virtual machine that shadows the guest's
// page tables, the first touch of every 4 KiB page costs twice: the
// guest's page fault, and the host's fault that fills its shadow entry
// (here about 14 µs in all; a page mapped ahead still costs 7 on its first
// touch). A barco command touches a megabyte or so of Go heap, up to 250
// pages, most of them before main. One 2 MiB transparent huge page
// costs one fault and the zeroing of 2 MiB (about 150 µs here), and the
// host maps it whole. The runtime commits its heap with mmap (through the
// C library's mmap, as every cgo program does): MAP_FIXED, read-write,
// anonymous, in aligned multiples of 4 MiB. With -Wl,--wrap=mmap,
// __wrap_mmap marks such a mapping MADV_HUGEPAGE, which is what the host's
// "madvise" setting for transparent huge pages asks for; no other mapping
// of the runtime has that shape. The price is resident memory: the heap
// counts 2 MiB, or 4 when its randomised start puts it across a 2 MiB
// boundary, where it counted about 1. The kernel falls back to small
// pages when it has no huge page to give, and huge pages stay off where
// the host turned them off ("never") or GODEBUG=disablethp=1 is set (the
// runtime then marks its heap MADV_NOHUGEPAGE after this). The execstub
// never gets here: it runs no Go.

/*
#define _GNU_SOURCE // struct dl_phdr_info in glibc's link.h
#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#ifdef M_ARENA_MAX
static void __attribute__((constructor)) barco_one_arena(void) { mallopt(M_ARENA_MAX, 1); }
#endif

#include <pthread.h>
#include <sys/prctl.h>

#define SYSMON_SLACK_NS 10000000UL

extern int __real_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)
	__attribute__((weak));

struct thread_start {
	void *(*fn)(void *);
	void *arg;
	unsigned long slack;
};

static void *thread_trampoline(void *p) {
	struct thread_start s = *(struct thread_start *)p;
	free(p);
	prctl(PR_SET_TIMERSLACK, s.slack, 0, 0, 0);
	return s.fn(s.arg);
}

static int threads_made;
static unsigned long process_slack;

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
	struct thread_start *s = malloc(sizeof(*s));
	if (s == NULL)
		return __real_pthread_create(t, attr, fn, arg);
	// The first call comes from the main thread before any other exists.
	if (__atomic_fetch_add(&threads_made, 1, __ATOMIC_SEQ_CST) == 0) {
		long cur = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
		__atomic_store_n(&process_slack, cur > 0 ? (unsigned long)cur : 50000UL, __ATOMIC_SEQ_CST);
		s->slack = SYSMON_SLACK_NS;
	} else {
		s->slack = __atomic_load_n(&process_slack, __ATOMIC_SEQ_CST);
	}
	s->fn = fn;
	s->arg = arg;
	int err = __real_pthread_create(t, attr, thread_trampoline, s);
	if (err != 0)
		free(s);
	return err;
}

// The runtime's unit of heap commitment (pallocChunkBytes).
#define HEAP_COMMIT (4UL << 20)

extern void *__real_mmap(void *, size_t, int, int, int, off_t) __attribute__((weak));

// Weak like __real_pthread_create: -Wl,-u,mmap keeps the C library's mmap.
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
	void *p = __real_mmap(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && (flags & MAP_FIXED) && (flags & MAP_ANONYMOUS) &&
	    prot == (PROT_READ | PROT_WRITE) && len >= HEAP_COMMIT &&
	    len % HEAP_COMMIT == 0 && (uintptr_t)p % HEAP_COMMIT == 0)
		madvise(p, len, MADV_HUGEPAGE);
	return p;
}

enum { PRESET_GOMAXPROCS = 1, PRESET_GOGC = 2, PRESET_GODEBUG = 4 };

// Which variables __wrap_main added; main reads it once.
int barco_preset;

// Weak so that a build without -Wl,--wrap=main still links; then
// __wrap_main is never called.
extern int __real_main(int, char **, char **) __attribute__((weak));

static int has_var(char **envp, const char *prefix) {
	size_t n = strlen(prefix);
	for (; *envp; envp++)
		if (strncmp(*envp, prefix, n) == 0)
			return 1;
	return 0;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE_DOWN(a) ((uintptr_t)(a) & ~(uintptr_t)4095)
#define PAGE_UP(a) PAGE_DOWN((uintptr_t)(a) + 4095)

// populate_image maps the executable's segments in one madvise each. A
// barco command touches nearly every 64 KiB stretch of its code and
// read-only data, and each first touch was a page fault: ninety-odd per
// `run`, each a trap into the kernel that costs more here than the mapping
// itself. Those pages are the page cache's, shared by every process: this
// adds to RSS, not to memory. The data and bss are mapped for writing (a
// copy of each data page, a zeroed page for the bss): a command writes to
// some forty of their ninety-odd pages, and each of those faults costs
// more than mapping all of them. What the C library made read-only after
// relocation (PT_GNU_RELRO) is left out. A kernel without
// MADV_POPULATE_READ and MADV_POPULATE_WRITE (before 5.14) refuses the
// advice and the faults happen as before. The execstub never gets here:
// its constructor execs before main.
static int populate_image(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	(void)data;
	uintptr_t relro_end = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_GNU_RELRO)
			relro_end = PAGE_UP(info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t start = PAGE_DOWN(info->dlpi_addr + ph->p_vaddr);
		uintptr_t end = PAGE_UP(info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
		int advice = MADV_POPULATE_READ;
		if (ph->p_flags & PF_W) {
			advice = MADV_POPULATE_WRITE;
			if (start < relro_end)
				start = relro_end;
		}
		if (start < end)
			madvise((void *)start, end - start, advice);
	}
	return 1; // the executable comes first; the rest (the vDSO) stays as it is
}

// The Go runtime finds the environment after argv's terminating NULL and
// the auxiliary vector after the environment's, so the new block keeps
// that layout: argv, NULL, envp (plus what is added), NULL, auxv.
int __wrap_main(int argc, char **argv, char **envp) {
	dl_iterate_phdr(populate_image, NULL);
	int preset = 0;
	if (!has_var(envp, "GOMAXPROCS="))
		preset |= PRESET_GOMAXPROCS;
	if (!has_var(envp, "GOGC="))
		preset |= PRESET_GOGC;
	if (!has_var(envp, "GODEBUG="))
		preset |= PRESET_GODEBUG;
	if (preset == 0)
		return __real_main(argc, argv, envp);

	size_t nenv = 0;
	while (envp[nenv])
		nenv++;
	Elf64_auxv_t *auxv = (Elf64_auxv_t *)(envp + nenv + 1);
	size_t naux = 0;
	while (auxv[naux].a_type != AT_NULL)
		naux++;
	naux++;

	size_t nptr = argc + 1 + nenv + 3 + 1;
	char **block = malloc(nptr * sizeof(char *) + naux * sizeof(Elf64_auxv_t));
	if (block == NULL)
		return __real_main(argc, argv, envp);
	char **p = block;
	memcpy(p, argv, (argc + 1) * sizeof(char *));
	p += argc + 1;
	memcpy(p, envp, nenv * sizeof(char *));
	p += nenv;
	if (preset & PRESET_GOMAXPROCS)
		*p++ = "GOMAXPROCS=1";
	if (preset & PRESET_GOGC)
		*p++ = "GOGC=off";
	if (preset & PRESET_GODEBUG)
		*p++ = "GODEBUG=memprofilerate=0";
	*p++ = NULL;
	memcpy(p, auxv, naux * sizeof(Elf64_auxv_t));
	barco_preset = preset;
	return __real_main(argc, block, block + argc + 1);
}
*/
import "C"

import (
	"os"
	"runtime"
	"runtime/debug"
)

// startupSettings gives this process one P and no garbage collection, and
// takes out of the environment what __wrap_main added for the runtime.
func startupSettings() {
	preset := int(C.barco_preset)
	if preset&C.PRESET_GOMAXPROCS != 0 {
		os.Unsetenv("GOMAXPROCS")
	} else {
		runtime.GOMAXPROCS(1)
	}
	if preset&C.PRESET_GOGC != 0 {
		os.Unsetenv("GOGC")
	} else {
		debug.SetGCPercent(-1)
	}
	if preset&C.PRESET_GODEBUG != 0 {
		os.Unsetenv("GODEBUG")
	}
}
