// Finishes a container process and execs it without starting Go.
//
// A re-executed barco whose environment has _BARCO_EXECSTUB=<fd> runs this
// constructor after nsenter's (which joined the namespaces). It reads a
// plan from the sync socket <fd> (see execstub.go for the layout), sets up
// the terminal, limits, capabilities, user and seccomp filter in the order
// of libbarco's processSteps, reports {"type":"ready"}, optionally waits for
// `barco start` on the exec fifo, and execs the container's program. Errors
// go to the sync socket as {"type":"error",...} while the parent listens,
// to stderr afterwards.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/keyctl.h>
#include <linux/mount.h>
#include <termios.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2) /* linux/close_range.h; not in every C library */
#endif

#define PLAN_MAGIC 0x31545342u /* "BST1" */

enum {
	F_TERMINAL = 1 << 0,
	F_NO_NEW_PRIVS = 1 << 1,
	F_UMASK = 1 << 2,
	F_OOM = 1 << 3,
	F_CAPS = 1 << 4,
	F_SECCOMP_EARLY = 1 << 5,
	F_WAIT_FIFO = 1 << 6,
	F_NEW_SESSION = 1 << 7,
	F_TTY_FROM_PARENT = 1 << 8,
};

static int sync_fd = -1;

// errstr is strerror in the lower case of Go's errno texts, which barco's
// other messages use.
static const char *errstr(int err)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static void json_escape(char *out, size_t cap, const char *in)
{
	size_t o = 0;
	for (; *in && o + 7 < cap; in++) {
		unsigned char c = (unsigned char)*in;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = 0;
}

// fail reports the error and exits; code is the exit status (127 when the
// program cannot be executed, as a shell would say).
static void __attribute__((noreturn, format(printf, 2, 3))) fail(int code, const char *fmt, ...)
{
	char msg[1024], esc[2048], buf[2304];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sync_fd >= 0) {
		json_escape(esc, sizeof(esc), msg);
		int n = snprintf(buf, sizeof(buf), "{\"type\":\"error\",\"error\":\"%s\"}\n", esc);
		if (n > 0)
			(void)!write(sync_fd, buf, (size_t)n);
	} else {
		dprintf(2, "barco init: %s\n", msg);
	}
	_exit(code);
}

static void read_full(int fd, void *p, size_t len)
{
	char *b = p;
	while (len > 0) {
		ssize_t n = read(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail(1, "read plan: %s", n < 0 ? errstr(errno) : "unexpected end");
		b += n;
		len -= (size_t)n;
	}
}

// plan is a cursor over the bytes the parent sent.
struct plan {
	const unsigned char *p, *end;
};

static void take(struct plan *pl, void *out, size_t n)
{
	if ((size_t)(pl->end - pl->p) < n)
		fail(1, "plan: truncated");
	memcpy(out, pl->p, n);
	pl->p += n;
}

static uint32_t u32(struct plan *pl)
{
	uint32_t v;
	take(pl, &v, sizeof(v));
	return v;
}

static uint64_t u64(struct plan *pl)
{
	uint64_t v;
	take(pl, &v, sizeof(v));
	return v;
}

static char *str(struct plan *pl)
{
	uint32_t n = u32(pl);
	if ((size_t)(pl->end - pl->p) < n)
		fail(1, "plan: truncated string");
	char *s = malloc((size_t)n + 1);
	if (!s)
		fail(1, "plan: out of memory");
	memcpy(s, pl->p, n);
	s[n] = 0;
	pl->p += n;
	return s;
}

static char **strs(struct plan *pl)
{
	uint32_t n = u32(pl);
	if (n > (uint32_t)(pl->end - pl->p))
		fail(1, "plan: truncated list");
	char **v = calloc((size_t)n + 2, sizeof(char *)); /* room for HOME */
	if (!v)
		fail(1, "plan: out of memory");
	for (uint32_t i = 0; i < n; i++)
		v[i] = str(pl);
	return v;
}

// send_fd passes fd over the unix socket sock with name as the payload.
static int send_fd(int sock, const char *name, int fd)
{
	struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

// recv_fd receives one fd sent with send_fd (libbarco's console.SendFd).
static int recv_fd(int sock)
{
	char name[64];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (n == 0 || !c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
		errno = EBADMSG;
		return -1;
	}
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

// take_terminal makes the pty slave tty stdio and the controlling terminal
// of a new session.
static void take_terminal(int tty)
{
	for (int i = 0; i < 3; i++)
		if (dup3(tty, i, 0) < 0)
			fail(1, "dup pty to fd %d: %s", i, errstr(errno));
	close(tty);
	if (setsid() < 0)
		fail(1, "setsid: %s", errstr(errno));
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		fail(1, "set controlling terminal: %s", errstr(errno));
}

static void setup_terminal(int console_fd, uint16_t rows, uint16_t cols)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		fail(1, "open /dev/ptmx: %s", errstr(errno));
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		fail(1, "unlock pty: %s", errstr(errno));
	unsigned int n;
	if (ioctl(master, TIOCGPTN, &n) < 0)
		fail(1, "get pty number: %s", errstr(errno));
	char path[64];
	snprintf(path, sizeof(path), "/dev/pts/%u", n);
	int slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		fail(1, "open %s: %s", path, errstr(errno));
	if (rows || cols) {
		struct winsize ws = {.ws_row = rows, .ws_col = cols};
		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			fail(1, "set console size: %s", errstr(errno));
	}
	take_terminal(slave);
	// The master goes to the console socket, named as libbarco's
	// console.SendFd names it.
	if (send_fd(console_fd, "ptmx", master) < 0)
		fail(1, "send console: %s", errstr(errno));
	close(master);
	close(console_fd);
}

static void write_proc(const char *path, const char *val, const char *field)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		fail(1, "%s: write %s: %s", field, path, errstr(errno));
	close(fd);
}

static int bit(uint64_t mask, int cap) { return (int)((mask >> cap) & 1); }

// in_bounding keeps the capabilities of mask still in the bounding set.
static uint64_t in_bounding(uint64_t mask, int last)
{
	for (int c = 0; c <= last; c++)
		if (bit(mask, c) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			mask &= ~(1ULL << c);
	return mask;
}

static void load_seccomp(unsigned int flags, struct sock_filter *insns, uint16_t n)
{
	struct sock_fprog prog = {.len = n, .filter = insns};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0)
		fail(1, "load seccomp filter: seccomp(SECCOMP_SET_MODE_FILTER, %#x): %s", flags, errstr(errno));
	if (r > 0)
		fail(1, "seccomp: TSYNC failed for thread %ld", r);
}

// home_of returns the home directory of uid in the container's
// /etc/passwd, "/" when there is none.
static char *home_of(uint32_t uid)
{
	FILE *f = fopen("/etc/passwd", "re");
	if (!f)
		return "/";
	char line[4096];
	char *home = "/";
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *field[7] = {0};
		int nf = 0;
		char *s = line;
		while (nf < 7) {
			field[nf++] = s;
			char *colon = strchr(s, ':');
			if (!colon)
				break;
			*colon = 0;
			s = colon + 1;
		}
		if (nf < 6)
			continue;
		char *end;
		errno = 0;
		unsigned long id = strtoul(field[2], &end, 10);
		if (errno || end == field[2] || *end || id != uid || !field[5][0])
			continue;
		home = strdup(field[5]);
		break;
	}
	fclose(f);
	return home ? home : "/";
}

// check_exec mirrors libbarco's checkExecutable: 0 or an error text.
static const char *check_exec(const char *p)
{
	struct stat st;
	if (stat(p, &st) < 0)
		return errno == ENOENT ? "no such file or directory" : errstr(errno);
	if (S_ISDIR(st.st_mode))
		return "is a directory";
	if (access(p, X_OK) < 0)
		return errno == EACCES ? "permission denied" : errstr(errno);
	return NULL;
}

static char *look_path(const char *name, char **env)
{
	if (strchr(name, '/')) {
		const char *e = check_exec(name);
		if (e)
			fail(1, "exec: \"%s\": stat %s: %s", name, name, e);
		return (char *)name;
	}
	const char *path = "";
	for (char **e = env; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	char *dirs = strdup(path);
	for (char *save = NULL, *d = dirs;; d = NULL) {
		// strsep-like split keeping empty entries ("." as Go does).
		char *dir = d ? d : save;
		if (!dir)
			break;
		char *colon = strchr(dir, ':');
		save = colon ? colon + 1 : NULL;
		if (colon)
			*colon = 0;
		char *full;
		if (asprintf(&full, "%s/%s", *dir ? dir : ".", name) < 0)
			fail(1, "out of memory");
		if (!check_exec(full))
			return full;
		free(full);
		if (!save)
			break;
	}
	fail(1, "exec: \"%s\": executable file not found in $PATH", name);
}

static void wait_for_start(int fifo_fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fifo_fd);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail(1, "open exec fifo: %s", errstr(errno));
	close(fifo_fd);
	char zero = 0;
	if (write(fd, &zero, 1) < 0)
		fail(1, "write exec fifo: %s", errstr(errno));
}

void barco_execstub(void)
{
	const char *env = getenv("_BARCO_EXECSTUB");
	if (env == NULL)
		return;
	sync_fd = atoi(env);
	// Nobody in the container may open our fds or ptrace us while we hold
	// host resources; execve resets this.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (strchr(env, 'p')) {
		// The parent sets up the container's mounts from outside, but a
		// procfs shows the pid namespace of whoever opens its context:
		// open it here, in the container's, and hand it over.
		int ctx = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
		if (ctx < 0)
			fail(1, "fsopen proc: %s", errstr(errno));
		if (send_fd(sync_fd, "proc", ctx) < 0)
			fail(1, "send proc context: %s", errstr(errno));
		close(ctx);
	}

	uint32_t len;
	read_full(sync_fd, &len, sizeof(len));
	if (len > (64u << 20))
		fail(1, "plan: %u bytes", len);
	unsigned char *buf = malloc(len);
	if (!buf)
		fail(1, "plan: out of memory");
	read_full(sync_fd, buf, len);
	struct plan pl = {buf, buf + len};

	if (u32(&pl) != PLAN_MAGIC)
		fail(1, "plan: bad magic");
	uint32_t flags = u32(&pl);
	int first_closed = (int)u32(&pl);
	int console_fd = (int)u32(&pl);
	int fifo_fd = (int)u32(&pl);
	uint16_t rows = (uint16_t)u32(&pl), cols = (uint16_t)u32(&pl);
	int32_t oom = (int32_t)u32(&pl);
	mode_t umask_v = (mode_t)u32(&pl);
	uint32_t uid = u32(&pl), gid = u32(&pl);
	uint32_t ngroups = u32(&pl);
	if (ngroups > 65536)
		fail(1, "plan: %u groups", ngroups);
	gid_t *groups = calloc(ngroups ? ngroups : 1, sizeof(gid_t));
	for (uint32_t i = 0; i < ngroups; i++)
		groups[i] = u32(&pl);
	uint32_t nrl = u32(&pl);
	int last_cap = (int)u32(&pl);
	uint64_t bounding = u64(&pl), effective = u64(&pl), permitted = u64(&pl);
	uint64_t inheritable = u64(&pl), ambient = u64(&pl);
	struct { uint32_t type; uint64_t soft, hard; } *rl = calloc(nrl ? nrl : 1, sizeof(*rl));
	for (uint32_t i = 0; i < nrl; i++) {
		rl[i].type = u32(&pl);
		rl[i].soft = u64(&pl);
		rl[i].hard = u64(&pl);
	}
	unsigned int sc_flags = u32(&pl);
	uint32_t sc_len = u32(&pl);
	if (sc_len > BPF_MAXINSNS)
		fail(1, "plan: seccomp program of %u instructions", sc_len);
	struct sock_filter *insns = calloc(sc_len ? sc_len : 1, sizeof(*insns));
	for (uint32_t i = 0; i < sc_len; i++)
		take(&pl, &insns[i], sizeof(insns[i]));
	char *cwd = str(&pl);
	char *keyring = str(&pl);
	char **argv = strs(&pl);
	char **envp = strs(&pl);
	if (!argv[0])
		fail(1, "process.args is empty");

	if (flags & F_TTY_FROM_PARENT) {
		// The parent made the pty in the container (and sent its master
		// to the console socket); the slave follows the plan.
		int tty = recv_fd(sync_fd);
		if (tty < 0)
			fail(1, "receive terminal: %s", errstr(errno));
		take_terminal(tty);
	} else if (flags & F_TERMINAL) {
		if (console_fd < 0)
			fail(1, "process.terminal is set but there is no console socket");
		setup_terminal(console_fd, rows, cols);
	} else if ((flags & F_NEW_SESSION) && setsid() < 0) {
		fail(1, "setsid: %s", errstr(errno));
	}
	// A session keyring of its own, so the container cannot read or fill
	// the keys of whoever started it.
	if (keyring[0] && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, keyring) < 0 && errno != ENOSYS)
		fail(1, "join session keyring: %s", errstr(errno));
	// Only stdio and the preserved fds reach the program.
	if (syscall(SYS_close_range, first_closed, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		fail(1, "close extra fds: %s", errstr(errno));

	if (flags & F_OOM) {
		char v[16];
		snprintf(v, sizeof(v), "%d", oom);
		write_proc("/proc/self/oom_score_adj", v, "process.oomScoreAdj");
	}
	for (uint32_t i = 0; i < nrl; i++) {
		struct rlimit lim = {.rlim_cur = rl[i].soft, .rlim_max = rl[i].hard};
		if (setrlimit((int)rl[i].type, &lim) < 0)
			fail(1, "process.rlimits type %u: %s", rl[i].type, errstr(errno));
	}
	if (flags & F_CAPS) {
		for (int c = 0; c <= last_cap; c++)
			if (!bit(bounding, c) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
				fail(1, "drop bounding capabilities: %s", errstr(errno));
	}
	if (chdir(cwd) < 0)
		fail(1, "process.cwd %s: %s", cwd, errstr(errno));
	// A cwd reached through a leaked fd lies outside the container's root;
	// the kernel then reports it as unreachable (CVE-2024-21626).
	char wd[PATH_MAX];
	if (!getcwd(wd, sizeof(wd)) || wd[0] != '/')
		fail(1, "process.cwd %s: the working directory is outside the container's root", cwd);
	if ((flags & F_SECCOMP_EARLY) && sc_len)
		load_seccomp(sc_flags, insns, (uint16_t)sc_len);

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail(1, "set keepcaps: %s", errstr(errno));
	if (syscall(SYS_setgroups, (size_t)ngroups, groups) < 0 && (ngroups > 0 || errno != EPERM))
		fail(1, "setgroups: %s", errstr(errno));
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		fail(1, "setgid %u: %s", gid, errstr(errno));
	if (syscall(SYS_setresuid, uid, uid, uid) < 0)
		fail(1, "setuid %u: %s", uid, errstr(errno));
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail(1, "clear keepcaps: %s", errstr(errno));
	if (flags & F_CAPS) {
		effective = in_bounding(effective, last_cap);
		permitted = in_bounding(permitted, last_cap);
		inheritable = in_bounding(inheritable, last_cap);
		ambient = in_bounding(ambient, last_cap);
		struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
		struct __user_cap_data_struct data[2] = {
			{(uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable},
			{(uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32)},
		};
		if (syscall(SYS_capset, &hdr, data) < 0)
			fail(1, "apply capabilities: capset: %s", errstr(errno));
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
			fail(1, "apply capabilities: clear ambient: %s", errstr(errno));
		for (int c = 0; c <= last_cap; c++)
			if (bit(ambient, c) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
				fail(1, "apply capabilities: raise ambient %d: %s", c, errstr(errno));
	}
	if (flags & F_UMASK)
		umask(umask_v);
	if ((flags & F_NO_NEW_PRIVS) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(1, "set no_new_privs: %s", errstr(errno));

	int has_home = 0, n = 0;
	for (; envp[n]; n++)
		if (!strncmp(envp[n], "HOME=", 5))
			has_home = 1;
	if (!has_home) {
		char *home;
		if (asprintf(&home, "HOME=%s", home_of(uid)) < 0)
			fail(1, "out of memory");
		envp[n] = home; /* strs left room for it */
	}
	char *path = look_path(argv[0], envp);

	// From here on the process no longer dies with its creator: the
	// parent records the container and exits.
	if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)
		fail(1, "clear parent death signal: %s", errstr(errno));
	char ready[] = "{\"type\":\"ready\"}\n";
	if (write(sync_fd, ready, sizeof(ready) - 1) < 0)
		fail(1, "report ready: %s", errstr(errno));
	close(sync_fd);
	sync_fd = -1;
	if (flags & F_WAIT_FIFO)
		wait_for_start(fifo_fd);
	if (!(flags & F_SECCOMP_EARLY) && sc_len)
		load_seccomp(sc_flags, insns, (uint16_t)sc_len);
	execve(path, argv, envp);
	fail(127, "exec %s: %s", path, errstr(errno));
}
