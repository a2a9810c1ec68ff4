/*
 * pod init: the worker's parent, running as the pod's own uid.  It
 * starts the worker, forwards signals to it, reaps the pod's orphans
 * (it is their subreaper), and ends the whole pod -- kill(-1) as the
 * per-pod uid reaches exactly the pod's processes -- when the worker
 * exits or when its lifeline to the podrunner parent closes.  The
 * lifeline matters because a parent-death signal is sent with the
 * dying parent's credentials: the relay, unprivileged, could not
 * deliver one to the worker's uid.  With the kernel sandbox this
 * process becomes pid 1 of the pod's pid namespace.
 */
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "podcgroup.h"
#include "podfs.h"
#include "podlandlock.h"
#include "podseccomp.h"
#include "privsep.h"
#include "proto.h"
#include "sandbox.h"

#define PI_ERRPIPE	3	/* the worker's exec errno, to the relay */
#define PI_LIFELINE	4	/* EOF: the podrunner parent is gone */

static __dead void	podinit_exit(int);
static int		pod_rlimits(void);

#define PI_GO		5	/* one byte releases the sandbox set-up */
#define PI_USERNS	6	/* the idmapping's user namespace */
#define PI_PROXY	7	/* the proxy's listening socket goes here */

/*
 * Report on the exec pipe and leave: the worker's exec errno, or pod
 * init's own failed step.
 */
static __dead void
podinit_report(int code, const char *msg)
{
	struct podinit_err	pe;

	memset(&pe, 0, sizeof(pe));
	pe.code = code == 127 ? errno : -1;
	if (errno == 0)		/* msg says it all */
		(void)snprintf(pe.msg, sizeof(pe.msg), "%s", msg);
	else
		(void)snprintf(pe.msg, sizeof(pe.msg), "%s%s%s",
		    msg ? msg : "", msg ? ": " : "", strerror(errno));
	(void)!write(PI_ERRPIPE, &pe, sizeof(pe));
	_exit(code);
}

static __dead void
podinit_fail(int code)
{
	podinit_report(code, code == 127 ? NULL : "pod init");
}

/*
 * rlimits: no core files (a crash must not leave the pod's memory on
 * disk), a bound on open files and on locked memory.  Lowered only: a
 * limit already below stays.
 */
static int
pod_rlimits(void)
{
	static const struct {
		int		res;
		rlim_t		max;
	} lim[] = {
		{ RLIMIT_CORE, 0 },
		{ RLIMIT_NOFILE, 4096 },
		{ RLIMIT_MEMLOCK, 64 * 1024 },
		{ RLIMIT_MSGQUEUE, 64 * 1024 },
	};
	struct rlimit	rl;
	size_t		i;

	for (i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		if (getrlimit(lim[i].res, &rl) == -1)
			return -1;
		if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > lim[i].max)
			rl.rlim_max = lim[i].max;
		if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(lim[i].res, &rl) == -1)
			return -1;
	}
	return 0;
}

/*
 * The kernel sandbox's steps inside the new namespaces, once the relay
 * has done its part: hostname, the filesystem plan, pivot_root,
 * loopback.  Each failure names its step.
 */
static void
podinit_sandbox(const struct podinit *pi)
{
	struct imsgbuf	ib;
	char		err[200], c;
	int		lfd;

	/* In its cgroups already: the pod sees that cgroup as its root. */
	if (unshare(CLONE_NEWCGROUP) == -1)
		podinit_report(EXIT_PODRUNNER, "cgroup namespace");
	if (sethostname(pi->hostname, strlen(pi->hostname)) == -1)
		podinit_report(EXIT_PODRUNNER, "sethostname");
	if (fsplan_run(pi->plan, pi->root, pi->userns_fd == -1 ? -1 :
	    PI_USERNS, err, sizeof(err)) == -1) {
		errno = 0;
		podinit_report(EXIT_PODRUNNER, err);
	}
	if (pi->userns_fd != -1)
		close(PI_USERNS);
	if (fs_pivot(pi->root, err, sizeof(err)) == -1) {
		errno = 0;
		podinit_report(EXIT_PODRUNNER, err);
	}
	if (podnet_setup(&lfd, err, sizeof(err)) == -1) {
		errno = 0;
		podinit_report(EXIT_PODRUNNER, err);
	}
	/* To the relay, which hands it on to the proxy. */
	imsgbuf_init(&ib, PI_PROXY);
	imsgbuf_allow_fdpass(&ib);
	if (imsg_compose(&ib, IMSG_PROXY_LISTEN, 0, 0, lfd, NULL, 0) == -1 ||
	    imsgbuf_flush(&ib) == -1)
		podinit_report(EXIT_PODRUNNER, "proxy socket to the relay");
	imsgbuf_clear(&ib);
	close(PI_PROXY);
	/* The worker starts once the sandbox process says so (its audit). */
	if (read(PI_GO, &c, 1) != 1)
		_exit(EXIT_PODRUNNER);	/* the relay is gone */
	close(PI_GO);
}

static int
fd_move(int from, int to)
{
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	return dup2(from, to) == -1 ? -1 : 0;
}

__dead void
podinit_run(const struct podinit *pi)
{
	struct signalfd_siginfo	 si;
	struct pollfd		 pfd[2];
	sigset_t		 all, none;
	pid_t			 worker, pid, self;
	char			 err[200];
	int			 hi[8], i, sfd, status, done = 0, code = 0;
	int			 abi, cg_errno = 0;

	/*
	 * Into the pod's cgroups before anything else, so that what the
	 * set-up allocates is the pod's; the failure is reported once
	 * the pipe for it is in place.
	 */
	if (pi->sandboxed && pod_cgroup_join(pi->cg_v2fd, pi->cg_tasks,
	    pi->cg_ntasks) == -1)
		cg_errno = errno;
	/* stdin, stdout, stderr, then the pipes, at fixed places. */
	hi[0] = fcntl(pi->stdin_fd, F_DUPFD_CLOEXEC, 16);
	hi[1] = fcntl(pi->stdout_fd, F_DUPFD_CLOEXEC, 16);
	hi[2] = fcntl(pi->stderr_fd, F_DUPFD_CLOEXEC, 16);
	hi[3] = fcntl(pi->errpipe, F_DUPFD_CLOEXEC, 16);
	hi[4] = fcntl(pi->lifeline, F_DUPFD_CLOEXEC, 16);
	hi[5] = pi->sandboxed ? fcntl(pi->gofd, F_DUPFD_CLOEXEC, 16) : -2;
	hi[6] = pi->sandboxed && pi->userns_fd != -1 ?
	    fcntl(pi->userns_fd, F_DUPFD_CLOEXEC, 16) : -2;
	hi[7] = pi->sandboxed ? fcntl(pi->proxyfd, F_DUPFD_CLOEXEC, 16) : -2;
	for (i = 0; i < 8; i++)
		if (hi[i] == -1 || (hi[i] >= 0 && fd_move(hi[i], i) == -1))
			_exit(EXIT_PODRUNNER);
	/* None of them survives the worker's exec. */
	for (i = 3; i < 8; i++)
		if (hi[i] >= 0 && fcntl(i, F_SETFD, FD_CLOEXEC) == -1)
			_exit(EXIT_PODRUNNER);
	(void)close_range(8, ~0U, 0);
	if (cg_errno != 0) {
		errno = cg_errno;
		podinit_report(EXIT_PODRUNNER, "joining the pod's cgroups");
	}
	/*
	 * Signals blocked before the set-up, not after: a pid namespace's
	 * init ignores an unblocked signal it has no handler for, so one
	 * sent while we wait for the release or set the pod up would be
	 * lost; blocked, it waits in the signalfd for the worker.
	 */
	sigfillset(&all);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &all, NULL) == -1)
		podinit_fail(EXIT_PODRUNNER);
	for (i = 1; i < NSIG; i++)
		(void)signal(i, SIG_DFL);
	if (pi->sandboxed)
		podinit_sandbox(pi);

	setproctitle("pod init");
	priv_setname("init");

	/* Resource limits the cgroup does not cover. */
	if (pod_rlimits() == -1)
		podinit_fail(EXIT_PODRUNNER);
	/* An empty bounding set: nothing the pod runs can gain a
	 * capability back (with no_new_privs and nosuid, twice over). */
	if (priv_bounding(NULL, 0) == -1)
		podinit_fail(EXIT_PODRUNNER);
	if (setsid() == -1 ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1) == -1 ||
	    setgroups(0, NULL) == -1 ||
	    setresgid(pi->gid, pi->gid, pi->gid) == -1 ||
	    setresuid(pi->uid, pi->uid, pi->uid) == -1 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0) == -1)
		podinit_fail(EXIT_PODRUNNER);
	if (chdir(pi->cwd) == -1 && chdir("/") == -1)
		podinit_fail(EXIT_PODRUNNER);
	if ((sfd = signalfd(-1, &all, SFD_CLOEXEC)) == -1)
		podinit_fail(EXIT_PODRUNNER);

	self = getpid();
	switch (worker = fork()) {
	case -1:
		podinit_fail(EXIT_PODRUNNER);
	case 0:
		/* The worker: dies with us; signals as a fresh process. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != self ||
		    sigprocmask(SIG_SETMASK, &none, NULL) == -1)
			podinit_fail(EXIT_PODRUNNER);
		/*
		 * The last layers, in the worker only: landlock (the
		 * plan's grants again, independently of the mounts), then
		 * the seccomp profile, which forbids what came before.
		 */
		if (pi->sandboxed && pi->no_landlock)
			dprintf(STDERR_FILENO, "podrunner: warning: landlock "
			    "off: the policy says plugins.landlock = false\n");
		if (pi->sandboxed && pi->no_seccomp)
			dprintf(STDERR_FILENO, "podrunner: warning: the seccomp "
			    "profile off: the policy says plugins.seccomp = "
			    "false\n");
		if (pi->sandboxed && !pi->no_landlock) {
			if (pod_landlock_apply(pi->ll, &abi, err,
			    sizeof(err)) == -1) {
				errno = 0;
				podinit_report(EXIT_PODRUNNER, err);
			}
			/* What an older kernel could not enforce is said. */
			if (err[0] != '\0')
				dprintf(STDERR_FILENO, "podrunner: warning: "
				    "landlock ABI %d: %s\n", abi, err);
		}
		if (pi->sandboxed && !pi->no_seccomp &&
		    pod_seccomp_install(err, sizeof(err)) == -1) {
			errno = 0;
			podinit_report(EXIT_PODRUNNER, err);
		}
		execve(pi->argv[0], pi->argv, pi->env);
		podinit_fail(127);
	}

	/* Only the worker writes output; only the worker reads input. */
	close(PI_ERRPIPE);
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	close(STDERR_FILENO);

	pfd[0].fd = sfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = PI_LIFELINE;
	pfd[1].events = POLLIN;
	while (!done) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents != 0) {
			/* podrunner is gone: so is the pod. */
			(void)kill(-1, SIGKILL);
			_exit(EXIT_PODRUNNER);
		}
		if (!(pfd[0].revents & POLLIN) ||
		    read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD) {
			(void)kill(worker, (int)si.ssi_signo);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == worker) {
				code = status;
				done = 1;
			}
	}
	/* The worker is done: nothing of the pod outlives it. */
	(void)kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	podinit_exit(code);
}

/* Leave with the worker's status: its exit code, or its signal. */
static __dead void
podinit_exit(int status)
{
	sigset_t	set;
	int		sig;

	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
	(void)signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)kill(getpid(), sig);
	_exit(128 + sig);
}
