/*
 * launcher runs one command as its forked child, waits for it and writes one
 * line to fd 3: the wait status; the CLOCK_MONOTONIC times, in nanoseconds,
 * of the command's execve and of its exit; the user and system CPU time in
 * microseconds and the peak RSS in KiB of the command and the descendants it
 * reaped.
 *
 * It exists so that the peak RSS of a runtime is its own: a process started
 * by vfork or fork from the Go harness would inherit the harness's resident
 * set size as its own high-water mark at execve. This program is small and
 * static, so the mark its vfork child carries into execve is a few hundred
 * KiB at most. vfork, not fork: on some virtual machines fork costs
 * milliseconds, and the wall time starts at the child's execve anyway.
 *
 * usage: launcher PATH [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long nsec(const struct timespec *ts)
{
	return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static long long usec(const struct timeval *tv)
{
	return (long long)tv->tv_sec * 1000000LL + tv->tv_usec;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: launcher PATH [ARG...]\n");
		return 125;
	}
	/* The command must not inherit the result pipe. */
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0) {
		perror("launcher: fd 3");
		return 125;
	}
	/*
	 * The vfork child shares this memory until execve, so the time it
	 * writes is seen here: the wall time is the command's own life.
	 */
	pid = vfork();
	if (pid < 0) {
		perror("launcher: vfork");
		return 126;
	}
	if (pid == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		execv(argv[1], argv + 1);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("launcher: wait4");
			return 126;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (dprintf(3, "%d %lld %lld %lld %lld %ld\n", status, nsec(&t0), nsec(&t1),
		    usec(&ru.ru_utime), usec(&ru.ru_stime), ru.ru_maxrss) < 0) {
		perror("launcher: report");
		return 126;
	}
	return 0;
}
