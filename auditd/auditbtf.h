/*
 * The ids of functions and structs in a kernel's BTF blob (the
 * format of /sys/kernel/btf/vmlinux), found by walking its type records
 * once, comparing the names of functions and structs only: what the
 * audit's loader needs of the kernel's BTF, without parsing all of it
 * (auditload.c).  A pure function over memory, for the unit tests too.
 */
#ifndef PODRUNNER_AUDITBTF_H
#define PODRUNNER_AUDITBTF_H

#include <stddef.h>

/* A type wanted: its name and kind (BTF_KIND_FUNC, BTF_KIND_STRUCT). */
struct audit_btf_want {
	const char	*name;
	int		 kind;
	int		 id;		/* found: its type id; else -1 */
};

#define AUDIT_BTF_WANT_MAX	8

/*
 * Each want[i].id gets the type id of the first type of that kind and
 * name, or -1.  Returns 0 when all n (at most AUDIT_BTF_WANT_MAX) are
 * found, -1 otherwise, also for a blob that is not BTF, is cut short or holds a kind this walk cannot
 * size (it stops there).  Nothing outside blob[0, len) is read.
 */
int	audit_btf_ids(const void *blob, size_t len,
	    struct audit_btf_want *want, size_t n);

#endif
