/*
 * The parent's side of the pod: the spawn request, the relay's channel
 * (output, events, exit), signals and the timeout.  Output bytes are
 * copied to stdout/stderr; nothing the worker wrote is parsed here.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "parent.h"
#include "perm.h"
#include "privsep.h"
#include "util.h"


static struct {
	struct imsgev	 iev;		/* channel to the relay */
	int		 spawned;	/* SPAWN sent */
	int		 exited;	/* POD_EXIT received */
	int		 gone;		/* SANDBOX_GONE received */
	int		 status;	/* wait status of the worker */
	int		 failed_code;	/* SANDBOX_FAILED code, or 0 */
	int		 timed_out;
	int		 signals;	/* signals forwarded so far */
	int		 out_closed[3];	/* EPIPE on stdout/stderr */
	int		 proxy_sent;	/* PROXY_LISTEN forwarded */
	int		 proxy_wait;	/* PROXY_FORGET not answered yet */
	int		 relay_lost;	/* its channel closed, no reason yet */
	struct event	*timer;
	int		 audit_on;	/* auditd has the ring */
	int		 audit_warned;	/* said once that there is none */
	int		 audit_end_sent;	/* AUDIT_POD_END sent */
	int		 audit_done;	/* AUDIT_DONE received */
	struct event	*audit_timer;	/* auditd's limit for DONE */
	int		 serve;		/* podrunner serve: persistent */
	int		 paused;	/* serve's stdout is behind */
} pod;

/* The pod's id between the processes (peerid): one pod per run. */
#define POD_ID		1

static void	pod_imsg_handler(int, short, void *);
static int	pod_dispatch(struct imsg *);
static int	pod_proxy_listen(struct imsg *);
static void	pod_timeout(int, short, void *);
static void	pod_maybe_done(void);
static void	pod_audit_end(void);
static void	pod_audit_timeout(int, short, void *);

int
pod_active(void)
{
	return pod.spawned && !pod.gone;
}

/* The variables policyd allowed (IMSG_CFG_ENVALLOW), one by one. */
static char	**env_ok;
static size_t	  nenv_ok;

int
pod_env_allowed(struct imsg *imsg)
{
	extern char	**environ;
	char		  name[256], **e;
	size_t		  len;

	if (imsg_get_len(imsg) == 0 || imsg_get_len(imsg) >= sizeof(name) ||
	    imsg_get_data(imsg, name, imsg_get_len(imsg)) == -1)
		return -1;
	name[imsg_get_len(imsg)] = '\0';
	len = strlen(name);
	/* Only a name we asked about, never one of ours. */
	if (len != imsg_get_len(imsg) || strncmp(name, "POD_", 4) == 0)
		return -1;
	for (e = environ; *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			break;
	if (*e == NULL)
		return -1;
	env_ok = xreallocarray(env_ok, nenv_ok + 1, sizeof(*env_ok));
	env_ok[nenv_ok++] = xstrdup(name);
	return 0;
}

static int
env_allowed(const char *var, size_t nlen)
{
	size_t	i;

	/* The runtime's own variable is the relay's to set. */
	if (nlen == 10 && strncmp(var, "PODSHM_LIB", 10) == 0)
		return 0;
	for (i = 0; i < nenv_ok; i++)
		if (strlen(env_ok[i]) == nlen &&
		    strncmp(env_ok[i], var, nlen) == 0)
			return 1;
	return 0;
}

/*
 * What points ordinary clients (urllib, curl, Bun's fetch) at the pod's
 * proxy; NO_PROXY keeps the pod's own loopback direct.
 */
const char *pod_proxy_vars[] = {
	"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
	"all_proxy", "NO_PROXY", "no_proxy", NULL
};

static int
proxy_var(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; pod_proxy_vars[i] != NULL; i++)
		if (strlen(pod_proxy_vars[i]) == len &&
		    strncmp(pod_proxy_vars[i], name, len) == 0)
			return 1;
	return 0;
}

static char *
pod_proxy_value(const char *name)
{
	char	*v;

	if (strcasecmp(name, "NO_PROXY") == 0)
		xasprintf(&v, "%s=localhost,127.0.0.1,::1", name);
	else
		xasprintf(&v, "%s=http://%s:%d", name, POD_PROXY_ADDR,
		    POD_PROXY_PORT);
	return v;
}

static char **
worker_env(size_t *nenv)
{
	extern char	**environ;
	char		**env = NULL, **e, *eq;
	size_t		  n = 0, i;
	int		  have_path = 0;

	for (e = environ; *e != NULL; e++) {
		if ((eq = strchr(*e, '=')) == NULL)
			continue;
		if (!env_allowed(*e, (size_t)(eq - *e)))
			continue;
		/* The pod's proxy replaces the host's. */
		if (!parent_env.rc->no_sandbox && proxy_var(*e,
		    (size_t)(eq - *e)))
			continue;
		if (strncmp(*e, "PATH=", 5) == 0)
			have_path = 1;
		env = xreallocarray(env, n + 1, sizeof(*env));
		env[n++] = xstrdup(*e);
	}
	env = xreallocarray(env, n + 2 + POD_PROXY_NVARS, sizeof(*env));
	if (!parent_env.rc->no_sandbox)
		for (i = 0; pod_proxy_vars[i] != NULL; i++)
			env[n++] = pod_proxy_value(pod_proxy_vars[i]);
	if (!have_path)
		env[n++] = xstrdup("PATH=/usr/local/bin:/usr/bin:/bin");
	/* PODSHM_LIB is the relay's to set: it knows the pod's view. */
	if (parent_env.rc->worker == WORKER_PYTHON)
		env[n++] = xstrdup("PYTHONUNBUFFERED=1");
	*nenv = n;
	return env;
}

void
pod_start(void)
{
	struct run_config	*rc = parent_env.rc;
	struct spawn_spec	 sp;
	struct ibuf		*b;
	uint32_t		 which;
	int			 pp[2], pr[2], in;
	size_t			 i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	    pp) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	    pr) == -1)
		fatal("socketpair");

	/* policyd gets its end of the relay's decision channel. */
	proc_compose(PROC_POLICYD, IMSG_POLICY_CHANNEL, POD_ID, pr[0],
	    parent_env.podid, strlen(parent_env.podid));
	/* auditd names the pod's records by its id. */
	proc_compose(PROC_AUDITD, IMSG_AUDIT_POD, POD_ID, -1, parent_env.podid,
	    strlen(parent_env.podid));

	/* serve's stdin carries requests, not the worker's input. */
	pod.serve = rc->cmd == CMD_SERVE;
	if ((pod.serve || (in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)) ==
	    -1) && (in = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		fatal("open /dev/null");
	which = SPAWN_FD_STDIN;
	proc_compose(PROC_SANDBOX, IMSG_SANDBOX_FD, 0, in, &which,
	    sizeof(which));
	which = SPAWN_FD_PARENT;
	proc_compose(PROC_SANDBOX, IMSG_SANDBOX_FD, 0, pp[1], &which,
	    sizeof(which));
	which = SPAWN_FD_POLICYD;
	proc_compose(PROC_SANDBOX, IMSG_SANDBOX_FD, 0, pr[1], &which,
	    sizeof(which));
	which = SPAWN_FD_LIFELINE;
	if ((in = fcntl(parent_env.lifeline[0], F_DUPFD_CLOEXEC, 3)) == -1)
		fatal("dup lifeline");
	proc_compose(PROC_SANDBOX, IMSG_SANDBOX_FD, 0, in, &which,
	    sizeof(which));

	memset(&sp, 0, sizeof(sp));
	memcpy(sp.podid, parent_env.podid, sizeof(sp.podid));
	sp.worker = rc->worker;
	sp.flags = rc->no_sandbox ? SPAWN_F_NO_SANDBOX : 0;
	if (pod.serve)
		sp.flags |= SPAWN_F_PERSISTENT;
	sp.shm_size = rc->shm_size;
	sp.entry = rc->entry != NULL ? rc->entry : "";
	sp.cwd = rc->cwd;
	sp.runtime = parent_env.runtime;
	sp.runtime_script = parent_env.runtime_script;
	sp.runtime_lib = parent_env.podshm_lib;
	sp.args = rc->args;
	sp.nargs = (size_t)rc->nargs;
	sp.env = worker_env(&sp.nenv);
	sp.invoker_uid = getuid();
	sp.invoker_gid = getgid();
	sp.tmpfs_size = TMPFS_SIZE_DEFAULT;
	if ((b = spawn_spec_build(&sp)) == NULL)
		fatal("spawn description too large");
	for (i = 0; i < sp.nenv; i++)
		free(sp.env[i]);
	free(sp.env);
	if (imsgev_compose_ibuf(&procs[PROC_SANDBOX].iev, IMSG_SANDBOX_SPAWN,
	    POD_ID, 0, -1, b) == -1)
		fatal("compose spawn");
	pod.spawned = 1;

	imsgev_init(&pod.iev, pp[0], "relay", pod_imsg_handler, NULL);
	/* Only for the proxy's listener (pod_proxy_listen). */
	imsgbuf_allow_fdpass(&pod.iev.ibuf);
	if (imsgbuf_set_maxsize(&pod.iev.ibuf, POD_IMSG_MAX) == -1)
		fatal("imsgbuf_set_maxsize");
	imsgev_add(&pod.iev);

	/* A persistent pod's timeout is each submission's (pod_timer). */
	if (!pod.serve)
		pod_timer(1);
}

/* The timeout, (re)started or stopped. */
void
pod_timer(int on)
{
	struct run_config	*rc = parent_env.rc;
	struct timeval		 tv;

	if (rc->timeout_ms == 0)
		return;
	if (pod.timer == NULL && (pod.timer = evtimer_new(parent_env.base,
	    pod_timeout, NULL)) == NULL)
		fatal("evtimer_new");
	if (!on) {
		evtimer_del(pod.timer);
		return;
	}
	tv.tv_sec = (time_t)(rc->timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(rc->timeout_ms % 1000) * 1000;
	evtimer_add(pod.timer, &tv);
}

/* A persistent pod's submission (JSON, serve.c built it). */
void
pod_send(const char *text, size_t len)
{
	if (pod.iev.ev == NULL)
		return;		/* the relay is gone; so is the pod */
	imsgev_compose(&pod.iev, IMSG_POD_SEND, 0, 0, -1, text, len);
}

void
pod_stop(void)
{
	if (pod.iev.ev != NULL)
		imsgev_compose(&pod.iev, IMSG_POD_STOP, 0, 0, -1, NULL, 0);
}

/* The sandbox process signals the worker (SIGKILL: the whole pod). */
static void
signal_worker(uint32_t sig)
{
	proc_compose(PROC_SANDBOX, IMSG_SANDBOX_SIGNAL, POD_ID, -1, &sig,
	    sizeof(sig));
}

void
pod_kill(void)
{
	if (pod_active())
		signal_worker(SIGKILL);
}

void
pod_interrupt(void)
{
	if (pod_active() && !pod.exited)
		signal_worker(SIGINT);
}

/* The audit's counts so far; 0 if there is no audit. */
int
pod_syscalls(void)
{
	if (!pod.audit_on || pod.audit_end_sent)
		return 0;
	return proc_compose(PROC_AUDITD, IMSG_AUDIT_SYSCALLS, POD_ID, -1,
	    NULL, 0) == 0;
}

void
pod_memory(void)
{
	proc_compose(PROC_SANDBOX, IMSG_SANDBOX_MEMORY, POD_ID, -1, NULL, 0);
}

/* serve's stdout is behind: the relay's events wait (and so, through
 * the relay's own limit, does the worker's output). */
void
pod_pause(int pause)
{
	if (pod.paused == pause || pod.iev.ev == NULL)
		return;
	pod.paused = pause;
	imsgev_pause(&pod.iev, pause);
	/* What was read already is dispatched from the loop, not here. */
	if (!pause)
		event_active(pod.iev.ev, EV_READ, 0);
}

static const char *
fmt_duration(uint64_t ms)
{
	static char	buf[32];

	if (ms % 1000 == 0)
		(void)snprintf(buf, sizeof(buf), "%llus",
		    (unsigned long long)(ms / 1000));
	else
		(void)snprintf(buf, sizeof(buf), "%llums",
		    (unsigned long long)ms);
	return buf;
}

static void
pod_timeout(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (pod.exited)
		return;
	log_warnx("worker killed: timeout after %s", fmt_duration(
	    parent_env.rc->timeout_ms));
	pod.timed_out = 1;
	signal_worker(SIGKILL);
}

/* SIGINT, SIGTERM, SIGHUP: the worker gets it; a second one kills. */
void
pod_signal(int signo)
{
	uint32_t	sig = (uint32_t)signo;

	if (parent_env.rc->cmd == CMD_SERVE && serve_signal())
		return;
	if (!pod_active() || pod.exited) {
		if (!parent_env.shutting_down)
			proc_shutdown(128 + signo);
		return;
	}
	if (pod.signals++ > 0)
		sig = SIGKILL;
	log_debug("forwarding signal %u to the worker", sig);
	signal_worker(sig);
}

static void
write_all(int fd, const unsigned char *p, size_t len)
{
	struct pollfd	 pfd;
	ssize_t		 n;

	while (len > 0 && !pod.out_closed[fd]) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				pfd.fd = fd;
				pfd.events = POLLOUT;
				(void)poll(&pfd, 1, -1);
				continue;
			}
			/* EPIPE and friends: the reader went away. */
			pod.out_closed[fd] = 1;
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

static int
get_string(struct imsg *imsg, char *buf, size_t len)
{
	size_t	n = imsg_get_len(imsg);

	if (n == 0 || n >= len || imsg_get_data(imsg, buf, n) == -1)
		return -1;
	buf[n] = '\0';
	if (memchr(buf, '\0', n) != NULL)
		return -1;
	return 0;
}

/* Messages from the sandbox about our pod. */
int
pod_sandbox_msg(struct imsg *imsg)
{
	struct pod_memory mem;
	struct pod_gone	 gone;
	struct ibuf	 b;
	char		*msg = NULL, msgbuf[32];
	uint32_t	 code, pid;

	switch (imsg_get_type(imsg)) {
	case IMSG_SANDBOX_STARTED:
		if (imsg_get_data(imsg, &pid, sizeof(pid)) == -1)
			return -1;
		log_debug("worker started, pid %u", pid);
		return 0;
	case IMSG_SANDBOX_FAILED:
		if (imsg_get_ibuf(imsg, &b) == -1 ||
		    ibuf_get_n32(&b, &code) == -1 ||
		    ibuf_get_string(&b, &msg, 1024) == -1 ||
		    ibuf_size(&b) != 0 ||
		    (code != EXIT_PODRUNNER && code != EXIT_NOEXEC &&
		    code != EXIT_NOTFOUND)) {
			free(msg);
			return -1;
		}
		log_warnx("%s", msg);
		free(msg);
		if (pod.failed_code == 0)
			pod.failed_code = (int)code;
		pod_maybe_done();
		return 0;
	case IMSG_SANDBOX_MEMORY:
		if (!pod.serve || imsg_get_data(imsg, &mem, sizeof(mem)) == -1)
			return -1;
		return serve_memory(&mem);
	case IMSG_SANDBOX_GONE:
		if (imsg_get_data(imsg, &gone, sizeof(gone)) == -1 ||
		    gone.limit > 2)
			return -1;
		if (gone.limit == 1)
			log_warnx("worker killed: memory limit %s reached",
			    fmt_size(gone.value, msgbuf, sizeof(msgbuf)));
		else if (gone.limit == 2)
			log_warnx("worker stopped: pids limit %llu reached",
			    (unsigned long long)gone.value);
		/* The relay's own channel tells whether it ended well. */
		pod.gone = 1;
		if (pod.relay_lost && pod.failed_code == 0 && !pod.exited) {
			proc_fail("relay process died unexpectedly");
			return 0;
		}
		if (pod.proxy_sent) {
			/* Its last net events come before its answer. */
			proc_compose(PROC_PROXY, IMSG_PROXY_FORGET, POD_ID, -1,
			    NULL, 0);
			pod.proxy_wait = 1;
		}
		pod_maybe_done();
		return 0;
	}
	return -1;
}

static void
pod_maybe_done(void)
{
	int	code;

	if (!pod.gone || pod.iev.ev != NULL)
		return;
	/* The proxy's last events are in. */
	if (pod.proxy_wait)
		return;
	/* Then the pod's last audit records (its net events among them)
	 * are written. */
	pod_audit_end();
	if (pod.audit_on && !pod.audit_done)
		return;
	if (pod.failed_code != 0 && !pod.exited)
		code = pod.failed_code;
	else if (pod.timed_out)
		code = EXIT_TIMEOUT;
	else if (WIFEXITED(pod.status))
		code = WEXITSTATUS(pod.status);
	else if (WIFSIGNALED(pod.status))
		code = 128 + WTERMSIG(pod.status);
	else
		code = EXIT_PODRUNNER;
	if (pod.serve)
		code = serve_exit(code);
	proc_shutdown(code);
}

static int
pod_dispatch(struct imsg *imsg)
{
	struct ibuf	 b;
	char		 buf[1024];
	uint8_t		 stream;
	int32_t		 status;

	switch (imsg_get_type(imsg)) {
	case IMSG_POD_READY:
		if (imsg_get_len(imsg) != 0)
			return -1;
		log_debug("worker ready");
		if (pod.serve)
			serve_ready();
		return 0;
	case IMSG_POD_EXEC_START:
		if (!pod.serve || imsg_get_len(imsg) != 0)
			return -1;
		return serve_exec_start();
	case IMSG_POD_EXEC_END:
		if (!pod.serve || imsg_get_len(imsg) != 0)
			return -1;
		return serve_exec_end();
	case IMSG_POD_OUTPUT:
		if (imsg_get_ibuf(imsg, &b) == -1 ||
		    ibuf_get_n8(&b, &stream) == -1 ||
		    (stream != STDOUT_FILENO && stream != STDERR_FILENO))
			return -1;
		write_all(stream, ibuf_data(&b), ibuf_size(&b));
		return 0;
	case IMSG_POD_EVENT:
		if (pod.serve)
			return serve_pod_event(ibuf_data(&imsg->data),
			    imsg_get_len(imsg));
		/* Kept for the embedding API; logged when debugging. */
		if (log_getverbose() > 0 && imsg_get_len(imsg) < sizeof(buf) &&
		    imsg_get_data(imsg, buf, imsg_get_len(imsg)) == 0) {
			buf[imsg_get_len(imsg)] = '\0';
			log_debug("event: %s", buf);
		}
		return 0;
	case IMSG_POD_ERROR:
		if (get_string(imsg, buf, sizeof(buf)) == -1)
			return -1;
		log_warnx("worker cut off: %s", buf);
		if (pod.serve)
			serve_cut_off();
		return 0;
	case IMSG_POD_EXIT:
		if (imsg_get_data(imsg, &status, sizeof(status)) == -1 ||
		    pod.exited)
			return -1;
		pod.exited = 1;
		pod.status = status;
		return 0;
	case IMSG_SANDBOX_FAILED:
		return pod_sandbox_msg(imsg);
	case IMSG_PROXY_LISTEN:
		return pod_proxy_listen(imsg);
	}
	return -1;
}

/*
 * The proxy's listening socket, from the relay while it set the pod up:
 * checked (once, a listening TCP socket, our pod), then handed to the
 * proxy with the pod's id.
 */
static int
pod_proxy_listen(struct imsg *imsg)
{
	struct proxy_pod	pp;
	socklen_t		len;
	int			fd, v;

	if (pod.proxy_sent || imsg_get_data(imsg, &pp, sizeof(pp)) == -1 ||
	    memchr(pp.podid, '\0', sizeof(pp.podid)) == NULL ||
	    strcmp(pp.podid, parent_env.podid) != 0 ||
	    (fd = imsg_get_fd(imsg)) == -1)
		return -1;
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == -1 ||
	    v != 1 || (len = sizeof(v), getsockopt(fd, SOL_SOCKET, SO_DOMAIN,
	    &v, &len)) == -1 || v != AF_INET) {
		close(fd);
		return -1;
	}
	pod.proxy_sent = 1;
	proc_compose(PROC_PROXY, IMSG_PROXY_LISTEN, POD_ID, fd, &pp,
	    sizeof(pp));
	return 0;
}

/* The proxy closed the pod's connections and sent their events. */
int
pod_proxy_forgotten(struct imsg *imsg)
{
	if (imsg_get_peerid(imsg) != POD_ID || imsg_get_len(imsg) != 0 ||
	    !pod.proxy_wait)
		return -1;
	pod.proxy_wait = 0;
	pod_maybe_done();
	return 0;
}

/*
 * An event of the pod's from a daemon, {"type":"T",...} on one line as
 * the daemon built it with a JSON library.  The parent parses nothing a
 * daemon sends (the proxy's events carry what a worker wrote): as for
 * the relay's events (serve_pod_event()), it checks the framing, and
 * that the object starts with the type the message must have, and
 * passes the bytes on: to `podrunner serve`'s output, and to the log
 * when verbose.  What parses them is unprivileged: auditd, or the
 * program reading serve's output.
 */
static int
pod_event_check(struct imsg *imsg, const char *type)
{
	const char	*text = ibuf_data(&imsg->data);
	size_t		 len = imsg_get_len(imsg), plen;

	if (imsg_get_peerid(imsg) != POD_ID || len > 65536 ||
	    (plen = event_framed(text, len, type)) == 0)
		return -1;
	if (pod.serve)
		serve_daemon_event(type, text + plen, len - plen);
	if (log_getverbose() > 0)
		log_info("event: %.*s", (int)len, text);
	return 0;
}

/*
 * A "net" event from the proxy (the proxy parses the worker's bytes, so
 * it is checked as above, not trusted): to the audit trail when the
 * audit is on.
 */
int
pod_proxy_event(struct imsg *imsg)
{
	size_t	len = imsg_get_len(imsg);

	if (pod_event_check(imsg, "net") == -1)
		return -1;
	/* The proxy's decisions join the audit trail. */
	if (pod.audit_on)
		proc_compose(PROC_AUDITD, IMSG_AUDIT_EVENT, POD_ID, -1,
		    ibuf_data(&imsg->data), len);
	return 0;
}

/*
 * The eBPF audit, from the sandbox (the loader's ring and counters for
 * auditd, or why there is no audit) and from auditd (the pod's
 * "syscalls" event, and that its last record is written).
 */
int
pod_audit_msg(struct imsg *imsg)
{
	struct audit_done	 done;
	char			 why[600];
	size_t			 len = imsg_get_len(imsg);
	int			 fd;

	switch (imsg_get_type(imsg)) {
	case IMSG_AUDIT_RING:
	case IMSG_AUDIT_COUNTERS:
		if ((fd = imsg_get_fd(imsg)) == -1)
			return -1;
		if (proc_compose(PROC_AUDITD, imsg_get_type(imsg), 0, fd,
		    ibuf_data(&imsg->data), len) == -1)
			return 0;	/* auditd is gone: shutting down */
		if (imsg_get_type(imsg) == IMSG_AUDIT_RING)
			pod.audit_on = 1;
		return 0;
	case IMSG_AUDIT_UNAVAILABLE:
		if (get_string(imsg, why, sizeof(why)) == -1)
			return -1;
		if (!pod.audit_warned++)
			log_warnx("warning: audit: %s; running without the "
			    "eBPF audit", why);
		return 0;
	case IMSG_AUDIT_SYSCALLS:
		/* auditd built it from kernel records: checked anyway. */
		return pod_event_check(imsg, "syscalls");
	case IMSG_AUDIT_DONE:
		if (imsg_get_peerid(imsg) != POD_ID || pod.audit_done ||
		    !pod.audit_end_sent ||
		    imsg_get_data(imsg, &done, sizeof(done)) == -1)
			return -1;
		pod.audit_done = 1;
		if (pod.audit_timer != NULL)
			evtimer_del(pod.audit_timer);
		if (done.lost > 0)
			log_warnx("warning: audit: %llu records lost: the ring "
			    "buffer was full", (unsigned long long)done.lost);
		if (done.syslog_dropped > 0)
			log_warnx("warning: audit: %llu records not taken by "
			    "syslog (in the --audit-log file if given)",
			    (unsigned long long)done.syslog_dropped);
		log_debug("audit: %llu records of the pod",
		    (unsigned long long)done.records);
		pod_maybe_done();
		return 0;
	}
	return -1;
}

/*
 * The pod is gone, so all its records are in the ring, and the proxy
 * has sent its last net events: auditd drains the ring and says when it
 * is done (or the run ends without, after a while).
 */
static void
pod_audit_end(void)
{
	struct timeval	tv = { 5, 0 };

	if (!pod.audit_on || pod.audit_end_sent)
		return;
	pod.audit_end_sent = 1;
	if (proc_compose(PROC_AUDITD, IMSG_AUDIT_POD_END, POD_ID, -1, NULL,
	    0) == -1) {
		pod.audit_done = 1;
		return;
	}
	if ((pod.audit_timer = evtimer_new(parent_env.base, pod_audit_timeout,
	    NULL)) == NULL)
		fatal("evtimer_new");
	evtimer_add(pod.audit_timer, &tv);
}

static void
pod_audit_timeout(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	log_warnx("warning: audit: auditd did not finish the pod's records "
	    "in time");
	pod.audit_done = 1;
	pod_maybe_done();
}

static void
pod_imsg_handler(int fd, short events, void *arg)
{
	struct imsg	 imsg;
	int		 n;

	(void)fd;
	(void)arg;
	if ((n = imsgev_handle_io(&pod.iev, events)) <= 0) {
		imsgev_clear(&pod.iev);
		/*
		 * The sandbox process says why first if it killed the relay
		 * (a refused pod), on its own channel: its SANDBOX_GONE,
		 * which follows the reason, decides.
		 */
		if (!pod.exited && pod.failed_code == 0 && !pod.gone) {
			if (!proc_blame_dead())
				pod.relay_lost = 1;
		} else if (!pod.exited && pod.failed_code == 0)
			proc_fail("relay process died unexpectedly");
		else
			pod_maybe_done();
		return;
	}
	for (;;) {
		if ((n = imsg_get(&pod.iev.ibuf, &imsg)) == -1) {
			imsgev_clear(&pod.iev);
			proc_fail("relay sent a malformed message");
			return;
		}
		if (n == 0)
			break;
		if (pod_dispatch(&imsg) == -1) {
			log_warnx("relay sent an unexpected %s",
			    imsg_type_name(imsg_get_type(&imsg)));
			imsg_free(&imsg);
			imsgev_clear(&pod.iev);
			proc_fail("relay process misbehaved");
			return;
		}
		imsg_free(&imsg);
		/* serve's stdout is behind: the rest waits (pod_pause). */
		if (pod.paused)
			break;
	}
	imsgev_add(&pod.iev);
}

/*
 * The normalised policy, as policyd made it: the policy-loaded event of
 * the embedding API; logged when debugging.  Not parsed here.
 */
void
pod_policy_loaded(struct imsg *imsg)
{
	size_t	len = imsg_get_len(imsg);

	if (parent_env.rc->cmd == CMD_SERVE)
		serve_policy_loaded(ibuf_data(&imsg->data), len);
	if (log_getverbose() > 0)
		log_debug("policy-loaded: %.*s", len > 4000 ? 4000 : (int)len,
		    (const char *)ibuf_data(&imsg->data));
}

/* Backstop: remove the pod's names, whoever died. */
void
pod_cleanup_files(void)
{
	int	rundirfd, shmdirfd;

	if (parent_env.podid[0] == '\0')
		return;
	rundirfd = open(PATH_RUNDIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
	shmdirfd = open(PATH_SHMDIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rundirfd != -1 && shmdirfd != -1 &&
	    pod_unlink_names(rundirfd, shmdirfd, parent_env.podid) == -1)
		log_warn("removing the pod's names");
	if (rundirfd != -1)
		close(rundirfd);
	if (shmdirfd != -1)
		close(shmdirfd);
}
