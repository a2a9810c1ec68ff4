/*
 * Reading a BPF ring buffer map without the bpf() syscall: the map fd
 * is mmap-ed as the kernel lays it out (the consumer position page
 * read-write at offset 0; the producer position page and the data
 * area, read-only at offset page_size; the data once, where libbpf's
 * ringbuf.c maps it twice in a row so that a record that wraps is
 * contiguous: here a record that wraps is copied out in two pieces),
 * and records are taken with acquire/release ordering on the
 * positions.  Nothing read from the shared pages is trusted:
 * positions, lengths and the record itself are bounds-checked, and a
 * record is copied out before the callback sees it.
 */
#ifndef PODRUNNER_AUDITRING_H
#define PODRUNNER_AUDITRING_H

#include <stddef.h>
#include <stdint.h>

/* The kernel's record header (include/uapi/linux/bpf.h). */
#define ARING_BUSY_BIT		(1U << 31)
#define ARING_DISCARD_BIT	(1U << 30)
#define ARING_HDR_SZ		8

struct aring {
	uint64_t	*consumer;	/* rw page */
	const uint64_t	*producer;	/* ro page */
	const uint8_t	*data;		/* ro, size bytes */
	uint64_t	 size;		/* power of 2 */
	void		*cmap, *pmap;	/* what to munmap; NULL: not ours */
	size_t		 cmap_len, pmap_len;
	uint64_t	 corrupt;	/* inconsistent headers seen */
	uint8_t		*copy;		/* one record, copied out */
	size_t		 copy_max;
};

/*
 * Map the ring buffer map fd of size data bytes (a power of 2, at least
 * a page); records longer than max are reported corrupt.  0, or -1 and
 * errno.
 */
int	aring_map(struct aring *, int, uint64_t, size_t);
/* The same over memory laid out as the kernel's (unit tests). */
int	aring_init(struct aring *, uint64_t *, const uint64_t *,
	    const uint8_t *, uint64_t, size_t);
void	aring_unmap(struct aring *);

/* Bytes committed but not consumed (a hint: positions are racy). */
uint64_t aring_avail(const struct aring *);

/*
 * Hand every complete record to cb(arg, rec, len), in order, stopping
 * at a record still being written, or when cb returns non-zero (that
 * record stays in the ring for the next call); a record whose header
 * is impossible skips the rest of the data (counted in corrupt).
 * Returns the number of records consumed.
 */
long	aring_consume(struct aring *, int (*)(void *, const void *, size_t),
	    void *);

#endif
