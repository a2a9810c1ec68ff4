/*
 * The process framework: the table of children, fork + re-exec with a
 * role flag, the start-up handshake, and failing closed when a child
 * dies.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auditd.h"
#include "parent.h"
#include "policyd.h"
#include "privsep.h"
#include "proxy.h"
#include "util.h"

static int	proc_dispatch_simple(struct proc *, struct imsg *);
static void	proc_imsg_handler(int, short, void *);
static void	proc_reap(void);
static void	proc_child_died(struct proc *);
static void	proc_check_done(void);
static void	proc_configure_rest(void);
static int	proc_forward_policy(struct imsg *);
static void	proc_shutdown_timeout(int, short, void *);

/*
 * Adding a process is adding a row: its title (also its -P role), the
 * child's entry point, and the parent's dispatcher for its messages.
 */
struct proc procs[PROC_MAX] = {
	[PROC_PARENT] =	 { PROC_PARENT, "parent", NULL, NULL },
	[PROC_POLICYD] = { PROC_POLICYD, "policyd", policyd_main,
			   proc_dispatch_simple },
	[PROC_PROXY] =	 { PROC_PROXY, "proxy", proxy_main,
			   proc_dispatch_simple },
	[PROC_AUDITD] =	 { PROC_AUDITD, "auditd", auditd_main,
			   proc_dispatch_simple },
	[PROC_SANDBOX] = { PROC_SANDBOX, "sandbox", sandbox_main,
			   proc_dispatch_sandbox },
};

/* Roles that are started by another child, not by the parent. */
static const struct {
	const char	 *title;
	__dead void	(*run)(void);
} subroles[] = {
	{ "relay", relay_main },
};

static struct event	*shutdown_ev;

struct proc *
proc_by_name(const char *name)
{
	int	i;

	for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
		if (strcmp(procs[i].title, name) == 0)
			return &procs[i];
	return NULL;
}

/* podrunner -P <role> [-d] [-v ...]: the child side of a re-exec. */
__dead void
proc_child_main(int argc, char **argv)
{
	struct proc	*p;
	size_t		 i;
	int		 debug = 0, verbose = 0, a;

	for (a = 3; a < argc; a++) {
		if (strcmp(argv[a], "-d") == 0)
			debug = 1;
		else if (strcmp(argv[a], "-v") == 0)
			verbose++;
		else
			errx(EXIT_PODRUNNER, "unknown role option %s", argv[a]);
	}
	log_init(debug, LOG_DAEMON);
	log_setverbose(verbose);
	log_procinit(argv[2]);
	priv_setname(argv[2]);
	if ((p = proc_by_name(argv[2])) != NULL)
		p->run();
	for (i = 0; i < sizeof(subroles) / sizeof(subroles[0]); i++)
		if (strcmp(subroles[i].title, argv[2]) == 0)
			subroles[i].run();
	fatalx("unknown role %s", argv[2]);
}

/*
 * Children get a minimal environment, not the user's.  They chroot, so
 * in sanitizer builds LeakSanitizer (which reads /proc) is off there.
 */
char **
proc_child_env(void)
{
	static char	*env[] = {
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
#if defined(__SANITIZE_ADDRESS__)
		"ASAN_OPTIONS=detect_leaks=0",
#endif
		NULL
	};

	return env;
}

static pid_t
proc_exec(struct proc *p, int fd)
{
	char	*argv[8];
	int	 argc = 0, devnull;
	pid_t	 pid;

	argv[argc++] = "podrunner";
	argv[argc++] = "-P";
	argv[argc++] = (char *)(uintptr_t)p->title;
	if (parent_env.rc->debug)
		argv[argc++] = "-d";
	if (parent_env.rc->verbose > 1)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	switch (pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		return pid;
	}
	/* Child: the channel on fd 3, stdin and stdout on /dev/null. */
	if (fd == PROC_PARENT_FD) {
		if (fcntl(fd, F_SETFD, 0) == -1)
			_exit(EXIT_PODRUNNER);
	} else if (dup2(fd, PROC_PARENT_FD) == -1)
		_exit(EXIT_PODRUNNER);
	if ((devnull = open("/dev/null", O_RDWR)) == -1 ||
	    dup2(devnull, STDIN_FILENO) == -1 ||
	    dup2(devnull, STDOUT_FILENO) == -1)
		_exit(EXIT_PODRUNNER);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		_exit(EXIT_PODRUNNER);
	/* Daemons ignore the terminal's ^C; the parent decides. */
	(void)signal(SIGINT, SIG_IGN);
	execve("/proc/self/exe", argv, proc_child_env());
	_exit(EXIT_PODRUNNER);
}

void
proc_start_all(void)
{
	/*
	 * The sandbox process first: its set-up (cgroups, stale pods) is
	 * the longest and the pod's start waits for it; then policyd,
	 * which the configuration needs first.
	 */
	static const int order[] = {
		PROC_SANDBOX, PROC_POLICYD, PROC_PROXY, PROC_AUDITD
	};
	struct proc	*p;
	size_t		 i;
	int		 sp[2];

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		p = &procs[order[i]];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0, sp) == -1)
			fatal("socketpair");
		p->pid = proc_exec(p, sp[1]);
		p->alive = 1;
		close(sp[1]);
		imsgev_init(&p->iev, sp[0], p->title, proc_imsg_handler, p);
		imsgbuf_allow_fdpass(&p->iev.ibuf);
		if (imsgbuf_set_maxsize(&p->iev.ibuf, CHILD_IMSG_MAX) == -1)
			fatal("imsgbuf_set_maxsize");
		imsgev_add(&p->iev);
		log_debug("started %s, pid %d", p->title, p->pid);
	}
}

int
proc_compose(enum proc_id id, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	struct proc	*p = &procs[id];

	if (!p->alive || p->iev.ev == NULL) {
		if (fd != -1)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	return imsgev_compose(&p->iev, type, peerid, 0, fd, data, len);
}

/* One IMSG_CFG_PERM: value NULL is the whole kind. */
static void
proc_send_perm(enum proc_id id, int kind, int action, int layer,
    const char *value)
{
	struct cfg_perm	 cp;
	struct ibuf	*b;

	memset(&cp, 0, sizeof(cp));
	cp.kind = (uint8_t)kind;
	cp.action = (uint8_t)action;
	cp.layer = (uint8_t)layer;
	cp.all = value == NULL;
	if ((b = ibuf_dynamic(64, 65536)) == NULL ||
	    ibuf_add(b, &cp, sizeof(cp)) == -1 ||
	    ibuf_add_string(b, value != NULL ? value : "") == -1)
		fatal("%s: ibuf", __func__);
	if (imsgev_compose_ibuf(&procs[id].iev, IMSG_CFG_PERM, 0, 0, -1,
	    b) == -1)
		fatal("%s: compose", __func__);
}

static void
proc_send_perms(enum proc_id id)
{
	struct run_config	*rc = parent_env.rc;
	struct perm_list	*pl;
	int			 layer, kind, deny;
	size_t			 i;

	for (layer = 0; layer < LAYER_POLICY; layer++)
		for (kind = 0; kind < PERM_MAX; kind++)
			for (deny = 0; deny < 2; deny++) {
				pl = deny ? &rc->layer[layer].deny[kind] :
				    &rc->layer[layer].allow[kind];
				if (pl->all)
					proc_send_perm(id, kind, deny ?
					    PERM_DENY : PERM_ALLOW, layer, NULL);
				/* Values too: beside "all", a net address
				 * still opens a built-in range. */
				for (i = 0; i < pl->n; i++)
					proc_send_perm(id, kind, deny ?
					    PERM_DENY : PERM_ALLOW, layer,
					    pl->v[i]);
			}
	/* What the worker runtime itself needs (podrunner.policy(5)). */
	for (i = 0; i < parent_env.nruntime; i++)
		proc_send_perm(id, parent_env.runtime_rules[i].kind, PERM_ALLOW,
		    LAYER_RUNTIME, parent_env.runtime_rules[i].value);
	/* --allow-all: every kind allowed at the flag layer. */
	for (kind = 0; rc->allow_all && kind < PERM_MAX; kind++)
		proc_send_perm(id, kind, PERM_ALLOW, LAYER_FLAG, NULL);
}

/*
 * The start-up handshake: version, peers, configuration, CFG_DONE.
 * Each child answers CFG_DONE once it is confined and configured, and
 * is then sent CTL_START (proc_all_configured).
 */
void
proc_configure_all(void)
{
	extern char	**environ;
	char		**e, *eq;
	uint32_t	 v = PODRUNNER_PROTO_VERSION;
	uint32_t	 verbose = (uint32_t)parent_env.rc->verbose;
	uint32_t	 peer;
	int		 i, sp[2];

	for (i = PROC_PARENT + 1; i < PROC_MAX; i++) {
		proc_compose(i, IMSG_CTL_VERSION, 0, -1, &v, sizeof(v));
		proc_compose(i, IMSG_CTL_VERBOSE, 0, -1, &verbose,
		    sizeof(verbose));
	}

	/* Peers: the proxy asks policyd for decisions. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	    sp) == -1)
		fatal("socketpair");
	peer = PROC_PROXY;
	proc_compose(PROC_POLICYD, IMSG_CFG_PEER, 0, sp[0], &peer,
	    sizeof(peer));
	peer = PROC_POLICYD;
	proc_compose(PROC_PROXY, IMSG_CFG_PEER, 0, sp[1], &peer, sizeof(peer));

	/* Permissions go to policyd, which decides. */
	proc_send_perms(PROC_POLICYD);
	if (parent_env.policy_fd != -1) {
		proc_compose(PROC_POLICYD, IMSG_CFG_POLICY_FD, 0,
		    parent_env.policy_fd, parent_env.rc->policy_path,
		    strlen(parent_env.rc->policy_path));
		parent_env.policy_fd = -1;
	}
	/* The audit's loader, forked at our start, is the sandbox's. */
	if (parent_env.audit_loader_fd != -1) {
		proc_compose(PROC_SANDBOX, IMSG_AUDIT_LOADER, 0,
		    parent_env.audit_loader_fd, NULL, 0);
		parent_env.audit_loader_fd = -1;
	}
	/* auditd writes the audit trail's JSON lines there. */
	if (parent_env.audit_log_fd != -1) {
		proc_compose(PROC_AUDITD, IMSG_AUDIT_LOG, 0,
		    parent_env.audit_log_fd, NULL, 0);
		parent_env.audit_log_fd = -1;
	}
	if (parent_env.rc->policy_b64 != NULL)
		proc_compose(PROC_POLICYD, IMSG_CFG_POLICY_B64, 0, -1,
		    parent_env.rc->policy_b64,
		    strlen(parent_env.rc->policy_b64));

	proc_compose(PROC_POLICYD, IMSG_CFG_RESOURCES, 0, -1,
	    &parent_env.rc->res, sizeof(parent_env.rc->res));
	/* policyd decides which of our variables the worker sees. */
	for (e = environ; *e != NULL; e++) {
		if ((eq = strchr(*e, '=')) == NULL || eq == *e ||
		    (size_t)(eq - *e) >= 256 || strncmp(*e, "POD_", 4) == 0)
			continue;
		proc_compose(PROC_POLICYD, IMSG_CFG_ENVNAME, 0, -1, *e,
		    (size_t)(eq - *e));
	}

	/* policyd first: the others get the policy it normalised. */
	proc_compose(PROC_POLICYD, IMSG_CFG_DONE, 0, -1, NULL, 0);
}

/* policyd is configured: the rest of the handshake. */
static void
proc_configure_rest(void)
{
	int	i;

	for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
		if (i != PROC_POLICYD)
			proc_compose(i, IMSG_CFG_DONE, 0, -1, NULL, 0);
}

/* The normalised policy from policyd, moved on unchanged. */
static int
proc_forward_policy(struct imsg *imsg)
{
	int	i;

	for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
		if (i != PROC_POLICYD && proc_compose(i, imsg_get_type(imsg),
		    0, -1, ibuf_data(&imsg->data), imsg_get_len(imsg)) == -1)
			return -1;
	return 0;
}

/*
 * A child is started (CTL_START) as soon as it is configured.  A run's
 * pod is spawned once policyd and the sandbox are: the proxy and auditd
 * need not be ready before it, only before the worker can use them
 * (the proxy's listener is made in the pod and queues connections
 * until the proxy takes it; the audit's ring keeps the records until
 * auditd reads it), and the parent fails closed if either cannot be
 * configured, pod or no pod.  explain and serve wait for all.
 */
static void
proc_all_configured(void)
{
	int	i, all = 1;

	for (i = PROC_PARENT + 1; i < PROC_MAX; i++) {
		if (!procs[i].configured) {
			all = 0;
			continue;
		}
		if (!procs[i].started) {
			procs[i].started = 1;
			proc_compose(i, IMSG_CTL_START, 0, -1, NULL, 0);
		}
	}
	if (parent_env.rc->cmd == CMD_RUN) {
		if (!parent_env.started && procs[PROC_POLICYD].started &&
		    procs[PROC_SANDBOX].started) {
			parent_env.started = 1;
			log_debug("policyd and the sandbox configured, "
			    "starting the pod");
			pod_start();
		}
		return;
	}
	if (!all || parent_env.started)
		return;
	parent_env.started = 1;
	if (parent_env.rc->cmd == CMD_EXPLAIN) {
		uint32_t	json = (uint32_t)parent_env.rc->json;

		proc_compose(PROC_POLICYD, IMSG_POLICY_EXPLAIN, 0, -1, &json,
		    sizeof(json));
		return;
	}
	if (parent_env.rc->cmd == CMD_SERVE) {
		/* The pod starts at the embedder's "start". */
		serve_configured();
		return;
	}
	log_debug("all processes configured, starting the pod");
	pod_start();
}

/* Messages every child may send the parent. */
static int
proc_dispatch_simple(struct proc *p, struct imsg *imsg)
{
	struct cfg_resources	 res;
	char			 msg[1024];
	size_t			 len;

	switch (imsg_get_type(imsg)) {
	case IMSG_POLICY_EXPLAIN:
		/* policyd's text, copied out as it is. */
		if (p->id != PROC_POLICYD ||
		    parent_env.rc->cmd != CMD_EXPLAIN)
			return -1;
		(void)fwrite(ibuf_data(&imsg->data), 1, imsg_get_len(imsg),
		    stdout);
		(void)fflush(stdout);
		proc_shutdown(0);
		return 0;
	case IMSG_POLICY_LOADED:
		if (p->id != PROC_POLICYD || p->configured)
			return -1;
		pod_policy_loaded(imsg);
		return 0;
	case IMSG_CFG_ENVALLOW:
		if (p->id != PROC_POLICYD || p->configured)
			return -1;
		return pod_env_allowed(imsg);
	case IMSG_CFG_RESOURCES:
		/* The effective limits; the parent keeps the timeout. */
		if (p->id != PROC_POLICYD || p->configured ||
		    imsg_get_data(imsg, &res, sizeof(res)) == -1)
			return -1;
		parent_env.rc->timeout_ms = res.timeout_ms;
		parent_env.limits = res;
		return 0;
	case IMSG_CFG_RULE:
	case IMSG_CFG_SETTINGS:
	case IMSG_CFG_AUDIT_EVENT:
		if (p->id != PROC_POLICYD || p->configured)
			return -1;
		return proc_forward_policy(imsg);
	case IMSG_CFG_DONE:
		if (imsg_get_len(imsg) != 0 || p->configured)
			return -1;
		p->configured = 1;
		log_debug("%s configured", p->title);
		if (p->id == PROC_POLICYD)
			proc_configure_rest();
		proc_all_configured();
		return 0;
	case IMSG_PROXY_EVENT:
		if (p->id != PROC_PROXY)
			return -1;
		return pod_proxy_event(imsg);
	case IMSG_PROXY_FORGET:
		if (p->id != PROC_PROXY)
			return -1;
		return pod_proxy_forgotten(imsg);
	case IMSG_AUDIT_SYSCALLS:
	case IMSG_AUDIT_DONE:
		if (p->id != PROC_AUDITD)
			return -1;
		return pod_audit_msg(imsg);
	case IMSG_CFG_ERROR:
		len = imsg_get_len(imsg);
		if (len == 0 || len >= sizeof(msg) ||
		    imsg_get_data(imsg, msg, len) == -1)
			return -1;
		msg[len] = '\0';
		if (memchr(msg, '\0', len) != NULL)
			return -1;
		log_warnx("%s", msg);
		proc_shutdown(EXIT_PODRUNNER);
		return 0;
	}
	return -1;
}

int
proc_dispatch_sandbox(struct proc *p, struct imsg *imsg)
{
	switch (imsg_get_type(imsg)) {
	case IMSG_CFG_DONE:
	case IMSG_CFG_ERROR:
		return proc_dispatch_simple(p, imsg);
	case IMSG_AUDIT_RING:
	case IMSG_AUDIT_COUNTERS:
	case IMSG_AUDIT_UNAVAILABLE:
		return pod_audit_msg(imsg);
	default:
		return pod_sandbox_msg(imsg);
	}
}

static void
proc_imsg_handler(int fd, short events, void *arg)
{
	struct proc	*p = arg;
	struct imsg	 imsg;
	int		 n, rv;

	(void)fd;
	if ((n = imsgev_handle_io(&p->iev, events)) == 0) {
		/* EOF: the child is gone or going. */
		imsgev_clear(&p->iev);
		if (!parent_env.shutting_down)
			proc_child_died(p);
		return;
	}
	if (n == -1) {
		log_warn("%s: channel", p->title);
		imsgev_clear(&p->iev);
		proc_fail("%s process channel failed", p->title);
		return;
	}
	for (;;) {
		if ((n = imsg_get(&p->iev.ibuf, &imsg)) == -1) {
			proc_fail("%s process sent a malformed message",
			    p->title);
			return;
		}
		if (n == 0)
			break;
		rv = p->dispatch(p, &imsg);
		if (rv == -1) {
			proc_fail("%s process sent an unexpected message %s",
			    p->title, imsg_type_name(imsg_get_type(&imsg)));
			imsg_free(&imsg);
			return;
		}
		imsg_free(&imsg);
		if (p->iev.ev == NULL)	/* cleared by the dispatcher */
			return;
	}
	imsgev_add(&p->iev);
}

static const char *status_str(int, char *, size_t);

/*
 * A child closed its channel: it is exiting.  Its fds close before it
 * becomes a zombie, so give the kernel a moment to say how it ended.
 */
static void
proc_child_died(struct proc *p)
{
	struct timespec	 ts = { 0, 2 * 1000 * 1000 };
	char		 buf[128];
	int		 status, i;

	for (i = 0; i < 100 && p->alive; i++) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->alive = 0;
			proc_fail("%s process died unexpectedly (%s)",
			    p->title, status_str(status, buf, sizeof(buf)));
			return;
		}
		(void)nanosleep(&ts, NULL);
	}
	proc_fail("%s process died unexpectedly (closed its channel)",
	    p->title);
}

/*
 * The pod's relay went away: when a daemon died, that is the cause
 * (the relay follows the sandbox by its parent-death signal), and it is
 * the one to name.  1 if one was found (and failed closed), else 0.
 */
int
proc_blame_dead(void)
{
	struct timespec	 ts = { 0, 2 * 1000 * 1000 };
	char		 buf[128];
	int		 status, i, tries;

	for (tries = 0; tries < 50; tries++) {
		for (i = PROC_PARENT + 1; i < PROC_MAX; i++) {
			if (!procs[i].alive ||
			    waitpid(procs[i].pid, &status, WNOHANG) !=
			    procs[i].pid)
				continue;
			procs[i].alive = 0;
			proc_fail("%s process died unexpectedly (%s)",
			    procs[i].title, status_str(status, buf,
			    sizeof(buf)));
			return 1;
		}
		(void)nanosleep(&ts, NULL);
	}
	return 0;
}

static const char *
status_str(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		(void)snprintf(buf, len, "killed by signal %d, %s",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status))
		(void)snprintf(buf, len, "exit status %d",
		    WEXITSTATUS(status));
	else
		(void)snprintf(buf, len, "status %#x", status);
	return buf;
}

/* SIGCHLD: reap children and adopted orphans (we are a subreaper). */
static void
proc_reap(void)
{
	char	 buf[128];
	pid_t	 pid;
	pid_t	 keep[PROC_MAX];
	size_t	 nkeep;
	int	 status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
			if (procs[i].alive && procs[i].pid == pid)
				break;
		if (i == PROC_MAX) {
			log_debug("reaped adopted process %d", pid);
			continue;
		}
		procs[i].alive = 0;
		if (!parent_env.shutting_down)
			proc_fail("%s process died unexpectedly (%s)",
			    procs[i].title, status_str(status, buf, sizeof(buf)));
		else
			log_debug("%s exited (%s)", procs[i].title,
			    status_str(status, buf, sizeof(buf)));
	}
	if (parent_env.shutting_down) {
		/* Orphans of a worker come to us: they go too; the daemons
		 * still finishing their clean-up are left to it (the
		 * shutdown timer kills them if they take too long). */
		for (i = 0, nkeep = 0; i < PROC_MAX; i++)
			if (i != PROC_PARENT && procs[i].alive &&
			    procs[i].pid > 0)
				keep[nkeep++] = procs[i].pid;
		(void)priv_kill_children(keep, nkeep);
		proc_check_done();
	}
}

void
proc_sigchld(void)
{
	proc_reap();
}

static void
proc_check_done(void)
{
	pid_t	pid;

	/* Anything left, child or adopted? */
	pid = waitpid(-1, NULL, WNOHANG);
	if (pid == 0)
		return;
	if (pid > 0) {
		proc_reap();
		return;
	}
	if (errno != ECHILD)
		return;
	pod_cleanup_files();
	exit(parent_env.exit_code < 0 ? EXIT_PODRUNNER : parent_env.exit_code);
}

static void
proc_shutdown_timeout(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	log_debug("children slow to exit, killing them");
	(void)priv_kill_children(NULL, 0);
}

/*
 * Orderly shutdown: close every channel (children exit on EOF), reap
 * everything, remove the pod's files, exit with code.
 */
void
proc_shutdown(int code)
{
	struct timeval	 tv = { 3, 0 };
	int		 i;

	if (parent_env.exit_code < 0)
		parent_env.exit_code = code;
	if (parent_env.shutting_down)
		return;
	parent_env.shutting_down = 1;
	for (i = PROC_PARENT + 1; i < PROC_MAX; i++)
		if (procs[i].iev.ev != NULL) {
			(void)imsgbuf_flush(&procs[i].iev.ibuf);
			imsgev_clear(&procs[i].iev);
		}
	if ((shutdown_ev = evtimer_new(parent_env.base, proc_shutdown_timeout,
	    NULL)) == NULL)
		fatal("evtimer_new");
	evtimer_add(shutdown_ev, &tv);
	proc_check_done();
}

/* Fail closed: say why, kill every process, clean, exit 125. */
void
proc_fail(const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];

	if (parent_env.shutting_down && parent_env.exit_code == EXIT_PODRUNNER)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (parent_env.shutting_down) {
		log_debug("during shutdown: %s", msg);
		return;
	}
	log_warnx("%s; pod stopped", msg);
	parent_env.exit_code = EXIT_PODRUNNER;
	(void)priv_kill_children(NULL, 0);
	proc_shutdown(EXIT_PODRUNNER);
}
