/*
 * A walk of a kernel BTF blob's type records (see auditbtf.h).
 */
#include <linux/btf.h>
#include <stdint.h>
#include <string.h>

#include "auditbtf.h"

/*
 * The bytes after a type record: fixed1[kind] - 1 + vlen *
 * per_vlen[kind]; a kind whose fixed1 is 0 is not known.  A table, not a
 * switch: the kinds follow each other in no pattern a branch predictor
 * learns, and this runs for each of a kernel's hundred thousand types
 * (0.4 ms with the switch here, 0.3 with the table).
 */
#define KIND_MAX	31		/* BTF_INFO_KIND() is 5 bits */

static const uint8_t	fixed1[KIND_MAX + 1] = {
	[BTF_KIND_INT] = 1 + sizeof(uint32_t),
	[BTF_KIND_VAR] = 1 + sizeof(uint32_t),
	[BTF_KIND_DECL_TAG] = 1 + sizeof(uint32_t),
	[BTF_KIND_ARRAY] = 1 + sizeof(struct btf_array),
	[BTF_KIND_STRUCT] = 1,
	[BTF_KIND_UNION] = 1,
	[BTF_KIND_ENUM] = 1,
	[BTF_KIND_FUNC_PROTO] = 1,
	[BTF_KIND_DATASEC] = 1,
	[BTF_KIND_ENUM64] = 1,
	[BTF_KIND_PTR] = 1,
	[BTF_KIND_FWD] = 1,
	[BTF_KIND_TYPEDEF] = 1,
	[BTF_KIND_VOLATILE] = 1,
	[BTF_KIND_CONST] = 1,
	[BTF_KIND_RESTRICT] = 1,
	[BTF_KIND_FUNC] = 1,
	[BTF_KIND_FLOAT] = 1,
	[BTF_KIND_TYPE_TAG] = 1,
};
static const uint8_t	per_vlen[KIND_MAX + 1] = {
	[BTF_KIND_STRUCT] = sizeof(struct btf_member),
	[BTF_KIND_UNION] = sizeof(struct btf_member),
	[BTF_KIND_ENUM] = sizeof(struct btf_enum),
	[BTF_KIND_FUNC_PROTO] = sizeof(struct btf_param),
	[BTF_KIND_DATASEC] = sizeof(struct btf_var_secinfo),
	[BTF_KIND_ENUM64] = 3 * sizeof(uint32_t),	/* struct btf_enum64 */
};

static int
btf_extra(const struct btf_type *t, size_t *extra)
{
	unsigned int	kind = BTF_INFO_KIND(t->info) & KIND_MAX;

	if (fixed1[kind] == 0)
		return -1;
	*extra = fixed1[kind] - 1U + (size_t)BTF_INFO_VLEN(t->info) *
	    per_vlen[kind];
	return 0;
}

/*
 * Is the string at off of the string section name, NUL included (n
 * bytes)?  Its first byte first: most names differ there, and this runs
 * for every function of a kernel's tens of thousands.
 */
static int
name_is(const char *strs, uint32_t str_len, uint32_t off, const char *name,
    size_t n)
{
	return off < str_len && str_len - off >= n && strs[off] == name[0] &&
	    memcmp(strs + off, name, n) == 0;
}

int
audit_btf_ids(const void *blob, size_t len, struct audit_btf_want *want,
    size_t n)
{
	struct btf_header	 h;
	struct btf_type		 t;
	const unsigned char	*base = blob, *p, *end;
	const char		*strs;
	size_t			 extra, i, left = n, nlen[AUDIT_BTF_WANT_MAX];
	uint32_t		 id;
	int			 kind;

	if (n > AUDIT_BTF_WANT_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		want[i].id = -1;
		nlen[i] = strlen(want[i].name) + 1;
	}
	if (len < sizeof(h))
		return -1;
	memcpy(&h, base, sizeof(h));
	if (h.magic != BTF_MAGIC || h.hdr_len < sizeof(h) || h.hdr_len > len ||
	    h.type_off > len - h.hdr_len ||
	    h.type_len > len - h.hdr_len - h.type_off ||
	    h.str_off > len - h.hdr_len ||
	    h.str_len > len - h.hdr_len - h.str_off)
		return -1;
	p = base + h.hdr_len + h.type_off;
	end = p + h.type_len;
	strs = (const char *)base + h.hdr_len + h.str_off;
	/* Type ids start at 1 (0 is void). */
	for (id = 1; (size_t)(end - p) >= sizeof(t) && left > 0; id++) {
		/* Records are 4-aligned; the blob need not be. */
		memcpy(&t, p, sizeof(t));
		if (btf_extra(&t, &extra) == -1)
			break;
		kind = BTF_INFO_KIND(t.info);
		for (i = 0; i < n; i++)
			if (want[i].id == -1 && want[i].kind == kind &&
			    name_is(strs, h.str_len, t.name_off,
			    want[i].name, nlen[i])) {
				want[i].id = (int)id;
				left--;
			}
		if ((size_t)(end - p) - sizeof(t) < extra)
			break;
		p += sizeof(t) + extra;
	}
	return left == 0 ? 0 : -1;
}
