/*
 * The worker's seccomp profile (DESIGN.md, "The pod": seccomp).
 *
 * A deny list over a default of allow: worker runtimes (python3, bun,
 * any binary) need a broad and changing set of system calls, so the
 * profile refuses what no worker needs and sandboxes are escaped or
 * attacked through, each group justified in podseccomp.c.  Refusals
 * return EPERM (ENOSYS for clone3 and for system calls newer than the
 * list), so a runtime sees an ordinary error; a system call made
 * through the i386 or x32 entry kills the process.
 */
#ifndef PODRUNNER_PODSECCOMP_H
#define PODRUNNER_PODSECCOMP_H

#include <stddef.h>

/*
 * Install the profile on the calling thread, as the last step before
 * execve(2) of the worker: execve ends every other thread, so the
 * worker runs entirely under it, and so does everything it starts.
 * no_new_privs must already be set (it is checked, not set here).
 * Returns 0, or -1 with the reason in err.
 */
int			 pod_seccomp_install(char *err, size_t errlen);

/*
 * What the profile refuses, for `podrunner check` and the tests: a
 * system call name ("bpf"), a call with the arguments it is refused
 * with ("ioctl(TIOCSTI)"), or a range or ABI ("i386 and x32 entry").
 * The array is static; *n receives its length.
 */
const char *const	*pod_seccomp_denied_names(size_t *n);

#endif /* PODRUNNER_PODSECCOMP_H */
