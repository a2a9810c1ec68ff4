/*
 * The ids of a function and of a struct in a kernel's BTF blob (the
 * format of /sys/kernel/btf/vmlinux), found by walking its type records
 * once, comparing the names of functions and structs only: what the
 * audit's loader needs of the kernel's BTF, without parsing all of it
 * (auditload.c).  A pure function over memory, for the unit tests too.
 */
#ifndef PODRUNNER_AUDITBTF_H
#define PODRUNNER_AUDITBTF_H

#include <stddef.h>

/*
 * *func_id and *struct_id get the type ids of the FUNC named func and of
 * the first STRUCT named strct, or -1.  Returns 0 when both are found,
 * -1 otherwise, also for a blob that is not BTF, is cut short or holds
 * a kind this walk cannot size (it stops there).  Nothing outside
 * blob[0, len) is read.
 */
int	audit_btf_ids(const void *blob, size_t len, const char *func,
	    const char *strct, int *func_id, int *struct_id);

#endif
