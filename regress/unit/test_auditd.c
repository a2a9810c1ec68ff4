/*
 * Unit tests for the audit's user side: the ring buffer reader
 * (auditd/auditring.c) over memory laid out as the kernel lays out a
 * BPF ring buffer map, with the bad headers next to the good ones; the
 * record check (arec_view) and the syslog and JSON lines
 * (auditd/auditfmt.c); the loader's walk of the kernel's BTF
 * (auditd/auditbtf.c) over blobs built here, whole, cut short and
 * malformed.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/btf.h>

#include "auditbtf.h"
#include "auditfmt.h"
#include "auditring.h"
#include "podaudit.h"

#define RING_SIZE	4096

/*
 * A ring as auditd maps it: the data area once, then bytes that are
 * not the ring's ('G'), which a record that wraps must not be read
 * from.
 */
struct fake {
	uint64_t	cons;
	uint64_t	prod;
	uint8_t		data[RING_SIZE];
	uint8_t		guard[RING_SIZE];
	struct aring	r;
};

static struct fake *
fake_new(size_t max)
{
	struct fake	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	memset(f->guard, 'G', sizeof(f->guard));
	assert_int_equal(aring_init(&f->r, &f->cons, &f->prod, f->data,
	    RING_SIZE, max), 0);
	return f;
}

static void
fake_free(struct fake *f)
{
	aring_unmap(&f->r);
	free(f);
}

/* Write bytes at a ring position. */
static void
fake_put(struct fake *f, uint64_t pos, const void *p, size_t len)
{
	const uint8_t	*b = p;
	size_t		 i;
	uint64_t	 o;

	for (i = 0; i < len; i++) {
		o = (pos + i) & (RING_SIZE - 1);
		f->data[o] = b[i];
	}
}

/* A record as the producer commits it; returns its total size. */
static uint64_t
fake_rec(struct fake *f, uint32_t flags, const void *p, uint32_t len)
{
	uint32_t	hdr[2] = { len | flags, 0 };
	uint64_t	total = (len + ARING_HDR_SZ + 7) & ~7ULL;

	fake_put(f, f->prod, hdr, sizeof(hdr));
	fake_put(f, f->prod + ARING_HDR_SZ, p, len);
	f->prod += total;
	return total;
}

struct seen {
	int	n;
	char	got[16][64];
	size_t	len[16];
	int	stop_at;	/* callback returns 1 for this one, or -1 */
};

static int
collect(void *arg, const void *p, size_t len)
{
	struct seen	*s = arg;

	if (s->n == s->stop_at) {
		s->stop_at = -1;
		return 1;
	}
	assert_true(s->n < 16);
	assert_true(len < sizeof(s->got[0]));
	memcpy(s->got[s->n], p, len);
	s->len[s->n] = len;
	s->n++;
	return 0;
}

static void
test_ring_order(void **state)
{
	struct fake	*f = fake_new(256);
	struct seen	 s = { .stop_at = -1 };

	(void)state;
	fake_rec(f, 0, "one", 3);
	fake_rec(f, 0, "second", 6);
	fake_rec(f, ARING_DISCARD_BIT, "gone", 4);
	fake_rec(f, 0, "third!!!", 8);
	assert_int_equal(aring_avail(&f->r), f->prod);
	assert_int_equal(aring_consume(&f->r, collect, &s), 3);
	assert_int_equal(s.n, 3);
	assert_memory_equal(s.got[0], "one", 3);
	assert_int_equal(s.len[1], 6);
	assert_memory_equal(s.got[2], "third!!!", 8);
	assert_true(f->cons == f->prod);
	assert_int_equal(f->r.corrupt, 0);
	/* Nothing new: nothing handed over. */
	assert_int_equal(aring_consume(&f->r, collect, &s), 0);
	fake_free(f);
}

static void
test_ring_busy(void **state)
{
	struct fake	*f = fake_new(256);
	struct seen	 s = { .stop_at = -1 };
	uint64_t	 busy;

	(void)state;
	fake_rec(f, 0, "done", 4);
	busy = f->prod;
	fake_rec(f, ARING_BUSY_BIT, "writing", 7);
	fake_rec(f, 0, "after", 5);
	assert_int_equal(aring_consume(&f->r, collect, &s), 1);
	assert_true(f->cons == busy);
	/* Committed now: the rest follows. */
	fake_put(f, busy, &(uint32_t){ 7 }, 4);
	assert_int_equal(aring_consume(&f->r, collect, &s), 2);
	assert_memory_equal(s.got[1], "writing", 7);
	assert_memory_equal(s.got[2], "after", 5);
	fake_free(f);
}

static void
test_ring_wrap(void **state)
{
	struct fake	*f = fake_new(256);
	struct seen	 s = { .stop_at = -1 };
	char		 big[40];

	(void)state;
	/* Positions near the end of the ring, as after long use. */
	f->cons = f->prod = 10 * RING_SIZE + RING_SIZE - 24;
	memset(big, 'x', sizeof(big));
	memcpy(big, "wraps", 5);
	fake_rec(f, 0, big, sizeof(big));
	fake_rec(f, 0, "next", 4);
	assert_int_equal(aring_consume(&f->r, collect, &s), 2);
	assert_memory_equal(s.got[0], big, sizeof(big));
	assert_memory_equal(s.got[1], "next", 4);
	fake_free(f);
}

/* A header in the last 8 bytes (its record at the start), a record
 * that ends at the last byte. */
static void
test_ring_wrap_edges(void **state)
{
	struct fake	*f = fake_new(256);
	struct seen	 s = { .stop_at = -1 };

	(void)state;
	f->cons = f->prod = 3 * RING_SIZE - ARING_HDR_SZ;
	fake_rec(f, 0, "at the start", 12);
	assert_int_equal(aring_consume(&f->r, collect, &s), 1);
	f->cons = f->prod = 4 * RING_SIZE - 24;
	fake_rec(f, 0, "sixteen bytes ok", 16);
	fake_rec(f, 0, "then", 4);
	assert_int_equal(aring_consume(&f->r, collect, &s), 2);
	assert_memory_equal(s.got[0], "at the start", 12);
	assert_memory_equal(s.got[1], "sixteen bytes ok", 16);
	assert_memory_equal(s.got[2], "then", 4);
	fake_free(f);
}

static void
test_ring_keep(void **state)
{
	struct fake	*f = fake_new(256);
	struct seen	 s = { .stop_at = 1 };

	(void)state;
	fake_rec(f, 0, "a", 1);
	fake_rec(f, 0, "b", 1);
	fake_rec(f, 0, "c", 1);
	/* The second is refused: it stays, with what follows. */
	assert_int_equal(aring_consume(&f->r, collect, &s), 1);
	assert_int_equal(aring_consume(&f->r, collect, &s), 2);
	assert_memory_equal(s.got[1], "b", 1);
	assert_memory_equal(s.got[2], "c", 1);
	fake_free(f);
}

/* Headers that cannot be: skipped to the producer, counted. */
static void
test_ring_corrupt(void **state)
{
	struct fake	*f;
	struct seen	 s = { .stop_at = -1 };
	uint32_t	 hdr[2];

	(void)state;
	/* A length beyond what was produced. */
	f = fake_new(256);
	fake_rec(f, 0, "ok", 2);
	hdr[0] = 500;
	hdr[1] = 0;
	fake_put(f, f->prod, hdr, sizeof(hdr));
	f->prod += 16;
	assert_int_equal(aring_consume(&f->r, collect, &s), 1);
	assert_int_equal(f->r.corrupt, 1);
	assert_true(f->cons == f->prod);
	fake_free(f);

	/* The producer behind the consumer. */
	f = fake_new(256);
	f->cons = 64;
	f->prod = 32;
	assert_int_equal(aring_consume(&f->r, collect, &s), 0);
	assert_int_equal(f->r.corrupt, 1);
	assert_true(f->cons == 32);
	fake_free(f);

	/* More than a ring ahead. */
	f = fake_new(256);
	f->prod = 2 * RING_SIZE;
	assert_int_equal(aring_consume(&f->r, collect, &s), 0);
	assert_int_equal(f->r.corrupt, 1);
	fake_free(f);

	/* A consumer position that is not 8-aligned. */
	f = fake_new(256);
	f->cons = 4;
	f->prod = 64;
	assert_int_equal(aring_consume(&f->r, collect, &s), 0);
	assert_int_equal(f->r.corrupt, 1);
	assert_true(f->cons == 64);
	fake_free(f);

	/* A record longer than any record can be: skipped alone. */
	f = fake_new(16);
	s.n = 0;
	fake_rec(f, 0, "0123456789abcdefXYZ", 19);
	fake_rec(f, 0, "small", 5);
	assert_int_equal(aring_consume(&f->r, collect, &s), 1);
	assert_int_equal(f->r.corrupt, 1);
	assert_memory_equal(s.got[0], "small", 5);
	fake_free(f);
}

/* --- records --------------------------------------------------------- */

static size_t
mkrec(uint8_t *buf, uint8_t kind, const void *d, uint16_t len1,
    uint16_t len2, size_t extra)
{
	struct arec	h;

	memset(&h, 0, sizeof(h));
	h.ts = 1;
	h.pod = 1;
	h.pid = 100;
	h.tid = 100;
	h.uid = 3000001;
	h.gid = 3000001;
	h.kind = kind;
	h.nr = 257;
	h.a0 = -100;
	h.len1 = len1;
	h.len2 = len2;
	memcpy(h.comm, "python3", 8);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), d, (size_t)len1 + len2 + extra);
	return sizeof(h) + len1 + len2 + extra;
}

static void
test_view_bad(void **state)
{
	struct arec_view	 v;
	uint8_t			 buf[sizeof(struct arec) + AREC_DATA_MAX];
	size_t			 n;

	(void)state;
	n = mkrec(buf, AREC_OPEN, "/etc/passwd", 11, 0, 0);
	assert_int_equal(arec_view(&v, buf, n), 0);
	assert_int_equal(v.n1, 11);
	/* Short of its header, of its data. */
	assert_int_equal(arec_view(&v, buf, sizeof(struct arec) - 1), -1);
	assert_int_equal(arec_view(&v, buf, n - 1), -1);
	/* An unknown kind. */
	buf[offsetof(struct arec, kind)] = 99;
	assert_int_equal(arec_view(&v, buf, n), -1);
	/* An open with arguments. */
	n = mkrec(buf, AREC_OPEN, "/a\0b", 2, 2, 0);
	assert_int_equal(arec_view(&v, buf, n), -1);
	/* A path that ends early is cut at its NUL. */
	n = mkrec(buf, AREC_OPEN, "/a\0b", 4, 0, 0);
	assert_int_equal(arec_view(&v, buf, n), 0);
	assert_int_equal(v.n1, 2);
	/* An exec whose last argument has no NUL. */
	n = mkrec(buf, AREC_EXEC, "/bin/ls\0ls\0-l", 7, 5, 1);
	assert_int_equal(arec_view(&v, buf, n), -1);
	/* An exec without the path's NUL in the record. */
	n = mkrec(buf, AREC_EXEC, "/bin/ls", 7, 0, 0);
	assert_int_equal(arec_view(&v, buf, n), -1);
	/* A sockaddr too long. */
	memset(buf + sizeof(struct arec), 0, AREC_ADDR_MAX + 8);
	n = mkrec(buf, AREC_CONNECT, buf + sizeof(struct arec),
	    AREC_ADDR_MAX + 1, 0, 0);
	assert_int_equal(arec_view(&v, buf, n), -1);
	/* A syscall record with data. */
	n = mkrec(buf, AREC_SYSCALL, "x", 1, 0, 0);
	assert_int_equal(arec_view(&v, buf, n), -1);
}

static void
fmt(uint8_t *buf, size_t n, struct sbuf *sl, struct sbuf *js)
{
	struct arec_view	v;
	struct afmt		f;

	assert_int_equal(arec_view(&v, buf, n), 0);
	memset(&f, 0, sizeof(f));
	f.podid = "0123456789abcdef";
	f.syscall = "openat";
	f.wall.tv_sec = 1700000000;
	f.wall.tv_nsec = 123456789;
	afmt_syslog(sl, &v, &f);
	afmt_json(js, &v, &f);
}

static void
test_fmt_open(void **state)
{
	struct sbuf	 sl = { 0 }, js = { 0 };
	uint8_t		 buf[sizeof(struct arec) + AREC_DATA_MAX];
	struct arec	*h = (struct arec *)(void *)buf;
	size_t		 n;

	(void)state;
	n = mkrec(buf, AREC_OPEN, "/tmp/a b\"c", 10, 0, 0);
	h->a1 = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
	h->a2 = 0644;
	h->ret = -13;
	fmt(buf, n, &sl, &js);
	assert_string_equal(sl.buf, "pod=0123456789abcdef pid=100 uid=3000001 "
	    "comm=python3 syscall=openat path=\"/tmp/a b\\\"c\" "
	    "flags=O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC mode=0644 ret=-13 "
	    "err=EACCES");
	assert_string_equal(js.buf, "{\"ts\":\"2023-11-14T22:13:20.123456Z\","
	    "\"type\":\"syscall\",\"pod\":\"0123456789abcdef\",\"pid\":100,"
	    "\"tid\":100,\"uid\":3000001,\"gid\":3000001,\"comm\":\"python3\","
	    "\"syscall\":\"openat\",\"nr\":257,\"path\":\"/tmp/a b\\\"c\","
	    "\"flags\":\"O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC\",\"mode\":\"0644\","
	    "\"ret\":-13,\"err\":\"EACCES\"}\n");

	/* Not UTF-8, a control character; a directory fd. */
	n = mkrec(buf, AREC_OPEN, "r\xff\x01\xc3\xa9", 5, 0, 0);
	h->a0 = 5;
	h->a1 = O_RDONLY;
	h->ret = 3;
	fmt(buf, n, &sl, &js);
	assert_non_null(strstr(sl.buf, " path=\"r\\xff\\x01\\xc3\\xa9\" "
	    "dirfd=5 flags=O_RDONLY ret=3"));
	assert_null(strstr(sl.buf, "err="));
	assert_non_null(strstr(js.buf, "\"path\":\"r\\\\xff\\u0001\xc3\xa9\","
	    "\"dirfd\":5,\"flags\":\"O_RDONLY\",\"ret\":3}"));
	sb_free(&sl);
	sb_free(&js);
}

static void
test_fmt_exec(void **state)
{
	struct sbuf	 sl = { 0 }, js = { 0 };
	uint8_t		 buf[sizeof(struct arec) + AREC_DATA_MAX];
	struct arec	*h = (struct arec *)(void *)buf;
	static const char d[] = "/bin/sh\0sh\0-c\0echo hi";
	size_t		 n;

	(void)state;
	/* len2 counts the arguments with their NULs, after the path's. */
	n = mkrec(buf, AREC_EXEC, d, 7, sizeof(d) - 8, 1);
	h->a1 = 3;
	h->flags = AREC_F_ARGV_TRUNC;
	fmt(buf, n, &sl, &js);
	assert_non_null(strstr(sl.buf, " path=/bin/sh argv=\"sh -c "
	    "echo\\x20hi\" ret=0 truncated=argv"));
	assert_non_null(strstr(js.buf, "\"path\":\"/bin/sh\",\"argv\":[\"sh\","
	    "\"-c\",\"echo hi\"],\"ret\":0,\"argv_truncated\":true}"));
	sb_free(&sl);
	sb_free(&js);
}

static void
test_fmt_addr(void **state)
{
	struct sockaddr_in	 in;
	struct sockaddr_in6	 in6;
	struct sockaddr_un	 un;
	char			 b[128];

	(void)state;
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons(8080);
	inet_pton(AF_INET, "169.254.1.1", &in.sin_addr);
	afmt_addr(b, sizeof(b), (uint8_t *)&in, sizeof(in));
	assert_string_equal(b, "169.254.1.1:8080");
	/* Shorter than its family's address: not read past. */
	afmt_addr(b, sizeof(b), (uint8_t *)&in, 4);
	assert_string_equal(b, "family:2");
	afmt_addr(b, sizeof(b), (uint8_t *)&in, 1);
	assert_string_equal(b, "-");

	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(443);
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	afmt_addr(b, sizeof(b), (uint8_t *)&in6, sizeof(in6));
	assert_string_equal(b, "[2001:db8::1]:443");

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, "/run/x.sock", 11);
	afmt_addr(b, sizeof(b), (uint8_t *)&un, 2 + 12);
	assert_string_equal(b, "unix:/run/x.sock");
	memcpy(un.sun_path, "\0abs", 4);
	afmt_addr(b, sizeof(b), (uint8_t *)&un, 2 + 4);
	assert_string_equal(b, "unix:@abs");
	afmt_addr(b, sizeof(b), (uint8_t *)&un, 2);
	assert_string_equal(b, "unix:(unnamed)");
}

static void
test_fmt_flags(void **state)
{
	char	b[256];

	(void)state;
	afmt_open_flags(b, sizeof(b), O_RDONLY | O_CLOEXEC | O_DIRECTORY);
	assert_string_equal(b, "O_RDONLY|O_CLOEXEC|O_DIRECTORY");
	afmt_open_flags(b, sizeof(b), O_RDWR | O_TMPFILE);
	assert_string_equal(b, "O_RDWR|O_TMPFILE|O_DIRECTORY");
	afmt_open_flags(b, sizeof(b), O_WRONLY | O_SYNC | 0x40000000);
	assert_string_equal(b, "O_WRONLY|O_DSYNC|O_SYNC|0x40000000");
}


/* --- the BTF walk ------------------------------------------------------------ */

/* A BTF blob built in memory: header, type records, strings. */
struct bblob {
	uint8_t		types[512];
	size_t		ntypes;
	char		strs[256];
	size_t		nstrs;
	uint8_t		out[1024];
	size_t		len;
};

static uint32_t
bb_str(struct bblob *b, const char *s)
{
	uint32_t	off = (uint32_t)b->nstrs;

	if (b->nstrs == 0) {
		b->strs[0] = '\0';	/* offset 0 is the empty name */
		b->nstrs = off = 1;
	}
	memcpy(b->strs + b->nstrs, s, strlen(s) + 1);
	b->nstrs += strlen(s) + 1;
	return off;
}

static void
bb_type(struct bblob *b, const char *name, int kind, int vlen,
    size_t extra)
{
	struct btf_type	t;

	memset(&t, 0, sizeof(t));
	t.name_off = name != NULL ? bb_str(b, name) : 0;
	t.info = (uint32_t)kind << 24 | ((uint32_t)vlen & 0xffff);
	memcpy(b->types + b->ntypes, &t, sizeof(t));
	b->ntypes += sizeof(t);
	memset(b->types + b->ntypes, 0x5a, extra);
	b->ntypes += extra;
}

static void
bb_finish(struct bblob *b)
{
	struct btf_header	h;

	memset(&h, 0, sizeof(h));
	h.magic = BTF_MAGIC;
	h.version = BTF_VERSION;
	h.hdr_len = sizeof(h);
	h.type_off = 0;
	h.type_len = (uint32_t)b->ntypes;
	h.str_off = (uint32_t)b->ntypes;
	h.str_len = (uint32_t)b->nstrs;
	memcpy(b->out, &h, sizeof(h));
	memcpy(b->out + sizeof(h), b->types, b->ntypes);
	memcpy(b->out + sizeof(h) + b->ntypes, b->strs, b->nstrs);
	b->len = sizeof(h) + b->ntypes + b->nstrs;
}

/* Every kind with trailing data, then the two that are looked for. */
static void
bb_kernelish(struct bblob *b)
{
	memset(b, 0, sizeof(*b));
	bb_type(b, "int", BTF_KIND_INT, 0, 4);			/* 1 */
	bb_type(b, NULL, BTF_KIND_PTR, 0, 0);			/* 2 */
	bb_type(b, NULL, BTF_KIND_ARRAY, 0, sizeof(struct btf_array));
	bb_type(b, "task_struct", BTF_KIND_FWD, 0, 0);		/* 4 */
	bb_type(b, "cred", BTF_KIND_STRUCT, 2,
	    2 * sizeof(struct btf_member));			/* 5 */
	bb_type(b, "e", BTF_KIND_ENUM, 3, 3 * sizeof(struct btf_enum));
	bb_type(b, "e64", BTF_KIND_ENUM64, 2, 2 * 12);		/* 7 */
	bb_type(b, NULL, BTF_KIND_FUNC_PROTO, 2,
	    2 * sizeof(struct btf_param));			/* 8 */
	bb_type(b, "bpf_rdonly_cast", BTF_KIND_TYPEDEF, 0, 0);	/* 9 */
	bb_type(b, "v", BTF_KIND_VAR, 0, 4);			/* 10 */
	bb_type(b, ".data", BTF_KIND_DATASEC, 1,
	    sizeof(struct btf_var_secinfo));			/* 11 */
	bb_type(b, "task_struct", BTF_KIND_STRUCT, 1,
	    sizeof(struct btf_member));				/* 12 */
	bb_type(b, "u", BTF_KIND_UNION, 1, sizeof(struct btf_member));
	bb_type(b, "bpf_rdonly_cast", BTF_KIND_FUNC, 0, 0);	/* 14 */
	bb_type(b, "task_struct", BTF_KIND_STRUCT, 0, 0);	/* 15 */
	bb_finish(b);
}

/* What the loader asks: a FUNC and a STRUCT. */
static int
btf_ids2(const void *blob, size_t len, const char *func, const char *strct,
    int *f, int *s)
{
	struct audit_btf_want	w[2] = {
		{ func, BTF_KIND_FUNC, 0 }, { strct, BTF_KIND_STRUCT, 0 }
	};
	int			rc;

	rc = audit_btf_ids(blob, len, w, 2);
	*f = w[0].id;
	*s = w[1].id;
	return rc;
}

static void
test_btf_found(void **state)
{
	struct bblob	b;
	int		f, s;

	(void)state;
	bb_kernelish(&b);
	assert_int_equal(btf_ids2(b.out, b.len, "bpf_rdonly_cast",
	    "task_struct", &f, &s), 0);
	/* The FUNC and the first STRUCT, not the typedef or the FWD. */
	assert_int_equal(f, 14);
	assert_int_equal(s, 12);
	/* A name that is only a prefix or a longer one is not it. */
	assert_int_equal(btf_ids2(b.out, b.len, "bpf_rdonly",
	    "task_struc", &f, &s), -1);
	assert_int_equal(f, -1);
	assert_int_equal(s, -1);
}

/* Several structs at once, each its own; one missing fails the lot. */
static void
test_btf_several(void **state)
{
	struct audit_btf_want	w[4] = {
		{ "task_struct", BTF_KIND_STRUCT, 0 },
		{ "bpf_rdonly_cast", BTF_KIND_FUNC, 0 },
		{ "cred", BTF_KIND_STRUCT, 0 },
		{ "pt_regs", BTF_KIND_STRUCT, 0 },
	};
	struct bblob		b;

	(void)state;
	bb_kernelish(&b);
	assert_int_equal(audit_btf_ids(b.out, b.len, w, 3), 0);
	assert_int_equal(w[0].id, 12);
	assert_int_equal(w[1].id, 14);
	assert_int_equal(w[2].id, 5);
	assert_int_equal(audit_btf_ids(b.out, b.len, w, 4), -1);
	assert_int_equal(w[0].id, 12);
	assert_int_equal(w[2].id, 5);
	assert_int_equal(w[3].id, -1);
	/* None wanted: found at once. */
	assert_int_equal(audit_btf_ids(b.out, b.len, w, 0), 0);
}

static void
test_btf_bad(void **state)
{
	struct btf_header	h;
	struct bblob		b;
	uint8_t			*cut;
	size_t			 n;
	int			 f, s;

	(void)state;
	bb_kernelish(&b);
	/* Cut short anywhere: never found past the end, never read past
	 * it (a copy of exactly n bytes, for the sanitizers). */
	for (n = 0; n < b.len; n++) {
		assert_non_null(cut = malloc(n > 0 ? n : 1));
		memcpy(cut, b.out, n);
		assert_int_equal(btf_ids2(cut, n, "bpf_rdonly_cast",
		    "task_struct", &f, &s), -1);
		free(cut);
	}
	/* Not BTF. */
	memcpy(&h, b.out, sizeof(h));
	b.out[0] ^= 0xff;
	assert_int_equal(btf_ids2(b.out, b.len, "bpf_rdonly_cast",
	    "task_struct", &f, &s), -1);
	b.out[0] ^= 0xff;
	/* Sections past the blob's end. */
	h.type_len = 0xffffff00;
	memcpy(b.out, &h, sizeof(h));
	assert_int_equal(btf_ids2(b.out, b.len, "bpf_rdonly_cast",
	    "task_struct", &f, &s), -1);
	bb_kernelish(&b);
	memcpy(&h, b.out, sizeof(h));
	h.str_len += 1;
	memcpy(b.out, &h, sizeof(h));
	assert_int_equal(btf_ids2(b.out, b.len, "bpf_rdonly_cast",
	    "task_struct", &f, &s), -1);
	/* A kind the walk cannot size, before them: it stops there. */
	memset(&b, 0, sizeof(b));
	bb_type(&b, "task_struct", BTF_KIND_STRUCT, 0, 0);
	bb_type(&b, "x", 31, 0, 0);
	bb_type(&b, "bpf_rdonly_cast", BTF_KIND_FUNC, 0, 0);
	bb_finish(&b);
	assert_int_equal(btf_ids2(b.out, b.len, "bpf_rdonly_cast",
	    "task_struct", &f, &s), -1);
	assert_int_equal(s, 1);
	assert_int_equal(f, -1);
	/* A record whose members would run past the type section (and
	 * the blob: copied to exactly its size, for the sanitizers). */
	memset(&b, 0, sizeof(b));
	bb_type(&b, "task_struct", BTF_KIND_STRUCT, 0, 0);
	bb_type(&b, "big", BTF_KIND_STRUCT, 1000, 0);
	bb_finish(&b);
	assert_non_null(cut = malloc(b.len));
	memcpy(cut, b.out, b.len);
	assert_int_equal(btf_ids2(cut, b.len, "bpf_rdonly_cast",
	    "task_struct", &f, &s), -1);
	assert_int_equal(s, 1);
	free(cut);
	/* A name offset past the strings. */
	memset(&b, 0, sizeof(b));
	bb_type(&b, "task_struct", BTF_KIND_STRUCT, 0, 0);
	bb_type(&b, "bpf_rdonly_cast", BTF_KIND_FUNC, 0, 0);
	bb_finish(&b);
	((struct btf_type *)(void *)(b.out + sizeof(h) + 12))->name_off =
	    0x7fffffff;
	assert_int_equal(btf_ids2(b.out, b.len, "bpf_rdonly_cast",
	    "task_struct", &f, &s), -1);
	assert_int_equal(s, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_order),
		cmocka_unit_test(test_ring_busy),
		cmocka_unit_test(test_ring_wrap),
		cmocka_unit_test(test_ring_wrap_edges),
		cmocka_unit_test(test_ring_keep),
		cmocka_unit_test(test_ring_corrupt),
		cmocka_unit_test(test_view_bad),
		cmocka_unit_test(test_fmt_open),
		cmocka_unit_test(test_fmt_exec),
		cmocka_unit_test(test_fmt_addr),
		cmocka_unit_test(test_fmt_flags),
		cmocka_unit_test(test_btf_found),
		cmocka_unit_test(test_btf_several),
		cmocka_unit_test(test_btf_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
