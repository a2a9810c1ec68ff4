/*
 * The pod's filesystem as a list of operations (after bubblewrap): the
 * relay builds the plan while privileged, pod init executes it in the
 * pod's new mount namespace, in order, and names the step that failed.
 * The plan can be printed, which makes it easy to test and to explain.
 */
#ifndef PODRUNNER_PODFS_H
#define PODRUNNER_PODFS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum fsop_type {
	FSOP_TMPFS,		/* a tmpfs at dst (size, mode) */
	FSOP_BIND,		/* src bound at dst */
	FSOP_DEV,		/* a host device node bound at dst */
	FSOP_SYMLINK,		/* dst -> src */
	FSOP_MKDIR,		/* an empty directory (a mountpoint) */
	FSOP_MASK		/* hide dst: empty, read-only, no access */
};

#define FSOP_RO		0x01	/* read-only */
#define FSOP_NOEXEC	0x02
#define FSOP_IDMAP	0x04	/* the invoking user's files appear as the
				 * worker's (MOUNT_ATTR_IDMAP) */
#define FSOP_OPTIONAL	0x08	/* skip when src does not exist */

struct fsop {
	int		 type;
	char		*src;
	char		*dst;		/* path inside the pod */
	unsigned int	 flags;
	uint64_t	 size;		/* tmpfs */
	unsigned int	 mode;		/* tmpfs, mkdir */
};

struct fsplan {
	struct fsop	*ops;
	size_t		 n;
};

void	fsplan_add(struct fsplan *, int, const char *, const char *,
	    unsigned int, uint64_t, unsigned int);
void	fsplan_print(const struct fsplan *, FILE *);
void	fsplan_free(struct fsplan *);
/*
 * Execute the plan below root (an empty directory, in a private mount
 * namespace): the first op must be the root tmpfs.  userns_fd: a user
 * namespace mapping the invoking user to the worker, for FSOP_IDMAP
 * (-1: none).  0, or -1 with "step: reason" in err.
 */
int	fsplan_run(const struct fsplan *, const char *, int, char *, size_t);
/* pivot_root to root, detach the old root, mount /proc (in the pod's pid
 * namespace) with /proc/sys read-only, root read-only. */
int	fs_pivot(const char *, char *, size_t);
/* A user namespace whose uid/gid map is "inside 1" -> "outside 1": for
 * idmapped mounts.  Returns its fd, -1 on error.  The child that made it
 * exits on its own: the caller reaps it (waitpid(-1, ...)). */
int	fs_idmap_userns(uid_t, uid_t, gid_t, gid_t);

#endif
