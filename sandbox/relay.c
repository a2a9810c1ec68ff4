/*
 * relay: one per pod.  Started by the sandbox process (fork + re-exec,
 * in the host's root), it sets the pod up while privileged -- control
 * socket, shared memory, stdio pipes, the worker -- then chroots,
 * drops to the unprivileged user and installs its seccomp filter
 * before it reads the first byte the worker wrote.  From then on it
 * relays: output to the parent, decision requests to policyd and
 * answers back, ring frames (checked) to the parent as events.
 *
 * fds on entry: 3 sandbox, 4 parent, 5 policyd, 6 the worker's stdin,
 * 7 the lifeline (for pod init).
 */
#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/sched.h>

#include <errno.h>
#include <glob.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cli.h"
#include "ctlmsg.h"
#include "imsg.h"
#include "log.h"
#include "podshm.h"
#include "podfs.h"
#include "podcgroup.h"
#include "podlandlock.h"
#include "privsep.h"
#include "proto.h"
#include "sandbox.h"
#include "util.h"

#define OUT_PAUSE	(1024 * 1024)	/* queued bytes to the parent */
#define OUT_RESUME	(256 * 1024)
/* A persistent pod's output event carries at most this many bytes: its
 * JSON (escapes at most 6 bytes each) stays under POD_IMSG_MAX. */
#define OUT_EVENT_CHUNK	(32 * 1024)
/*
 * Requests a worker may have in flight (asked, not answered): beyond,
 * it is flooding policyd, and is cut off.  The Python runtime keeps
 * below MAX_IN_FLIGHT (64); signal handlers nest a few more.
 */
#define REQ_IN_FLIGHT_MAX	1024
/*
 * DATA notes that find the ring empty: a worker sends one per frame and
 * one drain takes them all, so up to one per frame is normal; this many
 * more is a flood.
 */
#define EMPTY_DATA_MAX		4096
/* Submissions a persistent pod queues for the worker (podrunner serve). */
#define SUBS_MAX	4096

/* A submission of a persistent pod: in order, from the parent's SEND
 * to the worker's exec_end. */
struct sub {
	TAILQ_ENTRY(sub)	 entry;
	uint64_t		 seq;
	json_t			*id;		/* the embedder's, or NULL */
	char			*frame;		/* until it is in the ring */
	int			 started;	/* exec_start seen */
};
TAILQ_HEAD(subq, sub);

static struct {
	struct spawn_spec	 sp;
	struct event_base	*base;
	struct imsgev		 sandbox, parent, policyd;
	int			 protocol;	/* python, bun, custom: socket +
						 * rings */
	int			 listen_fd, ctl_fd;
	struct event		*ev_listen, *ev_ctl;
	int			 out_fd[3];	/* [1] stdout, [2] stderr */
	struct event		*ev_out[3];
	int			 out_paused;
	struct podshm		*shm;
	unsigned char		*frame;		/* one ring frame, copied out */
	size_t			 frame_max;
	char			*run_frame;	/* the entry, for the worker */
	pid_t			 worker;
	int			 ready, cut_off, exited, status;
	char			 dir[256], sock[PATH_MAX];
	char			 shm_name[128];
	int			 sandboxed;	/* namespaces and the plan */
	struct fsplan		 plan;
	int			 userns_fd;	/* idmapping, -1 */
	int			 go[2];		/* releases pod init */
	int			 cg_v2fd;	/* the pod's v2 cgroup, -1 */
	int			 cg_tasks[PODCG_SPAWN_MAX]; /* v1 tasks */
	size_t			 cg_ntasks;
	int			 proxy_sock[2];	/* pod init's proxy listener */
	int			 errpipe;	/* pod init's report */
	char			 hostname[64];
	struct pod_ll_config	 ll;		/* landlock from the plan */
	struct pod_ll_path	*llpaths;
	/* A persistent pod (SPAWN_F_PERSISTENT): events in serve shape. */
	int			 persistent;
	unsigned int		 in_flight;	/* requests policyd has */
	int64_t			 data_credit;	/* frames read - empty DATAs */
	int			 stop_wanted;	/* STOP before READY */
	struct subq		 subs;		/* sent or queued, in order */
	size_t			 nsubs;
	uint64_t		 next_seq;
	struct event		*ev_retry;	/* the ring was full */
	struct event		*ev_data;	/* a DATA note to send again */
	unsigned char		 carry[3][4];	/* cut-off UTF-8, per stream */
	size_t			 ncarry[3];
} r;

static void	plan_landlock(void);
static int	setup_fail(int, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static void	relay_finish(void);
static void	relay_cut_off(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
static void	out_pause(int);
static void	send_ctl(unsigned char, uint32_t);
static void	subs_flush(void);
static void	drain_outputs(void);

/* --- privileged set-up: a checklist of named steps ---------------------- */

static int
setup_fail(int code, const char *fmt, ...)
{
	va_list		 ap;
	char		 msg[768];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	spawn_report_failed(&r.parent.ibuf, (uint32_t)code, msg);
	return -1;
}

static int
step_pod_dir(void)
{
	char	root[PATH_MAX];

	pod_dir_name(r.sp.podid, r.dir, sizeof(r.dir));
	if (mkdir(r.dir, 0700) == -1)
		return setup_fail(EXIT_PODRUNNER, "pod directory %s: %s", r.dir,
		    strerror(errno));
	if (chown(r.dir, r.sp.worker_uid, r.sp.worker_gid) == -1)
		return setup_fail(EXIT_PODRUNNER, "pod directory %s: chown: %s",
		    r.dir, strerror(errno));
	(void)snprintf(root, sizeof(root), "%s/%s", r.dir, POD_ROOT);
	if (r.sandboxed && mkdir(root, 0700) == -1)
		return setup_fail(EXIT_PODRUNNER, "pod root %s: %s", root,
		    strerror(errno));
	return 0;
}

/* Bind the runtime's own files: read-only, executable, as they are. */
static void
plan_runtime_glob(const char *pat)
{
	glob_t	g;
	size_t	i;

	if (glob(pat, GLOB_ONLYDIR, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++)
		fsplan_add(&r.plan, FSOP_BIND, g.gl_pathv[i], g.gl_pathv[i],
		    FSOP_RO, 0, 0);
	globfree(&g);
}

/*
 * A path that may be a symlink (/bin/sh -> dash, /usr/bin/python3 ->
 * python3.11): its target bound where it really is, and the link made
 * in the pod's directory of the path (the pod's /bin, /lib... are the
 * host's merged-/usr links).
 */
static void
plan_path(const char *p, unsigned int flags)
{
	char	 real[PATH_MAX], dir[PATH_MAX], link[2 * PATH_MAX], *slash;
	char	 rdir[PATH_MAX];

	if (realpath(p, real) == NULL) {
		if (!(flags & FSOP_OPTIONAL))
			fsplan_add(&r.plan, FSOP_BIND, p, p, flags, 0, 0);
		return;
	}
	fsplan_add(&r.plan, FSOP_BIND, real, real, flags, 0, 0);
	(void)snprintf(dir, sizeof(dir), "%s", p);
	if ((slash = strrchr(dir, '/')) == NULL)
		return;
	*slash = '\0';
	if (realpath(dir[0] ? dir : "/", rdir) == NULL)
		return;
	(void)snprintf(link, sizeof(link), "%s/%s", strcmp(rdir, "/") == 0 ?
	    "" : rdir, slash + 1);
	if (strcmp(link, real) != 0)
		fsplan_add(&r.plan, FSOP_SYMLINK, real, link, 0, 0, 0);
}

/* A command granted by name: what the pod's PATH would find. */
static void
plan_command(const char *name)
{
	static const char *dirs[] = { "/usr/local/bin", "/usr/bin", "/bin" };
	char	path[PATH_MAX];
	size_t	i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0) {
			plan_path(path, FSOP_RO);
			return;
		}
	}
	log_warnx("pod %s: --allow-run=%s: not found on the pod's PATH",
	    r.sp.podid, name);
}

/* The interpreter of a "#!" script, if the entry is one. */
static void
plan_interpreter(const char *entry)
{
	char	line[256], *p, *e;
	FILE	*f;

	if ((f = fopen(entry, "re")) == NULL)
		return;
	if (fgets(line, sizeof(line), f) != NULL && strncmp(line, "#!", 2) == 0) {
		for (p = line + 2; *p == ' ' || *p == '\t'; p++)
			;
		e = p + strcspn(p, " \t\n");
		*e = '\0';
		if (*p == '/') {
			plan_path(p, FSOP_RO | FSOP_OPTIONAL);
			/* An interpreter needs its library. */
			if ((e = strrchr(p, '/')) != NULL &&
			    strncmp(e + 1, "python", 6) == 0) {
				plan_runtime_glob("/usr/lib/python3*");
				plan_runtime_glob("/usr/local/lib/python3*");
			}
		}
	}
	fclose(f);
}

/*
 * Landlock's rules from the plan itself: whatever is bound is granted
 * as it is bound (read; write unless read-only; execute unless noexec),
 * the pod's tmpfs /tmp and /dev/shm writable, /proc readable, and TCP
 * connect to the proxy's port only.
 */
static void
plan_landlock(void)
{
	static const uint16_t	 proxy_port[] = { 8080 };
	const struct fsop	*op;
	unsigned int		 acc;
	size_t			 i, n = 0;

	r.llpaths = xcalloc(r.plan.n + 1, sizeof(*r.llpaths));
	for (i = 0; i < r.plan.n; i++) {
		op = &r.plan.ops[i];
		if (op->type == FSOP_BIND || op->type == FSOP_DEV) {
			acc = POD_LL_READ;
			if (!(op->flags & FSOP_RO))
				acc |= POD_LL_WRITE;
			if (!(op->flags & FSOP_NOEXEC))
				acc |= POD_LL_EXEC;
		} else if (op->type == FSOP_TMPFS &&
		    (strcmp(op->dst, "/tmp") == 0 ||
		    strcmp(op->dst, "/dev/shm") == 0))
			acc = POD_LL_READ | POD_LL_WRITE;
		else if (op->type == FSOP_MKDIR && strcmp(op->dst, "/proc") == 0)
			acc = POD_LL_READ;
		else
			continue;
		r.llpaths[n].path = op->dst;
		r.llpaths[n].access = acc;
		n++;
	}
	r.ll.paths = r.llpaths;
	r.ll.npaths = n;
	r.ll.connect_ports = proxy_port;
	r.ll.nports = 1;
	r.ll.scope = 1;
}

/* Is path dir itself or below it (component-wise)? */
static int
path_under(const char *path, const char *dir)
{
	size_t	len = strlen(dir);

	return strncmp(path, dir, len) == 0 &&
	    (path[len] == '\0' || path[len] == '/');
}

/* Does the policy deny reading path (a --deny-read of it or above)? */
static int
read_denied(const char *path)
{
	const struct spawn_grant	*g;
	size_t				 i;

	for (i = 0; i < r.sp.ngrants; i++) {
		g = &r.sp.grants[i];
		if (g->action == PERM_DENY && g->kind == PERM_READ &&
		    path_under(path, g->path))
			return 1;
	}
	return 0;
}

/* Is path inside (or at) an allowed grant of the pod? */
static int
under_grant(const char *path)
{
	const struct spawn_grant	*g;
	size_t				 i, len;

	for (i = 0; i < r.sp.ngrants; i++) {
		g = &r.sp.grants[i];
		if (g->action == PERM_DENY)
			continue;
		len = strlen(g->path);
		if (strcmp(g->path, "/") == 0 || (strncmp(path, g->path,
		    len) == 0 && (path[len] == '/' || path[len] == '\0')))
			return 1;
	}
	return 0;
}

static int
grant_cmp(const void *a, const void *b)
{
	const struct spawn_grant *ga = a, *gb = b;
	size_t	la = strlen(ga->path), lb = strlen(gb->path);

	/* Parents first (shorter paths), then the same paths together. */
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(ga->path, gb->path);
}

/*
 * The pod's filesystem (podrunner(8), THE POD): a tmpfs root, the
 * runtime read-only, a minimal /dev, a private /tmp, the pod's own
 * directory (control socket, runtime copies), the entry, the grants
 * (idmapped: the invoking user's files are the worker's), and the
 * denied paths hidden.  Anything else does not exist.
 */
static int
step_plan(void)
{
	static const char *toplevel[] = {
		"/bin", "/boot", "/etc", "/home", "/lib", "/lib64", "/media",
		"/mnt", "/opt", "/root", "/sbin", "/srv", "/usr", "/var",
	};
	static const char *devs[] = {
		"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
		"/dev/urandom",
	};
	static const char *certs[] = {
		"/etc/ssl/certs", "/etc/ssl/openssl.cnf",
		"/usr/share/ca-certificates", "/usr/lib/ssl",
	};
	struct spawn_grant	*g;
	char			 path[PATH_MAX], shm[PATH_MAX], bun[PATH_MAX];
	unsigned int		 fl;
	size_t			 i, j;

	fsplan_add(&r.plan, FSOP_TMPFS, NULL, "/", 0, 1024 * 1024, 0755);
	fsplan_add(&r.plan, FSOP_SYMLINK, "usr/bin", "/bin", 0, 0, 0);
	fsplan_add(&r.plan, FSOP_SYMLINK, "usr/sbin", "/sbin", 0, 0, 0);
	fsplan_add(&r.plan, FSOP_SYMLINK, "usr/lib", "/lib", 0, 0, 0);
	fsplan_add(&r.plan, FSOP_SYMLINK, "usr/lib64", "/lib64", 0, 0, 0);
	fsplan_add(&r.plan, FSOP_TMPFS, NULL, "/dev", FSOP_NOEXEC, 64 * 1024,
	    0755);
	for (i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		fsplan_add(&r.plan, FSOP_DEV, devs[i], devs[i], FSOP_NOEXEC, 0,
		    0);
	fsplan_add(&r.plan, FSOP_SYMLINK, "/proc/self/fd", "/dev/fd", 0, 0, 0);
	fsplan_add(&r.plan, FSOP_SYMLINK, "/proc/self/fd/0", "/dev/stdin", 0,
	    0, 0);
	fsplan_add(&r.plan, FSOP_SYMLINK, "/proc/self/fd/1", "/dev/stdout", 0,
	    0, 0);
	fsplan_add(&r.plan, FSOP_SYMLINK, "/proc/self/fd/2", "/dev/stderr", 0,
	    0, 0);
	/* Writable: multiprocessing's semaphores live there. */
	fsplan_add(&r.plan, FSOP_TMPFS, NULL, "/dev/shm", FSOP_NOEXEC,
	    1024 * 1024, 01777);
	fsplan_add(&r.plan, FSOP_TMPFS, NULL, "/tmp", FSOP_NOEXEC,
	    r.sp.tmpfs_size, 01777);
	fsplan_add(&r.plan, FSOP_MKDIR, NULL, "/proc", 0, 0, 0555);

	/*
	 * The grants, parents first, idmapped: the invoking user's files
	 * are the worker's.  Grants of one path fold into one bind:
	 * writable if written, executable if run.
	 */
	if (r.sp.ngrants > 0)
		qsort(r.sp.grants, r.sp.ngrants, sizeof(*r.sp.grants),
		    grant_cmp);
	for (i = 0; i < r.sp.ngrants; i++) {
		g = &r.sp.grants[i];
		if (g->action == PERM_DENY || (i > 0 &&
		    strcmp(g->path, r.sp.grants[i - 1].path) == 0 &&
		    r.sp.grants[i - 1].action != PERM_DENY))
			continue;	/* masks last; folded already */
		if (g->path[0] != '/') {
			plan_command(g->path);
			continue;
		}
		if (path_under(g->path, "/proc") ||
		    path_under(g->path, "/sys") ||
		    path_under(g->path, "/dev") ||
		    path_under(g->path, PATH_RUNDIR)) {
			log_warnx("pod %s: %s is not mapped into pods",
			    r.sp.podid, g->path);
			continue;
		}
		fl = FSOP_IDMAP | FSOP_OPTIONAL | FSOP_RO | FSOP_NOEXEC;
		for (j = i; j < r.sp.ngrants &&
		    strcmp(r.sp.grants[j].path, g->path) == 0; j++) {
			if (r.sp.grants[j].action == PERM_DENY)
				continue;
			if (r.sp.grants[j].kind == PERM_WRITE)
				fl &= ~FSOP_RO;
			if (r.sp.grants[j].kind == PERM_RUN)
				fl &= ~FSOP_NOEXEC;
		}
		if (strcmp(g->path, "/") != 0) {
			fsplan_add(&r.plan, FSOP_BIND, g->path, g->path, fl, 0,
			    0);
			continue;
		}
		/* The whole kind: the host's directories, not its /proc,
		 * /sys, /dev, /run or /tmp. */
		for (j = 0; j < sizeof(toplevel) / sizeof(toplevel[0]); j++)
			if (realpath(toplevel[j], path) != NULL &&
			    strcmp(path, toplevel[j]) == 0)
				fsplan_add(&r.plan, FSOP_BIND, path, path, fl, 0,
				    0);
	}

	/* The runtime on top: read-only, executable, as it is. */
	fsplan_add(&r.plan, FSOP_BIND, "/usr/lib/x86_64-linux-gnu",
	    "/usr/lib/x86_64-linux-gnu", FSOP_RO | FSOP_OPTIONAL, 0, 0);
	fsplan_add(&r.plan, FSOP_BIND, "/usr/lib64", "/usr/lib64",
	    FSOP_RO | FSOP_OPTIONAL, 0, 0);
	/* The system's CA certificates and OpenSSL's configuration
	 * (public): HTTPS through the proxy verifies as on the host. */
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		if (!read_denied(certs[i]))
			fsplan_add(&r.plan, FSOP_BIND, certs[i], certs[i],
			    FSOP_RO | FSOP_NOEXEC | FSOP_OPTIONAL, 0, 0);
	/*
	 * libpodshm where the dynamic linker looks without ld.so.cache (the
	 * pod has no /etc): a worker linked with it, custom or exec, starts.
	 * Not where a grant binds the host's /usr/lib (no mountpoint can be
	 * made there).
	 */
	if (r.sp.runtime_lib[0] != '\0' && !under_grant(POD_PODSHM_LIB) &&
	    realpath(r.sp.runtime_lib, path) != NULL)
		fsplan_add(&r.plan, FSOP_BIND, path, POD_PODSHM_LIB,
		    FSOP_RO | FSOP_OPTIONAL, 0, 0);
	if (r.protocol) {
		/* The interpreter; Python's library directories.  Bun is one
		 * static file (libc, libm, libpthread and libdl besides, in
		 * the system's library directory above). */
		if (access(r.sp.runtime, X_OK) == -1 ||
		    (r.sp.worker == WORKER_BUN &&
		    realpath(r.sp.runtime, path) == NULL))
			return setup_fail(EXIT_PODRUNNER, "runtime %s: %s",
			    r.sp.runtime, strerror(errno));
		if (r.sp.worker == WORKER_CUSTOM) {
			/*
			 * The user's program, at its own path as the exec
			 * worker's entry is (a grant above it cannot hide
			 * the mountpoint), idmapped, executable; the
			 * interpreter of a "#!" script too.
			 */
			fsplan_add(&r.plan, FSOP_BIND, r.sp.runtime,
			    r.sp.runtime, FSOP_RO | FSOP_IDMAP, 0, 0);
			plan_interpreter(r.sp.runtime);
		} else if (r.sp.worker == WORKER_BUN) {
			/* Below (after) the pod's directory, bound over the
			 * empty file step_runtime() made there: the pod does
			 * not show where the host keeps it, and no grant of
			 * a directory above can hide the mountpoint. */
			(void)snprintf(bun, sizeof(bun), "%s/%s", r.dir,
			    POD_BUN_MNT);
			free(r.sp.runtime);
			r.sp.runtime = xstrdup(bun);
		} else
			plan_path(r.sp.runtime, FSOP_RO);
		if (r.sp.worker == WORKER_PYTHON) {
			plan_runtime_glob("/usr/lib/python3*");
			plan_runtime_glob("/usr/local/lib/python3*");
		}
		/* The pod's directory (the socket, the runtime copies), its
		 * segment, the entry. */
		fsplan_add(&r.plan, FSOP_BIND, r.dir, r.dir, FSOP_RO, 0, 0);
		if (r.sp.worker == WORKER_BUN)
			fsplan_add(&r.plan, FSOP_BIND, path, bun, FSOP_RO, 0,
			    0);
		(void)snprintf(shm, sizeof(shm), "%s/%s", PATH_SHMDIR,
		    r.shm_name);
		fsplan_add(&r.plan, FSOP_BIND, shm, shm, FSOP_NOEXEC, 0, 0);
		/* A persistent pod has no entry: code comes in the ring. */
		if (!r.persistent)
			fsplan_add(&r.plan, FSOP_BIND, r.sp.entry, r.sp.entry,
			    FSOP_RO | FSOP_NOEXEC | FSOP_IDMAP, 0, 0);
	} else {
		fsplan_add(&r.plan, FSOP_BIND, r.sp.entry, r.sp.entry,
		    FSOP_RO | FSOP_IDMAP, 0, 0);
		plan_interpreter(r.sp.entry);
	}

	/*
	 * What the policy denies inside a grant does not exist.  A denial
	 * in the runtime's own directories is the hooks' to enforce: the
	 * interpreter itself must still start.
	 */
	for (i = 0; i < r.sp.ngrants; i++)
		if (r.sp.grants[i].action == PERM_DENY &&
		    r.sp.grants[i].kind == PERM_READ &&
		    under_grant(r.sp.grants[i].path))
			fsplan_add(&r.plan, FSOP_MASK, NULL, r.sp.grants[i].path,
			    0, 0, 0);
	plan_landlock();
	if (log_getverbose() > 1)
		fsplan_print(&r.plan, stderr);
	(void)snprintf(r.hostname, sizeof(r.hostname), "pod-%s", r.sp.podid);
	return 0;
}

/* Copy a file of the runtime, read-only, into the pod's directory. */
static int
copy_in(const char *src, const char *name, char *dst, size_t dstlen)
{
	char	buf[65536];
	ssize_t	n;
	int	in, out = -1;

	(void)snprintf(dst, dstlen, "%s/%s", r.dir, name);
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0444)) == -1)
		goto fail;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto fail;
	if (n == -1 || close(out) == -1) {
		out = -1;
		goto fail;
	}
	close(in);
	return 0;
 fail:
	if (in != -1)
		close(in);
	if (out != -1)
		close(out);
	return setup_fail(EXIT_PODRUNNER, "runtime %s: %s", src,
	    strerror(errno));
}

/*
 * The runtime where the worker's uid can read it: without the kernel
 * sandbox's binds, a copy in the pod's private directory (the tree it
 * came from may sit below a directory others cannot search).
 */
static int
step_runtime(void)
{
	char		 script[PATH_MAX], lib[PATH_MAX], mnt[PATH_MAX], *env;
	const char	*name = POD_RUNTIME_SCRIPT, *dot;
	int		 fd;

	/* A custom worker is its own program: only the library. */
	if (r.sp.runtime_script[0] == '\0') {
		if (copy_in(r.sp.runtime_lib, POD_RUNTIME_LIB, lib,
		    sizeof(lib)) == -1)
			return -1;
		goto env;
	}
	/* The copy keeps the suffix: bun tells TypeScript by it. */
	if ((dot = strrchr(r.sp.runtime_script, '.')) != NULL) {
		if (strcmp(dot, ".pyc") == 0)
			name = POD_RUNTIME_PYC;
		else if (strcmp(dot, ".js") == 0)
			name = POD_RUNTIME_JS;
		else if (strcmp(dot, ".ts") == 0)
			name = POD_RUNTIME_TS;
	}
	if (copy_in(r.sp.runtime_script, name, script, sizeof(script)) == -1 ||
	    copy_in(r.sp.runtime_lib, POD_RUNTIME_LIB, lib, sizeof(lib)) == -1)
		return -1;
	/* Bun's mountpoint (step_plan binds the binary over it). */
	if (r.sp.worker == WORKER_BUN && r.sandboxed) {
		(void)snprintf(mnt, sizeof(mnt), "%s/%s", r.dir, POD_BUN_MNT);
		if ((fd = open(mnt, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0555)) == -1)
			return setup_fail(EXIT_PODRUNNER, "%s: %s", mnt,
			    strerror(errno));
		close(fd);
	}
	free(r.sp.runtime_script);
	r.sp.runtime_script = xstrdup(script);
 env:
	xasprintf(&env, "PODSHM_LIB=%s", lib);
	r.sp.env = xreallocarray(r.sp.env, r.sp.nenv + 1, sizeof(char *));
	r.sp.env[r.sp.nenv++] = env;
	return 0;
}

static int
step_control_socket(void)
{
	struct sockaddr_un	sun;

	(void)snprintf(r.sock, sizeof(r.sock), "%s/%s", r.dir, POD_SOCKET);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, r.sock, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		return setup_fail(EXIT_PODRUNNER, "control socket: path too "
		    "long");
	/* SEQPACKET: one request per message (podrunner(8)). */
	if ((r.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1 ||
	    bind(r.listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chown(r.sock, r.sp.worker_uid, r.sp.worker_gid) == -1 ||
	    chmod(r.sock, 0600) == -1 || listen(r.listen_fd, 1) == -1)
		return setup_fail(EXIT_PODRUNNER, "control socket %s: %s",
		    r.sock, strerror(errno));
	return 0;
}

static int
step_shared_memory(void)
{
	char	path[PATH_MAX];
	int	fd;

	pod_shm_name(r.sp.podid, r.shm_name, sizeof(r.shm_name));
	(void)snprintf(path, sizeof(path), "%s/%s", PATH_SHMDIR, r.shm_name);
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return setup_fail(EXIT_PODRUNNER, "shared memory %s: %s", path,
		    strerror(errno));
	if (fchown(fd, r.sp.worker_uid, r.sp.worker_gid) == -1 ||
	    (r.shm = podshm_create_fd(fd, r.sp.shm_size)) == NULL) {
		close(fd);
		return setup_fail(EXIT_PODRUNNER, "shared memory %s: %s", path,
		    strerror(errno));
	}
	r.frame_max = podshm_max_frame(r.shm);
	r.frame = xmalloc(r.frame_max + 1);
	return 0;
}

/* The entry travels to the worker as the first ring frame. */
static int
step_entry(void)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct stat	 sb;
	unsigned char	*src;
	char		*enc, sz[32];
	json_t		*doc, *argv;
	size_t		 i, o = 0, n = 0;
	ssize_t		 rd;
	uint32_t	 v;
	int		 fd;

	if ((fd = open(r.sp.entry, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &sb) == -1)
		return setup_fail(errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC,
		    "%s: %s", r.sp.entry, strerror(errno));
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > r.frame_max) {
		close(fd);
		return setup_fail(EXIT_PODRUNNER, "%s: %s", r.sp.entry,
		    S_ISREG(sb.st_mode) ? "too large for the data plane "
		    "(raise --shm-size)" : "not a regular file");
	}
	src = xmalloc((size_t)sb.st_size + 1);
	while (n < (size_t)sb.st_size &&
	    (rd = read(fd, src + n, (size_t)sb.st_size - n)) > 0)
		n += (size_t)rd;
	close(fd);
	enc = xmalloc((n + 2) / 3 * 4 + 1);
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)src[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)src[i + 1] << 8;
		if (i + 2 < n)
			v |= src[i + 2];
		enc[o++] = b64[(v >> 18) & 63];
		enc[o++] = b64[(v >> 12) & 63];
		enc[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		enc[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	enc[o] = '\0';
	free(src);
	argv = json_array();
	json_array_append_new(argv, json_string(r.sp.entry));
	for (i = 0; i < r.sp.nargs; i++)
		json_array_append_new(argv, json_string(r.sp.args[i]));
	doc = json_pack("{s:s, s:s, s:o, s:s}", "type", "run", "path",
	    r.sp.entry, "argv", argv, "source_b64", enc);
	free(enc);
	if (doc == NULL)
		return setup_fail(EXIT_PODRUNNER, "%s: arguments are not valid "
		    "UTF-8", r.sp.entry);
	r.run_frame = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (r.run_frame == NULL || strlen(r.run_frame) > r.frame_max)
		return setup_fail(EXIT_PODRUNNER, "%s: too large for the data "
		    "plane (%s; raise --shm-size)", r.sp.entry,
		    fmt_size(r.sp.shm_size, sz, sizeof(sz)));
	return 0;
}

/*
 * The pod's cgroups from the sandbox process: a directory for clone3
 * to create pod init in, and the tasks files pod init joins the other
 * hierarchies by (see pod_cgroup_spawn_fds()).
 */
static int
step_cgroup(void)
{
	struct imsg	 imsg;
	uint32_t	 kind;
	int		 fd;

	for (;;) {
		switch (imsg_wait(&r.sandbox.ibuf, &imsg)) {
		case 0:
			exit(1);
		case -1:
			fatal("waiting for the pod's cgroups");
		}
		if (imsg_get_type(&imsg) != IMSG_RELAY_CGROUP)
			fatalx("unexpected %s from the sandbox process",
			    imsg_type_name(imsg_get_type(&imsg)));
		if (imsg_get_len(&imsg) == 0) {
			imsg_free(&imsg);
			return 0;
		}
		fd = imsg_get_fd(&imsg);
		if (imsg_get_data(&imsg, &kind, sizeof(kind)) == -1 ||
		    fd == -1 || (kind == RELAY_CGROUP_V2DIR ?
		    r.cg_v2fd != -1 : kind != RELAY_CGROUP_TASKS ||
		    r.cg_ntasks == PODCG_SPAWN_MAX))
			fatalx("malformed cgroup message");
		if (kind == RELAY_CGROUP_V2DIR)
			r.cg_v2fd = fd;
		else
			r.cg_tasks[r.cg_ntasks++] = fd;
		imsg_free(&imsg);
	}
}

/*
 * Pod init, with new namespaces when sandboxed: born in the pod's v2
 * cgroup where clone3 can do that (CLONE_INTO_CGROUP, Linux 5.7), else
 * told to join it itself.  0 in the child, its pid, or -1.
 */
static pid_t
clone_pod_init(struct podinit *pi)
{
	struct clone_args	ca;
	pid_t			pid;

	pi->cg_v2fd = -1;
	if (!r.sandboxed)
		return fork();
	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS |
	    CLONE_NEWIPC;
	ca.exit_signal = SIGCHLD;
	if (r.cg_v2fd != -1) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)r.cg_v2fd;
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid != -1 || (errno != ENOSYS && errno != E2BIG &&
		    errno != EINVAL))
			return pid;
		pi->cg_v2fd = r.cg_v2fd;
	}
	return (pid_t)syscall(SYS_clone, (unsigned long)ca.flags | SIGCHLD,
	    0, 0, 0, 0);
}

static int
step_spawn_worker(void)
{
	static char	*argv[SPAWN_MAX_ARGS + 8];
	static char	 size[32], root[PATH_MAX];
	struct podinit	 pi;
	int		 out[2], err[2], ep[2];
	size_t		 i, argc = 0;
	sigset_t	 all, old;
	pid_t		 pid;

	if (r.protocol) {
		(void)snprintf(size, sizeof(size), "%llu",
		    (unsigned long long)r.sp.shm_size);
		argv[argc++] = r.sp.runtime;
		/*
		 * No package auto-install: a missing import is an error,
		 * not a download into a cache.  No bunfig.toml from the
		 * working directory: its preload scripts would run before
		 * the runtime's hooks.
		 */
		if (r.sp.worker == WORKER_BUN) {
			argv[argc++] = "--no-install";
			argv[argc++] = "--config=/dev/null";
		}
		if (r.sp.worker != WORKER_CUSTOM)
			argv[argc++] = r.sp.runtime_script;
		argv[argc++] = r.sock;
		argv[argc++] = r.shm_name;
		argv[argc++] = size;
	} else {
		argv[argc++] = r.sp.entry;
		for (i = 0; i < r.sp.nargs; i++)
			argv[argc++] = r.sp.args[i];
	}
	argv[argc] = NULL;
	r.sp.env = xreallocarray(r.sp.env, r.sp.nenv + 1, sizeof(char *));
	r.sp.env[r.sp.nenv] = NULL;

	if (pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1 ||
	    pipe2(ep, O_CLOEXEC) == -1 || pipe2(r.go, O_CLOEXEC) == -1 ||
	    (r.sandboxed && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    r.proxy_sock) == -1))
		return setup_fail(EXIT_PODRUNNER, "pipes: %s", strerror(errno));
	memset(&pi, 0, sizeof(pi));
	pi.uid = r.sp.worker_uid;
	pi.gid = r.sp.worker_gid;
	pi.cwd = r.sp.cwd;
	pi.argv = argv;
	pi.env = r.sp.env;
	pi.stdin_fd = RELAY_FD_STDIN;
	pi.stdout_fd = out[1];
	pi.stderr_fd = err[1];
	pi.errpipe = ep[1];
	pi.lifeline = RELAY_FD_LIFELINE;
	pi.sandboxed = r.sandboxed;
	if (r.sandboxed) {
		(void)snprintf(root, sizeof(root), "%s/%s", r.dir, POD_ROOT);
		pi.plan = &r.plan;
		pi.root = root;
		pi.userns_fd = r.userns_fd;
		pi.gofd = r.go[0];
		pi.proxyfd = r.proxy_sock[1];
		pi.hostname = r.hostname;
		pi.ll = &r.ll;
		pi.no_landlock = (r.sp.flags & SPAWN_F_NO_LANDLOCK) != 0;
		pi.no_seccomp = (r.sp.flags & SPAWN_F_NO_SECCOMP) != 0;
		pi.cg_tasks = r.cg_tasks;
		pi.cg_ntasks = r.cg_ntasks;
	}
	/* Pod init: pid 1 of the pod's new namespaces, or a plain child. */
	/* The cgroup namespace comes later, from pod init in its cgroup. */
	/*
	 * Born with every signal blocked: as its namespace's init it
	 * would ignore, not queue, one it has no handler for, and a
	 * signal for the worker may come as soon as it is released.
	 */
	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, &old) == -1)
		return setup_fail(EXIT_PODRUNNER, "sigprocmask: %s",
		    strerror(errno));
	switch (pid = clone_pod_init(&pi)) {
	case -1:
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		return setup_fail(EXIT_PODRUNNER, "clone: %s", strerror(errno));
	case 0:
		podinit_run(&pi);
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	r.worker = pid;
	close(out[1]);
	close(err[1]);
	close(ep[1]);
	close(r.go[0]);
	if (r.sandboxed) {
		close(r.proxy_sock[1]);
		r.proxy_sock[1] = -1;
	}
	close(RELAY_FD_STDIN);
	close(RELAY_FD_LIFELINE);
	if (r.userns_fd != -1) {
		close(r.userns_fd);
		r.userns_fd = -1;
	}
	if (r.cg_v2fd != -1) {
		close(r.cg_v2fd);
		r.cg_v2fd = -1;
	}
	while (r.cg_ntasks > 0)
		close(r.cg_tasks[--r.cg_ntasks]);
	r.errpipe = ep[0];
	r.out_fd[STDOUT_FILENO] = out[0];
	r.out_fd[STDERR_FILENO] = err[0];
	(void)fcntl(out[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(err[0], F_SETFL, O_NONBLOCK);
	return 0;
}

/* The idmapping of grants: the invoking user's ids are the worker's. */
static int
step_idmap(void)
{
	if ((r.userns_fd = fs_idmap_userns(r.sp.invoker_uid, r.sp.worker_uid,
	    r.sp.invoker_gid, r.sp.worker_gid)) == -1)
		return setup_fail(EXIT_PODRUNNER, "idmapping user namespace: "
		    "%s", strerror(errno));
	return 0;
}

/*
 * Our side is done, and the sandbox process's (the pod in the audit's
 * map, or no audit): pod init, which has been building the pod, may
 * start the worker.
 */
static int
step_release(void)
{
	struct imsg	 imsg;

	switch (imsg_wait(&r.sandbox.ibuf, &imsg)) {
	case 0:
		exit(1);
	case -1:
		fatal("waiting for the sandbox process");
	}
	if (imsg_get_type(&imsg) != IMSG_RELAY_GO || imsg_get_len(&imsg) != 0)
		fatalx("unexpected %s from the sandbox process",
		    imsg_type_name(imsg_get_type(&imsg)));
	imsg_free(&imsg);
	/* A pod init that failed its set-up has said why on the exec
	 * pipe (step_exec_result). */
	if (r.sandboxed && write(r.go[1], "g", 1) != 1 && errno != EPIPE)
		return setup_fail(EXIT_PODRUNNER, "release pod init: %s",
		    strerror(errno));
	close(r.go[1]);
	return 0;
}

/* The exec either closes the pipe or reports what failed. */
static int
step_exec_result(void)
{
	struct podinit_err	pe;
	ssize_t			n;

	while ((n = read(r.errpipe, &pe, sizeof(pe))) == -1 && errno == EINTR)
		;
	close(r.errpipe);
	if (n <= 0)
		return 0;
	(void)waitpid(r.worker, NULL, 0);
	r.worker = -1;
	pe.msg[sizeof(pe.msg) - 1] = '\0';
	if (n != sizeof(pe) || pe.code <= 0)
		return setup_fail(EXIT_PODRUNNER, "sandbox set-up failed: %s",
		    n == sizeof(pe) ? pe.msg : "pod init died");
	return setup_fail(pe.code == ENOENT ? EXIT_NOTFOUND :
	    (pe.code == EACCES || pe.code == ENOEXEC || pe.code == EPERM) ?
	    EXIT_NOEXEC : EXIT_PODRUNNER, "cannot start the worker (%s): %s",
	    r.protocol ? r.sp.runtime : r.sp.entry, strerror(pe.code));
}

/*
 * The proxy's listening socket, made by pod init in the pod's network
 * namespace before it started the worker: to the parent, for the proxy.
 */
static int
step_proxy(void)
{
	struct proxy_pod	pp;
	struct imsgbuf		ib;
	struct imsg		imsg;
	int			fd = -1, n;

	/* Sent before the worker's exec: here already, or never. */
	imsgbuf_init(&ib, r.proxy_sock[0]);
	imsgbuf_allow_fdpass(&ib);
	if ((n = imsg_wait(&ib, &imsg)) == 1) {
		if (imsg_get_type(&imsg) == IMSG_PROXY_LISTEN &&
		    imsg_get_len(&imsg) == 0)
			fd = imsg_get_fd(&imsg);
		imsg_free(&imsg);
	}
	imsgbuf_clear(&ib);
	close(r.proxy_sock[0]);
	r.proxy_sock[0] = -1;
	if (fd == -1)
		return setup_fail(EXIT_PODRUNNER, "proxy socket from pod init: "
		    "%s", n == 1 ? "unexpected message" : n == 0 ?
		    "pod init closed the channel" : strerror(errno));
	memset(&pp, 0, sizeof(pp));
	(void)strlcpy(pp.podid, r.sp.podid, sizeof(pp.podid));
	if (imsg_compose(&r.parent.ibuf, IMSG_PROXY_LISTEN, 0, 0, fd, &pp,
	    sizeof(pp)) == -1) {
		close(fd);
		return setup_fail(EXIT_PODRUNNER, "proxy socket to the parent: "
		    "%s", strerror(errno));
	}
	return 0;
}

/* The sandbox gets a pidfd: it can signal a worker of another uid. */
static int
step_report_worker(void)
{
	uint32_t	pid = (uint32_t)r.worker;
	int		pidfd;

	if ((pidfd = pidfd_open(r.worker, 0)) == -1)
		return setup_fail(EXIT_PODRUNNER, "pidfd_open: %s",
		    strerror(errno));
	if (imsg_compose(&r.sandbox.ibuf, IMSG_RELAY_WORKER, 0, 0, pidfd,
	    &pid, sizeof(pid)) == -1 || imsgbuf_flush(&r.sandbox.ibuf) == -1)
		return setup_fail(EXIT_PODRUNNER, "cannot reach the sandbox "
		    "process");
	return 0;
}

/* --- unprivileged from here on ---------------------------------------- */

/*
 * The relay's allowlist: the daemon base set plus accepting the
 * worker's one connection and checking its credentials, and reaping
 * the worker.
 */
static const int relay_syscalls[] = {
	SCMP_SYS(accept4), SCMP_SYS(getsockopt),
	SCMP_SYS(wait4), SCMP_SYS(waitid),
};

static void
data_retry(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	send_ctl(CTL_DATA, 0);
}

static void
send_ctl(unsigned char code, uint32_t id)
{
	struct timeval	tv = { 0, 10000 };
	unsigned char	msg[5];

	if (r.ctl_fd == -1)
		return;
	msg[0] = code;
	msg[1] = id & 0xff;
	msg[2] = (id >> 8) & 0xff;
	msg[3] = (id >> 16) & 0xff;
	msg[4] = (id >> 24) & 0xff;
	if (send(r.ctl_fd, msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT) != -1 ||
	    errno == EPIPE || errno == ECONNRESET)
		return;
	if (errno == EAGAIN && code == CTL_DATA) {
		/*
		 * The worker has not read what we sent (a busy persistent
		 * worker, notes for many submissions): the note is sent
		 * again soon, never lost.  An answer that does not fit is
		 * a worker that does not read its answers: cut off.
		 */
		if (r.ev_data == NULL && (r.ev_data = evtimer_new(r.base,
		    data_retry, NULL)) == NULL)
			fatalx("evtimer_new");
		evtimer_add(r.ev_data, &tv);
		return;
	}
	relay_cut_off("control socket: %s", strerror(errno));
}

static void
relay_cut_off(const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r.cut_off)
		return;
	r.cut_off = 1;
	log_warnx("pod %s: worker cut off: %s", r.sp.podid, msg);
	if (r.ev_ctl != NULL) {
		event_free(r.ev_ctl);
		r.ev_ctl = NULL;
	}
	if (r.ctl_fd != -1) {
		close(r.ctl_fd);
		r.ctl_fd = -1;
	}
	imsgev_compose(&r.parent, IMSG_POD_ERROR, 0, 0, -1, msg, strlen(msg));
}

/*
 * The segment's file belongs to the worker, which could truncate it
 * under our mapping: a ring access would then fault with SIGBUS.  Ring
 * calls run guarded; a fault cuts the worker off instead of killing us.
 */
static sigjmp_buf		ring_fault;
static volatile sig_atomic_t	ring_guarded;

static void
ring_sigbus(int sig)
{
	if (ring_guarded)
		siglongjmp(ring_fault, 1);
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}

static ssize_t
ring_recv(void *buf, size_t len)
{
	ssize_t	n;

	if (sigsetjmp(ring_fault, 1) != 0) {
		ring_guarded = 0;
		r.shm = NULL;	/* never touch the mapping again */
		relay_cut_off("shared memory truncated under the ring");
		errno = EPROTO;
		return -1;
	}
	ring_guarded = 1;
	n = podshm_recv(r.shm, buf, len);
	ring_guarded = 0;
	return n;
}

static int
ring_send(const void *buf, size_t len)
{
	int	rv;

	if (sigsetjmp(ring_fault, 1) != 0) {
		ring_guarded = 0;
		r.shm = NULL;
		relay_cut_off("shared memory truncated under the ring");
		errno = EPROTO;
		return -1;
	}
	ring_guarded = 1;
	rv = podshm_send(r.shm, buf, len);
	ring_guarded = 0;
	return rv;
}

/* --- a persistent pod: submissions in, events out (podrunner serve) ---- */

/*
 * podrunner serve's pod runs code submissions one after the other in
 * one worker.  The parent's SEND becomes an "exec" frame numbered by
 * seq; the worker's frames become events in the serve shape
 * (podrunner(1), SERVE PROTOCOL), labelled with the submission's id:
 *
 *	worker: {"type":"state","seq":N,"worker":"exec_end","exit_code":0}
 *	event:  {"type":"state","data":{"worker":"exec_end","exit_code":0},
 *		 "id":<the embedder's id>}
 *
 * A worker that reports on a submission that is not running is cut
 * off.  Output frames and what the pipes carry become "output" events,
 * always valid UTF-8.
 */

static void
emit_event(json_t *ev)
{
	char	*text;
	size_t	 len;

	text = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (text == NULL)
		return;
	len = strlen(text);
	if (len + IMSG_HEADER_SIZE < POD_IMSG_MAX)
		imsgev_compose(&r.parent, IMSG_POD_EVENT, 0, 0, -1, text, len);
	else
		log_warnx("pod %s: event of %zu bytes dropped", r.sp.podid, len);
	free(text);
}

static json_t *
ev_json(const char *type, const struct sub *s)
{
	json_t	*ev;

	if ((ev = json_pack("{s:s}", "type", type)) == NULL)
		fatalx("json_pack");
	if (s != NULL && s->id != NULL)
		json_object_set(ev, "id", s->id);
	return ev;
}

static void
emit_error(const struct sub *s, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
emit_error(const struct sub *s, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];
	json_t	*ev;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ev = ev_json("error", s);
	json_object_set_new(ev, "data", json_string(msg));
	emit_event(ev);
}

/* The submission whose exec_start came and whose exec_end did not. */
static struct sub *
sub_running(void)
{
	struct sub	*s = TAILQ_FIRST(&r.subs);

	return s != NULL && s->started ? s : NULL;
}

static void
sub_free(struct sub *s)
{
	TAILQ_REMOVE(&r.subs, s, entry);
	r.nsubs--;
	json_decref(s->id);
	free(s->frame);
	free(s);
}

/* Output bytes (a pipe's) as an "output" event: valid UTF-8, a
 * sequence cut off at the end kept for the next chunk. */
static void
out_event(int stream, const unsigned char *buf, size_t n, int final)
{
	unsigned char	*in;
	char		*out;
	size_t		 len, used, olen;
	json_t		*ev;

	len = r.ncarry[stream] + n;
	in = xmalloc(len + 1);
	memcpy(in, r.carry[stream], r.ncarry[stream]);
	if (n > 0)
		memcpy(in + r.ncarry[stream], buf, n);
	out = xmalloc(3 * len + 1);
	olen = utf8_clean(in, len, out, &used, final);
	/* At most 3 bytes: a cut-off sequence is shorter than 4. */
	r.ncarry[stream] = len - used;
	memcpy(r.carry[stream], in + used, len - used);
	free(in);
	if (olen > 0) {
		ev = ev_json("output", sub_running());
		json_object_set_new(ev, "stream", json_string(
		    stream == STDOUT_FILENO ? "stdout" : "stderr"));
		json_object_set_new(ev, "data", json_stringn(out, olen));
		emit_event(ev);
	}
	free(out);
}

/* Submissions the worker will not see (too large): answered in turn. */
static void
subs_answer_rejected(void)
{
	struct sub	*s;

	while ((s = TAILQ_FIRST(&r.subs)) != NULL && s->frame != NULL &&
	    strlen(s->frame) > r.frame_max) {
		emit_error(s, "submission of %zu bytes does not fit the data "
		    "plane (frames of at most %zu bytes; raise --shm-size)",
		    strlen(s->frame), r.frame_max);
		imsgev_compose(&r.parent, IMSG_POD_EXEC_END, 0, 0, -1, NULL, 0);
		sub_free(s);
	}
}

static void
subs_retry(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	subs_flush();
}

/* Queued frames into the ring, in order, as far as it has room. */
static void
subs_flush(void)
{
	struct timeval	 tv = { 0, 1000 };
	struct sub	*s;
	int		 sent = 0;

	subs_answer_rejected();
	if (!r.ready || r.shm == NULL || r.cut_off)
		return;
	TAILQ_FOREACH(s, &r.subs, entry) {
		if (s->frame == NULL)
			continue;
		if (strlen(s->frame) > r.frame_max)
			break;		/* answered when it is first */
		if (ring_send(s->frame, strlen(s->frame)) == -1) {
			if (errno == EAGAIN) {
				/* The worker reads on: look again soon. */
				if (r.ev_retry == NULL && (r.ev_retry =
				    evtimer_new(r.base, subs_retry, NULL)) ==
				    NULL)
					fatalx("evtimer_new");
				evtimer_add(r.ev_retry, &tv);
			} else if (!r.cut_off)
				relay_cut_off("writing the ring: %s",
				    strerror(errno));
			break;
		}
		free(s->frame);
		s->frame = NULL;
		sent = 1;
	}
	if (sent)
		send_ctl(CTL_DATA, 0);
}

/* IMSG_POD_SEND: {"code": "...", "fresh": bool, "id": any}. */
static int
sub_add(struct imsg *imsg)
{
	json_error_t	 je;
	json_t		*doc, *code, *fresh, *frame;
	struct sub	*s;

	if (!r.persistent || (doc = json_loadb(ibuf_data(&imsg->data),
	    imsg_get_len(imsg), JSON_REJECT_DUPLICATES, &je)) == NULL)
		return -1;
	code = json_object_get(doc, "code");
	fresh = json_object_get(doc, "fresh");
	if (!json_is_string(code) || (fresh != NULL && !json_is_boolean(fresh))) {
		json_decref(doc);
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->seq = ++r.next_seq;
	if ((s->id = json_object_get(doc, "id")) != NULL)
		json_incref(s->id);
	frame = json_pack("{s:s, s:I, s:O, s:b}", "type", "exec", "seq",
	    (json_int_t)s->seq, "code", code, "fresh", json_is_true(fresh));
	json_decref(doc);
	if (frame == NULL || (s->frame = json_dumps(frame, JSON_COMPACT)) ==
	    NULL)
		fatalx("%s: json", __func__);
	json_decref(frame);
	TAILQ_INSERT_TAIL(&r.subs, s, entry);
	r.nsubs++;
	subs_flush();
	return 0;
}

/* A frame of a persistent pod's worker, parsed: an event, or cut off. */
static void
worker_frame(json_t *doc)
{
	struct sub	*s = TAILQ_FIRST(&r.subs);
	const char	*type, *what, *stream;
	json_t		*ev, *data, *seq;

	type = json_string_value(json_object_get(doc, "type"));
	if (strcmp(type, "output") == 0) {
		stream = json_string_value(json_object_get(doc, "stream"));
		data = json_object_get(doc, "data");
		if (stream == NULL || (strcmp(stream, "stdout") != 0 &&
		    strcmp(stream, "stderr") != 0) || !json_is_string(data)) {
			relay_cut_off("output frame without stream and data");
			return;
		}
		ev = ev_json("output", sub_running());
		json_object_set_new(ev, "stream", json_string(stream));
		json_object_set(ev, "data", data);
		emit_event(ev);
		return;
	}
	seq = json_object_get(doc, "seq");
	if (seq != NULL && (s == NULL || s->frame != NULL ||
	    !json_is_integer(seq) ||
	    json_integer_value(seq) != (json_int_t)s->seq)) {
		relay_cut_off("%s frame for a submission that is not running",
		    strlen(type) > 32 ? "a" : type);
		return;
	}
	if (strcmp(type, "error") == 0) {
		if (!json_is_string(json_object_get(doc, "data"))) {
			relay_cut_off("error frame without data");
			return;
		}
		ev = ev_json("error", seq != NULL ? s : NULL);
		json_object_set(ev, "data", json_object_get(doc, "data"));
		emit_event(ev);
		return;
	}
	if (strcmp(type, "state") != 0) {
		emit_error(NULL, "worker sent a frame of unknown type \"%.32s\"",
		    type);
		return;
	}
	what = json_string_value(json_object_get(doc, "worker"));
	if (seq == NULL || what == NULL) {
		relay_cut_off("state frame without seq and worker");
		return;
	}
	if (strcmp(what, "exec_start") == 0 ? s->started : !s->started) {
		relay_cut_off("state %.32s out of order", what);
		return;
	}
	if (strcmp(what, "exec_end") == 0 &&
	    !json_is_integer(json_object_get(doc, "exit_code"))) {
		relay_cut_off("exec_end without an exit_code");
		return;
	}
	if (!s->started)
		imsgev_compose(&r.parent, IMSG_POD_EXEC_START, 0, 0, -1, NULL,
		    0);
	s->started = 1;
	data = json_deep_copy(doc);
	json_object_del(data, "type");
	json_object_del(data, "seq");
	ev = ev_json("state", s);
	json_object_set_new(ev, "data", data);
	emit_event(ev);
	if (strcmp(what, "exec_end") == 0) {
		imsgev_compose(&r.parent, IMSG_POD_EXEC_END, 0, 0, -1, NULL, 0);
		sub_free(s);
		subs_answer_rejected();
	}
}

/* Frames from the worker: copied out, checked, passed on as events.
 * Returns how many were read. */
static size_t
drain_ring(void)
{
	size_t		 nread = 0;
	json_t		*doc;
	json_error_t	 je;
	char		*text;
	ssize_t		 n;

	while (r.shm != NULL && !r.cut_off) {
		if ((n = ring_recv(r.frame, r.frame_max)) == -1) {
			if (errno == EAGAIN || r.cut_off)
				return nread;
			relay_cut_off("corrupt ring (%s)", strerror(errno));
			return nread;
		}
		nread++;
		doc = json_loadb((char *)r.frame, (size_t)n,
		    JSON_REJECT_DUPLICATES, &je);
		if (doc == NULL || !json_is_object(doc) ||
		    !json_is_string(json_object_get(doc, "type"))) {
			json_decref(doc);
			relay_cut_off("ring frame is not a JSON event");
			return nread;
		}
		if (r.persistent) {
			worker_frame(doc);
			json_decref(doc);
			continue;
		}
		text = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		if (text == NULL)
			continue;
		if (strlen(text) + IMSG_HEADER_SIZE < POD_IMSG_MAX)
			imsgev_compose(&r.parent, IMSG_POD_EVENT, 0, 0, -1, text,
			    strlen(text));
		else
			log_warnx("pod %s: event of %zu bytes dropped",
			    r.sp.podid, strlen(text));
		free(text);
	}
	return nread;
}

static void
ctl_request(const struct ctl_msg *m)
{
	struct policy_req	 req;
	struct ibuf		*b;

	if (r.policyd.ev == NULL) {
		send_ctl(0, m->reqid);	/* no policyd: fail closed */
		return;
	}
	if (++r.in_flight > REQ_IN_FLIGHT_MAX) {
		relay_cut_off("more than %d requests in flight",
		    REQ_IN_FLIGHT_MAX);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.reqid = m->reqid;
	req.kind = m->perm;
	if ((b = ibuf_dynamic(64, CTL_TARGET_MAX + 64)) == NULL ||
	    ibuf_add(b, &req, sizeof(req)) == -1 ||
	    ibuf_add_string(b, m->target) == -1 ||
	    imsgev_compose_ibuf(&r.policyd, IMSG_POLICY_DECIDE, 0, 0, -1, b) ==
	    -1)
		fatal("%s: compose", __func__);
}

static void
ctl_read(int fd, short ev, void *arg)
{
	static struct ctl_msg	 m;
	unsigned char		 msg[CTL_MSG_MAX + 1];
	const char		*why;
	ssize_t			 n;

	(void)ev;
	(void)arg;
	if ((n = recv(fd, msg, sizeof(msg), MSG_TRUNC | MSG_DONTWAIT)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/*
		 * ECONNRESET: the worker closed its side with our notes
		 * unread, which a worker ending does; its frames are read
		 * from the ring at its exit all the same (relay_finish).
		 */
		if (errno != ECONNRESET) {
			relay_cut_off("control socket: %s", strerror(errno));
			return;
		}
		n = 0;
	}
	if (n == 0) {
		/* The worker closed its side: at its exit, normally. */
		event_free(r.ev_ctl);
		r.ev_ctl = NULL;
		close(r.ctl_fd);
		r.ctl_fd = -1;
		return;
	}
	/* MSG_TRUNC: n is the real length, even past our buffer. */
	if (ctl_parse(msg, (size_t)n, r.ready, &m, &why) == -1) {
		relay_cut_off("%s (type %u, %zd bytes)", why, msg[0], n);
		return;
	}
	switch (m.kind) {
	case CTL_MSG_READY:
		r.ready = 1;
		imsgev_compose(&r.parent, IMSG_POD_READY, 0, 0, -1, NULL, 0);
		/* It has mapped the segment: the names can go. */
		imsgev_compose(&r.sandbox, IMSG_RELAY_ATTACHED, 0, 0, -1, NULL,
		    0);
		if (r.persistent && r.stop_wanted) {
			send_ctl(CTL_STOP, 0);
			break;
		}
		if (r.persistent) {
			subs_flush();
			break;
		}
		if (ring_send(r.run_frame, strlen(r.run_frame)) == -1) {
			relay_cut_off("cannot queue the entry: %s",
			    strerror(errno));
			return;
		}
		send_ctl(CTL_DATA, 0);
		break;
	case CTL_MSG_DATA:
		/* What a runtime wrote to its pipes before the frames. */
		if (r.persistent && !r.out_paused)
			drain_outputs();
		n = (ssize_t)drain_ring();
		r.data_credit += n > 0 ? n : -1;
		if (r.data_credit < -EMPTY_DATA_MAX)
			relay_cut_off("flood of DATA notes with nothing in the "
			    "ring");
		break;
	case CTL_MSG_REQUEST:
		ctl_request(&m);
		break;
	}
}

static void
ctl_accept(int fd, short ev, void *arg)
{
	struct ucred	uc;
	socklen_t	len = sizeof(uc);
	int		s;

	(void)ev;
	(void)arg;
	if ((s = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) == -1)
		return;
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1 ||
	    uc.uid != r.sp.worker_uid) {
		log_warnx("pod %s: control connection from uid %u refused",
		    r.sp.podid, (unsigned)uc.uid);
		close(s);
		return;
	}
	/* One connection: the worker's. */
	event_free(r.ev_listen);
	r.ev_listen = NULL;
	close(r.listen_fd);
	r.listen_fd = -1;
	r.ctl_fd = s;
	if ((r.ev_ctl = event_new(r.base, s, EV_READ | EV_PERSIST, ctl_read,
	    NULL)) == NULL || event_add(r.ev_ctl, NULL) == -1)
		fatalx("event_new");
}

static void
out_read(int fd, short ev, void *arg)
{
	unsigned char	 buf[POD_OUTPUT_CHUNK];
	int		 stream = (int)(intptr_t)arg;
	ssize_t		 n;

	(void)ev;
	buf[0] = (unsigned char)stream;
	if ((n = read(fd, buf + 1, r.persistent ? OUT_EVENT_CHUNK :
	    sizeof(buf) - 1)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		n = 0;
	}
	if (n == 0) {
		event_free(r.ev_out[stream]);
		r.ev_out[stream] = NULL;
		close(r.out_fd[stream]);
		r.out_fd[stream] = -1;
		if (r.persistent)
			out_event(stream, NULL, 0, 1);
		return;
	}
	if (r.persistent)
		out_event(stream, buf + 1, (size_t)n, 0);
	else
		imsgev_compose(&r.parent, IMSG_POD_OUTPUT, 0, 0, -1, buf,
		    (size_t)n + 1);
	if (imsgbuf_queuebytes(&r.parent.ibuf) > OUT_PAUSE)
		out_pause(1);
}

static void
out_pause(int pause)
{
	int	i;

	if (r.out_paused == pause)
		return;
	r.out_paused = pause;
	for (i = STDOUT_FILENO; i <= STDERR_FILENO; i++) {
		if (r.ev_out[i] == NULL)
			continue;
		if (pause)
			event_del(r.ev_out[i]);
		else
			event_add(r.ev_out[i], NULL);
	}
}

/*
 * What is in the pipes now: after the worker's exit, or before a
 * persistent pod's frames.
 */
static void
drain_outputs(void)
{
	unsigned char	buf[POD_OUTPUT_CHUNK];
	ssize_t		n;
	int		i;

	for (i = STDOUT_FILENO; i <= STDERR_FILENO; i++) {
		if (r.out_fd[i] == -1)
			continue;
		buf[0] = (unsigned char)i;
		while ((n = read(r.out_fd[i], buf + 1, r.persistent ?
		    OUT_EVENT_CHUNK : sizeof(buf) - 1)) > 0) {
			if (r.persistent)
				out_event(i, buf + 1, (size_t)n, 0);
			else
				imsgev_compose(&r.parent, IMSG_POD_OUTPUT, 0,
				    0, -1, buf, (size_t)n + 1);
			/* Keep the queue bounded while draining. */
			if (imsgbuf_queuebytes(&r.parent.ibuf) > OUT_PAUSE &&
			    imsgbuf_flush(&r.parent.ibuf) == -1)
				exit(1);
		}
	}
}

static void
relay_finish(void)
{
	int32_t	status = r.status;
	int	i;

	drain_outputs();
	drain_ring();
	for (i = STDOUT_FILENO; r.persistent && i <= STDERR_FILENO; i++)
		if (r.ncarry[i] > 0)
			out_event(i, NULL, 0, 1);
	imsgev_compose(&r.parent, IMSG_POD_EXIT, 0, 0, -1, &status,
	    sizeof(status));
	if (imsgbuf_flush(&r.parent.ibuf) == -1)
		log_warn("flush to parent");
	exit(0);
}

static void
relay_sigchld(int sig, short ev, void *arg)
{
	pid_t	pid;
	int	status;

	(void)sig;
	(void)ev;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == r.worker) {
			r.exited = 1;
			r.status = status;
		}
	if (r.exited)
		relay_finish();
}

static void
relay_parent_handler(int fd, short events, void *arg)
{
	struct imsg	imsg;
	int		n;

	(void)fd;
	(void)arg;
	if ((n = imsgev_handle_io(&r.parent, events)) <= 0) {
		/* The parent is gone: so is the pod (PDEATHSIG). */
		exit(1);
	}
	while ((n = imsg_get(&r.parent.ibuf, &imsg)) > 0) {
		/* A persistent pod's submissions and stop; nothing else. */
		switch (imsg_get_type(&imsg)) {
		case IMSG_POD_SEND:
			n = sub_add(&imsg);
			break;
		case IMSG_POD_STOP:
			n = r.persistent && imsg_get_len(&imsg) == 0 ? 0 : -1;
			/* Before READY: at READY. */
			if (r.ready)
				send_ctl(CTL_STOP, 0);
			else
				r.stop_wanted = 1;
			break;
		default:
			n = -1;
		}
		imsg_free(&imsg);
		if (n == -1)
			fatalx("unexpected message from the parent");
	}
	if (n == -1)
		fatalx("malformed message from the parent");
	if (r.out_paused && imsgbuf_queuebytes(&r.parent.ibuf) < OUT_RESUME)
		out_pause(0);
	imsgev_add(&r.parent);
}

static void
relay_policyd_handler(int fd, short events, void *arg)
{
	struct policy_resp	 resp;
	struct imsg		 imsg;
	struct ibuf		 b;
	char			*rule = NULL;
	int			 n;

	(void)fd;
	(void)arg;
	if ((n = imsgev_handle_io(&r.policyd, events)) <= 0) {
		/* The parent fails closed when policyd dies; until then
		 * every request is denied (ctl_request). */
		log_warnx("policyd channel closed");
		imsgev_clear(&r.policyd);
		return;
	}
	while ((n = imsg_get(&r.policyd.ibuf, &imsg)) > 0) {
		if (imsg_get_type(&imsg) != IMSG_POLICY_DECISION ||
		    imsg_get_ibuf(&imsg, &b) == -1 ||
		    ibuf_get(&b, &resp, sizeof(resp)) == -1 ||
		    ibuf_get_string(&b, &rule, CTL_TARGET_MAX + 64) == -1 ||
		    ibuf_size(&b) != 0 || resp.verdict > VERDICT_WARN)
			fatalx("malformed decision from policyd");
		imsg_free(&imsg);
		log_debug("decision %u: %s (%s)", resp.reqid,
		    resp.verdict == VERDICT_DENY ? "deny" : "allow", rule);
		free(rule);
		rule = NULL;
		if (r.in_flight > 0)
			r.in_flight--;
		/* The seeds' workers test allowed == 1: warn is allowed. */
		send_ctl(resp.verdict == VERDICT_DENY ? 0 : 1, resp.reqid);
	}
	if (n == -1)
		fatalx("malformed message from policyd");
	imsgev_add(&r.policyd);
}

static void
relay_sandbox_handler(int fd, short events, void *arg)
{
	struct imsg	imsg;
	int		n;

	(void)fd;
	(void)arg;
	if ((n = imsgev_handle_io(&r.sandbox, events)) <= 0)
		exit(1);
	if (imsg_get(&r.sandbox.ibuf, &imsg) != 0)
		fatalx("unexpected message from the sandbox process");
	imsgev_add(&r.sandbox);
}

static void
read_spawn(void)
{
	struct imsg	 imsg;

	switch (imsg_wait(&r.sandbox.ibuf, &imsg)) {
	case 0:
		exit(1);
	case -1:
		fatal("read spawn request");
	}
	if (imsg_get_type(&imsg) != IMSG_SANDBOX_SPAWN ||
	    spawn_spec_parse(&imsg, &r.sp) == -1)
		fatalx("malformed spawn request");
	imsg_free(&imsg);
}

__dead void
relay_main(void)
{
	struct privsep_user	 pu;
	struct event		*ev;
	char			 err[256], title[64];
	int			 i;

	r.listen_fd = r.ctl_fd = -1;
	r.out_fd[0] = r.out_fd[1] = r.out_fd[2] = -1;
	r.worker = -1;
	if ((r.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	imsgev_set_base(r.base);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	imsgev_init(&r.sandbox, RELAY_FD_SANDBOX, "sandbox",
	    relay_sandbox_handler, NULL);
	imsgbuf_allow_fdpass(&r.sandbox.ibuf);
	if (imsgbuf_set_maxsize(&r.sandbox.ibuf, SPAWN_IMSG_MAX) == -1)
		fatal("imsgbuf_set_maxsize");
	imsgev_init(&r.parent, RELAY_FD_PARENT, "parent",
	    relay_parent_handler, NULL);
	if (imsgbuf_set_maxsize(&r.parent.ibuf, POD_IMSG_MAX) == -1)
		fatal("imsgbuf_set_maxsize");
	/* For the proxy's listener (step_proxy), once. */
	imsgbuf_allow_fdpass(&r.parent.ibuf);
	imsgev_init(&r.policyd, RELAY_FD_POLICYD, "policyd",
	    relay_policyd_handler, NULL);
	read_spawn();
	r.protocol = r.sp.worker == WORKER_PYTHON ||
	    r.sp.worker == WORKER_BUN || r.sp.worker == WORKER_CUSTOM;
	r.persistent = r.protocol && (r.sp.flags & SPAWN_F_PERSISTENT);
	TAILQ_INIT(&r.subs);
	r.sandboxed = !(r.sp.flags & SPAWN_F_NO_SANDBOX);
	r.userns_fd = -1;
	r.cg_v2fd = -1;
	r.proxy_sock[0] = r.proxy_sock[1] = -1;
	(void)snprintf(title, sizeof(title), "relay %s", r.sp.podid);
	log_procinit(title);
	if (priv_lookup_user(&pu, err, sizeof(err)) == -1) {
		setup_fail(EXIT_PODRUNNER, "%s", err);
		exit(1);
	}
	if ((ev = evsignal_new(r.base, SIGCHLD, relay_sigchld, NULL)) ==
	    NULL || evsignal_add(ev, NULL) == -1)
		fatalx("evsignal");

	/* The checklist, in order; the first failure names its step. */
	log_debug("set-up starts");
	if (((r.protocol || r.sandboxed) && step_pod_dir() == -1) ||
	    (r.protocol && (step_runtime() == -1 ||
	    step_control_socket() == -1 || step_shared_memory() == -1 ||
	    (!r.persistent && step_entry() == -1))) ||
	    (r.sandboxed && (step_plan() == -1 || step_idmap() == -1 ||
	    step_cgroup() == -1)) ||
	    (log_debug("plan ready"), 0) ||
	    step_spawn_worker() == -1 ||
	    step_report_worker() == -1 ||
	    step_release() == -1 ||
	    (log_debug("pod init released"), 0) ||
	    step_exec_result() == -1 ||
	    (r.sandboxed && step_proxy() == -1)) {
		if (r.worker > 0)
			(void)kill(r.worker, SIGKILL);
		exit(1);
	}

	/* Drop everything before the first byte from the worker. */
	priv_confine(title, &pu, NULL, 0);
	priv_seccomp_allowlist("relay", relay_syscalls,
	    sizeof(relay_syscalls) / sizeof(relay_syscalls[0]));

	if (signal(SIGBUS, ring_sigbus) == SIG_ERR)
		fatal("signal SIGBUS");
	if (r.listen_fd != -1 &&
	    ((r.ev_listen = event_new(r.base, r.listen_fd, EV_READ | EV_PERSIST,
	    ctl_accept, NULL)) == NULL || event_add(r.ev_listen, NULL) == -1))
		fatalx("event_new");
	for (i = STDOUT_FILENO; i <= STDERR_FILENO; i++)
		if ((r.ev_out[i] = event_new(r.base, r.out_fd[i],
		    EV_READ | EV_PERSIST, out_read, (void *)(intptr_t)i)) ==
		    NULL || event_add(r.ev_out[i], NULL) == -1)
			fatalx("event_new");
	imsgev_add(&r.sandbox);
	imsgev_add(&r.parent);
	imsgev_add(&r.policyd);
	/* The worker may have exited already. */
	relay_sigchld(SIGCHLD, 0, NULL);
	event_base_dispatch(r.base);
	fatalx("event loop ended");
}
