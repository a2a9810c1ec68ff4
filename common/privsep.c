/*
 * Confinement of podrunner's child processes.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cap-ng.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privsep.h"

int
priv_lookup_user(struct privsep_user *pu, char *err, size_t errlen)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(PODRUNNER_USER)) == NULL) {
		(void)snprintf(err, errlen, "user %s does not exist "
		    "(create it with 'make deps')", PODRUNNER_USER);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		(void)snprintf(err, errlen, "user %s must not be root",
		    PODRUNNER_USER);
		return -1;
	}
	pu->uid = pw->pw_uid;
	pu->gid = pw->pw_gid;
	return 0;
}

int
priv_check_chroot(const char *dir, char *err, size_t errlen)
{
	struct stat	 sb;
	struct dirent	*de;
	DIR		*d;

	if (stat(dir, &sb) == -1) {
		(void)snprintf(err, errlen, "chroot directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != 0 ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		(void)snprintf(err, errlen, "chroot directory %s must be a "
		    "directory owned by root and writable by no one else", dir);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		(void)snprintf(err, errlen, "chroot directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		closedir(d);
		(void)snprintf(err, errlen, "chroot directory %s is not empty",
		    dir);
		return -1;
	}
	closedir(d);
	return 0;
}

void
priv_die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		fatal("prctl PR_SET_PDEATHSIG");
	/* The parent may have died before the prctl. */
	if (getppid() != parent)
		fatalx("parent exited during start-up");
}

/*
 * The bounding set emptied but for keep[]: only what is still in it is
 * dropped.  Each PR_CAPBSET_DROP commits new credentials (about 6 us
 * here), even for a capability the set no longer has, which is what
 * libcap-ng does for all 41; a relay or pod init, which inherit the
 * sandbox's few, read the rest and drop those few.  Needs CAP_SETPCAP.
 */
int
priv_bounding(const int *keep, size_t nkeep)
{
	size_t	j;
	int	i, r;

	for (i = 0; ; i++) {
		for (j = 0; j < nkeep && keep[j] != i; j++)
			;
		if (j < nkeep)
			continue;
		if ((r = prctl(PR_CAPBSET_READ, i, 0, 0, 0)) == -1)
			return errno == EINVAL ? 0 : -1;	/* past the last */
		if (r == 1 && prctl(PR_CAPBSET_DROP, i, 0, 0, 0) == -1)
			return -1;
	}
}

void
priv_setname(const char *role)
{
	char	name[16];	/* TASK_COMM_LEN */

	(void)snprintf(name, sizeof(name), "pod-%s", role);
	(void)prctl(PR_SET_NAME, name, 0, 0, 0);
}

void
priv_confine(const char *title, const struct privsep_user *pu,
    const int *keepcaps, size_t nkeep)
{
	pid_t	ppid = getppid();
	uid_t	r, e, s;
	gid_t	rg, eg, sg;
	size_t	i;

	if (chroot(PATH_CHROOT) == -1)
		fatal("chroot %s", PATH_CHROOT);
	if (chdir("/") == -1)
		fatal("chdir /");
	setproctitle("%s", title);

	/* The bounding set first: it takes CAP_SETPCAP. */
	if (priv_bounding(keepcaps, pu != NULL ? 0 : nkeep) == -1)
		fatal("%s: emptying the bounding set", title);
	capng_clear(CAPNG_SELECT_BOTH);
	if (pu != NULL) {
		/* setgroups, setresgid, setresuid. */
		if (capng_change_id(pu->uid, pu->gid,
		    CAPNG_DROP_SUPP_GRP) != 0)
			fatalx("%s: cannot drop to user %s", title,
			    PODRUNNER_USER);
		if (getresuid(&r, &e, &s) == -1 || getresgid(&rg, &eg, &sg) == -1)
			fatal("getresuid");
		if (r != pu->uid || e != pu->uid || s != pu->uid ||
		    rg != pu->gid || eg != pu->gid || sg != pu->gid)
			fatalx("%s: privileges not dropped", title);
		if (setuid(0) != -1)
			fatalx("%s: could regain root", title);
	} else {
		for (i = 0; i < nkeep; i++)
			if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE |
			    CAPNG_PERMITTED, keepcaps[i]) != 0)
				fatalx("capng_update");
		if (capng_apply(CAPNG_SELECT_CAPS) != 0)
			fatalx("%s: cannot limit capabilities", title);
	}
	/* Credentials changed: the parent-death signal was reset. */
	priv_die_with_parent(ppid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");
}

/*
 * What every libevent + imsg daemon needs once it runs.  Groups:
 */
static const int base_syscalls[] = {
	/* imsg and pipe I/O */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(recvfrom),
	SCMP_SYS(sendto), SCMP_SYS(close), SCMP_SYS(shutdown),
	SCMP_SYS(fcntl), SCMP_SYS(lseek), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	/* libevent's backend */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(ppoll),
	/* memory */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(mprotect),
	/* signals and time (libevent's signal events, timers, syslog) */
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	/* identity, randomness, threads' futexes (libc internals) */
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
	SCMP_SYS(getrandom), SCMP_SYS(futex), SCMP_SYS(sched_yield),
	/* leaving */
	SCMP_SYS(exit), SCMP_SYS(exit_group),
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer's runtime (sanitizer builds only) */
	SCMP_SYS(sigaltstack), SCMP_SYS(prlimit64), SCMP_SYS(readlink),
	SCMP_SYS(getrlimit), SCMP_SYS(sched_getaffinity), SCMP_SYS(prctl),
#endif
};

/* Tried harmlessly by libc; refused with an error instead of a kill. */
static const int base_refused[] = {
	/* syslog(3) reconnecting to /dev/log, which the chroot lacks */
	SCMP_SYS(socket), SCMP_SYS(connect),
	/* tz and locale files looked up lazily */
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(stat),
};

void
priv_seccomp_allowlist(const char *title, const int *extra, size_t nextra)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;
	int		 rc;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("%s: seccomp_init", title);
	for (i = 0; i < sizeof(base_syscalls) / sizeof(base_syscalls[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    base_syscalls[i], 0)) != 0)
			fatalx("%s: seccomp_rule_add: %s", title, strerror(-rc));
	for (i = 0; i < nextra; i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, extra[i],
		    0)) != 0)
			fatalx("%s: seccomp_rule_add: %s", title, strerror(-rc));
	for (i = 0; i < sizeof(base_refused) / sizeof(base_refused[0]); i++) {
		/* An extra may already allow it. */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
		    base_refused[i], 0);
		if (rc != 0 && rc != -EEXIST)
			fatalx("%s: seccomp_rule_add: %s", title, strerror(-rc));
	}
	if ((rc = seccomp_load(ctx)) != 0)
		fatalx("%s: seccomp_load: %s", title, strerror(-rc));
	seccomp_release(ctx);
}

/*
 * The spawner's deny list.  Every pod inherits it, so it holds only
 * what neither the spawner nor any worker runtime has a use for; the
 * pod's own, much tighter filter (kernel sandbox) stacks on top.
 */
static const int spawner_denied[] = {
	/* replacing or rebooting the kernel, loading modules */
	SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load),
	SCMP_SYS(init_module), SCMP_SYS(finit_module),
	SCMP_SYS(delete_module), SCMP_SYS(reboot),
	/* host-wide state: swap, accounting, clocks, quotas, kernel log */
	SCMP_SYS(swapon), SCMP_SYS(swapoff), SCMP_SYS(acct),
	SCMP_SYS(settimeofday), SCMP_SYS(clock_settime),
	SCMP_SYS(clock_adjtime), SCMP_SYS(adjtimex), SCMP_SYS(quotactl),
	SCMP_SYS(syslog), SCMP_SYS(vhangup), SCMP_SYS(iopl),
	SCMP_SYS(ioperm), SCMP_SYS(uselib), SCMP_SYS(lookup_dcookie),
	/* kernel attack surface no worker needs */
	SCMP_SYS(bpf), SCMP_SYS(perf_event_open), SCMP_SYS(userfaultfd),
	SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register), SCMP_SYS(keyctl), SCMP_SYS(add_key),
	SCMP_SYS(request_key),
	/* reaching into other processes and file handles */
	SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
	SCMP_SYS(process_vm_writev), SCMP_SYS(kcmp),
	SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at),
};

void
priv_seccomp_spawner(void)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;
	int		 rc;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		fatalx("sandbox: seccomp_init");
	for (i = 0; i < sizeof(spawner_denied) / sizeof(spawner_denied[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    spawner_denied[i], 0)) != 0)
			fatalx("sandbox: seccomp_rule_add: %s", strerror(-rc));
	/* The 32-bit entry point bypasses a filter written for 64 bits. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) != 0)
		fatalx("sandbox: seccomp_attr_set: %s", strerror(-rc));
	if ((rc = seccomp_load(ctx)) != 0)
		fatalx("sandbox: seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
}

/* Is pid one of keep[]? */
static int
kept(pid_t pid, const pid_t *keep, size_t nkeep)
{
	size_t	i;

	for (i = 0; i < nkeep; i++)
		if (keep[i] == pid)
			return 1;
	return 0;
}

int
priv_kill_children(const pid_t *keep, size_t nkeep)
{
	char		 path[64], buf[512], *p;
	struct dirent	*de;
	DIR		*d;
	FILE		*f;
	pid_t		 self = getpid(), pid;
	long		 ppid;
	int		 n = 0, c;

	/*
	 * The kernel's list of our (single-threaded) children, adopted
	 * orphans included: no walk of every process on the host.  A
	 * child forked while we read is killed by the next call.
	 */
	(void)snprintf(path, sizeof(path), "/proc/self/task/%d/children",
	    (int)self);
	if ((f = fopen(path, "re")) != NULL) {
		while ((c = fscanf(f, "%d", &pid)) == 1)
			if (pid > 0 && !kept(pid, keep, nkeep) &&
			    kill(pid, SIGKILL) == 0)
				n++;
		fclose(f);
		if (c == EOF)
			return n;
	}
	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if ((pid = (pid_t)strtol(de->d_name, &p, 10)) <= 0 || *p != '\0')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* "pid (comm) state ppid ...": comm may hold spaces. */
		if (p == NULL || (p = strrchr(buf, ')')) == NULL)
			continue;
		if (sscanf(p + 1, " %*c %ld", &ppid) != 1 || ppid != self ||
		    kept(pid, keep, nkeep))
			continue;
		if (kill(pid, SIGKILL) == 0)
			n++;
	}
	closedir(d);
	return n;
}
