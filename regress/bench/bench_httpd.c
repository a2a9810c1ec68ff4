/*
 * bench_httpd: the servers of regress/bench/bench_proxy.py, in one
 * epoll loop, fast enough not to be what is measured.
 *
 *	bench_httpd -h ADDR:PORT -s ADDR:PORT -k ADDR:PORT
 *
 * -h	HTTP/1.1: every request (a header block ending in an empty line;
 *	no request bodies) gets the same small response, keep-alive,
 *	pipelining allowed.
 * -s	source: the client sends a decimal byte count and a newline, and
 *	gets that many bytes, then the server closes.
 * -k	sink: reads until the client shuts down its side, then answers
 *	with the decimal count of bytes it read and a newline, and closes.
 *
 * ADDR is an IPv4 address or a bracketed IPv6 one.  Prints "ready" on
 * standard output once every socket listens; runs until killed.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INBUF		16384
#define CHUNK		(256 * 1024)

enum mode { M_HTTP, M_SOURCE, M_SINK };

static const char response[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, world\n";

struct conn {
	int		 fd;
	enum mode	 mode;
	int		 listener;
	char		 in[INBUF];
	size_t		 inlen;
	char		*out;		/* pending output (http, sink) */
	size_t		 outlen, outoff;
	unsigned long long left;	/* source: bytes still to send */
	unsigned long long count;	/* sink: bytes read */
	int		 sending;	/* source: the count was read */
	int		 closing;	/* close once out is written */
};

static char	zeros[CHUNK];
static int	ep;

static void
listen_on(const char *spec, enum mode mode)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	struct conn		*c;
	struct epoll_event	 ev;
	char			 host[64];
	const char		*colon, *h;
	size_t			 hlen;
	int			 fd, one = 1;
	long			 port;

	if ((colon = strrchr(spec, ':')) == NULL)
		errx(2, "%s: not ADDR:PORT", spec);
	port = strtol(colon + 1, NULL, 10);
	h = spec;
	hlen = (size_t)(colon - spec);
	if (*h == '[') {
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host) || port <= 0 || port > 65535)
		errx(2, "%s: bad address", spec);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in6);
	} else
		errx(2, "%s: bad address", spec);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		err(1, "bind %s", spec);
	if (listen(fd, 1024) == -1)
		err(1, "listen %s", spec);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		err(1, "calloc");
	c->fd = fd;
	c->mode = mode;
	c->listener = 1;
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		err(1, "epoll_ctl");
}

static void
conn_close(struct conn *c)
{
	(void)epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

static void
want(struct conn *c, uint32_t events)
{
	struct epoll_event	ev;

	ev.events = events;
	ev.data.ptr = c;
	(void)epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
queue(struct conn *c, const char *data, size_t len)
{
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if ((c->out = realloc(c->out, c->outlen + len)) == NULL)
		err(1, "realloc");
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
}

/* Write what is pending; 0: all written, 1: later, -1: close. */
static int
flush_out(struct conn *c)
{
	ssize_t	n;

	while (c->outoff < c->outlen) {
		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n == -1 && errno == EAGAIN)
			return 1;
		if (n <= 0)
			return -1;
		c->outoff += (size_t)n;
	}
	return 0;
}

/* Source: send what is left; 0: done, 1: later, -1: close. */
static int
pump(struct conn *c)
{
	ssize_t	n;
	size_t	want_n;

	while (c->left > 0) {
		want_n = c->left < CHUNK ? (size_t)c->left : CHUNK;
		n = write(c->fd, zeros, want_n);
		if (n == -1 && errno == EAGAIN)
			return 1;
		if (n <= 0)
			return -1;
		c->left -= (unsigned long long)n;
	}
	return 0;
}

static void
on_accept(struct conn *l)
{
	struct epoll_event	 ev;
	struct conn		*c;
	int			 fd, one = 1;

	while ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL)
			err(1, "calloc");
		c->fd = fd;
		c->mode = l->mode;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			err(1, "epoll_ctl");
	}
}

static void
on_http(struct conn *c, uint32_t events)
{
	char	*end;
	size_t	 used;
	ssize_t	 n;
	int	 r;

	if (events & EPOLLIN) {
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n == 0 || (n == -1 && errno != EAGAIN)) {
			conn_close(c);
			return;
		}
		if (n > 0)
			c->inlen += (size_t)n;
		while ((end = memmem(c->in, c->inlen, "\r\n\r\n", 4)) != NULL) {
			used = (size_t)(end - c->in) + 4;
			queue(c, response, sizeof(response) - 1);
			memmove(c->in, c->in + used, c->inlen - used);
			c->inlen -= used;
		}
		if (c->inlen == sizeof(c->in)) {	/* a header too big */
			conn_close(c);
			return;
		}
	}
	if ((r = flush_out(c)) == -1) {
		conn_close(c);
		return;
	}
	want(c, r == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void
on_source(struct conn *c, uint32_t events)
{
	char	*nl;
	ssize_t	 n;
	int	 r;

	if (!c->sending && (events & EPOLLIN)) {
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);
		if (n == 0 || (n == -1 && errno != EAGAIN)) {
			conn_close(c);
			return;
		}
		if (n > 0)
			c->inlen += (size_t)n;
		c->in[c->inlen] = '\0';
		if ((nl = strchr(c->in, '\n')) == NULL) {
			if (c->inlen == sizeof(c->in) - 1)
				conn_close(c);
			return;
		}
		c->left = strtoull(c->in, NULL, 10);
		c->sending = 1;
	}
	if (!c->sending)
		return;
	if ((r = pump(c)) == 1) {
		want(c, EPOLLOUT);
		return;
	}
	conn_close(c);		/* done (0) or failed (-1) */
}

static void
on_sink(struct conn *c, uint32_t events)
{
	static char	buf[CHUNK];
	char		num[32];
	ssize_t		n;
	int		r;

	if (!c->closing && (events & EPOLLIN)) {
		while ((n = read(c->fd, buf, sizeof(buf))) > 0)
			c->count += (unsigned long long)n;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			conn_close(c);
			return;
		}
		c->closing = 1;
		r = snprintf(num, sizeof(num), "%llu\n", c->count);
		queue(c, num, (size_t)r);
	}
	if ((r = flush_out(c)) == 1) {
		want(c, EPOLLOUT);
		return;
	}
	conn_close(c);
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[256];
	struct conn		*c;
	int			 ch, i, n, any = 0;

	signal(SIGPIPE, SIG_IGN);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	while ((ch = getopt(argc, argv, "h:s:k:")) != -1) {
		switch (ch) {
		case 'h':
			listen_on(optarg, M_HTTP);
			break;
		case 's':
			listen_on(optarg, M_SOURCE);
			break;
		case 'k':
			listen_on(optarg, M_SINK);
			break;
		default:
			fprintf(stderr, "usage: bench_httpd [-h ADDR:PORT] "
			    "[-s ADDR:PORT] [-k ADDR:PORT]\n");
			return 2;
		}
		any = 1;
	}
	if (!any)
		errx(2, "nothing to serve");
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if ((n = epoll_wait(ep, evs, 256, -1)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			if (c->listener) {
				on_accept(c);
				continue;
			}
			switch (c->mode) {
			case M_HTTP:
				on_http(c, evs[i].events);
				break;
			case M_SOURCE:
				on_source(c, evs[i].events);
				break;
			case M_SINK:
				on_sink(c, evs[i].events);
				break;
			}
		}
	}
}
