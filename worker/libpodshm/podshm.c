/*
 * libpodshm: two single-producer single-consumer rings in one shared
 * memory segment.  See podshm.h for the layout.
 *
 * Trust model: the peer process may be hostile and may write anything
 * anywhere in the segment at any time.  Therefore:
 *
 *  - the header fields (magic, version, capacity) are read once, at
 *    open, and only the private copies are used afterwards;
 *  - each side keeps a private copy of the index it owns (the producer
 *    its head, the consumer its tail) and only ever stores it to shared
 *    memory, never loads it back;
 *  - every value loaded from shared memory (the peer's index, a frame
 *    length) is loaded once into a local and range-checked before use;
 *    a violation kills the ring (EPROTO from then on);
 *  - the last checked value of the peer's index is kept, and the index
 *    is loaded again only when that copy shows too little data (or
 *    room): the peer's cache line moves once per batch of frames, not
 *    once per frame.  podshm_readable() and podshm_writable() always
 *    load it;
 *  - payload bytes are copied out before the caller sees them, so the
 *    peer cannot change what the caller parses.
 *
 * Memory ordering: the producer copies the frame in, then publishes its
 * head with a release store; the consumer loads head with acquire before
 * copying out, then publishes its tail with release; the producer loads
 * tail with acquire before reusing the space.  The atomics must be
 * lock-free to work across processes.
 *
 * The library never exits and never prints; errors are -1/NULL + errno.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "podshm.h"

_Static_assert(ATOMIC_LONG_LOCK_FREE == 2 && sizeof(long) == 8,
    "podshm needs lock-free 64-bit atomics");

#define PODSHM_PAGE		4096
#define OFF_MAGIC		0
#define OFF_VERSION		4
#define OFF_CAPACITY		8
#define OFF_RESERVED		12
#define OFF_HEAD		64
#define OFF_TAIL		128
#define LEN_SIZE		4	/* u32 length prefix */

struct podshm_ring {
	unsigned char		*data;	/* capacity bytes */
	_Atomic uint64_t	*head;	/* shared, written by the producer */
	_Atomic uint64_t	*tail;	/* shared, written by the consumer */
	uint64_t		 own;	/* private copy of the index we own */
	uint64_t		 peer;	/* last checked value of the other */
	int			 dead;
};

struct podshm {
	unsigned char		*base;
	size_t			 size;
	uint32_t		 cap;	/* private copy, same for both rings */
	int			 role;
	struct podshm_ring	 ring[2];	/* [0] worker->sup, [1] sup->worker */
};

static int	 size_ok(size_t);
static struct podshm *attach(int, size_t, int, int);
static void	 ring_setup(struct podshm *, int);
static int	 ring_sync(struct podshm *, struct podshm_ring *, int);
static struct podshm_ring *tx_ring(struct podshm *);
static struct podshm_ring *rx_ring(struct podshm *);
static void	 put32(unsigned char *, uint32_t);
static uint32_t	 get32(const unsigned char *);
static void	 copy_in(const struct podshm *, struct podshm_ring *, uint64_t,
		    const void *, size_t);
static void	 copy_out(const struct podshm *, const struct podshm_ring *,
		    uint64_t, void *, size_t);
static int	 ring_kill(struct podshm_ring *);
static int	 load_head(struct podshm *, struct podshm_ring *);
static int	 load_tail(struct podshm *, struct podshm_ring *);
static ssize_t	 next_len(struct podshm *, struct podshm_ring *);

static int
size_ok(size_t size)
{
	return size % PODSHM_PAGE == 0 && size >= PODSHM_MIN_SIZE &&
	    (uint64_t)size <= PODSHM_MAX_SIZE;
}

static void
put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static uint32_t
get32(const unsigned char *p)
{
	uint32_t	v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static struct podshm_ring *
tx_ring(struct podshm *shm)
{
	return &shm->ring[shm->role == PODSHM_WORKER ? 0 : 1];
}

static struct podshm_ring *
rx_ring(struct podshm *shm)
{
	return &shm->ring[shm->role == PODSHM_WORKER ? 1 : 0];
}

/* Point ring i at its half of the mapping. */
static void
ring_setup(struct podshm *shm, int i)
{
	struct podshm_ring	*r = &shm->ring[i];
	unsigned char		*hdr = shm->base + (size_t)i * (shm->size / 2);

	r->head = (_Atomic uint64_t *)(void *)(hdr + OFF_HEAD);
	r->tail = (_Atomic uint64_t *)(void *)(hdr + OFF_TAIL);
	r->data = hdr + PODSHM_HDR_SIZE;
	r->own = 0;
	r->peer = 0;
	r->dead = 0;
}

/*
 * Take the private copy of the index this side owns in ring r from
 * shared memory (done once, at open or when the role changes) and check
 * it against the peer's index.
 */
static int
ring_sync(struct podshm *shm, struct podshm_ring *r, int producer)
{
	uint64_t	head, tail;

	head = atomic_load_explicit(r->head, memory_order_acquire);
	tail = atomic_load_explicit(r->tail, memory_order_acquire);
	r->own = producer ? head : tail;
	r->peer = producer ? tail : head;
	if (head - tail > shm->cap)
		return ring_kill(r);
	return 0;
}

/* The consumer loads the producer's head into r->peer, checked. */
static int
load_head(struct podshm *shm, struct podshm_ring *r)
{
	uint64_t	head;

	head = atomic_load_explicit(r->head, memory_order_acquire);
	if (head - r->own > shm->cap)	/* behind our tail wraps to huge */
		return ring_kill(r);
	r->peer = head;
	return 0;
}

/* The producer loads the consumer's tail into r->peer, checked. */
static int
load_tail(struct podshm *shm, struct podshm_ring *r)
{
	uint64_t	tail;

	tail = atomic_load_explicit(r->tail, memory_order_acquire);
	if (r->own - tail > shm->cap)	/* ahead of our head wraps to huge */
		return ring_kill(r);
	r->peer = tail;
	return 0;
}

static int
ring_kill(struct podshm_ring *r)
{
	r->dead = 1;
	errno = EPROTO;
	return -1;
}

/* Copy n bytes to stream position pos, wrapping at the end. */
static void
copy_in(const struct podshm *shm, struct podshm_ring *r, uint64_t pos,
    const void *src, size_t n)
{
	size_t	off = (size_t)(pos % shm->cap), first;

	first = shm->cap - off;
	if (first > n)
		first = n;
	memcpy(r->data + off, src, first);
	if (n > first)
		memcpy(r->data, (const unsigned char *)src + first, n - first);
}

static void
copy_out(const struct podshm *shm, const struct podshm_ring *r, uint64_t pos,
    void *dst, size_t n)
{
	size_t	off = (size_t)(pos % shm->cap), first;

	first = shm->cap - off;
	if (first > n)
		first = n;
	memcpy(dst, r->data + off, first);
	if (n > first)
		memcpy((unsigned char *)dst + first, r->data, n - first);
}

/* Map fd and check or initialise the headers.  Does not close fd. */
static struct podshm *
attach(int fd, size_t size, int role, int create)
{
	struct podshm	*shm;
	struct stat	 st;
	unsigned char	*hdr;
	void		*p;
	uint32_t	 cap;
	int		 i, saved;

	if (fd < 0 || !size_ok(size) ||
	    (role != PODSHM_WORKER && role != PODSHM_SUPERVISOR)) {
		errno = EINVAL;
		return NULL;
	}
	if (create) {
		if (ftruncate(fd, (off_t)size) == -1)
			return NULL;
	} else {
		if (fstat(fd, &st) == -1)
			return NULL;
		if (st.st_size < 0 || (uint64_t)st.st_size != (uint64_t)size) {
			errno = EINVAL;
			return NULL;
		}
	}
	if ((shm = calloc(1, sizeof(*shm))) == NULL)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		saved = errno;
		free(shm);
		errno = saved;
		return NULL;
	}
	shm->base = p;
	shm->size = size;
	shm->cap = cap = (uint32_t)(size / 2 - PODSHM_HDR_SIZE);
	shm->role = role;

	for (i = 0; i < 2; i++) {
		ring_setup(shm, i);
		hdr = shm->base + (size_t)i * (size / 2);
		if (create) {
			memset(hdr, 0, PODSHM_HDR_SIZE);
			put32(hdr + OFF_VERSION, PODSHM_VERSION);
			put32(hdr + OFF_CAPACITY, cap);
			put32(hdr + OFF_RESERVED, 0);
			atomic_store_explicit(shm->ring[i].head, 0,
			    memory_order_relaxed);
			atomic_store_explicit(shm->ring[i].tail, 0,
			    memory_order_relaxed);
			atomic_thread_fence(memory_order_release);
			put32(hdr + OFF_MAGIC, PODSHM_MAGIC);
			continue;
		}
		/* Read once; only the private copies are used from now on. */
		if (get32(hdr + OFF_MAGIC) != PODSHM_MAGIC ||
		    get32(hdr + OFF_VERSION) != PODSHM_VERSION ||
		    get32(hdr + OFF_CAPACITY) != cap)
			goto bad;
		atomic_thread_fence(memory_order_acquire);
	}
	if (!create) {
		if (ring_sync(shm, tx_ring(shm), 1) == -1 ||
		    ring_sync(shm, rx_ring(shm), 0) == -1)
			goto bad;
	}
	return shm;

 bad:
	munmap(shm->base, shm->size);
	free(shm);
	errno = EPROTO;
	return NULL;
}

struct podshm *
podshm_create(const char *name, size_t size, mode_t mode)
{
	struct podshm	*shm;
	int		 fd, saved;

	if (name == NULL || !size_ok(size)) {
		errno = EINVAL;
		return NULL;
	}
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1)
		return NULL;
	if ((shm = attach(fd, size, PODSHM_SUPERVISOR, 1)) == NULL) {
		saved = errno;
		close(fd);
		shm_unlink(name);
		errno = saved;
		return NULL;
	}
	close(fd);	/* the mapping stays */
	return shm;
}

struct podshm *
podshm_create_fd(int fd, size_t size)
{
	return attach(fd, size, PODSHM_SUPERVISOR, 1);
}

struct podshm *
podshm_open(const char *name, size_t size, int role)
{
	struct podshm	*shm;
	int		 fd, saved;

	if (name == NULL || !size_ok(size)) {
		errno = EINVAL;
		return NULL;
	}
	if ((fd = shm_open(name, O_RDWR | O_CLOEXEC, 0)) == -1)
		return NULL;
	shm = attach(fd, size, role, 0);
	saved = errno;
	close(fd);
	errno = saved;
	return shm;
}

struct podshm *
podshm_open_fd(int fd, size_t size, int role)
{
	return attach(fd, size, role, 0);
}

/*
 * Changing the role re-reads, once, the indices this side now owns
 * (validated as at open).  Meant to be called right after
 * podshm_create*(), before any traffic.  Unknown roles are ignored.
 */
void
podshm_set_role(struct podshm *shm, int role)
{
	if (shm == NULL || (role != PODSHM_WORKER && role != PODSHM_SUPERVISOR))
		return;
	if (role == shm->role)
		return;
	shm->role = role;
	(void)ring_sync(shm, tx_ring(shm), 1);
	(void)ring_sync(shm, rx_ring(shm), 0);
}

void
podshm_close(struct podshm *shm)
{
	if (shm == NULL)
		return;
	munmap(shm->base, shm->size);
	free(shm);
}

size_t
podshm_max_frame(const struct podshm *shm)
{
	return shm->cap - LEN_SIZE;
}

int
podshm_send(struct podshm *shm, const void *buf, size_t len)
{
	struct podshm_ring	*r = tx_ring(shm);
	unsigned char		 lenbuf[LEN_SIZE];
	size_t			 off;

	if (r->dead) {
		errno = EPROTO;
		return -1;
	}
	if (len > podshm_max_frame(shm)) {
		errno = EMSGSIZE;
		return -1;
	}
	if (len > 0 && buf == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* r->own - r->peer <= cap always holds (checked when loaded). */
	if (LEN_SIZE + len > shm->cap - (r->own - r->peer)) {
		if (load_tail(shm, r) == -1)
			return -1;
		if (LEN_SIZE + len > shm->cap - (r->own - r->peer)) {
			errno = EAGAIN;
			return -1;
		}
	}
	off = (size_t)(r->own % shm->cap);
	if (off <= shm->cap - LEN_SIZE)
		put32(r->data + off, (uint32_t)len);
	else {
		put32(lenbuf, (uint32_t)len);
		copy_in(shm, r, r->own, lenbuf, LEN_SIZE);
	}
	if (len > 0)
		copy_in(shm, r, r->own + LEN_SIZE, buf, len);
	r->own += LEN_SIZE + len;
	atomic_store_explicit(r->head, r->own, memory_order_release);
	return 0;
}

/* Validate and return the length of the next frame in r. */
static ssize_t
next_len(struct podshm *shm, struct podshm_ring *r)
{
	unsigned char	lenbuf[LEN_SIZE];
	uint64_t	avail;
	size_t		off;
	uint32_t	len;

	if (r->dead) {
		errno = EPROTO;
		return -1;
	}
	/* r->peer - r->own <= cap always holds (checked when loaded). */
	if ((avail = r->peer - r->own) == 0) {
		if (load_head(shm, r) == -1)
			return -1;
		if ((avail = r->peer - r->own) == 0) {
			errno = EAGAIN;
			return -1;
		}
	}
	/* Heads are published a whole frame at a time. */
	if (avail < LEN_SIZE)
		return ring_kill(r);
	off = (size_t)(r->own % shm->cap);
	if (off <= shm->cap - LEN_SIZE)
		len = get32(r->data + off);
	else {
		copy_out(shm, r, r->own, lenbuf, LEN_SIZE);
		len = get32(lenbuf);
	}
	if (len > shm->cap - LEN_SIZE || LEN_SIZE + (uint64_t)len > avail)
		return ring_kill(r);
	return (ssize_t)len;
}

ssize_t
podshm_recv(struct podshm *shm, void *buf, size_t cap)
{
	struct podshm_ring	*r = rx_ring(shm);
	ssize_t			 len;

	if ((len = next_len(shm, r)) == -1)
		return -1;
	if ((size_t)len > cap) {
		errno = ENOBUFS;
		return -1;
	}
	if (len > 0) {
		if (buf == NULL) {
			errno = EINVAL;
			return -1;
		}
		copy_out(shm, r, r->own + LEN_SIZE, buf, (size_t)len);
	}
	r->own += LEN_SIZE + (uint64_t)len;
	atomic_store_explicit(r->tail, r->own, memory_order_release);
	return len;
}

ssize_t
podshm_peek_len(struct podshm *shm)
{
	return next_len(shm, rx_ring(shm));
}

/* Bytes of complete frames waiting (length prefixes included). */
size_t
podshm_readable(struct podshm *shm)
{
	struct podshm_ring	*r = rx_ring(shm);

	if (r->dead || load_head(shm, r) == -1)
		return 0;
	return (size_t)(r->peer - r->own);
}

/* Free bytes; a payload of n bytes fits if n + 4 <= podshm_writable(). */
size_t
podshm_writable(struct podshm *shm)
{
	struct podshm_ring	*r = tx_ring(shm);

	if (r->dead || load_tail(shm, r) == -1)
		return 0;
	return (size_t)(shm->cap - (r->own - r->peer));
}
