package seccomp

// Debian's libseccomp.a is built against glibc with _FORTIFY_SOURCE, so its
// PFC writer calls glibc's checked fprintf. Linked with another C library
// (musl, for a faster start-up), barco supplies that one symbol itself.

/*
#include <stdarg.h>
#include <stdio.h>

#ifndef __GLIBC__
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...) {
	(void)flag;
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}
#endif
*/
import "C"
