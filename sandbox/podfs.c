/*
 * The pod's filesystem plan (see podfs.h).
 */
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "podfs.h"
#include "util.h"

static const char *fsop_names[] = {
	"tmpfs", "bind", "dev", "symlink", "mkdir", "mask"
};

void
fsplan_add(struct fsplan *pl, int type, const char *src, const char *dst,
    unsigned int flags, uint64_t size, unsigned int mode)
{
	struct fsop	*op;

	pl->ops = xreallocarray(pl->ops, pl->n + 1, sizeof(*pl->ops));
	op = &pl->ops[pl->n++];
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->src = src != NULL ? xstrdup(src) : NULL;
	op->dst = xstrdup(dst);
	op->flags = flags;
	op->size = size;
	op->mode = mode;
}

void
fsplan_print(const struct fsplan *pl, FILE *f)
{
	size_t	i;

	for (i = 0; i < pl->n; i++)
		fprintf(f, "%-7s %s%s%s%s%s%s\n", fsop_names[pl->ops[i].type],
		    pl->ops[i].src ? pl->ops[i].src : "",
		    pl->ops[i].src ? " -> " : "", pl->ops[i].dst,
		    pl->ops[i].flags & FSOP_RO ? " ro" : "",
		    pl->ops[i].flags & FSOP_NOEXEC ? " noexec" : "",
		    pl->ops[i].flags & FSOP_IDMAP ? " idmap" : "");
}

void
fsplan_free(struct fsplan *pl)
{
	size_t	i;

	for (i = 0; i < pl->n; i++) {
		free(pl->ops[i].src);
		free(pl->ops[i].dst);
	}
	free(pl->ops);
	memset(pl, 0, sizeof(*pl));
}

/*
 * The tmpfs mounts the plan made: the only places it may create
 * anything.  A bind shows the host's own files; creating or removing a
 * mountpoint there would change the host (a pod with /usr writable once
 * lost the host's /usr/bin/python3 that way).
 */
static dev_t	ours[16];
static size_t	nours;

static int
ours_add(const char *path)
{
	struct stat	sb;

	if (stat(path, &sb) == -1)
		return -1;
	if (nours < sizeof(ours) / sizeof(ours[0]))
		ours[nours++] = sb.st_dev;
	return 0;
}

/* May we create an entry in the directory that holds path? */
static int
in_ours(const char *path)
{
	struct stat	 sb;
	char		 dir[PATH_MAX], *slash;
	size_t		 i;

	(void)snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (stat(dir, &sb) == -1)
		return 0;
	for (i = 0; i < nours; i++)
		if (ours[i] == sb.st_dev)
			return 1;
	return 0;
}

/* Create one entry, only in our own tmpfs; what exists is left alone. */
static int
make_entry(const char *path, int file)
{
	struct stat	sb;
	int		fd;

	if (lstat(path, &sb) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (!in_ours(path)) {
		errno = EROFS;	/* would be created on the host */
		return -1;
	}
	if (!file)
		return mkdir(path, 0755);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0444)) == -1)
		return -1;
	close(fd);
	return 0;
}

/* mkdir -p below root; the last component a file when file is set. */
static int
make_path(const char *root, const char *dst, int file)
{
	char	path[PATH_MAX], *p;

	if (snprintf(path, sizeof(path), "%s%s", root, dst) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (make_entry(path, 0) == -1)
			return -1;
		*p = '/';
	}
	return make_entry(path, file);
}

static int
set_attr(const char *path, unsigned int flags, int userns_fd, int recursive)
{
	struct mount_attr	attr;

	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_NOSUID;
	if (flags & FSOP_RO)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	if (flags & FSOP_NOEXEC)
		attr.attr_set |= MOUNT_ATTR_NOEXEC;
	if (userns_fd != -1) {
		attr.attr_set |= MOUNT_ATTR_IDMAP;
		attr.userns_fd = (uint64_t)userns_fd;
	}
	return mount_setattr(AT_FDCWD, path, recursive ? AT_RECURSIVE : 0,
	    &attr, sizeof(attr));
}

static int
op_bind(const struct fsop *op, const char *path, int userns_fd)
{
	struct mount_attr	attr;
	int			fd;

	if (!(op->flags & FSOP_IDMAP) || userns_fd == -1) {
		if (mount(op->src, path, NULL, MS_BIND | MS_REC, NULL) == -1)
			return -1;
		/* nodev too, except for device nodes. */
		if (set_attr(path, op->flags, -1, 1) == -1)
			return -1;
		if (op->type != FSOP_DEV) {
			memset(&attr, 0, sizeof(attr));
			attr.attr_set = MOUNT_ATTR_NODEV;
			return mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &attr,
			    sizeof(attr));
		}
		return 0;
	}
	/*
	 * Idmapped: a detached copy of the tree, its idmapping set, then
	 * moved into place.  An idmapping applies to one mount, so the
	 * copy is not recursive.
	 */
	if ((fd = open_tree(AT_FDCWD, op->src, OPEN_TREE_CLONE |
	    OPEN_TREE_CLOEXEC)) == -1)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (op->flags & FSOP_RO)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	if (op->flags & FSOP_NOEXEC)
		attr.attr_set |= MOUNT_ATTR_NOEXEC;
	attr.userns_fd = (uint64_t)userns_fd;
	if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) == -1 ||
	    move_mount(fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static const char *
dirname_of(const char *p, char *buf, size_t len)
{
	char	*slash;

	(void)snprintf(buf, len, "%s", p);
	if ((slash = strrchr(buf, '/')) != NULL && slash != buf)
		*slash = '\0';
	return buf;
}

static int
op_run(const struct fsop *op, const char *root, int userns_fd)
{
	struct stat	 sb;
	char		 path[PATH_MAX], opts[64], opts2[PATH_MAX];
	unsigned long	 mflags;
	int		 isfile;

	(void)snprintf(path, sizeof(path), "%s%s", root, op->dst);
	switch (op->type) {
	case FSOP_TMPFS:
		if (strcmp(op->dst, "/") != 0 && make_path(root, op->dst, 0) == -1)
			return -1;
		mflags = MS_NOSUID | MS_NODEV;
		if (op->flags & FSOP_NOEXEC)
			mflags |= MS_NOEXEC;
		if (op->size > 0)
			(void)snprintf(opts, sizeof(opts), "size=%llu,mode=%o",
			    (unsigned long long)op->size, op->mode);
		else
			(void)snprintf(opts, sizeof(opts), "mode=%o", op->mode);
		if (mount("tmpfs", path, "tmpfs", mflags, opts) == -1)
			return -1;
		return ours_add(path);
	case FSOP_BIND:
	case FSOP_DEV:
		if (stat(op->src, &sb) == -1)
			return (op->flags & FSOP_OPTIONAL) && errno == ENOENT ?
			    0 : -1;
		isfile = !S_ISDIR(sb.st_mode);
		if (make_path(root, op->dst, isfile) == -1)
			return -1;
		return op_bind(op, path, userns_fd);
	case FSOP_SYMLINK:
		/* Never over something: that may be the host's. */
		if (lstat(path, &sb) == 0)
			return 0;
		if (strchr(op->dst + 1, '/') != NULL) {
			if (make_path(root, dirname_of(op->dst, opts2,
			    sizeof(opts2)), 0) == -1)
				return -1;
		}
		if (!in_ours(path)) {
			errno = EROFS;
			return -1;
		}
		return symlink(op->src, path);
	case FSOP_MKDIR:
		return make_path(root, op->dst, 0);
	case FSOP_MASK:
		/* Only what an earlier bind made visible needs hiding. */
		if (lstat(path, &sb) == -1)
			return errno == ENOENT ? 0 : -1;
		if (S_ISDIR(sb.st_mode))
			return mount("tmpfs", path, "tmpfs", MS_RDONLY |
			    MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000");
		/* A file: an empty, unreadable file over it. */
		return mount("/dev/null", path, NULL, MS_BIND, NULL) == -1 ? -1 :
		    set_attr(path, FSOP_RO | FSOP_NOEXEC, -1, 0);
	}
	errno = EINVAL;
	return -1;
}

int
fsplan_run(const struct fsplan *pl, const char *root, int userns_fd,
    char *err, size_t errlen)
{
	size_t	i;

	nours = 0;
	/* Nothing we mount travels back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		(void)snprintf(err, errlen, "make mounts private: %s",
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < pl->n; i++)
		if (op_run(&pl->ops[i], root, userns_fd) == -1) {
			(void)snprintf(err, errlen, "%s %s%s%s: %s",
			    fsop_names[pl->ops[i].type],
			    pl->ops[i].src ? pl->ops[i].src : "",
			    pl->ops[i].src ? " -> " : "", pl->ops[i].dst,
			    strerror(errno));
			return -1;
		}
	return 0;
}

int
fs_pivot(const char *root, char *err, size_t errlen)
{
	struct mount_attr	attr;
	const char		*step;

	step = "chdir to the new root";
	if (chdir(root) == -1)
		goto fail;
	/* pivot_root(".", "."): the old root ends up on top, detached. */
	step = "pivot_root";
	if (syscall(SYS_pivot_root, ".", ".") == -1)
		goto fail;
	step = "detach the old root";
	if (umount2(".", MNT_DETACH) == -1 || chdir("/") == -1)
		goto fail;
	step = "mount /proc";
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    "hidepid=invisible") == -1 &&
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL) == -1)
		goto fail;
	step = "/proc/sys read-only";
	if (mount("/proc/sys", "/proc/sys", NULL, MS_BIND | MS_REC, NULL) == -1)
		goto fail;
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
	    MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	if (mount_setattr(AT_FDCWD, "/proc/sys", AT_RECURSIVE, &attr,
	    sizeof(attr)) == -1)
		goto fail;
	step = "root read-only";
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof(attr)) == -1)
		goto fail;
	return 0;
 fail:
	(void)snprintf(err, errlen, "%s: %s", step, strerror(errno));
	return -1;
}

int
fs_idmap_userns(uid_t inside, uid_t outside, gid_t ginside, gid_t goutside)
{
	char	path[64], map[64];
	int	pfd[2], fd, nsfd = -1, i;
	pid_t	pid;
	char	c;

	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	switch (pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0,
	    0, 0)) {
	case -1:
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	case 0:
		/* Hold the namespace until the parent has its fd. */
		close(pfd[1]);
		(void)!read(pfd[0], &c, 1);
		_exit(0);
	}
	close(pfd[0]);
	for (i = 0; i < 3; i++) {
		if (i == 0) {
			(void)snprintf(path, sizeof(path), "/proc/%d/uid_map",
			    pid);
			(void)snprintf(map, sizeof(map), "%u %u 1\n", inside,
			    outside);
		} else if (i == 1) {
			(void)snprintf(path, sizeof(path), "/proc/%d/setgroups",
			    pid);
			(void)snprintf(map, sizeof(map), "deny\n");
		} else {
			(void)snprintf(path, sizeof(path), "/proc/%d/gid_map",
			    pid);
			(void)snprintf(map, sizeof(map), "%u %u 1\n", ginside,
			    goutside);
		}
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1 ||
		    write(fd, map, strlen(map)) != (ssize_t)strlen(map)) {
			if (fd != -1)
				close(fd);
			goto done;
		}
		close(fd);
	}
	(void)snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
 done:
	/* Released: it exits, and the caller reaps it (not waited for here:
	 * its exit would be in every pod's start). */
	close(pfd[1]);
	return nsfd;
}
