/*
 * A BPF ring buffer map read by mmap alone (see auditring.h).  The
 * layout and protocol follow the kernel (kernel/bpf/ringbuf.c) and
 * libbpf's consumer (ringbuf.c); no code is shared with either.
 */
#include <sys/mman.h>
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditring.h"

static int
aring_alloc_copy(struct aring *r, size_t max)
{
	if ((r->copy = malloc(max)) == NULL)
		return -1;
	r->copy_max = max;
	return 0;
}

int
aring_map(struct aring *r, int fd, uint64_t size, size_t max)
{
	long	pg = sysconf(_SC_PAGESIZE);
	void	*c, *p;

	memset(r, 0, sizeof(*r));
	if (pg <= 0 || size < (uint64_t)pg || (size & (size - 1)) != 0 ||
	    size > (1ULL << 30) || max == 0) {
		errno = EINVAL;
		return -1;
	}
	c = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED)
		return -1;
	/*
	 * The data area once, not twice as libbpf maps it: records are
	 * copied out anyway, a record that wraps in two pieces.  The
	 * kernel fills in every page of a mapping when it is made (no
	 * faults later): about 0.3 us a page here (perf), so the second
	 * mapping cost each run about 0.3 ms with a 4 MiB ring.
	 */
	p = mmap(NULL, (size_t)pg + (size_t)size, PROT_READ, MAP_SHARED,
	    fd, pg);
	if (p == MAP_FAILED) {
		(void)munmap(c, (size_t)pg);
		return -1;
	}
	r->cmap = c;
	r->cmap_len = (size_t)pg;
	r->pmap = p;
	r->pmap_len = (size_t)pg + (size_t)size;
	r->consumer = c;
	r->producer = p;
	r->data = (const uint8_t *)p + pg;
	r->size = size;
	if (aring_alloc_copy(r, max) == -1) {
		aring_unmap(r);
		return -1;
	}
	return 0;
}

int
aring_init(struct aring *r, uint64_t *cons, const uint64_t *prod,
    const uint8_t *data, uint64_t size, size_t max)
{
	memset(r, 0, sizeof(*r));
	if (size < 16 || (size & (size - 1)) != 0 || max == 0) {
		errno = EINVAL;
		return -1;
	}
	r->consumer = cons;
	r->producer = prod;
	r->data = data;
	r->size = size;
	return aring_alloc_copy(r, max);
}

void
aring_unmap(struct aring *r)
{
	if (r->pmap != NULL)
		(void)munmap(r->pmap, r->pmap_len);
	if (r->cmap != NULL)
		(void)munmap(r->cmap, r->cmap_len);
	free(r->copy);
	memset(r, 0, sizeof(*r));
}

/*
 * A record's len bytes at position pos into r->copy: two pieces when it
 * runs past the end of the data area (a header never does: positions
 * are 8-byte aligned, the size a power of 2 of at least 16).
 */
static void
aring_copy(struct aring *r, uint64_t pos, uint32_t len)
{
	uint64_t	off = pos & (r->size - 1);
	size_t		first;

	first = r->size - off < len ? (size_t)(r->size - off) : len;
	memcpy(r->copy, r->data + off, first);
	if (first < len)
		memcpy(r->copy + first, r->data, len - first);
}

uint64_t
aring_avail(const struct aring *r)
{
	uint64_t	c, p;

	if (r->data == NULL)
		return 0;
	c = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	p = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	return p > c ? p - c : 0;
}

long
aring_consume(struct aring *r, int (*cb)(void *, const void *, size_t),
    void *arg)
{
	const uint32_t	*hdr;
	uint64_t	 cons, prod, total;
	uint32_t	 raw, len;
	long		 n = 0;

	if (r->data == NULL)
		return 0;
	cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	for (;;) {
		prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
		/* The producer never runs more than a ring ahead. */
		if (prod < cons || prod - cons > r->size) {
			r->corrupt++;
			__atomic_store_n(r->consumer, prod, __ATOMIC_RELEASE);
			return n;
		}
		if (cons == prod)
			return n;
		while (cons < prod) {
			/* 8-byte aligned: the kernel's positions always are. */
			if ((cons & 7) != 0)
				goto corrupt;
			hdr = (const uint32_t *)(const void *)
			    (r->data + (cons & (r->size - 1)));
			raw = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
			if (raw & ARING_BUSY_BIT) {
				/* Still being written: what came before. */
				__atomic_store_n(r->consumer, cons,
				    __ATOMIC_RELEASE);
				return n;
			}
			len = raw & ~ARING_DISCARD_BIT;
			total = ((uint64_t)len + ARING_HDR_SZ + 7) & ~7ULL;
			if (total > prod - cons)
				goto corrupt;
			if (!(raw & ARING_DISCARD_BIT) && len > 0) {
				if (len > r->copy_max) {
					r->corrupt++;
				} else {
					aring_copy(r, cons + ARING_HDR_SZ, len);
					if (cb(arg, r->copy, len) != 0) {
						/* Kept for the next call. */
						__atomic_store_n(r->consumer,
						    cons, __ATOMIC_RELEASE);
						return n;
					}
					n++;
				}
			}
			cons += total;
			/*
			 * The position is shared with every producing CPU:
			 * published every 64 KiB, not per record, so that
			 * its cache line does not bounce for each.
			 */
			if ((cons & 0xffff) < total)
				__atomic_store_n(r->consumer, cons,
				    __ATOMIC_RELEASE);
		}
		__atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
	}
 corrupt:
	r->corrupt++;
	__atomic_store_n(r->consumer, prod, __ATOMIC_RELEASE);
	return n;
}
