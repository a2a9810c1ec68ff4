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
 *  - the words of the wait protocol (futex words, maysleep, fences,
 *    cpu) are only compared with 0 or with our own value: they decide
 *    whether to fence, spin or make a system call, and nothing is
 *    indexed, sized or copied by them;
 *  - payload bytes are copied out before the caller sees them, so the
 *    peer cannot change what the caller parses.
 *
 * Memory ordering: the producer copies the frame in, then publishes its
 * head with a release store; the consumer loads head with acquire before
 * copying out, then publishes its tail with release; the producer loads
 * tail with acquire before reusing the space.  The atomics must be
 * lock-free to work across processes.
 *
 * Waiting: the sleeper stores its futex word, then a seq_cst fence,
 * then loads the index it waits on; the waker stores its index, then a
 * seq_cst fence, then loads the word.  The two fences order each
 * store before the other side's load, so at least one side sees the
 * other's store: either the sleeper sees the new index and does not
 * sleep, or the waker sees the word and wakes it.  The waker clears the
 * word before FUTEX_WAKE, so a sleeper that has not reached FUTEX_WAIT
 * yet finds a word that is no longer 1 and does not sleep either.
 *
 * The producer's fence is the price: it waits for the frame's stores
 * to reach the cache, and the lines are the consumer's (it read them a
 * lap ago; it polls the head), so a stream of small frames ran at a
 * quarter of its speed.  So the producer fences only for a consumer
 * that has said (maysleep, once and for good) that it may sleep: a
 * consumer that polls, or the relay, costs none.  The producer answers
 * (fences, a release store after its head) before its first fenced
 * publish; until the consumer has read the answer (acquire: every head
 * published before it is then visible), a publish may have gone
 * unfenced, so the consumer sleeps in slices (1 ms, times 4 up to 1 s)
 * and looks again after each; after it, the protocol above holds.  The
 * consumer always fences after its tail: that fence costs nothing
 * measurable (its stores are to its own buffer and its own line).
 *
 * The library never exits and never prints; errors are -1/NULL + errno.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/futex.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "podshm.h"

_Static_assert(ATOMIC_LONG_LOCK_FREE == 2 && sizeof(long) == 8,
    "podshm needs lock-free 64-bit atomics");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && sizeof(int) == 4,
    "podshm needs lock-free 32-bit atomics (futex words)");

#define PODSHM_PAGE		4096
#define OFF_MAGIC		0
#define OFF_VERSION		4
#define OFF_CAPACITY		8
#define OFF_RESERVED		12
#define OFF_CPU			16
#define OFF_MAYSLEEP		20
#define OFF_FENCES		24
#define OFF_HEAD		64
#define OFF_RXWAIT		72
#define OFF_TAIL		128
#define OFF_TXWAIT		136
#define LEN_SIZE		4	/* u32 length prefix */

/*
 * Spinning before a sleep.  Waking a sleeping peer on another CPU costs
 * it tens of microseconds here (a halted vCPU: measured 30 us per wake
 * on a 2-vCPU KVM guest, 2.5 us on one CPU), so a short spin pays when
 * the peer answers quickly.  Adaptive: each wait's duration w moves the
 * budget a quarter of the way towards 2w when w was short enough to
 * catch by spinning, towards 0 when not; an idle side soon stops
 * spinning.  The peer cannot run while we spin on its CPU, so a side
 * whose affinity mask has a single CPU spins only when the peer has
 * said (its cpu word) that it waits on another one: a pinned pair on
 * two CPUs spins, a pair sharing one CPU never does.
 */
#define SPIN_MAX_NS		(PODSHM_SPIN_MAX_US * 1000LL)
#define SPIN_START_NS		(SPIN_MAX_NS / 4)
#define SPIN_CHECK		16	/* relaxes between clock reads */
#define NCPU_RECHECK		4096	/* sleeping waits between rechecks */
/* A consumer's sleeps before its producer said it fences: slices. */
#define SLICE_START_NS		1000000LL
#define SLICE_MAX_NS		1000000000LL

struct podshm_ring {
	unsigned char		*data;	/* capacity bytes */
	_Atomic uint64_t	*head;	/* shared, written by the producer */
	_Atomic uint64_t	*tail;	/* shared, written by the consumer */
	_Atomic uint32_t	*rxwait; /* futex word: the consumer sleeps */
	_Atomic uint32_t	*txwait; /* futex word: the producer sleeps */
	_Atomic uint32_t	*cpu;	/* 1 + the producer's CPU, a hint */
	_Atomic uint32_t	*maysleep; /* the consumer may sleep */
	_Atomic uint32_t	*fences; /* the producer fences every publish */
	uint64_t		 own;	/* private copy of the index we own */
	uint64_t		 peer;	/* last checked value of the other */
	int			 dead;
	int			 fencing;	/* producer: we said fences */
	int			 said_maysleep;	/* consumer: we said maysleep */
	int			 fences_seen;	/* consumer: and heard fences */
};

struct podshm {
	unsigned char		*base;
	size_t			 size;
	uint32_t		 cap;	/* private copy, same for both rings */
	int			 role;
	struct podshm_ring	 ring[2];	/* [0] worker->sup, [1] sup->worker */
	/* Waiting (this process's side only). */
	int			 spin_us;	/* PODSHM_SPIN_ADAPT or fixed */
	int			 ncpu;		/* in our affinity; 0 unknown */
	unsigned int		 nwaits;	/* waits that got past a look */
	uint32_t		 cpu_said;	/* our last cpu word */
	int64_t			 spin_ns[2];	/* adaptive: [0] rx, [1] tx */
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
static void	 wake(_Atomic uint32_t *);
static void	 wake_consumer(struct podshm_ring *);
static int	 futex_wait(_Atomic uint32_t *, uint32_t,
		    const struct timespec *);
static int64_t	 now_ns(void);
static void	 cpu_relax(void);
static int	 ready(struct podshm *, int, size_t);
static int	 may_spin(struct podshm *);
static int	 wait_for(struct podshm *, int, size_t, int);

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
	r->rxwait = (_Atomic uint32_t *)(void *)(hdr + OFF_RXWAIT);
	r->txwait = (_Atomic uint32_t *)(void *)(hdr + OFF_TXWAIT);
	r->cpu = (_Atomic uint32_t *)(void *)(hdr + OFF_CPU);
	r->maysleep = (_Atomic uint32_t *)(void *)(hdr + OFF_MAYSLEEP);
	r->fences = (_Atomic uint32_t *)(void *)(hdr + OFF_FENCES);
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
	r->fencing = r->said_maysleep = r->fences_seen = 0;
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

/*
 * After publishing an index: wake the peer if it said it sleeps on w.
 * The fence orders our index store before the load of w (see the top
 * of the file); without a sleeper this is the whole cost, no system
 * call.  A garbage word costs one needless FUTEX_WAKE.  One waiter at
 * most is woken: the peer is one process's one side, and a hostile
 * peer parking many threads on the word must not make us slow.
 */
static void
wake(_Atomic uint32_t *w)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(w, memory_order_relaxed) == 0)
		return;
	atomic_store_explicit(w, 0, memory_order_relaxed);
	(void)syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/*
 * The producer, after publishing a head, when the consumer has said it
 * may sleep: from then on every publish is fenced (wake()), and the
 * consumer is told so once, with a release store after this head.
 */
static void
wake_consumer(struct podshm_ring *r)
{
	if (!r->fencing) {
		r->fencing = 1;
		atomic_store_explicit(r->fences, 1, memory_order_release);
	}
	wake(r->rxwait);
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
	shm->spin_us = PODSHM_SPIN_ADAPT;
	shm->spin_ns[0] = shm->spin_ns[1] = SPIN_START_NS;
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
	/* A consumer that never sleeps costs no fence (see the top). */
	if (atomic_load_explicit(r->maysleep, memory_order_relaxed) != 0)
		wake_consumer(r);
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
	wake(r->txwait);
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

/* --- waiting ---------------------------------------------------------- */

int
podshm_set_spin(struct podshm *shm, int usec)
{
	if (shm == NULL || usec < PODSHM_SPIN_ADAPT || usec > 1000000) {
		errno = EINVAL;
		return -1;
	}
	shm->spin_us = usec;
	shm->spin_ns[0] = shm->spin_ns[1] = SPIN_START_NS;
	return 0;
}

/*
 * FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline (NULL:
 * none), so a loop of waits keeps one deadline.  Shared, not private:
 * the peer is another process.
 */
static int
futex_wait(_Atomic uint32_t *w, uint32_t val, const struct timespec *abs)
{
	return (int)syscall(SYS_futex, w, FUTEX_WAIT_BITSET, val, abs, NULL,
	    FUTEX_BITSET_MATCH_ANY);
}

static int64_t
now_ns(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/*
 * Is the ring ready: a frame to read (tx == 0), room for a payload of
 * len bytes (tx == 1)?  1 yes, 0 no, -1 dead (errno EPROTO).  Loads the
 * peer's index every time: this is what the spin polls.
 */
static int
ready(struct podshm *shm, int tx, size_t len)
{
	struct podshm_ring	*r;

	if (tx) {
		r = tx_ring(shm);
		if (r->dead || load_tail(shm, r) == -1)
			goto dead;
		return LEN_SIZE + len <= shm->cap - (r->own - r->peer);
	}
	r = rx_ring(shm);
	if (r->dead || load_head(shm, r) == -1)
		goto dead;
	return r->peer != r->own;
 dead:
	errno = EPROTO;
	return -1;
}

/*
 * May this wait spin?  Yes with several CPUs in our affinity mask (looked
 * up now and then: it can change): the scheduler can run the peer on
 * another.  With one, only if the peer said it waits on another CPU.
 * Says where we run, for the peer's waits (in our tx ring's header, the
 * ring the peer consumes).  The peer's word is only compared: a lie
 * costs us our own spin, bounded, no more.
 */
static int
may_spin(struct podshm *shm)
{
	cpu_set_t	set;
	uint32_t	peer;
	int		cpu;

	if (shm->ncpu == 0 || shm->nwaits % NCPU_RECHECK == 0) {
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			shm->ncpu = CPU_COUNT(&set);
		else
			shm->ncpu = 2;	/* unknown: assume a peer can run */
	}
	shm->nwaits++;
	cpu = sched_getcpu();
	if (cpu >= 0 && (uint32_t)cpu + 1 != shm->cpu_said) {
		shm->cpu_said = (uint32_t)cpu + 1;
		atomic_store_explicit(tx_ring(shm)->cpu, shm->cpu_said,
		    memory_order_relaxed);
	}
	if (shm->ncpu > 1)
		return 1;
	peer = atomic_load_explicit(rx_ring(shm)->cpu, memory_order_relaxed);
	return cpu >= 0 && peer != 0 && peer != (uint32_t)cpu + 1;
}

static int
wait_for(struct podshm *shm, int tx, size_t len, int timeout_ms)
{
	struct podshm_ring	*r = tx ? tx_ring(shm) : rx_ring(shm);
	_Atomic uint32_t	*w = tx ? r->txwait : r->rxwait;
	struct timespec		 dl, sl, *dlp = NULL, *until;
	int64_t			 start, deadline = 0, spin, t, target;
	int64_t			 slice = SLICE_START_NS;
	unsigned int		 i;
	int			 rc, saved, adapt, sliced;

	if ((rc = ready(shm, tx, len)) != 0)
		return rc == 1 ? 0 : -1;
	if (timeout_ms == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	start = now_ns();
	if (timeout_ms > 0) {
		deadline = start + (int64_t)timeout_ms * 1000000;
		dl.tv_sec = (time_t)(deadline / 1000000000);
		dl.tv_nsec = (long)(deadline % 1000000000);
		dlp = &dl;
	}

	/* Spin: a bounded time, whatever the peer does. */
	adapt = 0;
	if (!may_spin(shm))
		spin = 0;
	else if (shm->spin_us == PODSHM_SPIN_ADAPT) {
		spin = shm->spin_ns[tx];
		adapt = 1;
	} else
		spin = (int64_t)shm->spin_us * 1000;
	if (dlp != NULL && spin > deadline - start)
		spin = deadline - start;
	rc = 0;
	t = start;
	for (i = 1; spin > 0 && t - start < spin; i++) {
		cpu_relax();
		if ((rc = ready(shm, tx, len)) != 0)
			break;
		if (i % SPIN_CHECK == 0)
			t = now_ns();
	}

	/*
	 * A consumer's first sleep says, for good, that it may sleep; until
	 * the producer answers that it fences every publish, a publish may
	 * have gone unfenced and its wake-up missed, so we sleep in slices
	 * and look again after each.  Its answer (acquire) also shows us
	 * every head it published before.
	 */
	sliced = 0;
	if (rc == 0 && !tx && !r->fences_seen) {
		if (!r->said_maysleep) {
			r->said_maysleep = 1;
			atomic_store_explicit(r->maysleep, 1,
			    memory_order_relaxed);
		}
		sliced = 1;
	}

	/* Sleep: advertise it, then look once more (see the top). */
	while (rc == 0) {
		if (sliced && atomic_load_explicit(r->fences,
		    memory_order_acquire) != 0) {
			r->fences_seen = 1;
			sliced = 0;
		}
		atomic_store_explicit(w, 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if ((rc = ready(shm, tx, len)) != 0)
			break;
		until = dlp;
		if (dlp != NULL || sliced) {
			t = now_ns();
			if (dlp != NULL && t >= deadline) {
				errno = ETIMEDOUT;
				rc = -1;
				break;
			}
			if (sliced && (dlp == NULL || t + slice < deadline)) {
				sl.tv_sec = (time_t)((t + slice) / 1000000000);
				sl.tv_nsec = (long)((t + slice) % 1000000000);
				until = &sl;
				if ((slice *= 4) > SLICE_MAX_NS)
					slice = SLICE_MAX_NS;
			}
		}
		/*
		 * 0: woken (or spuriously); EAGAIN: the word is no longer 1
		 * (the peer cleared it to wake us, or wrote garbage);
		 * ETIMEDOUT: the loop looks once more, then gives up.
		 */
		if (futex_wait(w, 1, until) == -1 && errno != EAGAIN &&
		    errno != ETIMEDOUT) {
			rc = -1;	/* EINTR; or ENOSYS, refused */
			break;
		}
	}
	saved = errno;
	/* Our peer needs to make no system call for us any more. */
	atomic_store_explicit(w, 0, memory_order_relaxed);

	if (rc == 1 && adapt) {
		t = now_ns() - start;
		target = t < SPIN_MAX_NS ? 2 * t : 0;
		if (target > SPIN_MAX_NS)
			target = SPIN_MAX_NS;
		shm->spin_ns[tx] += (target - shm->spin_ns[tx]) / 4;
	}
	if (rc == 1)
		return 0;
	errno = saved;
	return -1;
}

int
podshm_wait_readable(struct podshm *shm, int timeout_ms)
{
	return wait_for(shm, 0, 0, timeout_ms);
}

int
podshm_wait_writable(struct podshm *shm, size_t len, int timeout_ms)
{
	if (len > podshm_max_frame(shm)) {
		errno = EMSGSIZE;
		return -1;
	}
	return wait_for(shm, 1, len, timeout_ms);
}
