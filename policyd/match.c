/*
 * Compiled matchers: one per permission kind and layer (policy.h).
 *
 * A matcher answers "which rule of this layer names this target, and
 * which is the strongest of them" (deny > warn > allow) without a scan
 * of the rules.  Everything is indexed by one open-addressing hash
 * table of keys (byte strings in a namespace), on top of which each
 * kind builds what it needs:
 *
 *  read, write, ffi  A tree of path components: the key of an edge is
 *		      (parent node, component).  A rule sits on the node of
 *		      its path and matches that path and everything below
 *		      it, on component boundaries (/a/b names /a/b/c, not
 *		      /a/bc).  At compile time every node gets the
 *		      strongest rule on the way from the root, so a match
 *		      is one walk down the target's components.
 *  net		      Host names: a tree of labels, read from the right
 *		      (com, example, www).  A node holds the rules for the
 *		      name itself and the rules "*.name", each with a port
 *		      or none (every port).  "*.example.com" matches every
 *		      name below example.com at any depth but not
 *		      example.com itself: Deno's semantics, where the apex
 *		      must be named on its own.  Addresses: every address
 *		      is an IPv6 one (IPv4 a.b.c.d is ::ffff:a.b.c.d, so
 *		      that a v4-mapped target matches the IPv4 rules), and
 *		      the rules are keyed by (prefix length, masked
 *		      address); a match probes the prefix lengths present,
 *		      at most 129.  A consequence: an IPv6 rule that covers
 *		      ::ffff:0:0/96 (::/0, say) covers IPv4 too.  A host
 *		      name target is matched against name rules only, an
 *		      address against address rules only; resolving names
 *		      is the proxy's job, and it must ask again with the
 *		      address it connects to.  Names are compared without
 *		      regard to case, one trailing dot ignored; a target
 *		      port that is not a number is no port (only the rules
 *		      without a port match it).
 *  env		      Exact names in the table; "PREFIX*" patterns in a
 *		      sorted array where each pattern knows the longest
 *		      other pattern that is its prefix: one binary search,
 *		      then a walk up that chain.
 *  run		      Exact names and exact absolute paths in the table;
 *		      a name also matches a path whose last component it
 *		      is.
 *  sys		      Exact names.
 *
 * A rule without a value (or the value "*") names the whole kind.
 * Between rules of equal strength the more specific one is reported
 * (it says more in a decision), then the one added first.
 *
 * Rules are referenced, not copied: they must outlive the matcher
 * (policy_compile() gives it the policy's own rules).  Targets may be
 * any string: nothing here recurses, and nothing reads past a NUL.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "perm.h"
#include "policy.h"
#include "util.h"

#define NONE		UINT32_MAX
#define HOST_MAX	255		/* longest host name, plus slack */

/* Namespaces of keys that are not edges of a tree (node ids < 2^31). */
#define NS_NAME		0x80000000U	/* env, run, sys: names */
#define NS_PATH		0x80000001U	/* run: exact paths */
#define NS_ADDR		0x90000000U	/* net: | prefix length */

struct best {
	const struct prule	*rule;
	int			 spec;	/* specificity, for ties */
};

struct htab_key {
	uint32_t	 hash;
	uint32_t	 ns;
	uint32_t	 off;		/* in the pool */
	uint32_t	 len;
	uint32_t	 val;
};

struct htab {
	struct htab_key	*keys;
	size_t		 nkeys, keyscap;
	uint32_t	*slots;		/* key index + 1; 0: empty */
	size_t		 nslots;	/* a power of two */
	char		*pool;
	size_t		 poollen, poolcap;
};

/* read, write, ffi: one node per path component. */
struct pnode {
	uint32_t	 parent;	/* the root is its own parent */
	uint32_t	 depth;
	struct best	 own;		/* the path's strongest rule */
	struct best	 acc;		/* strongest from the root */
};

/* net: a rule with a port, or 0 for every port. */
struct portrule {
	uint32_t		 port;
	const struct prule	*rule;
};

struct portrules {
	struct portrule	*v;
	size_t		 n;
};

struct hnode {
	struct portrules exact;		/* the name */
	struct portrules wild;		/* "*.name" */
};

/* env: "PREFIX*" patterns, sorted. */
struct envpat {
	const char	*prefix;	/* in the rule's value, no NUL */
	size_t		 len;
	uint32_t	 seq;		/* order added */
	uint32_t	 parent;	/* longest pattern that is a prefix */
	struct best	 own, acc;
};

struct matcher {
	unsigned int	 kind;
	int		 compiled;
	struct best	 all;		/* rules for the whole kind */
	struct htab	 ht;
	/* read, write, ffi */
	struct pnode	*pn;
	size_t		 npn, pncap;
	/* net */
	struct hnode	*hn;
	size_t		 nhn, hncap;
	struct portrules *addr;
	size_t		 naddr, addrcap;
	uint8_t		 haslen[129];
	uint8_t		 lens[129];	/* prefix lengths present */
	size_t		 nlens;
	/* env, run, sys: exact keys */
	struct best	*vals;
	size_t		 nvals, valscap;
	/* env */
	struct envpat	*pat;
	size_t		 npat, patcap;
};

static int	 strength(const struct prule *);
static void	 consider(struct best *, const struct prule *, int);
static uint32_t	 hash_key(uint32_t, const void *, size_t);
static uint32_t	 htab_find(const struct htab *, uint32_t, const void *,
		    size_t);
static void	 htab_grow(struct htab *);
static void	 htab_insert(struct htab *, uint32_t, const void *, size_t,
		    uint32_t);
static void	 htab_free(struct htab *);
static uint32_t	 pnode_new(struct matcher *, uint32_t);
static int	 path_add(struct matcher *, const struct prule *);
static void	 path_match(const struct matcher *, const char *,
		    struct best *);
static int	 parse_port(const char *);
static int	 parse_addr(const char *, size_t, int, uint8_t *);
static int	 parse_bits(const char *, int);
static void	 mask_addr(const uint8_t *, unsigned int, uint8_t *);
static void	 portrules_add(struct portrules *, uint32_t,
		    const struct prule *);
static void	 portrules_match(const struct portrules *, uint32_t, int,
		    struct best *);
static uint32_t	 hnode_new(struct matcher *);
static int	 net_add_addr(struct matcher *, const char *, size_t, int,
		    const char *, size_t, uint32_t, const struct prule *);
static int	 net_add_name(struct matcher *, const char *, size_t,
		    uint32_t, const struct prule *);
static int	 net_add(struct matcher *, const struct prule *);
static void	 net_match_name(const struct matcher *, const char *, size_t,
		    uint32_t, struct best *);
static void	 net_match_addr(const struct matcher *, const uint8_t *,
		    uint32_t, struct best *);
static void	 net_match(const struct matcher *, const char *,
		    struct best *);
static void	 val_add(struct matcher *, uint32_t, const char *, size_t,
		    const struct prule *, int);
static int	 env_add(struct matcher *, const struct prule *);
static int	 envpat_cmp(const void *, const void *);
static int	 prefix_cmp(const char *, size_t, const char *, size_t);
static void	 env_compile(struct matcher *);
static void	 env_match(const struct matcher *, const char *,
		    struct best *);
static int	 run_add(struct matcher *, const struct prule *);
static int	 path_is_normal(const char *);
static void	 run_match(const struct matcher *, const char *,
		    struct best *);
static void	 sys_match(const struct matcher *, const char *,
		    struct best *);

/* deny > warn > allow; an unknown action is refused by matcher_add. */
static int
strength(const struct prule *r)
{
	switch (r->action) {
	case PERM_DENY:
		return 3;
	case PERM_WARN:
		return 2;
	default:
		return 1;
	}
}

/*
 * Keep the stronger rule; between equals the more specific, then the
 * one met first.
 */
static void
consider(struct best *b, const struct prule *r, int spec)
{
	int	d;

	if (r == NULL)
		return;
	if (b->rule != NULL) {
		d = strength(r) - strength(b->rule);
		if (d < 0 || (d == 0 && spec <= b->spec))
			return;
	}
	b->rule = r;
	b->spec = spec;
}

/*
 * Eight bytes at a time, multiply and fold (the table is within one
 * process: byte order does not matter), then a final mix.
 */
static uint32_t
hash_key(uint32_t ns, const void *key, size_t len)
{
	const uint8_t	*k = key;
	uint64_t	 h, w;

	h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)ns << 32) ^ len;
	for (; len >= 8; k += 8, len -= 8) {
		memcpy(&w, k, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	if (len > 0) {
		for (w = 0; len > 0; len--)
			w = w << 8 | *k++;
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 32;
	return (uint32_t)h;
}

static uint32_t
htab_find(const struct htab *ht, uint32_t ns, const void *key, size_t len)
{
	const struct htab_key	*k;
	uint32_t		 h, s;
	size_t			 i, mask;

	if (ht->nslots == 0)
		return NONE;
	h = hash_key(ns, key, len);
	mask = ht->nslots - 1;
	for (i = h & mask; (s = ht->slots[i]) != 0; i = (i + 1) & mask) {
		k = &ht->keys[s - 1];
		if (k->hash == h && k->ns == ns && k->len == len &&
		    memcmp(ht->pool + k->off, key, len) == 0)
			return k->val;
	}
	return NONE;
}

/* Keep the table at most half full. */
static void
htab_grow(struct htab *ht)
{
	size_t	 i, j, mask, n;

	n = ht->nslots == 0 ? 64 : ht->nslots * 2;
	free(ht->slots);
	ht->slots = xcalloc(n, sizeof(*ht->slots));
	ht->nslots = n;
	mask = n - 1;
	for (i = 0; i < ht->nkeys; i++) {
		for (j = ht->keys[i].hash & mask; ht->slots[j] != 0;
		    j = (j + 1) & mask)
			;
		ht->slots[j] = (uint32_t)i + 1;
	}
}

/* The key must not be in the table yet. */
static void
htab_insert(struct htab *ht, uint32_t ns, const void *key, size_t len,
    uint32_t val)
{
	struct htab_key	*k;
	size_t		 j, mask;

	if (len > UINT32_MAX / 2 || ht->poollen > UINT32_MAX / 2 ||
	    ht->nkeys >= UINT32_MAX / 4)
		fatalx("%s: too many or too long keys", __func__);
	if ((ht->nkeys + 1) * 2 > ht->nslots)
		htab_grow(ht);
	if (ht->nkeys == ht->keyscap) {
		ht->keyscap = ht->keyscap == 0 ? 32 : ht->keyscap * 2;
		ht->keys = xreallocarray(ht->keys, ht->keyscap,
		    sizeof(*ht->keys));
	}
	while (ht->poollen + len > ht->poolcap) {
		ht->poolcap = ht->poolcap == 0 ? 1024 : ht->poolcap * 2;
		ht->pool = xreallocarray(ht->pool, ht->poolcap, 1);
	}
	if (len > 0)
		memcpy(ht->pool + ht->poollen, key, len);
	k = &ht->keys[ht->nkeys];
	k->hash = hash_key(ns, key, len);
	k->ns = ns;
	k->off = (uint32_t)ht->poollen;
	k->len = (uint32_t)len;
	k->val = val;
	ht->poollen += len;
	mask = ht->nslots - 1;
	for (j = k->hash & mask; ht->slots[j] != 0; j = (j + 1) & mask)
		;
	ht->slots[j] = (uint32_t)ht->nkeys + 1;
	ht->nkeys++;
}

static void
htab_free(struct htab *ht)
{
	free(ht->keys);
	free(ht->slots);
	free(ht->pool);
	memset(ht, 0, sizeof(*ht));
}

struct matcher *
matcher_new(unsigned int kind)
{
	struct matcher	*m;

	if (kind >= PERM_MAX)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	m->kind = kind;
	switch (kind) {
	case PERM_READ:
	case PERM_WRITE:
	case PERM_FFI:
		(void)pnode_new(m, 0);		/* the root, "/" */
		break;
	case PERM_NET:
		(void)hnode_new(m);		/* the root of names */
		break;
	}
	return m;
}

/* --- paths ---------------------------------------------------------- */

static uint32_t
pnode_new(struct matcher *m, uint32_t parent)
{
	struct pnode	*n;

	if (m->npn == m->pncap) {
		m->pncap = m->pncap == 0 ? 64 : m->pncap * 2;
		m->pn = xreallocarray(m->pn, m->pncap, sizeof(*m->pn));
	}
	n = &m->pn[m->npn];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	n->depth = m->npn == 0 ? 0 : m->pn[parent].depth + 1;
	return (uint32_t)m->npn++;
}

/* A rule's path is absolute and normalised: no "." or ".." in it. */
static int
path_add(struct matcher *m, const struct prule *r)
{
	const char	*p = r->value, *c;
	uint32_t	 n = 0, child;
	size_t		 len;

	if (p[0] != '/')
		return -1;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		c = p;
		p += strcspn(p, "/");
		len = (size_t)(p - c);
		if ((len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return -1;
		if ((child = htab_find(&m->ht, n, c, len)) == NONE) {
			child = pnode_new(m, n);
			htab_insert(&m->ht, n, c, len, child);
		}
		n = child;
	}
	consider(&m->pn[n].own, r, (int)m->pn[n].depth);
	return 0;
}

/*
 * Walk the target's components down the tree.  Targets should arrive
 * normalised; a "." or ".." that slipped through is applied lexically
 * (a ".." below the deepest node reached only undoes a component that
 * was not in the tree), so that no spelling of a path escapes a rule.
 * A relative target names no path.
 */
static void
path_match(const struct matcher *m, const char *t, struct best *b)
{
	const char	*p = t, *c;
	uint32_t	 n = 0, child;
	size_t		 len, off = 0;

	if (t[0] != '/')
		return;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		c = p;
		p += strcspn(p, "/");
		len = (size_t)(p - c);
		if (len == 1 && c[0] == '.')
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			if (off > 0)
				off--;
			else
				n = m->pn[n].parent;
			continue;
		}
		if (off > 0 || (child = htab_find(&m->ht, n, c, len)) == NONE)
			off++;
		else
			n = child;
	}
	consider(b, m->pn[n].acc.rule, m->pn[n].acc.spec);
}

/* --- net ------------------------------------------------------------ */

/* "1".."65535", digits only (leading zeros too); -1 otherwise. */
static int
parse_port(const char *s)
{
	long	v = 0;
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v <= 65535)
			v = v * 10 + (s[i] - '0');
	}
	if (i == 0 || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

/* "0".."max", digits only; -1 otherwise. */
static int
parse_bits(const char *s, int max)
{
	int	v = 0;
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v <= max)
			v = v * 10 + (s[i] - '0');
	}
	if (i == 0 || v > max)
		return -1;
	return v;
}

/*
 * An address of family af, len bytes at s, as 16 bytes (IPv4 mapped
 * into ::ffff:0:0/96).
 */
static int
parse_addr(const char *s, size_t len, int af, uint8_t *out)
{
	char	buf[INET6_ADDRSTRLEN + 1];

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (af == AF_INET6)
		return inet_pton(AF_INET6, buf, out) == 1 ? 0 : -1;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	return inet_pton(AF_INET, buf, out + 12) == 1 ? 0 : -1;
}

static void
mask_addr(const uint8_t *in, unsigned int bits, uint8_t *out)
{
	size_t	i;

	for (i = 0; i < 16; i++) {
		if (bits >= 8) {
			out[i] = in[i];
			bits -= 8;
		} else {
			out[i] = in[i] & (uint8_t)(0xff00U >> bits);
			bits = 0;
		}
	}
}

/* One entry per port; between rules for the same port, the stronger. */
static void
portrules_add(struct portrules *pr, uint32_t port, const struct prule *r)
{
	struct best	 b;
	size_t		 i;

	for (i = 0; i < pr->n; i++)
		if (pr->v[i].port == port) {
			b.rule = pr->v[i].rule;
			b.spec = 0;
			consider(&b, r, 0);
			pr->v[i].rule = b.rule;
			return;
		}
	pr->v = xreallocarray(pr->v, pr->n + 1, sizeof(*pr->v));
	pr->v[pr->n].port = port;
	pr->v[pr->n].rule = r;
	pr->n++;
}

/* A rule with a port is more specific than one for every port. */
static void
portrules_match(const struct portrules *pr, uint32_t port, int spec,
    struct best *b)
{
	size_t	i;

	for (i = 0; i < pr->n; i++)
		if (pr->v[i].port == 0 || pr->v[i].port == port)
			consider(b, pr->v[i].rule,
			    spec * 2 + (pr->v[i].port != 0));
}

static uint32_t
hnode_new(struct matcher *m)
{
	if (m->nhn == m->hncap) {
		m->hncap = m->hncap == 0 ? 64 : m->hncap * 2;
		m->hn = xreallocarray(m->hn, m->hncap, sizeof(*m->hn));
	}
	memset(&m->hn[m->nhn], 0, sizeof(m->hn[m->nhn]));
	return (uint32_t)m->nhn++;
}

/*
 * An address rule: alen bytes at a, family af; blen bytes of prefix
 * length at bits (NULL: a host).
 */
static int
net_add_addr(struct matcher *m, const char *a, size_t alen, int af,
    const char *bits, size_t blen, uint32_t port, const struct prule *r)
{
	char		 b[8];
	uint8_t		 addr[16], key[16];
	uint32_t	 idx;
	int		 n, max = af == AF_INET ? 32 : 128;

	if (parse_addr(a, alen, af, addr) == -1)
		return -1;
	n = max;
	if (bits != NULL) {
		if (blen >= sizeof(b))
			return -1;
		memcpy(b, bits, blen);
		b[blen] = '\0';
		if ((n = parse_bits(b, max)) == -1)
			return -1;
	}
	if (af == AF_INET)
		n += 96;
	mask_addr(addr, (unsigned int)n, key);
	if ((idx = htab_find(&m->ht, NS_ADDR | (uint32_t)n, key,
	    sizeof(key))) == NONE) {
		if (m->naddr == m->addrcap) {
			m->addrcap = m->addrcap == 0 ? 16 : m->addrcap * 2;
			m->addr = xreallocarray(m->addr, m->addrcap,
			    sizeof(*m->addr));
		}
		idx = (uint32_t)m->naddr++;
		memset(&m->addr[idx], 0, sizeof(m->addr[idx]));
		htab_insert(&m->ht, NS_ADDR | (uint32_t)n, key, sizeof(key),
		    idx);
	}
	m->haslen[n] = 1;
	portrules_add(&m->addr[idx], port, r);
	return 0;
}

/* A name rule, "name" or "*.name", len bytes at h. */
static int
net_add_name(struct matcher *m, const char *h, size_t len, uint32_t port,
    const struct prule *r)
{
	char		 buf[HOST_MAX + 1];
	size_t		 i, start, end;
	uint32_t	 n = 0, child;
	int		 wild = 0;

	if (len >= 2 && h[0] == '*' && h[1] == '.') {
		wild = 1;
		h += 2;
		len -= 2;
	}
	if (len == 0 || len > HOST_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		buf[i] = h[i] >= 'A' && h[i] <= 'Z' ? h[i] - 'A' + 'a' : h[i];
		if (buf[i] == '*' || buf[i] == ':' || buf[i] == '/' ||
		    buf[i] == '[' || buf[i] == ']')
			return -1;
	}
	for (end = len;;) {
		for (start = end; start > 0 && buf[start - 1] != '.'; start--)
			;
		if (start == end)
			return -1;		/* an empty label */
		if ((child = htab_find(&m->ht, n, buf + start,
		    end - start)) == NONE) {
			child = hnode_new(m);
			htab_insert(&m->ht, n, buf + start, end - start, child);
		}
		n = child;
		if (start == 0)
			break;
		end = start - 1;
	}
	portrules_add(wild ? &m->hn[n].wild : &m->hn[n].exact, port, r);
	return 0;
}

/*
 * Rule values (common/perm.c): host[:port], *.domain[:port],
 * a.b.c.d[/n][:port], [v6][:port], [v6/n][:port], v6, v6/n.
 */
static int
net_add(struct matcher *m, const struct prule *r)
{
	const char	*v = r->value, *colon, *slash, *end;
	int		 af, port = 0;

	colon = strchr(v, ':');
	if (v[0] == '[') {
		if ((end = strchr(v, ']')) == NULL)
			return -1;
		if (end[1] == ':') {
			if ((port = parse_port(end + 2)) == -1)
				return -1;
		} else if (end[1] != '\0')
			return -1;
		v++;
		af = AF_INET6;
	} else if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		/* A bare IPv6 address or prefix, no port. */
		end = v + strlen(v);
		af = AF_INET6;
	} else {
		end = colon != NULL ? colon : v + strlen(v);
		if (colon != NULL && (port = parse_port(colon + 1)) == -1)
			return -1;
		/* Dotted digits are an address, anything else a name. */
		if (memchr(v, '/', (size_t)(end - v)) == NULL &&
		    strspn(v, "0123456789.") < (size_t)(end - v))
			return net_add_name(m, v, (size_t)(end - v),
			    (uint32_t)port, r);
		af = AF_INET;
	}
	if ((slash = memchr(v, '/', (size_t)(end - v))) == NULL)
		return net_add_addr(m, v, (size_t)(end - v), af, NULL, 0,
		    (uint32_t)port, r);
	return net_add_addr(m, v, (size_t)(slash - v), af, slash + 1,
	    (size_t)(end - slash - 1), (uint32_t)port, r);
}

/* A host name, lower-cased, against the tree of labels. */
static void
net_match_name(const struct matcher *m, const char *host, size_t hlen,
    uint32_t port, struct best *b)
{
	char		 buf[HOST_MAX + 1];
	uint32_t	 n = 0, child;
	size_t		 i, start, end;
	int		 depth = 0;

	/* One trailing dot: the same name, fully qualified. */
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (hlen == 0 || hlen > HOST_MAX || m->nhn <= 1)
		return;
	for (i = 0; i < hlen; i++)
		buf[i] = host[i] >= 'A' && host[i] <= 'Z' ?
		    host[i] - 'A' + 'a' : host[i];
	for (end = hlen;; end = start - 1) {
		for (start = end; start > 0 && buf[start - 1] != '.'; start--)
			;
		if ((child = htab_find(&m->ht, n, buf + start, end - start)) ==
		    NONE)
			return;
		n = child;
		depth++;
		if (start == 0)
			break;
		/* Labels remain to the left: "*.name" matches. */
		portrules_match(&m->hn[n].wild, port, depth * 2, b);
	}
	portrules_match(&m->hn[n].exact, port, depth * 2 + 1, b);
}

/* An address against every prefix length that has rules. */
static void
net_match_addr(const struct matcher *m, const uint8_t *addr, uint32_t port,
    struct best *b)
{
	uint8_t		 key[16];
	uint32_t	 idx;
	size_t		 i;
	int		 l;

	for (i = 0; i < m->nlens; i++) {
		l = m->lens[i];
		mask_addr(addr, (unsigned int)l, key);
		if ((idx = htab_find(&m->ht, NS_ADDR | (uint32_t)l, key,
		    sizeof(key))) != NONE)
			portrules_match(&m->addr[idx], port, l, b);
	}
}

/*
 * Targets: "host:port", "a.b.c.d:port", "[v6]:port", or any of them
 * without the port (then only the rules without a port match); a bare
 * IPv6 address has no port.  A port that is not one is no port.
 */
static void
net_match(const struct matcher *m, const char *t, struct best *b)
{
	const char	*close, *colon;
	uint8_t		 addr[16];
	size_t		 hlen;
	int		 port = 0;

	colon = strchr(t, ':');
	if (t[0] == '[') {
		if (m->nlens == 0 || (close = strchr(t, ']')) == NULL ||
		    parse_addr(t + 1, (size_t)(close - t - 1), AF_INET6,
		    addr) == -1)
			return;
		if (close[1] == ':' && (port = parse_port(close + 2)) == -1)
			port = 0;
	} else if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		if (m->nlens == 0 ||
		    parse_addr(t, strlen(t), AF_INET6, addr) == -1)
			return;
	} else {
		hlen = colon != NULL ? (size_t)(colon - t) : strlen(t);
		if (colon != NULL && (port = parse_port(colon + 1)) == -1)
			port = 0;
		/* Dotted digits are an address, if they parse as one. */
		if (hlen == 0 || strspn(t, "0123456789.") < hlen ||
		    parse_addr(t, hlen, AF_INET, addr) == -1) {
			net_match_name(m, t, hlen, (uint32_t)port, b);
			return;
		}
		if (m->nlens == 0)
			return;
	}
	net_match_addr(m, addr, (uint32_t)port, b);
}

/* --- env, run, sys -------------------------------------------------- */

/* A rule for an exact key; the stronger one if the key has one. */
static void
val_add(struct matcher *m, uint32_t ns, const char *key, size_t len,
    const struct prule *r, int spec)
{
	uint32_t	idx;

	if ((idx = htab_find(&m->ht, ns, key, len)) == NONE) {
		if (m->nvals == m->valscap) {
			m->valscap = m->valscap == 0 ? 16 : m->valscap * 2;
			m->vals = xreallocarray(m->vals, m->valscap,
			    sizeof(*m->vals));
		}
		idx = (uint32_t)m->nvals++;
		memset(&m->vals[idx], 0, sizeof(m->vals[idx]));
		htab_insert(&m->ht, ns, key, len, idx);
	}
	consider(&m->vals[idx], r, spec);
}

static int
env_add(struct matcher *m, const struct prule *r)
{
	struct envpat	*p;
	size_t		 len = strlen(r->value);

	if (r->value[len - 1] != '*') {
		if (strchr(r->value, '*') != NULL)
			return -1;
		val_add(m, NS_NAME, r->value, len, r, 0);
		return 0;
	}
	if (memchr(r->value, '*', len - 1) != NULL)
		return -1;
	if (m->npat == m->patcap) {
		m->patcap = m->patcap == 0 ? 16 : m->patcap * 2;
		m->pat = xreallocarray(m->pat, m->patcap, sizeof(*m->pat));
	}
	p = &m->pat[m->npat];
	memset(p, 0, sizeof(*p));
	p->prefix = r->value;
	p->len = len - 1;
	p->seq = (uint32_t)m->npat++;
	p->parent = NONE;
	p->own.rule = r;
	p->own.spec = (int)p->len;
	return 0;
}

/* Byte order, a prefix before what extends it. */
static int
prefix_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	c;

	if ((c = memcmp(a, b, alen < blen ? alen : blen)) != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
envpat_cmp(const void *a, const void *b)
{
	const struct envpat	*x = a, *y = b;
	int			 c;

	if ((c = prefix_cmp(x->prefix, x->len, y->prefix, y->len)) != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Sort the patterns, merge the equal ones, and give each the longest
 * other pattern that is its prefix.  In sorted order the prefixes of a
 * pattern come before it and stay on the stack until it is reached.
 */
static void
env_compile(struct matcher *m)
{
	uint32_t	*stack;
	size_t		 i, j, sp = 0;

	if (m->npat == 0)
		return;
	qsort(m->pat, m->npat, sizeof(*m->pat), envpat_cmp);
	for (i = 1, j = 0; i < m->npat; i++) {
		if (m->pat[i].len == m->pat[j].len &&
		    memcmp(m->pat[i].prefix, m->pat[j].prefix,
		    m->pat[j].len) == 0)
			consider(&m->pat[j].own, m->pat[i].own.rule,
			    m->pat[i].own.spec);
		else
			m->pat[++j] = m->pat[i];
	}
	m->npat = j + 1;
	stack = xreallocarray(NULL, m->npat, sizeof(*stack));
	for (i = 0; i < m->npat; i++) {
		while (sp > 0 && (m->pat[stack[sp - 1]].len > m->pat[i].len ||
		    memcmp(m->pat[stack[sp - 1]].prefix, m->pat[i].prefix,
		    m->pat[stack[sp - 1]].len) != 0))
			sp--;
		m->pat[i].parent = sp > 0 ? stack[sp - 1] : NONE;
		m->pat[i].acc = sp > 0 ? m->pat[stack[sp - 1]].acc :
		    (struct best){ NULL, 0 };
		consider(&m->pat[i].acc, m->pat[i].own.rule,
		    m->pat[i].own.spec);
		stack[sp++] = (uint32_t)i;
	}
	free(stack);
}

/*
 * The patterns that are prefixes of the target are prefixes of the
 * greatest pattern p <= target, no longer than their common prefix:
 * p's chain of parents from the first that short.
 */
static void
env_match(const struct matcher *m, const char *t, struct best *b)
{
	const struct envpat	*p;
	size_t			 tlen = strlen(t), lo, hi, mid, lcp;
	uint32_t		 i, idx;

	if ((idx = htab_find(&m->ht, NS_NAME, t, tlen)) != NONE)
		consider(b, m->vals[idx].rule, INT_MAX);
	if (m->npat == 0)
		return;
	/* The first pattern > t, in [lo, hi). */
	for (lo = 0, hi = m->npat; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (prefix_cmp(m->pat[mid].prefix, m->pat[mid].len, t,
		    tlen) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return;
	i = (uint32_t)lo - 1;
	p = &m->pat[i];
	for (lcp = 0; lcp < p->len && lcp < tlen && p->prefix[lcp] == t[lcp];
	    lcp++)
		;
	while (i != NONE && m->pat[i].len > lcp)
		i = m->pat[i].parent;
	if (i != NONE)
		consider(b, m->pat[i].acc.rule, m->pat[i].acc.spec);
}

/* A command name, or an absolute path. */
static int
run_add(struct matcher *m, const struct prule *r)
{
	const char	*v = r->value;

	if (strchr(v, '/') == NULL) {
		val_add(m, NS_NAME, v, strlen(v), r, 1);
		return 0;
	}
	if (v[0] != '/')
		return -1;
	val_add(m, NS_PATH, v, strlen(v), r, 2);
	return 0;
}

/* No "//", "/./", "/../", nor a trailing "/", "/." or "/..". */
static int
path_is_normal(const char *p)
{
	const char	*s;

	for (s = p; (s = strchr(s, '/')) != NULL; s++) {
		if (s[1] == '\0')
			return s == p;
		if (s[1] == '/' || (s[1] == '.' && (s[2] == '/' ||
		    s[2] == '\0' || (s[2] == '.' && (s[3] == '/' ||
		    s[3] == '\0')))))
			return 0;
	}
	return 1;
}

/*
 * A path target matches the path rules (after lexical normalisation)
 * and the name rules for its last component; a name, the name rules.
 */
static void
run_match(const struct matcher *m, const char *t, struct best *b)
{
	char		 buf[PATH_MAX];
	const char	*base;
	uint32_t	 idx;

	if (t[0] == '/') {
		/* Longer than PATH_MAX: no normalising (it would cut). */
		if (!path_is_normal(t) && strlen(t) < sizeof(buf) &&
		    path_normalise("/", t, buf, sizeof(buf)) == 0)
			t = buf;
		if ((idx = htab_find(&m->ht, NS_PATH, t, strlen(t))) != NONE)
			consider(b, m->vals[idx].rule, 2);
	}
	base = strrchr(t, '/');
	base = base != NULL ? base + 1 : t;
	if ((idx = htab_find(&m->ht, NS_NAME, base, strlen(base))) != NONE)
		consider(b, m->vals[idx].rule, 1);
}

static void
sys_match(const struct matcher *m, const char *t, struct best *b)
{
	uint32_t	idx;

	if ((idx = htab_find(&m->ht, NS_NAME, t, strlen(t))) != NONE)
		consider(b, m->vals[idx].rule, 0);
}

/* --- the interface -------------------------------------------------- */

int
matcher_add(struct matcher *m, const struct prule *r)
{
	if (m == NULL || r == NULL || m->compiled || r->kind != m->kind ||
	    r->action > PERM_WARN)
		return -1;
	if (r->value == NULL || strcmp(r->value, "*") == 0) {
		consider(&m->all, r, -1);
		return 0;
	}
	if (r->value[0] == '\0')
		return -1;
	switch (m->kind) {
	case PERM_READ:
	case PERM_WRITE:
	case PERM_FFI:
		return path_add(m, r);
	case PERM_NET:
		return net_add(m, r);
	case PERM_ENV:
		return env_add(m, r);
	case PERM_RUN:
		return run_add(m, r);
	case PERM_SYS:
		val_add(m, NS_NAME, r->value, strlen(r->value), r, 0);
		return 0;
	}
	return -1;
}

int
matcher_compile(struct matcher *m)
{
	size_t	i;
	int	l;

	if (m == NULL)
		return -1;
	if (m->compiled)
		return 0;
	switch (m->kind) {
	case PERM_READ:
	case PERM_WRITE:
	case PERM_FFI:
		/* Parents are made before their children. */
		m->pn[0].acc = m->pn[0].own;
		for (i = 1; i < m->npn; i++) {
			m->pn[i].acc = m->pn[m->pn[i].parent].acc;
			consider(&m->pn[i].acc, m->pn[i].own.rule,
			    m->pn[i].own.spec);
		}
		break;
	case PERM_NET:
		m->nlens = 0;
		for (l = 128; l >= 0; l--)
			if (m->haslen[l])
				m->lens[m->nlens++] = (uint8_t)l;
		break;
	case PERM_ENV:
		env_compile(m);
		break;
	}
	m->compiled = 1;
	return 0;
}

const struct prule *
matcher_match(const struct matcher *m, const char *target)
{
	struct best	b;

	if (m == NULL || target == NULL)
		return NULL;
	if (!m->compiled)
		fatalx("%s: matcher not compiled", __func__);
	b = m->all;
	switch (m->kind) {
	case PERM_READ:
	case PERM_WRITE:
	case PERM_FFI:
		path_match(m, target, &b);
		break;
	case PERM_NET:
		net_match(m, target, &b);
		break;
	case PERM_ENV:
		env_match(m, target, &b);
		break;
	case PERM_RUN:
		run_match(m, target, &b);
		break;
	case PERM_SYS:
		sys_match(m, target, &b);
		break;
	}
	return b.rule;
}

void
matcher_free(struct matcher *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nhn; i++) {
		free(m->hn[i].exact.v);
		free(m->hn[i].wild.v);
	}
	for (i = 0; i < m->naddr; i++)
		free(m->addr[i].v);
	htab_free(&m->ht);
	free(m->pn);
	free(m->hn);
	free(m->addr);
	free(m->vals);
	free(m->pat);
	free(m);
}
