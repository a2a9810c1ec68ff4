/*
 * Landlock for the pod: see podlandlock.h for what is granted and why.
 *
 * Debian 12's kernel headers know Landlock ABI 2; what later ABIs added
 * (truncate, TCP ports, device ioctls, scoping, logging flags) is defined
 * here, and the ruleset attribute is our own struct, passed with the size
 * of the ABI we target so that an older kernel accepts it.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/landlock.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "podlandlock.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset	444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule		445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self	446
#endif

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION		(1U << 0)
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER			/* ABI 2 */
#define LANDLOCK_ACCESS_FS_REFER		(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE			/* ABI 3 */
#define LANDLOCK_ACCESS_FS_TRUNCATE		(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP			/* ABI 4 */
#define LANDLOCK_ACCESS_NET_BIND_TCP		(1ULL << 0)
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP		(1ULL << 1)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV			/* ABI 5 */
#define LANDLOCK_ACCESS_FS_IOCTL_DEV		(1ULL << 15)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET		/* ABI 6 */
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET	(1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL			(1ULL << 1)
#endif
#ifndef LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF	/* ABI 7, unused */
#define LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF	(1U << 0)
#define LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON		(1U << 1)
#define LANDLOCK_RESTRICT_SELF_LOG_SUBDOMAINS_OFF	(1U << 2)
#endif

/* enum landlock_rule_type; our names, the header's enum may grow. */
#define LL_RULE_PATH_BENEATH	1
#define LL_RULE_NET_PORT	2			/* ABI 4 */

/* struct landlock_ruleset_attr as of ABI 6; the kernel gets a prefix. */
struct ll_ruleset_attr {
	uint64_t	handled_access_fs;		/* ABI 1 */
	uint64_t	handled_access_net;		/* ABI 4 */
	uint64_t	scoped;				/* ABI 6 */
};
#define LL_ATTR_SIZE_V1	offsetof(struct ll_ruleset_attr, handled_access_net)
#define LL_ATTR_SIZE_V4	offsetof(struct ll_ruleset_attr, scoped)
#define LL_ATTR_SIZE_V6	sizeof(struct ll_ruleset_attr)

struct ll_path_beneath_attr {
	uint64_t	allowed_access;
	int32_t		parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
	uint64_t	allowed_access;
	uint64_t	port;
};

#define LL_FS_V1	(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_CHAR | \
			 LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_MAKE_SOCK | \
			 LANDLOCK_ACCESS_FS_MAKE_FIFO | \
			 LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
			 LANDLOCK_ACCESS_FS_MAKE_SYM)

/* The rights that make sense on a non-directory. */
#define LL_FS_FILE	(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_TRUNCATE | \
			 LANDLOCK_ACCESS_FS_IOCTL_DEV)

#define LL_GRANT_READ	(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_GRANT_WRITE	(LANDLOCK_ACCESS_FS_WRITE_FILE | \
			 LANDLOCK_ACCESS_FS_TRUNCATE | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_MAKE_SYM | \
			 LANDLOCK_ACCESS_FS_MAKE_FIFO | \
			 LANDLOCK_ACCESS_FS_MAKE_SOCK | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			 LANDLOCK_ACCESS_FS_REFER)
#define LL_GRANT_EXEC	(LANDLOCK_ACCESS_FS_EXECUTE | \
			 LANDLOCK_ACCESS_FS_READ_FILE)
#define LL_GRANT_IOCTL	LANDLOCK_ACCESS_FS_IOCTL_DEV

/* Where the notes go: the caller's callback and the err line. */
struct ll_out {
	const struct pod_ll_config *cfg;
	char		*buf;
	size_t		 len;
	size_t		 used;
	int		 full;
};

static const char *const note_str[] = {
	[POD_LL_NOTE_MISSING] = "path does not exist, skipped",
	[POD_LL_NOTE_NO_REFER] = "landlock ABI 1: renames and links across "
	    "directories fail (EXDEV)",
	[POD_LL_NOTE_NO_TRUNCATE] = "landlock ABI < 3: truncate not "
	    "restricted",
	[POD_LL_NOTE_NO_NET] = "landlock ABI < 4: TCP bind and connect not "
	    "restricted",
	[POD_LL_NOTE_NO_IOCTL_DEV] = "landlock ABI < 5: device ioctls not "
	    "restricted",
	[POD_LL_NOTE_NO_SCOPE] = "landlock ABI < 6: abstract unix sockets "
	    "and signals not scoped",
};

const char *
pod_landlock_note_str(enum pod_ll_note n)
{
	if ((size_t)n >= sizeof(note_str) / sizeof(note_str[0]) ||
	    note_str[n] == NULL)
		return "unknown landlock note";
	return note_str[n];
}

static long
ll_create_ruleset(const struct ll_ruleset_attr *attr, size_t size,
    uint32_t flags)
{
	return syscall(__NR_landlock_create_ruleset, attr, size, flags);
}

static long
ll_add_rule(int rfd, int type, const void *attr)
{
	return syscall(__NR_landlock_add_rule, rfd, type, attr, 0U);
}

static long
ll_restrict_self(int rfd, uint32_t flags)
{
	return syscall(__NR_landlock_restrict_self, rfd, flags);
}

int
pod_landlock_abi(void)
{
	long	 abi;

	abi = ll_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

/* Append "; text" to the err line, ending it with "..." when full. */
static void
out_append(struct ll_out *o, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 room;
	int	 n;

	if (o->buf == NULL || o->len == 0 || o->full)
		return;
	room = o->len - o->used;
	if (o->used > 0) {
		n = snprintf(o->buf + o->used, room, "; ");
		if (n < 0 || (size_t)n >= room)
			goto full;
		o->used += (size_t)n;
		room -= (size_t)n;
	}
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		goto full;
	o->used += (size_t)n;
	return;
 full:
	o->full = 1;
	if (o->len >= 4)
		memcpy(o->buf + o->len - 4, "...", 4);
	else
		o->buf[o->len - 1] = '\0';
}

static void
out_note(struct ll_out *o, enum pod_ll_note n, const char *path)
{
	if (n == POD_LL_NOTE_MISSING)
		out_append(o, "%s: %s", path, pod_landlock_note_str(n));
	else
		out_append(o, "%s", pod_landlock_note_str(n));
	if (o->cfg->note != NULL)
		o->cfg->note(o->cfg->note_arg, n,
		    path != NULL ? path : pod_landlock_note_str(n));
}

/* Overwrite the err line with the reason of a failure; errno kept. */
static int
fail(struct ll_out *o, int error, const char *fmt, ...)
{
	va_list	 ap;

	if (o->buf != NULL && o->len > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(o->buf, o->len, fmt, ap);
		va_end(ap);
	}
	errno = error;
	return -1;
}

static uint64_t
grant_to_fs(unsigned int access)
{
	uint64_t	 fs = 0;

	if (access & POD_LL_READ)
		fs |= LL_GRANT_READ;
	if (access & POD_LL_WRITE)
		fs |= LL_GRANT_WRITE;
	if (access & POD_LL_EXEC)
		fs |= LL_GRANT_EXEC;
	if (access & POD_LL_IOCTL)
		fs |= LL_GRANT_IOCTL;
	return fs;
}

static int
add_paths(int rfd, uint64_t handled, struct ll_out *o)
{
	const struct pod_ll_config	*cfg = o->cfg;
	struct ll_path_beneath_attr	 pb;
	struct stat			 st;
	const char			*path;
	size_t				 i;
	int				 fd, saved;

	for (i = 0; i < cfg->npaths; i++) {
		path = cfg->paths[i].path;
		memset(&pb, 0, sizeof(pb));
		pb.allowed_access = grant_to_fs(cfg->paths[i].access) &
		    handled;
		if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1) {
			if (errno == ENOENT || errno == ENOTDIR) {
				out_note(o, POD_LL_NOTE_MISSING, path);
				continue;
			}
			return fail(o, errno, "landlock: %s: %s", path,
			    strerror(errno));
		}
		if (fstat(fd, &st) == -1) {
			saved = errno;
			close(fd);
			return fail(o, saved, "landlock: fstat %s: %s", path,
			    strerror(saved));
		}
		if (!S_ISDIR(st.st_mode))
			pb.allowed_access &= LL_FS_FILE;
		if (pb.allowed_access == 0) {
			/* Nothing this ABI can grant here: deny all. */
			close(fd);
			continue;
		}
		pb.parent_fd = fd;
		if (ll_add_rule(rfd, LL_RULE_PATH_BENEATH, &pb) == -1) {
			saved = errno;
			close(fd);
			return fail(o, saved, "landlock_add_rule %s: %s", path,
			    strerror(saved));
		}
		close(fd);
	}
	return 0;
}

static int
add_ports(int rfd, struct ll_out *o)
{
	const struct pod_ll_config	*cfg = o->cfg;
	struct ll_net_port_attr		 np;
	size_t				 i;

	for (i = 0; i < cfg->nports; i++) {
		memset(&np, 0, sizeof(np));
		np.allowed_access = LANDLOCK_ACCESS_NET_CONNECT_TCP;
		np.port = cfg->connect_ports[i];
		if (ll_add_rule(rfd, LL_RULE_NET_PORT, &np) == -1)
			return fail(o, errno, "landlock_add_rule tcp port "
			    "%u: %s", (unsigned int)np.port, strerror(errno));
	}
	return 0;
}

static int
check_config(const struct pod_ll_config *cfg, struct ll_out *o)
{
	size_t	 i;

	if (cfg->npaths > 0 && cfg->paths == NULL)
		return fail(o, EINVAL, "landlock: %zu paths, no array",
		    cfg->npaths);
	if (cfg->nports > 0 && cfg->connect_ports == NULL)
		return fail(o, EINVAL, "landlock: %zu ports, no array",
		    cfg->nports);
	if (cfg->max_abi < 0)
		return fail(o, EINVAL, "landlock: max_abi %d", cfg->max_abi);
	for (i = 0; i < cfg->npaths; i++) {
		if (cfg->paths[i].path == NULL || cfg->paths[i].path[0] == '\0')
			return fail(o, EINVAL, "landlock: path %zu is empty",
			    i);
		if (cfg->paths[i].access & ~POD_LL_ALL)
			return fail(o, EINVAL, "landlock: %s: unknown access "
			    "bits 0x%x", cfg->paths[i].path,
			    cfg->paths[i].access & ~POD_LL_ALL);
	}
	return 0;
}

int
pod_landlock_apply(const struct pod_ll_config *cfg, int *abi_used,
    char *err, size_t errlen)
{
	struct ll_ruleset_attr	 attr;
	struct ll_out		 o;
	size_t			 attrsize;
	long			 kabi;
	int			 abi, rfd, saved;

	memset(&o, 0, sizeof(o));
	o.cfg = cfg;
	o.buf = err;
	o.len = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (abi_used != NULL)
		*abi_used = 0;
	if (cfg == NULL)
		return fail(&o, EINVAL, "landlock: no configuration");
	if (check_config(cfg, &o) == -1)
		return -1;

	kabi = ll_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (kabi < 0) {
		if (errno == EOPNOTSUPP)
			return fail(&o, errno, "landlock is disabled in this "
			    "kernel (not in the lsm= list)");
		return fail(&o, errno, "landlock is not supported by this "
		    "kernel: %s", strerror(errno));
	}
	if (kabi == 0)
		return fail(&o, ENOSYS, "landlock reports ABI 0");
	abi = kabi > POD_LL_ABI_MAX ? POD_LL_ABI_MAX : (int)kabi;
	if (cfg->max_abi > 0 && cfg->max_abi < abi)
		abi = cfg->max_abi;
	if (abi_used != NULL)
		*abi_used = abi;

	/* landlock_restrict_self(2) would fail later; say why now. */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return fail(&o, EPERM, "landlock: no_new_privs is not set "
		    "(PR_SET_NO_NEW_PRIVS must come first)");

	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LL_FS_V1;
	attrsize = LL_ATTR_SIZE_V1;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 4) {
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
		    LANDLOCK_ACCESS_NET_CONNECT_TCP;
		attrsize = LL_ATTR_SIZE_V4;
	}
	if (abi >= 5)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (abi >= 6) {
		if (cfg->scope)
			attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
			    LANDLOCK_SCOPE_SIGNAL;
		attrsize = LL_ATTR_SIZE_V6;
	}

	if (abi < 2)
		out_note(&o, POD_LL_NOTE_NO_REFER, NULL);
	if (abi < 3)
		out_note(&o, POD_LL_NOTE_NO_TRUNCATE, NULL);
	if (abi < 4)
		out_note(&o, POD_LL_NOTE_NO_NET, NULL);
	if (abi < 5)
		out_note(&o, POD_LL_NOTE_NO_IOCTL_DEV, NULL);
	if (abi < 6 && cfg->scope)
		out_note(&o, POD_LL_NOTE_NO_SCOPE, NULL);

	if ((rfd = (int)ll_create_ruleset(&attr, attrsize, 0)) == -1)
		return fail(&o, errno, "landlock_create_ruleset (ABI %d): %s",
		    abi, strerror(errno));
	if (add_paths(rfd, attr.handled_access_fs, &o) == -1 ||
	    (abi >= 4 && add_ports(rfd, &o) == -1)) {
		saved = errno;
		close(rfd);
		errno = saved;
		return -1;
	}
	if (ll_restrict_self(rfd, 0) == -1) {
		saved = errno;
		close(rfd);
		return fail(&o, saved, "landlock_restrict_self: %s",
		    strerror(saved));
	}
	close(rfd);
	return 0;
}
