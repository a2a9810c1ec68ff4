/*
 * A walk of a kernel BTF blob's type records (see auditbtf.h).
 */
#include <linux/btf.h>
#include <stdint.h>
#include <string.h>

#include "auditbtf.h"

/* The bytes after a type record, by its kind; -1: a kind not known. */
static int
btf_extra(const struct btf_type *t, size_t *extra)
{
	size_t	vlen = BTF_INFO_VLEN(t->info);

	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
		*extra = sizeof(uint32_t);
		return 0;
	case BTF_KIND_ARRAY:
		*extra = sizeof(struct btf_array);
		return 0;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		*extra = vlen * sizeof(struct btf_member);
		return 0;
	case BTF_KIND_ENUM:
		*extra = vlen * sizeof(struct btf_enum);
		return 0;
	case BTF_KIND_FUNC_PROTO:
		*extra = vlen * sizeof(struct btf_param);
		return 0;
	case BTF_KIND_DATASEC:
		*extra = vlen * sizeof(struct btf_var_secinfo);
		return 0;
	case BTF_KIND_ENUM64:
		*extra = vlen * 3 * sizeof(uint32_t);	/* struct btf_enum64 */
		return 0;
	case BTF_KIND_PTR:
	case BTF_KIND_FWD:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		*extra = 0;
		return 0;
	}
	return -1;
}

/* Is the string at off of the string section name, NUL included? */
static int
name_is(const char *strs, uint32_t str_len, uint32_t off, const char *name)
{
	size_t	n = strlen(name) + 1;

	return off < str_len && str_len - off >= n &&
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
	size_t			 extra, i, left = n;
	uint32_t		 id;
	int			 kind;

	for (i = 0; i < n; i++)
		want[i].id = -1;
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
			    want[i].name)) {
				want[i].id = (int)id;
				left--;
			}
		if ((size_t)(end - p) - sizeof(t) < extra)
			break;
		p += sizeof(t) + extra;
	}
	return left == 0 ? 0 : -1;
}
