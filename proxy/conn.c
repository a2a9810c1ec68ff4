/*
 * One client connection of a pod to its proxy: the requests that come
 * on it, each decided on its own, the upstream connection they go to
 * (kept while the next request goes to the same host and port), and
 * the bytes between the two.
 *
 * A connection is a state machine run by conn_run(), which every event
 * ends in (a read, a write, a timer, policyd's answer, the resolver's):
 * it runs the state's step until nothing moves, writes what is queued
 * and arms the events for what it can take next.  Only conn_run() frees
 * a connection, so no step uses one that is gone.
 *
 * Bytes are moved with our own readv(2) into evbuffers and written with
 * evbuffer_write_atmost() (writev), not with bufferevents: libevent 2.1
 * reads at most 4 KiB per evbuffer_read() (EVBUFFER_MAX_READ, whatever
 * bufferevent_set_max_single_read() says), which costs a loop iteration
 * and four system calls per 4 KiB, a fifth of the throughput of a plain
 * relay.  Here a read takes up to PROXY_BUF_MAX, a write is attempted
 * at once rather than on the next loop, and the events stay armed while
 * nothing changes.  Backpressure as with watermarks: a side is read only
 * while what it sent, buffered, is below buf_cap(): PROXY_BUF_MAX, or
 * PROXY_BUF_LOW while all connections' buffers together hold
 * PROXY_BUF_HIGH or more (a callback on every buffer keeps the sum in
 * buffered).  (Tunnels were also tried with splice(2) through pipes: no
 * faster, and no less CPU, on loopback across the pod's namespace, as
 * measured, for four more descriptors a tunnel; and with sockmap
 * redirection by a BPF program: slower here, and it loses what is in
 * flight when one side closes.)
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "proto.h"
#include "proxy.h"
#include "util.h"

#define RULE_MAX	1024
#define ADDRSTR_MAX	(INET6_ADDRSTRLEN + 8)	/* "[v6]:port" */
#define READ_MIN	(16 * 1024)		/* first read of an event */

enum cstate {
	CS_HEAD,	/* reading a request head */
	CS_DECIDE,	/* policyd: may the pod reach host:port? */
	CS_RESOLVE,	/* the name's addresses */
	CS_ADDRS,	/* policyd: may we connect to each? */
	CS_CONNECT,	/* connecting upstream */
	CS_FORWARD,	/* the request and its response flow */
	CS_TUNNEL,	/* CONNECT: bytes both ways */
	CS_CLOSING,	/* our last bytes go out, then close */
	CS_DEAD		/* to be freed */
};

enum { RESP_HEAD, RESP_BODY, RESP_DONE };

/* One socket: the client's or the upstream one. */
struct ep {
	int		 fd;
	struct event	*rev, *wev;
	struct evbuffer	*in;		/* read, not yet passed on */
	struct evbuffer	*out;		/* to write */
	size_t		 hint;		/* size of the next first read */
	int		 rd_on, wr_on;
	int		 eof;		/* read EOF */
	int		 err;		/* read error (errno) */
	int		 werr;		/* write error (errno) */
	int		 shut;		/* SHUT_WR sent */
	struct conn	*c;
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct pod		*pod;
	uint64_t		 id;
	int			 state;
	struct ep		 cl, up;
	struct event		*timer;
	int			 idle;		/* the timer is an idle timer */
	uint64_t		 idle_ms, last_io;
	unsigned int		 nreq;		/* requests done on it */
	int			 refused;	/* over PROXY_CONNS_MAX */

	/* the request */
	int			 active;	/* a record is due */
	int			 head_started;
	struct http_scan	 scan;
	struct http_msg		 req;
	int			 have_target;
	struct http_target	 t;
	struct http_body	 reqbody;
	int			 req_done;
	int			 close_after;	/* close the client after it */
	uint64_t		 t0, bytes_up, bytes_down;
	int			 status;
	const char		*decision;
	char			 rule[RULE_MAX];
	char			 addr[ADDRSTR_MAX];	/* for the record */

	/* policyd's answers, by index: 0 the host, 1 + i address i */
	uint32_t		 asks[1 + PROXY_ADDRS_MAX];

	/* the name's addresses */
	struct evdns_getaddrinfo_request *dns;
	int			 in_resolve, resolved, dns_err;
	int			 naddrs, nanswered, next;
	struct sockaddr_storage	 addrs[PROXY_ADDRS_MAX];
	socklen_t		 addrlens[PROXY_ADDRS_MAX];
	char			 addrstrs[PROXY_ADDRS_MAX][ADDRSTR_MAX];
	uint8_t			 verdicts[PROXY_ADDRS_MAX];
	int			 denied;	/* first denied address, or -1 */
	char			 deny_rule[RULE_MAX];
	char			 warn_rule[RULE_MAX];
	uint8_t			 monitored[PROXY_ADDRS_MAX];
	char			 mon_rule[RULE_MAX];	/* the first */
	int			 connect_err;

	/* the upstream connection */
	int			 connecting, cur;
	char			 upkey[HTTP_HOSTPORT_MAX + 1];
	char			 upaddr[ADDRSTR_MAX];
	int			 up_keep, up_reused;
	/* the decision (host and address) it was opened with */
	const char		*up_decision;
	char			 up_rule[RULE_MAX];

	/* the response */
	int			 resp_state;
	struct http_scan	 rscan;
	struct http_body	 respbody;
	int			 dechunk;
};

static void	conn_run(struct conn *);
static void	conn_free(struct conn *);
static int	conn_head(struct conn *);
static int	conn_keeps_decision(struct conn *);
static int	is_monitored(const char *);
static int	conn_route(struct conn *, int);
static int	conn_resolve(struct conn *);
static void	conn_dns_cb(int, struct evutil_addrinfo *, void *);
static int	conn_resolved(struct conn *);
static int	conn_ask_addrs(struct conn *);
static int	conn_addrs_done(struct conn *);
static int	conn_connect_next(struct conn *);
static void	conn_connect_done(struct conn *);
static int	conn_connected(struct conn *);
static int	conn_start_forward(struct conn *);
static int	conn_forward(struct conn *);
static int	conn_response_head(struct conn *);
static int	conn_exchange_done(struct conn *);
static int	conn_upstream_gone(struct conn *, const char *);
static int	conn_tunnel(struct conn *);
static int	conn_closing(struct conn *);
static int	conn_respond(struct conn *, int, const char *, const char *);
static int	conn_bad_request(struct conn *, const struct http_error *);
static int	conn_deny(struct conn *, int, const char *);
static int	conn_fail(struct conn *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	conn_record(struct conn *);
static void	conn_reset(struct conn *);
static void	conn_cancel_asks(struct conn *);
static void	conn_timer_cb(int, short, void *);
static void	timer_abs(struct conn *, int);
static void	timer_idle(struct conn *, int);
static int	conn_flush(struct conn *);
static void	conn_arm(struct conn *);
static void	up_close(struct conn *);
static void	ep_open(struct ep *, int);
static void	ep_close(struct ep *);
static int	ep_read(struct ep *, size_t);
static void	ep_readcb(int, short, void *);
static void	ep_writecb(int, short, void *);

static uint64_t	last_conn_id;
/* Bytes in all connections' buffers; buf_cap() reads it. */
static size_t	buffered;

static void
buf_count(struct evbuffer *b, const struct evbuffer_cb_info *info,
    void *arg)
{
	(void)b;
	(void)arg;
	buffered += info->n_added;
	buffered -= info->n_deleted;
}

/* What one direction may hold now (see PROXY_BUF_HIGH). */
static size_t
buf_cap(void)
{
	return buffered < PROXY_BUF_HIGH ? PROXY_BUF_MAX : PROXY_BUF_LOW;
}

static struct evbuffer *
buf_new(void)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL ||
	    evbuffer_add_cb(b, buf_count, NULL) == NULL)
		fatalx("%s: out of memory", __func__);
	return b;
}

static void
buf_free(struct evbuffer *b)
{
	/* Drained first: freeing does not call the callback. */
	evbuffer_drain(b, evbuffer_get_length(b));
	evbuffer_free(b);
}

/* --- life of a connection ------------------------------------------- */

void
conn_new(struct pod *pod, int fd)
{
	struct conn	*c;
	int		 one = 1;

	c = xcalloc(1, sizeof(*c));
	c->pod = pod;
	c->id = ++last_conn_id;
	c->cl.c = c->up.c = c;
	c->up.fd = -1;
	c->denied = -1;
	c->cl.in = buf_new();
	c->cl.out = buf_new();
	c->up.in = buf_new();
	c->up.out = buf_new();
	if ((c->timer = evtimer_new(proxy_base, conn_timer_cb, c)) == NULL)
		fatalx("%s: out of memory", __func__);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ep_open(&c->cl, fd);
	TAILQ_INSERT_TAIL(&pod->conns, c, entry);
	pod->nconns++;
	c->state = CS_HEAD;
	c->last_io = proxy_now_ms();
	/* The first request: its head within PROXY_HEAD_TIMEOUT. */
	timer_abs(c, PROXY_HEAD_TIMEOUT);
	log_debug("pod %s: connection %llu", pod->name,
	    (unsigned long long)c->id);
	conn_arm(c);
}

/*
 * Over the limit: 503, then the lingering close of CS_CLOSING.  Not a
 * request (none was read): the log says it once, no event.
 */
void
conn_refuse(struct pod *pod, int fd)
{
	struct conn	*c;
	char		*resp, body[128];
	size_t		 len;

	conn_new(pod, fd);
	c = TAILQ_LAST(&pod->conns, conn_list);
	pod->nconns--;
	pod->nrefused++;
	c->refused = 1;
	(void)snprintf(body, sizeof(body), "podrunner proxy: too many "
	    "connections from this pod (limit %d).\n", PROXY_CONNS_MAX);
	if ((resp = http_response_make(503, NULL, body, &len)) == NULL ||
	    evbuffer_add(c->cl.out, resp, len) == -1)
		fatalx("%s: out of memory", __func__);
	free(resp);
	c->state = CS_CLOSING;
	timer_abs(c, PROXY_LINGER_TIMEOUT);
	conn_run(c);
}

static void
conn_free(struct conn *c)
{
	if (c->active)
		conn_record(c);
	conn_cancel_asks(c);
	if (c->dns != NULL) {
		/* Its callback comes later, with EVUTIL_EAI_CANCEL. */
		evdns_getaddrinfo_cancel(c->dns);
		c->dns = NULL;
	}
	ep_close(&c->cl);
	ep_close(&c->up);
	buf_free(c->cl.in);
	buf_free(c->cl.out);
	buf_free(c->up.in);
	buf_free(c->up.out);
	event_free(c->timer);
	http_msg_free(&c->req);
	TAILQ_REMOVE(&c->pod->conns, c, entry);
	if (c->refused)
		c->pod->nrefused--;
	else
		c->pod->nconns--;
	log_debug("pod %s: connection %llu closed", c->pod->name,
	    (unsigned long long)c->id);
	free(c);
}

void
conn_free_all(struct pod *pod)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&pod->conns)) != NULL) {
		if (c->active && c->status == 0)
			(void)strlcpy(c->rule, "the pod is gone", sizeof(c->rule));
		conn_free(c);
	}
}

/*
 * The pump: the state's step until it has nothing more to do, then the
 * writes, again while they make room, then the events.
 */
static void
conn_run(struct conn *c)
{
	int	r;

	for (;;) {
		/* A client that cannot be written to is gone. */
		if ((c->cl.err || c->cl.werr) && c->state != CS_DEAD)
			c->state = CS_DEAD;
		switch (c->state) {
		case CS_HEAD:
			r = conn_head(c);
			break;
		case CS_FORWARD:
			r = conn_forward(c);
			break;
		case CS_TUNNEL:
			r = conn_tunnel(c);
			break;
		case CS_CLOSING:
			r = conn_closing(c);
			break;
		case CS_DEAD:
			conn_free(c);
			return;
		default:
			/* Waiting for policyd, the resolver or connect(). */
			r = 0;
			break;
		}
		if (r != 0 || c->state == CS_DEAD)
			continue;
		if (!conn_flush(c))
			break;
	}
	conn_arm(c);
}

/* --- requests -------------------------------------------------------- */

static int
conn_head(struct conn *c)
{
	struct http_error	 err;
	unsigned char		*p;
	size_t			 len, n, hlen;
	int			 r;

	/* An idle upstream connection that closed or speaks out of turn. */
	if (c->up.fd != -1 && !c->connecting && (c->up.eof || c->up.err ||
	    evbuffer_get_length(c->up.in) > 0))
		up_close(c);
	if ((len = evbuffer_get_length(c->cl.in)) == 0) {
		if (c->cl.eof) {
			c->state = evbuffer_get_length(c->cl.out) > 0 ?
			    CS_CLOSING : CS_DEAD;
			return 1;
		}
		return 0;
	}
	if (!c->head_started) {
		c->head_started = 1;
		if (c->nreq > 0)
			timer_abs(c, PROXY_HEAD_TIMEOUT);
	}
	/* The scanner wants the byte after a CR: HEAD_MAX + 2 at most. */
	n = len < HTTP_HEAD_MAX + 2 ? len : HTTP_HEAD_MAX + 2;
	if ((p = evbuffer_pullup(c->cl.in, (ev_ssize_t)n)) == NULL)
		fatalx("%s: evbuffer_pullup", __func__);
	r = http_head_scan(&c->scan, (char *)p, n, HTTP_LINE_MAX,
	    HTTP_FIELDS_MAX, &hlen, &err);
	if (r == HTTP_MORE) {
		if (c->cl.eof) {
			log_debug("pod %s: connection %llu: incomplete "
			    "request head", c->pod->name,
			    (unsigned long long)c->id);
			c->state = CS_DEAD;
			return 1;
		}
		return 0;
	}
	c->active = 1;
	c->t0 = proxy_now_ms();
	if (r == HTTP_ERROR) {
		c->bytes_up = n;
		return conn_bad_request(c, &err);
	}
	c->bytes_up = hlen;
	r = http_parse_request(&c->req, (char *)p + c->scan.start,
	    hlen - c->scan.start, &err);
	if (evbuffer_drain(c->cl.in, hlen) == -1)
		fatalx("%s: evbuffer_drain", __func__);
	if (r == -1 || http_parse_target(&c->req, &c->t, &err) == -1)
		return conn_bad_request(c, &err);
	c->have_target = 1;
	/* HTTP/1.0 clients get one request per connection. */
	c->close_after = !c->req.keepalive || c->req.minor == 0;
	http_body_init(&c->reqbody, c->req.framing, c->req.length);
	if (conn_keeps_decision(c))
		return conn_route(c, 1);
	c->state = CS_DECIDE;
	timer_abs(c, PROXY_DECIDE_TIMEOUT);
	if (proxy_ask(c->pod, c, 0, 0, c->t.hostport, &c->asks[0]) == -1)
		return conn_deny(c, -1, "policyd unavailable");
	return 1;
}

/*
 * The next request on a client connection goes to the host and port of
 * the upstream connection it kept: that connection's decision stands,
 * as policyd gave it (for the host and for the address) when it was
 * opened, and the request goes on it without asking again.  A pod's
 * policy does not change while it runs, so policyd would answer the
 * same; the round trip would cost a short request a third of its time.
 * Every request still has its own log line and event, with the rule;
 * any other host or port, or a new connection, is asked about.
 */
static int
conn_keeps_decision(struct conn *c)
{
	if (c->t.connect || c->up.fd == -1 || c->connecting ||
	    c->up_decision == NULL || strcmp(c->upkey, c->t.hostport) != 0 ||
	    c->up.eof || c->up.err || c->up.werr ||
	    evbuffer_get_length(c->up.in) > 0)
		return 0;
	c->decision = c->up_decision;
	(void)strlcpy(c->rule, c->up_rule, sizeof(c->rule));
	return 1;
}

/*
 * A denial monitor mode let through: policyd answers allow, with a rule
 * saying what would have denied (decision_describe_target()).
 */
static int
is_monitored(const char *rule)
{
	return strncmp(rule, "monitor: ", 9) == 0;
}

/* policyd's answer: 0 about the host, 1 + i about address i. */
void
conn_decided(struct conn *c, int idx, int verdict, const char *rule)
{
	int	i;

	c->asks[idx] = 0;
	if (idx == 0 && c->state == CS_DECIDE) {
		(void)strlcpy(c->rule, rule, sizeof(c->rule));
		if (verdict == VERDICT_DENY)
			(void)conn_deny(c, -1, rule);
		else {
			c->decision = verdict == VERDICT_WARN ? "warn" : "allow";
			(void)conn_route(c, 1);
		}
	} else if (idx > 0 && c->state == CS_ADDRS) {
		i = idx - 1;
		c->verdicts[i] = (uint8_t)verdict;
		if (verdict == VERDICT_DENY && c->denied == -1) {
			c->denied = i;
			(void)strlcpy(c->deny_rule, rule, sizeof(c->deny_rule));
		} else if (verdict == VERDICT_WARN && c->warn_rule[0] == '\0')
			(void)strlcpy(c->warn_rule, rule, sizeof(c->warn_rule));
		else if (verdict == VERDICT_ALLOW && is_monitored(rule)) {
			c->monitored[i] = 1;
			if (c->mon_rule[0] == '\0')
				(void)strlcpy(c->mon_rule, rule,
				    sizeof(c->mon_rule));
		}
		if (++c->nanswered == c->naddrs) {
			conn_cancel_asks(c);
			(void)conn_addrs_done(c);
		}
	}
	conn_run(c);
}

/* The host may be reached: the upstream connection we have, or a new one. */
static int
conn_route(struct conn *c, int may_reuse)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	unsigned int		 limit;
	char			 extra[RULE_MAX + 128], body[256];

	if (may_reuse && !c->t.connect && c->up.fd != -1 && !c->connecting &&
	    strcmp(c->upkey, c->t.hostport) == 0 && !c->up.eof &&
	    !c->up.err && !c->up.werr &&
	    evbuffer_get_length(c->up.in) == 0) {
		c->up_reused = 1;
		(void)strlcpy(c->addr, c->upaddr, sizeof(c->addr));
		return conn_start_forward(c);
	}
	up_close(c);
	c->up_reused = 0;
	if (!proxy_rate_take(c->pod, &limit)) {
		(void)snprintf(c->rule, sizeof(c->rule), "rate_limit %u/s",
		    limit);
		c->decision = "deny";
		(void)snprintf(extra, sizeof(extra), "X-Podrunner-Decision: "
		    "deny\r\nX-Podrunner-Rule: %s\r\nRetry-After: 1\r\n",
		    c->rule);
		(void)snprintf(body, sizeof(body), "Too many new connections: "
		    "the policy allows %u per second (rate_limit %u/s).\n",
		    limit, limit);
		return conn_respond(c, 429, extra, body);
	}
	c->naddrs = c->nanswered = c->next = 0;
	c->denied = -1;
	c->deny_rule[0] = c->warn_rule[0] = c->mon_rule[0] = '\0';
	memset(c->monitored, 0, sizeof(c->monitored));
	if (c->t.family == AF_INET) {
		sin = (struct sockaddr_in *)&c->addrs[0];
		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->t.port);
		if (inet_pton(AF_INET, c->t.host, &sin->sin_addr) != 1)
			fatalx("%s: inet_pton %s", __func__, c->t.host);
		c->addrlens[0] = sizeof(*sin);
		c->naddrs = 1;
		return conn_ask_addrs(c);
	}
	if (c->t.family == AF_INET6) {
		sin6 = (struct sockaddr_in6 *)&c->addrs[0];
		memset(sin6, 0, sizeof(*sin6));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->t.port);
		if (inet_pton(AF_INET6, c->t.host, &sin6->sin6_addr) != 1)
			fatalx("%s: inet_pton %s", __func__, c->t.host);
		c->addrlens[0] = sizeof(*sin6);
		c->naddrs = 1;
		return conn_ask_addrs(c);
	}
	return conn_resolve(c);
}

static int
conn_resolve(struct conn *c)
{
	struct evutil_addrinfo		 hints;
	struct evdns_getaddrinfo_request *req;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	c->state = CS_RESOLVE;
	timer_abs(c, PROXY_DNS_TIMEOUT);
	c->resolved = 0;
	/* /etc/hosts answers at once, inside the call. */
	c->in_resolve = 1;
	req = evdns_getaddrinfo(proxy_dns, c->t.host, NULL, &hints,
	    conn_dns_cb, c);
	c->in_resolve = 0;
	if (c->resolved)
		return conn_resolved(c);
	if (evdns_base_count_nameservers(proxy_dns) == 0) {
		/* Not in /etc/hosts, and no one to ask: it would wait. */
		if (req != NULL)
			evdns_getaddrinfo_cancel(req);
		return conn_fail(c, 502, "cannot resolve \"%s\": not in "
		    "/etc/hosts, and /etc/resolv.conf names no nameserver",
		    c->t.host);
	}
	c->dns = req;
	return 0;
}

static void
conn_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct evutil_addrinfo	*ai;
	struct conn		*c = arg;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;

	if (result == EVUTIL_EAI_CANCEL) {
		/* The connection may be gone: arg is not to be touched. */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	c->dns = NULL;
	c->dns_err = result;
	c->naddrs = 0;
	for (ai = res; ai != NULL && c->naddrs < PROXY_ADDRS_MAX;
	    ai = ai->ai_next) {
		if (ai->ai_family == AF_INET &&
		    ai->ai_addrlen == sizeof(*sin)) {
			sin = (struct sockaddr_in *)&c->addrs[c->naddrs];
			memcpy(sin, ai->ai_addr, sizeof(*sin));
			sin->sin_port = htons(c->t.port);
			c->addrlens[c->naddrs++] = sizeof(*sin);
		} else if (ai->ai_family == AF_INET6 &&
		    ai->ai_addrlen == sizeof(*sin6)) {
			sin6 = (struct sockaddr_in6 *)&c->addrs[c->naddrs];
			memcpy(sin6, ai->ai_addr, sizeof(*sin6));
			sin6->sin6_port = htons(c->t.port);
			c->addrlens[c->naddrs++] = sizeof(*sin6);
		}
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	c->resolved = 1;
	if (c->in_resolve)
		return;
	(void)conn_resolved(c);
	conn_run(c);
}

static int
conn_resolved(struct conn *c)
{
	if (c->dns_err != 0)
		return conn_fail(c, 502, "cannot resolve \"%s\": %s",
		    c->t.host, evutil_gai_strerror(c->dns_err));
	if (c->naddrs == 0)
		return conn_fail(c, 502, "cannot resolve \"%s\": no address",
		    c->t.host);
	return conn_ask_addrs(c);
}

static void
addr_string(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;
	char				 a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		(void)inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		(void)snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	} else {
		(void)inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		(void)snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	}
}

/* Every address is asked about, at once; the answers come in any order. */
static int
conn_ask_addrs(struct conn *c)
{
	int	i;

	c->state = CS_ADDRS;
	timer_abs(c, PROXY_DECIDE_TIMEOUT);
	c->nanswered = 0;
	for (i = 0; i < c->naddrs; i++) {
		addr_string(&c->addrs[i], c->addrstrs[i], sizeof(c->addrstrs[i]));
		if (proxy_ask(c->pod, c, 1 + i, POLICY_REQ_ADDR,
		    c->addrstrs[i], &c->asks[1 + i]) == -1) {
			conn_cancel_asks(c);
			return conn_deny(c, -1, "policyd unavailable");
		}
	}
	return 1;
}

/*
 * Denied addresses are skipped; the others are tried in order.  A name
 * with no address we may connect to is denied by the first refusal.
 */
static int
conn_addrs_done(struct conn *c)
{
	int	i;

	for (i = 0; i < c->naddrs; i++)
		if (c->verdicts[i] != VERDICT_DENY)
			break;
	if (i == c->naddrs) {
		(void)strlcpy(c->addr, c->addrstrs[c->denied],
		    sizeof(c->addr));
		return conn_deny(c, c->denied, c->deny_rule);
	}
	if (c->denied != -1)
		log_debug("pod %s: %s: address %s denied, trying the others",
		    c->pod->name, c->t.hostport, c->addrstrs[c->denied]);
	c->state = CS_CONNECT;
	timer_abs(c, PROXY_CONNECT_TIMEOUT);
	c->next = 0;
	c->connect_err = 0;
	return conn_connect_next(c);
}

static int
conn_connect_next(struct conn *c)
{
	const struct sockaddr	*sa;
	int			 fd, i;

	while (c->next < c->naddrs) {
		i = c->next++;
		if (c->verdicts[i] == VERDICT_DENY)
			continue;
		sa = (const struct sockaddr *)&c->addrs[i];
		if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, IPPROTO_TCP)) == -1) {
			c->connect_err = errno;
			continue;
		}
		if (connect(fd, sa, c->addrlens[i]) == -1 &&
		    errno != EINPROGRESS) {
			c->connect_err = errno;
			log_debug("pod %s: connect %s: %s", c->pod->name,
			    c->addrstrs[i], strerror(errno));
			close(fd);
			continue;
		}
		ep_open(&c->up, fd);
		c->connecting = 1;
		c->cur = i;
		return 0;
	}
	(void)strlcpy(c->addr, c->addrstrs[c->cur], sizeof(c->addr));
	return conn_fail(c, 502, "cannot connect to %s: %s", c->t.hostport,
	    strerror(c->connect_err ? c->connect_err : ECONNREFUSED));
}

/* The upstream socket is writable while connecting: done, one way or not. */
static void
conn_connect_done(struct conn *c)
{
	socklen_t	len = sizeof(int);
	int		err = 0, one = 1;

	if (getsockopt(c->up.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		c->connect_err = err;
		log_debug("pod %s: connect %s: %s", c->pod->name,
		    c->addrstrs[c->cur], strerror(err));
		up_close(c);
		(void)conn_connect_next(c);
		return;
	}
	c->connecting = 0;
	(void)setsockopt(c->up.fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one));
	(void)strlcpy(c->upkey, c->t.hostport, sizeof(c->upkey));
	(void)strlcpy(c->upaddr, c->addrstrs[c->cur], sizeof(c->upaddr));
	(void)strlcpy(c->addr, c->upaddr, sizeof(c->addr));
	/*
	 * The record names what mattered: a host simply allowed, at an
	 * address with a warn rule, or one that monitor mode let through,
	 * is recorded with the address's rule.
	 */
	if (c->verdicts[c->cur] == VERDICT_WARN &&
	    strcmp(c->decision, "allow") == 0) {
		c->decision = "warn";
		(void)strlcpy(c->rule, c->warn_rule, sizeof(c->rule));
	} else if (c->monitored[c->cur] && !is_monitored(c->rule))
		(void)strlcpy(c->rule, c->mon_rule, sizeof(c->rule));
	c->up_decision = c->decision;
	(void)strlcpy(c->up_rule, c->rule, sizeof(c->up_rule));
	(void)conn_connected(c);
}

static int
conn_connected(struct conn *c)
{
	static const char	established[] =
	    "HTTP/1.1 200 Connection established\r\n\r\n";

	if (!c->t.connect)
		return conn_start_forward(c);
	if (evbuffer_add(c->cl.out, established, sizeof(established) - 1) ==
	    -1)
		fatalx("%s: evbuffer_add", __func__);
	c->bytes_down += sizeof(established) - 1;
	c->status = 200;
	c->state = CS_TUNNEL;
	timer_idle(c, PROXY_IDLE_TIMEOUT);
	return 1;
}

static int
conn_start_forward(struct conn *c)
{
	char	*head;
	size_t	 len;

	if ((head = http_request_forward(&c->req, &c->t, c->close_after,
	    &len)) == NULL)
		fatalx("%s: out of memory", __func__);
	if (evbuffer_add(c->up.out, head, len) == -1)
		fatalx("%s: evbuffer_add", __func__);
	free(head);
	c->req_done = http_body_done(&c->reqbody);
	c->resp_state = RESP_HEAD;
	memset(&c->rscan, 0, sizeof(c->rscan));
	c->state = CS_FORWARD;
	timer_idle(c, PROXY_IDLE_TIMEOUT);
	return 1;
}

/* --- forwarding ------------------------------------------------------ */

static int
conn_forward(struct conn *c)
{
	struct evbuffer_iovec	 v;
	const char		*why = NULL;
	size_t			 n;
	int			 r, data;

	/* The request body, client to origin, up to where it ends. */
	while (!c->req_done && evbuffer_get_length(c->cl.in) > 0 &&
	    evbuffer_get_length(c->up.out) < buf_cap()) {
		if (evbuffer_peek(c->cl.in, -1, NULL, &v, 1) < 1)
			fatalx("%s: evbuffer_peek", __func__);
		r = http_body_step(&c->reqbody, v.iov_base, v.iov_len, &n,
		    &data, &why);
		if (r == HTTP_ERROR) {
			c->close_after = 1;
			up_close(c);
			if (c->resp_state == RESP_HEAD)
				return conn_fail(c, 400, "malformed request "
				    "body: %s", why);
			(void)snprintf(c->rule, sizeof(c->rule), "malformed "
			    "request body: %s", why);
			c->state = CS_CLOSING;
			return 1;
		}
		if (c->up.werr)
			evbuffer_drain(c->cl.in, n);
		else if (evbuffer_remove_buffer(c->cl.in, c->up.out, n) !=
		    (int)n)
			fatalx("%s: evbuffer_remove_buffer", __func__);
		c->bytes_up += n;
		if (r == HTTP_DONE)
			c->req_done = 1;
	}
	if (!c->req_done && c->cl.eof && evbuffer_get_length(c->cl.in) == 0) {
		/* The client went away in the middle of its request. */
		(void)strlcpy(c->rule, "client closed during the request",
		    sizeof(c->rule));
		c->state = CS_DEAD;
		return 1;
	}
	if (c->resp_state == RESP_HEAD && (r = conn_response_head(c)) != 0)
		return r;
	/* The response body, origin to client. */
	while (c->resp_state == RESP_BODY) {
		if (http_body_done(&c->respbody)) {
			c->resp_state = RESP_DONE;
			break;
		}
		if (evbuffer_get_length(c->up.in) == 0) {
			if (!c->up.eof && !c->up.err)
				break;
			if (c->respbody.framing == HTTP_BODY_CLOSE &&
			    !c->up.err) {
				c->resp_state = RESP_DONE;
				break;
			}
			/* Cut short: the client sees it from the framing. */
			(void)strlcpy(c->rule, "origin closed during the "
			    "response", sizeof(c->rule));
			up_close(c);
			c->state = CS_CLOSING;
			return 1;
		}
		if (evbuffer_get_length(c->cl.out) >= buf_cap())
			break;
		if (evbuffer_peek(c->up.in, -1, NULL, &v, 1) < 1)
			fatalx("%s: evbuffer_peek", __func__);
		r = http_body_step(&c->respbody, v.iov_base, v.iov_len, &n,
		    &data, &why);
		if (r == HTTP_ERROR) {
			(void)snprintf(c->rule, sizeof(c->rule), "malformed "
			    "response body: %s", why);
			up_close(c);
			c->state = CS_CLOSING;
			return 1;
		}
		if (data || !c->dechunk) {
			if (evbuffer_remove_buffer(c->up.in, c->cl.out, n) !=
			    (int)n)
				fatalx("%s: evbuffer_remove_buffer", __func__);
			c->bytes_down += n;
		} else
			evbuffer_drain(c->up.in, n);
		if (r == HTTP_DONE)
			c->resp_state = RESP_DONE;
	}
	if (c->resp_state == RESP_DONE)
		return conn_exchange_done(c);
	return 0;
}

/* Interim responses, then the final one's head: 1 when the state changed. */
static int
conn_response_head(struct conn *c)
{
	struct http_error	 err;
	struct http_msg		 resp;
	unsigned char		*p;
	size_t			 len, n, hlen, olen;
	char			*out;
	int			 r;

	while (c->resp_state == RESP_HEAD) {
		if ((len = evbuffer_get_length(c->up.in)) == 0) {
			if (c->up.eof || c->up.err)
				return conn_upstream_gone(c, "closed the "
				    "connection without a response");
			return 0;
		}
		n = len < HTTP_HEAD_MAX + 2 ? len : HTTP_HEAD_MAX + 2;
		if ((p = evbuffer_pullup(c->up.in, (ev_ssize_t)n)) == NULL)
			fatalx("%s: evbuffer_pullup", __func__);
		r = http_head_scan(&c->rscan, (char *)p, n, HTTP_HEAD_MAX,
		    HTTP_RESP_FIELDS_MAX, &hlen, &err);
		if (r == HTTP_MORE) {
			if (c->up.eof || c->up.err)
				return conn_upstream_gone(c, "closed the "
				    "connection in the response head");
			return 0;
		}
		if (r == HTTP_ERROR)
			return conn_fail(c, 502, "bad response from %s: %s",
			    c->t.hostport, err.reason);
		r = http_parse_response(&resp, (char *)p + c->rscan.start,
		    hlen - c->rscan.start, c->req.method, &err);
		if (evbuffer_drain(c->up.in, hlen) == -1)
			fatalx("%s: evbuffer_drain", __func__);
		memset(&c->rscan, 0, sizeof(c->rscan));
		if (r == -1) {
			http_msg_free(&resp);
			return conn_fail(c, 502, "bad response from %s: %s",
			    c->t.hostport, err.reason);
		}
		if (resp.status == 101) {
			/* We never forward Upgrade. */
			http_msg_free(&resp);
			return conn_fail(c, 502, "bad response from %s: "
			    "101 Switching Protocols", c->t.hostport);
		}
		if (resp.status / 100 == 1) {
			/* Interim: passed on, but not to HTTP/1.0 clients. */
			if (c->req.minor == 1) {
				if ((out = http_response_forward(&resp, 0, 0,
				    &olen)) == NULL ||
				    evbuffer_add(c->cl.out, out, olen) == -1)
					fatalx("%s: out of memory", __func__);
				free(out);
				c->bytes_down += olen;
			}
			http_msg_free(&resp);
			continue;
		}
		c->status = resp.status;
		if (resp.framing == HTTP_BODY_CLOSE)
			c->close_after = 1;
		c->dechunk = resp.framing == HTTP_BODY_CHUNKED &&
		    c->req.minor == 0;
		c->up_keep = resp.keepalive;
		if ((out = http_response_forward(&resp, c->dechunk,
		    c->close_after, &olen)) == NULL ||
		    evbuffer_add(c->cl.out, out, olen) == -1)
			fatalx("%s: out of memory", __func__);
		free(out);
		c->bytes_down += olen;
		http_body_init(&c->respbody, resp.framing, resp.length);
		http_msg_free(&resp);
		c->resp_state = RESP_BODY;
	}
	return 0;
}

/*
 * The origin closed before its response.  A connection kept from an
 * earlier request may have been closed by the origin as we reused it:
 * a request without a body is tried again, once, on a new one.
 */
static int
conn_upstream_gone(struct conn *c, const char *what)
{
	if (c->up_reused && c->req.framing == HTTP_BODY_NONE &&
	    c->bytes_down == 0) {
		log_debug("pod %s: %s: kept connection closed, reconnecting",
		    c->pod->name, c->t.hostport);
		up_close(c);
		return conn_route(c, 0);
	}
	return conn_fail(c, 502, "%s %s", c->t.hostport, what);
}

static int
conn_exchange_done(struct conn *c)
{
	/* The rest of a request the origin did not wait for: no reuse. */
	if (!c->req_done) {
		c->close_after = 1;
		c->up_keep = 0;
	}
	if (evbuffer_get_length(c->up.in) > 0 || c->up.eof || c->up.err ||
	    c->up.werr)
		c->up_keep = 0;
	if (!c->up_keep)
		up_close(c);
	/* The client first, the books after. */
	if (conn_flush(c))
		c->last_io = proxy_now_ms();
	conn_record(c);
	c->nreq++;
	if (c->close_after) {
		c->state = CS_CLOSING;
		return 1;
	}
	conn_reset(c);
	return 1;
}

/* Ready for the next request on a kept connection. */
static void
conn_reset(struct conn *c)
{
	http_msg_free(&c->req);
	memset(&c->scan, 0, sizeof(c->scan));
	memset(&c->t, 0, sizeof(c->t));
	c->have_target = 0;
	c->head_started = 0;
	c->active = 0;
	c->req_done = 0;
	c->close_after = 0;
	c->bytes_up = c->bytes_down = 0;
	c->status = 0;
	c->decision = NULL;
	c->rule[0] = c->addr[0] = '\0';
	c->resp_state = RESP_HEAD;
	c->dechunk = 0;
	c->up_reused = 0;
	c->state = CS_HEAD;
	timer_idle(c, PROXY_IDLE_TIMEOUT);
}

/* --- tunnels --------------------------------------------------------- */

static int
conn_tunnel(struct conn *c)
{
	size_t	n;

	if ((n = evbuffer_get_length(c->cl.in)) > 0) {
		c->bytes_up += n;
		if (c->up.werr)
			evbuffer_drain(c->cl.in, n);
		else if (evbuffer_add_buffer(c->up.out, c->cl.in) == -1)
			fatalx("%s: evbuffer_add_buffer", __func__);
	}
	if ((n = evbuffer_get_length(c->up.in)) > 0) {
		c->bytes_down += n;
		if (evbuffer_add_buffer(c->cl.out, c->up.in) == -1)
			fatalx("%s: evbuffer_add_buffer", __func__);
	}
	if (c->up.err || c->up.werr) {
		/* Reset by the origin: flush what it sent, then close. */
		c->state = CS_CLOSING;
		return 1;
	}
	/* Half-close: an EOF goes on once what came before it is out. */
	if (c->cl.eof && !c->up.shut && evbuffer_get_length(c->up.out) == 0) {
		(void)shutdown(c->up.fd, SHUT_WR);
		c->up.shut = 1;
	}
	if (c->up.eof && !c->cl.shut && evbuffer_get_length(c->cl.out) == 0) {
		(void)shutdown(c->cl.fd, SHUT_WR);
		c->cl.shut = 1;
	}
	if (c->cl.shut && c->up.shut) {
		c->state = CS_DEAD;
		return 1;
	}
	return 0;
}

/*
 * Our last response goes out, then the client's write side is shut and
 * what it still sends is read and dropped for a while, so that closing
 * with unread bytes does not reset the connection before it read ours.
 */
static int
conn_closing(struct conn *c)
{
	up_close(c);
	evbuffer_drain(c->cl.in, evbuffer_get_length(c->cl.in));
	if (evbuffer_get_length(c->cl.out) > 0)
		return 0;
	if (!c->cl.shut) {
		(void)shutdown(c->cl.fd, SHUT_WR);
		c->cl.shut = 1;
		timer_abs(c, PROXY_LINGER_TIMEOUT);
	}
	if (c->cl.eof || c->cl.err) {
		c->state = CS_DEAD;
		return 1;
	}
	return 0;
}

/* --- our own responses ----------------------------------------------- */

static int
conn_respond(struct conn *c, int status, const char *extra, const char *body)
{
	char	*resp;
	size_t	 len;

	conn_cancel_asks(c);
	up_close(c);
	if ((resp = http_response_make(status, extra, body, &len)) == NULL ||
	    evbuffer_add(c->cl.out, resp, len) == -1)
		fatalx("%s: out of memory", __func__);
	free(resp);
	c->status = status;
	c->bytes_down += len;
	c->active = 1;
	conn_record(c);
	c->state = CS_CLOSING;
	timer_idle(c, PROXY_IDLE_TIMEOUT);
	return 1;
}

static int
conn_bad_request(struct conn *c, const struct http_error *err)
{
	char	body[256], extra[256];

	c->decision = "deny";
	if (err->status == 403) {
		/* An ambiguous host: the built-in deny, said as one. */
		(void)strlcpy(c->rule, err->reason, sizeof(c->rule));
		(void)snprintf(extra, sizeof(extra), "X-Podrunner-Decision: "
		    "deny\r\nX-Podrunner-Rule: %s\r\n", err->reason);
		(void)snprintf(body, sizeof(body), "podrunner proxy: %s.\n",
		    err->reason);
		return conn_respond(c, 403, extra, body);
	}
	(void)snprintf(c->rule, sizeof(c->rule), "malformed request: %s",
	    err->reason);
	if (err->status == 501 || err->status == 505)
		(void)snprintf(c->rule, sizeof(c->rule), "not supported: %s",
		    err->reason);
	(void)snprintf(body, sizeof(body), "podrunner proxy: %s.\n",
	    err->reason);
	return conn_respond(c, err->status, NULL, body);
}

/*
 * 403, in Deno's words: what the pod needs and the flag that grants it,
 * and the rule that refused it.  addr: the address denied (an index),
 * or -1 for the host.
 */
static int
conn_deny(struct conn *c, int addr, const char *rule)
{
	char	srule[RULE_MAX], extra[RULE_MAX + 128];
	char	body[2 * RULE_MAX + 2 * HTTP_HOSTPORT_MAX + 256];

	conn_cancel_asks(c);
	c->decision = "deny";
	if (rule != c->rule)
		(void)strlcpy(c->rule, rule, sizeof(c->rule));
	http_sanitize(srule, sizeof(srule), rule);
	(void)snprintf(extra, sizeof(extra), "X-Podrunner-Decision: deny\r\n"
	    "X-Podrunner-Rule: %s\r\n", srule);
	if (addr >= 0)
		(void)snprintf(body, sizeof(body), "Requires net access to "
		    "\"%s\" (its address %s), run again with "
		    "--allow-net=%s\nDenied by: %s\n", c->t.hostport,
		    c->addrstrs[addr], c->addrstrs[addr], srule);
	else
		(void)snprintf(body, sizeof(body), "Requires net access to "
		    "\"%s\", run again with --allow-net=%s\nDenied by: %s\n",
		    c->t.hostport, c->t.hostport, srule);
	return conn_respond(c, 403, extra, body);
}

/* 502, 504: the decision stands, the rule is what went wrong. */
static int
conn_fail(struct conn *c, int status, const char *fmt, ...)
{
	va_list	ap;
	char	msg[RULE_MAX], body[RULE_MAX + 64];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->decision == NULL)
		c->decision = "deny";
	(void)strlcpy(c->rule, msg, sizeof(c->rule));
	(void)snprintf(body, sizeof(body), "podrunner proxy: %s\n", msg);
	return conn_respond(c, status, NULL, body);
}

static void
conn_record(struct conn *c)
{
	struct net_record	r;

	if (!c->active)
		return;
	c->active = 0;
	memset(&r, 0, sizeof(r));
	r.method = c->req.method;
	if (c->have_target) {
		r.host = c->t.host;
		r.port = c->t.port;
	}
	r.addr = c->addr[0] != '\0' ? c->addr : NULL;
	r.decision = c->decision != NULL ? c->decision : "deny";
	if (c->decision == NULL && c->rule[0] == '\0')
		(void)strlcpy(c->rule, "client closed before the decision",
		    sizeof(c->rule));
	r.rule = c->rule;
	r.status = c->status;
	r.up = c->bytes_up;
	r.down = c->bytes_down;
	r.ms = proxy_now_ms() - c->t0;
	proxy_record(c->pod, &r);
}

static void
conn_cancel_asks(struct conn *c)
{
	size_t	i;

	for (i = 0; i < sizeof(c->asks) / sizeof(c->asks[0]); i++)
		if (c->asks[i] != 0) {
			proxy_ask_cancel(c->asks[i]);
			c->asks[i] = 0;
		}
}

/* --- timers ---------------------------------------------------------- */

static void
timer_abs(struct conn *c, int secs)
{
	struct timeval	tv = { secs, 0 };

	c->idle = 0;
	evtimer_add(c->timer, &tv);
}

/* Fires PROXY_IDLE_TIMEOUT after the last byte either way. */
static void
timer_idle(struct conn *c, int secs)
{
	struct timeval	tv = { secs, 0 };

	c->idle = 1;
	c->idle_ms = (uint64_t)secs * 1000;
	c->last_io = proxy_now_ms();
	evtimer_add(c->timer, &tv);
}

static void
conn_timer_cb(int fd, short ev, void *arg)
{
	struct conn	*c = arg;
	struct timeval	 tv;
	uint64_t	 quiet;

	(void)fd;
	(void)ev;
	if (c->idle && (quiet = proxy_now_ms() - c->last_io) < c->idle_ms) {
		quiet = c->idle_ms - quiet;
		tv.tv_sec = (time_t)(quiet / 1000);
		tv.tv_usec = (suseconds_t)(quiet % 1000) * 1000;
		evtimer_add(c->timer, &tv);
		return;
	}
	switch (c->state) {
	case CS_HEAD:
		if (!c->head_started) {
			/* Idle: a quiet close. */
			c->state = CS_DEAD;
			break;
		}
		c->active = 1;
		c->t0 = proxy_now_ms() - PROXY_HEAD_TIMEOUT * 1000;
		(void)conn_fail(c, 408, "no request head in %d s",
		    PROXY_HEAD_TIMEOUT);
		break;
	case CS_DECIDE:
	case CS_ADDRS:
		log_warnx("policyd did not answer in %d s",
		    PROXY_DECIDE_TIMEOUT);
		(void)conn_deny(c, -1, "policyd unavailable");
		break;
	case CS_RESOLVE:
		if (c->dns != NULL) {
			evdns_getaddrinfo_cancel(c->dns);
			c->dns = NULL;
		}
		(void)conn_fail(c, 504, "cannot resolve \"%s\": timed out",
		    c->t.host);
		break;
	case CS_CONNECT:
		up_close(c);
		(void)strlcpy(c->addr, c->addrstrs[c->cur], sizeof(c->addr));
		(void)conn_fail(c, 504, "cannot connect to %s: timed out",
		    c->t.hostport);
		break;
	case CS_FORWARD:
		if (c->resp_state == RESP_HEAD)
			(void)conn_fail(c, 504, "no response from %s in %d s",
			    c->t.hostport, PROXY_IDLE_TIMEOUT);
		else {
			(void)strlcpy(c->rule, "idle timeout", sizeof(c->rule));
			c->state = CS_DEAD;
		}
		break;
	default:
		/* A tunnel idle, or our last response not taken. */
		c->state = CS_DEAD;
		break;
	}
	conn_run(c);
}

/* --- bytes ------------------------------------------------------------ */

static void
ep_open(struct ep *e, int fd)
{
	e->fd = fd;
	e->eof = e->err = e->werr = e->shut = 0;
	e->rd_on = e->wr_on = 0;
	e->hint = READ_MIN;
	if ((e->rev = event_new(proxy_base, fd, EV_READ | EV_PERSIST,
	    ep_readcb, e)) == NULL ||
	    (e->wev = event_new(proxy_base, fd, EV_WRITE | EV_PERSIST,
	    ep_writecb, e)) == NULL)
		fatalx("%s: event_new", __func__);
}

static void
ep_close(struct ep *e)
{
	if (e->fd == -1)
		return;
	event_free(e->rev);
	event_free(e->wev);
	e->rev = e->wev = NULL;
	close(e->fd);
	e->fd = -1;
	evbuffer_drain(e->in, evbuffer_get_length(e->in));
	evbuffer_drain(e->out, evbuffer_get_length(e->out));
	e->eof = e->err = e->werr = e->shut = 0;
}

static void
up_close(struct conn *c)
{
	ep_close(&c->up);
	c->connecting = 0;
	c->upkey[0] = '\0';
	c->up_keep = 0;
	c->up_decision = NULL;
}

static void
ep_want(struct ep *e, int rd, int wr)
{
	if (e->fd == -1)
		return;
	if (rd != e->rd_on) {
		if (rd)
			event_add(e->rev, NULL);
		else
			event_del(e->rev);
		e->rd_on = rd;
	}
	if (wr != e->wr_on) {
		if (wr)
			event_add(e->wev, NULL);
		else
			event_del(e->wev);
		e->wr_on = wr;
	}
}

/* How much a side may read: what it sent and is not yet out is bounded. */
static size_t
ep_room(struct conn *c, struct ep *e)
{
	struct ep	*o = e == &c->cl ? &c->up : &c->cl;
	size_t		 used = evbuffer_get_length(e->in), cap = buf_cap();

	/* Read to be dropped: what it holds goes at once. */
	if (e == &c->cl && c->state == CS_CLOSING)
		return PROXY_BUF_LOW;
	if (o->fd != -1 && (c->state == CS_FORWARD || c->state == CS_TUNNEL))
		used += evbuffer_get_length(o->out);
	return used < cap ? cap - used : 0;
}

static void
conn_arm(struct conn *c)
{
	int	rd;

	rd = !c->cl.eof && !c->cl.err && ep_room(c, &c->cl) > 0;
	ep_want(&c->cl, rd, evbuffer_get_length(c->cl.out) > 0 &&
	    !c->cl.werr);
	if (c->up.fd == -1)
		return;
	if (c->connecting) {
		ep_want(&c->up, 0, 1);
		return;
	}
	rd = !c->up.eof && !c->up.err && ep_room(c, &c->up) > 0;
	ep_want(&c->up, rd, evbuffer_get_length(c->up.out) > 0 &&
	    !c->up.werr);
}

/*
 * Read up to room bytes into e->in: the first read of an event takes
 * what the last one suggests, a full read is followed by a bigger one.
 * Returns the bytes read; EOF and errors are noted in e.
 */
static int
ep_read(struct ep *e, size_t room)
{
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	size_t			 want, left;
	ssize_t			 n;
	int			 nv, i, got = 0;

	while (room > 0) {
		want = e->hint < room ? e->hint : room;
		if ((nv = evbuffer_reserve_space(e->in, (ev_ssize_t)want, v,
		    2)) < 1)
			fatalx("%s: evbuffer_reserve_space", __func__);
		for (i = 0, left = want; i < nv; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len < left ? v[i].iov_len :
			    left;
			left -= iov[i].iov_len;
		}
		if ((n = readv(e->fd, iov, nv)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				e->err = errno;
			break;
		}
		if (n == 0) {
			e->eof = 1;
			break;
		}
		for (i = 0, left = (size_t)n; i < nv; i++) {
			v[i].iov_len = iov[i].iov_len < left ? iov[i].iov_len :
			    left;
			left -= v[i].iov_len;
		}
		if (evbuffer_commit_space(e->in, v, nv) == -1)
			fatalx("%s: evbuffer_commit_space", __func__);
		got += (int)n;
		room -= (size_t)n;
		if ((size_t)n < want) {
			if ((size_t)n < e->hint / 2 && e->hint > READ_MIN)
				e->hint /= 2;
			break;
		}
		if (e->hint < PROXY_BUF_MAX)
			e->hint *= 4;
	}
	return got;
}

static void
ep_readcb(int fd, short ev, void *arg)
{
	struct ep	*e = arg;
	struct conn	*c = e->c;
	size_t		 room;

	(void)fd;
	(void)ev;
	if ((room = ep_room(c, e)) > 0 && ep_read(e, room) > 0)
		c->last_io = proxy_now_ms();
	if (e == &c->cl && c->state == CS_CLOSING)
		evbuffer_drain(e->in, evbuffer_get_length(e->in));
	conn_run(c);
}

static void
ep_writecb(int fd, short ev, void *arg)
{
	struct ep	*e = arg;
	struct conn	*c = e->c;

	(void)fd;
	(void)ev;
	if (e == &c->up && c->connecting)
		conn_connect_done(c);
	conn_run(c);
}

/* Write what is queued, as far as the sockets take it: 1 if it did. */
static int
ep_flush(struct ep *e)
{
	size_t	len;
	int	n, wrote = 0;

	if (e->fd == -1 || e->werr || e->err)
		return 0;
	if (e == &e->c->up && e->c->connecting)
		return 0;
	while ((len = evbuffer_get_length(e->out)) > 0) {
		if ((n = evbuffer_write_atmost(e->out, e->fd, -1)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				e->werr = errno;
				evbuffer_drain(e->out, len);
				wrote = 1;
			}
			break;
		}
		if (n > 0)
			wrote = 1;
		/* A short write: the socket is full. */
		if ((size_t)n < len)
			break;
	}
	return wrote;
}

static int
conn_flush(struct conn *c)
{
	int	wrote;

	wrote = ep_flush(&c->cl);
	wrote |= ep_flush(&c->up);
	if (wrote)
		c->last_io = proxy_now_ms();
	return wrote;
}
