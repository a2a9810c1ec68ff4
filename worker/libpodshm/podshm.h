/*
 * libpodshm: the podrunner data plane.  One shared-memory segment split
 * 50/50 into two single-producer single-consumer rings:
 *
 *	first half	worker -> supervisor
 *	second half	supervisor -> worker
 *
 * Each half starts with a 192-byte header, then the data area:
 *
 *	offset   0  u32 magic "PSHM" (0x4d485350 little endian)
 *	offset   4  u32 version (1)
 *	offset   8  u32 capacity: bytes in the data area (half - 192)
 *	offset  12  u32 reserved (0)
 *	offset  16  u32 cpu: 1 + the CPU the producer of this ring last
 *		    waited on, 0 unknown (a hint; see podshm_set_spin)
 *	offset  20  u32 maysleep: 1 once the consumer may sleep (it set
 *		    it before its first sleep; never cleared)
 *	offset  24  u32 fences: 1 once the producer has seen maysleep and
 *		    fences every publish (release, after its head)
 *		    28..63 reserved (0)
 *	offset  64  u64 head: bytes ever written (producer stores, release)
 *	offset  72  u32 rxwait: futex word, "the consumer sleeps"
 *		    (see below); 76..127 reserved (0)
 *	offset 128  u64 tail: bytes ever consumed (consumer stores, release)
 *	offset 136  u32 txwait: futex word, "the producer sleeps";
 *		    140..191 reserved (0)
 *	offset 192  data area, capacity bytes, used as a circular byte
 *		    stream: position p lives at data[p % capacity]
 *
 * head and tail sit on cache lines of their own; each futex word shares
 * the line of the index its waker has just stored.
 *
 * A frame is [u32 length, little endian][payload]; a frame (length
 * prefix included) may wrap around the end of the data area.  A frame's
 * payload is at most capacity - 4 bytes.  All integers little endian.
 *
 * Neither side trusts the other: each keeps its own copy of the index
 * it owns and checks every value it reads from shared memory
 * (0 <= head - tail <= capacity, length <= what is available).  A
 * reader copies a frame out before the caller parses it.
 *
 * Waiting (optional, added within version 1).  A side that wants to
 * sleep until the ring has a frame (consumer) or room (producer) calls
 * podshm_wait_readable() / podshm_wait_writable().  The protocol, per
 * ring, for the consumer (the producer's is the same with txwait, tail
 * and "room"):
 *
 *	consumer: rxwait = 1; seq_cst fence; re-check head;
 *		  still empty: FUTEX_WAIT(rxwait, 1) (shared futex)
 *	producer: store head (release); seq_cst fence; load rxwait;
 *		  non-zero: rxwait = 0; FUTEX_WAKE(rxwait, 1)
 *
 * so a producer makes no system call unless the consumer advertised that
 * it sleeps.  Every podshm_send() wakes a consumer sleeping on rxwait
 * and every podshm_recv() a producer sleeping on txwait, whether or not
 * this side ever waits itself.
 *
 * The producer's fence (the costly one: it waits for the frame's
 * stores) is paid only once the consumer has set maysleep, before its
 * first sleep; the producer sets fences = 1 (release) before its first
 * fenced publish.  Until the consumer has read fences = 1 (acquire) a
 * publish may have gone unfenced, so it sleeps in bounded slices and
 * looks again after each.  The consumer's fence, after its tail, is
 * always paid (it is cheap).
 *
 * Peers that know nothing of these words never set them and never
 * sleep; the words start at 0 (the reserved bytes' old value).  Any of
 * them may hold anything a hostile peer wrote: the waker then makes a
 * needless FUTEX_WAKE or fence, the waiter a needless turn of its loop
 * or spin; a peer that does not wake us costs us at most our timeout.
 */
#ifndef PODSHM_H
#define PODSHM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PODSHM_MAGIC		0x4d485350U	/* "PSHM" */
#define PODSHM_VERSION		1
#define PODSHM_HDR_SIZE		192
#define PODSHM_MIN_SIZE		(2 * 4096)
#define PODSHM_MAX_SIZE		(1ULL << 30)	/* 1 GiB */

enum podshm_role {
	PODSHM_WORKER = 0,	/* writes ring 0, reads ring 1 */
	PODSHM_SUPERVISOR = 1	/* writes ring 1, reads ring 0 */
};

struct podshm;	/* opaque */

/*
 * Create a segment (supervisor side): shm_open(name, O_CREAT|O_EXCL),
 * ftruncate, mmap, initialise both headers.  size must be a multiple of
 * 4096 within [PODSHM_MIN_SIZE, PODSHM_MAX_SIZE].  NULL and errno on
 * failure.
 */
struct podshm	*podshm_create(const char *name, size_t size, mode_t mode);
/* The same over an fd the caller created (e.g. openat in /dev/shm). */
struct podshm	*podshm_create_fd(int fd, size_t size);
/* Attach to an existing segment; checks magic, version, capacities
 * against size. */
struct podshm	*podshm_open(const char *name, size_t size, int role);
struct podshm	*podshm_open_fd(int fd, size_t size, int role);
/* Set the role of a created segment (default PODSHM_SUPERVISOR). */
void		 podshm_set_role(struct podshm *, int role);
void		 podshm_close(struct podshm *);	/* munmap, free; no unlink */

/* Largest payload one frame can carry. */
size_t		 podshm_max_frame(const struct podshm *);

/*
 * Write one frame.  0 on success; -1 and errno:
 *	EAGAIN	not enough free space now (nothing written)
 *	EMSGSIZE len > podshm_max_frame()
 *	EPROTO	the peer corrupted the indices; the ring is dead
 */
int		 podshm_send(struct podshm *, const void *buf, size_t len);
/*
 * Read one frame into buf.  Returns the payload length; -1 and errno:
 *	EAGAIN	no complete frame
 *	ENOBUFS	buf too small (frame left in place; podshm_peek_len tells)
 *	EPROTO	corrupt length or indices; the ring is dead from now on
 */
ssize_t		 podshm_recv(struct podshm *, void *buf, size_t cap);
/* Length of the next frame, -1 and errno as podshm_recv. */
ssize_t		 podshm_peek_len(struct podshm *);
/* Bytes readable / writable right now in this side's rings. */
size_t		 podshm_readable(struct podshm *);
size_t		 podshm_writable(struct podshm *);

/*
 * Block until a frame can be read (podshm_readable() > 0), or until a
 * payload of len bytes can be sent.  timeout_ms < 0 waits for ever, 0
 * only looks.  Spins first for a while when the process may run on
 * more than one CPU (see podshm_set_spin), then sleeps on the ring's
 * futex word.  0 when ready; -1 and errno:
 *	ETIMEDOUT the time ran out (a dead or silent peer looks like this)
 *	EINTR	 a signal handler ran
 *	EPROTO	 the ring is dead (corrupt indices)
 *	EMSGSIZE len > podshm_max_frame() (wait_writable only)
 * Never to be called by a side that must not block (the relay).
 */
int		 podshm_wait_readable(struct podshm *, int timeout_ms);
int		 podshm_wait_writable(struct podshm *, size_t len,
		    int timeout_ms);
/*
 * How long the waits spin before they sleep: PODSHM_SPIN_ADAPT (the
 * default) learns it from the recent waits, between 0 and
 * PODSHM_SPIN_MAX_US; 0 never spins; n > 0 spins up to n microseconds
 * (at most 1000000).  A process whose affinity mask has a single CPU
 * spins only if the peer waits on another CPU (the peer's cpu word): a
 * spin on the peer's CPU only delays it.  0, or -1 and EINVAL.
 */
#define PODSHM_SPIN_ADAPT	(-1)
#define PODSHM_SPIN_MAX_US	50
int		 podshm_set_spin(struct podshm *, int usec);

#ifdef __cplusplus
}
#endif
#endif
