package main

// One malloc arena for the whole process. The C library gives every thread
// that allocates its own arena, reserving 128 MiB of address space and
// trimming it each time; the Go runtime's threads allocate next to nothing
// in C, and barco lives for milliseconds.

/*
#include <malloc.h>
static void __attribute__((constructor)) barco_one_arena(void) { mallopt(M_ARENA_MAX, 1); }
*/
import "C"
