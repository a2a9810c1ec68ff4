/*
 * libpodshm: the ring buffers, good input and hostile input.
 *
 * Each test gets a fresh 8192-byte segment (3904-byte data areas), a
 * supervisor handle (the creator), a worker handle (podshm_open) and a
 * raw mapping of its own through which the test plays a hostile peer.
 * Ring 0 carries worker -> supervisor, ring 1 supervisor -> worker.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "podshm.h"

#define SEG_SIZE	8192
#define CAP		(SEG_SIZE / 2 - PODSHM_HDR_SIZE)	/* 3904 */
#define MAXF		(CAP - 4)				/* 3900 */

struct fix {
	char		 name[64];
	size_t		 size;
	struct podshm	*sup;
	struct podshm	*wrk;
	unsigned char	*raw;
};

static int	counter;

/* --- helpers --------------------------------------------------------- */

static void
mkname(char *buf, size_t len)
{
	snprintf(buf, len, "/podshm-test-%ld-%d", (long)getpid(), counter++);
}

static unsigned char *
raw_map(const char *name, size_t size)
{
	unsigned char	*p;
	int		 fd;

	fd = shm_open(name, O_RDWR, 0);
	assert_true(fd >= 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);
	return p;
}

static unsigned char *
rhdr(struct fix *f, int ring)
{
	return f->raw + (size_t)ring * (f->size / 2);
}

static unsigned char *
rdata(struct fix *f, int ring)
{
	return rhdr(f, ring) + PODSHM_HDR_SIZE;
}

static uint64_t
rget64(struct fix *f, int ring, size_t off)
{
	uint64_t	v;

	memcpy(&v, rhdr(f, ring) + off, sizeof(v));
	return v;
}

static void
rset64(struct fix *f, int ring, size_t off, uint64_t v)
{
	memcpy(rhdr(f, ring) + off, &v, sizeof(v));
}

static uint32_t
rget32(struct fix *f, int ring, size_t off)
{
	uint32_t	v;

	memcpy(&v, rhdr(f, ring) + off, sizeof(v));
	return v;
}

static void
rset32(struct fix *f, int ring, size_t off, uint32_t v)
{
	memcpy(rhdr(f, ring) + off, &v, sizeof(v));
}

#define CPUHINT	16	/* 1 + the ring's producer's CPU */
#define MAYSLEEP 20	/* the ring's consumer may sleep */
#define FENCES	24	/* the ring's producer fences every publish */
#define HEAD	64
#define RXWAIT	72	/* futex word: the ring's consumer sleeps */
#define TAIL	128
#define TXWAIT	136	/* futex word: the ring's producer sleeps */

static unsigned char
pat(uint32_t seed, size_t j)
{
	uint32_t	x = seed * 2654435761U + (uint32_t)j * 40503U + 1;

	x ^= x >> 13;
	x *= 0x5bd1e995U;
	x ^= x >> 15;
	return x & 0xff;
}

static void
fill(unsigned char *buf, size_t len, uint32_t seed)
{
	size_t	j;

	for (j = 0; j < len; j++)
		buf[j] = pat(seed, j);
}

static int
check_pat(const unsigned char *buf, size_t len, uint32_t seed)
{
	size_t	j;

	for (j = 0; j < len; j++)
		if (buf[j] != pat(seed, j))
			return 0;
	return 1;
}

static uint32_t
xorshift(uint32_t *s)
{
	uint32_t	x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* Send one frame of len pattern bytes from tx, receive it exactly on rx. */
static void
xfer(struct podshm *tx, struct podshm *rx, size_t len, uint32_t seed)
{
	unsigned char	*out, *in;
	ssize_t		 n;

	out = malloc(len ? len : 1);
	in = malloc(len ? len : 1);	/* exact size: ASan sees overruns */
	assert_non_null(out);
	assert_non_null(in);
	fill(out, len, seed);
	assert_int_equal(podshm_send(tx, out, len), 0);
	assert_int_equal(podshm_peek_len(rx), (ssize_t)len);
	n = podshm_recv(rx, in, len);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(in, out, len);
	free(out);
	free(in);
}

/* Move an empty ring's positions forward by d bytes (mod capacity). */
static void
advance(struct podshm *tx, struct podshm *rx, size_t d)
{
	d %= CAP;
	while (d > 0) {
		if (d < 4) {
			xfer(tx, rx, CAP / 2 - 4, 7);
			d = d + CAP - CAP / 2;
			continue;
		}
		xfer(tx, rx, d - 4, 8);
		d = 0;
	}
}

static int
setup(void **state)
{
	struct fix	*f;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	mkname(f->name, sizeof(f->name));
	f->size = SEG_SIZE;
	f->sup = podshm_create(f->name, f->size, 0600);
	assert_non_null(f->sup);
	f->wrk = podshm_open(f->name, f->size, PODSHM_WORKER);
	assert_non_null(f->wrk);
	f->raw = raw_map(f->name, f->size);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix	*f = *state;

	podshm_close(f->sup);
	podshm_close(f->wrk);
	munmap(f->raw, f->size);
	shm_unlink(f->name);
	free(f);
	return 0;
}

/* --- good input ------------------------------------------------------ */

static void
test_roundtrip(void **state)
{
	struct fix	*f = *state;
	char		 buf[64];
	ssize_t		 n;

	assert_int_equal(podshm_max_frame(f->sup), MAXF);
	assert_int_equal(podshm_max_frame(f->wrk), MAXF);
	assert_int_equal(rget32(f, 0, 0), PODSHM_MAGIC);
	assert_int_equal(rget32(f, 1, 0), PODSHM_MAGIC);
	assert_int_equal(rget32(f, 0, 4), PODSHM_VERSION);
	assert_int_equal(rget32(f, 1, 8), CAP);
	assert_int_equal(memcmp(rhdr(f, 0), "PSHM", 4), 0);

	assert_int_equal(podshm_readable(f->sup), 0);
	assert_int_equal(podshm_writable(f->sup), CAP);
	n = podshm_recv(f->wrk, buf, sizeof(buf));
	assert_int_equal(n, -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(podshm_peek_len(f->sup), -1);
	assert_int_equal(errno, EAGAIN);

	assert_int_equal(podshm_send(f->sup, "hello", 5), 0);
	assert_int_equal(podshm_writable(f->sup), CAP - 9);
	assert_int_equal(podshm_readable(f->wrk), 9);
	assert_int_equal(podshm_readable(f->sup), 0);	/* other ring */
	/* On the wire: little-endian length, then the payload. */
	assert_memory_equal(rdata(f, 1), "\5\0\0\0hello", 9);
	assert_int_equal(rget64(f, 1, HEAD), 9);
	n = podshm_recv(f->wrk, buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(rget64(f, 1, TAIL), 9);
	assert_int_equal(podshm_writable(f->sup), CAP);

	assert_int_equal(podshm_send(f->wrk, "world!", 6), 0);
	assert_int_equal(rget64(f, 0, HEAD), 10);
	n = podshm_recv(f->sup, buf, sizeof(buf));
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "world!", 6);

	/* Empty frames are frames. */
	assert_int_equal(podshm_send(f->wrk, NULL, 0), 0);
	assert_int_equal(podshm_peek_len(f->sup), 0);
	assert_int_equal(podshm_recv(f->sup, NULL, 0), 0);
	assert_int_equal(podshm_recv(f->sup, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
}

static void
test_every_size(void **state)
{
	struct fix	*f = *state;
	size_t		 len;

	for (len = 0; len <= MAXF; len++) {
		xfer(f->sup, f->wrk, len, (uint32_t)len);
		xfer(f->wrk, f->sup, MAXF - len, (uint32_t)len + 1);
	}
	assert_int_equal(podshm_readable(f->wrk), 0);
	assert_int_equal(podshm_writable(f->sup), CAP);
}

/*
 * The length prefix itself straddles the end of the data area (k = 1..3
 * of its bytes at the end), ends exactly there (k = 4), or the payload
 * wraps (k > 4).
 */
static void
test_wrap_prefix(void **state)
{
	struct fix	*f = *state;
	unsigned char	*d = rdata(f, 1);
	char		 buf[7];
	uint64_t	 head;
	size_t		 k, j, pos;

	for (k = 1; k <= 11; k++) {
		head = rget64(f, 1, HEAD);
		advance(f->sup, f->wrk, 2 * CAP - k - head % CAP);
		head = rget64(f, 1, HEAD);
		assert_int_equal(head % CAP, CAP - k);
		memset(d, 0xee, CAP);	/* stale bytes must not matter */
		assert_int_equal(podshm_send(f->sup, "abcdefg", 7), 0);
		for (j = 0; j < 11; j++) {
			pos = (CAP - k + j) % CAP;
			assert_int_equal(d[pos], "\7\0\0\0abcdefg"[j]);
		}
		assert_int_equal(podshm_peek_len(f->wrk), 7);
		assert_int_equal(podshm_recv(f->wrk, buf, 7), 7);
		assert_memory_equal(buf, "abcdefg", 7);
		/* And a big frame from the same awkward spot. */
		head = rget64(f, 1, HEAD);
		advance(f->sup, f->wrk, 2 * CAP - k - head % CAP);
		xfer(f->sup, f->wrk, MAXF - k, (uint32_t)k);
	}
}

/* Many frames of awkward sizes, several in flight, wrapping everywhere. */
static void
test_wrap_many(void **state)
{
	static const size_t	 sizes[] = { 1, 3, 4095 % (MAXF + 1), 2, 0,
				    MAXF, 5, 7, 1021, 4, MAXF - 1, 13, 3 };
	struct fix		*f = *state;
	unsigned char		*out, *in;
	size_t			 q[64], len;
	uint32_t		 seedq[64], rnd = 12345, seed = 0;
	unsigned int		 qh = 0, qt = 0, i;
	ssize_t			 n;

	out = malloc(MAXF);
	assert_non_null(out);
	for (i = 0; i < 200000; i++) {
		if (i % 3 == 0)
			len = sizes[(i / 3) % (sizeof(sizes) / sizeof(sizes[0]))];
		else
			len = xorshift(&rnd) % (i % 5 == 0 ? MAXF + 1 : 64);
		if (xorshift(&rnd) % 2 == 0 && qh - qt < 64) {
			fill(out, len, seed);
			if (podshm_send(f->sup, out, len) == 0) {
				q[qh % 64] = len;
				seedq[qh % 64] = seed++;
				qh++;
				continue;
			}
			assert_int_equal(errno, EAGAIN);
		}
		if (qh == qt) {
			assert_int_equal(podshm_recv(f->wrk, out, MAXF), -1);
			assert_int_equal(errno, EAGAIN);
			continue;
		}
		len = q[qt % 64];
		in = malloc(len ? len : 1);
		assert_non_null(in);
		n = podshm_recv(f->wrk, in, len);
		assert_int_equal(n, (ssize_t)len);
		assert_true(check_pat(in, len, seedq[qt % 64]));
		free(in);
		qt++;
	}
	while (qt != qh) {
		len = q[qt % 64];
		n = podshm_recv(f->wrk, out, MAXF);
		assert_int_equal(n, (ssize_t)len);
		assert_true(check_pat(out, len, seedq[qt % 64]));
		qt++;
	}
	assert_int_equal(podshm_readable(f->wrk), 0);
	assert_true(rget64(f, 1, HEAD) > 100 * CAP);
	free(out);
}

static void
test_full(void **state)
{
	struct fix	*f = *state;
	unsigned char	 buf[100], snap[SEG_SIZE];
	int		 sent = 0;

	memset(buf, 'x', sizeof(buf));
	while (podshm_send(f->sup, buf, sizeof(buf)) == 0)
		sent++;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(sent, CAP / 104);
	assert_int_equal(podshm_writable(f->sup), CAP - sent * 104);

	memcpy(snap, f->raw, SEG_SIZE);
	assert_int_equal(podshm_send(f->sup, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(podshm_send(f->sup, buf, CAP - sent * 104 - 3), -1);
	assert_int_equal(errno, EAGAIN);
	assert_memory_equal(snap, f->raw, SEG_SIZE);	/* nothing written */

	/* Exactly what is left fits. */
	assert_int_equal(podshm_send(f->sup, buf, CAP - sent * 104 - 4), 0);
	assert_int_equal(podshm_writable(f->sup), 0);
	assert_int_equal(podshm_send(f->sup, NULL, 0), -1);
	assert_int_equal(errno, EAGAIN);

	assert_int_equal(podshm_recv(f->wrk, buf, sizeof(buf)), 100);
	assert_int_equal(podshm_writable(f->sup), 104);
	assert_int_equal(podshm_send(f->sup, buf, sizeof(buf)), 0);
	assert_int_equal(podshm_send(f->sup, NULL, 0), -1);
	assert_int_equal(errno, EAGAIN);

	/* A whole-capacity frame on an empty ring. */
	while (podshm_recv(f->wrk, buf, sizeof(buf)) >= 0)
		;
	assert_int_equal(errno, EAGAIN);
	xfer(f->sup, f->wrk, MAXF, 42);
}

static void
test_emsgsize(void **state)
{
	struct fix	*f = *state;
	unsigned char	*buf;

	buf = calloc(1, MAXF + 1);
	assert_non_null(buf);
	assert_int_equal(podshm_send(f->sup, buf, MAXF + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(podshm_send(f->wrk, buf, SIZE_MAX), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(podshm_readable(f->wrk), 0);
	assert_int_equal(podshm_send(f->sup, buf, MAXF), 0);
	free(buf);
}

static void
test_enobufs(void **state)
{
	struct fix	*f = *state;
	unsigned char	 out[100], *in;

	fill(out, sizeof(out), 5);
	assert_int_equal(podshm_send(f->sup, out, sizeof(out)), 0);
	in = malloc(99);
	assert_non_null(in);
	assert_int_equal(podshm_recv(f->wrk, in, 99), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(podshm_recv(f->wrk, NULL, 0), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(podshm_peek_len(f->wrk), 100);
	assert_int_equal(podshm_readable(f->wrk), 104);
	assert_int_equal(rget64(f, 1, TAIL), 0);
	free(in);
	in = malloc(100);
	assert_non_null(in);
	assert_int_equal(podshm_recv(f->wrk, in, 100), 100);
	assert_memory_equal(in, out, 100);
	free(in);
}

static void
test_set_role(void **state)
{
	struct podshm	*other;
	char		 name[64], buf[8];

	(void)state;
	mkname(name, sizeof(name));
	other = podshm_create(name, SEG_SIZE, 0600);
	assert_non_null(other);
	podshm_set_role(other, PODSHM_WORKER);
	podshm_set_role(other, 7);		/* ignored */
	{
		struct podshm	*sup;

		sup = podshm_open(name, SEG_SIZE, PODSHM_SUPERVISOR);
		assert_non_null(sup);
		assert_int_equal(podshm_send(other, "ring0", 5), 0);
		assert_int_equal(podshm_recv(sup, buf, sizeof(buf)), 5);
		assert_memory_equal(buf, "ring0", 5);
		assert_int_equal(podshm_send(sup, "ring1", 5), 0);
		assert_int_equal(podshm_recv(other, buf, sizeof(buf)), 5);
		assert_memory_equal(buf, "ring1", 5);
		podshm_close(sup);
	}
	podshm_close(other);
	shm_unlink(name);
}

static void
test_fd_variants(void **state)
{
	struct podshm	*a, *b;
	char		 buf[8];
	int		 fd;

	(void)state;
	fd = memfd_create("podshm-test", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_null(podshm_open_fd(fd, 16384, PODSHM_WORKER));	/* empty */
	assert_int_equal(errno, EINVAL);
	a = podshm_create_fd(fd, 16384);
	assert_non_null(a);
	assert_int_equal(podshm_max_frame(a), 16384 / 2 - 192 - 4);
	assert_null(podshm_open_fd(fd, 8192, PODSHM_WORKER));
	assert_int_equal(errno, EINVAL);
	assert_null(podshm_open_fd(fd, 16384, 2));
	assert_int_equal(errno, EINVAL);
	assert_null(podshm_open_fd(-1, 16384, PODSHM_WORKER));
	b = podshm_open_fd(fd, 16384, PODSHM_WORKER);
	assert_non_null(b);
	assert_true(fcntl(fd, F_GETFD) != -1);	/* the caller's fd stays */
	assert_int_equal(podshm_send(a, "sup", 3), 0);
	assert_int_equal(podshm_recv(b, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "sup", 3);
	assert_int_equal(podshm_send(b, "wrk", 3), 0);
	assert_int_equal(podshm_recv(a, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "wrk", 3);
	podshm_close(a);
	podshm_close(b);

	/* The largest segment: sparse, so cheap. */
	a = podshm_create_fd(fd, PODSHM_MAX_SIZE);
	assert_non_null(a);
	assert_int_equal(podshm_max_frame(a), PODSHM_MAX_SIZE / 2 - 196);
	b = podshm_open_fd(fd, PODSHM_MAX_SIZE, PODSHM_WORKER);
	assert_non_null(b);
	xfer(a, b, 3, 1);
	podshm_close(a);
	podshm_close(b);
	close(fd);
}

/* --- bad arguments --------------------------------------------------- */

static void
test_bad_sizes(void **state)
{
	static const size_t	 bad[] = { 0, 4096, 8191, 8193, 12288 + 2048,
				    PODSHM_MIN_SIZE - 4096,
				    PODSHM_MAX_SIZE + 4096, PODSHM_MAX_SIZE * 2,
				    SIZE_MAX };
	char			 name[64];
	size_t			 i;
	int			 fd;

	(void)state;
	fd = memfd_create("podshm-test", MFD_CLOEXEC);
	assert_true(fd >= 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mkname(name, sizeof(name));
		errno = 0;
		assert_null(podshm_create(name, bad[i], 0600));
		assert_int_equal(errno, EINVAL);
		/* Nothing was left behind. */
		assert_int_equal(shm_open(name, O_RDONLY, 0), -1);
		assert_int_equal(errno, ENOENT);
		assert_null(podshm_create_fd(fd, bad[i]));
		assert_int_equal(errno, EINVAL);
		assert_null(podshm_open(name, bad[i], PODSHM_WORKER));
		assert_int_equal(errno, EINVAL);
		assert_null(podshm_open_fd(fd, bad[i], PODSHM_WORKER));
		assert_int_equal(errno, EINVAL);
	}
	assert_null(podshm_create(NULL, SEG_SIZE, 0600));
	assert_int_equal(errno, EINVAL);
	assert_null(podshm_create_fd(-1, SEG_SIZE));
	assert_int_equal(errno, EINVAL);
	close(fd);
}

static void
test_open_mismatch(void **state)
{
	struct fix	*f = *state;
	struct podshm	*p;
	uint32_t	 v;
	int		 ring;

	assert_null(podshm_create(f->name, SEG_SIZE, 0600));
	assert_int_equal(errno, EEXIST);
	assert_null(podshm_open(f->name, SEG_SIZE + 4096, PODSHM_WORKER));
	assert_int_equal(errno, EINVAL);
	assert_null(podshm_open(f->name, SEG_SIZE, 2));
	assert_int_equal(errno, EINVAL);
	assert_null(podshm_open(f->name, SEG_SIZE, -1));
	assert_int_equal(errno, EINVAL);
	assert_null(podshm_open("/podshm-test-does-not-exist", SEG_SIZE,
	    PODSHM_WORKER));
	assert_int_equal(errno, ENOENT);

	for (ring = 0; ring < 2; ring++) {
		static const size_t	offs[] = { 0, 4, 8 };
		size_t			i;

		for (i = 0; i < 3; i++) {
			v = rget32(f, ring, offs[i]);
			rset32(f, ring, offs[i], v ^ 0x100);
			assert_null(podshm_open(f->name, SEG_SIZE,
			    PODSHM_WORKER));
			assert_int_equal(errno, EPROTO);
			rset32(f, ring, offs[i], v);
		}
		/* Indices that cannot be right are refused at open, too. */
		rset64(f, ring, HEAD, CAP + 1);
		assert_null(podshm_open(f->name, SEG_SIZE, PODSHM_SUPERVISOR));
		assert_int_equal(errno, EPROTO);
		rset64(f, ring, HEAD, 0);
		rset64(f, ring, TAIL, 1);
		assert_null(podshm_open(f->name, SEG_SIZE, PODSHM_WORKER));
		assert_int_equal(errno, EPROTO);
		rset64(f, ring, TAIL, 0);
	}
	p = podshm_open(f->name, SEG_SIZE, PODSHM_WORKER);
	assert_non_null(p);
	podshm_close(p);
	podshm_close(NULL);
}

/* --- a hostile peer -------------------------------------------------- */

/* The ring is dead: every call fails EPROTO, even after a "repair". */
static void
assert_dead_rx(struct podshm *rx)
{
	unsigned char	buf[16];

	assert_int_equal(podshm_recv(rx, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(podshm_peek_len(rx), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(podshm_readable(rx), 0);
}

static void
test_hostile_head_beyond(void **state)
{
	struct fix	*f = *state;
	unsigned char	 buf[16];

	xfer(f->sup, f->wrk, 10, 1);
	/* The worker is hostile; the supervisor reads ring 0. */
	rset64(f, 0, HEAD, CAP + 1);
	assert_int_equal(podshm_readable(f->sup), 0);
	assert_int_equal(podshm_recv(f->sup, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EPROTO);
	rset64(f, 0, HEAD, 0);
	assert_dead_rx(f->sup);
	/* Only that ring died: the other direction still works. */
	xfer(f->sup, f->wrk, 10, 2);

	/* The supervisor is hostile; the worker reads ring 1. */
	rset64(f, 1, HEAD, UINT64_MAX);
	assert_dead_rx(f->wrk);
}

static void
test_hostile_head_behind(void **state)
{
	struct fix	*f = *state;
	uint64_t	 tail;

	xfer(f->sup, f->wrk, 10, 1);
	xfer(f->sup, f->wrk, 20, 2);
	tail = rget64(f, 1, TAIL);
	assert_int_equal(tail, 38);
	rset64(f, 1, HEAD, tail - 1);
	assert_int_equal(podshm_peek_len(f->wrk), -1);
	assert_int_equal(errno, EPROTO);
	rset64(f, 1, HEAD, tail);
	assert_dead_rx(f->wrk);
}

static void
test_hostile_len(void **state)
{
	static const uint32_t	 lens[] = { UINT32_MAX, 0x80000000U, CAP,
				    CAP - 3, MAXF, 100, 11 };
	struct fix		*f = *state;
	struct podshm		*rx;
	unsigned char		*big;
	uint64_t		 pos;
	size_t			 i;

	big = malloc(CAP);
	assert_non_null(big);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		/* A fresh reader each time; the ring's old one is dead. */
		podshm_close(f->wrk);
		rset64(f, 1, TAIL, rget64(f, 1, HEAD));
		f->wrk = podshm_open(f->name, SEG_SIZE, PODSHM_WORKER);
		assert_non_null(f->wrk);
		rx = f->wrk;
		/* Put the prefix across the end now and then. */
		if (i % 2)
			advance(f->sup, rx,
			    2 * CAP - 2 - rget64(f, 1, HEAD) % CAP);
		pos = rget64(f, 1, HEAD);
		assert_int_equal(podshm_send(f->sup, "0123456789", 7), 0);
		/* Overwrite the length prefix, wherever it lies. */
		{
			uint32_t	le = lens[i];
			size_t		j;

			for (j = 0; j < 4; j++)
				rdata(f, 1)[(pos + j) % CAP] =
				    (le >> (8 * j)) & 0xff;
		}
		assert_int_equal(podshm_recv(rx, big, CAP), -1);
		assert_int_equal(errno, EPROTO);
		assert_dead_rx(rx);
		assert_int_equal(rget64(f, 1, TAIL), pos);	/* not consumed */
	}
	free(big);
}

static void
test_hostile_partial_prefix(void **state)
{
	struct fix	*f = *state;

	/* A published head never ends inside a length prefix. */
	rset64(f, 0, HEAD, 3);
	assert_int_equal(podshm_peek_len(f->sup), -1);
	assert_int_equal(errno, EPROTO);
	assert_dead_rx(f->sup);
}

/* The reader scribbles on the writer's view of the tail. */
static void
test_hostile_tail(void **state)
{
	struct fix	*f = *state;
	unsigned char	*big;
	uint64_t	 head;
	int		 i;

	for (i = 0; i < 5; i++)
		xfer(f->sup, f->wrk, 1000, i);
	head = rget64(f, 1, HEAD);
	assert_true(head > CAP);

	/* Tail more than a capacity behind head. */
	rset64(f, 1, TAIL, head - CAP - 1);
	assert_int_equal(podshm_writable(f->sup), 0);
	assert_int_equal(podshm_send(f->sup, "x", 1), -1);
	assert_int_equal(errno, EPROTO);
	rset64(f, 1, TAIL, head);
	assert_int_equal(podshm_send(f->sup, "x", 1), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(podshm_writable(f->sup), 0);
	assert_int_equal(rget64(f, 1, HEAD), head);	/* nothing sent */

	/*
	 * Tail ahead of head, on the other ring.  The sender loads the tail
	 * again only when its last checked copy shows too little room: a
	 * frame of the whole capacity makes it look.
	 */
	xfer(f->wrk, f->sup, 10, 1);
	rset64(f, 0, TAIL, rget64(f, 0, HEAD) + 1);
	big = calloc(1, MAXF);
	assert_non_null(big);
	assert_int_equal(podshm_send(f->wrk, big, MAXF), -1);
	assert_int_equal(errno, EPROTO);
	free(big);
	assert_int_equal(podshm_send(f->wrk, "x", 1), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(podshm_send(f->wrk, NULL, 0), -1);
	assert_int_equal(errno, EPROTO);
	/* A full-looking tail exactly a capacity behind is fine, though. */
	{
		struct podshm	*w;

		rset64(f, 0, TAIL, rget64(f, 0, HEAD));
		w = podshm_open(f->name, SEG_SIZE, PODSHM_WORKER);
		assert_non_null(w);
		rset64(f, 0, TAIL, rget64(f, 0, HEAD) - CAP);
		assert_int_equal(podshm_writable(w), 0);
		assert_int_equal(podshm_send(w, NULL, 0), -1);
		assert_int_equal(errno, EAGAIN);
		podshm_close(w);
	}
}

/*
 * The peer scribbles on the index this side owns: the owner must not
 * read it back (it keeps a private copy) and repairs it on its next
 * store.
 */
static void
test_scribble_own_index(void **state)
{
	struct fix	*f = *state;
	unsigned char	 out[3][50], in[50];
	int		 i;

	for (i = 0; i < 3; i++) {
		fill(out[i], sizeof(out[i]), i);
		assert_int_equal(podshm_send(f->sup, out[i], 50), 0);
	}
	assert_int_equal(podshm_recv(f->wrk, in, sizeof(in)), 50);
	assert_memory_equal(in, out[0], 50);

	/* The reader's tail: rewound, pushed forward, garbage. */
	rset64(f, 1, TAIL, 0);
	assert_int_equal(podshm_recv(f->wrk, in, sizeof(in)), 50);
	assert_memory_equal(in, out[1], 50);
	assert_int_equal(rget64(f, 1, TAIL), 108);	/* repaired */
	rset64(f, 1, TAIL, 0xdeadbeefcafeULL);
	assert_int_equal(podshm_peek_len(f->wrk), 50);
	assert_int_equal(podshm_recv(f->wrk, in, sizeof(in)), 50);
	assert_memory_equal(in, out[2], 50);
	assert_int_equal(rget64(f, 1, TAIL), 162);

	/* The writer's head. */
	rset64(f, 1, HEAD, 12345);
	assert_int_equal(podshm_send(f->sup, out[0], 50), 0);
	assert_int_equal(rget64(f, 1, HEAD), 216);	/* repaired */
	assert_int_equal(podshm_recv(f->wrk, in, sizeof(in)), 50);
	assert_memory_equal(in, out[0], 50);
}

/* Header fields changed after open are not trusted: nothing changes. */
static void
test_hostile_header(void **state)
{
	struct fix	*f = *state;
	int		 ring, i;

	for (ring = 0; ring < 2; ring++) {
		rset32(f, ring, 0, 0);
		rset32(f, ring, 4, 99);
		rset32(f, ring, 8, UINT32_MAX);
		rset32(f, ring, 12, UINT32_MAX);
	}
	assert_int_equal(podshm_max_frame(f->sup), MAXF);
	assert_int_equal(podshm_max_frame(f->wrk), MAXF);
	for (i = 0; i < 20; i++) {
		xfer(f->sup, f->wrk, (size_t)i * 397 % (MAXF + 1), i);
		xfer(f->wrk, f->sup, (size_t)i * 211 % (MAXF + 1), i);
	}
	assert_int_equal(podshm_writable(f->sup), CAP);
	assert_null(podshm_open(f->name, SEG_SIZE, PODSHM_WORKER));
	assert_int_equal(errno, EPROTO);
}

/* --- two processes --------------------------------------------------- */

#define NFRAMES	100000

static size_t
frame_len(uint32_t i)
{
	uint32_t	x = i * 2654435761U;

	x ^= x >> 16;
	if (i % 16 == 0)
		return x % (MAXF + 1);
	return x % 300;
}

static void
child_writer(const char *name)
{
	struct podshm	*w;
	unsigned char	*buf;
	uint64_t	 sum = 0;
	uint32_t	 i;
	size_t		 len, j;

	if ((w = podshm_open(name, SEG_SIZE, PODSHM_WORKER)) == NULL)
		_exit(10);
	if ((buf = malloc(MAXF)) == NULL)
		_exit(11);
	for (i = 0; i < NFRAMES; i++) {
		len = frame_len(i);
		fill(buf, len, i);
		for (j = 0; j < len; j++)
			sum = sum * 31 + buf[j];
		while (podshm_send(w, buf, len) == -1) {
			if (errno != EAGAIN)
				_exit(12);
			sched_yield();
		}
	}
	while (podshm_send(w, &sum, sizeof(sum)) == -1) {
		if (errno != EAGAIN)
			_exit(13);
		sched_yield();
	}
	podshm_close(w);
	_exit(0);
}

static void
test_two_processes(void **state)
{
	struct fix	*f = *state;
	unsigned char	*buf;
	uint64_t	 sum = 0, theirs;
	uint32_t	 i;
	size_t		 j;
	ssize_t		 n;
	pid_t		 pid;
	time_t		 deadline;
	int		 status, spins = 0;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		child_writer(f->name);

	buf = malloc(MAXF);
	assert_non_null(buf);
	deadline = time(NULL) + 120;
	for (i = 0; i <= NFRAMES; ) {
		n = podshm_recv(f->sup, buf, MAXF);
		if (n == -1) {
			assert_int_equal(errno, EAGAIN);
			if (++spins % 100000 == 0) {
				assert_true(time(NULL) < deadline);
				/* The writer died early? */
				if (waitpid(pid, &status, WNOHANG) == pid &&
				    podshm_readable(f->sup) == 0)
					fail_msg("writer exited, status %d "
					    "after %u frames", status, i);
			}
			sched_yield();
			continue;
		}
		if (i == NFRAMES) {
			assert_int_equal(n, sizeof(theirs));
			memcpy(&theirs, buf, sizeof(theirs));
			assert_true(theirs == sum);
			break;
		}
		assert_int_equal(n, (ssize_t)frame_len(i));
		if (!check_pat(buf, (size_t)n, i))
			fail_msg("frame %u: wrong contents", i);
		for (j = 0; j < (size_t)n; j++)
			sum = sum * 31 + buf[j];
		i++;
	}
	free(buf);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(podshm_readable(f->sup), 0);
}

/* --- waiting --------------------------------------------------------- */

/*
 * In a child: wait (up to 10 s) until the futex word at off of ring
 * says its owner sleeps, then give it time to reach FUTEX_WAIT.
 */
static int
child_await_sleeper(struct fix *f, int ring, size_t off)
{
	int	i;

	for (i = 0; i < 10000; i++) {
		if (rget32(f, ring, off) == 1) {
			usleep(20000);
			return 0;
		}
		usleep(1000);
	}
	return -1;
}

static void
wait_child(pid_t pid)
{
	int	status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A sleeper in another process is woken by a send, then by a recv. */
static void
test_wait_wakeup(void **state)
{
	struct fix	*f = *state;
	unsigned char	 buf[100];
	pid_t		 pid;

	/* No spinning: the supervisor really sleeps on the futex. */
	assert_int_equal(podshm_set_spin(f->sup, 0), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (child_await_sleeper(f, 0, RXWAIT) == -1)
			_exit(10);
		if (podshm_send(f->wrk, "wake", 4) == -1)
			_exit(11);
		/* The supervisor fills ring 1, then waits for room. */
		if (child_await_sleeper(f, 1, TXWAIT) == -1)
			_exit(12);
		if (podshm_recv(f->wrk, buf, sizeof(buf)) != sizeof(buf))
			_exit(13);
		_exit(0);
	}
	assert_int_equal(rget32(f, 0, MAYSLEEP), 0);
	assert_int_equal(podshm_wait_readable(f->sup, 30000), 0);
	assert_int_equal(podshm_recv(f->sup, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "wake", 4);
	assert_int_equal(rget32(f, 0, RXWAIT), 0);	/* not advertised now */
	/* The consumer said it may sleep, the producer that it fences. */
	assert_int_equal(rget32(f, 0, MAYSLEEP), 1);
	assert_int_equal(rget32(f, 0, FENCES), 1);
	assert_int_equal(rget32(f, 1, MAYSLEEP), 0);
	assert_int_equal(rget32(f, 1, FENCES), 0);

	memset(buf, 'x', sizeof(buf));
	while (podshm_send(f->sup, buf, sizeof(buf)) == 0)
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(podshm_wait_writable(f->sup, sizeof(buf), 30000), 0);
	assert_int_equal(podshm_send(f->sup, buf, sizeof(buf)), 0);
	assert_int_equal(rget32(f, 1, TXWAIT), 0);
	wait_child(pid);
}

static volatile sig_atomic_t	alarms;

static void
on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void
test_wait_timeout(void **state)
{
	struct fix		*f = *state;
	struct sigaction	 sa, osa;
	struct itimerval	 it;
	unsigned char		 buf[100];

	/* Nothing to read: 0 only looks, n gives up after n ms. */
	assert_int_equal(podshm_wait_readable(f->sup, 0), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(podshm_wait_readable(f->sup, 20), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(rget32(f, 0, RXWAIT), 0);
	assert_int_equal(podshm_set_spin(f->sup, 0), 0);
	assert_int_equal(podshm_wait_readable(f->sup, 20), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(podshm_set_spin(f->sup, 1000), 0);
	assert_int_equal(podshm_wait_readable(f->sup, 20), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(rget32(f, 0, RXWAIT), 0);

	assert_int_equal(podshm_set_spin(f->sup, 1000001), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(podshm_set_spin(f->sup, -2), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(podshm_set_spin(NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(podshm_set_spin(f->sup, PODSHM_SPIN_ADAPT), 0);

	/* Ready: no wait at all, whatever the timeout. */
	assert_int_equal(podshm_send(f->wrk, "x", 1), 0);
	assert_int_equal(podshm_wait_readable(f->sup, 0), 0);
	assert_int_equal(podshm_wait_readable(f->sup, -1), 0);
	assert_int_equal(podshm_recv(f->sup, buf, sizeof(buf)), 1);

	/* Room: what fits, what never fits, a full ring. */
	assert_int_equal(podshm_wait_writable(f->sup, MAXF, 0), 0);
	assert_int_equal(podshm_wait_writable(f->sup, MAXF + 1, -1), -1);
	assert_int_equal(errno, EMSGSIZE);
	memset(buf, 'x', sizeof(buf));
	while (podshm_send(f->sup, buf, sizeof(buf)) == 0)
		;
	assert_int_equal(podshm_wait_writable(f->sup, sizeof(buf), 20), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(rget32(f, 1, TXWAIT), 0);
	assert_int_equal(podshm_wait_writable(f->sup, 0, 20), 0);

	/* A signal handler ends a wait without a timeout. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &osa), 0);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 50000;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	assert_int_equal(podshm_wait_readable(f->sup, -1), -1);
	assert_int_equal(errno, EINTR);
	assert_int_equal(alarms, 1);
	assert_int_equal(rget32(f, 0, RXWAIT), 0);
	assert_int_equal(sigaction(SIGALRM, &osa, NULL), 0);

	/* A dead ring is not waited on. */
	rset64(f, 0, HEAD, rget64(f, 0, TAIL) + CAP + 1);
	assert_int_equal(podshm_wait_readable(f->sup, -1), -1);
	assert_int_equal(errno, EPROTO);
	rset64(f, 1, TAIL, rget64(f, 1, HEAD) + 1);
	assert_int_equal(podshm_wait_writable(f->sup, 1, -1), -1);
	assert_int_equal(errno, EPROTO);
}

/*
 * The futex words hold garbage: the waker makes a needless wake-up and
 * clears the word (a producer only if its consumer said it may sleep);
 * a waiter whose words a hostile peer keeps changing goes round its
 * loop, but no longer than its timeout, and still sees a frame when one
 * comes.
 */
static void
test_wait_garbage(void **state)
{
	static const uint32_t	 junk[] = { 0xdeadbeefU, 1, 0, UINT32_MAX, 2,
				    0x80000000U };
	struct fix		*f = *state;
	unsigned char		 buf[16];
	uint32_t		 rnd = 99;
	pid_t			 pid;
	int			 ring, i;

	for (ring = 0; ring < 2; ring++) {
		rset32(f, ring, RXWAIT, 0xdeadbeefU);
		rset32(f, ring, TXWAIT, 0xfeedfaceU);
		rset32(f, ring, CPUHINT, 0xabad1deaU);
	}
	/* No maysleep: the producer does not even look at rxwait. */
	assert_int_equal(podshm_send(f->wrk, "abc", 3), 0);
	assert_int_equal(rget32(f, 0, RXWAIT), 0xdeadbeefU);
	assert_int_equal(rget32(f, 0, FENCES), 0);
	/* The consumer always looks at txwait. */
	assert_int_equal(podshm_recv(f->sup, buf, sizeof(buf)), 3);
	assert_int_equal(rget32(f, 0, TXWAIT), 0);
	/* Garbage in maysleep reads as "may sleep": fenced, answered. */
	rset32(f, 0, MAYSLEEP, 0x12345678U);
	assert_int_equal(podshm_send(f->wrk, "abc", 3), 0);
	assert_int_equal(rget32(f, 0, RXWAIT), 0);	/* woken, cleared */
	assert_int_equal(rget32(f, 0, FENCES), 1);
	assert_int_equal(rget32(f, 1, RXWAIT), 0xdeadbeefU);	/* untouched */
	assert_int_equal(podshm_recv(f->sup, buf, sizeof(buf)), 3);
	xfer(f->sup, f->wrk, 10, 3);
	assert_int_equal(rget32(f, 1, TXWAIT), 0);

	/* A waiter's own words scribbled on: it still times out. */
	for (i = 0; i < 6; i++) {
		rset32(f, 0, RXWAIT, junk[i]);
		rset32(f, 0, MAYSLEEP, junk[(i + 1) % 6]);
		rset32(f, 0, FENCES, junk[(i + 2) % 6]);
		assert_int_equal(podshm_wait_readable(f->sup, 5), -1);
		assert_int_equal(errno, ETIMEDOUT);
		rset32(f, 1, TXWAIT, junk[i]);
		rset32(f, 1, CPUHINT, junk[(i + 3) % 6]);
	}

	assert_int_equal(podshm_set_spin(f->sup, 0), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		/* Scribble for 300 ms, send, scribble 100 ms more. */
		for (i = 0; i < 400000; i++) {
			rset32(f, 0, RXWAIT, junk[xorshift(&rnd) % 6]);
			rset32(f, 0, FENCES, junk[xorshift(&rnd) % 6]);
			rset32(f, 1, CPUHINT, junk[xorshift(&rnd) % 6]);
			if (i % 1000 == 0)
				usleep(1000);
			if (i == 300000 && podshm_send(f->wrk, "late", 4) == -1)
				_exit(10);
		}
		_exit(0);
	}
	assert_int_equal(podshm_wait_readable(f->sup, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(podshm_wait_readable(f->sup, 30000), 0);
	assert_int_equal(podshm_recv(f->sup, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "late", 4);
	wait_child(pid);
}

/*
 * A producer that published without a fence or a wake-up (it had read
 * maysleep before the consumer set it) and has not answered yet: the
 * consumer, sleeping in slices until the answer, still sees the frame.
 */
static void
test_wait_unanswered(void **state)
{
	struct fix	*f = *state;
	unsigned char	 buf[16];
	pid_t		 pid;

	assert_int_equal(podshm_set_spin(f->sup, 0), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (child_await_sleeper(f, 0, RXWAIT) == -1)
			_exit(10);
		if (rget32(f, 0, MAYSLEEP) != 1 || rget32(f, 0, FENCES) != 0)
			_exit(11);
		/* By hand: the frame, then the head; no fence, no wake. */
		memcpy(rdata(f, 0), "\4\0\0\0slow", 8);
		rset64(f, 0, HEAD, 8);
		_exit(0);
	}
	assert_int_equal(podshm_wait_readable(f->sup, 30000), 0);
	assert_int_equal(podshm_recv(f->sup, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "slow", 4);
	assert_int_equal(rget32(f, 0, RXWAIT), 0);
	wait_child(pid);
}

/*
 * No lost wake-up: 100000 frames ping-pong, each side sleeping in
 * podshm_wait_readable() between them; half of them without spinning
 * (every wait sleeps), half with the adaptive spin.  A lost wake-up
 * would show as a 10 s timeout.
 */
#define NPING	100000

static void
test_wait_pingpong(void **state)
{
	struct fix	*f = *state;
	uint32_t	 i, v;
	pid_t		 pid;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		for (i = 0; i < NPING; i++) {
			if (i == 0 || i == NPING / 2)
				(void)podshm_set_spin(f->wrk,
				    i == 0 ? 0 : PODSHM_SPIN_ADAPT);
			if (podshm_wait_readable(f->wrk, 10000) == -1)
				_exit(10);
			if (podshm_recv(f->wrk, &v, sizeof(v)) != sizeof(v) ||
			    v != i)
				_exit(11);
			v = ~v;
			if (podshm_send(f->wrk, &v, sizeof(v)) == -1)
				_exit(12);
		}
		_exit(0);
	}
	for (i = 0; i < NPING; i++) {
		if (i == 0 || i == NPING / 2)
			assert_int_equal(podshm_set_spin(f->sup,
			    i == 0 ? 0 : PODSHM_SPIN_ADAPT), 0);
		assert_int_equal(podshm_send(f->sup, &i, sizeof(i)), 0);
		if (podshm_wait_readable(f->sup, 10000) == -1)
			fail_msg("frame %u: %s", i, strerror(errno));
		assert_int_equal(podshm_recv(f->sup, &v, sizeof(v)),
		    sizeof(v));
		assert_int_equal(v, ~i);
	}
	wait_child(pid);
	assert_int_equal(rget32(f, 0, RXWAIT), 0);
	assert_int_equal(rget32(f, 1, RXWAIT), 0);
}

/*
 * The same for the flow control: a stream of 100000 frames of mixed
 * sizes through the small ring, the writer sleeping for room, the
 * reader for frames; no sched_yield, no polling.
 */
static void
child_waiting_writer(struct fix *f)
{
	unsigned char	*buf;
	uint32_t	 i;
	size_t		 len;

	if ((buf = malloc(MAXF)) == NULL)
		_exit(11);
	(void)podshm_set_spin(f->wrk, 0);
	for (i = 0; i < NFRAMES; i++) {
		if (i == NFRAMES / 2)
			(void)podshm_set_spin(f->wrk, PODSHM_SPIN_ADAPT);
		len = frame_len(i);
		fill(buf, len, i);
		if (podshm_wait_writable(f->wrk, len, 10000) == -1)
			_exit(12);
		if (podshm_send(f->wrk, buf, len) == -1)
			_exit(13);
	}
	_exit(0);
}

static void
test_wait_stream(void **state)
{
	struct fix	*f = *state;
	unsigned char	*buf;
	uint32_t	 i;
	ssize_t		 n;
	pid_t		 pid;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		child_waiting_writer(f);
	buf = malloc(MAXF);
	assert_non_null(buf);
	for (i = 0; i < NFRAMES; i++) {
		if (i == NFRAMES / 4)
			assert_int_equal(podshm_set_spin(f->sup, 0), 0);
		if (podshm_wait_readable(f->sup, 10000) == -1)
			fail_msg("frame %u: %s", i, strerror(errno));
		n = podshm_recv(f->sup, buf, MAXF);
		assert_int_equal(n, (ssize_t)frame_len(i));
		if (!check_pat(buf, (size_t)n, i))
			fail_msg("frame %u: wrong contents", i);
	}
	free(buf);
	wait_child(pid);
	assert_int_equal(podshm_readable(f->sup), 0);
	assert_int_equal(rget32(f, 0, TXWAIT), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_size, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrap_prefix, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrap_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emsgsize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enobufs, setup, teardown),
		cmocka_unit_test(test_set_role),
		cmocka_unit_test(test_fd_variants),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test_setup_teardown(test_open_mismatch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile_head_beyond, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile_head_behind, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile_len, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile_partial_prefix,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_tail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_scribble_own_index, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile_header, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_two_processes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wait_wakeup, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wait_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wait_garbage, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wait_unanswered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wait_pingpong, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wait_stream, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
