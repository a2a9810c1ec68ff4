/*
 * libpodrunner: podrunner serve as a child process, and its JSON-lines
 * protocol (see podrunner.h and libpodrunner.3).
 *
 * The embedding process keeps no privilege of ours and runs no daemon:
 * it forks and executes "podrunner serve" with three pipes.  Requests go
 * down the child's standard input, one JSON object a line; events come
 * up its standard output, one a line; its standard error carries its
 * own diagnostics, which we pass on as log events.
 *
 * Descriptors, all close-on-exec in this process:
 *
 *	in	the child's stdin, non-blocking, written under wlock
 *	out	the child's stdout, non-blocking, read under rlock
 *	err	the child's stderr (when captured), as out
 *	pidfd	the child, readable once it has exited; it is reaped
 *		through it (waitid P_PIDFD), so a pid reused after someone
 *		else reaped it is never signalled or waited for
 *	evfd	an eventfd: lines were read by a writer (below) and wait
 *		for podrunner_dispatch
 *	epfd	an epoll set of the four, what podrunner_fd() gives the
 *		caller's event loop: one descriptor to watch
 *
 * Locks: wlock serialises writers (send_code, interrupt, stop), rlock
 * readers (dispatch, wait, start, stop), which run the callback.  The
 * order is rlock, then wlock; a writer only ever tries rlock.  A writer
 * whose request does not fit in the pipe (a large submission while
 * podrunner is blocked writing events we have not read) would wait
 * forever for a reader that is itself: so a writer that holds rlock
 * (inside a callback) or gets it reads the events into the buffer
 * meanwhile, and the eventfd tells the event loop they are there.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "podrunner.h"
#include "prevent.h"

#ifndef PODRUNNER_PATH
#define PODRUNNER_PATH		"/usr/local/bin/podrunner"
#endif

#define LINE_MAX_LEN		(16U << 20)	/* longer lines are dropped */
#define READ_MAX		(1U << 20)	/* per descriptor per dispatch */
/* SIGTERM, then SIGKILL: serve gives its worker 2 s before it kills the
 * pod, then cleans up. */
#define TERM_GRACE_MS		5000
#define WRITER_POLL_MS		20	/* a writer waiting for a reader */
#define READER_POLL_MS		100	/* a writer reading, in a callback */
#define NRESULTS		1024	/* submissions' ends remembered */

extern char **environ;

/* The life of a handle; only ever goes forward. */
enum pr_state {
	PR_NEW = 0,	/* nothing spawned */
	PR_RUNNING,	/* spawned, "start" sent */
	PR_EXITED	/* reaped, every event delivered */
};

struct buf {
	char		*data;
	size_t		 len;
	size_t		 cap;
	int		 eof;
	int		 skipping;	/* dropping the rest of a long line */
};

struct podrunner {
	char			*bin;
	char			**argv;
	char			**envp;
	int			 stderr_mode;

	pthread_mutex_t		 rlock;
	pthread_mutex_t		 wlock;

	/* rlock */
	podrunner_event_cb	 cb;
	void			*cbarg;
	int			 out, err, pidfd;
	struct buf		 obuf, ebuf;
	char			*line;		/* the line being delivered */
	size_t			 linecap;
	int			 ready;
	int			 exited;	/* reaped */
	int			 status;	/* its exit status, -1: unknown */
	int			 exit_code;	/* from the exit event, or -1 */
	/*
	 * Ended submissions: every id up to done_id, and those above it in
	 * results (ends come in order, but a refusal may come at once).
	 */
	int64_t			 done_id;
	int64_t			 started_id;	/* last exec_start's id */
	struct result {
		int64_t		 id;
		int		 code;		/* exit code, or -1 */
		char		*refused;	/* serve's error, or NULL */
	}			 results[NRESULTS];
	char			 lastlog[512];

	/* wlock */
	int			 in;		/* -1 once stop was asked */
	int			 partial;	/* a request half written */
	int64_t			 next_id;

	/* atomic */
	int			 state;
	int			 stopping;	/* a stop was asked */
	int			 gone;		/* it has exited: writers give up */
	int64_t			 last_id;	/* the last id handed out */
	pid_t			 pid;

	/* constant from podrunner_new to podrunner_free */
	int			 epfd;
	int			 evfd;
};

/*
 * The handles whose rlock this thread holds, innermost last (a callback
 * of one handle may read another's events): a reader called from a
 * callback is refused, not deadlocked, and a writer inside a callback
 * reads on itself.
 */
#define MAXHELD		8
static __thread struct podrunner	*held[MAXHELD];
static __thread int			 nheld;
static __thread char		 errbuf[1024];

static int	seterr(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	syserr(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static int	holding(struct podrunner *);
static int	read_enter(struct podrunner *);
static int	read_tryenter(struct podrunner *);
static void	read_leave(struct podrunner *);
static char	*xstrdup(const char *, int *);
static int	build_argv(struct podrunner *, const struct podrunner_options *);
static int	build_envp(struct podrunner *, const struct podrunner_options *);
static char	*base64(const char *);
static const char *find_binary(const struct podrunner_options *);
static int	spawn(struct podrunner *);
static void	spawn_child(struct podrunner *, int, int, int, int, pid_t)
		    __attribute__((noreturn));
static ssize_t	write_nosigpipe(int, const void *, size_t);
static int	write_request(struct podrunner *, const char *, size_t);
static void	close_input(struct podrunner *);
static int	fill(struct podrunner *, int *, struct buf *, size_t);
static void	drain(struct podrunner *);
static int	deliver(struct podrunner *, struct buf *, int, int);
static void	deliver_line(struct podrunner *, const char *, size_t, int);
static void	deliver_invalid(struct podrunner *, const char *);
static void	track(struct podrunner *, const struct podrunner_event *);
static void	ended(struct podrunner *, int64_t, int, const char *);
static int	dispatch_locked(struct podrunner *);
static void	reap(struct podrunner *);
static int	run_until(struct podrunner *, int (*)(struct podrunner *,
		    int64_t), int64_t, int);
static int	until_ready(struct podrunner *, int64_t);
static int	until_done(struct podrunner *, int64_t);
static int	until_exited(struct podrunner *, int64_t);
static int	terminate(struct podrunner *);
static int	exit_status(struct podrunner *);
static int64_t	now_ms(void);

/* --- errors ------------------------------------------------------------ */

static int
seterr(int code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return code;
}

/* PODRUNNER_ESYS, with errno's words after the message. */
static int
syserr(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;
	size_t	n;

	va_start(ap, fmt);
	(void)vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	n = strlen(errbuf);
	(void)snprintf(errbuf + n, sizeof(errbuf) - n, ": %s",
	    strerror(saved));
	errno = saved;
	return PODRUNNER_ESYS;
}

const char *
podrunner_error(struct podrunner *pr)
{
	(void)pr;
	return errbuf[0] != '\0' ? errbuf : "no error";
}

const char *
podrunner_strerror(int code)
{
	switch (code) {
	case PODRUNNER_OK:
		return "success";
	case PODRUNNER_ESYS:
		return "system call failed";
	case PODRUNNER_EINVAL:
		return "invalid argument";
	case PODRUNNER_ESTATE:
		return "not possible in this state";
	case PODRUNNER_ETIMEDOUT:
		return "timed out";
	case PODRUNNER_EEXITED:
		return "podrunner serve has exited";
	case PODRUNNER_EBUSY:
		return "called from an event callback";
	case PODRUNNER_EREFUSED:
		return "podrunner refused the submission";
	}
	return code > 0 ? "success" : "unknown error";
}

const char *
podrunner_default_path(void)
{
	return PODRUNNER_PATH;
}

/* --- the reader's lock ---------------------------------------------------- */

static int
holding(struct podrunner *pr)
{
	int	i;

	for (i = 0; i < nheld; i++)
		if (held[i] == pr)
			return 1;
	return 0;
}

static int
read_enter(struct podrunner *pr)
{
	if (holding(pr))
		return seterr(PODRUNNER_EBUSY, "a podrunner handle's events "
		    "cannot be read from its own event callback");
	if (nheld == MAXHELD)
		return seterr(PODRUNNER_EBUSY, "podrunner callbacks nested "
		    "%d deep", MAXHELD);
	(void)pthread_mutex_lock(&pr->rlock);
	held[nheld++] = pr;
	return PODRUNNER_OK;
}

/* 1 if this thread now holds rlock, 0 if another does. */
static int
read_tryenter(struct podrunner *pr)
{
	if (nheld == MAXHELD || pthread_mutex_trylock(&pr->rlock) != 0)
		return 0;
	held[nheld++] = pr;
	return 1;
}

static void
read_leave(struct podrunner *pr)
{
	nheld--;
	(void)pthread_mutex_unlock(&pr->rlock);
}

/* --- the handle ---------------------------------------------------------- */

static char *
xstrdup(const char *s, int *failed)
{
	char	*p;

	if (s == NULL)
		return NULL;
	if ((p = strdup(s)) == NULL)
		*failed = 1;
	return p;
}

struct podrunner *
podrunner_new(const struct podrunner_options *opts)
{
	static const struct podrunner_options	 defaults;
	struct podrunner			*pr;
	struct epoll_event			 ev;

	if (opts == NULL)
		opts = &defaults;
	if (opts->policy_path != NULL && opts->policy_json != NULL) {
		(void)seterr(PODRUNNER_EINVAL, "policy_path and policy_json "
		    "both given: one policy document");
		errno = EINVAL;
		return NULL;
	}
	if (opts->stderr_mode != PODRUNNER_STDERR_CAPTURE &&
	    opts->stderr_mode != PODRUNNER_STDERR_INHERIT) {
		(void)seterr(PODRUNNER_EINVAL, "stderr_mode %d: not "
		    "PODRUNNER_STDERR_CAPTURE or _INHERIT", opts->stderr_mode);
		errno = EINVAL;
		return NULL;
	}
	if ((pr = calloc(1, sizeof(*pr))) == NULL) {
		(void)syserr("podrunner_new");
		return NULL;
	}
	pr->in = pr->out = pr->err = pr->pidfd = pr->epfd = pr->evfd = -1;
	pr->status = pr->exit_code = -1;
	pr->pid = -1;
	pr->stderr_mode = opts->stderr_mode;
	(void)pthread_mutex_init(&pr->rlock, NULL);
	(void)pthread_mutex_init(&pr->wlock, NULL);

	if (build_argv(pr, opts) != PODRUNNER_OK ||
	    build_envp(pr, opts) != PODRUNNER_OK)
		goto fail;
	if ((pr->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (pr->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		(void)syserr("podrunner_new: epoll or eventfd");
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = pr->evfd;
	if (epoll_ctl(pr->epfd, EPOLL_CTL_ADD, pr->evfd, &ev) == -1) {
		(void)syserr("podrunner_new: epoll_ctl");
		goto fail;
	}
	return pr;

 fail:
	podrunner_free(pr);
	return NULL;
}

/* The binary: the options', $PODRUNNER, or the installed one. */
static const char *
find_binary(const struct podrunner_options *opts)
{
	const char	*p;

	if (opts->podrunner != NULL)
		return opts->podrunner;
	/* Not from the environment of a set-user-ID program. */
	if ((p = secure_getenv("PODRUNNER")) != NULL && *p != '\0')
		return p;
	return PODRUNNER_PATH;
}

/*
 * podrunner serve's command line, made once: sizes in bytes, the
 * timeout in milliseconds, the CPUs in hundredths, as podrunner parses
 * them.  Values are checked by podrunner, which exits 125 with a usage
 * message that start reports.
 */
static int
build_argv(struct podrunner *pr, const struct podrunner_options *opts)
{
	char		 num[64];
	size_t		 n = 0, nflags = 0, i;
	int		 failed = 0;

	if (opts->flags != NULL)
		while (opts->flags[nflags] != NULL)
			nflags++;
	if (opts->cpus < 0 || opts->cpus != opts->cpus || opts->cpus > 1024)
		return seterr(PODRUNNER_EINVAL, "cpus %g: not between 0 "
		    "and 1024", opts->cpus);
	if (opts->worker != NULL && *opts->worker == '\0')
		return seterr(PODRUNNER_EINVAL, "worker: empty");
	/* serve, 6 options with a value, --no-sandbox, flags, NULL */
	if ((pr->argv = calloc(2 + 2 * 7 + 1 + nflags + 1,
	    sizeof(char *))) == NULL)
		return syserr("podrunner_new");
	pr->bin = xstrdup(find_binary(opts), &failed);
	pr->argv[n++] = xstrdup(pr->bin, &failed);
	pr->argv[n++] = xstrdup("serve", &failed);
#define OPT(name, value) do {						\
	pr->argv[n++] = xstrdup(name, &failed);				\
	pr->argv[n++] = xstrdup(value, &failed);			\
} while (0)
	if (opts->worker != NULL)
		OPT("--worker", opts->worker);
	if (opts->policy_path != NULL)
		OPT("--policy", opts->policy_path);
	if (opts->shm_size != 0) {
		(void)snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)opts->shm_size);
		OPT("--shm-size", num);
	}
	if (opts->memory != 0) {
		(void)snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)opts->memory);
		OPT("--memory", num);
	}
	if (opts->cpus != 0) {
		(void)snprintf(num, sizeof(num), "%.2f", opts->cpus);
		OPT("--cpus", num);
	}
	if (opts->pids != 0) {
		(void)snprintf(num, sizeof(num), "%u", opts->pids);
		OPT("--pids", num);
	}
	if (opts->timeout_ms != 0) {
		(void)snprintf(num, sizeof(num), "%ums", opts->timeout_ms);
		OPT("--timeout", num);
	}
#undef OPT
	if (opts->no_sandbox)
		pr->argv[n++] = xstrdup("--no-sandbox", &failed);
	for (i = 0; i < nflags; i++)
		pr->argv[n++] = xstrdup(opts->flags[i], &failed);
	pr->argv[n] = NULL;
	if (failed)
		return syserr("podrunner_new");
	return PODRUNNER_OK;
}

/*
 * The child's environment, made now (nothing is allocated between fork
 * and exec): the given one or ours, and the policy document as
 * POD_POLICY_JSON.  Another POD_POLICY_JSON is left out when the
 * options name a document, and one inherited from ours when they name
 * a file (podrunner refuses both at once): the options say which.
 */
static int
build_envp(struct podrunner *pr, const struct podrunner_options *opts)
{
	const char *const	*src;
	size_t			 n = 0, i, j = 0;
	int			 failed = 0;

	src = opts->env != NULL ? opts->env : (const char *const *)environ;
	if (src != NULL)
		while (src[n] != NULL)
			n++;
	if ((pr->envp = calloc(n + 2, sizeof(char *))) == NULL)
		return syserr("podrunner_new");
	for (i = 0; i < n; i++) {
		if (strncmp(src[i], "POD_POLICY_JSON=", 16) == 0 &&
		    (opts->policy_json != NULL ||
		    (opts->policy_path != NULL && opts->env == NULL)))
			continue;
		pr->envp[j++] = xstrdup(src[i], &failed);
	}
	if (opts->policy_json != NULL) {
		if ((pr->envp[j] = base64(opts->policy_json)) == NULL)
			failed = 1;
		else
			j++;
	}
	pr->envp[j] = NULL;
	if (failed)
		return syserr("podrunner_new");
	return PODRUNNER_OK;
}

/* "POD_POLICY_JSON=" and s in base64 (RFC 4648, padded). */
static char *
base64(const char *s)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char	 var[] = "POD_POLICY_JSON=";
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len = strlen(s), i;
	char			*out, *o;
	unsigned		 v;

	if (len > SIZE_MAX / 2 ||
	    (out = malloc(sizeof(var) + (len + 2) / 3 * 4)) == NULL)
		return NULL;
	memcpy(out, var, sizeof(var) - 1);
	o = out + sizeof(var) - 1;
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (i < len) {
		v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

void
podrunner_on_event(struct podrunner *pr, podrunner_event_cb cb, void *arg)
{
	int	mine = holding(pr);

	if (!mine)
		(void)pthread_mutex_lock(&pr->rlock);
	pr->cb = cb;
	pr->cbarg = arg;
	if (!mine)
		(void)pthread_mutex_unlock(&pr->rlock);
}

void
podrunner_free(struct podrunner *pr)
{
	size_t	i;

	if (pr == NULL)
		return;
	/* Done with it: stopped at once, no more events delivered. */
	if (__atomic_load_n(&pr->state, __ATOMIC_ACQUIRE) == PR_RUNNING &&
	    read_enter(pr) == PODRUNNER_OK) {
		pr->cb = NULL;
		(void)terminate(pr);
		read_leave(pr);
	}
	if (pr->in != -1)
		(void)close(pr->in);
	if (pr->out != -1)
		(void)close(pr->out);
	if (pr->err != -1)
		(void)close(pr->err);
	if (pr->pidfd != -1)
		(void)close(pr->pidfd);
	if (pr->epfd != -1)
		(void)close(pr->epfd);
	if (pr->evfd != -1)
		(void)close(pr->evfd);
	if (pr->argv != NULL)
		for (i = 0; pr->argv[i] != NULL; i++)
			free(pr->argv[i]);
	if (pr->envp != NULL)
		for (i = 0; pr->envp[i] != NULL; i++)
			free(pr->envp[i]);
	free(pr->argv);
	free(pr->envp);
	free(pr->bin);
	free(pr->obuf.data);
	free(pr->ebuf.data);
	free(pr->line);
	for (i = 0; i < NRESULTS; i++)
		free(pr->results[i].refused);
	(void)pthread_mutex_destroy(&pr->rlock);
	(void)pthread_mutex_destroy(&pr->wlock);
	free(pr);
}

int
podrunner_fd(struct podrunner *pr)
{
	return pr->epfd;
}

int
podrunner_pid(struct podrunner *pr)
{
	return __atomic_load_n(&pr->pid, __ATOMIC_ACQUIRE);
}

/* --- spawning ------------------------------------------------------------ */

/*
 * fork and exec podrunner serve.  The child only makes async-signal-safe
 * calls (the embedder may have threads); an exec that fails sends its
 * errno up a close-on-exec pipe, so that "not found" is our error, not
 * an exit status.
 */
static int
spawn(struct podrunner *pr)
{
	struct epoll_event	 ev;
	int			 in[2], out[2], err[2] = { -1, -1 }, xp[2];
	int			 e, saved, fds[3], i;
	pid_t			 parent = getpid(), pid;
	ssize_t			 n;

	if (pipe2(in, O_CLOEXEC) == -1)
		return syserr("pipe");
	if (pipe2(out, O_CLOEXEC) == -1) {
		saved = errno;
		goto fail_in;
	}
	if (pr->stderr_mode == PODRUNNER_STDERR_CAPTURE &&
	    pipe2(err, O_CLOEXEC) == -1) {
		saved = errno;
		goto fail_out;
	}
	if (pipe2(xp, O_CLOEXEC) == -1) {
		saved = errno;
		goto fail_err;
	}
	switch ((pid = fork())) {
	case -1:
		saved = errno;
		(void)close(xp[0]);
		(void)close(xp[1]);
		goto fail_err;
	case 0:
		spawn_child(pr, in[0], out[1], err[1], xp[1], parent);
	}
	(void)close(in[0]);
	(void)close(out[1]);
	if (err[1] != -1)
		(void)close(err[1]);
	(void)close(xp[1]);
	while ((n = read(xp[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	(void)close(xp[0]);
	if (n == sizeof(e)) {
		/* The exec failed: the child has exited 127. */
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		(void)close(in[1]);
		(void)close(out[0]);
		if (err[0] != -1)
			(void)close(err[0]);
		errno = e;
		return syserr("%s", pr->bin);
	}
	pr->in = in[1];
	pr->out = out[0];
	pr->err = err[0];
	__atomic_store_n(&pr->pid, pid, __ATOMIC_RELEASE);
	if ((pr->pidfd = pidfd_open(pid, 0)) == -1) {
		saved = errno;
		(void)kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		__atomic_store_n(&pr->pid, -1, __ATOMIC_RELEASE);
		errno = saved;
		return syserr("pidfd_open (Linux 5.3 or later is needed)");
	}
	fds[0] = pr->out;
	fds[1] = pr->err;
	fds[2] = pr->pidfd;
	for (i = 0; i < 3; i++) {
		if (fds[i] == -1)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.fd = fds[i];
		if ((i < 2 && fcntl(fds[i], F_SETFL, O_NONBLOCK) == -1) ||
		    epoll_ctl(pr->epfd, EPOLL_CTL_ADD, fds[i], &ev) == -1)
			goto undo;
	}
	if (fcntl(pr->in, F_SETFL, O_NONBLOCK) == -1)
		goto undo;
	return PODRUNNER_OK;

 undo:
	/* It runs: kill it, reap it, back to where we were. */
	saved = errno;
	(void)pidfd_send_signal(pr->pidfd, SIGKILL, NULL, 0);
	while (waitid(P_PIDFD, (id_t)pr->pidfd, NULL, WEXITED) == -1 &&
	    errno == EINTR)
		;
	for (i = 0; i < 3; i++)
		if (fds[i] != -1) {
			(void)epoll_ctl(pr->epfd, EPOLL_CTL_DEL, fds[i], NULL);
			(void)close(fds[i]);
		}
	(void)close(pr->in);
	pr->in = pr->out = pr->err = pr->pidfd = -1;
	__atomic_store_n(&pr->pid, -1, __ATOMIC_RELEASE);
	errno = saved;
	return syserr("spawning %s", pr->bin);

 fail_err:
	if (err[0] != -1) {
		(void)close(err[0]);
		(void)close(err[1]);
	}
 fail_out:
	(void)close(out[0]);
	(void)close(out[1]);
 fail_in:
	(void)close(in[0]);
	(void)close(in[1]);
	errno = saved;
	return syserr("spawning %s", pr->bin);
}

static void
spawn_child(struct podrunner *pr, int in, int out, int err, int xfd,
    pid_t parent)
{
	struct sigaction	 sa;
	sigset_t		 none;
	int			 e, sig;

	/*
	 * Dies with us.  SIGTERM, so that it ends its pod and cleans up.
	 * Our stdin pipe's end is the other lifeline: EOF is "stop".
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		goto fail;
	if (getppid() != parent)
		_exit(127);
	/* Its own process group: a ^C at our terminal is ours to handle. */
	(void)setpgid(0, 0);
	/* Above 2 first: a pipe's end may be 0, 1 or 2 itself. */
	if ((in = fcntl(in, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    (out = fcntl(out, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    (err != -1 && (err = fcntl(err, F_DUPFD_CLOEXEC, 3)) == -1))
		goto fail;
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 ||
	    (err != -1 && dup2(err, 2) == -1))
		goto fail;
	/*
	 * Nothing else of the embedder's goes to a root process: every
	 * descriptor above 2 close-on-exec (xfd too, until the exec).
	 */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
		goto fail;
	/* The signal state of a fresh process, not the embedder's. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(pr->bin, pr->argv, pr->envp);
 fail:
	e = errno;
	if (write(xfd, &e, sizeof(e)) == -1) {
		/* The parent then sees EOF, and exit status 127. */
	}
	_exit(127);
}

/* --- requests ------------------------------------------------------------ */

/*
 * write(2) without SIGPIPE: a podrunner that has gone must not kill the
 * embedder.  SIGPIPE is blocked in this thread for the call, and one it
 * raised is taken off again (unless one was pending already).
 */
static ssize_t
write_nosigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec	 zero;
	sigset_t			 pipeset, old, pending;
	ssize_t				 n;
	int				 was, saved;

	(void)sigemptyset(&pipeset);
	(void)sigaddset(&pipeset, SIGPIPE);
	(void)pthread_sigmask(SIG_BLOCK, &pipeset, &old);
	(void)sigpending(&pending);
	was = sigismember(&pending, SIGPIPE);
	n = write(fd, buf, len);
	saved = errno;
	if (n == -1 && saved == EPIPE && !was)
		(void)sigtimedwait(&pipeset, NULL, &zero);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

/*
 * One request line, all of it; called with wlock held.  A stop cuts it
 * short (the line stays unfinished: close_input then sends only EOF).
 */
static int
write_request(struct podrunner *pr, const char *buf, size_t len)
{
	struct pollfd	 pfd[3];
	size_t		 off = 0;
	ssize_t		 n;
	int		 reading, nfd, ms;

	if (pr->in == -1)
		return __atomic_load_n(&pr->state, __ATOMIC_ACQUIRE) ==
		    PR_EXITED ? seterr(PODRUNNER_EEXITED, "podrunner serve "
		    "has exited") : seterr(PODRUNNER_ESTATE, "podrunner "
		    "serve is stopping");
	while (off < len) {
		n = write_nosigpipe(pr->in, buf + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EPIPE) {
			pr->partial = off > 0;
			return seterr(PODRUNNER_EEXITED, "podrunner serve has "
			    "exited (its standard input is closed)");
		}
		if (n == -1 && errno != EAGAIN) {
			pr->partial = off > 0;
			return syserr("writing to podrunner serve");
		}
		if (__atomic_load_n(&pr->gone, __ATOMIC_ACQUIRE)) {
			/* A process of its may hold the pipe: no EPIPE. */
			pr->partial = off > 0;
			return seterr(PODRUNNER_EEXITED, "podrunner serve has "
			    "exited");
		}
		if (__atomic_load_n(&pr->stopping, __ATOMIC_ACQUIRE)) {
			pr->partial = off > 0;
			return seterr(PODRUNNER_ESTATE, "podrunner serve is "
			    "stopping");
		}
		/*
		 * The pipe is full.  Read podrunner's output meanwhile if
		 * no one else does: it may be blocked writing it.  Not
		 * for long at a time: a dispatcher waits for the lock.
		 */
		if ((reading = holding(pr)) == 0 && read_tryenter(pr))
			reading = 2;
		pfd[0].fd = pr->in;
		pfd[0].events = POLLOUT;
		nfd = 1;
		if (reading && pr->out != -1 && !pr->obuf.eof) {
			pfd[nfd].fd = pr->out;
			pfd[nfd++].events = POLLIN;
		}
		if (reading && pr->err != -1 && !pr->ebuf.eof) {
			pfd[nfd].fd = pr->err;
			pfd[nfd++].events = POLLIN;
		}
		ms = reading == 1 ? READER_POLL_MS : WRITER_POLL_MS;
		if (poll(pfd, (nfds_t)nfd, ms) == -1 && errno != EINTR) {
			if (reading == 2)
				read_leave(pr);
			pr->partial = off > 0;
			return syserr("poll");
		}
		if (reading)
			drain(pr);
		if (reading == 2)
			read_leave(pr);
	}
	return PODRUNNER_OK;
}

/* Read what podrunner wrote, for dispatch to deliver; rlock held. */
static void
drain(struct podrunner *pr)
{
	uint64_t	one = 1;

	(void)fill(pr, &pr->out, &pr->obuf, READ_MAX);
	(void)fill(pr, &pr->err, &pr->ebuf, READ_MAX);
	if (pr->obuf.len > 0 || pr->ebuf.len > 0 || pr->obuf.eof ||
	    pr->ebuf.eof)
		if (write(pr->evfd, &one, sizeof(one)) == -1) {
			/* It is non-zero already: enough. */
		}
}

int
podrunner_send_code(struct podrunner *pr, const char *code, int fresh,
    int64_t *idp)
{
	char	*line;
	size_t	 len;
	int64_t	 id;
	int	 rv;

	if (code == NULL)
		return seterr(PODRUNNER_EINVAL, "podrunner_send_code: no code");
	if (__atomic_load_n(&pr->state, __ATOMIC_ACQUIRE) == PR_NEW)
		return seterr(PODRUNNER_ESTATE, "podrunner_send_code: not "
		    "started");
	(void)pthread_mutex_lock(&pr->wlock);
	id = pr->next_id + 1;
	if ((line = pr_request_send(code, fresh, id, &len)) == NULL) {
		rv = errno == EILSEQ ? seterr(PODRUNNER_EINVAL,
		    "podrunner_send_code: the code is not UTF-8") :
		    syserr("podrunner_send_code");
		(void)pthread_mutex_unlock(&pr->wlock);
		return rv;
	}
	/*
	 * Taken before the write: another thread may read the
	 * submission's end before write() has returned here.  A failed
	 * write burns the id (serve is gone or stopping).
	 */
	pr->next_id = id;
	__atomic_store_n(&pr->last_id, id, __ATOMIC_RELEASE);
	if ((rv = write_request(pr, line, len)) == PODRUNNER_OK && idp != NULL)
		*idp = id;
	(void)pthread_mutex_unlock(&pr->wlock);
	free(line);
	return rv;
}

int
podrunner_interrupt(struct podrunner *pr)
{
	static const char	 req[] = "{\"op\":\"interrupt\"}\n";
	int			 rv;

	if (__atomic_load_n(&pr->state, __ATOMIC_ACQUIRE) == PR_NEW)
		return seterr(PODRUNNER_ESTATE, "podrunner_interrupt: not "
		    "started");
	(void)pthread_mutex_lock(&pr->wlock);
	rv = write_request(pr, req, sizeof(req) - 1);
	(void)pthread_mutex_unlock(&pr->wlock);
	return rv;
}

/*
 * "stop", then EOF, which serve takes as a stop too.  The request is
 * written only if it fits at once (a pipe takes a write of up to
 * PIPE_BUF bytes whole or not at all) and no request was left half
 * written: a stop never waits for a podrunner that does not read.
 * Idempotent.
 */
static void
close_input(struct podrunner *pr)
{
	static const char	 req[] = "{\"op\":\"stop\"}\n";

	__atomic_store_n(&pr->stopping, 1, __ATOMIC_RELEASE);
	(void)pthread_mutex_lock(&pr->wlock);
	if (pr->in != -1) {
		if (!pr->partial)
			(void)write_nosigpipe(pr->in, req, sizeof(req) - 1);
		(void)close(pr->in);
		pr->in = -1;
	}
	(void)pthread_mutex_unlock(&pr->wlock);
}

int
podrunner_request_stop(struct podrunner *pr)
{
	switch (__atomic_load_n(&pr->state, __ATOMIC_ACQUIRE)) {
	case PR_NEW:
		return seterr(PODRUNNER_ESTATE, "podrunner_request_stop: not "
		    "started");
	case PR_EXITED:
		return seterr(PODRUNNER_EEXITED, "podrunner serve has exited");
	}
	close_input(pr);
	return PODRUNNER_OK;
}

/* --- events ---------------------------------------------------------------- */

/*
 * Read up to max bytes of *fdp into b.  Returns the bytes read; at EOF
 * b->eof is set and the descriptor leaves the epoll set (a pipe at EOF
 * is always readable: the caller's loop would spin).
 */
static int
fill(struct podrunner *pr, int *fdp, struct buf *b, size_t max)
{
	size_t	 total = 0, want;
	ssize_t	 n;
	char	*p;

	if (*fdp == -1 || b->eof)
		return 0;
	while (total < max) {
		if (b->cap - b->len < 4096) {
			want = b->cap < 65536 ? 65536 : b->cap * 2;
			if ((p = realloc(b->data, want)) == NULL)
				break;	/* read it next time */
			b->data = p;
			b->cap = want;
		}
		n = read(*fdp, b->data + b->len, b->cap - b->len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;	/* EAGAIN; anything else shows as EOF soon */
		if (n == 0) {
			b->eof = 1;
			(void)epoll_ctl(pr->epfd, EPOLL_CTL_DEL, *fdp, NULL);
			break;
		}
		b->len += (size_t)n;
		total += (size_t)n;
	}
	return total > INT_MAX ? INT_MAX : (int)total;
}

/*
 * Deliver the complete lines of b (and at EOF the last, incomplete
 * one).  A callback may write a request, which may read more into b:
 * offsets, not pointers, and each line copied before it is delivered.
 * Returns the number delivered.
 */
static int
deliver(struct podrunner *pr, struct buf *b, int is_err, int flush)
{
	size_t	 pos = 0, n;
	char	*nl, *p;
	int	 count = 0;

	for (;;) {
		nl = b->len > pos ? memchr(b->data + pos, '\n',
		    b->len - pos) : NULL;
		if (nl == NULL) {
			if (b->len - pos > LINE_MAX_LEN && !b->skipping) {
				deliver_invalid(pr, "a line longer than "
				    "16 MiB, dropped");
				count++;
				b->skipping = 1;
			}
			if (b->skipping) {
				pos = b->len;
				break;
			}
			if (!flush || b->len == pos)
				break;
			n = b->len - pos;	/* the last line, unfinished */
		} else
			n = (size_t)(nl - (b->data + pos));
		if (b->skipping) {
			b->skipping = 0;
			pos += n + 1;
			continue;
		}
		if (n + 1 > pr->linecap) {
			if ((p = realloc(pr->line, n + 1)) == NULL) {
				deliver_invalid(pr, "out of memory: a line "
				    "dropped");
				count++;
				pos += n + (nl != NULL);
				continue;
			}
			pr->line = p;
			pr->linecap = n + 1;
		}
		memcpy(pr->line, b->data + pos, n);
		pr->line[n] = '\0';
		pos += n + (nl != NULL);
		deliver_line(pr, pr->line, n, is_err);
		count++;
	}
	if (pos > 0) {
		memmove(b->data, b->data + pos, b->len - pos);
		b->len -= pos;
	}
	return count;
}

static void
deliver_line(struct podrunner *pr, const char *line, size_t len, int is_err)
{
	struct podrunner_event	 ev;
	json_t			*root = NULL;
	char			 err[256];

	if (is_err) {
		/* The last "podrunner: " line says why it failed. */
		if (strncmp(line, "podrunner: ", 11) == 0 &&
		    strncmp(line, "podrunner: warning:", 19) != 0)
			(void)snprintf(pr->lastlog, sizeof(pr->lastlog), "%s",
			    line);
		pr_event_log(line, len, &ev);
	} else
		(void)pr_event_parse(line, len, &ev, &root, err, sizeof(err));
	track(pr, &ev);
	if (pr->cb != NULL)
		pr->cb(&ev, pr->cbarg);
	if (root != NULL)
		json_decref(root);
}

static void
deliver_invalid(struct podrunner *pr, const char *why)
{
	struct podrunner_event	ev;

	pr_event_log(why, strlen(why), &ev);
	ev.type = PODRUNNER_EVENT_INVALID;
	ev.type_name = "invalid";
	if (pr->cb != NULL)
		pr->cb(&ev, pr->cbarg);
}

/* What the blocking calls wait for. */
static void
track(struct podrunner *pr, const struct podrunner_event *ev)
{
	switch (ev->type) {
	case PODRUNNER_EVENT_READY:
		pr->ready = 1;
		break;
	case PODRUNNER_EVENT_EXIT:
		pr->exit_code = ev->exit_code;
		break;
	case PODRUNNER_EVENT_STATE:
		if (ev->state == PODRUNNER_STATE_EXEC_START &&
		    ev->id > pr->started_id)
			pr->started_id = ev->id;
		if (ev->state == PODRUNNER_STATE_EXEC_END)
			ended(pr, ev->id, ev->exit_code, NULL);
		break;
	case PODRUNNER_EVENT_ERROR:
		/*
		 * About a submission that has not started (they start in
		 * order): refused (too large, stopping...), its end.  One
		 * that has started may report an error (a frame of its
		 * worker's); its exec_end still comes.
		 */
		if (ev->id > pr->started_id)
			ended(pr, ev->id, -1, ev->data != NULL ? ev->data :
			    "refused");
		break;
	default:
		break;
	}
}

/*
 * Submission id (one of ours) has ended, with exit code code, or
 * refused, saying why.  done_id moves past every id that has.
 */
static void
ended(struct podrunner *pr, int64_t id, int code, const char *refused)
{
	struct result	*r;

	if (id <= pr->done_id ||
	    id > __atomic_load_n(&pr->last_id, __ATOMIC_ACQUIRE))
		return;
	r = &pr->results[id % NRESULTS];
	free(r->refused);
	r->id = id;
	r->code = code;
	/* Out of memory, a refusal is an end with exit code -1. */
	r->refused = refused != NULL ? strdup(refused) : NULL;
	while (pr->results[(pr->done_id + 1) % NRESULTS].id ==
	    pr->done_id + 1)
		pr->done_id++;
}

/*
 * Read and deliver what is there; once podrunner serve has exited,
 * everything it wrote, then reap it.  rlock held.  The number of
 * events, or PODRUNNER_EEXITED when there is nothing more to come.
 */
static int
dispatch_locked(struct podrunner *pr)
{
	struct pollfd	 pfd;
	uint64_t	 v;
	int		 count = 0, gone;

	switch (__atomic_load_n(&pr->state, __ATOMIC_ACQUIRE)) {
	case PR_NEW:
		return seterr(PODRUNNER_ESTATE, "not started");
	case PR_EXITED:
		return seterr(PODRUNNER_EEXITED, "podrunner serve has exited "
		    "with status %d", exit_status(pr));
	}
	if (read(pr->evfd, &v, sizeof(v)) == -1) {
		/* EAGAIN: nothing was read for us meanwhile. */
	}
	pfd.fd = pr->pidfd;
	pfd.events = POLLIN;
	gone = poll(&pfd, 1, 0) == 1;
	/*
	 * Once it is gone it has written all it will: read to the end (or
	 * to EAGAIN, if a process of its holds the pipe), deliver all.
	 */
	(void)fill(pr, &pr->out, &pr->obuf, READ_MAX);
	(void)fill(pr, &pr->err, &pr->ebuf, READ_MAX);
	if (gone) {
		while (fill(pr, &pr->out, &pr->obuf, READ_MAX) > 0)
			;
		while (fill(pr, &pr->err, &pr->ebuf, READ_MAX) > 0)
			;
	}
	count += deliver(pr, &pr->obuf, 0, pr->obuf.eof || gone);
	count += deliver(pr, &pr->ebuf, 1, pr->ebuf.eof || gone);
	if (gone) {
		reap(pr);
		if (count == 0)
			return seterr(PODRUNNER_EEXITED, "podrunner serve has "
			    "exited with status %d", exit_status(pr));
	}
	return count;
}

/* The child has exited: its status, and its descriptors closed. */
static void
reap(struct podrunner *pr)
{
	siginfo_t	si;

	memset(&si, 0, sizeof(si));
	while (waitid(P_PIDFD, (id_t)pr->pidfd, &si, WEXITED) == -1 &&
	    errno == EINTR)
		;
	if (si.si_pid != 0)
		pr->status = si.si_code == CLD_EXITED ? si.si_status :
		    128 + si.si_status;
	/* A writer waiting for room in the pipe gives up the lock. */
	__atomic_store_n(&pr->gone, 1, __ATOMIC_RELEASE);
	/* else someone reaped it (SIGCHLD ignored, a waitpid(-1)): the
	 * exit event's code is all we know. */
	(void)close(pr->pidfd);
	pr->pidfd = -1;
	if (pr->out != -1) {
		(void)close(pr->out);
		pr->out = -1;
	}
	if (pr->err != -1) {
		(void)close(pr->err);
		pr->err = -1;
	}
	(void)pthread_mutex_lock(&pr->wlock);
	if (pr->in != -1) {
		(void)close(pr->in);
		pr->in = -1;
	}
	(void)pthread_mutex_unlock(&pr->wlock);
	__atomic_store_n(&pr->pid, -1, __ATOMIC_RELEASE);
	pr->exited = 1;
	__atomic_store_n(&pr->state, PR_EXITED, __ATOMIC_RELEASE);
}

static int
exit_status(struct podrunner *pr)
{
	return pr->status != -1 ? pr->status : pr->exit_code;
}

int
podrunner_dispatch(struct podrunner *pr)
{
	int		rv;

	if ((rv = read_enter(pr)) != PODRUNNER_OK)
		return rv;
	rv = dispatch_locked(pr);
	read_leave(pr);
	return rv;
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Dispatch until done(pr, arg), for timeout_ms (< 0: no limit); rlock
 * held.  PODRUNNER_OK, PODRUNNER_EEXITED (done never came), or
 * PODRUNNER_ETIMEDOUT.
 */
static int
run_until(struct podrunner *pr, int (*done)(struct podrunner *, int64_t),
    int64_t arg, int timeout_ms)
{
	struct epoll_event	ev;
	int64_t			deadline = now_ms() + timeout_ms, left;
	int			rv;

	for (;;) {
		rv = dispatch_locked(pr);
		if (done(pr, arg))
			return PODRUNNER_OK;
		if (rv == PODRUNNER_EEXITED || pr->exited)
			return PODRUNNER_EEXITED;
		if (rv < 0)
			return rv;
		left = -1;
		if (timeout_ms >= 0 && (left = deadline - now_ms()) <= 0)
			return seterr(PODRUNNER_ETIMEDOUT, "timed out after "
			    "%d ms", timeout_ms);
		if (epoll_wait(pr->epfd, &ev, 1, left > INT_MAX ? INT_MAX :
		    (int)left) == -1 && errno != EINTR)
			return syserr("epoll_wait");
	}
}

static int
until_ready(struct podrunner *pr, int64_t arg)
{
	(void)arg;
	return pr->ready;
}

static int
until_done(struct podrunner *pr, int64_t id)
{
	return id <= pr->done_id || pr->results[id % NRESULTS].id == id;
}

static int
until_exited(struct podrunner *pr, int64_t arg)
{
	(void)arg;
	return pr->exited;
}

/* SIGTERM (it ends its pod), then SIGKILL; reaped either way. */
static int
terminate(struct podrunner *pr)
{
	close_input(pr);
	if (pr->exited)
		return PODRUNNER_OK;
	(void)pidfd_send_signal(pr->pidfd, SIGTERM, NULL, 0);
	if (run_until(pr, until_exited, 0, TERM_GRACE_MS) == PODRUNNER_OK)
		return PODRUNNER_OK;
	(void)pidfd_send_signal(pr->pidfd, SIGKILL, NULL, 0);
	return run_until(pr, until_exited, 0, -1);
}

/* --- the blocking calls ------------------------------------------------------ */

int
podrunner_start(struct podrunner *pr, int timeout_ms)
{
	static const char	 req[] = "{\"op\":\"start\"}\n";
	int			 rv;

	if ((rv = read_enter(pr)) != PODRUNNER_OK)
		return rv;
	if (__atomic_load_n(&pr->state, __ATOMIC_ACQUIRE) != PR_NEW) {
		rv = seterr(PODRUNNER_ESTATE, "podrunner_start: started "
		    "already");
		goto out;
	}
	if ((rv = spawn(pr)) != PODRUNNER_OK) {
		/* Nothing is left of it: the handle can try again. */
		goto out;
	}
	__atomic_store_n(&pr->state, PR_RUNNING, __ATOMIC_RELEASE);
	/* If it cannot be written, podrunner has exited: below says why. */
	(void)pthread_mutex_lock(&pr->wlock);
	(void)write_request(pr, req, sizeof(req) - 1);
	(void)pthread_mutex_unlock(&pr->wlock);
	if (timeout_ms == 0)
		goto out;
	rv = run_until(pr, until_ready, 0, timeout_ms);
	if (rv == PODRUNNER_OK)
		goto out;
	if (rv == PODRUNNER_ETIMEDOUT) {
		(void)terminate(pr);
		rv = seterr(PODRUNNER_ETIMEDOUT, "podrunner serve: the worker "
		    "was not ready within %d ms (killed)", timeout_ms);
	} else if (rv == PODRUNNER_EEXITED)
		rv = seterr(PODRUNNER_EEXITED, "podrunner serve exited with "
		    "status %d before the worker was ready%s%s",
		    exit_status(pr), pr->lastlog[0] != '\0' ? ": " : "",
		    pr->lastlog);
	else
		(void)terminate(pr);
 out:
	read_leave(pr);
	return rv;
}

int
podrunner_wait(struct podrunner *pr, int64_t id, int timeout_ms,
    int *exit_code)
{
	struct result	*r;
	int64_t		 last = __atomic_load_n(&pr->last_id, __ATOMIC_ACQUIRE);
	int		 rv;

	if (exit_code != NULL)
		*exit_code = -1;
	if (id == PODRUNNER_NOID)
		id = last;
	if (id < 1 || id > last)
		return seterr(PODRUNNER_EINVAL, "podrunner_wait: %lld is not "
		    "the id of a submission", (long long)id);
	if ((rv = read_enter(pr)) != PODRUNNER_OK)
		return rv;
	rv = run_until(pr, until_done, id, timeout_ms);
	r = &pr->results[id % NRESULTS];
	if (rv == PODRUNNER_OK && r->id == id && r->refused != NULL)
		rv = seterr(PODRUNNER_EREFUSED, "submission %lld refused: %s",
		    (long long)id, r->refused);
	else if (rv == PODRUNNER_OK) {
		if (exit_code != NULL && r->id == id)
			*exit_code = r->code;
	} else if (rv == PODRUNNER_EEXITED)
		rv = seterr(PODRUNNER_EEXITED, "podrunner serve exited with "
		    "status %d before submission %lld ended%s%s",
		    exit_status(pr), (long long)id,
		    pr->lastlog[0] != '\0' ? ": " : "", pr->lastlog);
	read_leave(pr);
	return rv;
}

int
podrunner_stop(struct podrunner *pr, int timeout_ms)
{
	int		rv;

	if (holding(pr))
		return seterr(PODRUNNER_EBUSY, "podrunner_stop cannot be "
		    "called from the handle's event callback");
	if (__atomic_load_n(&pr->state, __ATOMIC_ACQUIRE) == PR_NEW)
		return seterr(PODRUNNER_ESTATE, "podrunner_stop: not started");
	/* Asked first: a thread in podrunner_wait then sees the end and
	 * lets us read. */
	close_input(pr);
	if ((rv = read_enter(pr)) != PODRUNNER_OK)
		return rv;
	switch (__atomic_load_n(&pr->state, __ATOMIC_ACQUIRE)) {
	case PR_RUNNING:
		rv = run_until(pr, until_exited, 0, timeout_ms);
		if (rv == PODRUNNER_ETIMEDOUT) {
			(void)terminate(pr);
			rv = seterr(PODRUNNER_ETIMEDOUT, "podrunner serve did "
			    "not stop within %d ms (killed)", timeout_ms);
			goto out;
		}
		if (rv != PODRUNNER_OK && !pr->exited) {
			(void)terminate(pr);
			goto out;
		}
		break;
	}
	if ((rv = exit_status(pr)) < 0)
		rv = seterr(PODRUNNER_EEXITED, "podrunner serve has exited, "
		    "its status unknown (reaped by someone else)");
 out:
	read_leave(pr);
	return rv;
}
