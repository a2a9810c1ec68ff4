/*
 * sandbox/podlandlock: the Landlock layer of the pod, on the real kernel.
 *
 * Runs as root, so DAC never denies anything here: an EACCES (or EPERM,
 * EXDEV) seen in a child comes from Landlock, and each denial is paired
 * with a control child that does the same without Landlock and succeeds.
 *
 * Every check runs in a forked child that sets no_new_privs, applies a
 * configuration built on a temporary tree, then performs one operation
 * and exits with 0 or the errno it got; the parent asserts.  cmocka's
 * assertions are never used in a child.
 *
 *	T/ro/		READ		r.txt, true (a copy of /bin/true)
 *	T/rw/		READ|WRITE	w.txt, sub/
 *	T/x/		READ|EXEC	true
 *	T/secret/	-		s.txt
 *	T/one.txt	READ		(a rule on a file)
 *	T/two.txt	-
 *	/usr READ|EXEC (ld.so, libc), /etc/ld.so.cache READ,
 *	/dev/null READ|WRITE, /dev/zero READ|IOCTL, a missing path READ.
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "podlandlock.h"

#define CHILD_APPLY_FAILED	250	/* pod_landlock_apply returned -1 */
#define CHILD_HARNESS		251	/* the child's own set-up failed */
#define CHILD_SIGNALLED		300	/* + signal number */

#define MISSING_PATH	"/nonexistent-podlandlock-test/x"
#define NOTE(n)		(1u << (n))
#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static char		 T[64];		/* the temporary tree */
static int		 kabi;		/* the kernel's Landlock ABI */
static unsigned int	 note_mask;	/* set by note_cb, in the child */

/* What the child tells the parent about pod_landlock_apply. */
struct report {
	int		 rc;
	int		 err_no;
	int		 abi;
	unsigned int	 notes;
	char		 err[512];
};

struct run {
	const struct pod_ll_config *cfg;	/* NULL: no Landlock */
	int		 no_nnp;	/* do not set no_new_privs */
	int		 go_on;		/* run the op even if apply failed */
	size_t		 errlen;	/* 0: sizeof(report.err) */
	struct report	 rep;		/* out */
};

typedef int (*child_fn)(const void *);

struct two {
	const char	*a;
	const char	*b;
};

/* --- helpers ------------------------------------------------------- */

/* T/rel, in one of a few rotating buffers. */
static const char *
tp(const char *rel)
{
	static char	 buf[16][PATH_MAX];
	static int	 next;
	char		*p;

	p = buf[next++ % 16];
	snprintf(p, PATH_MAX, "%s/%s", T, rel);
	return p;
}

static void
note_cb(void *arg, enum pod_ll_note n, const char *detail)
{
	(void)arg;
	(void)detail;
	note_mask |= NOTE(n);
}

static struct pod_ll_path	 paths[16];
static char			 pbuf[4][PATH_MAX];
static uint16_t			 port_ok;

static void
base_cfg(struct pod_ll_config *c, int scope, int max_abi)
{
	static const char *const	 rel[4] = {
		"ro", "rw", "x", "one.txt"
	};
	static const unsigned int	 acc[4] = {
		POD_LL_READ, POD_LL_READ | POD_LL_WRITE,
		POD_LL_READ | POD_LL_EXEC, POD_LL_READ
	};
	size_t				 n;

	for (n = 0; n < 4; n++) {
		snprintf(pbuf[n], sizeof(pbuf[n]), "%s/%s", T, rel[n]);
		paths[n].path = pbuf[n];
		paths[n].access = acc[n];
	}
	paths[n].path = "/usr";
	paths[n++].access = POD_LL_READ | POD_LL_EXEC;
	paths[n].path = "/etc/ld.so.cache";
	paths[n++].access = POD_LL_READ;
	paths[n].path = "/dev/null";
	paths[n++].access = POD_LL_READ | POD_LL_WRITE;
	paths[n].path = "/dev/zero";
	paths[n++].access = POD_LL_READ | POD_LL_IOCTL;
	paths[n].path = MISSING_PATH;
	paths[n++].access = POD_LL_READ;

	memset(c, 0, sizeof(*c));
	c->paths = paths;
	c->npaths = n;
	c->connect_ports = &port_ok;
	c->nports = 1;
	c->scope = scope;
	c->max_abi = max_abi;
	c->note = note_cb;
}

/*
 * Fork; in the child set no_new_privs, apply r->cfg (if any), report
 * to the parent through a pipe, run fn and exit with what it returns.
 */
static int
run_child(struct run *r, child_fn fn, const void *arg)
{
	struct report	 rep;
	ssize_t		 n;
	size_t		 errlen;
	pid_t		 pid;
	int		 pfd[2], status;

	memset(&r->rep, 0, sizeof(r->rep));
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(pfd[0]);
		alarm(20);	/* a hung operation fails, not the run */
		if (!r->no_nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
			_exit(CHILD_HARNESS);
		if (r->cfg != NULL) {
			memset(&rep, 0, sizeof(rep));
			errlen = r->errlen ? r->errlen : sizeof(rep.err);
			note_mask = 0;
			rep.rc = pod_landlock_apply(r->cfg, &rep.abi, rep.err,
			    errlen);
			rep.err_no = errno;
			rep.notes = note_mask;
			if (write(pfd[1], &rep, sizeof(rep)) != sizeof(rep))
				_exit(CHILD_HARNESS);
			if (rep.rc == -1 && !r->go_on)
				_exit(CHILD_APPLY_FAILED);
		}
		close(pfd[1]);
		_exit(fn != NULL ? fn(arg) : 0);
	}
	close(pfd[1]);
	if (r->cfg != NULL) {
		n = read(pfd[0], &r->rep, sizeof(r->rep));
		if (n != sizeof(r->rep))
			memset(&r->rep, 0, sizeof(r->rep));
	}
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return CHILD_SIGNALLED + WTERMSIG(status);
	if (r->cfg != NULL && r->rep.rc != 0 && !r->go_on)
		print_error("apply failed: %s\n", r->rep.err);
	return WEXITSTATUS(status);
}

/* Run fn(arg) under the base configuration (scope on, newest ABI). */
static int
with_ll(child_fn fn, const void *arg)
{
	struct pod_ll_config	 c;
	struct run		 r;

	base_cfg(&c, 1, 0);
	memset(&r, 0, sizeof(r));
	r.cfg = &c;
	return run_child(&r, fn, arg);
}

/* Run fn(arg) in a child with no_new_privs but without Landlock. */
static int
without_ll(child_fn fn, const void *arg)
{
	struct run	 r;

	memset(&r, 0, sizeof(r));
	return run_child(&r, fn, arg);
}

static int
exists(const char *p)
{
	struct stat	 st;

	return lstat(p, &st) == 0;
}

static void
copy_file(const char *from, const char *to, mode_t mode)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 in, out;

	in = open(from, O_RDONLY | O_CLOEXEC);
	assert_true(in != -1);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(out != -1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	assert_int_equal(fchmod(out, mode), 0);
	assert_int_equal(close(out), 0);
}

static void
put_file(const char *p, const char *s)
{
	int	 fd;

	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd != -1);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	assert_int_equal(close(fd), 0);
}

static int
listen_lo(uint16_t *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static socklen_t
abstract_addr(struct sockaddr_un *sun, const char *name)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path + 1, name, strlen(name));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen(name));
}

static int
listen_abstract(const char *name)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd;

	len = abstract_addr(&sun, name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, len) == -1 ||
	    listen(fd, 16) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A process that waits to be signalled.  It dies with its parent and
 * holds none of its stdio, so a failed test leaves nothing behind.
 */
static void
idle_forever(pid_t parent)
{
	int	 fd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(CHILD_HARNESS);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	alarm(60);
	for (;;)
		pause();
}

static pid_t
spawn_victim(void)
{
	pid_t	 pid, self = getpid();

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		idle_forever(self);
	return pid;
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(p);
	return unlink(p);
}

/* --- operations, run in children: 0 or the errno ------------------- */

static int
op_read(const void *a)
{
	char	 c;
	int	 fd, e;

	if ((fd = open(a, O_RDONLY | O_CLOEXEC)) == -1)
		return errno;
	if (read(fd, &c, 1) == -1) {
		e = errno;
		close(fd);
		return e;
	}
	close(fd);
	return 0;
}

static int
op_readdir(const void *a)
{
	int	 fd;

	if ((fd = open(a, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno;
	close(fd);
	return 0;
}

static int
op_create(const void *a)
{
	int	 fd, e = 0;

	fd = open(a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1)
		return errno;
	if (write(fd, "x", 1) != 1)
		e = errno;
	close(fd);
	return e;
}

static int
op_append(const void *a)
{
	int	 fd, e = 0;

	if ((fd = open(a, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1)
		return errno;
	if (write(fd, "", 0) == -1)
		e = errno;
	close(fd);
	return e;
}

/* truncate(2) to the current size: checked, changes nothing. */
static int
op_truncate(const void *a)
{
	struct stat	 st;

	if (stat(a, &st) == -1)
		return CHILD_HARNESS;
	return truncate(a, st.st_size) == -1 ? errno : 0;
}

static int
op_unlink(const void *a)
{
	return unlink(a) == -1 ? errno : 0;
}

static int
op_mkdir(const void *a)
{
	return mkdir(a, 0755) == -1 ? errno : 0;
}

static int
op_mkfifo(const void *a)
{
	return mkfifo(a, 0644) == -1 ? errno : 0;
}

static int
op_mknod_chr(const void *a)
{
	return mknod(a, S_IFCHR | 0600, makedev(1, 3)) == -1 ? errno : 0;
}

static int
op_rename(const void *a)
{
	const struct two	*t = a;

	return rename(t->a, t->b) == -1 ? errno : 0;
}

static int
op_link(const void *a)
{
	const struct two	*t = a;

	return link(t->a, t->b) == -1 ? errno : 0;
}

static int
op_symlink(const void *a)
{
	const struct two	*t = a;

	return symlink(t->a, t->b) == -1 ? errno : 0;
}

static int
op_exec(const void *a)
{
	char	 path[PATH_MAX];
	char	*argv[2], *envp[1];

	snprintf(path, sizeof(path), "%s", (const char *)a);
	argv[0] = path;
	argv[1] = NULL;
	envp[0] = NULL;
	execve(path, argv, envp);
	return errno;
}

/* ioctl(FIONREAD) on a device: the driver says ENOTTY, Landlock EACCES. */
static int
op_ioctl_open(const void *a)
{
	int	 fd, n, e = 0;

	if ((fd = open(a, O_RDONLY | O_CLOEXEC)) == -1)
		return CHILD_HARNESS;
	if (ioctl(fd, FIONREAD, &n) == -1)
		e = errno;
	close(fd);
	return e;
}

static int
op_ioctl_fd(const void *a)
{
	int	 n;

	return ioctl(*(const int *)a, FIONREAD, &n) == -1 ? errno : 0;
}

static int
op_connect(const void *a)
{
	struct sockaddr_in	 sin;
	int			 fd, e = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return CHILD_HARNESS;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(*(const uint16_t *)a);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		e = errno;
	close(fd);
	return e;
}

/* IPv6: Landlock decides before routing, so no listener is needed. */
static int
op_connect6(const void *a)
{
	struct sockaddr_in6	 sin6;
	int			 fd, e = 0;

	if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return CHILD_HARNESS;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	sin6.sin6_port = htons(*(const uint16_t *)a);
	if (connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == -1)
		e = errno;
	close(fd);
	return e;
}

static int
op_bind(const void *a)
{
	struct sockaddr_in	 sin;
	int			 fd, e = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return CHILD_HARNESS;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(*(const uint16_t *)a);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		e = errno;
	close(fd);
	return e;
}

static int
op_kill(const void *a)
{
	return kill(*(const pid_t *)a, SIGTERM) == -1 ? errno : 0;
}

/* Signal a process of our own domain: scoping must allow it. */
static int
op_kill_own_child(const void *a)
{
	pid_t	 pid, self = getpid();
	int	 status;

	(void)a;
	if ((pid = fork()) == -1)
		return CHILD_HARNESS;
	if (pid == 0)
		idle_forever(self);
	if (kill(pid, SIGTERM) == -1)
		return errno;
	if (waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status) ||
	    WTERMSIG(status) != SIGTERM)
		return CHILD_HARNESS;
	return 0;
}

static int
op_uconnect(const void *a)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd, e = 0;

	len = abstract_addr(&sun, a);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return CHILD_HARNESS;
	if (connect(fd, (struct sockaddr *)&sun, len) == -1)
		e = errno;
	close(fd);
	return e;
}

/* Listen on an abstract socket inside the domain and connect to it. */
static int
op_uconnect_own(const void *a)
{
	int	 lfd, e;

	if ((lfd = listen_abstract(a)) == -1)
		return CHILD_HARNESS;
	e = op_uconnect(a);
	close(lfd);
	return e;
}

/* --- fixture -------------------------------------------------------- */

static int
group_setup(void **state)
{
	(void)state;
	kabi = pod_landlock_abi();
	snprintf(T, sizeof(T), "/tmp/podll.XXXXXX");
	if (mkdtemp(T) == NULL)
		return -1;
	if (mkdir(tp("ro"), 0755) == -1 || mkdir(tp("rw"), 0755) == -1 ||
	    mkdir(tp("rw/sub"), 0755) == -1 || mkdir(tp("x"), 0755) == -1 ||
	    mkdir(tp("secret"), 0755) == -1)
		return -1;
	put_file(tp("ro/r.txt"), "readable\n");
	put_file(tp("rw/w.txt"), "writable\n");
	put_file(tp("secret/s.txt"), "secret\n");
	put_file(tp("one.txt"), "one\n");
	put_file(tp("two.txt"), "two\n");
	copy_file("/bin/true", tp("ro/true"), 0755);
	copy_file("/bin/true", tp("x/true"), 0755);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (T[0] != '\0')
		(void)nftw(T, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

#define NEED_ABI(n) do {						\
	if (kabi < (n)) {						\
		print_message("landlock ABI %d < %d: skipped\n", kabi, (n)); \
		skip();							\
	}								\
} while (0)

/* --- tests ---------------------------------------------------------- */

static void
test_abi(void **state)
{
	(void)state;
	print_message("kernel landlock ABI %d\n", kabi);
	NEED_ABI(1);
	assert_true(kabi >= 1);
}

/*
 * Each ABI from 1 to the kernel's is accepted (the attr size matches
 * it) and what it cannot enforce is reported, to the callback and in
 * the err line.
 */
static void
test_abi_levels(void **state)
{
	static const unsigned int	 want[] = {
		0,
		NOTE(POD_LL_NOTE_NO_REFER) | NOTE(POD_LL_NOTE_NO_TRUNCATE) |
		    NOTE(POD_LL_NOTE_NO_NET) | NOTE(POD_LL_NOTE_NO_IOCTL_DEV) |
		    NOTE(POD_LL_NOTE_NO_SCOPE),
		NOTE(POD_LL_NOTE_NO_TRUNCATE) | NOTE(POD_LL_NOTE_NO_NET) |
		    NOTE(POD_LL_NOTE_NO_IOCTL_DEV) | NOTE(POD_LL_NOTE_NO_SCOPE),
		NOTE(POD_LL_NOTE_NO_NET) | NOTE(POD_LL_NOTE_NO_IOCTL_DEV) |
		    NOTE(POD_LL_NOTE_NO_SCOPE),
		NOTE(POD_LL_NOTE_NO_IOCTL_DEV) | NOTE(POD_LL_NOTE_NO_SCOPE),
		NOTE(POD_LL_NOTE_NO_SCOPE),
		0,
		0,
	};
	struct pod_ll_config	 c;
	struct run		 r;
	int			 k, top;

	(void)state;
	NEED_ABI(1);
	top = kabi < POD_LL_ABI_MAX ? kabi : POD_LL_ABI_MAX;
	for (k = 1; k <= top; k++) {
		base_cfg(&c, 1, k);
		memset(&r, 0, sizeof(r));
		r.cfg = &c;
		assert_int_equal(run_child(&r, op_read, tp("ro/r.txt")), 0);
		assert_int_equal(r.rep.rc, 0);
		assert_int_equal(r.rep.abi, k);
		assert_int_equal(r.rep.notes,
		    want[k] | NOTE(POD_LL_NOTE_MISSING));
		assert_non_null(strstr(r.rep.err, MISSING_PATH));
		if (k < 4)
			assert_non_null(strstr(r.rep.err,
			    "TCP bind and connect not restricted"));
		if (k >= 6)
			assert_null(strchr(r.rep.err, ';'));
		/* And the ungranted file is denied at every level. */
		assert_int_equal(run_child(&r, op_read, tp("secret/s.txt")),
		    EACCES);
	}
	/* A cap above what the kernel has: the kernel's (or ours) wins. */
	base_cfg(&c, 1, 99);
	memset(&r, 0, sizeof(r));
	r.cfg = &c;
	assert_int_equal(run_child(&r, NULL, NULL), 0);
	assert_int_equal(r.rep.abi, top);
}

static void
test_read(void **state)
{
	(void)state;
	NEED_ABI(1);
	assert_int_equal(with_ll(op_read, tp("ro/r.txt")), 0);
	assert_int_equal(with_ll(op_readdir, tp("ro")), 0);
	assert_int_equal(with_ll(op_read, tp("rw/w.txt")), 0);
	assert_int_equal(with_ll(op_read, tp("x/true")), 0);
	assert_int_equal(with_ll(op_read, tp("one.txt")), 0);
	assert_int_equal(with_ll(op_read, "/usr/lib/os-release"), 0);

	assert_int_equal(with_ll(op_read, tp("secret/s.txt")), EACCES);
	assert_int_equal(with_ll(op_readdir, tp("secret")), EACCES);
	assert_int_equal(with_ll(op_readdir, T), EACCES);
	assert_int_equal(with_ll(op_read, tp("two.txt")), EACCES);
	assert_int_equal(with_ll(op_read, "/etc/passwd"), EACCES);

	/* The same reads without Landlock: the layer is what denies. */
	assert_int_equal(without_ll(op_read, tp("secret/s.txt")), 0);
	assert_int_equal(without_ll(op_readdir, tp("secret")), 0);
	assert_int_equal(without_ll(op_read, tp("two.txt")), 0);
}

static void
test_write(void **state)
{
	(void)state;
	NEED_ABI(1);
	/* Granted: create, append, mkdir, unlink beneath rw/. */
	assert_int_equal(with_ll(op_create, tp("rw/new")), 0);
	assert_true(exists(tp("rw/new")));
	assert_int_equal(with_ll(op_append, tp("rw/w.txt")), 0);
	assert_int_equal(with_ll(op_mkdir, tp("rw/d")), 0);
	assert_true(exists(tp("rw/d")));
	assert_int_equal(with_ll(op_unlink, tp("rw/new")), 0);
	assert_false(exists(tp("rw/new")));
	assert_int_equal(with_ll(op_append, "/dev/null"), 0);

	/* Denied, and nothing is left behind. */
	assert_int_equal(with_ll(op_create, tp("ro/new")), EACCES);
	assert_false(exists(tp("ro/new")));
	assert_int_equal(with_ll(op_create, tp("secret/new")), EACCES);
	assert_false(exists(tp("secret/new")));
	assert_int_equal(with_ll(op_create, tp("new")), EACCES);
	assert_false(exists(tp("new")));
	assert_int_equal(with_ll(op_append, tp("ro/r.txt")), EACCES);
	assert_int_equal(with_ll(op_append, tp("x/true")), EACCES);
	assert_int_equal(with_ll(op_unlink, tp("ro/r.txt")), EACCES);
	assert_true(exists(tp("ro/r.txt")));
	assert_int_equal(with_ll(op_mkdir, tp("ro/d")), EACCES);
	assert_false(exists(tp("ro/d")));

	/* Without Landlock the same create works. */
	assert_int_equal(without_ll(op_create, tp("ro/new")), 0);
	assert_true(exists(tp("ro/new")));
	assert_int_equal(unlink(tp("ro/new")), 0);
}

static void
test_write_special(void **state)
{
	struct two	 t;

	(void)state;
	NEED_ABI(1);
	/* FIFOs and sockets may be made where writing is granted ... */
	assert_int_equal(with_ll(op_mkfifo, tp("rw/fifo")), 0);
	assert_int_equal(with_ll(op_mkfifo, tp("ro/fifo")), EACCES);
	assert_false(exists(tp("ro/fifo")));
	/* ... device nodes never (we are root: only Landlock says no). */
	assert_int_equal(with_ll(op_mknod_chr, tp("rw/null")), EACCES);
	assert_false(exists(tp("rw/null")));
	assert_int_equal(without_ll(op_mknod_chr, tp("rw/null")), 0);
	assert_int_equal(unlink(tp("rw/null")), 0);

	/* A symlink may be made; it grants nothing. */
	t.a = tp("secret/s.txt");
	t.b = tp("rw/ln");
	assert_int_equal(with_ll(op_symlink, &t), 0);
	assert_int_equal(with_ll(op_read, tp("rw/ln")), EACCES);
	assert_int_equal(without_ll(op_read, tp("rw/ln")), 0);

	/* A hard link from ro/ into rw/ would gain write: refused. */
	t.a = tp("ro/r.txt");
	t.b = tp("rw/r.lnk");
	assert_int_equal(with_ll(op_link, &t), EXDEV);
	assert_false(exists(tp("rw/r.lnk")));

	if (kabi >= 2) {
		/* Renames across directories beneath rw/ (refer). */
		t.a = tp("rw/w.txt");
		t.b = tp("rw/sub/w.txt");
		assert_int_equal(with_ll(op_rename, &t), 0);
		assert_true(exists(tp("rw/sub/w.txt")));
		t.a = tp("rw/sub/w.txt");
		t.b = tp("rw/w.txt");
		assert_int_equal(with_ll(op_rename, &t), 0);
		assert_true(exists(tp("rw/w.txt")));
	}
	/* Out of rw/ into a directory not granted: refused. */
	t.a = tp("rw/w.txt");
	t.b = tp("secret/w.txt");
	assert_int_equal(with_ll(op_rename, &t), EACCES);
	assert_true(exists(tp("rw/w.txt")));
	assert_false(exists(tp("secret/w.txt")));

	if (kabi >= 3) {
		assert_int_equal(with_ll(op_truncate, tp("rw/w.txt")), 0);
		assert_int_equal(with_ll(op_truncate, tp("ro/r.txt")), EACCES);
		assert_int_equal(without_ll(op_truncate, tp("ro/r.txt")), 0);
	}
}

static void
test_exec(void **state)
{
	(void)state;
	NEED_ABI(1);
	assert_int_equal(with_ll(op_exec, tp("x/true")), 0);
	assert_int_equal(with_ll(op_exec, tp("ro/true")), EACCES);
	/* Without Landlock the READ-only copy runs: the layer denies. */
	assert_int_equal(without_ll(op_exec, tp("ro/true")), 0);
	/* The runtime's own binaries (EXEC on /usr) run. */
	assert_int_equal(with_ll(op_exec, "/usr/bin/true"), 0);
}

static void
test_ioctl_dev(void **state)
{
	int	 fd;

	(void)state;
	NEED_ABI(5);
	/* /dev/zero has IOCTL: the driver answers (ENOTTY). */
	assert_int_equal(with_ll(op_ioctl_open, "/dev/zero"), ENOTTY);
	/* /dev/null has READ|WRITE only: Landlock answers. */
	assert_int_equal(with_ll(op_ioctl_open, "/dev/null"), EACCES);
	assert_int_equal(without_ll(op_ioctl_open, "/dev/null"), ENOTTY);
	/* An fd opened before the restriction keeps its ioctls. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd != -1);
	assert_int_equal(with_ll(op_ioctl_fd, &fd), ENOTTY);
	close(fd);
}

static void
test_net(void **state)
{
	uint16_t	 port_other, zero = 0;
	int		 lfd_ok, lfd_other;

	(void)state;
	NEED_ABI(4);
	lfd_ok = listen_lo(&port_ok);
	lfd_other = listen_lo(&port_other);

	assert_int_equal(with_ll(op_connect, &port_ok), 0);
	assert_int_equal(with_ll(op_connect, &port_other), EACCES);
	assert_int_equal(without_ll(op_connect, &port_other), 0);
	assert_int_equal(with_ll(op_connect6, &port_other), EACCES);
	assert_int_not_equal(without_ll(op_connect6, &port_other), EACCES);

	assert_int_equal(with_ll(op_bind, &zero), EACCES);
	assert_int_equal(without_ll(op_bind, &zero), 0);
	/* Not even the port one may connect to. */
	assert_int_equal(with_ll(op_bind, &port_ok), EACCES);

	close(lfd_ok);
	close(lfd_other);
}

static void
test_scope_signal(void **state)
{
	struct pod_ll_config	 c;
	struct run		 r;
	pid_t			 victim;
	int			 status;

	(void)state;
	NEED_ABI(6);
	victim = spawn_victim();

	/* Scoped: a process outside the domain cannot be signalled. */
	assert_int_equal(with_ll(op_kill, &victim), EPERM);
	assert_int_equal(waitpid(victim, &status, WNOHANG), 0);
	/* Our own children can. */
	assert_int_equal(with_ll(op_kill_own_child, NULL), 0);

	/* Landlock without scope: the signal goes through. */
	base_cfg(&c, 0, 0);
	memset(&r, 0, sizeof(r));
	r.cfg = &c;
	assert_int_equal(run_child(&r, op_kill, &victim), 0);
	assert_int_equal(waitpid(victim, &status, 0), victim);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

	/* And without Landlock at all. */
	victim = spawn_victim();
	assert_int_equal(without_ll(op_kill, &victim), 0);
	assert_int_equal(waitpid(victim, &status, 0), victim);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}

static void
test_scope_unix(void **state)
{
	struct pod_ll_config	 c;
	struct run		 r;
	char			 name[64], own[64];
	int			 lfd;

	(void)state;
	NEED_ABI(6);
	snprintf(name, sizeof(name), "podll-test-%ld", (long)getpid());
	snprintf(own, sizeof(own), "podll-own-%ld", (long)getpid());
	lfd = listen_abstract(name);
	assert_true(lfd != -1);

	assert_int_equal(with_ll(op_uconnect, name), EPERM);
	assert_int_equal(with_ll(op_uconnect_own, own), 0);

	base_cfg(&c, 0, 0);
	memset(&r, 0, sizeof(r));
	r.cfg = &c;
	assert_int_equal(run_child(&r, op_uconnect, name), 0);
	assert_int_equal(without_ll(op_uconnect, name), 0);
	close(lfd);
}

/* Capped to an older ABI, what it cannot enforce is indeed not. */
static void
test_degrade(void **state)
{
	struct pod_ll_config	 c;
	struct run		 r;
	uint16_t		 port_other;
	pid_t			 victim;
	int			 lfd_ok, lfd_other, status;
	char			 name[64];

	(void)state;
	NEED_ABI(6);
	memset(&r, 0, sizeof(r));
	r.cfg = &c;

	/* ABI 3: no network rules. */
	lfd_ok = listen_lo(&port_ok);
	lfd_other = listen_lo(&port_other);
	base_cfg(&c, 1, 3);
	assert_int_equal(run_child(&r, op_connect, &port_other), 0);
	assert_int_equal(r.rep.abi, 3);
	assert_true(r.rep.notes & NOTE(POD_LL_NOTE_NO_NET));
	base_cfg(&c, 1, 4);
	assert_int_equal(run_child(&r, op_connect, &port_other), EACCES);
	close(lfd_ok);
	close(lfd_other);

	/* ABI 2: truncate is not restricted. */
	base_cfg(&c, 1, 2);
	assert_int_equal(run_child(&r, op_truncate, tp("ro/r.txt")), 0);
	assert_true(r.rep.notes & NOTE(POD_LL_NOTE_NO_TRUNCATE));

	/* ABI 5: no scoping, though asked for. */
	base_cfg(&c, 1, 5);
	victim = spawn_victim();
	assert_int_equal(run_child(&r, op_kill, &victim), 0);
	assert_true(r.rep.notes & NOTE(POD_LL_NOTE_NO_SCOPE));
	assert_int_equal(waitpid(victim, &status, 0), victim);
	snprintf(name, sizeof(name), "podll-degrade-%ld", (long)getpid());
	lfd_ok = listen_abstract(name);
	assert_true(lfd_ok != -1);
	assert_int_equal(run_child(&r, op_uconnect, name), 0);
	close(lfd_ok);
}

/* A missing path is skipped and reported; the err line is bounded. */
static void
test_missing(void **state)
{
	struct pod_ll_config	 c;
	struct run		 r;
	size_t			 len;

	(void)state;
	NEED_ABI(6);
	base_cfg(&c, 1, 0);
	memset(&r, 0, sizeof(r));
	r.cfg = &c;
	assert_int_equal(run_child(&r, op_read, tp("ro/r.txt")), 0);
	assert_int_equal(r.rep.rc, 0);
	assert_int_equal(r.rep.notes, NOTE(POD_LL_NOTE_MISSING));
	assert_string_equal(r.rep.err, MISSING_PATH ": path does not exist, "
	    "skipped");

	/* Nothing to report: an empty line. */
	c.npaths--;
	assert_int_equal(run_child(&r, NULL, NULL), 0);
	assert_int_equal(r.rep.notes, 0);
	assert_string_equal(r.rep.err, "");

	/* Too small a buffer: truncated with "...", still terminated. */
	base_cfg(&c, 1, 1);
	r.errlen = 24;
	assert_int_equal(run_child(&r, NULL, NULL), 0);
	len = strlen(r.rep.err);
	assert_int_equal(len, 23);
	assert_string_equal(r.rep.err + len - 3, "...");
	r.errlen = 2;
	assert_int_equal(run_child(&r, NULL, NULL), 0);
	assert_true(strlen(r.rep.err) <= 1);
}

static void
test_no_nnp(void **state)
{
	struct pod_ll_config	 c;
	struct run		 r;

	(void)state;
	NEED_ABI(1);
	base_cfg(&c, 1, 0);
	memset(&r, 0, sizeof(r));
	r.cfg = &c;
	r.no_nnp = 1;
	r.go_on = 1;
	assert_int_equal(run_child(&r, op_read, tp("secret/s.txt")), 0);
	assert_int_equal(r.rep.rc, -1);
	assert_int_equal(r.rep.err_no, EPERM);
	assert_non_null(strstr(r.rep.err, "no_new_privs"));
	assert_true(r.rep.abi >= 1);
}

static void
test_bad_config(void **state)
{
	struct pod_ll_path	 bad[1];
	struct pod_ll_config	 c;
	struct run		 r;
	struct two		 t;
	char			 err[256];
	int			 abi = -1;

	(void)state;
	/* Refused before anything happens: safe in this process. */
	assert_int_equal(pod_landlock_apply(NULL, &abi, err, sizeof(err)),
	    -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(abi, 0);

	memset(&c, 0, sizeof(c));
	bad[0].path = "/usr";
	bad[0].access = 0x100;
	c.paths = bad;
	c.npaths = 1;
	assert_int_equal(pod_landlock_apply(&c, &abi, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "/usr"));

	bad[0].path = "";
	bad[0].access = POD_LL_READ;
	assert_int_equal(pod_landlock_apply(&c, NULL, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);

	c.paths = NULL;
	assert_int_equal(pod_landlock_apply(&c, NULL, NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	c.npaths = 0;
	c.nports = 2;
	assert_int_equal(pod_landlock_apply(&c, NULL, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);

	assert_string_equal(pod_landlock_note_str(POD_LL_NOTE_NO_NET),
	    "landlock ABI < 4: TCP bind and connect not restricted");
	assert_string_equal(pod_landlock_note_str((enum pod_ll_note)99),
	    "unknown landlock note");

	/* A path that cannot be opened (ELOOP) fails; nothing restricted. */
	NEED_ABI(1);
	t.a = tp("rw/loop");
	t.b = tp("rw/loop");
	assert_int_equal(symlink(t.a, t.b), 0);
	bad[0].path = t.b;
	bad[0].access = POD_LL_READ;
	c.paths = bad;
	c.npaths = 1;
	c.nports = 0;
	memset(&r, 0, sizeof(r));
	r.cfg = &c;
	r.go_on = 1;
	assert_int_equal(run_child(&r, op_read, tp("secret/s.txt")), 0);
	assert_int_equal(r.rep.rc, -1);
	assert_int_equal(r.rep.err_no, ELOOP);
	assert_non_null(strstr(r.rep.err, "rw/loop"));
	assert_int_equal(unlink(t.b), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi),
		cmocka_unit_test(test_abi_levels),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_special),
		cmocka_unit_test(test_exec),
		cmocka_unit_test(test_ioctl_dev),
		cmocka_unit_test(test_net),
		cmocka_unit_test(test_scope_signal),
		cmocka_unit_test(test_scope_unix),
		cmocka_unit_test(test_degrade),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_no_nnp),
		cmocka_unit_test(test_bad_config),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
