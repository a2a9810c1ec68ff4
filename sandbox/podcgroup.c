/*
 * podcgroup: a cgroup per pod, for its limits, tracking, kill and the
 * id BPF filters by.  The v1/v2 choice per host type, the placement,
 * permissions and the locking are described in podcgroup.h.
 *
 * After pod_cgroup_init() nothing here uses a path: every operation
 * is relative to a directory fd opened there (the sandbox is chrooted).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "podcgroup.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC	0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif

#define PODCG_PARENT	"podrunner"
#define PODCG_LEAF	"podrunner.init"	/* v2: evacuated processes */
#define PODCG_IDMAX	64
#define PODCG_MAXH	PODCG_SPAWN_MAX
#define CPU_PERIOD_US	100000
#define CPU_MIN_QUOTA_US 1000
#define DESTROY_WAIT_MS	2000	/* for a pod to empty after kill */
#define RMDIR_WAIT_MS	200	/* for a busy rmdir */
#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)

enum { C_MEMORY, C_PIDS, C_CPU, C_FREEZER, C_COUNT };

static const char *const ctrl_names[C_COUNT] = {
	"memory", "pids", "cpu", "freezer"
};

/* One hierarchy in use: our current cgroup there and our parent. */
struct hier {
	int		 v2;
	unsigned int	 ctrl;		/* 1 << C_* used here */
	char		 dev[32];	/* the mount's "maj:min" */
	int		 basefd;	/* the cgroup we were started in */
	int		 fd;		/* <base>/podrunner */
	char		 path[PATH_MAX + 16];	/* of fd, for logs */
};

static struct {
	enum pod_cgroup_mode mode;
	unsigned int	 flags;
	struct hier	 h[PODCG_MAXH];
	int		 nh;
	int		 v2;		/* index into h, or -1 */
	int		 track;		/* index into h */
	int		 by[C_COUNT];	/* index into h, or -1 */
	int		 v2kill, v2freeze, swap;
	int		 v2nsroot;	/* v2 base is our cgroupns root */
	char		 why[C_COUNT][192];
} cg = { .mode = PODCG_NONE };

struct pod_cgroup {
	char		 id[PODCG_IDMAX + 1];
	int		 fd[PODCG_MAXH];	/* per hierarchy or -1 */
	uint64_t	 cgid;
};

/* What /proc/self/mountinfo and /proc/self/cgroup say. */
struct mnt {
	int		 v2;
	char		 dev[32];
	char		*root;
	char		*mp;
	char		*opts;		/* super options */
};

struct cgline {
	int		 v2;
	char		*ctrls;
	char		*path;
};

static void	 seterr(char *, size_t, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static int	 valid_id(const char *);
static int	 has_item(const char *, const char *, int);
static void	 msleep(unsigned int);
static int	 cg_write(int, const char *, const char *);
static ssize_t	 cg_read(int, const char *, char *, size_t);
static int	 cg_key(int, const char *, const char *, uint64_t *);
static int	 procs_foreach(int, int (*)(pid_t, void *), void *);
static int	 kill_one(pid_t, void *);
static int	 move_one(pid_t, void *);
static void	 unescape(char *);
static int	 read_mounts(struct mnt **, size_t *);
static int	 read_cgroups(struct cgline **, size_t *);
static void	 free_mounts(struct mnt *, size_t);
static void	 free_cgroups(struct cgline *, size_t);
static int	 under_root(const char *, const char *);
static int	 hier_open(const struct mnt *, const char *, int, char *,
		    size_t);
static int	 setup_v1(int, struct mnt *, size_t, struct cgline *, size_t);
static int	 setup_v2(struct mnt *, size_t, struct cgline *, size_t,
		    char *, size_t);
static void	 enable_v2(unsigned int);
static int	 evacuate(int);
static int	 parent_reopen(int);
static void	 parents_fresh(void);
static int	 take_over(int, const char *);
static int	 dir_make(struct pod_cgroup *, int);
static int	 set_limits(struct pod_cgroup *, const struct pod_limits *,
		    char *, size_t);
static int	 freeze(struct pod_cgroup *, int);
static void	 frozen_wait(struct pod_cgroup *);
static int	 kill_fallback(struct pod_cgroup *);
static int	 rmdir_one(int, const char *);
static int	 pod_remove(struct pod_cgroup *);
static int	 gc_one(const char *);

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A pod id names a directory: [A-Za-z0-9_-]{1,64}, so never "." or "..". */
static int
valid_id(const char *id)
{
	size_t	i;
	char	c;

	for (i = 0; (c = id[i]) != '\0'; i++) {
		if (i >= PODCG_IDMAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return i > 0;
}

/* Is word an item of the list separated by sep? */
static int
has_item(const char *list, const char *word, int sep)
{
	size_t		 len = strlen(word);
	const char	*p = list, *e;

	while (*p != '\0') {
		if ((e = strchr(p, sep)) == NULL)
			e = p + strlen(p);
		/* cgroup.controllers ends in a newline */
		if ((size_t)(e - p) == len && strncmp(p, word, len) == 0)
			return 1;
		if ((size_t)(e - p) == len + 1 && strncmp(p, word, len) == 0 &&
		    p[len] == '\n')
			return 1;
		if (*e == '\0')
			break;
		p = e + 1;
	}
	return 0;
}

static void
msleep(unsigned int ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Write one value to a cgroup file: the kernel's error in errno. */
static int
cg_write(int dirfd, const char *file, const char *val)
{
	size_t	 len = strlen(val);
	ssize_t	 n;
	int	 fd, saved;

	if ((fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1)
		return -1;
	/* A signal (the sandbox's SIGCHLD) may interrupt a write that
	 * waits, for reclaim or for the attach lock: try again. */
	while ((n = write(fd, val, len)) == -1 && errno == EINTR)
		;
	saved = errno;
	(void)close(fd);
	if (n == -1) {
		errno = saved;
		return -1;
	}
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Read a small cgroup file, NUL-terminated; its length or -1. */
static ssize_t
cg_read(int dirfd, const char *file, char *buf, size_t size)
{
	size_t	 have = 0;
	ssize_t	 n;
	int	 fd, saved;

	if ((fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1)
		return -1;
	while (have < size - 1) {
		if ((n = read(fd, buf + have, size - 1 - have)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			(void)close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	(void)close(fd);
	buf[have] = '\0';
	return (ssize_t)have;
}

/* The value of "key N" in a flat-keyed file; -1 (ENOENT) if absent. */
static int
cg_key(int dirfd, const char *file, const char *key, uint64_t *val)
{
	char		 buf[4096], *line, *next, *end;
	size_t		 klen = strlen(key);
	unsigned long long v;

	if (cg_read(dirfd, file, buf, sizeof(buf)) == -1)
		return -1;
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strncmp(line, key, klen) != 0 || line[klen] != ' ')
			continue;
		errno = 0;
		v = strtoull(line + klen + 1, &end, 10);
		if (errno != 0 || end == line + klen + 1)
			break;
		*val = v;
		return 0;
	}
	errno = ENOENT;
	return -1;
}

/*
 * Call fn for every pid in dirfd's cgroup.procs (fn may be NULL).
 * Returns the number of pids, or -1.
 */
static int
procs_foreach(int dirfd, int (*fn)(pid_t, void *), void *arg)
{
	char	 buf[4096];
	size_t	 have = 0, i, start;
	ssize_t	 n;
	long	 pid;
	int	 fd, count = 0, saved;

	if ((fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1)
		return -1;
	for (;;) {
		if ((n = read(fd, buf + have, sizeof(buf) - have)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			(void)close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		for (i = start = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			buf[i] = '\0';
			pid = strtol(buf + start, NULL, 10);
			if (pid > 0 && pid <= INT_MAX) {
				count++;
				if (fn != NULL)
					(void)fn((pid_t)pid, arg);
			}
			start = i + 1;
		}
		/* Keep a partial line for the next read. */
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == sizeof(buf)) {
			(void)close(fd);
			errno = EOVERFLOW;
			return -1;
		}
	}
	(void)close(fd);
	return count;
}

static int
kill_one(pid_t pid, void *arg)
{
	(void)arg;
	return kill(pid, SIGKILL);
}

static int
move_one(pid_t pid, void *arg)
{
	char	v[32];

	(void)snprintf(v, sizeof(v), "%d", (int)pid);
	return cg_write(*(int *)arg, "cgroup.procs", v);
}

/* mountinfo escapes blanks and backslashes as \ooo. */
static void
unescape(char *s)
{
	char	*d = s;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)(((s[1] - '0') << 6) |
			    ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 4;
		} else
			*d++ = *s++;
	}
	*d = '\0';
}

/* The cgroup and cgroup2 mounts of /proc/self/mountinfo. */
static int
read_mounts(struct mnt **mp, size_t *np)
{
	FILE		*f;
	struct mnt	*m = NULL, *t;
	char		*line = NULL, *fld[64], *s, *save;
	size_t		 cap = 0, n = 0;
	ssize_t		 len;
	int		 nf, sep, i;

	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	while ((len = getline(&line, &cap, f)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		nf = 0;
		for (s = strtok_r(line, " ", &save); s != NULL && nf < 64;
		    s = strtok_r(NULL, " ", &save))
			fld[nf++] = s;
		/* id parent maj:min root mountpoint opts [optional...] - */
		for (sep = -1, i = 6; i < nf; i++)
			if (strcmp(fld[i], "-") == 0) {
				sep = i;
				break;
			}
		if (sep == -1 || sep + 3 >= nf)
			continue;
		if (strcmp(fld[sep + 1], "cgroup") != 0 &&
		    strcmp(fld[sep + 1], "cgroup2") != 0)
			continue;
		if ((t = reallocarray(m, n + 1, sizeof(*m))) == NULL)
			goto fail;
		m = t;
		memset(&m[n], 0, sizeof(m[n]));
		m[n].v2 = strcmp(fld[sep + 1], "cgroup2") == 0;
		(void)snprintf(m[n].dev, sizeof(m[n].dev), "%s", fld[2]);
		unescape(fld[3]);
		unescape(fld[4]);
		m[n].root = strdup(fld[3]);
		m[n].mp = strdup(fld[4]);
		m[n].opts = strdup(fld[sep + 3]);
		n++;
		if (m[n - 1].root == NULL || m[n - 1].mp == NULL ||
		    m[n - 1].opts == NULL)
			goto fail;
	}
	free(line);
	(void)fclose(f);
	*mp = m;
	*np = n;
	return 0;
 fail:
	free(line);
	(void)fclose(f);
	free_mounts(m, n);
	errno = ENOMEM;
	return -1;
}

/* /proc/self/cgroup: "hierarchy-id:controllers:path". */
static int
read_cgroups(struct cgline **lp, size_t *np)
{
	FILE		*f;
	struct cgline	*l = NULL, *t;
	char		*line = NULL, *c1, *c2;
	size_t		 cap = 0, n = 0;
	ssize_t		 len;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return -1;
	while ((len = getline(&line, &cap, f)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		if ((c1 = strchr(line, ':')) == NULL ||
		    (c2 = strchr(c1 + 1, ':')) == NULL || c2[1] != '/')
			continue;
		*c1++ = '\0';
		*c2++ = '\0';
		if ((t = reallocarray(l, n + 1, sizeof(*l))) == NULL)
			goto fail;
		l = t;
		l[n].v2 = strcmp(line, "0") == 0 && *c1 == '\0';
		l[n].ctrls = strdup(c1);
		l[n].path = strdup(c2);
		n++;
		if (l[n - 1].ctrls == NULL || l[n - 1].path == NULL)
			goto fail;
	}
	free(line);
	(void)fclose(f);
	*lp = l;
	*np = n;
	return 0;
 fail:
	free(line);
	(void)fclose(f);
	free_cgroups(l, n);
	errno = ENOMEM;
	return -1;
}

static void
free_mounts(struct mnt *m, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(m[i].root);
		free(m[i].mp);
		free(m[i].opts);
	}
	free(m);
}

static void
free_cgroups(struct cgline *l, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(l[i].ctrls);
		free(l[i].path);
	}
	free(l);
}

/* Is the cgroup path inside what the mount shows (its root)? */
static int
under_root(const char *root, const char *path)
{
	size_t	len = strlen(root);

	if (strcmp(root, "/") == 0)
		return 1;
	return strncmp(path, root, len) == 0 &&
	    (path[len] == '\0' || path[len] == '/');
}

/*
 * Open our cgroup (cgpath) in the hierarchy mounted at m and the
 * "podrunner" parent beneath it, creating that.  Returns the index in
 * cg.h or -1 with the reason in err.
 */
static int
hier_open(const struct mnt *m, const char *cgpath, int v2, char *err,
    size_t errlen)
{
	struct hier	*h;
	struct statfs	 sfs;
	char		 dir[PATH_MAX];
	const char	*rel;
	int		 n;

	if (cg.nh == PODCG_MAXH) {
		seterr(err, errlen, "too many cgroup hierarchies");
		return -1;
	}
	rel = cgpath;
	if (strcmp(m->root, "/") != 0)
		rel = cgpath + strlen(m->root);
	if (strcmp(rel, "/") == 0)
		rel = "";
	n = snprintf(dir, sizeof(dir), "%s%s", m->mp, rel);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		seterr(err, errlen, "%s%s: path too long", m->mp, rel);
		return -1;
	}
	h = &cg.h[cg.nh];
	memset(h, 0, sizeof(*h));
	h->v2 = v2;
	h->fd = -1;
	(void)snprintf(h->dev, sizeof(h->dev), "%s", m->dev);
	if ((h->basefd = open(dir, DIR_FLAGS)) == -1) {
		seterr(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (fstatfs(h->basefd, &sfs) == -1 ||
	    sfs.f_type != (v2 ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC)) {
		seterr(err, errlen, "%s: not a cgroup%s file system", dir,
		    v2 ? "2" : "");
		goto fail;
	}
	if (mkdirat(h->basefd, PODCG_PARENT, 0755) == -1 && errno != EEXIST) {
		seterr(err, errlen, "mkdir %s/%s: %s", dir, PODCG_PARENT,
		    strerror(errno));
		goto fail;
	}
	if ((h->fd = openat(h->basefd, PODCG_PARENT, DIR_FLAGS)) == -1) {
		seterr(err, errlen, "%s/%s: %s", dir, PODCG_PARENT,
		    strerror(errno));
		goto fail;
	}
	(void)snprintf(h->path, sizeof(h->path), "%s/%s", dir, PODCG_PARENT);
	return cg.nh++;
 fail:
	(void)close(h->basefd);
	h->basefd = -1;
	return -1;
}

/* Controller c in its v1 hierarchy, if mounted where we can reach. */
static int
setup_v1(int c, struct mnt *m, size_t nm, struct cgline *l, size_t nl)
{
	const char	*name = ctrl_names[c];
	size_t		 i, j;
	int		 k, idx;

	for (i = 0; i < nl; i++)
		if (!l[i].v2 && has_item(l[i].ctrls, name, ','))
			break;
	if (i == nl) {
		seterr(cg.why[c], sizeof(cg.why[c]), "no v1 %s hierarchy",
		    name);
		return -1;
	}
	for (j = 0; j < nm; j++)
		if (!m[j].v2 && has_item(m[j].opts, name, ',') &&
		    under_root(m[j].root, l[i].path))
			break;
	if (j == nm) {
		seterr(cg.why[c], sizeof(cg.why[c]), "the v1 %s hierarchy "
		    "is not mounted where our cgroup %s is visible", name,
		    l[i].path);
		return -1;
	}
	/* Co-mounted controllers (cpu,cpuacct) share one hierarchy. */
	for (k = 0; k < cg.nh; k++)
		if (!cg.h[k].v2 && strcmp(cg.h[k].dev, m[j].dev) == 0) {
			cg.h[k].ctrl |= 1U << c;
			cg.by[c] = k;
			return 0;
		}
	if ((idx = hier_open(&m[j], l[i].path, 0, cg.why[c],
	    sizeof(cg.why[c]))) == -1)
		return -1;
	cg.h[idx].ctrl |= 1U << c;
	cg.by[c] = idx;
	return 0;
}

/* The v2 hierarchy: tracking, kill, ids. */
static int
setup_v2(struct mnt *m, size_t nm, struct cgline *l, size_t nl, char *err,
    size_t errlen)
{
	char		 path[PATH_MAX], *slash;
	size_t		 i, j;
	int		 idx;

	for (i = 0; i < nl; i++)
		if (l[i].v2)
			break;
	for (j = 0; j < nm; j++)
		if (m[j].v2 && i < nl && under_root(m[j].root, l[i].path))
			break;
	if (i == nl || j == nm) {
		seterr(err, errlen, "no cgroup2 hierarchy");
		return -1;
	}
	(void)snprintf(path, sizeof(path), "%s", l[i].path);
	/* Started from the leaf we evacuated into: the base is above it. */
	if ((slash = strrchr(path, '/')) != NULL &&
	    strcmp(slash + 1, PODCG_LEAF) == 0)
		*(slash == path ? slash + 1 : slash) = '\0';
	cg.v2nsroot = strcmp(path, "/") == 0;
	if ((idx = hier_open(&m[j], path, 1, err, errlen)) == -1)
		return -1;
	cg.v2 = idx;
	if (!(cg.flags & PODCG_INIT_NO_KILL))
		cg.v2kill = faccessat(cg.h[idx].fd, "cgroup.kill", F_OK, 0) ==
		    0;
	cg.v2freeze = faccessat(cg.h[idx].fd, "cgroup.freeze", F_OK, 0) == 0;
	return 0;
}

/*
 * Enable the controllers in want (1 << C_*) for our pods in v2: in the
 * subtree_control of our base cgroup, then of the parent.  The base
 * must not hold processes unless it is the root ("no internal
 * processes"); see evacuate().
 */
static void
enable_v2(unsigned int want)
{
	struct hier	*h = &cg.h[cg.v2];
	char		 avail[512], have[512], v[32];
	int		 c, realroot, evacuated = 0, rv, saved;

	if (cg_read(h->basefd, "cgroup.controllers", avail,
	    sizeof(avail)) == -1)
		avail[0] = '\0';
	realroot = faccessat(h->basefd, "cgroup.type", F_OK, 0) == -1 &&
	    errno == ENOENT;
	for (c = 0; c < C_FREEZER; c++) {
		if (!(want & (1U << c)))
			continue;
		if (!has_item(avail, ctrl_names[c], ' ')) {
			seterr(cg.why[c], sizeof(cg.why[c]), "no %s controller "
			    "in v1 or in cgroup v2 (%s)", ctrl_names[c],
			    h->path);
			continue;
		}
		(void)snprintf(v, sizeof(v), "+%s", ctrl_names[c]);
		if (cg_read(h->basefd, "cgroup.subtree_control", have,
		    sizeof(have)) == -1)
			have[0] = '\0';
		rv = 0;
		if (!has_item(have, ctrl_names[c], ' ')) {
			rv = cg_write(h->basefd, "cgroup.subtree_control", v);
			if (rv == -1 && errno == EBUSY && !evacuated &&
			    cg.v2nsroot && !realroot) {
				evacuated = 1;
				if (evacuate(h->basefd) == 0)
					rv = cg_write(h->basefd,
					    "cgroup.subtree_control", v);
			}
		}
		if (rv == -1) {
			saved = errno;
			seterr(cg.why[c], sizeof(cg.why[c]), "cgroup v2: "
			    "can not enable %s beneath our cgroup: %s%s",
			    ctrl_names[c], strerror(saved), saved == EBUSY ?
			    " (it holds processes; run podrunner in a "
			    "delegated cgroup)" : "");
			continue;
		}
		if (cg_read(h->fd, "cgroup.subtree_control", have,
		    sizeof(have)) == -1)
			have[0] = '\0';
		if (!has_item(have, ctrl_names[c], ' ') &&
		    cg_write(h->fd, "cgroup.subtree_control", v) == -1) {
			seterr(cg.why[c], sizeof(cg.why[c]), "cgroup v2: "
			    "can not enable %s in %s: %s", ctrl_names[c],
			    h->path, strerror(errno));
			continue;
		}
		h->ctrl |= 1U << c;
		cg.by[c] = cg.v2;
	}
}

/*
 * Our v2 base is the root of our cgroup namespace (podrunner is a
 * container's init) and holds processes: move them all into the leaf
 * <base>/podrunner.init so that controllers can be enabled.
 */
static int
evacuate(int basefd)
{
	int	 leaffd, pass, n;

	if (mkdirat(basefd, PODCG_LEAF, 0755) == -1 && errno != EEXIST)
		return -1;
	if ((leaffd = openat(basefd, PODCG_LEAF, DIR_FLAGS)) == -1)
		return -1;
	log_info("cgroup: moving the processes of our cgroup into %s",
	    PODCG_LEAF);
	/* Repeat: they may fork while we move them. */
	for (pass = 0; pass < 50; pass++)
		if ((n = procs_foreach(basefd, move_one, &leaffd)) <= 0)
			break;
	(void)close(leaffd);
	return n == 0 ? 0 : -1;
}

int
pod_cgroup_init(char *err, size_t errlen)
{
	return pod_cgroup_init_flags(0, err, errlen);
}

int
pod_cgroup_init_flags(unsigned int flags, char *err, size_t errlen)
{
	struct mnt	*m = NULL;
	struct cgline	*l = NULL;
	char		 v2err[256] = "";
	size_t		 nm = 0, nl = 0;
	unsigned int	 want = 0;
	int		 c, i, v1 = 0;

	if (cg.mode != PODCG_NONE)
		pod_cgroup_fini(0);
	memset(&cg, 0, sizeof(cg));
	cg.mode = PODCG_NONE;
	cg.flags = flags;
	cg.v2 = cg.track = -1;
	for (c = 0; c < C_COUNT; c++)
		cg.by[c] = -1;

	if (read_mounts(&m, &nm) == -1) {
		seterr(err, errlen, "/proc/self/mountinfo: %s",
		    strerror(errno));
		return -1;
	}
	if (read_cgroups(&l, &nl) == -1) {
		seterr(err, errlen, "/proc/self/cgroup: %s", strerror(errno));
		free_mounts(m, nm);
		return -1;
	}
	if (!(flags & PODCG_INIT_NO_V2))
		(void)setup_v2(m, nm, l, nl, v2err, sizeof(v2err));
	else
		(void)snprintf(v2err, sizeof(v2err), "cgroup v2 not used");
	/* Limits: where the controller is mounted in v1, there. */
	for (c = 0; c < C_FREEZER; c++)
		if ((flags & PODCG_INIT_NO_V1) ||
		    setup_v1(c, m, nm, l, nl) == -1)
			want |= 1U << c;
	/* The v1 freezer only when v2 can neither kill nor freeze. */
	if (!(flags & PODCG_INIT_NO_V1) &&
	    (cg.v2 == -1 || (!cg.v2kill && !cg.v2freeze)))
		(void)setup_v1(C_FREEZER, m, nm, l, nl);
	/* Controllers not in v1: from v2 if it has them. */
	if (cg.v2 != -1 && want != 0)
		enable_v2(want);
	free_mounts(m, nm);
	free_cgroups(l, nl);

	if (cg.v2 != -1)
		cg.track = cg.v2;
	else if (cg.by[C_FREEZER] != -1)
		cg.track = cg.by[C_FREEZER];
	else if (cg.by[C_PIDS] != -1)
		cg.track = cg.by[C_PIDS];
	else if (cg.by[C_MEMORY] != -1)
		cg.track = cg.by[C_MEMORY];
	else if (cg.by[C_CPU] != -1)
		cg.track = cg.by[C_CPU];
	if (cg.track == -1) {
		seterr(err, errlen, "no usable cgroup hierarchy: %s; %s",
		    v2err, cg.why[C_MEMORY]);
		pod_cgroup_fini(0);
		return -1;
	}
	for (i = 0; i < cg.nh; i++)
		if (!cg.h[i].v2)
			v1 = 1;
	if (cg.v2 == -1)
		cg.mode = PODCG_V1;
	else
		cg.mode = v1 ? PODCG_MIXED : PODCG_V2;
	if ((i = cg.by[C_MEMORY]) != -1)
		cg.swap = faccessat(cg.h[i].fd, cg.h[i].v2 ?
		    "memory.swap.max" : "memory.memsw.limit_in_bytes", F_OK,
		    0) == 0;
	log_debug("cgroup: %s; memory %s, pids %s, cpu %s; kill by %s",
	    pod_cgroup_mode_name(cg.mode),
	    cg.by[C_MEMORY] == -1 ? "-" : cg.h[cg.by[C_MEMORY]].path,
	    cg.by[C_PIDS] == -1 ? "-" : cg.h[cg.by[C_PIDS]].path,
	    cg.by[C_CPU] == -1 ? "-" : cg.h[cg.by[C_CPU]].path,
	    cg.v2kill ? "cgroup.kill" : "freezer and SIGKILL");
	return 0;
}

void
pod_cgroup_fini(int rmparent)
{
	int	i;

	for (i = 0; i < cg.nh; i++) {
		if (cg.h[i].fd != -1)
			(void)close(cg.h[i].fd);
		/* Fails, harmlessly, while it holds pods (ours or others'). */
		if (rmparent && unlinkat(cg.h[i].basefd, PODCG_PARENT,
		    AT_REMOVEDIR) == -1 && errno != EBUSY && errno != ENOENT)
			log_warn("cgroup: rmdir %s", cg.h[i].path);
		if (cg.h[i].basefd != -1)
			(void)close(cg.h[i].basefd);
	}
	memset(&cg, 0, sizeof(cg));
	cg.mode = PODCG_NONE;
	cg.v2 = cg.track = -1;
	for (i = 0; i < C_COUNT; i++)
		cg.by[i] = -1;
}

enum pod_cgroup_mode
pod_cgroup_mode(void)
{
	return cg.mode;
}

const char *
pod_cgroup_mode_name(enum pod_cgroup_mode mode)
{
	switch (mode) {
	case PODCG_V1:
		return "cgroup v1";
	case PODCG_MIXED:
		return "cgroup v1 limits, v2 tracking (mixed)";
	case PODCG_V2:
		return "cgroup v2";
	default:
		return "no cgroups";
	}
}

unsigned int
pod_cgroup_features(void)
{
	unsigned int	f = 0;

	if (cg.mode == PODCG_NONE)
		return 0;
	if (cg.by[C_MEMORY] != -1)
		f |= PODCG_F_MEMORY;
	if (cg.by[C_MEMORY] != -1 && cg.swap)
		f |= PODCG_F_SWAP;
	if (cg.by[C_PIDS] != -1)
		f |= PODCG_F_PIDS;
	if (cg.by[C_CPU] != -1)
		f |= PODCG_F_CPU;
	if (cg.v2kill)
		f |= PODCG_F_KILL;
	if ((cg.v2 != -1 && cg.v2freeze) || cg.by[C_FREEZER] != -1)
		f |= PODCG_F_FREEZE;
	if (cg.v2 != -1)
		f |= PODCG_F_ID;
	return f;
}

const char *
pod_cgroup_why(unsigned int feature)
{
	int	c;

	switch (feature) {
	case PODCG_F_MEMORY:
		c = C_MEMORY;
		break;
	case PODCG_F_PIDS:
		c = C_PIDS;
		break;
	case PODCG_F_CPU:
		c = C_CPU;
		break;
	default:
		return "";
	}
	if (cg.mode == PODCG_NONE)
		return "cgroups not initialised";
	return cg.by[c] != -1 ? "" : cg.why[c];
}

/*
 * Our parent was removed under us (by an administrator, or by a test
 * that cleans up after itself while we run): make it again.
 */
static int
parent_reopen(int i)
{
	struct hier	*h = &cg.h[i];
	char		 v[32];
	int		 fd, c;

	if (mkdirat(h->basefd, PODCG_PARENT, 0755) == -1 && errno != EEXIST)
		return -1;
	if ((fd = openat(h->basefd, PODCG_PARENT, DIR_FLAGS)) == -1)
		return -1;
	for (c = 0; h->v2 && c < C_FREEZER; c++) {
		if (!(h->ctrl & (1U << c)))
			continue;
		(void)snprintf(v, sizeof(v), "+%s", ctrl_names[c]);
		if (cg_write(fd, "cgroup.subtree_control", v) == -1)
			goto fail;
	}
	if (dup3(fd, h->fd, O_CLOEXEC) == -1)
		goto fail;
	(void)close(fd);
	log_info("cgroup: %s had gone, made again", h->path);
	return 0;
 fail:
	(void)close(fd);
	return -1;
}

/* Make the parents that were removed under us again (before a gc). */
static void
parents_fresh(void)
{
	struct stat	st, st2;
	int		i;

	for (i = 0; i < cg.nh; i++)
		if (fstat(cg.h[i].fd, &st) == -1 ||
		    fstatat(cg.h[i].basefd, PODCG_PARENT, &st2,
		    AT_SYMLINK_NOFOLLOW) == -1 || st.st_ino != st2.st_ino ||
		    st.st_dev != st2.st_dev)
			(void)parent_reopen(i);
}

/*
 * A directory of a pod's name already exists in hierarchy i, and we
 * hold the lock of our tracking directory: if its own lock is free,
 * it is a dead pod's leftover; remove it.
 */
static int
take_over(int i, const char *id)
{
	int	fd, rv;

	if ((fd = openat(cg.h[i].fd, id, DIR_FLAGS)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		(void)close(fd);
		errno = EEXIST;
		return -1;
	}
	rv = rmdir_one(cg.h[i].fd, id);
	(void)close(fd);
	return rv;
}

/*
 * Make the pod's directory in hierarchy i, open it and lock it.  The
 * tracking directory comes first; if its name exists, it is taken over
 * when its lock is free (a dead podrunner's pod, removed by gc_one()).
 * A gc may remove a directory between our mkdir and our flock: then
 * the inode differs or is gone, and we start again.
 */
static int
dir_make(struct pod_cgroup *p, int i)
{
	struct hier	*h = &cg.h[i];
	struct stat	 st, st2;
	int		 try, fd, retried = 0, saved;

	for (try = 0; try < 8; try++) {
		if (mkdirat(h->fd, p->id, 0755) == -1) {
			if (errno == ENOENT && parent_reopen(i) == 0)
				continue;
			if (errno != EEXIST || retried)
				return -1;
			retried = 1;
			if (i == cg.track ? gc_one(p->id) == 1 :
			    take_over(i, p->id) == 0)
				continue;
			errno = EEXIST;
			return -1;
		}
		if ((fd = openat(h->fd, p->id, DIR_FLAGS)) == -1) {
			if (errno == ENOENT)
				continue;
			saved = errno;
			(void)unlinkat(h->fd, p->id, AT_REMOVEDIR);
			errno = saved;
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			saved = errno;
			(void)close(fd);
			if (saved == EWOULDBLOCK) {
				msleep(1);	/* a gc is removing it */
				continue;
			}
			(void)unlinkat(h->fd, p->id, AT_REMOVEDIR);
			errno = saved;
			return -1;
		}
		if (fstat(fd, &st) == -1 || fstatat(h->fd, p->id, &st2,
		    AT_SYMLINK_NOFOLLOW) == -1 || st.st_ino != st2.st_ino ||
		    st.st_dev != st2.st_dev) {
			(void)close(fd);
			continue;
		}
		p->fd[i] = fd;
		/* On 64-bit, a kernfs inode number is the cgroup id. */
		if (h->v2)
			p->cgid = (uint64_t)st.st_ino;
		return 0;
	}
	errno = EAGAIN;
	return -1;
}

static int
set_limits(struct pod_cgroup *p, const struct pod_limits *lim, char *err,
    size_t errlen)
{
	char		 v[64];
	const char	*file = NULL;
	uint64_t	 quota;
	int		 i, fd;

	if (lim->memory != 0) {
		i = cg.by[C_MEMORY];
		fd = p->fd[i];
		(void)snprintf(v, sizeof(v), "%" PRIu64, lim->memory);
		if (cg.h[i].v2) {
			if (cg_write(fd, file = "memory.max", v) == -1)
				goto fail;
			/* No swap: the limit is the pod's memory. */
			if (cg_write(fd, file = "memory.swap.max", "0") == -1 &&
			    errno != ENOENT)
				goto fail;
			/* An OOM kill takes the whole pod. */
			if (cg_write(fd, file = "memory.oom.group", "1") ==
			    -1 && errno != ENOENT)
				goto fail;
		} else {
			if (cg_write(fd, file = "memory.limit_in_bytes", v) ==
			    -1)
				goto fail;
			/* memory + swap; without swap accounting, no swap. */
			if (cg_write(fd, file = "memory.memsw.limit_in_bytes",
			    v) == -1) {
				if (errno != ENOENT)
					goto fail;
				(void)cg_write(fd, "memory.swappiness", "0");
			}
		}
	}
	if (lim->pids != 0) {
		i = cg.by[C_PIDS];
		(void)snprintf(v, sizeof(v), "%" PRIu32, lim->pids);
		if (cg_write(p->fd[i], file = "pids.max", v) == -1)
			goto fail;
	}
	if (lim->cpu_millis != 0) {
		i = cg.by[C_CPU];
		quota = (uint64_t)lim->cpu_millis * CPU_PERIOD_US / 1000;
		if (quota < CPU_MIN_QUOTA_US)
			quota = CPU_MIN_QUOTA_US;
		if (cg.h[i].v2) {
			(void)snprintf(v, sizeof(v), "%" PRIu64 " %d", quota,
			    CPU_PERIOD_US);
			if (cg_write(p->fd[i], file = "cpu.max", v) == -1)
				goto fail;
		} else {
			(void)snprintf(v, sizeof(v), "%d", CPU_PERIOD_US);
			if (cg_write(p->fd[i], file = "cpu.cfs_period_us",
			    v) == -1)
				goto fail;
			(void)snprintf(v, sizeof(v), "%" PRIu64, quota);
			if (cg_write(p->fd[i], file = "cpu.cfs_quota_us",
			    v) == -1)
				goto fail;
		}
	}
	return 0;
 fail:
	seterr(err, errlen, "%s/%s/%s: %s", cg.h[i].path, p->id, file,
	    strerror(errno));
	return -1;
}

struct pod_cgroup *
pod_cgroup_create(const char *podid, const struct pod_limits *lim,
    char *err, size_t errlen)
{
	static const struct pod_limits none;
	struct pod_cgroup	*p;
	int			 i, saved;

	if (cg.mode == PODCG_NONE) {
		seterr(err, errlen, "cgroups not initialised");
		errno = ENXIO;
		return NULL;
	}
	if (lim == NULL)
		lim = &none;
	if (podid == NULL || !valid_id(podid)) {
		seterr(err, errlen, "invalid pod id");
		errno = EINVAL;
		return NULL;
	}
	/* Never run a pod with a limit we can not enforce. */
	if ((lim->memory != 0 && cg.by[C_MEMORY] == -1) ||
	    (lim->pids != 0 && cg.by[C_PIDS] == -1) ||
	    (lim->cpu_millis != 0 && cg.by[C_CPU] == -1)) {
		i = lim->memory != 0 && cg.by[C_MEMORY] == -1 ? C_MEMORY :
		    lim->pids != 0 && cg.by[C_PIDS] == -1 ? C_PIDS : C_CPU;
		seterr(err, errlen, "%s limit not enforceable: %s",
		    ctrl_names[i], cg.why[i]);
		errno = EOPNOTSUPP;
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		seterr(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	(void)snprintf(p->id, sizeof(p->id), "%s", podid);
	for (i = 0; i < PODCG_MAXH; i++)
		p->fd[i] = -1;
	/* The tracking directory first (see gc_one()). */
	if (dir_make(p, cg.track) == -1) {
		i = cg.track;
		goto mkfail;
	}
	for (i = 0; i < cg.nh; i++)
		if (i != cg.track && dir_make(p, i) == -1)
			goto mkfail;
	if (set_limits(p, lim, err, errlen) == -1)
		goto fail;
	return p;
 mkfail:
	seterr(err, errlen, "mkdir %s/%s: %s", cg.h[i].path, p->id,
	    strerror(errno));
 fail:
	saved = errno;
	(void)pod_remove(p);
	errno = saved;
	return NULL;
}

/*
 * The pod's first process joins its cgroups without anyone migrating
 * it.  A pid written to cgroup.procs takes the kernel's global
 * cgroup_threadgroup_rwsem for writing, which first waits for an RCU
 * grace period (4-17 ms here) unless the host mounts cgroup2 with
 * favordynmods; that wait would sit on every pod's start-up.  Two ways
 * in take no such lock: clone3(CLONE_INTO_CGROUP) creates the process
 * in a v2 cgroup (*v2fd, the pod's directory there), and a single
 * thread moving itself, "0" written to a v1 hierarchy's `tasks`, takes
 * only cgroup_mutex (pod init is single-threaded when it does it, so
 * the thread is the process).  tasks[] gets, per other hierarchy, its
 * `tasks` file opened for writing here: the kernel checks the opener's
 * credentials, the sandbox's, not the writer's.  *v2fd is -1 on a host
 * without cgroup v2, where the tracking hierarchy is a v1 one and has
 * its `tasks` in tasks[] too.  Returns the number of tasks[], or -1.
 */
int
pod_cgroup_spawn_fds(const struct pod_cgroup *p, int *v2fd, int *tasks,
    size_t ntasks)
{
	size_t	n = 0;
	int	i, saved;

	*v2fd = -1;
	if (p == NULL) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < cg.nh; i++) {
		if (p->fd[i] == -1)
			continue;
		if (cg.h[i].v2) {
			/* A new open file, not a dup: the pod's holds
			 * its flock. */
			if ((*v2fd = openat(p->fd[i], ".", DIR_FLAGS)) == -1)
				goto fail;
			continue;
		}
		if (n == ntasks) {
			errno = E2BIG;
			goto fail;
		}
		if ((tasks[n] = openat(p->fd[i], "tasks", O_WRONLY |
		    O_CLOEXEC)) == -1)
			goto fail;
		n++;
	}
	return (int)n;
 fail:
	saved = errno;
	if (*v2fd != -1)
		close(*v2fd);
	*v2fd = -1;
	while (n > 0)
		close(tasks[--n]);
	errno = saved;
	return -1;
}

/*
 * In the pod's first process: join the v1 hierarchies through the
 * `tasks` files from pod_cgroup_spawn_fds(), and the v2 one through its
 * directory when clone3 could not put us there (v2dirfd, else -1; a
 * kernel before 5.7: the global lock's wait then).
 */
int
pod_cgroup_join(int v2dirfd, const int *tasks, size_t ntasks)
{
	size_t	i;

	if (v2dirfd != -1 && cg_write(v2dirfd, "cgroup.procs", "0") == -1)
		return -1;
	for (i = 0; i < ntasks; i++)
		if (write(tasks[i], "0", 1) != 1)
			return -1;
	return 0;
}

uint64_t
pod_cgroup_id(const struct pod_cgroup *p)
{
	return p == NULL ? 0 : p->cgid;
}

int
pod_cgroup_fd(const struct pod_cgroup *p)
{
	if (p == NULL || cg.v2 == -1)
		return -1;
	return p->fd[cg.v2];
}

int
pod_cgroup_populated(struct pod_cgroup *p)
{
	uint64_t	v;
	int		i, n;

	if (p == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (cg.v2 != -1 && p->fd[cg.v2] != -1) {
		if (cg_key(p->fd[cg.v2], "cgroup.events", "populated", &v) ==
		    -1)
			return -1;
		return v != 0;
	}
	for (i = 0; i < cg.nh; i++) {
		if (p->fd[i] == -1)
			continue;
		if ((n = procs_foreach(p->fd[i], NULL, NULL)) == -1)
			return -1;
		if (n > 0)
			return 1;
	}
	return 0;
}

/* on: freeze the pod (v2 cgroup.freeze, else the v1 freezer). */
static int
freeze(struct pod_cgroup *p, int on)
{
	int	i;

	if (cg.v2 != -1 && p->fd[cg.v2] != -1 && cg.v2freeze)
		return cg_write(p->fd[cg.v2], "cgroup.freeze", on ? "1" : "0");
	if ((i = cg.by[C_FREEZER]) != -1 && p->fd[i] != -1)
		return cg_write(p->fd[i], "freezer.state",
		    on ? "FROZEN" : "THAWED");
	errno = EOPNOTSUPP;
	return -1;
}

/* Wait (briefly) for a freeze to finish, so that no one forks. */
static void
frozen_wait(struct pod_cgroup *p)
{
	char		buf[64];
	uint64_t	v;
	int		i, ms;

	for (ms = 0; ms < 100; ms++) {
		if (cg.v2 != -1 && p->fd[cg.v2] != -1 && cg.v2freeze) {
			if (cg_key(p->fd[cg.v2], "cgroup.events", "frozen",
			    &v) == -1 || v != 0)
				return;
		} else if ((i = cg.by[C_FREEZER]) != -1 && p->fd[i] != -1) {
			if (cg_read(p->fd[i], "freezer.state", buf,
			    sizeof(buf)) == -1 ||
			    strncmp(buf, "FROZEN", 6) == 0)
				return;
		} else
			return;
		msleep(1);
	}
}

/*
 * Without cgroup.kill: freeze, SIGKILL every pid of every directory
 * of the pod, thaw (a v1-frozen task dies when thawed), until none is
 * listed.  Frozen, a pod can not fork new pids in between; without a
 * freezer the repetition has to catch them.
 */
static int
kill_fallback(struct pod_cgroup *p)
{
	int	pass, i, n, total, froze;

	for (pass = 0; pass < 50; pass++) {
		froze = freeze(p, 1) == 0;
		if (froze)
			frozen_wait(p);
		for (total = 0, i = 0; i < cg.nh; i++)
			if (p->fd[i] != -1 &&
			    (n = procs_foreach(p->fd[i], kill_one, NULL)) > 0)
				total += n;
		if (froze)
			(void)freeze(p, 0);
		if (total == 0)
			return 0;
		msleep(pass < 10 ? 1 : 10);
	}
	return 0;
}

int
pod_cgroup_kill(struct pod_cgroup *p)
{
	if (p == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (cg.v2kill && p->fd[cg.v2] != -1)
		return cg_write(p->fd[cg.v2], "cgroup.kill", "1");
	return kill_fallback(p);
}

enum pod_limit_hit
pod_cgroup_limit_hit(struct pod_cgroup *p)
{
	uint64_t	v;
	int		i;

	if (p == NULL)
		return LIMIT_NONE;
	if ((i = cg.by[C_MEMORY]) != -1 && p->fd[i] != -1) {
		if (cg.h[i].v2) {
			if (cg_key(p->fd[i], "memory.events", "oom_kill",
			    &v) == 0 && v > 0)
				return LIMIT_MEMORY;
		} else if (cg_key(p->fd[i], "memory.oom_control", "oom_kill",
		    &v) == 0) {
			if (v > 0)
				return LIMIT_MEMORY;
		} else if (cg_key(p->fd[i], "memory.oom_control",
		    "under_oom", &v) == 0 && v > 0)
			return LIMIT_MEMORY;	/* kernels before 4.13 */
	}
	if ((i = cg.by[C_PIDS]) != -1 && p->fd[i] != -1 &&
	    cg_key(p->fd[i], "pids.events", "max", &v) == 0 && v > 0)
		return LIMIT_PIDS;
	return LIMIT_NONE;
}

/* A number of the pod's memory controller, by its v2 or v1 name. */
static uint64_t
memory_value(struct pod_cgroup *p, const char *v2, const char *v1)
{
	char	buf[64];
	int	i;

	if (p == NULL || (i = cg.by[C_MEMORY]) == -1 || p->fd[i] == -1)
		return 0;
	if (cg_read(p->fd[i], cg.h[i].v2 ? v2 : v1, buf, sizeof(buf)) == -1)
		return 0;
	return strtoull(buf, NULL, 10);
}

uint64_t
pod_cgroup_memory_current(struct pod_cgroup *p)
{
	return memory_value(p, "memory.current", "memory.usage_in_bytes");
}

/* The most the pod used so far: 0 where the kernel does not say. */
uint64_t
pod_cgroup_memory_peak(struct pod_cgroup *p)
{
	return memory_value(p, "memory.peak", "memory.max_usage_in_bytes");
}

/* rmdir parent/id, waiting a little while it is busy. */
static int
rmdir_one(int parentfd, const char *id)
{
	unsigned int	waited = 0, step = 1;

	for (;;) {
		if (unlinkat(parentfd, id, AT_REMOVEDIR) == 0 ||
		    errno == ENOENT)
			return 0;
		if (errno != EBUSY || waited >= RMDIR_WAIT_MS)
			return -1;
		/* Emptying takes about a millisecond: look again soon. */
		msleep(step);
		waited += step;
	}
}

/* Kill, wait until empty, remove every directory, close, free. */
static int
pod_remove(struct pod_cgroup *p)
{
	unsigned int	waited = 0, step = 1, lastkill = 0;
	int		i, rv = 0;

	if (pod_cgroup_populated(p) != 0) {
		(void)pod_cgroup_kill(p);
		while (pod_cgroup_populated(p) == 1 &&
		    waited < DESTROY_WAIT_MS) {
			msleep(step);
			waited += step;
			if (waited - lastkill >= 200) {
				(void)pod_cgroup_kill(p);
				lastkill = waited;
			}
		}
	}
	/* The locked tracking directory goes last (see gc_one()). */
	for (i = 0; i < cg.nh; i++)
		if (i != cg.track && p->fd[i] != -1 &&
		    rmdir_one(cg.h[i].fd, p->id) == -1) {
			log_warn("cgroup: rmdir %s/%s", cg.h[i].path, p->id);
			rv = -1;
		}
	if (p->fd[cg.track] != -1 && rmdir_one(cg.h[cg.track].fd,
	    p->id) == -1) {
		log_warn("cgroup: rmdir %s/%s", cg.h[cg.track].path, p->id);
		rv = -1;
	}
	for (i = 0; i < PODCG_MAXH; i++)
		if (p->fd[i] != -1)
			(void)close(p->fd[i]);
	free(p);
	return rv;
}

int
pod_cgroup_destroy(struct pod_cgroup *p)
{
	if (p == NULL)
		return 0;
	return pod_remove(p);
}

/*
 * Remove the pod cgroup "name" if its podrunner is gone: every
 * directory of a live pod is locked (by the struct pod_cgroup's fds).
 * The tracking directory is made (and locked) first and removed last,
 * so it is looked at last: if it is gone, the others are leftovers.
 * Every directory is checked, not only the tracking one, so that a
 * podrunner that tracks in another hierarchy (a v1-only view of a
 * mixed host) never takes a live pod for a dead one.
 * Returns 1 removed, 0 alive or absent, -1 failed.
 */
static int
gc_one(const char *name)
{
	struct pod_cgroup	*p;
	int			 i, k, any = 0;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	(void)snprintf(p->id, sizeof(p->id), "%s", name);
	for (i = 0; i < PODCG_MAXH; i++)
		p->fd[i] = -1;
	for (k = 0; k <= cg.nh; k++) {
		/* the others in order, then the tracking one */
		if ((i = k == cg.nh ? cg.track : k) == cg.track && k != cg.nh)
			continue;
		if ((p->fd[i] = openat(cg.h[i].fd, name, DIR_FLAGS)) == -1)
			continue;
		any = 1;
		if (flock(p->fd[i], LOCK_EX | LOCK_NB) == -1)
			goto alive;
	}
	if (!any)
		goto alive;
	log_info("cgroup: removing the stale pod cgroup %s%s", name,
	    pod_cgroup_populated(p) == 1 ? " and its processes" : "");
	return pod_remove(p) == 0 ? 1 : -1;
 alive:
	for (i = 0; i < PODCG_MAXH; i++)
		if (p->fd[i] != -1)
			(void)close(p->fd[i]);
	free(p);
	return 0;
}

int
pod_cgroup_gc(void)
{
	struct dirent	*de;
	DIR		*d;
	char		(*names)[PODCG_IDMAX + 1] = NULL;
	char		(*t)[PODCG_IDMAX + 1];
	size_t		 n = 0, j;
	int		 i, fd, removed = 0, failed = 0;

	if (cg.mode == PODCG_NONE) {
		errno = ENXIO;
		return -1;
	}
	parents_fresh();
	for (i = 0; i < cg.nh; i++) {
		if ((fd = openat(cg.h[i].fd, ".", DIR_FLAGS)) == -1)
			continue;
		if ((d = fdopendir(fd)) == NULL) {
			(void)close(fd);
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			if ((de->d_type != DT_DIR &&
			    de->d_type != DT_UNKNOWN) || !valid_id(de->d_name))
				continue;
			for (j = 0; j < n; j++)
				if (strcmp(names[j], de->d_name) == 0)
					break;
			if (j < n)
				continue;
			if ((t = reallocarray(names, n + 1,
			    sizeof(*names))) == NULL)
				break;
			names = t;
			/* valid_id(): at most PODCG_IDMAX bytes */
			memcpy(names[n++], de->d_name, strlen(de->d_name) + 1);
		}
		(void)closedir(d);
	}
	for (j = 0; j < n; j++)
		switch (gc_one(names[j])) {
		case 1:
			removed++;
			break;
		case -1:
			failed++;
			break;
		}
	free(names);
	if (failed > 0 && removed == 0) {
		errno = EBUSY;
		return -1;
	}
	return removed;
}
