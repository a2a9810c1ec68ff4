/*
 * proxy: the egress proxy (libevent), unprivileged and chrooted.  A pod
 * reaches the world only through it: an HTTP/1.1 forward proxy
 * (absolute-form requests, http only) and CONNECT tunnels, listening in
 * the pod's network namespace on a socket the sandbox side made and
 * passed, connecting out from the host's.  It asks policyd about every
 * request (the host and port) and about every address it would connect
 * to, and reports each finished request or tunnel to the parent (a
 * "net" event) and to the log.
 *
 * proxy.c is the process: the parent and policyd channels, the pods and
 * their listeners, the questions to policyd, the rate limit, the
 * events.  conn.c is a client connection: its requests, its upstream
 * connection, the bytes between them.  http.c parses.
 */
#ifndef PODRUNNER_PROXY_H
#define PODRUNNER_PROXY_H

#include <sys/queue.h>

#include <stdint.h>

#include "log.h"

/*
 * Concurrent client connections of one pod; beyond, a connection gets
 * 503 (and is read until it closes, at most PROXY_LINGER_TIMEOUT, so
 * that the client reads the answer; PROXY_REFUSED_MAX of those at once,
 * more are closed at once).
 */
#define PROXY_CONNS_MAX		256
#define PROXY_REFUSED_MAX	64
/*
 * Bytes buffered per direction: a side is not read while what it sent
 * (read but not yet written to the other side) is above this.  A read
 * takes up to as much: on loopback, 1 MiB reads moved a tunnel's bulk
 * at 0.65-0.81x of direct in most runs, where 256 KiB reads gave
 * 0.58-0.64x (bench_proxy.py, this 2-vCPU VM: fewer reads, fewer
 * wake-ups).  While the proxy's buffers hold PROXY_BUF_HIGH or more in
 * all, each direction is held to PROXY_BUF_LOW, so that many slow
 * readers cannot make the proxy hold 1 MiB for each: its buffers stay
 * under PROXY_BUF_HIGH + PROXY_BUF_MAX + PROXY_BUF_LOW for each
 * direction (two a connection).
 */
#define PROXY_BUF_MAX		(1024 * 1024)
#define PROXY_BUF_LOW		(256 * 1024)
#define PROXY_BUF_HIGH		(16 * 1024 * 1024)
/* Timeouts, seconds. */
#define PROXY_HEAD_TIMEOUT	30	/* to receive a request head */
#define PROXY_IDLE_TIMEOUT	60	/* tunnels and keep-alive connections */
#define PROXY_CONNECT_TIMEOUT	10	/* to connect upstream (all addresses) */
#define PROXY_DECIDE_TIMEOUT	5	/* for policyd's answer */
#define PROXY_DNS_TIMEOUT	20	/* for a name to resolve */
#define PROXY_LINGER_TIMEOUT	5	/* our last response, then close */
/* Addresses of a name that are asked about and tried, in order. */
#define PROXY_ADDRS_MAX		8

struct conn;
struct event;
struct event_base;
struct evdns_base;

struct pod {
	TAILQ_ENTRY(pod)	 entry;
	uint32_t		 id;		/* peerid */
	char			 name[17];	/* the pod's id, hex */
	int			 fd;		/* listening socket */
	struct event		*ev;
	struct event		*resume;	/* after EMFILE */
	TAILQ_HEAD(conn_list, conn) conns;
	unsigned int		 nconns;
	unsigned int		 nrefused;	/* 503s going out */
	int			 full_logged;	/* at PROXY_CONNS_MAX */
	/* token bucket of rate_limit: thousandths of a connection */
	uint64_t		 tokens;
	uint64_t		 refilled;	/* ms */
};

/* One finished request or tunnel, for the event and the log line. */
struct net_record {
	const char	*method;	/* NULL: not known */
	const char	*host;		/* NULL: not known */
	unsigned int	 port;
	const char	*addr;		/* "ip:port", NULL: none */
	const char	*decision;	/* "allow", "deny", "warn" */
	const char	*rule;
	int		 status;	/* given to the client, 0: none */
	uint64_t	 up, down;	/* bytes from and to the client */
	uint64_t	 ms;
};

__dead void	 proxy_main(void);

/* proxy.c */
extern struct event_base	*proxy_base;
extern struct evdns_base	*proxy_dns;
/*
 * Ask policyd; the answer comes to conn_decided(c, idx, ...).  0 and
 * the request's id, or -1 when policyd cannot be asked (fail closed).
 */
int		 proxy_ask(struct pod *, struct conn *, int idx, int flags,
		    const char *, uint32_t *);
void		 proxy_ask_cancel(uint32_t);
/* A token of the pod's rate limit: 1, or 0 and the limit (per second). */
int		 proxy_rate_take(struct pod *, unsigned int *);
void		 proxy_record(struct pod *, const struct net_record *);
uint64_t	 proxy_now_ms(void);

/* conn.c */
void		 conn_new(struct pod *, int);
/* A connection over PROXY_CONNS_MAX: 503 and close. */
void		 conn_refuse(struct pod *, int);
void		 conn_decided(struct conn *, int idx, int verdict,
		    const char *);
void		 conn_free_all(struct pod *);

#endif
