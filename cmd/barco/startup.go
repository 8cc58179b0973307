package main

// What a barco process sets up before the Go runtime starts.
//
// One malloc arena for the whole process: the C library gives every thread
// that allocates its own arena, reserving 128 MiB of address space and
// trimming it each time; the Go runtime's threads allocate next to nothing
// in C, and barco lives for milliseconds.
//
// One P and no garbage collector from the first instruction: the Go
// runtime reads GOMAXPROCS and GOGC from the environment before any Go code
// runs, and setting them later (runtime.GOMAXPROCS, debug.SetGCPercent)
// comes after it has already made a second P, started a thread to spin on
// it, and stopped the world to undo that. The build links with
// -Wl,--wrap=main, so barco_wrap_main below runs between the C start-up
// code and the Go runtime's entry point: it hands the runtime an
// environment with GOMAXPROCS=1 and GOGC=off added where the caller set
// neither, and main removes them again (startupPreset) so that no child
// process inherits them. Built without the wrap, main sets both the late
// way.

/*
#include <elf.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#ifdef M_ARENA_MAX
static void __attribute__((constructor)) barco_one_arena(void) { mallopt(M_ARENA_MAX, 1); }
#endif

enum { PRESET_GOMAXPROCS = 1, PRESET_GOGC = 2 };

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

// The Go runtime finds the environment after argv's terminating NULL and
// the auxiliary vector after the environment's, so the new block keeps
// that layout: argv, NULL, envp (plus what is added), NULL, auxv.
int __wrap_main(int argc, char **argv, char **envp) {
	int preset = 0;
	if (!has_var(envp, "GOMAXPROCS="))
		preset |= PRESET_GOMAXPROCS;
	if (!has_var(envp, "GOGC="))
		preset |= PRESET_GOGC;
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

	size_t nptr = argc + 1 + nenv + 2 + 1;
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
}
