/*
 * Unit tests for imsg/: ibuf building and bounds-checked reading,
 * imsg framing over socketpairs, fd passing and the libevent glue.
 *
 * Each good input sits next to the bad ones that must fail, with the
 * errno they must fail with.  Every test checks that it leaves the
 * process with the fds it started with.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "imsg.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define MiB		(1024 * 1024)
#define MAXPAYLOAD(m)	((m) - IMSG_HEADER_SIZE)

/* --- helpers ------------------------------------------------------------ */

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		fail_msg("opendir /proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n);
}

static int
fd_is_open(int fd)
{
	return (fcntl(fd, F_GETFD) != -1 || errno != EBADF);
}

static void
mkpair(int sv[2], int nonblock)
{
	int	type = SOCK_STREAM | SOCK_CLOEXEC;

	if (nonblock)
		type |= SOCK_NONBLOCK;
	if (socketpair(AF_UNIX, type, 0, sv) == -1)
		fail_msg("socketpair: %s", strerror(errno));
}

static void
small_sndbuf(int fd)
{
	int	sz = 4096;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) == -1)
		fail_msg("SO_SNDBUF: %s", strerror(errno));
}

static void
raw_write(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

static void
raw_hdr(int fd, uint32_t type, uint32_t len, uint32_t peerid, uint32_t pid)
{
	struct imsg_hdr	hdr = { type, len, peerid, pid };

	raw_write(fd, &hdr, sizeof(hdr));
}

static void
fill(unsigned char *p, size_t n, uint32_t seed)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

static int
check_fill(const unsigned char *p, size_t n, uint32_t seed)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)((i * 131 + seed * 7 + (i >> 8)) &
		    0xff))
			return (0);
	return (1);
}

/*
 * Move bytes from w to r, a write then a read at a time, until r has a
 * message.  Counts writes that left the head message partly sent.
 * Returns imsg_get's 1 or -1, 0 on EOF, -2 on a read/write error.
 */
static int
pump(struct imsgbuf *w, struct imsgbuf *r, struct imsg *m, size_t *partial)
{
	ssize_t	n;
	long	i;
	int	got;

	for (i = 0; i < 10000000; i++) {
		if ((got = imsg_get(r, m)) != 0)
			return (got);
		if (w != NULL) {
			if (imsgbuf_write(w) == -1)
				return (-2);
			if (partial != NULL && imsgbuf_queuelen(w) > 0 &&
			    w->wfirst_off > 0)
				(*partial)++;
		}
		n = imsgbuf_read(r);
		if (n == 0)
			return (0);
		if (n == -1 && errno != EAGAIN)
			return (-2);
	}
	fail_msg("pump: no progress");
	return (-2);
}

/* Read until EAGAIN; return the last imsgbuf_read() result. */
static ssize_t
drain(struct imsgbuf *r)
{
	ssize_t	n;

	while ((n = imsgbuf_read(r)) > 0)
		;
	return (n);
}

/* --- ibuf --------------------------------------------------------------- */

static void
test_ibuf_build_read(void **state)
{
	struct ibuf	*b;
	uint8_t		 v8;
	uint32_t	 v32;
	uint64_t	 v64;
	char		*s, raw[3];

	(void)state;
	assert_non_null(b = ibuf_dynamic(0, 1024));
	assert_int_equal(ibuf_size(b), 0);
	assert_int_equal(ibuf_add_n8(b, 0xa5), 0);
	assert_int_equal(ibuf_add_n32(b, 0xdeadbeef), 0);
	assert_int_equal(ibuf_add_n64(b, 0x0123456789abcdefULL), 0);
	assert_int_equal(ibuf_add_string(b, "hello"), 0);
	assert_int_equal(ibuf_add_string(b, ""), 0);
	assert_int_equal(ibuf_add(b, "xyz", 3), 0);
	assert_int_equal(ibuf_add(b, NULL, 0), 0);
	assert_int_equal(ibuf_size(b), 1 + 4 + 8 + 4 + 5 + 4 + 3);
	assert_memory_equal(ibuf_data(b), "\xa5", 1);

	assert_int_equal(ibuf_get_n8(b, &v8), 0);
	assert_int_equal(v8, 0xa5);
	assert_int_equal(ibuf_get_n32(b, &v32), 0);
	assert_int_equal(v32, 0xdeadbeef);
	assert_int_equal(ibuf_get_n64(b, &v64), 0);
	assert_true(v64 == 0x0123456789abcdefULL);
	assert_int_equal(ibuf_get_string(b, &s, 5), 0);
	assert_string_equal(s, "hello");
	free(s);
	assert_int_equal(ibuf_get_string(b, &s, 0), 0);
	assert_string_equal(s, "");
	free(s);

	/* Three bytes left: every longer read fails and consumes nothing. */
	assert_int_equal(ibuf_size(b), 3);
	errno = 0;
	assert_int_equal(ibuf_get_n32(b, &v32), -1);
	assert_int_equal(errno, EBADMSG);
	errno = 0;
	assert_int_equal(ibuf_get_n64(b, &v64), -1);
	assert_int_equal(errno, EBADMSG);
	errno = 0;
	assert_int_equal(ibuf_get(b, raw, 4), -1);
	assert_int_equal(errno, EBADMSG);
	errno = 0;
	assert_int_equal(ibuf_skip(b, 4), -1);
	assert_int_equal(errno, EBADMSG);
	errno = 0;
	assert_int_equal(ibuf_get_string(b, &s, 100), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(ibuf_size(b), 3);
	assert_int_equal(ibuf_get(b, raw, 3), 0);
	assert_memory_equal(raw, "xyz", 3);
	assert_int_equal(ibuf_get(b, raw, 0), 0);
	errno = 0;
	assert_int_equal(ibuf_get_n8(b, &v8), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(ibuf_skip(b, 0), 0);
	ibuf_free(b);
	ibuf_free(NULL);
}

static void
test_ibuf_limits(void **state)
{
	struct ibuf	*b;
	unsigned char	 big[300];
	size_t		 i;

	(void)state;
	memset(big, 'a', sizeof(big));

	/* Fixed size: exactly full is fine, one more is not. */
	errno = 0;
	assert_null(ibuf_open(0));
	assert_int_equal(errno, EINVAL);
	assert_non_null(b = ibuf_open(8));
	assert_int_equal(ibuf_add(b, big, 8), 0);
	errno = 0;
	assert_int_equal(ibuf_add_n8(b, 1), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(ibuf_size(b), 8);
	assert_int_equal(ibuf_skip(b, 8), 0);
	assert_int_equal(ibuf_size(b), 0);
	ibuf_free(b);

	/* Dynamic: grows to max, not past it. */
	errno = 0;
	assert_null(ibuf_dynamic(10, 5));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(ibuf_dynamic(0, 0));
	assert_int_equal(errno, EINVAL);
	assert_non_null(b = ibuf_dynamic(4, 1000));
	for (i = 0; i < 3; i++)
		assert_int_equal(ibuf_add(b, big, 300), 0);
	assert_int_equal(ibuf_add(b, big, 100), 0);
	errno = 0;
	assert_int_equal(ibuf_add_n8(b, 1), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(ibuf_size(b), 1000);
	ibuf_free(b);

	/* A string that does not fit writes nothing, not even its length. */
	assert_non_null(b = ibuf_dynamic(0, 8));
	assert_int_equal(ibuf_add_string(b, "abcd"), 0);
	errno = 0;
	assert_int_equal(ibuf_add_string(b, "e"), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(ibuf_size(b), 8);
	ibuf_free(b);
}

static struct ibuf *
strbuf(uint32_t len, const void *bytes, size_t n)
{
	struct ibuf	*b;

	assert_non_null(b = ibuf_dynamic(0, 1024));
	assert_int_equal(ibuf_add_n32(b, len), 0);
	assert_int_equal(ibuf_add(b, bytes, n), 0);
	return (b);
}

static void
test_ibuf_get_string(void **state)
{
	static const struct {
		uint32_t	 len;
		const char	*bytes;
		size_t		 n;
		size_t		 max;
		const char	*want;	/* NULL: must fail with EBADMSG */
	} tab[] = {
		{ 5, "hello", 5, 5, "hello" },
		{ 5, "hello", 5, 100, "hello" },
		{ 0, "", 0, 0, "" },
		{ 3, "abcdef", 6, 3, "abc" },		/* rest left over */
		{ 5, "hello", 5, 4, NULL },		/* longer than max */
		{ 5, "hel\0o", 5, 5, NULL },		/* embedded NUL */
		{ 1, "\0", 1, 5, NULL },		/* only a NUL */
		{ 10, "hello", 5, 10, NULL },		/* short data */
		{ 0xffffffff, "x", 1, SIZE_MAX, NULL },	/* huge length */
	};
	struct ibuf	*b;
	char		*s, *sentinel = (char *)&b;
	size_t		 i, before;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++) {
		b = strbuf(tab[i].len, tab[i].bytes, tab[i].n);
		before = ibuf_size(b);
		s = sentinel;
		errno = 0;
		if (tab[i].want != NULL) {
			if (ibuf_get_string(b, &s, tab[i].max) != 0)
				fail_msg("case %zu: failed: %s", i,
				    strerror(errno));
			assert_string_equal(s, tab[i].want);
			assert_int_equal(ibuf_size(b),
			    before - 4 - strlen(tab[i].want));
			free(s);
		} else {
			if (ibuf_get_string(b, &s, tab[i].max) != -1)
				fail_msg("case %zu: accepted", i);
			assert_int_equal(errno, EBADMSG);
			assert_ptr_equal(s, sentinel);
			assert_int_equal(ibuf_size(b), before);
		}
		ibuf_free(b);
	}

	/* Fewer than four bytes: not even a length. */
	assert_non_null(b = ibuf_dynamic(0, 16));
	assert_int_equal(ibuf_add(b, "ab", 2), 0);
	errno = 0;
	assert_int_equal(ibuf_get_string(b, &s, 10), -1);
	assert_int_equal(errno, EBADMSG);
	ibuf_free(b);
}

/* --- imsgbuf settings and compose limits -------------------------------- */

static void
test_imsg_maxsize(void **state)
{
	struct imsgbuf	 ib;
	unsigned char	*p;
	struct ibuf	*b;
	struct iovec	 iov[2];
	int		 sv[2], nfd;

	(void)state;
	nfd = count_fds();
	mkpair(sv, 1);
	imsgbuf_init(&ib, sv[0]);
	assert_int_equal(ib.maxsize, IMSG_DEFAULT_MAXSIZE);
	assert_int_equal(ib.pid, getpid());

	/* set_maxsize: the header must fit, the absolute cap holds. */
	errno = 0;
	assert_int_equal(imsgbuf_set_maxsize(&ib, 0), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(imsgbuf_set_maxsize(&ib, IMSG_HEADER_SIZE - 1), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(imsgbuf_set_maxsize(&ib, IMSG_ABSOLUTE_MAXSIZE + 1),
	    -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ib.maxsize, IMSG_DEFAULT_MAXSIZE);
	assert_int_equal(imsgbuf_set_maxsize(&ib, IMSG_ABSOLUTE_MAXSIZE), 0);
	assert_int_equal(imsgbuf_set_maxsize(&ib, IMSG_HEADER_SIZE), 0);

	/* maxsize 16: only empty payloads. */
	assert_int_equal(imsg_compose(&ib, 1, 0, 0, -1, NULL, 0), 0);
	errno = 0;
	assert_int_equal(imsg_compose(&ib, 1, 0, 0, -1, "x", 1), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(imsgbuf_queuelen(&ib), 1);
	assert_int_equal(imsgbuf_queuebytes(&ib), IMSG_HEADER_SIZE);

	p = calloc(1, MiB + 1);
	assert_non_null(p);

	/* Default maxsize: the exact maximum goes, one more does not. */
	assert_int_equal(imsgbuf_set_maxsize(&ib, IMSG_DEFAULT_MAXSIZE), 0);
	assert_int_equal(imsg_compose(&ib, 2, 0, 0, -1, p,
	    MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE)), 0);
	errno = 0;
	assert_int_equal(imsg_compose(&ib, 2, 0, 0, -1, p,
	    MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE) + 1), -1);
	assert_int_equal(errno, ERANGE);

	/* The same through composev and compose_ibuf. */
	iov[0].iov_base = p;
	iov[0].iov_len = 100;
	iov[1].iov_base = p;
	iov[1].iov_len = MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE) - 100;
	assert_int_equal(imsg_composev(&ib, 3, 0, 0, -1, iov, 2), 0);
	iov[1].iov_len++;
	errno = 0;
	assert_int_equal(imsg_composev(&ib, 3, 0, 0, -1, iov, 2), -1);
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(imsg_composev(&ib, 3, 0, 0, -1, iov, -1), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(b = ibuf_dynamic(0, MiB));
	assert_int_equal(ibuf_add(b, p, MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE)), 0);
	assert_int_equal(imsg_compose_ibuf(&ib, 4, 0, 0, -1, b), 0);
	assert_non_null(b = ibuf_dynamic(0, MiB));
	assert_int_equal(ibuf_add(b, p, MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE) + 1),
	    0);
	errno = 0;
	/* Rejected, and freed all the same (the sanitizer run checks). */
	assert_int_equal(imsg_compose_ibuf(&ib, 4, 0, 0, -1, b), -1);
	assert_int_equal(errno, ERANGE);

	/* Raised to 1 MiB. */
	assert_int_equal(imsgbuf_set_maxsize(&ib, MiB), 0);
	assert_int_equal(imsg_compose(&ib, 5, 0, 0, -1, p, MAXPAYLOAD(MiB)),
	    0);
	errno = 0;
	assert_int_equal(imsg_compose(&ib, 5, 0, 0, -1, p,
	    MAXPAYLOAD(MiB) + 1), -1);
	assert_int_equal(errno, ERANGE);

	assert_int_equal(imsgbuf_queuelen(&ib), 5);
	assert_int_equal(imsgbuf_queuebytes(&ib),
	    IMSG_HEADER_SIZE + 3 * IMSG_DEFAULT_MAXSIZE + MiB);
	imsgbuf_clear(&ib);
	assert_int_equal(imsgbuf_queuelen(&ib), 0);
	assert_int_equal(imsgbuf_queuebytes(&ib), 0);
	free(p);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(count_fds(), nfd);
}

/* --- round trips -------------------------------------------------------- */

static void
roundtrip_sizes(uint32_t maxsize, const size_t *sizes, size_t nsizes,
    int expect_partial)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	unsigned char	*p;
	size_t		 i, partial = 0;
	int		 sv[2];

	mkpair(sv, 1);
	small_sndbuf(sv[0]);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	assert_int_equal(imsgbuf_set_maxsize(&w, maxsize), 0);
	assert_int_equal(imsgbuf_set_maxsize(&r, maxsize), 0);
	assert_non_null(p = malloc(MAXPAYLOAD(maxsize) + 1));

	/* One at a time. */
	for (i = 0; i < nsizes; i++) {
		fill(p, sizes[i], (uint32_t)i);
		assert_int_equal(imsg_compose(&w, 100 + i, 7 * i, 4242, -1, p,
		    sizes[i]), 0);
		if (pump(&w, &r, &m, &partial) != 1)
			fail_msg("size %zu: no message (%s)", sizes[i],
			    strerror(errno));
		assert_int_equal(imsg_get_type(&m), 100 + i);
		assert_int_equal(imsg_get_peerid(&m), 7 * i);
		assert_int_equal(imsg_get_pid(&m), 4242);
		assert_int_equal(imsg_get_len(&m), sizes[i]);
		assert_int_equal(m.fd, -1);
		if (sizes[i] > 0 && !check_fill(m.data.buf, sizes[i],
		    (uint32_t)i))
			fail_msg("size %zu: payload differs", sizes[i]);
		imsg_free(&m);
	}

	/* All queued at once: several messages share reads and writes. */
	for (i = 0; i < nsizes; i++) {
		fill(p, sizes[i], (uint32_t)i + 1000);
		assert_int_equal(imsg_compose(&w, 200 + i, 0, 0, -1, p,
		    sizes[i]), 0);
	}
	for (i = 0; i < nsizes; i++) {
		if (pump(&w, &r, &m, &partial) != 1)
			fail_msg("queued size %zu: no message", sizes[i]);
		assert_int_equal(imsg_get_type(&m), 200 + i);
		assert_int_equal(imsg_get_pid(&m), getpid());
		assert_int_equal(imsg_get_len(&m), sizes[i]);
		if (sizes[i] > 0 && !check_fill(m.data.buf, sizes[i],
		    (uint32_t)i + 1000))
			fail_msg("queued size %zu: payload differs", sizes[i]);
		imsg_free(&m);
	}
	assert_int_equal(imsgbuf_queuelen(&w), 0);
	assert_int_equal(imsgbuf_queuebytes(&w), 0);
	assert_int_equal(imsg_get(&r, &m), 0);
	if (expect_partial && partial == 0)
		fail_msg("no partial write happened");
	/* The read buffer never outgrew maxsize. */
	assert_true(r.rsize <= maxsize);

	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	free(p);
	close(sv[0]);
	close(sv[1]);
}

static void
test_imsg_roundtrip_default(void **state)
{
	static const size_t sizes[] = {
		0, 1, 15, 16, 17, 100, 4095, 4096, 4097, 30000, 65519,
		MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE), 0, 1,
	};
	int	nfd;

	(void)state;
	nfd = count_fds();
	roundtrip_sizes(IMSG_DEFAULT_MAXSIZE, sizes, NITEMS(sizes), 1);
	assert_int_equal(count_fds(), nfd);
}

static void
test_imsg_roundtrip_1mib(void **state)
{
	static const size_t sizes[] = {
		0, 1, 16, 4096, 65519, MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE),
		IMSG_DEFAULT_MAXSIZE, 300001, MAXPAYLOAD(MiB) - 1,
		MAXPAYLOAD(MiB), 3,
	};
	int	nfd;

	(void)state;
	nfd = count_fds();
	roundtrip_sizes(MiB, sizes, NITEMS(sizes), 1);
	assert_int_equal(count_fds(), nfd);
}

static void
test_imsg_compose_variants(void **state)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	struct ibuf	*b, rd;
	struct iovec	 iov[3];
	uint32_t	 v32;
	char		*s;
	int		 sv[2];

	(void)state;
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);

	iov[0].iov_base = (void *)(uintptr_t)"abc";
	iov[0].iov_len = 3;
	iov[1].iov_base = NULL;
	iov[1].iov_len = 0;
	iov[2].iov_base = (void *)(uintptr_t)"defg";
	iov[2].iov_len = 4;
	assert_int_equal(imsg_composev(&w, 1, 11, 0, -1, iov, 3), 0);
	assert_int_equal(imsg_composev(&w, 2, 12, 0, -1, NULL, 0), 0);

	assert_non_null(b = ibuf_dynamic(0, 256));
	assert_int_equal(ibuf_add_n32(b, 77), 0);
	assert_int_equal(ibuf_add_string(b, "podrunner"), 0);
	assert_int_equal(imsg_compose_ibuf(&w, 3, 13, 0, -1, b), 0);

	assert_int_equal(pump(&w, &r, &m, NULL), 1);
	assert_int_equal(imsg_get_type(&m), 1);
	assert_int_equal(imsg_get_len(&m), 7);
	assert_memory_equal(m.data.buf, "abcdefg", 7);
	imsg_free(&m);
	assert_int_equal(pump(&w, &r, &m, NULL), 1);
	assert_int_equal(imsg_get_type(&m), 2);
	assert_int_equal(imsg_get_len(&m), 0);
	imsg_free(&m);
	assert_int_equal(pump(&w, &r, &m, NULL), 1);
	assert_int_equal(imsg_get_type(&m), 3);
	assert_int_equal(imsg_get_peerid(&m), 13);
	assert_int_equal(imsg_get_ibuf(&m, &rd), 0);
	assert_int_equal(ibuf_get_n32(&rd, &v32), 0);
	assert_int_equal(v32, 77);
	assert_int_equal(ibuf_get_string(&rd, &s, 64), 0);
	assert_string_equal(s, "podrunner");
	free(s);
	assert_int_equal(ibuf_size(&rd), 0);
	/* The reader is read-only. */
	errno = 0;
	assert_int_equal(ibuf_add_n8(&rd, 1), -1);
	assert_int_equal(errno, ERANGE);
	imsg_free(&m);
	imsg_free(&m);		/* twice is harmless */

	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
}

static void
test_imsg_get_data(void **state)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	struct ibuf	 rd;
	struct {
		uint32_t	a;
		uint64_t	b;
	} __attribute__((__packed__)) in = { 5, 6 }, out;
	unsigned char	 big[sizeof(in) + 1];
	uint64_t	 v64;
	uint32_t	 v32;
	uint8_t		 v8;
	int		 sv[2];

	(void)state;
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	assert_int_equal(imsg_compose(&w, 9, 0, 0, -1, &in, sizeof(in)), 0);
	assert_int_equal(imsg_compose(&w, 10, 0, 0, -1, NULL, 0), 0);

	assert_int_equal(pump(&w, &r, &m, NULL), 1);
	assert_int_equal(imsg_get_len(&m), 12);
	errno = 0;
	assert_int_equal(imsg_get_data(&m, &out, sizeof(out) - 1), -1);
	assert_int_equal(errno, EBADMSG);
	errno = 0;
	assert_int_equal(imsg_get_data(&m, big, sizeof(big)), -1);
	assert_int_equal(errno, EBADMSG);
	errno = 0;
	assert_int_equal(imsg_get_data(&m, NULL, 0), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(imsg_get_data(&m, &out, sizeof(out)), 0);
	assert_int_equal(out.a, 5);
	assert_true(out.b == 6);

	/* A reader sees the payload and nothing past it, every time. */
	assert_int_equal(imsg_get_ibuf(&m, &rd), 0);
	assert_int_equal(ibuf_get_n32(&rd, &v32), 0);
	assert_int_equal(ibuf_get_n64(&rd, &v64), 0);
	assert_int_equal(v32, 5);
	assert_true(v64 == 6);
	errno = 0;
	assert_int_equal(ibuf_get_n8(&rd, &v8), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(imsg_get_ibuf(&m, &rd), 0);
	assert_int_equal(ibuf_size(&rd), 12);
	assert_int_equal(ibuf_skip(&rd, 9), 0);
	errno = 0;
	assert_int_equal(ibuf_get_n32(&rd, &v32), -1);
	assert_int_equal(errno, EBADMSG);
	imsg_free(&m);

	/* Empty payload: only the empty read fits. */
	assert_int_equal(pump(&w, &r, &m, NULL), 1);
	assert_int_equal(imsg_get_len(&m), 0);
	assert_int_equal(imsg_get_data(&m, NULL, 0), 0);
	errno = 0;
	assert_int_equal(imsg_get_data(&m, &v8, 1), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(imsg_get_ibuf(&m, &rd), 0);
	assert_int_equal(ibuf_size(&rd), 0);
	errno = 0;
	assert_int_equal(ibuf_get_n8(&rd, &v8), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(imsg_get_fd(&m), -1);
	imsg_free(&m);

	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
}

/* --- bad and truncated input -------------------------------------------- */

static void
test_imsg_bad_header(void **state)
{
	static const struct {
		uint32_t	maxsize;
		uint32_t	len;
		int		want;	/* imsg_get: 0 wait, -1 EBADMSG */
	} tab[] = {
		{ IMSG_DEFAULT_MAXSIZE, 16, 1 },
		{ IMSG_DEFAULT_MAXSIZE, 17, 0 },
		{ IMSG_DEFAULT_MAXSIZE, IMSG_DEFAULT_MAXSIZE, 0 },
		{ IMSG_DEFAULT_MAXSIZE, 0, -1 },
		{ IMSG_DEFAULT_MAXSIZE, 8, -1 },
		{ IMSG_DEFAULT_MAXSIZE, 15, -1 },
		{ IMSG_DEFAULT_MAXSIZE, IMSG_DEFAULT_MAXSIZE + 1, -1 },
		{ IMSG_DEFAULT_MAXSIZE, IMSG_LEN_MASK, -1 },
		{ IMSG_DEFAULT_MAXSIZE, 0xffffffff, -1 },	/* mark + huge */
		{ MiB, MiB, 0 },
		{ MiB, MiB + 1, -1 },
		{ 16, 16, 1 },
		{ 16, 17, -1 },
	};
	struct imsgbuf	 r;
	struct imsg	 m;
	size_t		 i;
	int		 sv[2], got;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++) {
		mkpair(sv, 1);
		imsgbuf_init(&r, sv[1]);
		imsgbuf_allow_fdpass(&r);
		assert_int_equal(imsgbuf_set_maxsize(&r, tab[i].maxsize), 0);
		/* The header alone: nothing past it may be read. */
		raw_hdr(sv[0], 1, tab[i].len, 0, 0);
		assert_int_equal(imsgbuf_read(&r), IMSG_HEADER_SIZE);
		errno = 0;
		got = imsg_get(&r, &m);
		if (got != tab[i].want)
			fail_msg("case %zu (len %#x max %u): got %d want %d",
			    i, tab[i].len, tab[i].maxsize, got, tab[i].want);
		if (got == -1)
			assert_int_equal(errno, EBADMSG);
		if (got == 1)
			imsg_free(&m);
		imsgbuf_clear(&r);
		close(sv[0]);
		close(sv[1]);
	}
}

static void
test_imsg_truncated(void **state)
{
	struct imsgbuf	 r;
	struct imsg	 m;
	unsigned char	 body[24];
	int		 sv[2];

	(void)state;
	/* The header says 100 bytes, 40 arrive, then the peer is gone. */
	mkpair(sv, 1);
	imsgbuf_init(&r, sv[1]);
	raw_hdr(sv[0], 1, 100, 0, 0);
	memset(body, 'z', sizeof(body));
	raw_write(sv[0], body, sizeof(body));
	close(sv[0]);
	assert_int_equal(imsgbuf_read(&r), 40);
	assert_int_equal(imsg_get(&r, &m), 0);
	assert_int_equal(imsgbuf_read(&r), 0);
	assert_true(r.flags & IMSGF_EOF);
	assert_int_equal(imsg_get(&r, &m), 0);
	assert_int_equal(imsgbuf_read(&r), 0);
	imsgbuf_clear(&r);
	close(sv[1]);

	/* A header cut short behaves the same. */
	mkpair(sv, 1);
	imsgbuf_init(&r, sv[1]);
	raw_write(sv[0], "\x01\x00\x00\x00\x20\x00", 6);
	close(sv[0]);
	assert_int_equal(imsgbuf_read(&r), 6);
	assert_int_equal(imsg_get(&r, &m), 0);
	assert_int_equal(imsgbuf_read(&r), 0);
	assert_int_equal(imsg_get(&r, &m), 0);
	imsgbuf_clear(&r);
	close(sv[1]);
}

static void
test_imsg_peer_close_mid(void **state)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	unsigned char	*p;
	size_t		 total = 0;
	ssize_t		 n;
	int		 sv[2], got, nmsg = 0;

	(void)state;
	mkpair(sv, 1);
	small_sndbuf(sv[0]);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	assert_non_null(p = calloc(1, MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE)));
	assert_int_equal(imsg_compose(&w, 1, 0, 0, -1, "first", 5), 0);
	assert_int_equal(imsg_compose(&w, 2, 0, 0, -1, p,
	    MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE)), 0);
	assert_int_equal(imsgbuf_write(&w), 0);
	/* The socket took part of the big one only. */
	assert_int_equal(imsgbuf_queuelen(&w), 1);
	assert_true(w.wfirst_off > 0);
	assert_int_equal(imsgbuf_queuebytes(&w),
	    IMSG_DEFAULT_MAXSIZE - w.wfirst_off);
	imsgbuf_clear(&w);
	close(sv[0]);

	/* The complete first message comes out, the cut one never does. */
	while ((n = imsgbuf_read(&r)) != 0) {
		if (n == -1) {
			assert_int_equal(errno, EAGAIN);
			continue;	/* the data is all there already */
		}
		total += n;
		while ((got = imsg_get(&r, &m)) == 1) {
			assert_int_equal(imsg_get_type(&m), 1);
			assert_int_equal(imsg_get_len(&m), 5);
			imsg_free(&m);
			nmsg++;
		}
		assert_int_equal(got, 0);
	}
	assert_int_equal(nmsg, 1);
	assert_true(total > 21);
	assert_true(total < 21 + IMSG_DEFAULT_MAXSIZE);
	assert_int_equal(imsg_get(&r, &m), 0);
	imsgbuf_clear(&r);
	close(sv[1]);
	free(p);
}

/* imsgbuf_read refuses (ENOBUFS) once a full buffer was not drained. */
static void
test_imsg_read_undrained(void **state)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	unsigned char	 p[48];
	int		 sv[2], i, got = 0;

	(void)state;
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	assert_int_equal(imsgbuf_set_maxsize(&r, 64), 0);
	memset(p, 0, sizeof(p));
	for (i = 0; i < 5; i++)
		assert_int_equal(imsg_compose(&w, i, 0, 0, -1, p, sizeof(p)),
		    0);
	assert_int_equal(imsgbuf_flush(&w), 0);
	errno = 0;
	assert_int_equal(drain(&r), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(r.rsize, 64);
	while (got < 5) {
		i = imsg_get(&r, &m);
		if (i == 1) {
			assert_int_equal(imsg_get_type(&m), got);
			imsg_free(&m);
			got++;
		} else {
			assert_int_equal(i, 0);
			assert_true(imsgbuf_read(&r) > 0);
		}
	}
	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
}

/* --- fd passing --------------------------------------------------------- */

static void
test_imsg_fdpass(void **state)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	unsigned char	*big;
	char		 c, buf[8];
	int		 sv[2], p[4][2], fd, i, nfd;

	(void)state;
	nfd = count_fds();
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	imsgbuf_allow_fdpass(&w);
	imsgbuf_allow_fdpass(&r);

	/* A pipe's read end goes; the sender's copy is closed once sent. */
	assert_int_equal(pipe(p[0]), 0);
	assert_int_equal(imsg_compose(&w, 1, 0, 0, p[0][0], "pipe", 4), 0);
	assert_int_equal(imsgbuf_write(&w), 0);
	assert_false(fd_is_open(p[0][0]));
	assert_int_equal(imsgbuf_read(&r), IMSG_HEADER_SIZE + 4);
	assert_int_equal(r.nrfds, 1);
	assert_int_equal(imsg_get(&r, &m), 1);
	assert_int_equal(r.nrfds, 0);
	assert_int_equal(imsg_get_len(&m), 4);
	fd = imsg_get_fd(&m);
	assert_true(fd >= 0);
	assert_int_equal(imsg_get_fd(&m), -1);	/* claimed */
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	imsg_free(&m);
	assert_true(fd_is_open(fd));	/* claimed fds are the caller's */
	assert_int_equal(write(p[0][1], "hello", 5), 5);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	close(fd);
	close(p[0][1]);

	/*
	 * Messages with and without fds, queued together: each fd comes
	 * out with its own message.
	 */
	for (i = 0; i < 4; i++) {
		assert_int_equal(pipe(p[i]), 0);
		c = 'a' + i;
		assert_int_equal(write(p[i][1], &c, 1), 1);
		close(p[i][1]);
		assert_int_equal(imsg_compose(&w, 10 + i, 0, 0, -1, NULL, 0),
		    0);
		assert_int_equal(imsg_compose(&w, 20 + i, 0, 0, p[i][0], &c,
		    1), 0);
	}
	assert_int_equal(imsgbuf_flush(&w), 0);
	for (i = 0; i < 8; i++) {
		assert_int_equal(pump(NULL, &r, &m, NULL), 1);
		if (i % 2 == 0) {
			assert_int_equal(imsg_get_type(&m), 10 + i / 2);
			assert_int_equal(imsg_get_fd(&m), -1);
		} else {
			assert_int_equal(imsg_get_type(&m), 20 + i / 2);
			assert_int_equal(imsg_get_data(&m, &c, 1), 0);
			fd = imsg_get_fd(&m);
			assert_true(fd >= 0);
			assert_int_equal(read(fd, buf, 1), 1);
			assert_int_equal(buf[0], c);
			close(fd);
		}
		imsg_free(&m);
	}

	/*
	 * A big message with an fd, written in pieces: the fd goes with
	 * the first piece, is closed then, and is not sent again.
	 */
	small_sndbuf(sv[0]);
	assert_non_null(big = calloc(1, MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE)));
	assert_int_equal(pipe(p[0]), 0);
	assert_int_equal(imsg_compose(&w, 30, 0, 0, p[0][0], big,
	    MAXPAYLOAD(IMSG_DEFAULT_MAXSIZE)), 0);
	assert_int_equal(imsg_compose(&w, 31, 0, 0, -1, NULL, 0), 0);
	assert_int_equal(imsgbuf_write(&w), 0);
	assert_true(w.wfirst_off > 0);
	assert_false(fd_is_open(p[0][0]));
	for (i = 30; i <= 31; i++) {
		assert_int_equal(pump(&w, &r, &m, NULL), 1);
		assert_int_equal(imsg_get_type(&m), i);
		assert_true(i == 30 ? m.fd >= 0 : m.fd == -1);
		assert_int_equal(r.nrfds, 0);
		imsg_free(&m);
	}
	close(p[0][1]);
	free(big);

	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(count_fds(), nfd);
}

static void
test_imsg_fd_unclaimed(void **state)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	int		 sv[2], p[2], fd, i, nfd;

	(void)state;
	nfd = count_fds();
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	imsgbuf_allow_fdpass(&w);
	imsgbuf_allow_fdpass(&r);

	/* Not claimed: imsg_free closes it. */
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	assert_int_equal(imsg_compose(&w, 1, 0, 0, p[0], NULL, 0), 0);
	assert_int_equal(pump(&w, &r, &m, NULL), 1);
	fd = m.fd;
	assert_true(fd >= 0 && fd_is_open(fd));
	imsg_free(&m);
	assert_false(fd_is_open(fd));
	assert_int_equal(count_fds(), nfd + 2);

	/* Unsent fds are closed by imsgbuf_clear... */
	for (i = 0; i < 3; i++) {
		assert_int_equal(pipe(p), 0);
		close(p[1]);
		assert_int_equal(imsg_compose(&w, 2, 0, 0, p[0], NULL, 0), 0);
	}
	assert_int_equal(count_fds(), nfd + 2 + 3);
	imsgbuf_clear(&w);
	assert_int_equal(count_fds(), nfd + 2);

	/* ...and so are received ones no message took. */
	imsgbuf_init(&w, sv[0]);
	imsgbuf_allow_fdpass(&w);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pipe(p), 0);
		close(p[1]);
		assert_int_equal(imsg_compose(&w, 3, 0, 0, p[0], NULL, 0), 0);
	}
	assert_int_equal(imsgbuf_flush(&w), 0);
	assert_int_equal(count_fds(), nfd + 2);
	errno = 0;
	assert_int_equal(drain(&r), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(r.nrfds, 3);
	assert_int_equal(count_fds(), nfd + 2 + 3);
	imsgbuf_clear(&r);
	assert_int_equal(count_fds(), nfd + 2);

	imsgbuf_clear(&w);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(count_fds(), nfd);
}

static void
test_imsg_fd_not_allowed(void **state)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	int		 sv[2], p[2], nfd;

	(void)state;
	nfd = count_fds();
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	assert_int_equal(pipe(p), 0);

	/* Sender without fdpass: refused, and the fd stays the caller's. */
	errno = 0;
	assert_int_equal(imsg_compose(&w, 1, 0, 0, p[0], NULL, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(imsgbuf_queuelen(&w), 0);
	assert_true(fd_is_open(p[0]));
	/* No fd is fine on the same channel. */
	assert_int_equal(imsg_compose(&w, 2, 0, 0, -1, NULL, 0), 0);
	assert_int_equal(pump(&w, &r, &m, NULL), 1);
	imsg_free(&m);

	/* Receiver without fdpass: the fd is closed and the read fails. */
	imsgbuf_allow_fdpass(&w);
	assert_int_equal(imsg_compose(&w, 3, 0, 0, p[0], NULL, 0), 0);
	assert_int_equal(imsgbuf_flush(&w), 0);
	assert_false(fd_is_open(p[0]));
	assert_int_equal(count_fds(), nfd + 3);
	errno = 0;
	assert_int_equal(imsgbuf_read(&r), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(r.nrfds, 0);
	assert_int_equal(count_fds(), nfd + 3);

	imsgbuf_clear(&w);
	imsgbuf_clear(&r);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(count_fds(), nfd);
}

static void
test_imsg_fd_mark_without_fd(void **state)
{
	struct imsgbuf	 r;
	struct imsg	 m;
	int		 sv[2];

	(void)state;
	mkpair(sv, 1);
	imsgbuf_init(&r, sv[1]);
	imsgbuf_allow_fdpass(&r);
	/* A plain header next to one that claims an fd it lacks. */
	raw_hdr(sv[0], 1, IMSG_HEADER_SIZE, 0, 0);
	raw_hdr(sv[0], 2, IMSG_HEADER_SIZE | IMSG_FD_MARK, 0, 0);
	assert_int_equal(imsgbuf_read(&r), 2 * IMSG_HEADER_SIZE);
	assert_int_equal(imsg_get(&r, &m), 1);
	assert_int_equal(imsg_get_type(&m), 1);
	assert_int_equal(m.fd, -1);
	imsg_free(&m);
	errno = 0;
	assert_int_equal(imsg_get(&r, &m), -1);
	assert_int_equal(errno, EBADMSG);
	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);
}

static void
test_imsg_fd_flood(void **state)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 32)];
	}		 cmsgbuf;
	struct imsgbuf	 w, r;
	struct imsg_hdr	 hdr;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	int		 sv[2], p[2], fds[32], i, nfd, ok = 0;
	ssize_t		 n;

	(void)state;
	nfd = count_fds();

	/* More fds than may be queued: the one too many fails the read. */
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	imsgbuf_allow_fdpass(&w);
	imsgbuf_allow_fdpass(&r);
	assert_int_equal(pipe(p), 0);
	for (i = 0; i < IMSG_MAX_QUEUED_FDS + 1; i++)
		assert_int_equal(imsg_compose(&w, 1, 0, 0, dup(p[0]), NULL, 0),
		    0);
	assert_int_equal(imsgbuf_flush(&w), 0);
	while ((n = imsgbuf_read(&r)) > 0)
		ok++;
	assert_int_equal(n, -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(ok, IMSG_MAX_QUEUED_FDS);
	assert_int_equal(r.nrfds, IMSG_MAX_QUEUED_FDS);
	imsgbuf_clear(&r);
	imsgbuf_clear(&w);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(count_fds(), nfd + 2);

	/* Many fds in one go: more than recvmsg takes, all closed. */
	mkpair(sv, 1);
	imsgbuf_init(&r, sv[1]);
	imsgbuf_allow_fdpass(&r);
	for (i = 0; i < 32; i++)
		assert_true((fds[i] = dup(p[0])) >= 0);
	hdr.type = 1;
	hdr.len = IMSG_HEADER_SIZE | IMSG_FD_MARK;
	hdr.peerid = hdr.pid = 0;
	iov.iov_base = &hdr;
	iov.iov_len = sizeof(hdr);
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	assert_int_equal(sendmsg(sv[0], &msg, 0), sizeof(hdr));
	for (i = 0; i < 32; i++)
		close(fds[i]);
	errno = 0;
	assert_int_equal(imsgbuf_read(&r), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(r.nrfds, 0);
	imsgbuf_clear(&r);
	close(sv[0]);
	close(sv[1]);

	close(p[0]);
	close(p[1]);
	assert_int_equal(count_fds(), nfd);
}

/* --- volume ------------------------------------------------------------- */

#define NMANY	1000

static void
test_imsg_many_queued(void **state)
{
	struct imsgbuf	 w, r;
	struct imsg	 m;
	struct pollfd	 pfd;
	unsigned char	*p;
	size_t		 bytes = 0, len;
	ssize_t		 n;
	pid_t		 child, me;
	int		 sv[2], i, got = 0, status;

	(void)state;
	me = getpid();
	mkpair(sv, 1);
	imsgbuf_init(&w, sv[0]);
	imsgbuf_init(&r, sv[1]);
	assert_non_null(p = malloc(1000));
	for (i = 0; i < NMANY; i++) {
		len = (size_t)(i * 37) % 700;
		fill(p, len, i);
		assert_int_equal(imsg_compose(&w, i, 3 * i,
		    i % 2 ? 5000 + i : 0, -1, p, len), 0);
		bytes += IMSG_HEADER_SIZE + len;
	}
	assert_int_equal(imsgbuf_queuelen(&w), NMANY);
	assert_int_equal(imsgbuf_queuebytes(&w), bytes);
	/* More than the socket holds: the flusher has to wait for us. */
	assert_true(bytes > 300 * 1024);

	if ((child = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (child == 0) {
		close(sv[1]);
		_exit(imsgbuf_flush(&w) == 0 && imsgbuf_queuelen(&w) == 0 &&
		    imsgbuf_queuebytes(&w) == 0 ? 0 : 1);
	}
	imsgbuf_clear(&w);
	close(sv[0]);

	while (got < NMANY) {
		i = imsg_get(&r, &m);
		assert_int_not_equal(i, -1);
		if (i == 0) {
			pfd.fd = sv[1];
			pfd.events = POLLIN;
			assert_int_equal(poll(&pfd, 1, 10000), 1);
			n = imsgbuf_read(&r);
			assert_true(n > 0);
			continue;
		}
		len = (size_t)(got * 37) % 700;
		assert_int_equal(imsg_get_type(&m), got);
		assert_int_equal(imsg_get_peerid(&m), 3 * got);
		assert_int_equal(imsg_get_pid(&m), got % 2 ? 5000 + got : me);
		assert_int_equal(imsg_get_len(&m), len);
		assert_true(check_fill(m.data.buf, len, got));
		imsg_free(&m);
		got++;
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(imsgbuf_read(&r), 0);	/* then EOF */
	assert_int_equal(imsg_get(&r, &m), 0);
	imsgbuf_clear(&r);
	close(sv[1]);
	free(p);
}

/* --- libevent glue ------------------------------------------------------ */

struct evctx {
	struct imsgev	iev;
	int		got;
	int		eof;
	int		err;
	uint32_t	last_type;
};

static void
evctx_handler(int fd, short events, void *arg)
{
	struct evctx	*ctx = arg;
	struct imsg	 m;
	int		 r;

	(void)fd;
	r = imsgev_handle_io(&ctx->iev, events);
	if (r == 0) {
		ctx->eof = 1;
		return;
	}
	if (r == -1) {
		ctx->err = errno;
		return;
	}
	while ((r = imsg_get(&ctx->iev.ibuf, &m)) == 1) {
		ctx->got++;
		ctx->last_type = imsg_get_type(&m);
		imsg_free(&m);
	}
	if (r == -1)
		ctx->err = errno;
	imsgev_add(&ctx->iev);
}

static void
test_imsgev(void **state)
{
	struct event_base	*base;
	struct evctx		 ctx;
	struct imsgbuf		 peer;
	struct imsg		 m;
	struct ibuf		*b;
	int			 sv[2], i, nfd;

	(void)state;
	nfd = count_fds();
	memset(&ctx, 0, sizeof(ctx));

	/* No base set: no event, EINVAL. */
	mkpair(sv, 1);
	imsgev_set_base(NULL);
	errno = 0;
	imsgev_init(&ctx.iev, sv[0], "peer", evctx_handler, &ctx);
	assert_null(ctx.iev.ev);
	assert_int_equal(errno, EINVAL);
	imsgev_clear(&ctx.iev);
	assert_false(fd_is_open(sv[0]));

	assert_non_null(base = event_base_new());
	imsgev_set_base(base);
	imsgev_init(&ctx.iev, sv[1], "peer", evctx_handler, &ctx);
	assert_non_null(ctx.iev.ev);
	mkpair(sv, 1);
	imsgev_clear(&ctx.iev);		/* closes the old sv[1] */
	imsgev_init(&ctx.iev, sv[0], "peer", evctx_handler, &ctx);
	assert_non_null(ctx.iev.ev);
	imsgbuf_init(&peer, sv[1]);
	imsgev_add(&ctx.iev);
	assert_int_equal(ctx.iev.events, EV_READ);

	/* Outgoing: composing arms EV_WRITE, the loop sends. */
	assert_int_equal(imsgev_compose(&ctx.iev, 7, 1, 0, -1, "x", 1), 0);
	assert_int_equal(ctx.iev.events, EV_READ | EV_WRITE);
	assert_non_null(b = ibuf_dynamic(0, 16));
	assert_int_equal(ibuf_add_n32(b, 9), 0);
	assert_int_equal(imsgev_compose_ibuf(&ctx.iev, 8, 1, 0, -1, b), 0);
	assert_int_equal(imsgev_composev(&ctx.iev, 9, 1, 0, -1, NULL, 0), 0);
	errno = 0;
	assert_int_equal(imsgev_compose(&ctx.iev, 9, 1, 0, 0, NULL, 0), -1);
	assert_int_equal(errno, EPERM);
	for (i = 0; i < 10 && imsgbuf_queuelen(&ctx.iev.ibuf) > 0; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(imsgbuf_queuelen(&ctx.iev.ibuf), 0);
	assert_int_equal(ctx.iev.events, EV_READ);
	for (i = 7; i <= 9; i++) {
		assert_int_equal(pump(NULL, &peer, &m, NULL), 1);
		assert_int_equal(imsg_get_type(&m), i);
		imsg_free(&m);
	}

	/* Incoming: the handler reads and fetches. */
	assert_int_equal(imsg_compose(&peer, 42, 0, 0, -1, NULL, 0), 0);
	assert_int_equal(imsg_compose(&peer, 43, 0, 0, -1, NULL, 0), 0);
	assert_int_equal(imsgbuf_flush(&peer), 0);
	for (i = 0; i < 10 && ctx.got < 2; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(ctx.got, 2);
	assert_int_equal(ctx.last_type, 43);
	assert_int_equal(ctx.err, 0);

	/*
	 * The peer's last words, then it goes while we have output: the
	 * write fails (EPIPE), the message still comes out, then EOF.
	 */
	assert_int_equal(imsg_compose(&peer, 44, 0, 0, -1, NULL, 0), 0);
	assert_int_equal(imsgbuf_flush(&peer), 0);
	imsgbuf_clear(&peer);
	close(sv[1]);
	assert_int_equal(imsgev_compose(&ctx.iev, 1, 0, 0, -1, NULL, 0), 0);
	for (i = 0; i < 10 && !ctx.eof; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(ctx.eof, 1);
	assert_int_equal(ctx.err, 0);
	assert_int_equal(ctx.got, 3);
	assert_int_equal(ctx.last_type, 44);
	/* EOF seen from the write side alone. */
	errno = 0;
	assert_int_equal(imsgev_handle_io(&ctx.iev, EV_WRITE), 0);
	assert_int_equal(errno, EPIPE);

	imsgev_clear(&ctx.iev);
	assert_null(ctx.iev.ev);
	assert_int_equal(ctx.iev.ibuf.fd, -1);
	event_base_free(base);
	imsgev_set_base(NULL);
	assert_int_equal(count_fds(), nfd);
}

/* imsg_wait: blocks for one whole message, 0 at EOF. */
static void
test_imsg_wait(void **state)
{
	struct imsgbuf	a, b;
	struct imsg	imsg;
	uint32_t	v = 42, got;
	int		sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	assert_int_equal(imsg_compose(&a, 7, 9, 0, -1, &v, sizeof(v)), 0);
	assert_int_equal(imsgbuf_flush(&a), 0);
	assert_int_equal(imsg_wait(&b, &imsg), 1);
	assert_int_equal(imsg_get_type(&imsg), 7);
	assert_int_equal(imsg_get_peerid(&imsg), 9);
	assert_int_equal(imsg_get_data(&imsg, &got, sizeof(got)), 0);
	assert_int_equal(got, 42);
	imsg_free(&imsg);
	/* A peer that goes away: EOF, not a hang. */
	imsgbuf_clear(&a);
	close(sv[0]);
	assert_int_equal(imsg_wait(&b, &imsg), 0);
	imsgbuf_clear(&b);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ibuf_build_read),
		cmocka_unit_test(test_ibuf_limits),
		cmocka_unit_test(test_ibuf_get_string),
		cmocka_unit_test(test_imsg_maxsize),
		cmocka_unit_test(test_imsg_roundtrip_default),
		cmocka_unit_test(test_imsg_roundtrip_1mib),
		cmocka_unit_test(test_imsg_compose_variants),
		cmocka_unit_test(test_imsg_get_data),
		cmocka_unit_test(test_imsg_bad_header),
		cmocka_unit_test(test_imsg_truncated),
		cmocka_unit_test(test_imsg_peer_close_mid),
		cmocka_unit_test(test_imsg_read_undrained),
		cmocka_unit_test(test_imsg_fdpass),
		cmocka_unit_test(test_imsg_fd_unclaimed),
		cmocka_unit_test(test_imsg_fd_not_allowed),
		cmocka_unit_test(test_imsg_fd_mark_without_fd),
		cmocka_unit_test(test_imsg_fd_flood),
		cmocka_unit_test(test_imsg_many_queued),
		cmocka_unit_test(test_imsgev),
		cmocka_unit_test(test_imsg_wait),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
