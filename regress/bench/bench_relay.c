/*
 * bench_relay: the plainest TCP relay, an anchor for bench_proxy.py
 * measured in the same run (issue 6 gives "a plain C relay with 256 KiB
 * buffers" as one): every accepted connection is connected to UPSTREAM
 * and relayed both ways by two threads, blocking read(2) and write(2)
 * of at most BUFSIZE bytes, no parsing, no decisions, no events.
 *
 *	bench_relay ADDR:PORT UPSTREAM-ADDR:PORT BUFSIZE
 *
 * IPv4 only.  Prints "ready" once it listens; runs until killed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dir {
	int	 from, to;
};

static struct sockaddr_in	upstream;
static size_t			bufsize;

static void
parse(const char *s, struct sockaddr_in *sin)
{
	char	host[64], *colon;

	if (strlen(s) >= sizeof(host))
		errx(2, "%s: too long", s);
	(void)strcpy(host, s);
	if ((colon = strrchr(host, ':')) == NULL)
		errx(2, "%s: no port", s);
	*colon = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		errx(2, "%s: not an IPv4 address", host);
}

static void *
pump(void *arg)
{
	struct dir	*d = arg;
	char		*buf, *p;
	ssize_t		 n, w;

	if ((buf = malloc(bufsize)) == NULL)
		err(1, "malloc");
	while ((n = read(d->from, buf, bufsize)) > 0)
		for (p = buf; n > 0; p += w, n -= w)
			if ((w = write(d->to, p, (size_t)n)) <= 0)
				goto out;
out:
	(void)shutdown(d->to, SHUT_WR);
	free(buf);
	return NULL;
}

static void *
relay(void *arg)
{
	int		 c = (int)(long)arg, u, one = 1;
	struct dir	 up, down;
	pthread_t	 t;

	if ((u = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(u, (struct sockaddr *)&upstream, sizeof(upstream)) == -1) {
		warn("upstream");
		close(c);
		if (u != -1)
			close(u);
		return NULL;
	}
	(void)setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	up = (struct dir){ c, u };
	down = (struct dir){ u, c };
	if (pthread_create(&t, NULL, pump, &up) != 0)
		errx(1, "pthread_create");
	pump(&down);
	pthread_join(t, NULL);
	close(c);
	close(u);
	return NULL;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	pthread_t		 t;
	int			 l, c, one = 1;

	if (argc != 4)
		errx(2, "usage: bench_relay ADDR:PORT UPSTREAM:PORT BUFSIZE");
	parse(argv[1], &sin);
	parse(argv[2], &upstream);
	if ((bufsize = strtoul(argv[3], NULL, 10)) == 0)
		errx(2, "%s: not a size", argv[3]);
	signal(SIGPIPE, SIG_IGN);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		err(1, "socket");
	(void)setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 64) == -1)
		err(1, "%s", argv[1]);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if ((c = accept(l, NULL, NULL)) == -1)
			continue;
		if (pthread_create(&t, NULL, relay, (void *)(long)c) != 0)
			errx(1, "pthread_create");
		pthread_detach(t);
	}
}
