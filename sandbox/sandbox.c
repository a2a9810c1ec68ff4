/*
 * sandbox: the spawner.  It stays root but keeps only the capabilities
 * that spawning needs, and runs chrooted with an fd to the host's root
 * that only its relay children use.  For each pod it allocates a worker
 * uid, starts a relay (fork + re-exec) and cleans up after it.
 */
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cap-ng.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditload.h"
#include "child.h"
#include "podaudit.h"
#include "podcgroup.h"
#include "policy.h"
#include "privsep.h"
#include "proto.h"
#include "sandbox.h"
#include "util.h"

struct pod {
	TAILQ_ENTRY(pod)	 entry;
	uint32_t		 id;		/* the parent's peerid */
	char			 podid[PODID_LEN + 1];
	pid_t			 relay_pid;
	struct imsgev		 relay;
	int			 pidfd;		/* the worker, -1 until known */
	int			 pending_sig;
	unsigned int		 slot;		/* worker uid slot */
	struct pod_cgroup	*cg;		/* limits; NULL: --no-sandbox */
	struct pod_limits	 limits;
	int			 refused;	/* no cgroup: never released */
	pid_t			 go_pid;	/* pod init, waiting for the audit */
	uint64_t		 audit_cgid;	/* in the audit's map, or 0 */
};

static int	sandbox_dispatch_parent(struct imsg *);
static int	sandbox_config_done(char *, size_t);
static void	sandbox_spawn(struct imsg *);
static void	pod_release(struct pod *, pid_t);
static void	report_failed(uint32_t, const char *);
static int	audit_start(int);
static void	audit_loader_handler(int, short, void *);
static void	audit_off(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
static void	sandbox_relay_handler(int, short, void *);
static int	send_cgroups(struct pod *, char *, size_t);
static void	sandbox_sigchld(int, short, void *);
static void	pod_gone(struct pod *);
static void	pod_unlink(const char *);
static void	pod_kill(struct pod *);
static void	gc_stale_pods(void);
static void	spawn_grants(struct spawn_spec *);
static int	slot_alloc(unsigned int *);
static void	slot_free(unsigned int);

static struct child	 sandbox_child;
static TAILQ_HEAD(, pod) pods = TAILQ_HEAD_INITIALIZER(pods);
static int		 spawn_fds[SPAWN_FD_MAX] = { -1, -1, -1, -1 };
static int		 rootfd = -1, rundirfd = -1, shmdirfd = -1, uidlockfd = -1;
static unsigned char	 slot_used[WORKER_UID_COUNT];
static char		 cgroup_error[256];	/* "": cgroups usable */

/*
 * The eBPF audit: the loader child (auditload.c) forked at our start,
 * then what it leaves us: the attached program's link (closing it
 * detaches) and the pods' slots (struct audit_pods, mapped here: with a
 * pod's cgroup id in, the program records its processes; no bpf()
 * call, no capability).  A pod is released only once the loader has
 * reported, so that none runs before its syscalls can be recorded.
 */
#define AUDIT_MAX_LINKS	4
static struct {
	enum { AUDIT_PENDING, AUDIT_ON, AUDIT_OFF } state;
	struct imsgev	 loader;
	int		 links[AUDIT_MAX_LINKS];
	int		 nlinks;
	struct audit_pods *pods;	/* the programs' pods, mapped */
	char		 why[512];	/* AUDIT_OFF: why, "" if disabled */
} audit = { .state = AUDIT_PENDING };

/*
 * What spawning needs: changing to the worker's and the relay's users
 * (SETUID, SETGID, SETPCAP to empty their bounding sets), leaving the
 * chroot for the relay's exec (SYS_CHROOT), creating and handing over
 * the pod's files (CHOWN, FOWNER, DAC_OVERRIDE, DAC_READ_SEARCH) and
 * signalling a worker of another uid (KILL), the pod's namespaces,
 * mounts, hostname and idmapped grants (SYS_ADMIN), its loopback
 * (NET_ADMIN).
 */
static const int sandbox_caps[] = {
	CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_SYS_CHROOT, CAP_CHOWN,
	CAP_FOWNER, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_KILL,
	CAP_SYS_ADMIN, CAP_NET_ADMIN,
};

/* Peers: the parent; one channel per relay. */

__dead void
sandbox_main(void)
{
	struct event	*ev;

	child_init(&sandbox_child, "sandbox");
	sandbox_child.policy = policy_new();
	sandbox_child.dispatch = sandbox_dispatch_parent;
	sandbox_child.config_done = sandbox_config_done;

	/* Opened before the chroot, used with *at() calls. */
	if ((rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("open /");
	if ((rundirfd = open(PATH_RUNDIR, O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("open %s", PATH_RUNDIR);
	if ((shmdirfd = open(PATH_SHMDIR, O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("open %s", PATH_SHMDIR);
	if ((uidlockfd = openat(rundirfd, UIDS_LOCK, O_RDWR | O_CREAT |
	    O_CLOEXEC | O_NOFOLLOW, 0600)) == -1)
		fatal("open %s/%s", PATH_RUNDIR, UIDS_LOCK);
	if ((ev = evsignal_new(sandbox_child.base, SIGCHLD, sandbox_sigchld,
	    NULL)) == NULL || evsignal_add(ev, NULL) == -1)
		fatalx("evsignal");

	gc_stale_pods();
	/* The cgroup hierarchies, opened before the chroot. */
	if (pod_cgroup_init(cgroup_error, sizeof(cgroup_error)) == 0) {
		cgroup_error[0] = '\0';
		(void)pod_cgroup_gc();
	} else if (cgroup_error[0] == '\0')
		(void)snprintf(cgroup_error, sizeof(cgroup_error),
		    "no usable cgroup hierarchy");
	priv_confine("sandbox", NULL, sandbox_caps,
	    sizeof(sandbox_caps) / sizeof(sandbox_caps[0]));
	priv_seccomp_spawner();
	child_loop();
}

static struct pod *
pod_find(uint32_t id)
{
	struct pod	*p;

	TAILQ_FOREACH(p, &pods, entry)
		if (p->id == id)
			return p;
	return NULL;
}

static int
sandbox_dispatch_parent(struct imsg *imsg)
{
	struct pod_memory mem;
	struct pod	*p;
	uint32_t	 which, sig;
	int		 fd;

	switch (imsg_get_type(imsg)) {
	case IMSG_AUDIT_LOADER:
		if (imsg_get_len(imsg) != 0 || (fd = imsg_get_fd(imsg)) == -1)
			return -1;
		return audit_start(fd);
	case IMSG_SANDBOX_FD:
		if (imsg_get_data(imsg, &which, sizeof(which)) == -1 ||
		    which >= SPAWN_FD_MAX || spawn_fds[which] != -1 ||
		    (spawn_fds[which] = imsg_get_fd(imsg)) == -1)
			return -1;
		return 0;
	case IMSG_SANDBOX_SPAWN:
		if (!sandbox_child.started)
			return -1;
		sandbox_spawn(imsg);
		return 0;
	case IMSG_SANDBOX_SIGNAL:
		if (imsg_get_data(imsg, &sig, sizeof(sig)) == -1 ||
		    sig == 0 || sig >= NSIG)
			return -1;
		if ((p = pod_find(imsg_get_peerid(imsg))) == NULL)
			return 0;	/* already gone */
		if (sig == SIGKILL) {
			/* Everything of the pod, not only pod init. */
			pod_kill(p);
			if (p->pidfd == -1)
				(void)kill(p->relay_pid, SIGKILL);
		} else if (p->pidfd != -1 && p->go_pid == 0) {
			if (pidfd_send_signal(p->pidfd, (int)sig, NULL, 0) == -1 &&
			    errno != ESRCH)
				log_warn("pidfd_send_signal");
		} else	/* for the worker, once pod init is released */
			p->pending_sig = (int)sig;
		return 0;
	case IMSG_SANDBOX_MEMORY:
		if (imsg_get_len(imsg) != 0)
			return -1;
		memset(&mem, 0, sizeof(mem));
		if ((p = pod_find(imsg_get_peerid(imsg))) != NULL &&
		    p->cg != NULL) {
			mem.current = pod_cgroup_memory_current(p->cg);
			mem.peak = pod_cgroup_memory_peak(p->cg);
			mem.limit = p->limits.memory;
		}
		child_compose(IMSG_SANDBOX_MEMORY, imsg_get_peerid(imsg), -1,
		    &mem, sizeof(mem));
		return 0;
	}
	return -1;
}

static void
spawn_failed(int parentfd, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

/* Before a relay exists, failures go straight to the parent's channel. */
static void
spawn_failed(int parentfd, const char *fmt, ...)
{
	struct imsgbuf	 ib;
	va_list		 ap;
	char		 msg[512];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	imsgbuf_init(&ib, parentfd);
	spawn_report_failed(&ib, EXIT_PODRUNNER, msg);
	imsgbuf_clear(&ib);
}

/*
 * The filesystem grants of the pod, from the normalised policy: a path
 * rule becomes a bind when the policy, all layers considered, allows
 * that path, and a hidden path when it denies it.  The runtime layer is
 * the relay's to map (it knows the runtime).
 */
static void
spawn_grants(struct spawn_spec *sp)
{
	const struct policy	*pol = sandbox_child.policy;
	const struct prule	*r;
	struct decision		 d;
	const char		*path;
	unsigned int		 kind;
	size_t			 i;
	int			 deny;

	for (i = 0; i < pol->nrules; i++) {
		r = &pol->rules[i];
		if (r->layer == LAYER_RUNTIME)
			continue;
		/*
		 * A library (ffi) is mapped executable, like a command; "any
		 * library" maps nothing: the runtime's libraries are there.
		 */
		kind = r->kind == PERM_FFI ? PERM_RUN : r->kind;
		if (kind != PERM_READ && kind != PERM_WRITE && kind != PERM_RUN)
			continue;
		if (r->kind == PERM_FFI && r->value == NULL)
			continue;
		path = r->value != NULL ? r->value : "/";
		if (path[0] != '/' && kind != PERM_RUN)
			continue;
		policy_decide(pol, r->kind, path, &d);
		deny = r->action == PERM_DENY;
		if (deny != (d.verdict == VERDICT_DENY && !d.monitored))
			continue;	/* another rule of a higher layer won */
		sp->grants = xreallocarray(sp->grants, sp->ngrants + 1,
		    sizeof(*sp->grants));
		sp->grants[sp->ngrants].kind = (uint8_t)kind;
		sp->grants[sp->ngrants].action = deny ? PERM_DENY : PERM_ALLOW;
		sp->grants[sp->ngrants].path = xstrdup(path);
		sp->ngrants++;
	}
}

/* Move fd to a fixed number in the about-to-exec child. */
static int
fd_place(int from, int to)
{
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	return dup2(from, to) == -1 ? -1 : 0;
}

static void
sandbox_spawn(struct imsg *imsg)
{
	struct spawn_spec	 sp;
	struct pod		*p;
	struct ibuf		*b;
	struct pod_gone		 gone;
	char			*argv[8], err[256];
	int			 sv[2], hi[5], i, argc = 0;
	pid_t			 pid;

	if (spawn_spec_parse(imsg, &sp) == -1)
		fatalx("malformed spawn request from the parent");
	for (i = 0; i < SPAWN_FD_MAX; i++)
		if (spawn_fds[i] == -1)
			fatalx("spawn request without its fds");
	if (pod_find(imsg_get_peerid(imsg)) != NULL)
		fatalx("spawn request for a running pod");

	p = xcalloc(1, sizeof(*p));
	p->id = imsg_get_peerid(imsg);
	p->pidfd = -1;
	memcpy(p->podid, sp.podid, sizeof(p->podid));
	if (slot_alloc(&p->slot) == -1) {
		spawn_failed(spawn_fds[SPAWN_FD_PARENT], "no free worker uid "
		    "(%d pods running)", WORKER_UID_COUNT);
		goto fail;
	}
	sp.worker_uid = sp.worker_gid = WORKER_UID_BASE + p->slot;
	spawn_grants(&sp);
	sp.tmpfs_size = sandbox_child.policy->res.tmpfs;
	/* A layer off only when the policy says so (plugins). */
	if (!sandbox_child.policy->plugins_landlock)
		sp.flags |= SPAWN_F_NO_LANDLOCK;
	if (!sandbox_child.policy->plugins_seccomp)
		sp.flags |= SPAWN_F_NO_SECCOMP;
	if (!sandbox_child.policy->plugins_namespaces &&
	    !(sp.flags & SPAWN_F_NO_SANDBOX)) {
		spawn_failed(spawn_fds[SPAWN_FD_PARENT], "the policy turns the "
		    "namespaces off (plugins.namespaces): run with --no-sandbox "
		    "to run without the kernel sandbox");
		slot_free(p->slot);
		goto fail;
	}
	if (!(sp.flags & SPAWN_F_NO_SANDBOX) && cgroup_error[0] != '\0') {
		spawn_failed(spawn_fds[SPAWN_FD_PARENT], "cgroup limits: %s",
		    cgroup_error);
		slot_free(p->slot);
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	    sv) == -1)
		fatal("socketpair");

	argv[argc++] = "podrunner";
	argv[argc++] = "-P";
	argv[argc++] = "relay";
	if (log_getdebug())
		argv[argc++] = "-d";
	if (log_getverbose() > 0)
		argv[argc++] = "-v";
	if (log_getverbose() > 1)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	switch (pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		/* Back to the host's root for the exec; the relay
		 * chroots again once it has set the pod up. */
		if (fchdir(rootfd) == -1 || chroot(".") == -1 ||
		    chdir("/") == -1)
			_exit(EXIT_PODRUNNER);
		hi[0] = fcntl(sv[1], F_DUPFD_CLOEXEC, 16);
		hi[1] = fcntl(spawn_fds[SPAWN_FD_PARENT], F_DUPFD_CLOEXEC, 16);
		hi[2] = fcntl(spawn_fds[SPAWN_FD_POLICYD], F_DUPFD_CLOEXEC, 16);
		hi[3] = fcntl(spawn_fds[SPAWN_FD_STDIN], F_DUPFD_CLOEXEC, 16);
		hi[4] = fcntl(spawn_fds[SPAWN_FD_LIFELINE], F_DUPFD_CLOEXEC, 16);
		for (i = 0; i < 5; i++)
			if (hi[i] == -1 || fd_place(hi[i], RELAY_FD_SANDBOX + i)
			    == -1)
				_exit(EXIT_PODRUNNER);
		(void)signal(SIGCHLD, SIG_DFL);
		execv("/proc/self/exe", argv);
		_exit(EXIT_PODRUNNER);
	}
	p->relay_pid = pid;
	close(sv[1]);
	imsgev_init(&p->relay, sv[0], "relay", sandbox_relay_handler, p);
	imsgbuf_allow_fdpass(&p->relay.ibuf);
	if (imsgbuf_set_maxsize(&p->relay.ibuf, SPAWN_IMSG_MAX) == -1)
		fatal("imsgbuf_set_maxsize");
	if ((b = spawn_spec_build(&sp)) == NULL ||
	    imsgev_compose_ibuf(&p->relay, IMSG_SANDBOX_SPAWN, p->id, 0, -1,
	    b) == -1)
		fatal("compose spawn to relay");
	TAILQ_INSERT_TAIL(&pods, p, entry);
	log_debug("pod %s: relay %d, worker uid %u", p->podid, pid,
	    sp.worker_uid);
	/*
	 * The pod's cgroup, with the policy's limits, while the relay sets
	 * up; pod init joins it first thing (send_cgroups()).
	 */
	if (!(sp.flags & SPAWN_F_NO_SANDBOX)) {
		(void)imsgbuf_flush(&p->relay.ibuf);
		p->limits.memory = sandbox_child.policy->res.memory;
		p->limits.cpu_millis = sandbox_child.policy->res.cpu_pct * 10;
		p->limits.pids = sandbox_child.policy->res.pids;
		if ((p->cg = pod_cgroup_create(p->podid, &p->limits, err,
		    sizeof(err))) == NULL) {
			spawn_failed(spawn_fds[SPAWN_FD_PARENT], "cgroup limits: "
			    "%s", err);
			/* Its SIGCHLD reports the pod gone. */
			p->refused = 1;
			(void)kill(p->relay_pid, SIGKILL);
		} else if (send_cgroups(p, err, sizeof(err)) == -1) {
			spawn_failed(spawn_fds[SPAWN_FD_PARENT], "the pod's "
			    "cgroups: %s", err);
			p->refused = 1;
			(void)kill(p->relay_pid, SIGKILL);
		}
	}
	p = NULL;
 fail:
	if (p != NULL) {
		/* Refused before a relay existed: nothing to wait for. */
		memset(&gone, 0, sizeof(gone));
		child_compose(IMSG_SANDBOX_GONE, p->id, -1, &gone,
		    sizeof(gone));
	}
	free(p);
	for (i = 0; i < SPAWN_FD_MAX; i++) {
		close(spawn_fds[i]);
		spawn_fds[i] = -1;
	}
	spawn_spec_free(&sp);
}

/*
 * The pod's cgroups, for the relay to create pod init in and for pod
 * init to join, with no migration by us and so without the kernel's
 * global cgroup lock (see pod_cgroup_spawn_fds()); a zero-length
 * message ends them.
 */
static int
send_cgroups(struct pod *p, char *err, size_t errlen)
{
	int		tasks[PODCG_SPAWN_MAX], v2fd, n, i;
	uint32_t	kind;

	if ((n = pod_cgroup_spawn_fds(p->cg, &v2fd, tasks,
	    PODCG_SPAWN_MAX)) == -1) {
		(void)snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	kind = RELAY_CGROUP_V2DIR;
	if (v2fd != -1 && imsgev_compose(&p->relay, IMSG_RELAY_CGROUP, p->id,
	    0, v2fd, &kind, sizeof(kind)) == -1)
		goto fail;
	v2fd = -1;
	kind = RELAY_CGROUP_TASKS;
	for (i = 0; i < n; i++) {
		if (imsgev_compose(&p->relay, IMSG_RELAY_CGROUP, p->id, 0,
		    tasks[i], &kind, sizeof(kind)) == -1)
			goto fail;
		tasks[i] = -1;
	}
	if (imsgev_compose(&p->relay, IMSG_RELAY_CGROUP, p->id, 0, -1, NULL,
	    0) == -1)
		goto fail;
	return 0;
 fail:
	(void)snprintf(err, errlen, "to the relay: %s", strerror(errno));
	if (v2fd != -1)
		close(v2fd);
	for (i = 0; i < n; i++)
		if (tasks[i] != -1)
			close(tasks[i]);
	return -1;
}

static void
sandbox_relay_handler(int fd, short events, void *arg)
{
	struct pod	*p = arg;
	struct imsg	 imsg;
	uint32_t	 pid;
	int		 n;

	(void)fd;
	if ((n = imsgev_handle_io(&p->relay, events)) <= 0) {
		/* The relay exits after its pod: SIGCHLD cleans up. */
		imsgev_clear(&p->relay);
		return;
	}
	while ((n = imsg_get(&p->relay.ibuf, &imsg)) > 0) {
		if (imsg_get_type(&imsg) == IMSG_RELAY_ATTACHED &&
		    imsg_get_len(&imsg) == 0 && p->pidfd != -1) {
			pod_unlink(p->podid);
			imsg_free(&imsg);
			continue;
		}
		if (imsg_get_type(&imsg) != IMSG_RELAY_WORKER ||
		    p->pidfd != -1 ||
		    imsg_get_data(&imsg, &pid, sizeof(pid)) == -1 ||
		    (p->pidfd = imsg_get_fd(&imsg)) == -1) {
			/* The relay may be the worker's by now: stop it. */
			log_warnx("pod %s: unexpected message from the relay",
			    p->podid);
			imsg_free(&imsg);
			(void)kill(p->relay_pid, SIGKILL);
			imsgev_clear(&p->relay);
			return;
		}
		imsg_free(&imsg);
		/* Pod init joined its cgroups itself (send_cgroups()). */
		if (p->refused) {
			(void)kill(p->relay_pid, SIGKILL);
			imsgev_clear(&p->relay);
			return;
		}
		/* Released when the audit's loader has reported. */
		if (audit.state == AUDIT_PENDING && p->cg != NULL)
			p->go_pid = (pid_t)pid;
		else
			pod_release(p, (pid_t)pid);
	}
	if (n == -1) {
		(void)kill(p->relay_pid, SIGKILL);
		imsgev_clear(&p->relay);
		return;
	}
	imsgev_add(&p->relay);
}

static void
sandbox_sigchld(int sig, short ev, void *arg)
{
	struct pod	*p;
	pid_t		 pid;
	int		 status;

	(void)sig;
	(void)ev;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		TAILQ_FOREACH(p, &pods, entry)
			if (p->relay_pid == pid)
				break;
		if (p == NULL)
			continue;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			log_debug("pod %s: relay ended abnormally (%#x)",
			    p->podid, status);
		pod_gone(p);
	}
}

/*
 * Kill every process of the pod: a short-lived child becomes the pod's
 * uid and sends SIGKILL to -1, which reaches exactly the processes of
 * that uid (the per-pod uid is the pod) and is atomic against fork.
 * Not needed once a sandboxed pod's init has exited: its pid namespace
 * is then empty (the kernel kills and reaps every process in it before
 * the init's pidfd says it has exited), and nothing of the pod lives
 * outside it; that is every pod's normal end, and the fork, setuid and
 * wait cost about 0.4 ms of it.
 */
static void
pod_kill(struct pod *p)
{
	struct pollfd	pfd;
	uid_t		uid = WORKER_UID_BASE + p->slot;
	pid_t		pid;

	/* The cgroup first: atomic, whatever the uid of what is in it. */
	if (p->cg != NULL)
		(void)pod_cgroup_kill(p->cg);
	if (p->cg != NULL && p->pidfd != -1) {
		pfd.fd = p->pidfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN))
			return;
	}
	switch (pid = fork()) {
	case -1:
		log_warn("pod %s: fork to kill the pod", p->podid);
		if (p->pidfd != -1)
			(void)pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
		return;
	case 0:
		if (setgroups(0, NULL) == -1 ||
		    setresgid(uid, uid, uid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			_exit(1);
		(void)kill(-1, SIGKILL);
		_exit(0);
	}
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
}

/* Remove a pod's names: its segment, its socket and their directory. */
static void
pod_unlink(const char *podid)
{
	if (pod_unlink_names(rundirfd, shmdirfd, podid) == -1)
		log_warn("pod %s: removing its names", podid);
}

/*
 * Pods of a podrunner that was killed outright (SIGKILL of the whole
 * tree) leave their names behind.  A pod directory belongs to uid
 * WORKER_UID_BASE + slot; if nobody holds that slot's lock, the pod is
 * dead and its names go.
 */
/* Is the uid slot of this owner held by a running pod? */
static int
slot_held(uid_t owner)
{
	struct flock	fl;

	if (owner < WORKER_UID_BASE ||
	    owner >= WORKER_UID_BASE + WORKER_UID_COUNT)
		return 1;	/* not a pod's: leave it alone */
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = owner - WORKER_UID_BASE;
	fl.l_len = 1;
	if (fcntl(uidlockfd, F_OFD_GETLK, &fl) == -1)
		return 1;
	return fl.l_type != F_UNLCK;
}

static int
is_podid(const char *s)
{
	size_t	i;

	if (strlen(s) != PODID_LEN)
		return 0;
	for (i = 0; i < PODID_LEN; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * Pods of a podrunner that was killed outright (SIGKILL of the whole
 * tree before the worker attached) leave names behind.  A pod's names
 * belong to uid WORKER_UID_BASE + slot; if nobody holds that slot's
 * lock, the pod is dead and its names go.
 */
static void
gc_stale_pods(void)
{
	const int	 dirs[2] = { rundirfd, shmdirfd };
	const char	*id;
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;
	int		 i, fd;

	for (i = 0; i < 2; i++) {
		if ((fd = openat(dirs[i], ".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1 || (d = fdopendir(fd)) == NULL) {
			log_warn("gc");
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			id = de->d_name;
			if (i == 1) {
				if (strncmp(id, SHM_PREFIX,
				    strlen(SHM_PREFIX)) != 0)
					continue;
				id += strlen(SHM_PREFIX);
			}
			if (!is_podid(id) || fstatat(dirs[i], de->d_name, &sb,
			    AT_SYMLINK_NOFOLLOW) == -1 || slot_held(sb.st_uid))
				continue;
			log_info("removing the names of dead pod %s", id);
			pod_unlink(id);
		}
		closedir(d);
	}
}

/* The relay is gone: make sure the worker is, remove the pod's files. */
static void
pod_gone(struct pod *p)
{
	struct pod_gone	gone;
	struct pollfd	pfd;

	/* Did a limit end it?  Asked before the cgroup goes. */
	memset(&gone, 0, sizeof(gone));
	if (p->cg != NULL) {
		switch (pod_cgroup_limit_hit(p->cg)) {
		case LIMIT_MEMORY:
			gone.limit = 1;
			gone.value = p->limits.memory;
			break;
		case LIMIT_PIDS:
			gone.limit = 2;
			gone.value = p->limits.pids;
			break;
		default:
			break;
		}
	}
	/* No process of the pod's uid survives the release of that uid. */
	pod_kill(p);
	if (p->audit_cgid != 0 && audit.pods != NULL)
		audit_pod_del(audit.pods, p->audit_cgid);
	if (p->cg != NULL && pod_cgroup_destroy(p->cg) == -1)
		log_warnx("pod %s: a cgroup directory is left for the next "
		    "start", p->podid);
	p->cg = NULL;
	if (p->pidfd != -1) {
		pfd.fd = p->pidfd;
		pfd.events = POLLIN;
		/* Readable once it has exited; bounded, it is SIGKILLed. */
		(void)poll(&pfd, 1, 2000);
		close(p->pidfd);
	}
	pod_unlink(p->podid);
	slot_free(p->slot);
	if (p->relay.ev != NULL)
		imsgev_clear(&p->relay);
	child_compose(IMSG_SANDBOX_GONE, p->id, -1, &gone, sizeof(gone));
	TAILQ_REMOVE(&pods, p, entry);
	free(p);
}

/*
 * Worker uids: byte N of uids.lock, locked with an open file
 * description lock, is uid WORKER_UID_BASE + N for as long as this
 * process holds it (across podrunner instances; the kernel drops the
 * lock if we die).
 */
static int
slot_alloc(unsigned int *slot)
{
	struct flock	fl;
	unsigned int	start = arc4random_uniform(WORKER_UID_COUNT), i, s;

	for (i = 0; i < WORKER_UID_COUNT; i++) {
		s = (start + i) % WORKER_UID_COUNT;
		if (slot_used[s])
			continue;
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = s;
		fl.l_len = 1;
		if (fcntl(uidlockfd, F_OFD_SETLK, &fl) == -1)
			continue;
		slot_used[s] = 1;
		*slot = s;
		return 0;
	}
	return -1;
}

static void
slot_free(unsigned int s)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = s;
	fl.l_len = 1;
	if (fcntl(uidlockfd, F_OFD_SETLK, &fl) == -1)
		log_warn("unlock uid slot %u", s);
	slot_used[s] = 0;
}

/*
 * Pod init is in its cgroup: the pod goes into the audit's map (its
 * processes are recorded from their first syscall), then pod init is
 * released.  Without the audit, a policy that requires it refuses the
 * pod: the worker never runs.
 */
static void
pod_release(struct pod *p, pid_t pid)
{
	const char	*why = NULL;
	char		 msg[640];
	uint64_t	 cgid;
	uint32_t	 upid = (uint32_t)pid;

	p->go_pid = 0;
	if (p->cg == NULL || (cgid = pod_cgroup_id(p->cg)) == 0)
		why = "the pod has no cgroup v2 to be audited by "
		    "(--no-sandbox)";
	else if (audit.state == AUDIT_ON) {
		if (audit_pod_add(audit.pods, cgid, p->id) == -1) {
			(void)snprintf(msg, sizeof(msg), "adding the pod to "
			    "the audit's map: %s", strerror(errno));
			why = msg;
		} else
			p->audit_cgid = cgid;
		if (why != NULL && !sandbox_child.policy->audit.required)
			child_compose(IMSG_AUDIT_UNAVAILABLE, p->id, -1, why,
			    strlen(why));
	} else if (audit.why[0] != '\0')
		why = audit.why;
	else if (sandbox_child.policy->audit.required)
		why = "audit is disabled";
	if (why != NULL && sandbox_child.policy->audit.required) {
		(void)snprintf(msg, sizeof(msg), "the policy requires the "
		    "audit (audit.required), which is unavailable: %s", why);
		log_warnx("pod %s: %s", p->podid, msg);
		report_failed(p->id, msg);
		p->refused = 1;
		(void)kill(p->relay_pid, SIGKILL);
		return;
	}
	imsgev_compose(&p->relay, IMSG_RELAY_GO, p->id, 0, -1, NULL, 0);
	child_compose(IMSG_SANDBOX_STARTED, p->id, -1, &upid, sizeof(upid));
	if (p->pending_sig != 0 &&
	    pidfd_send_signal(p->pidfd, p->pending_sig, NULL, 0) == -1)
		log_warn("pidfd_send_signal");
}

/*
 * The loader's channel, from the parent, which forked the loader first
 * thing (podrunner.c): it has been loading the programs since.
 */
static int
audit_start(int fd)
{
	if (audit.loader.ev != NULL || sandbox_child.configured) {
		close(fd);
		return -1;
	}
	imsgev_init(&audit.loader, fd, "audit loader", audit_loader_handler,
	    NULL);
	imsgbuf_allow_fdpass(&audit.loader.ibuf);
	imsgev_add(&audit.loader);
	return 0;
}

/*
 * The policy is known: the loader loads what it asks for, or nothing.
 * audit.events adds syscalls to the ones with a record of their own;
 * a name the kernel does not have is a configuration error.
 */
static int
sandbox_config_done(char *err, size_t errlen)
{
	const struct policy_audit	*pa = &sandbox_child.policy->audit;
	struct audit_load		 al;
	static const char		*own[] = { "open", "creat", "openat",
					    "openat2", "execve", "execveat",
					    "connect", "bind" };
	size_t				 i, j;
	int				 nr;

	memset(&al, 0, sizeof(al));
	al.enabled = pa->enabled != 0 && cgroup_error[0] == '\0' &&
	    (pod_cgroup_features() & PODCG_F_ID);
	for (i = 0; i < pa->nevents; i++) {
		for (j = 0; j < sizeof(own) / sizeof(own[0]); j++)
			if (strcmp(pa->events[i], own[j]) == 0)
				break;
		if (j < sizeof(own) / sizeof(own[0]))
			continue;
		nr = seccomp_syscall_resolve_name(pa->events[i]);
		if (nr < 0 || nr >= AUDIT_SYSCALLS_MAX) {
			(void)snprintf(err, errlen, "audit.events: \"%s\" is "
			    "not a system call of this machine", pa->events[i]);
			return -1;
		}
		al.generic[nr / 64] |= 1ULL << (nr % 64);
	}
	if (audit.loader.ev == NULL) {
		/* Not a run (explain): no loader, nothing to say. */
		(void)snprintf(audit.why, sizeof(audit.why), "no audit "
		    "loader was started");
		audit.state = AUDIT_OFF;
		return 0;
	}
	imsgev_compose(&audit.loader, IMSG_AUDIT_LOAD, 0, 0, -1, &al,
	    sizeof(al));
	(void)imsgbuf_flush(&audit.loader.ibuf);
	log_debug("audit: %s", al.enabled ? "attach" : "not used");
	if (!pa->enabled) {
		audit.why[0] = '\0';
		audit.state = AUDIT_OFF;
		return 0;
	}
	if (!al.enabled)
		audit_off("no cgroup v2 hierarchy: the audit filters by the "
		    "pod's cgroup v2 id");
	return 0;
}

/* A pod refused after its relay started: the parent's exit status. */
static void
report_failed(uint32_t id, const char *msg)
{
	struct ibuf	*b;

	if ((b = ibuf_dynamic(64, 2048)) == NULL ||
	    ibuf_add_n32(b, EXIT_PODRUNNER) == -1 ||
	    ibuf_add_string(b, msg) == -1 ||
	    imsgev_compose_ibuf(&sandbox_child.parent, IMSG_SANDBOX_FAILED,
	    id, 0, -1, b) == -1)
		fatal("%s", __func__);
}

/* No audit: say why once (the parent warns), release waiting pods. */
static void
audit_off(const char *fmt, ...)
{
	struct pod	*p, *tp;
	va_list		 ap;
	int		 i;

	if (audit.state == AUDIT_OFF)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(audit.why, sizeof(audit.why), fmt, ap);
	va_end(ap);
	audit.state = AUDIT_OFF;
	for (i = 0; i < audit.nlinks; i++)
		close(audit.links[i]);
	audit.nlinks = 0;
	if (audit.pods != NULL)
		(void)munmap(audit.pods, sizeof(*audit.pods));
	audit.pods = NULL;
	log_debug("audit unavailable: %s", audit.why);
	if (!sandbox_child.policy->audit.required)
		child_compose(IMSG_AUDIT_UNAVAILABLE, 0, -1, audit.why,
		    strlen(audit.why));
	TAILQ_FOREACH_SAFE(p, &pods, entry, tp)
		if (p->go_pid != 0)
			pod_release(p, p->go_pid);
}

static void
audit_loader_handler(int fd, short events, void *arg)
{
	struct audit_ready	 ready;
	struct pod		*p, *tp;
	struct imsg		 imsg;
	char			 why[512];
	uint32_t		 type;
	int			 n, lfd;

	(void)fd;
	(void)arg;
	if ((n = imsgev_handle_io(&audit.loader, events)) <= 0) {
		imsgev_clear(&audit.loader);
		if (audit.state == AUDIT_PENDING)
			audit_off("the audit loader exited without a word");
		return;
	}
	while ((n = imsg_get(&audit.loader.ibuf, &imsg)) > 0) {
		lfd = imsg_get_fd(&imsg);
		switch ((type = imsg_get_type(&imsg))) {
		case IMSG_AUDIT_LINK:
			if (lfd == -1 || audit.nlinks == AUDIT_MAX_LINKS)
				goto bad;
			audit.links[audit.nlinks++] = lfd;
			lfd = -1;
			break;
		case IMSG_AUDIT_PODS:
			if (lfd == -1 || audit.pods != NULL)
				goto bad;
			if ((audit.pods = audit_pods_map(lfd)) == NULL) {
				(void)snprintf(why, sizeof(why), "mapping the "
				    "audit's pods: %s", strerror(errno));
				close(lfd);
				imsg_free(&imsg);
				imsgev_clear(&audit.loader);
				audit_off("%s", why);
				return;
			}
			close(lfd);
			lfd = -1;
			break;
		case IMSG_AUDIT_RING:
		case IMSG_AUDIT_COUNTERS:
			/* For auditd, through the parent. */
			if (lfd == -1 || child_compose(imsg_get_type(&imsg), 0,
			    lfd, ibuf_data(&imsg.data), imsg_get_len(&imsg)) ==
			    -1)
				goto bad;
			lfd = -1;
			break;
		case IMSG_AUDIT_READY:
			if (imsg_get_data(&imsg, &ready, sizeof(ready)) == -1 ||
			    audit.pods == NULL || audit.state != AUDIT_PENDING)
				goto bad;
			audit.state = AUDIT_ON;
			log_debug("audit: loaded in %u.%03u ms, %u programs "
			    "attached in %u.%03u ms", ready.load_us / 1000,
			    ready.load_us % 1000, ready.nlinks,
			    ready.attach_us / 1000, ready.attach_us % 1000);
			TAILQ_FOREACH_SAFE(p, &pods, entry, tp)
				if (p->go_pid != 0)
					pod_release(p, p->go_pid);
			break;
		case IMSG_AUDIT_UNAVAILABLE:
			if (imsg_get_cstring(&imsg, why, sizeof(why)) == -1)
				goto bad;
			audit_off("%s", why);
			break;
		default:
			goto bad;
		}
		imsg_free(&imsg);
	}
	if (n == -1) {
		imsgev_clear(&audit.loader);
		audit_off("the audit loader's channel failed");
		return;
	}
	imsgev_add(&audit.loader);
	return;
 bad:
	if (lfd != -1)
		close(lfd);
	imsg_free(&imsg);
	imsgev_clear(&audit.loader);
	audit_off("the audit loader sent an unexpected %s",
	    imsg_type_name(type));
}
