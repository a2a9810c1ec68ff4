/*
 * proxy: the egress proxy process (see proxy.h).  Unprivileged and
 * chrooted; everything that needs a file (the resolver's configuration
 * and /etc/hosts) is read before it confines itself.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
/* libbsd's tree.h marks the static functions it generates __unused. */
#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif
#include <sys/tree.h>

#include <ctype.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "http.h"
#include "policy.h"
#include "privsep.h"
#include "proto.h"
#include "proxy.h"
#include "util.h"

/* policyd's rule strings are at most this long (policyd.c). */
#define RULE_READ_MAX		8192
/* net events go to the parent in batches, at most this late */
#define EVENTS_DELAY_MS		10

/* A question to policyd waiting for its answer. */
struct ask {
	RB_ENTRY(ask)	 entry;
	uint32_t	 reqid;
	struct conn	*c;
	int		 idx;
};

static int	proxy_dispatch_parent(struct imsg *);
static void	proxy_policyd_read(int, short, void *);
static void	proxy_policyd_write(int, short, void *);
static void	proxy_policyd_closed(void);
static void	proxy_run(void);
static void	proxy_dns_init(void);
static void	proxy_dns_log(int, const char *);
static void	proxy_events_flush(int, short, void *);
static void	proxy_event_log(int, const char *);
static int	ask_cmp(struct ask *, struct ask *);
static void	ask_fail_all(void);
static int	pod_listen(struct imsg *);
static int	pod_forget(struct imsg *);
static void	pod_accept(int, short, void *);
static void	pod_resume(int, short, void *);

RB_HEAD(ask_tree, ask);
RB_PROTOTYPE_STATIC(ask_tree, ask, entry, ask_cmp);
RB_GENERATE_STATIC(ask_tree, ask, entry, ask_cmp);

static struct child		 proxy_child;
/*
 * policyd: a question per request and per address.  Its own persistent
 * events rather than imsgev's one-shot one (re-armed, two epoll_ctl
 * calls, after every message), and each question written at once.
 */
static struct {
	struct imsgbuf		 ibuf;
	struct event		*rev, *wev;
	int			 open;
	int			 gone;
} pd;
static struct ask_tree		 asks = RB_INITIALIZER(&asks);
static uint32_t			 last_reqid;
static TAILQ_HEAD(, pod)	 pods = TAILQ_HEAD_INITIALIZER(pods);

static struct event		*events_timer;
static const struct timeval	 events_delay = { 0, EVENTS_DELAY_MS * 1000 };

struct event_base		*proxy_base;
struct evdns_base		*proxy_dns;

/* Peers: the parent (configuration, pods, events), policyd (decisions). */

__dead void
proxy_main(void)
{
	struct privsep_user	pu;
	struct rlimit		rl;
	char			err[256];

	if (priv_lookup_user(&pu, err, sizeof(err)) == -1)
		fatalx("%s", err);
	child_init(&proxy_child, "proxy");
	proxy_child.policy = policy_new();
	proxy_child.dispatch = proxy_dispatch_parent;
	proxy_base = proxy_child.base;
	if ((events_timer = evtimer_new(proxy_base, proxy_events_flush,
	    NULL)) == NULL)
		fatalx("evtimer_new");
	proxy_dns_init();
	/*
	 * Two descriptors per connection, PROXY_CONNS_MAX connections per
	 * pod: the soft limit of 1024 is too low for a few busy pods.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
	priv_confine("proxy", &pu, NULL, 0);
	proxy_run();
	child_loop();
}

/*
 * The resolver: nameservers, options and /etc/hosts now, before the
 * chroot.  No default nameserver (127.0.0.1) when resolv.conf names
 * none, and no search list: a pod's "intranet" is resolved as it is
 * written, never as intranet.corp.example.
 */
static void
proxy_dns_init(void)
{
	int	r;

	evdns_set_log_fn(proxy_dns_log);
	event_set_log_callback(proxy_event_log);
	if ((proxy_dns = evdns_base_new(proxy_base, 0)) == NULL)
		fatalx("evdns_base_new");
	r = evdns_base_resolv_conf_parse(proxy_dns, DNS_OPTIONS_ALL |
	    DNS_OPTION_NAMESERVERS_NO_DEFAULT, "/etc/resolv.conf");
	if (r == 1)
		log_debug("/etc/resolv.conf missing: names resolve through "
		    "/etc/hosts only");
	else if (r != 0)
		log_warnx("/etc/resolv.conf: cannot parse it (error %d): names "
		    "resolve through /etc/hosts only", r);
	else if (evdns_base_count_nameservers(proxy_dns) == 0)
		log_debug("/etc/resolv.conf names no nameserver: names "
		    "resolve through /etc/hosts only");
	evdns_base_search_clear(proxy_dns);
}

static void
proxy_dns_log(int warn, const char *msg)
{
	if (warn)
		log_warnx("dns: %s", msg);
	else
		log_debug("dns: %s", msg);
}

static void
proxy_event_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/*
 * What the proxy needs beyond the daemon base set (common/privsep.c),
 * and a second filter, stacked, that narrows socket(2).
 */
static const int proxy_syscalls[] = {
	/* the pods' listening sockets: accepting their clients */
	SCMP_SYS(accept4),
	/* TCP to origins, UDP to the nameservers */
	SCMP_SYS(socket), SCMP_SYS(connect),
	/* connect results (SO_ERROR), TCP_NODELAY */
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
};

static void
proxy_run(void)
{
	scmp_filter_ctx	 ctx;
	int		 rc, d;

	/*
	 * socket(2) for IPv4 and IPv6 only: no AF_UNIX (syslog's reconnect
	 * gets EACCES, as in every daemon), netlink or packet sockets.  A
	 * filter of its own, loaded first (loading needs prctl(2) and
	 * seccomp(2), which the allowlist refuses); stacked filters all
	 * run and the strictest answer wins.
	 */
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		fatalx("proxy: seccomp_init");
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_LT, AF_INET));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
		    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_GT, AF_INET6));
	for (d = AF_INET + 1; rc == 0 && d < AF_INET6; d++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
		    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)d));
	if (rc != 0 || (rc = seccomp_load(ctx)) != 0)
		fatalx("proxy: seccomp: %s", strerror(-rc));
	seccomp_release(ctx);
	priv_seccomp_allowlist("proxy", proxy_syscalls,
	    sizeof(proxy_syscalls) / sizeof(proxy_syscalls[0]));
}

static int
proxy_dispatch_parent(struct imsg *imsg)
{
	uint32_t	peer;
	int		fd;

	switch (imsg_get_type(imsg)) {
	case IMSG_CFG_PEER:
		if (imsg_get_data(imsg, &peer, sizeof(peer)) == -1 ||
		    peer != PROC_POLICYD || pd.open || pd.gone ||
		    (fd = imsg_get_fd(imsg)) == -1)
			return -1;
		imsgbuf_init(&pd.ibuf, fd);
		if ((pd.rev = event_new(proxy_base, fd, EV_READ | EV_PERSIST,
		    proxy_policyd_read, NULL)) == NULL ||
		    (pd.wev = event_new(proxy_base, fd, EV_WRITE | EV_PERSIST,
		    proxy_policyd_write, NULL)) == NULL ||
		    event_add(pd.rev, NULL) == -1)
			fatalx("%s: event_new", __func__);
		pd.open = 1;
		return 0;
	case IMSG_PROXY_LISTEN:
		return pod_listen(imsg);
	case IMSG_PROXY_FORGET:
		return pod_forget(imsg);
	}
	return -1;
}

/* --- policyd --------------------------------------------------------- */

static int
ask_cmp(struct ask *a, struct ask *b)
{
	return a->reqid < b->reqid ? -1 : a->reqid > b->reqid;
}

int
proxy_ask(struct pod *pod, struct conn *c, int idx, int flags,
    const char *target, uint32_t *reqid)
{
	struct policy_req	 req;
	struct ibuf		*b;
	struct ask		*a;

	if (!pd.open)
		return -1;
	a = xcalloc(1, sizeof(*a));
	do {
		a->reqid = ++last_reqid;
	} while (a->reqid == 0 || RB_FIND(ask_tree, &asks, a) != NULL);
	a->c = c;
	a->idx = idx;
	memset(&req, 0, sizeof(req));
	req.reqid = a->reqid;
	req.kind = PERM_NET;
	req.flags = (uint8_t)flags;
	if ((b = ibuf_dynamic(sizeof(req) + 64, IMSG_DEFAULT_MAXSIZE)) ==
	    NULL || ibuf_add(b, &req, sizeof(req)) == -1 ||
	    ibuf_add_string(b, target) == -1 ||
	    imsg_compose_ibuf(&pd.ibuf, IMSG_POLICY_DECIDE, pod->id, 0, -1,
	    b) == -1)
		fatal("%s: compose", __func__);
	RB_INSERT(ask_tree, &asks, a);
	/*
	 * Written now; what the socket does not take waits for EV_WRITE.
	 * A broken channel is left to the read event: the caller is in the
	 * middle of a connection's step.
	 */
	if (imsgbuf_write(&pd.ibuf) == -1 && errno != EPIPE)
		log_warn("%s: write to policyd", __func__);
	if (imsgbuf_queuelen(&pd.ibuf) > 0)
		event_add(pd.wev, NULL);
	*reqid = a->reqid;
	return 0;
}

void
proxy_ask_cancel(uint32_t reqid)
{
	struct ask	key, *a;

	key.reqid = reqid;
	if ((a = RB_FIND(ask_tree, &asks, &key)) != NULL) {
		RB_REMOVE(ask_tree, &asks, a);
		free(a);
	}
}

/* policyd is gone: every question is answered with a denial. */
static void
ask_fail_all(void)
{
	struct ask	*a;
	struct conn	*c;
	int		 idx;

	while ((a = RB_MIN(ask_tree, &asks)) != NULL) {
		RB_REMOVE(ask_tree, &asks, a);
		c = a->c;
		idx = a->idx;
		free(a);
		conn_decided(c, idx, VERDICT_DENY, "policyd unavailable");
	}
}

static void
proxy_policyd_closed(void)
{
	/* The parent fails closed when a daemon dies: it names the dead
	 * one, so we do not die of it too.  Until then every request is
	 * denied. */
	if (RB_EMPTY(&asks))
		log_debug("policyd channel closed");
	else
		log_warnx("policyd channel closed: denying every request");
	event_free(pd.rev);
	event_free(pd.wev);
	imsgbuf_clear(&pd.ibuf);
	close(pd.ibuf.fd);
	pd.open = 0;
	pd.gone = 1;
	ask_fail_all();
}

static void
proxy_policyd_write(int fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (imsgbuf_write(&pd.ibuf) == -1 && errno != EPIPE) {
		/* EPIPE: the read side sees the end. */
		log_warn("write to policyd");
		proxy_policyd_closed();
		return;
	}
	if (imsgbuf_queuelen(&pd.ibuf) > 0)
		event_add(pd.wev, NULL);
	else
		event_del(pd.wev);
}

static void
proxy_policyd_read(int fd, short events, void *arg)
{
	struct policy_resp	 resp;
	struct imsg		 imsg;
	struct ibuf		 b;
	struct ask		 key, *a;
	struct conn		*c;
	char			*rule;
	ssize_t			 r;
	int			 n, idx;

	(void)fd;
	(void)events;
	(void)arg;
	if ((r = imsgbuf_read(&pd.ibuf)) == 0 || (r == -1 &&
	    errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		proxy_policyd_closed();
		return;
	}
	for (;;) {
		if ((n = imsg_get(&pd.ibuf, &imsg)) == -1)
			fatalx("malformed message from policyd");
		if (n == 0)
			break;
		rule = NULL;
		if (imsg_get_type(&imsg) != IMSG_POLICY_DECISION ||
		    imsg_get_ibuf(&imsg, &b) == -1 ||
		    ibuf_get(&b, &resp, sizeof(resp)) == -1 ||
		    ibuf_get_string(&b, &rule, RULE_READ_MAX) == -1 ||
		    ibuf_size(&b) != 0 || resp.verdict > VERDICT_WARN)
			fatalx("unexpected %s from policyd",
			    imsg_type_name(imsg_get_type(&imsg)));
		imsg_free(&imsg);
		key.reqid = resp.reqid;
		if ((a = RB_FIND(ask_tree, &asks, &key)) == NULL) {
			/* Timed out or its connection closed meanwhile. */
			log_debug("late answer %u from policyd", resp.reqid);
			free(rule);
			continue;
		}
		RB_REMOVE(ask_tree, &asks, a);
		c = a->c;
		idx = a->idx;
		free(a);
		conn_decided(c, idx, resp.verdict, rule);
		free(rule);
	}
}

/* --- pods ------------------------------------------------------------- */

static struct pod *
pod_find(uint32_t id)
{
	struct pod	*pod;

	TAILQ_FOREACH(pod, &pods, entry)
		if (pod->id == id)
			return pod;
	return NULL;
}

static int
pod_listen(struct imsg *imsg)
{
	struct proxy_pod	 pp;
	struct pod		*pod;
	size_t			 len, i;
	int			 fd, fl;

	if (!proxy_child.configured ||
	    imsg_get_data(imsg, &pp, sizeof(pp)) == -1 ||
	    pod_find(imsg_get_peerid(imsg)) != NULL)
		return -1;
	if (memchr(pp.podid, '\0', sizeof(pp.podid)) == NULL ||
	    (len = strlen(pp.podid)) == 0)
		return -1;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)pp.podid[i]) ||
		    isupper((unsigned char)pp.podid[i]))
			return -1;
	if ((fd = imsg_get_fd(imsg)) == -1)
		return -1;
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("%s: fcntl", __func__);
	pod = xcalloc(1, sizeof(*pod));
	pod->id = imsg_get_peerid(imsg);
	memcpy(pod->name, pp.podid, len + 1);
	pod->fd = fd;
	TAILQ_INIT(&pod->conns);
	pod->refilled = proxy_now_ms();
	pod->tokens = (uint64_t)proxy_child.policy->net_rate_limit * 1000;
	if ((pod->ev = event_new(proxy_base, fd, EV_READ | EV_PERSIST,
	    pod_accept, pod)) == NULL ||
	    (pod->resume = evtimer_new(proxy_base, pod_resume, pod)) == NULL ||
	    event_add(pod->ev, NULL) == -1)
		fatalx("%s: event", __func__);
	TAILQ_INSERT_TAIL(&pods, pod, entry);
	log_debug("pod %s: listening", pod->name);
	return 0;
}

static int
pod_forget(struct imsg *imsg)
{
	struct pod	*pod;

	if (imsg_get_len(imsg) != 0 ||
	    (pod = pod_find(imsg_get_peerid(imsg))) == NULL)
		return -1;
	log_debug("pod %s: forgotten, %u connections closed", pod->name,
	    pod->nconns);
	TAILQ_REMOVE(&pods, pod, entry);
	event_free(pod->ev);
	event_free(pod->resume);
	close(pod->fd);
	conn_free_all(pod);
	free(pod);
	/* The pod's last events, then the answer: the parent waits for
	 * it before it ends the run. */
	if (imsg_compose(&proxy_child.parent.ibuf, IMSG_PROXY_FORGET,
	    imsg_get_peerid(imsg), 0, -1, NULL, 0) == -1)
		fatal("%s: compose", __func__);
	evtimer_del(events_timer);
	proxy_events_flush(-1, 0, NULL);
	return 0;
}

static void
pod_accept(int lfd, short ev, void *arg)
{
	struct pod	*pod = arg;
	struct timeval	 tv = { 1, 0 };
	int		 fd, i;

	(void)ev;
	for (i = 0; i < 64; i++) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				break;
			/* Out of descriptors or memory: pause a second. */
			log_warn("pod %s: accept", pod->name);
			event_del(pod->ev);
			evtimer_add(pod->resume, &tv);
			break;
		}
		if (pod->nconns < PROXY_CONNS_MAX) {
			pod->full_logged = 0;
			conn_new(pod, fd);
			continue;
		}
		if (!pod->full_logged)
			log_warnx("net pod=%s: %d connections, refusing more "
			    "(503)", pod->name, PROXY_CONNS_MAX);
		pod->full_logged = 1;
		if (pod->nrefused < PROXY_REFUSED_MAX)
			conn_refuse(pod, fd);
		else
			close(fd);
	}
}

static void
pod_resume(int fd, short ev, void *arg)
{
	struct pod	*pod = arg;

	(void)fd;
	(void)ev;
	event_add(pod->ev, NULL);
}

/*
 * rate_limit: new upstream connections per second per pod, a token
 * bucket that holds a second's worth (bursts up to the limit).
 */
int
proxy_rate_take(struct pod *pod, unsigned int *limit)
{
	uint64_t	now, cap;
	int		rate = proxy_child.policy->net_rate_limit;

	*limit = rate > 0 ? (unsigned int)rate : 0;
	if (rate <= 0)
		return 1;
	now = proxy_now_ms();
	cap = (uint64_t)rate * 1000;
	pod->tokens += (now - pod->refilled) * (uint64_t)rate;
	if (pod->tokens > cap)
		pod->tokens = cap;
	pod->refilled = now;
	if (pod->tokens < 1000)
		return 0;
	pod->tokens -= 1000;
	return 1;
}

uint64_t
proxy_now_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- events and logs ------------------------------------------------- */

/* For key=value logs: quotes and controls are not written as such. */
static void
log_escape(char *out, size_t len, const char *in)
{
	size_t	i, o = 0;

	for (i = 0; in[i] != '\0' && o + 2 < len; i++) {
		if (in[i] == '"' || in[i] == '\\') {
			out[o++] = '\\';
			out[o++] = in[i];
		} else
			out[o++] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	}
	out[o] = '\0';
}

/* A JSON string; bytes that are not UTF-8 (a rule's file name) as '?'. */
static json_t *
jstr(const char *s)
{
	json_t	*j;
	char	*copy;
	size_t	 len;

	if (s == NULL)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	len = strlen(s) + 1;
	copy = xmalloc(len);
	http_sanitize(copy, len, s);
	j = json_string(copy);
	free(copy);
	return j;
}

void
proxy_record(struct pod *pod, const struct net_record *r)
{
	json_t	*o;
	char	*text, rule[1024];

	log_escape(rule, sizeof(rule), r->rule != NULL ? r->rule : "");
	log_info("net pod=%s method=%s host=%s port=%u addr=%s decision=%s "
	    "status=%d up=%llu down=%llu ms=%llu rule=\"%s\"", pod->name,
	    r->method != NULL ? r->method : "-",
	    r->host != NULL ? r->host : "-", r->port,
	    r->addr != NULL ? r->addr : "-", r->decision, r->status,
	    (unsigned long long)r->up, (unsigned long long)r->down,
	    (unsigned long long)r->ms, rule);

	o = json_object();
	json_object_set_new(o, "type", json_string("net"));
	json_object_set_new(o, "pod", jstr(pod->name));
	json_object_set_new(o, "method", jstr(r->method));
	json_object_set_new(o, "host", jstr(r->host));
	json_object_set_new(o, "port", json_integer(r->port));
	json_object_set_new(o, "addr", jstr(r->addr));
	json_object_set_new(o, "decision", jstr(r->decision));
	json_object_set_new(o, "rule", jstr(r->rule != NULL ? r->rule : ""));
	json_object_set_new(o, "status", json_integer(r->status));
	json_object_set_new(o, "bytes_up", json_integer((json_int_t)r->up));
	json_object_set_new(o, "bytes_down",
	    json_integer((json_int_t)r->down));
	json_object_set_new(o, "duration_ms",
	    json_integer((json_int_t)r->ms));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL)
		fatalx("%s: json_dumps", __func__);
	/*
	 * Queued, and written within EVENTS_DELAY_MS, many at once: a
	 * write (and a wakeup of the parent) per request would cost a
	 * short request a fifth of its time.
	 */
	if (imsg_compose(&proxy_child.parent.ibuf, IMSG_PROXY_EVENT, pod->id,
	    0, -1, text, strlen(text)) == -1)
		fatal("%s: compose", __func__);
	free(text);
	if (!evtimer_pending(events_timer, NULL))
		evtimer_add(events_timer, &events_delay);
}

/* Write the queued events; the parent's imsgev does what is left. */
static void
proxy_events_flush(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (imsgbuf_write(&proxy_child.parent.ibuf) == -1) {
		/* The parent is gone: it ended the run; so do we. */
		if (errno == EPIPE || errno == ECONNRESET)
			exit(0);
		fatal("%s: write to the parent", __func__);
	}
	if (imsgbuf_queuelen(&proxy_child.parent.ibuf) > 0)
		imsgev_add(&proxy_child.parent);
}
