// Joins existing namespaces before the Go runtime starts.
//
// A Go process is multi-threaded from its first instruction of Go code, and
// the kernel refuses setns(2) into a mount or user namespace for a
// multi-threaded process. This constructor runs first, while the process
// still has one thread, when barco re-executes itself with _BARCO_NSENTER
// set (see nsenter.go for the format). It joins the namespaces whose fds it
// was given (user first, in the order given), unshares the namespaces to
// create, and, when the pid namespace changes, forks so that the Go side
// runs as a member of it: setns and unshare of a pid namespace only apply
// to children. The intermediate process reports the child's host pid on the
// sync socket and exits; the parent barco, a child subreaper, inherits the
// child.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_JOIN 16

static int sync_fd = -1;

// fail reports err on the sync socket in the JSON form the parent reads,
// and exits.
static void fail(const char *what, int err)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "{\"type\":\"error\",\"error\":\"nsenter: %s: %s\"}\n", what, strerror(err));
	if (sync_fd >= 0 && n > 0)
		(void)!write(sync_fd, buf, (size_t)n);
	else
		fprintf(stderr, "barco: nsenter: %s: %s\n", what, strerror(err));
	_exit(1);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail("report pid", errno);
		}
		buf += n;
		len -= (size_t)n;
	}
}

void barco_nsenter(void)
{
	const char *spec = getenv("_BARCO_NSENTER");
	if (spec == NULL)
		return;

	int join[MAX_JOIN], njoin = 0, fork_child = 0, join_user = 0;
	unsigned long unshare_flags = 0;
	const char *p = spec;
	while (*p) {
		char kind = *p++;
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p)
			fail("bad _BARCO_NSENTER", EINVAL);
		p = end;
		switch (kind) {
		case 's': sync_fd = (int)v; break;
		case 'j':
			if (njoin == MAX_JOIN)
				fail("too many namespaces", E2BIG);
			join[njoin++] = (int)v;
			break;
		case 'U': join_user = 1; break; /* the first join fd is a user namespace */
		case 'u': unshare_flags = v; break;
		case 'f': fork_child = (int)v; break;
		default: fail("bad _BARCO_NSENTER", EINVAL);
		}
		if (*p == ' ')
			p++;
	}

	for (int i = 0; i < njoin; i++) {
		if (setns(join[i], 0) < 0) {
			char what[64];
			snprintf(what, sizeof(what), "setns fd %d", join[i]);
			fail(what, errno);
		}
		close(join[i]);
		if (i == 0 && join_user) {
			// Act as the namespace's root for the rest of the setup; a
			// namespace without a root mapping keeps the current ids.
			if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
				fail("setresgid in user namespace", errno);
			if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
				fail("setresuid in user namespace", errno);
		}
	}
	if (unshare_flags && unshare((int)unshare_flags) < 0)
		fail("unshare", errno);
	if (!fork_child)
		return;

	int gate[2];
	if (pipe2(gate, O_CLOEXEC) < 0)
		fail("pipe", errno);
	pid_t child = fork();
	if (child < 0)
		fail("fork", errno);
	if (child == 0) {
		// Wait until the parent has reported our pid, so the pid message
		// is always the first one barco reads.
		char c;
		close(gate[1]);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		close(gate[0]);
		return;
	}
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "{\"type\":\"pid\",\"pid\":%d}\n", (int)child);
	write_all(sync_fd, buf, (size_t)n);
	close(gate[0]);
	close(gate[1]);
	_exit(0);
}
