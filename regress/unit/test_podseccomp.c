/*
 * The worker's seccomp profile (sandbox/podseccomp.c) against the real
 * kernel.  Needs root: the denied operations are tried with arguments
 * that work for root without the profile.
 *
 * Each probe runs twice, each time in a fresh child (setsid, so no
 * controlling terminal): once as it is, once after no_new_privs and
 * pod_seccomp_install().  A denial must work, or at least end
 * differently, without the profile and be refused with it, so what
 * refuses it is the profile and nothing else; a runtime probe must
 * work under the profile.  Children report through a pipe and leave
 * with _exit: LeakSanitizer's exit-time scan needs ptrace, which the
 * profile refuses.
 */
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/tiocl.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "podseccomp.h"

#define HIGH_JUNK	(1UL << 32)	/* the kernel ignores it; so must we */
#define X32_BIT		0x40000000L
#define NR_OPEN_TREE_ATTR 467		/* unknown to libseccomp 2.5.4 */

extern char **environ;

enum want {
	DENIED,		/* works without the profile, refused with it */
	DENIED_DIFF,	/* refused with it, ends otherwise without it */
	KILLED,		/* the profile kills the process (SIGSYS) */
	ALLOWED,	/* works under the profile (and without it) */
	SAME		/* the profile changes nothing */
};

struct probe {
	const char	*name;
	int		(*setup)(void);		/* before the profile */
	int		(*attempt)(void);	/* 0, or an errno */
	enum want	 want;
	int		 err;			/* for DENIED*: the errno */
};

struct outcome {
	int		 sig;		/* the signal that ended the child */
	int		 setup;		/* errno of a failed setup */
	int		 err;		/* the attempt: 0 or an errno */
	char		 msg[256];	/* pod_seccomp_install's reason */
};

static char	 mntdir[] = "/tmp/podseccomp.XXXXXX";
static char	 selfexe[PATH_MAX];

/* State a setup leaves for its attempt (in the child's own copy). */
static int	 pty_master = -1, pty_slave = -1, vt = -1, nsfd = -1;
static int	 mountfd = -1;
static struct {
	struct file_handle	fh;
	unsigned char		space[MAX_HANDLE_SZ];
} handle;

/* --- running a probe in a child --------------------------------------- */

static struct outcome
run(const struct probe *p, int filtered)
{
	struct outcome	 o;
	ssize_t		 n;
	pid_t		 pid;
	int		 fds[2], status;

	memset(&o, 0, sizeof(o));
	if (pipe2(fds, O_CLOEXEC) == -1)
		fail_msg("pipe2: %s", strerror(errno));
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		(void)setsid();
		if (p->setup != NULL && p->setup() == -1) {
			o.setup = errno;
			goto out;
		}
		if (filtered) {
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
				o.setup = errno;
				goto out;
			}
			if (pod_seccomp_install(o.msg, sizeof(o.msg)) == -1) {
				o.setup = EINVAL;
				goto out;
			}
		}
		o.err = p->attempt();
 out:
		_exit(write(fds[1], &o, sizeof(o)) == sizeof(o) ? 0 : 1);
	}
	close(fds[1]);
	n = read(fds[0], &o, sizeof(o));
	close(fds[0]);
	if (waitpid(pid, &status, 0) == -1)
		fail_msg("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status)) {
		memset(&o, 0, sizeof(o));
		o.sig = WTERMSIG(status);
	} else if (n != (ssize_t)sizeof(o))
		fail_msg("%s: child reported nothing", p->name);
	return o;
}

static const char *
show(const struct outcome *o, char *buf, size_t len)
{
	if (o->sig != 0)
		(void)snprintf(buf, len, "killed by signal %d", o->sig);
	else if (o->err == 0)
		(void)snprintf(buf, len, "works");
	else
		(void)snprintf(buf, len, "fails: %s", strerror(o->err));
	return buf;
}

static void
test_probe(void **state)
{
	const struct probe	*p = *state;
	struct outcome		 bare, filt;
	char			 b1[64], b2[64];

	if (geteuid() != 0)
		skip();
	bare = run(p, 0);
	filt = run(p, 1);
	if (bare.setup != 0 || filt.setup != 0)
		fail_msg("%s: setup failed: %s %s", p->name,
		    strerror(bare.setup ? bare.setup : filt.setup), filt.msg);
	print_message("  %-44s without: %-28s with: %s\n", p->name,
	    show(&bare, b1, sizeof(b1)), show(&filt, b2, sizeof(b2)));
	switch (p->want) {
	case DENIED:
		assert_int_equal(bare.sig, 0);
		assert_int_equal(bare.err, 0);
		/* FALLTHROUGH */
	case DENIED_DIFF:
		assert_int_equal(bare.sig, 0);
		assert_int_equal(filt.sig, 0);
		assert_int_equal(filt.err, p->err);
		assert_int_not_equal(bare.err, filt.err);
		break;
	case KILLED:
		assert_int_equal(bare.sig, 0);
		assert_int_equal(filt.sig, SIGSYS);
		break;
	case ALLOWED:
		assert_int_equal(bare.sig, 0);
		assert_int_equal(bare.err, 0);
		assert_int_equal(filt.sig, 0);
		assert_int_equal(filt.err, 0);
		break;
	case SAME:
		assert_int_equal(filt.sig, bare.sig);
		assert_int_equal(filt.err, bare.err);
		break;
	}
}

/* An attempt's verdict: 0 if the call worked, its errno if not. */
static int
res(long rv)
{
	return rv == -1 ? errno : 0;
}

/* The same for a call that returns a descriptor. */
static int
fdres(long fd)
{
	if (fd == -1)
		return errno;
	close((int)fd);
	return 0;
}

/* Wait for a child a probe made; 0 if it exited 0. */
static int
reap(pid_t pid)
{
	int	status;

	if (pid == -1)
		return errno;
	if (pid == 0)
		_exit(0);		/* the new child itself */
	if (waitpid(pid, &status, __WALL) == -1)
		return errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : ECHILD;
}

/* --- setups ------------------------------------------------------------- */

static int
setup_pty(void)
{
	if ((pty_master = posix_openpt(O_RDWR | O_NOCTTY)) == -1 ||
	    grantpt(pty_master) == -1 || unlockpt(pty_master) == -1)
		return -1;
	if ((pty_slave = open(ptsname(pty_master), O_RDWR | O_NOCTTY)) == -1)
		return -1;
	return 0;
}

/* A virtual console if there is one, else the pty (EINVAL there). */
static int
setup_vt(void)
{
	if ((vt = open("/dev/tty0", O_RDONLY | O_NOCTTY)) != -1)
		return 0;
	if (setup_pty() == -1)
		return -1;
	vt = pty_slave;
	return 0;
}

/* A private mount namespace, so nothing mounted here leaks out. */
static int
setup_mountns(void)
{
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		return -1;
	return 0;
}

/* The same, with a tmpfs on mntdir to unmount. */
static int
setup_mounted(void)
{
	if (setup_mountns() == -1 ||
	    mount("tmpfs", mntdir, "tmpfs", 0, "size=64k") == -1)
		return -1;
	return 0;
}

static int
setup_utsns(void)
{
	return unshare(CLONE_NEWUTS);
}

static int
setup_nsfd(void)
{
	return (nsfd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC));
}

static int
setup_handle(void)
{
	int	mnt;

	handle.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, "/", &handle.fh, &mnt, 0) == -1)
		return -1;
	return (mountfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

/* --- namespaces ------------------------------------------------------- */

static int
try_unshare_ns(void)
{
	return res(unshare(CLONE_NEWNS));
}

static int
try_unshare_user(void)
{
	return res(unshare(CLONE_NEWUSER));
}

static int
try_setns(void)
{
	return res(setns(nsfd, CLONE_NEWUTS));
}

static int
clone_with(unsigned long flags)
{
	return reap((pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0));
}

static int
try_clone_newns(void)
{
	return clone_with(CLONE_NEWNS);
}

static int
try_clone_newuser(void)
{
	return clone_with(CLONE_NEWUSER);
}

static int
try_clone_newpid(void)
{
	return clone_with(CLONE_NEWPID);
}

static int
try_clone_newnet(void)
{
	return clone_with(CLONE_NEWNET);
}

static int
try_clone_newuts(void)
{
	return clone_with(CLONE_NEWUTS);
}

static int
try_clone_newipc(void)
{
	return clone_with(CLONE_NEWIPC);
}

static int
try_clone_newcgroup(void)
{
	return clone_with(CLONE_NEWCGROUP);
}

/* The kernel reads the low 32 bits of clone's flags. */
static int
try_clone_newns_junk(void)
{
	return clone_with(HIGH_JUNK | CLONE_NEWNS);
}

/* clone_args, version 0 (64 bytes), spelled out for old headers. */
struct clone_args0 {
	uint64_t	flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t	stack, stack_size, tls;
};

static int
try_clone3(void)
{
	struct clone_args0	ca;

	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	return reap((pid_t)syscall(SYS_clone3, &ca, sizeof(ca)));
}

/* What an exec'd program meets: the profile outlives execve. */
static int
try_unshare_after_exec(void)
{
	char	*argv[] = { selfexe, "--unshare-probe", NULL };
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == -1)
		return errno;
	if (pid == 0) {
		execve(selfexe, argv, environ);
		_exit(125);
	}
	if (waitpid(pid, &status, 0) == -1)
		return errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 125)
		return ECHILD;
	return WEXITSTATUS(status);	/* the errno of unshare, or 0 */
}

/* --- mounts ------------------------------------------------------------- */

static int
try_mount(void)
{
	return res(mount("tmpfs", mntdir, "tmpfs", 0, "size=64k"));
}

static int
try_umount(void)
{
	return res(umount2(mntdir, 0));
}

static int
try_chroot(void)
{
	return res(chroot("/"));
}

static int
try_fsopen(void)
{
	return fdres(syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC));
}

static int
try_open_tree(void)
{
	return fdres(syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLOEXEC));
}

static int
try_sethostname(void)
{
	return res(sethostname("podseccomp", 10));
}

/* --- sockets ------------------------------------------------------------ */

static int
try_packet(void)
{
	return fdres(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
}

static int
try_raw4(void)
{
	return fdres(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
}

static int
try_raw4_flags(void)
{
	return fdres(socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_ICMP));
}

static int
try_raw6(void)
{
	return fdres(socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
}

/* The kernel's obsolete spelling of a packet socket. */
static int
try_inet_packet(void)
{
	return fdres(socket(AF_INET, SOCK_PACKET, htons(ETH_P_ALL)));
}

static int
try_netlink(void)
{
	return fdres(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
}

/* The family is an int to the kernel, which drops the high half. */
static int
try_netlink_junk(void)
{
	return fdres(syscall(SYS_socket, HIGH_JUNK | AF_NETLINK, SOCK_RAW,
	    NETLINK_ROUTE));
}

static int
try_vsock(void)
{
	return fdres(socket(AF_VSOCK, SOCK_STREAM, 0));
}

static int
try_alg(void)
{
	return fdres(socket(AF_ALG, SOCK_SEQPACKET, 0));
}

static int
try_unspec(void)
{
	return fdres(socket(AF_UNSPEC, SOCK_STREAM, 0));
}

static int
try_socketpair_inet(void)
{
	int	sv[2];

	if (socketpair(AF_INET, SOCK_STREAM, 0, sv) == -1)
		return errno;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

/* --- terminal ioctls ---------------------------------------------------- */

static int
try_tiocsti(void)
{
	char	c = 'x';

	return res(ioctl(pty_slave, TIOCSTI, &c));
}

/* The request is an unsigned int to the kernel. */
static int
try_tiocsti_junk(void)
{
	char	c = 'x';

	return res(syscall(SYS_ioctl, pty_slave, HIGH_JUNK | TIOCSTI, &c));
}

static int
try_tioclinux(void)
{
	char	sub = TIOCL_GETFGCONSOLE;

	return res(ioctl(vt, TIOCLINUX, &sub) == -1 ? -1 : 0);
}

static int
try_tiocsetd(void)
{
	int	ldisc = N_TTY;

	return res(ioctl(pty_slave, TIOCSETD, &ldisc));
}

/* --- kernel interfaces -------------------------------------------------- */

static int
try_io_uring(void)
{
	struct io_uring_params	p;

	memset(&p, 0, sizeof(p));
	return fdres(syscall(SYS_io_uring_setup, 4, &p));
}

static int
try_bpf(void)
{
	union bpf_attr	a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	return fdres(syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
}

static int
try_perf(void)
{
	struct perf_event_attr	a;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_SOFTWARE;
	a.size = sizeof(a);
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.disabled = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	return fdres(syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
}

static int
try_userfaultfd(void)
{
	return fdres(syscall(SYS_userfaultfd, O_CLOEXEC));
}

static int
try_keyctl(void)
{
	return res(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID,
	    KEY_SPEC_THREAD_KEYRING, 1) == -1 ? -1 : 0);
}

static int
try_add_key(void)
{
	return res(syscall(SYS_add_key, "user", "podseccomp", "x", 1,
	    KEY_SPEC_THREAD_KEYRING) == -1 ? -1 : 0);
}

static int
try_syslog(void)
{
	return res(klogctl(10, NULL, 0) == -1 ? -1 : 0);	/* size */
}

static int
try_modify_ldt(void)
{
	char	buf[16];

	return res(syscall(SYS_modify_ldt, 0, buf, sizeof(buf)) == -1 ?
	    -1 : 0);
}

static int
try_set_mempolicy(void)
{
	return res(syscall(SYS_set_mempolicy, 0, NULL, 0));	/* default */
}

static int
try_move_pages(void)
{
	return res(syscall(SYS_move_pages, 0, 0, NULL, NULL, NULL, 0));
}

static int
try_adjtimex(void)
{
	struct timex	tx;

	memset(&tx, 0, sizeof(tx));			/* modes 0: read */
	return res(adjtimex(&tx) == -1 ? -1 : 0);
}

static int
try_clock_adjtime(void)
{
	struct timex	tx;

	memset(&tx, 0, sizeof(tx));
	return res(clock_adjtime(CLOCK_REALTIME, &tx) == -1 ? -1 : 0);
}

static int
try_fanotify(void)
{
	return fdres(fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY));
}

/* --- other processes and file handles ------------------------------------ */

static int
try_ptrace(void)
{
	return res(syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
}

static int
try_process_vm_readv(void)
{
	static const char	 src[] = "secret";
	char			 dst[sizeof(src)];
	struct iovec		 l = { dst, sizeof(dst) };
	struct iovec		 r = { (void *)(uintptr_t)src, sizeof(src) };

	return res(process_vm_readv(getpid(), &l, 1, &r, 1, 0) == -1 ? -1 : 0);
}

static int
try_kcmp(void)
{
	return res(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 0, 0) ==
	    -1 ? -1 : 0);
}

static int
try_pidfd_getfd(void)
{
	long	pfd;
	int	rv;

	if ((pfd = syscall(SYS_pidfd_open, getpid(), 0)) == -1)
		return errno;
	rv = fdres(syscall(SYS_pidfd_getfd, pfd, 0, 0));
	close((int)pfd);
	return rv;
}

static int
try_name_to_handle(void)
{
	struct {
		struct file_handle	fh;
		unsigned char		space[MAX_HANDLE_SZ];
	} h;
	int	mnt;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	return res(name_to_handle_at(AT_FDCWD, "/", &h.fh, &mnt, 0));
}

static int
try_open_by_handle(void)
{
	return fdres(open_by_handle_at(mountfd, &handle.fh, O_RDONLY |
	    O_CLOEXEC));
}

/* --- execution domains and foreign ABIs --------------------------------- */

static int
try_per_linux32(void)
{
	return res(personality(PER_LINUX32));
}

static int
try_no_randomize(void)
{
	return res(personality(PER_LINUX | ADDR_NO_RANDOMIZE));
}

/* The kernel reads an unsigned int: junk above it changes nothing. */
static int
try_per_linux32_junk(void)
{
	return res(syscall(SYS_personality, HIGH_JUNK | PER_LINUX32));
}

static int
try_personality_ok(void)
{
	if (personality(0xffffffff) == -1 || personality(PER_LINUX) == -1 ||
	    syscall(SYS_personality, HIGH_JUNK | PER_LINUX) == -1)
		return errno;
	return 0;
}

#if defined(__x86_64__)
static int
try_x32(void)
{
	return res(syscall(X32_BIT | SYS_getpid));
}

static int
try_i386(void)
{
	long	ret;

	/* getpid is 20 in i386's table. */
	__asm__ volatile ("int $0x80" : "=a"(ret) : "a"(20L) :
	    "r8", "r9", "r10", "r11", "memory", "cc");
	return ret < 0 ? (int)-ret : 0;
}
#endif

/* Linux 6.18's last system call is 469; 470 is listns (6.19). */
static int
try_future(void)
{
	if (syscall(470, 0, 0, 0, 0, 0, 0) != -1 ||
	    syscall(600, 0, 0, 0, 0, 0, 0) != -1)
		return 0;
	return errno;
}

/* file_setattr (469), the last before the cut-off: left to the kernel. */
static int
try_469(void)
{
	return res(syscall(469, -1L, -1L, -1L, -1L, -1L, -1L));
}

/* --- what runtimes need ------------------------------------------------- */

static void *
thread_main(void *arg)
{
	return arg;
}

static int
try_pthread(void)
{
	pthread_t	 t;
	void		*rv;
	int		 e;

	if ((e = pthread_create(&t, NULL, thread_main, &e)) != 0)
		return e;
	if ((e = pthread_join(t, &rv)) != 0)
		return e;
	return 0;
}

static int
try_fork(void)
{
	return reap(fork());
}

static int
try_exec_true(void)
{
	char	*argv[] = { "true", NULL };
	pid_t	 pid;

	if ((pid = fork()) == -1)
		return errno;
	if (pid == 0) {
		execve("/bin/true", argv, environ);
		_exit(127);
	}
	return reap(pid);
}

/* glibc's posix_spawn tries clone3, then clone(CLONE_VM|CLONE_VFORK). */
static int
try_posix_spawn(void)
{
	char	*argv[] = { "true", NULL };
	pid_t	 pid;
	int	 e;

	if ((e = posix_spawn(&pid, "/bin/true", NULL, NULL, argv,
	    environ)) != 0)
		return e;
	return reap(pid);
}

static int
try_sockets(void)
{
	static const int	 kind[][3] = {
		{ AF_INET, SOCK_STREAM, 0 },
		{ AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0 },
		{ AF_INET6, SOCK_STREAM, 0 },
		{ AF_INET6, SOCK_DGRAM, 0 },
		{ AF_UNIX, SOCK_STREAM, 0 },
		{ AF_UNIX, SOCK_SEQPACKET, 0 },
		{ AF_UNIX, SOCK_DGRAM, 0 },
	};
	size_t			 i;
	int			 e, sv[2];

	for (i = 0; i < sizeof(kind) / sizeof(kind[0]); i++)
		if ((e = fdres(socket(kind[i][0], kind[i][1],
		    kind[i][2]))) != 0)
			return e;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		return errno;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

/* AI_ADDRCONFIG makes glibc ask netlink first; it must cope without. */
static int
try_getaddrinfo(void)
{
	struct addrinfo	 hints, *ai;
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo("127.0.0.1", "8080", &hints, &ai)) != 0)
		return e == EAI_SYSTEM ? errno : EINVAL;
	freeaddrinfo(ai);
	return 0;
}

static int
try_tty_ioctls(void)
{
	struct termios	t;
	struct winsize	ws;
	int		n;

	if (tcgetattr(pty_slave, &t) == -1 ||
	    ioctl(pty_slave, TIOCGWINSZ, &ws) == -1 ||
	    ioctl(pty_master, FIONREAD, &n) == -1)
		return errno;
	return 0;
}

/* What bun uses: eventfd2, epoll_pwait2, close_range, pidfd_open. */
static int
try_bun_calls(void)
{
	struct epoll_event	 ev;
	struct timespec		 ts = { 0, 0 };
	long			 ep, efd, pfd;

	if ((efd = syscall(SYS_eventfd2, 0, O_CLOEXEC)) == -1 ||
	    (ep = syscall(SYS_epoll_create1, O_CLOEXEC)) == -1)
		return errno;
	if (syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 0) == -1)
		return errno;
	if ((pfd = syscall(SYS_pidfd_open, getpid(), 0)) == -1)
		return errno;
	if (syscall(SYS_close_range, efd, efd, 0) == -1 ||
	    syscall(SYS_close_range, ep, ep, 0) == -1)
		return errno;
	close((int)pfd);
	return 0;
}

/* rseq is registered by glibc already; the profile leaves it alone. */
static int
try_rseq(void)
{
	return res(syscall(SYS_rseq, NULL, 0, 0, 0));
}

static int
try_memory(void)
{
	void	*p;
	long	 fd;

	/* A JIT's pattern: write, then flip to executable. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return errno;
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) == -1)
		return errno;
	munmap(p, 4096);
	if ((fd = syscall(SYS_memfd_create, "podseccomp", MFD_CLOEXEC)) == -1)
		return errno;
	close((int)fd);
	return 0;
}

/* --- the probes --------------------------------------------------------- */

static const struct probe probes[] = {
	/* namespaces */
	{ "unshare(CLONE_NEWNS)", NULL, try_unshare_ns, DENIED, EPERM },
	{ "unshare(CLONE_NEWUSER)", NULL, try_unshare_user, DENIED, EPERM },
	{ "setns(uts)", setup_nsfd, try_setns, DENIED, EPERM },
	{ "clone(CLONE_NEWNS)", NULL, try_clone_newns, DENIED, EPERM },
	{ "clone(CLONE_NEWUSER)", NULL, try_clone_newuser, DENIED, EPERM },
	{ "clone(CLONE_NEWPID)", NULL, try_clone_newpid, DENIED, EPERM },
	{ "clone(CLONE_NEWNET)", NULL, try_clone_newnet, DENIED, EPERM },
	{ "clone(CLONE_NEWUTS)", NULL, try_clone_newuts, DENIED, EPERM },
	{ "clone(CLONE_NEWIPC)", NULL, try_clone_newipc, DENIED, EPERM },
	{ "clone(CLONE_NEWCGROUP)", NULL, try_clone_newcgroup, DENIED, EPERM },
	{ "clone(1<<32 | CLONE_NEWNS)", NULL, try_clone_newns_junk, DENIED,
	    EPERM },
	{ "clone3 (ENOSYS)", NULL, try_clone3, DENIED, ENOSYS },
	{ "unshare after execve", NULL, try_unshare_after_exec, DENIED,
	    EPERM },

	/* mounts and the filesystem view */
	{ "mount(tmpfs)", setup_mountns, try_mount, DENIED, EPERM },
	{ "umount2", setup_mounted, try_umount, DENIED, EPERM },
	{ "chroot(/)", NULL, try_chroot, DENIED, EPERM },
	{ "fsopen(tmpfs)", NULL, try_fsopen, DENIED, EPERM },
	{ "open_tree(/)", NULL, try_open_tree, DENIED, EPERM },
	{ "sethostname", setup_utsns, try_sethostname, DENIED, EPERM },

	/* sockets */
	{ "socket(AF_PACKET, SOCK_RAW)", NULL, try_packet, DENIED, EPERM },
	{ "socket(AF_INET, SOCK_RAW)", NULL, try_raw4, DENIED, EPERM },
	{ "socket(AF_INET, SOCK_RAW|NONBLOCK|CLOEXEC)", NULL, try_raw4_flags,
	    DENIED, EPERM },
	{ "socket(AF_INET6, SOCK_RAW)", NULL, try_raw6, DENIED, EPERM },
	{ "socket(AF_INET, SOCK_PACKET)", NULL, try_inet_packet, DENIED,
	    EPERM },
	{ "socket(AF_NETLINK)", NULL, try_netlink, DENIED, EPERM },
	{ "socket(1<<32 | AF_NETLINK)", NULL, try_netlink_junk, DENIED,
	    EPERM },
	{ "socket(AF_VSOCK)", NULL, try_vsock, DENIED, EPERM },
	{ "socket(AF_ALG)", NULL, try_alg, DENIED_DIFF, EPERM },
	{ "socket(AF_UNSPEC)", NULL, try_unspec, DENIED_DIFF, EPERM },
	{ "socketpair(AF_INET)", NULL, try_socketpair_inet, DENIED_DIFF,
	    EPERM },

	/* terminal ioctls */
	{ "ioctl(TIOCSTI)", setup_pty, try_tiocsti, DENIED, EPERM },
	{ "ioctl(1<<32 | TIOCSTI)", setup_pty, try_tiocsti_junk, DENIED,
	    EPERM },
	{ "ioctl(TIOCLINUX)", setup_vt, try_tioclinux, DENIED_DIFF, EPERM },
	{ "ioctl(TIOCSETD)", setup_pty, try_tiocsetd, DENIED, EPERM },

	/* kernel interfaces */
	{ "io_uring_setup", NULL, try_io_uring, DENIED, EPERM },
	{ "bpf(BPF_MAP_CREATE)", NULL, try_bpf, DENIED, EPERM },
	{ "perf_event_open", NULL, try_perf, DENIED, EPERM },
	{ "userfaultfd", NULL, try_userfaultfd, DENIED, EPERM },
	{ "keyctl(GET_KEYRING_ID)", NULL, try_keyctl, DENIED, EPERM },
	{ "add_key", NULL, try_add_key, DENIED, EPERM },
	{ "syslog(SIZE_BUFFER)", NULL, try_syslog, DENIED, EPERM },
	{ "modify_ldt(read)", NULL, try_modify_ldt, DENIED, EPERM },
	{ "set_mempolicy(MPOL_DEFAULT)", NULL, try_set_mempolicy, DENIED,
	    EPERM },
	{ "move_pages(none)", NULL, try_move_pages, DENIED, EPERM },
	{ "adjtimex(read)", NULL, try_adjtimex, DENIED, EPERM },
	{ "clock_adjtime(read)", NULL, try_clock_adjtime, DENIED, EPERM },
	{ "fanotify_init", NULL, try_fanotify, DENIED, EPERM },

	/* other processes, file handles */
	{ "ptrace(PTRACE_TRACEME)", NULL, try_ptrace, DENIED, EPERM },
	{ "process_vm_readv(self)", NULL, try_process_vm_readv, DENIED,
	    EPERM },
	{ "kcmp(self)", NULL, try_kcmp, DENIED, EPERM },
	{ "pidfd_getfd(self)", NULL, try_pidfd_getfd, DENIED, EPERM },
	{ "name_to_handle_at(/)", NULL, try_name_to_handle, DENIED, EPERM },
	{ "open_by_handle_at(/)", setup_handle, try_open_by_handle, DENIED,
	    EPERM },

	/* execution domains, foreign ABIs, later system calls */
	{ "personality(PER_LINUX32)", NULL, try_per_linux32, DENIED, EPERM },
	{ "personality(ADDR_NO_RANDOMIZE)", NULL, try_no_randomize, DENIED,
	    EPERM },
	{ "personality(1<<32 | PER_LINUX32)", NULL, try_per_linux32_junk,
	    DENIED, EPERM },
#if defined(__x86_64__)
	{ "x32 getpid (0x40000000 | 39)", NULL, try_x32, KILLED, 0 },
	{ "i386 getpid (int $0x80)", NULL, try_i386, KILLED, 0 },
#endif
	{ "system calls 470 and 600", NULL, try_future, SAME, 0 },
	{ "system call 469 (file_setattr)", NULL, try_469, SAME, 0 },

	/* what runtimes need */
	{ "pthread_create", NULL, try_pthread, ALLOWED, 0 },
	{ "fork", NULL, try_fork, ALLOWED, 0 },
	{ "execve(/bin/true)", NULL, try_exec_true, ALLOWED, 0 },
	{ "posix_spawn(/bin/true)", NULL, try_posix_spawn, ALLOWED, 0 },
	{ "inet, inet6, unix sockets", NULL, try_sockets, ALLOWED, 0 },
	{ "getaddrinfo(AI_ADDRCONFIG)", NULL, try_getaddrinfo, ALLOWED, 0 },
	{ "ioctl(TCGETS, TIOCGWINSZ, FIONREAD)", setup_pty, try_tty_ioctls,
	    ALLOWED, 0 },
	{ "personality(query, PER_LINUX)", NULL, try_personality_ok, ALLOWED,
	    0 },
	{ "eventfd2, epoll_pwait2, pidfd_open, ...", NULL, try_bun_calls,
	    ALLOWED, 0 },
	{ "mmap, mprotect(PROT_EXEC), memfd_create", NULL, try_memory,
	    ALLOWED, 0 },
	{ "rseq", NULL, try_rseq, SAME, 0 },
};

#define NPROBES	(sizeof(probes) / sizeof(probes[0]))

/* --- the profile as a whole ---------------------------------------------- */

static void
test_names(void **state)
{
	static const char	*must[] = {
		"io_uring_setup", "io_uring_enter", "io_uring_register",
		"bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
		"request_key", "mount", "umount2", "pivot_root", "move_mount",
		"open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
		"mount_setattr", "unshare", "setns", "clone(CLONE_NEWUSER)",
		"clone3", "ptrace", "process_vm_readv", "process_vm_writev",
		"kcmp", "open_by_handle_at", "name_to_handle_at", "kexec_load",
		"kexec_file_load", "init_module", "finit_module",
		"delete_module", "ioctl(TIOCSTI)", "ioctl(TIOCLINUX)", "acct",
		"swapon", "swapoff", "reboot", "syslog", "quotactl",
		"pidfd_getfd", "socket(AF_INET, SOCK_RAW)",
	};
	const char *const	*names;
	size_t			 i, j, n;

	(void)state;
	names = pod_seccomp_denied_names(&n);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		assert_non_null(names[i]);
		for (j = i + 1; j < n; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	for (i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
		for (j = 0; j < n; j++)
			if (strcmp(must[i], names[j]) == 0)
				break;
		if (j == n)
			fail_msg("%s is not in the denied names", must[i]);
	}
	/* The same array each time. */
	assert_ptr_equal(pod_seccomp_denied_names(&j), names);
	assert_int_equal(j, n);
}

/* The plain system call names, as numbers; -1 for the others. */
static long
name_nr(const char *name)
{
	int	nr;

	if (strpbrk(name, "( ") != NULL)
		return -1;
	if (strcmp(name, "open_tree_attr") == 0)
		return NR_OPEN_TREE_ATTR;
	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
		fail_msg("%s: unknown system call name", name);
	return nr;
}

/*
 * Every plain name, called with all-ones arguments, in one child with
 * the profile and one without.  All-ones arguments make every one of
 * these fail (bad flags, pointers, descriptors) or do nothing: no
 * magic number matches, and vhangup has no terminal after setsid.
 * The child also gets private mount, uts, ipc and net namespaces
 * first.  A new name here must be safe to call that way.
 */
static void
sweep(const char *const *names, size_t n, int filtered, int *errs)
{
	pid_t	pid;
	size_t	i;
	long	nr;
	int	fds[2], status;

	if (pipe2(fds, O_CLOEXEC) == -1)
		fail_msg("pipe2: %s", strerror(errno));
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		(void)setsid();
		if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
		    CLONE_NEWNET) == -1 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
			_exit(2);
		if (filtered) {
			char	err[256];

			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
			    pod_seccomp_install(err, sizeof(err)) == -1)
				_exit(3);
		}
		for (i = 0; i < n; i++) {
			errs[i] = 0;
			if ((nr = name_nr(names[i])) == -1)
				continue;
			errno = 0;
			if (syscall(nr, -1L, -1L, -1L, -1L, -1L, -1L) == -1)
				errs[i] = errno;
		}
		_exit(write(fds[1], errs, n * sizeof(int)) ==
		    (ssize_t)(n * sizeof(int)) ? 0 : 1);
	}
	close(fds[1]);
	if (read(fds[0], errs, n * sizeof(int)) != (ssize_t)(n * sizeof(int)))
		fail_msg("sweep child reported nothing");
	close(fds[0]);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fail_msg("sweep child failed");
}

static void
test_sweep(void **state)
{
	const char *const	*names;
	size_t			 i, n, checked = 0, same = 0;
	int			*bare, *filt, want;

	(void)state;
	if (geteuid() != 0)
		skip();
	names = pod_seccomp_denied_names(&n);
	for (i = 0; i < n; i++)
		(void)name_nr(names[i]);	/* fails here, not in a child */
	bare = calloc(n, sizeof(int));
	filt = calloc(n, sizeof(int));
	assert_non_null(bare);
	assert_non_null(filt);
	sweep(names, n, 0, bare);
	sweep(names, n, 1, filt);
	for (i = 0; i < n; i++) {
		if (name_nr(names[i]) == -1)
			continue;
		want = strcmp(names[i], "clone3") == 0 ? ENOSYS : EPERM;
		if (filt[i] != want)
			fail_msg("%s: with the profile %s, want %s", names[i],
			    strerror(filt[i]), strerror(want));
		checked++;
		if (bare[i] == filt[i]) {
			/* This kernel refuses it the same way by itself. */
			print_message("  %-20s also %s without the profile\n",
			    names[i], strerror(bare[i]));
			same++;
		}
	}
	print_message("  %zu system calls refused, %zu told apart from the "
	    "kernel's own answer\n", checked, checked - same);
	assert_true(checked > 60);
	assert_true(same * 10 < checked);
	free(bare);
	free(filt);
}

static int
seccomp_filters(void)
{
	char	 line[128];
	FILE	*f;
	int	 n = -1;

	if ((f = fopen("/proc/self/status", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Seccomp_filters: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The profile's filters appear in /proc; without no_new_privs, none. */
static void
test_install(void **state)
{
	struct {
		int	before, after, rv, nnp_rv, nnp_after;
		char	msg[256];
	} r;
	pid_t	pid;
	int	fds[2], status;

	(void)state;
	if (pipe2(fds, O_CLOEXEC) == -1)
		fail_msg("pipe2: %s", strerror(errno));
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		char	err[256];

		memset(&r, 0, sizeof(r));
		r.before = seccomp_filters();
		r.nnp_rv = pod_seccomp_install(r.msg, sizeof(r.msg));
		r.nnp_after = seccomp_filters();
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
			_exit(2);
		r.rv = pod_seccomp_install(err, sizeof(err));
		r.after = seccomp_filters();
		_exit(write(fds[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &r, sizeof(r)), sizeof(r));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(r.nnp_rv, -1);
	assert_non_null(strstr(r.msg, "no_new_privs"));
	assert_int_equal(r.nnp_after, r.before);
	assert_int_equal(r.rv, 0);
	assert_int_equal(r.after, r.before + 2);
}

int
main(int argc, char *argv[])
{
	struct CMUnitTest	 tests[NPROBES + 3];
	size_t			 i;
	int			 rv;

	/* Re-executed under the profile by try_unshare_after_exec. */
	if (argc == 2 && strcmp(argv[1], "--unshare-probe") == 0)
		_exit(unshare(CLONE_NEWNS) == -1 ? errno : 0);

	if (readlink("/proc/self/exe", selfexe, sizeof(selfexe) - 1) == -1) {
		perror("readlink /proc/self/exe");
		return 1;
	}
	if (mkdtemp(mntdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	memset(tests, 0, sizeof(tests));
	tests[0].name = "denied names";
	tests[0].test_func = test_names;
	tests[1].name = "install and no_new_privs";
	tests[1].test_func = test_install;
	tests[2].name = "every plain name refused";
	tests[2].test_func = test_sweep;
	for (i = 0; i < NPROBES; i++) {
		tests[i + 3].name = probes[i].name;
		tests[i + 3].test_func = test_probe;
		tests[i + 3].initial_state = (void *)(uintptr_t)&probes[i];
	}
	rv = _cmocka_run_group_tests("podseccomp", tests, NPROBES + 3, NULL,
	    NULL);
	(void)rmdir(mntdir);
	return rv;
}
