/*
 * podrunner serve: one persistent pod, driven by JSON lines.  Requests
 * come on stdin from the embedder (trusted: the one who runs us), events
 * go to stdout, one per line (podrunner(1), SERVE PROTOCOL).
 *
 * The events about the worker are built by the relay (unprivileged; it
 * parses what the worker wrote) and copied out here after a check of
 * their framing; what the parent adds (ready, policy-loaded, memory,
 * syscalls, exit, errors about requests) it builds itself.
 */
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "parent.h"
#include "util.h"

/* A request line may carry code up to the data plane's largest frame,
 * escaped: beyond this it is refused without being kept. */
#define LINE_MAX_BYTES	(8 * 1024 * 1024)
/* Events queued for a slow reader before the pod's output waits. */
#define OUT_HIGH	(4 * 1024 * 1024)
#define OUT_LOW		(1024 * 1024)
/* A stopped worker has this long to exit before the pod is killed. */
#define STOP_GRACE_MS	2000

struct pending {
	STAILQ_ENTRY(pending)	 entry;
	json_t			*id;		/* NULL: none given */
	char			*text;		/* until the pod is started */
};

static struct {
	struct event		*ev_in, *ev_out;
	struct evbuffer		*in, *out;
	int			 out_nonblock;
	int			 final;		/* the exit event: write it all */
	unsigned long		 lineno;
	int			 discarding;	/* the rest of a long line */
	int			 eof;
	int			 start_wanted;	/* before the daemons were up */
	int			 started;	/* the pod was started */
	int			 stopping;
	int			 running;	/* the first submission started */
	int			 interrupt;	/* for it, once it starts */
	int			 stop_deferred;	/* stop before the pod started */
	struct event		*stop_timer;
	char			*policy;	/* policyd's normalised policy */
	size_t			 policy_len;
	STAILQ_HEAD(, pending)	 subs;		/* sent, exec_end to come */
	size_t			 nsubs;
	STAILQ_HEAD(, pending)	 mem;		/* memory asked for */
	STAILQ_HEAD(, pending)	 sys;		/* syscall counts asked for */
} sv;

static void	serve_read(int, short, void *);
static void	serve_write(int, short, void *);
static void	serve_line(const char *, size_t);
static void	serve_start(json_t *);
static void	serve_stop(void);
static void	stop_now(void);
static void	stop_reading(void);

static void
emit_text(const char *text, size_t len)
{
	if (evbuffer_add(sv.out, text, len) == -1 ||
	    evbuffer_add(sv.out, "\n", 1) == -1)
		fatalx("evbuffer_add");
	if (sv.out_nonblock)
		event_add(sv.ev_out, NULL);
	else
		serve_flush();
	if (evbuffer_get_length(sv.out) > OUT_HIGH)
		pod_pause(1);
}

static void
emit(json_t *ev)
{
	char	*text;

	if ((text = json_dumps(ev, JSON_COMPACT)) == NULL)
		fatalx("%s: json_dumps", __func__);
	json_decref(ev);
	emit_text(text, strlen(text));
	free(text);
}

static void
emit_error(json_t *id, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
emit_error(json_t *id, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];
	json_t	*ev;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ev = json_pack("{s:s, s:s}", "type", "error", "data", msg);
	if (id != NULL)
		json_object_set(ev, "id", id);
	emit(ev);
}

void
serve_init(void)
{
	struct stat	sb;
	int		fl;

	STAILQ_INIT(&sv.subs);
	STAILQ_INIT(&sv.mem);
	STAILQ_INIT(&sv.sys);
	if ((sv.in = evbuffer_new()) == NULL ||
	    (sv.out = evbuffer_new()) == NULL)
		fatalx("evbuffer_new");
	/* Ours to make non-blocking only if nobody else shares it: a
	 * pipe or a socket (the embedder's), not a terminal or a file. */
	if (fstat(STDOUT_FILENO, &sb) == 0 && (S_ISFIFO(sb.st_mode) ||
	    S_ISSOCK(sb.st_mode)) && (fl = fcntl(STDOUT_FILENO, F_GETFL)) !=
	    -1 && fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK) != -1)
		sv.out_nonblock = 1;
	if (fstat(STDIN_FILENO, &sb) == 0 && (S_ISFIFO(sb.st_mode) ||
	    S_ISSOCK(sb.st_mode) || S_ISCHR(sb.st_mode)) &&
	    (fl = fcntl(STDIN_FILENO, F_GETFL)) != -1)
		(void)fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK);
	if ((sv.ev_out = event_new(parent_env.base, STDOUT_FILENO, EV_WRITE,
	    serve_write, NULL)) == NULL)
		fatalx("event_new");
	if (S_ISREG(sb.st_mode)) {
		/* A file is always readable: read it all as it comes. */
		serve_read(STDIN_FILENO, EV_READ, NULL);
		return;
	}
	if ((sv.ev_in = event_new(parent_env.base, STDIN_FILENO,
	    EV_READ | EV_PERSIST, serve_read, NULL)) == NULL ||
	    event_add(sv.ev_in, NULL) == -1)
		fatalx("event_new stdin");
}

/* Write what is queued; blocking only where stdout is not ours. */
void
serve_flush(void)
{
	struct pollfd	pfd;
	int		n;

	while (evbuffer_get_length(sv.out) > 0) {
		if ((n = evbuffer_write(sv.out, STDOUT_FILENO)) > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			/* Until the end, the loop writes the rest; at the end,
			 * we wait for the reader, a while. */
			if (sv.out_nonblock && !sv.final)
				break;
			pfd.fd = STDOUT_FILENO;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, sv.final ? 5000 : -1);
			if (sv.final && !(pfd.revents & POLLOUT))
				break;
			continue;
		}
		/* The embedder went away: nobody to serve. */
		evbuffer_drain(sv.out, evbuffer_get_length(sv.out));
		if (!sv.stopping)
			serve_stop();
		break;
	}
	if (evbuffer_get_length(sv.out) > 0 && sv.out_nonblock && !sv.final)
		event_add(sv.ev_out, NULL);
	if (evbuffer_get_length(sv.out) < OUT_LOW)
		pod_pause(0);
}

static void
serve_write(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	serve_flush();
}

static void
serve_read(int fd, short ev, void *arg)
{
	struct evbuffer_ptr	 p;
	size_t			 len;
	char			*line;
	int			 n;

	(void)ev;
	(void)arg;
	for (;;) {
		n = evbuffer_read(sv.in, fd, 65536);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			sv.eof = 1;
			break;
		}
		if (sv.ev_in != NULL)
			break;	/* one read per wake-up: others get a turn */
	}
	for (;;) {
		p = evbuffer_search_eol(sv.in, NULL, &len, EVBUFFER_EOL_LF);
		if (p.pos == -1) {
			len = evbuffer_get_length(sv.in);
			if (len > LINE_MAX_BYTES) {
				if (!sv.discarding)
					emit_error(NULL, "request line %lu: "
					    "longer than %d bytes", sv.lineno + 1,
					    LINE_MAX_BYTES);
				sv.discarding = 1;
				evbuffer_drain(sv.in, len);
			}
			break;
		}
		len = (size_t)p.pos;
		sv.lineno++;
		if (sv.discarding) {
			sv.discarding = 0;
			evbuffer_drain(sv.in, len + 1);
			continue;
		}
		line = xmalloc(len + 1);
		evbuffer_remove(sv.in, line, len);
		evbuffer_drain(sv.in, 1);
		line[len] = '\0';
		serve_line(line, len);
		free(line);
	}
	if (!sv.eof)
		return;
	if ((len = evbuffer_get_length(sv.in)) > 0 && !sv.discarding) {
		/* A last line without its newline. */
		sv.lineno++;
		line = xmalloc(len + 1);
		evbuffer_remove(sv.in, line, len);
		line[len] = '\0';
		serve_line(line, len);
		free(line);
	}
	stop_reading();
	/* End of requests: as a stop. */
	serve_stop();
}

/* Only these members, per op: a typo is an error, not ignored. */
static int
members_ok(json_t *req, const char *const *allowed, const char **bad)
{
	const char	*key;
	json_t		*v;
	size_t		 i;

	json_object_foreach(req, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			*bad = key;
			return 0;
		}
	}
	return 1;
}

static void
serve_send(json_t *req, json_t *id)
{
	struct pending	*pd;
	json_t		*code = json_object_get(req, "code");
	json_t		*fresh = json_object_get(req, "fresh");
	json_t		*sub;
	char		*text;

	if (!json_is_string(code)) {
		emit_error(id, "request line %lu: send: \"code\" must be a "
		    "string", sv.lineno);
		return;
	}
	if (fresh != NULL && !json_is_boolean(fresh)) {
		emit_error(id, "request line %lu: send: \"fresh\" must be "
		    "true or false", sv.lineno);
		return;
	}
	if ((!sv.started && !sv.start_wanted) || sv.stopping ||
	    sv.stop_deferred) {
		emit_error(id, "request line %lu: send: %s", sv.lineno,
		    sv.stopping ? "the worker is stopping" :
		    "no worker: send {\"op\":\"start\"} first");
		return;
	}
	sub = json_pack("{s:O, s:b}", "code", code, "fresh",
	    json_is_true(fresh));
	if (id != NULL)
		json_object_set(sub, "id", id);
	if ((text = json_dumps(sub, JSON_COMPACT)) == NULL)
		fatalx("%s: json_dumps", __func__);
	json_decref(sub);
	if (strlen(text) + IMSG_HEADER_SIZE > POD_IMSG_MAX) {
		emit_error(id, "request line %lu: send: code of %zu bytes is "
		    "too large", sv.lineno, strlen(json_string_value(code)));
		free(text);
		return;
	}
	pd = xcalloc(1, sizeof(*pd));
	if ((pd->id = id) != NULL)
		json_incref(id);
	STAILQ_INSERT_TAIL(&sv.subs, pd, entry);
	sv.nsubs++;
	if (!sv.started) {
		/* Sent when the pod starts, in order. */
		pd->text = text;
		return;
	}
	if (sv.nsubs == 1)
		pod_timer(1);
	pod_send(text, strlen(text));
	free(text);
}

static void
serve_line(const char *line, size_t len)
{
	static const char *const start_keys[] = { "op", "id", NULL };
	static const char *const send_keys[] = { "op", "id", "code", "fresh",
	    NULL };
	json_error_t	 jerr;
	json_t		*req, *id;
	const char	*op, *bad = NULL;

	if (len == 0 || strspn(line, " \t\r") == len)
		return;		/* blank lines are allowed */
	if ((req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		emit_error(NULL, "request line %lu, column %d: %s", sv.lineno,
		    jerr.column, jerr.text);
		return;
	}
	id = json_object_get(req, "id");
	if (!json_is_object(req) || (op = json_string_value(
	    json_object_get(req, "op"))) == NULL) {
		emit_error(json_is_object(req) ? id : NULL, "request line %lu: "
		    "a request is an object with an \"op\" (start, send, "
		    "interrupt, stop)", sv.lineno);
		json_decref(req);
		return;
	}
	if (!members_ok(req, strcmp(op, "send") == 0 ? send_keys :
	    start_keys, &bad))
		emit_error(id, "request line %lu: %s: unknown member \"%.64s\"",
		    sv.lineno, op, bad);
	else if (strcmp(op, "start") == 0)
		serve_start(id);
	else if (strcmp(op, "send") == 0)
		serve_send(req, id);
	else if (strcmp(op, "interrupt") == 0) {
		/* The running submission, or the next when it starts. */
		if ((sv.started || sv.start_wanted) && sv.nsubs > 0) {
			if (sv.running)
				pod_interrupt();
			else
				sv.interrupt = 1;
		}
	} else if (strcmp(op, "stop") == 0)
		serve_stop();
	else
		emit_error(id, "request line %lu: unknown op \"%.64s\" (start, "
		    "send, interrupt, stop)", sv.lineno, op);
	json_decref(req);
}

static void
serve_start(json_t *id)
{
	if (sv.started || sv.start_wanted || sv.stopping) {
		emit_error(id, "request line %lu: start: %s", sv.lineno,
		    sv.stopping ? "stopping" : "already started");
		return;
	}
	/* Now, or once the daemons are configured. */
	sv.start_wanted = 1;
	if (parent_env.started)
		serve_configured();
}

/* Every daemon is configured: the pod starts if it was asked for. */
void
serve_configured(void)
{
	struct pending	*pd;
	json_t		*ev;

	if (!sv.start_wanted || sv.started || sv.stopping)
		return;
	sv.start_wanted = 0;
	sv.started = 1;
	if (sv.policy != NULL) {
		ev = json_pack("{s:s}", "type", "policy-loaded");
		json_object_set_new(ev, "data", json_loadb(sv.policy,
		    sv.policy_len, 0, NULL));
		emit(ev);
	}
	pod_start();
	/* What came while the daemons were being configured, in order. */
	STAILQ_FOREACH(pd, &sv.subs, entry) {
		if (pd->text == NULL)
			continue;
		pod_send(pd->text, strlen(pd->text));
		free(pd->text);
		pd->text = NULL;
	}
	if (sv.nsubs > 0)
		pod_timer(1);
	if (sv.stop_deferred)
		serve_stop();
}

static void
serve_kill(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	log_warnx("worker did not stop within %d ms: killed", STOP_GRACE_MS);
	pod_kill();
}

static void
serve_stop(void)
{
	if (sv.stopping)
		return;
	if (!sv.started && sv.start_wanted) {
		/* After the start and the sends before it. */
		sv.stop_deferred = 1;
		stop_reading();
		return;
	}
	sv.stopping = 1;
	stop_reading();
	if (!sv.started) {
		/* No pod: done at once. */
		sv.start_wanted = 0;
		proc_shutdown(serve_exit(0));
		return;
	}
	/* What was sent runs first (interrupt it to hurry). */
	if (sv.nsubs == 0)
		stop_now();
}

/* No more requests: the end of input, a stop, a cut-off worker. */
static void
stop_reading(void)
{
	if (sv.ev_in != NULL) {
		event_free(sv.ev_in);
		sv.ev_in = NULL;
	}
}

/* The pod is killed if it has not ended within STOP_GRACE_MS. */
static void
arm_kill(void)
{
	struct timeval	tv = { STOP_GRACE_MS / 1000,
			    (STOP_GRACE_MS % 1000) * 1000 };

	if (sv.stop_timer == NULL && (sv.stop_timer = evtimer_new(
	    parent_env.base, serve_kill, NULL)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(sv.stop_timer, &tv);
}

/* Tell the worker to exit; kill the pod if it does not. */
static void
stop_now(void)
{
	if (sv.stop_timer != NULL)
		return;
	pod_stop();
	arm_kill();
}

/*
 * The relay cut the worker off: it can run no more submissions.  It
 * exits by itself when it notices (70); if it does not, it is killed.
 */
void
serve_cut_off(void)
{
	sv.stopping = 1;
	stop_reading();
	arm_kill();
}

/* SIGINT, SIGTERM, SIGHUP: a stop; the second one kills. */
int
serve_signal(void)
{
	if (sv.stopping && sv.stop_timer != NULL)
		return 0;	/* the second: killed */
	serve_stop();
	if (sv.started)
		stop_now();
	return 1;
}

void
serve_policy_loaded(const char *text, size_t len)
{
	free(sv.policy);
	sv.policy = xmalloc(len + 1);
	memcpy(sv.policy, text, len);
	sv.policy[len] = '\0';
	sv.policy_len = len;
}

void
serve_ready(void)
{
	emit(json_pack("{s:s}", "type", "ready"));
}

/*
 * An event the relay built: copied out as it is.  The relay made it
 * with a JSON library; we check only that it is one line holding one
 * object, so that no worker can break the framing of our stdout.
 */
int
serve_pod_event(const char *text, size_t len)
{
	if (event_framed(text, len, NULL) == 0)
		return -1;
	emit_text(text, len);
	return 0;
}

/*
 * An event of a daemon's, {"type":"T",MEMBERS} (pod_event_check() saw
 * the framing and the type; rest is MEMBERS and the closing brace), as
 * {"type":"T","data":{MEMBERS}}: put together from the bytes, parsed
 * by nobody here.  The counts asked for after a submission come in
 * order and get its id; the last, at the pod's end, has none.
 */
void
serve_daemon_event(const char *type, const char *rest, size_t restlen)
{
	struct pending	*pd = NULL;
	char		*id = NULL, *text;
	int		 n;

	if (strcmp(type, "syscalls") == 0 &&
	    (pd = STAILQ_FIRST(&sv.sys)) != NULL) {
		STAILQ_REMOVE_HEAD(&sv.sys, entry);
		/* The client's own id, as its request had it: ours to dump. */
		if (pd->id != NULL && (id = json_dumps(pd->id, JSON_COMPACT |
		    JSON_ENCODE_ANY)) == NULL)
			fatalx("%s: json_dumps", __func__);
		json_decref(pd->id);
		free(pd);
	}
	n = xasprintf(&text, "{\"type\":\"%s\",\"data\":{%.*s%s%s}", type,
	    (int)restlen, rest, id != NULL ? ",\"id\":" : "",
	    id != NULL ? id : "");
	emit_text(text, (size_t)n);
	free(text);
	free(id);
}

int
serve_exec_start(void)
{
	if (sv.running || STAILQ_FIRST(&sv.subs) == NULL)
		return -1;
	sv.running = 1;
	if (sv.interrupt) {
		sv.interrupt = 0;
		pod_interrupt();
	}
	return 0;
}

/* A submission ended: its memory use is asked for. */
int
serve_exec_end(void)
{
	struct pending	*pd;

	if ((pd = STAILQ_FIRST(&sv.subs)) == NULL)
		return -1;
	sv.running = 0;
	sv.interrupt = 0;
	STAILQ_REMOVE_HEAD(&sv.subs, entry);
	if (--sv.nsubs == 0)
		pod_timer(0);
	else
		pod_timer(1);	/* the next one has its own time */
	STAILQ_INSERT_TAIL(&sv.mem, pd, entry);
	pod_memory();
	if (pod_syscalls()) {
		struct pending	*ps = xcalloc(1, sizeof(*ps));

		if ((ps->id = pd->id) != NULL)
			json_incref(ps->id);
		STAILQ_INSERT_TAIL(&sv.sys, ps, entry);
	}
	if (sv.nsubs == 0 && sv.stopping)
		stop_now();
	return 0;
}

int
serve_memory(const struct pod_memory *m)
{
	struct pending	*pd;
	json_t		*ev;

	if ((pd = STAILQ_FIRST(&sv.mem)) == NULL)
		return -1;
	STAILQ_REMOVE_HEAD(&sv.mem, entry);
	ev = json_pack("{s:s, s:{s:I, s:I, s:I}}", "type", "memory", "data",
	    "current", (json_int_t)m->current, "peak", (json_int_t)m->peak,
	    "limit", (json_int_t)m->limit);
	if (pd->id != NULL)
		json_object_set_new(ev, "id", pd->id);
	free(pd);
	emit(ev);
	return 0;
}

/* The pod is gone (or never came): the last event; our exit status. */
int
serve_exit(int code)
{
	json_t	*ev;

	if (sv.stop_timer != NULL)
		evtimer_del(sv.stop_timer);
	ev = json_pack("{s:s, s:{s:i}}", "type", "exit", "data", "code", code);
	sv.final = 1;
	emit(ev);
	serve_flush();
	return code;
}
