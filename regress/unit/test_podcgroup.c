/*
 * sandbox/podcgroup: pod cgroups on the real kernel (needs root).
 *
 * Each limit is proved by its effect on a forked child attached to a
 * pod: the memory limit OOM-kills a child that touches more (and the
 * same child runs to the end without it), the pids limit makes fork
 * fail with EAGAIN, the cpu quota throttles.  Kill, destroy, gc and
 * two pods at once are checked against the file system, through paths
 * this test works out for itself from /proc/self/mountinfo and
 * /proc/self/cgroup, so that it also proves where the module put them
 * (beneath our current cgroup, in every hierarchy).
 *
 * The tests run four times: as the host is (mixed v1/v2 here), with
 * cgroup.kill ignored (the v2 freezer fallback), as on a v1-only host
 * (the v1 freezer fallback, no ids) and as on a pure v2 host (which
 * here means without limits: v2 has none of the controllers; the
 * limits are then refused).
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/sched.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "podcgroup.h"

#define MiB		(1024UL * 1024UL)
#define MAXMNT		16
#define NOBODY		65534

/* A cgroup mount and our cgroup in it, found independently. */
struct tmnt {
	int	 v2;
	char	 opts[256];		/* super options */
	char	 parent[PATH_MAX];	/* <mount><our path>/podrunner */
};

static struct tmnt	 mnts[MAXMNT];
static int		 nmnts;
static unsigned int	 init_flags;

static void
msleep(unsigned int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
has_item(const char *list, const char *word)
{
	size_t		 len = strlen(word);
	const char	*p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ',') &&
		    (p[len] == '\0' || p[len] == ','))
			return 1;
		p += len;
	}
	return 0;
}

/* Our cgroup path for a v1 mount with these options, or v2's. */
static int
self_cgroup(int v2, const char *opts, char *path, size_t len)
{
	FILE	*f;
	char	 line[1024], *c1, *c2, *tok, *save;
	int	 found = 0;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((c1 = strchr(line, ':')) == NULL ||
		    (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		*c1++ = '\0';
		*c2++ = '\0';
		if (v2) {
			if (strcmp(line, "0") == 0 && *c1 == '\0')
				found = 1;
		} else if (*c1 != '\0') {
			found = 1;
			for (tok = strtok_r(c1, ",", &save); tok != NULL;
			    tok = strtok_r(NULL, ",", &save))
				if (!has_item(opts, tok))
					found = 0;
		}
		if (found)
			(void)snprintf(path, len, "%s", c2);
	}
	fclose(f);
	return found ? 0 : -1;
}

/* Every cgroup and cgroup2 mount, with where our podrunner parent is. */
static void
find_mounts(void)
{
	FILE	*f;
	char	 line[4096], *fld[64], *s, *save, cgpath[PATH_MAX];
	char	 rel[PATH_MAX];
	int	 nf, i, sep;

	nmnts = 0;
	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		fail_msg("/proc/self/mountinfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL && nmnts < MAXMNT) {
		line[strcspn(line, "\n")] = '\0';
		for (nf = 0, s = strtok_r(line, " ", &save); s != NULL &&
		    nf < 64; s = strtok_r(NULL, " ", &save))
			fld[nf++] = s;
		for (sep = -1, i = 6; i < nf; i++)
			if (strcmp(fld[i], "-") == 0) {
				sep = i;
				break;
			}
		if (sep == -1 || sep + 3 >= nf || (strcmp(fld[sep + 1],
		    "cgroup") != 0 && strcmp(fld[sep + 1], "cgroup2") != 0))
			continue;
		mnts[nmnts].v2 = strcmp(fld[sep + 1], "cgroup2") == 0;
		(void)snprintf(mnts[nmnts].opts, sizeof(mnts[nmnts].opts),
		    "%s", fld[sep + 3]);
		if (self_cgroup(mnts[nmnts].v2, mnts[nmnts].opts, cgpath,
		    sizeof(cgpath)) == -1)
			continue;
		/* cgpath relative to the mount's root */
		if (strcmp(fld[3], "/") == 0)
			(void)snprintf(rel, sizeof(rel), "%s", cgpath);
		else
			(void)snprintf(rel, sizeof(rel), "%s",
			    cgpath + strlen(fld[3]));
		if (strcmp(rel, "/") == 0)
			rel[0] = '\0';
		(void)snprintf(mnts[nmnts].parent,
		    sizeof(mnts[nmnts].parent), "%s%s/podrunner", fld[4], rel);
		nmnts++;
	}
	fclose(f);
}

/* The pod's directory in the mount of controller ctrl (NULL: v2). */
static int
pod_dir(const char *ctrl, const char *id, char *buf, size_t len)
{
	int	i;

	for (i = 0; i < nmnts; i++)
		if ((ctrl == NULL && mnts[i].v2) ||
		    (ctrl != NULL && !mnts[i].v2 && has_item(mnts[i].opts,
		    ctrl))) {
			(void)snprintf(buf, len, "%s/%s", mnts[i].parent, id);
			return 0;
		}
	return -1;
}

static int
pod_dirs_left(const char *id)
{
	char		path[PATH_MAX + 80];
	struct stat	st;
	int		i, n = 0;

	for (i = 0; i < nmnts; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", mnts[i].parent,
		    id);
		if (stat(path, &st) == 0) {
			print_message("left behind: %s\n", path);
			n++;
		}
	}
	return n;
}

static int
pod_dirs_present(const char *id)
{
	char		path[PATH_MAX + 80];
	struct stat	st;
	int		i, n = 0;

	for (i = 0; i < nmnts; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", mnts[i].parent,
		    id);
		if (stat(path, &st) == 0)
			n++;
	}
	return n;
}

/*
 * A concurrent podrunner (another run of this test) may be removing a
 * stale pod just as we look: give it a moment to finish.
 */
static int
settled_dirs(const char *id)
{
	int	ms;

	for (ms = 0; ms < 3000 && pod_dirs_present(id) > 0; ms += 10)
		msleep(10);
	return pod_dirs_left(id);
}

/* "key N" from a cgroup file, -1 if absent. */
static long long
file_key(const char *path, const char *key)
{
	FILE		*f;
	char		 line[256];
	size_t		 klen = strlen(key);
	long long	 v = -1;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void
podid(char *buf, size_t len, const char *name)
{
	(void)snprintf(buf, len, "T%d-%s", (int)getpid(), name);
}

static void
reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static int
wait_empty(struct pod_cgroup *p, unsigned int ms)
{
	unsigned int	waited;

	for (waited = 0; waited < ms; waited += 5) {
		if (pod_cgroup_populated(p) == 0)
			return 1;
		msleep(5);
	}
	return 0;
}

/*
 * Fork a child that waits until it is in the pod, then runs fn (which
 * must not return) with the fds in wfd.
 */
typedef void (*child_fn)(int, int);

/*
 * A child in the pod's cgroups the way pod init gets there: created in
 * the v2 one by clone3(CLONE_INTO_CGROUP), joining the v1 ones itself
 * (or, with join_v2, forked where we are and joining v2 too, the path
 * for a kernel without CLONE_INTO_CGROUP).  0 in the child, which has
 * joined (or exited 97), its pid in the parent.
 */
static pid_t
fork_into(struct pod_cgroup *p, int join_v2)
{
	struct clone_args	ca;
	int			tasks[PODCG_SPAWN_MAX], v2fd, n;
	pid_t			pid;

	n = pod_cgroup_spawn_fds(p, &v2fd, tasks, PODCG_SPAWN_MAX);
	if (n == -1)
		fail_msg("spawn fds: %s", strerror(errno));
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	if (v2fd != -1 && !join_v2) {
		ca.flags = CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)v2fd;
	}
	if ((pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca))) == -1)
		fail_msg("clone3: %s", strerror(errno));
	if (pid == 0) {
		if (pod_cgroup_join(join_v2 ? v2fd : -1, tasks, (size_t)n) ==
		    -1)
			_exit(97);
	}
	if (v2fd != -1)
		(void)close(v2fd);
	while (n > 0)
		(void)close(tasks[--n]);
	return pid;
}

/*
 * A child in p running fn(a, b), returned once it has joined every
 * hierarchy (it says so on a pipe): joining takes the kernel's cgroup
 * locks, and how long that takes is no test's to guess.  join_v2: it
 * joins v2 itself, as on a kernel without CLONE_INTO_CGROUP.
 */
static pid_t
spawn_joined(struct pod_cgroup *p, int join_v2, child_fn fn, int a, int b)
{
	int	fds[2];
	char	c;
	pid_t	pid;

	if (pipe(fds) == -1)
		fail_msg("pipe: %s", strerror(errno));
	if ((pid = fork_into(p, join_v2)) == 0) {
		(void)close(fds[0]);
		if (write(fds[1], "j", 1) != 1)
			_exit(96);
		(void)close(fds[1]);
		fn(a, b);
		_exit(98);
	}
	(void)close(fds[1]);
	if (read(fds[0], &c, 1) != 1)
		fail_msg("the child did not join its cgroups");
	(void)close(fds[0]);
	return pid;
}

static pid_t
spawn_in(struct pod_cgroup *p, child_fn fn, int a, int b)
{
	return spawn_joined(p, 0, fn, a, b);
}

static int
child_status(pid_t pid)
{
	int	status;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			fail_msg("waitpid: %s", strerror(errno));
	return status;
}

/* --- children ----------------------------------------------------- */

/* Touch bytes of fresh memory (8 MiB first, then report, then all). */
static void
child_touch(int mib, int wfd)
{
	volatile char	*m;
	size_t		 i, len = (size_t)mib * MiB;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(2);
	for (i = 0; i < len; i += 4096) {
		m[i] = 1;
		if (i == 8 * MiB && wfd != -1) {
			(void)!write(wfd, "m", 1);
			msleep(50);
		}
	}
	_exit(0);
}

/* Fork until it fails; report the count and errno; then wait. */
static void
child_forks(int max, int wfd)
{
	int	n, res[2];
	pid_t	pid;

	for (n = 0; n < max; n++) {
		if ((pid = fork()) == -1)
			break;
		if (pid == 0)
			for (;;)
				pause();
	}
	res[0] = n;
	res[1] = n < max ? errno : 0;
	(void)!write(wfd, res, sizeof(res));
	for (;;)
		pause();
}

static void
child_spin(int a, int b)
{
	volatile unsigned long	x = 0;

	(void)a;
	(void)b;
	for (;;)
		x++;
}

static void
child_sleep(int nkids, int b)
{
	int	i;

	(void)b;
	for (i = 0; i < nkids; i++)
		if (fork() == 0)
			break;
	for (;;)
		pause();
}

/* --- setup ---------------------------------------------------------- */

static int
group_setup(unsigned int flags)
{
	char	err[512];

	init_flags = flags;
	find_mounts();
	if (pod_cgroup_init_flags(flags, err, sizeof(err)) == -1) {
		print_error("pod_cgroup_init: %s\n", err);
		return -1;
	}
	print_message("mode: %s, features 0x%x\n",
	    pod_cgroup_mode_name(pod_cgroup_mode()), pod_cgroup_features());
	return 0;
}

static int
setup_host(void **state)
{
	(void)state;
	return group_setup(0);
}

static int
setup_nokill(void **state)
{
	(void)state;
	return group_setup(PODCG_INIT_NO_KILL);
}

static int
setup_v1only(void **state)
{
	(void)state;
	return group_setup(PODCG_INIT_NO_V2);
}

static int
setup_v2only(void **state)
{
	(void)state;
	return group_setup(PODCG_INIT_NO_V1);
}

static int
group_teardown(void **state)
{
	(void)state;
	reap_all();
	/* Leave no parent behind on this machine (podrunner itself does). */
	pod_cgroup_fini(1);
	return 0;
}

static void
need(unsigned int feature)
{
	if (!(pod_cgroup_features() & feature)) {
		print_message("skipped: %s\n", pod_cgroup_why(feature));
		skip();
	}
}

/* The limits of lim that this host can enforce. */
static const struct pod_limits *
enforceable(struct pod_limits *lim)
{
	unsigned int	f = pod_cgroup_features();

	if (!(f & PODCG_F_MEMORY))
		lim->memory = 0;
	if (!(f & PODCG_F_PIDS))
		lim->pids = 0;
	if (!(f & PODCG_F_CPU))
		lim->cpu_millis = 0;
	return lim;
}

/* --- tests ---------------------------------------------------------- */

static void
test_mode(void **state)
{
	unsigned int	f = pod_cgroup_features();

	(void)state;
	if (init_flags & PODCG_INIT_NO_V2) {
		assert_int_equal(pod_cgroup_mode(), PODCG_V1);
		assert_false(f & PODCG_F_ID);
		assert_false(f & PODCG_F_KILL);
		assert_true(f & PODCG_F_FREEZE);
	} else if (init_flags & PODCG_INIT_NO_V1) {
		assert_int_equal(pod_cgroup_mode(), PODCG_V2);
		assert_true(f & PODCG_F_ID);
	} else {
		assert_true(pod_cgroup_mode() == PODCG_MIXED ||
		    pod_cgroup_mode() == PODCG_V2);
		assert_true(f & PODCG_F_ID);
		if (init_flags & PODCG_INIT_NO_KILL)
			assert_false(f & PODCG_F_KILL);
	}
}

static void
test_bad_ids(void **state)
{
	char	err[256];

	(void)state;
	assert_null(pod_cgroup_create("", NULL, err, sizeof(err)));
	assert_null(pod_cgroup_create("..", NULL, err, sizeof(err)));
	assert_null(pod_cgroup_create("a/b", NULL, err, sizeof(err)));
	assert_null(pod_cgroup_create("cgroup.procs", NULL, err,
	    sizeof(err)));
	assert_null(pod_cgroup_create("x123456789012345678901234567890"
	    "12345678901234567890123456789012345", NULL, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
}

/* A limit the host can not enforce is refused, never ignored. */
static void
test_unenforceable(void **state)
{
	static const struct {
		unsigned int		feature;
		struct pod_limits	lim;
	} t[] = {
		{ PODCG_F_MEMORY, { 64 * MiB, 0, 0 } },
		{ PODCG_F_PIDS, { 0, 0, 10 } },
		{ PODCG_F_CPU, { 0, 500, 0 } },
	};
	char	id[64], err[512];
	size_t	i;
	int	tried = 0;

	(void)state;
	podid(id, sizeof(id), "refused");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (pod_cgroup_features() & t[i].feature)
			continue;
		tried++;
		err[0] = '\0';
		assert_null(pod_cgroup_create(id, &t[i].lim, err,
		    sizeof(err)));
		assert_int_equal(errno, EOPNOTSUPP);
		print_message("refused: %s\n", err);
		assert_non_null(strstr(err, "not enforceable"));
		assert_int_equal(pod_dirs_left(id), 0);
	}
	if (tried == 0)
		skip();
}

/* Where the directories are, their id, owner, and that destroy removes
 * them in every hierarchy. */
static void
test_layout(void **state)
{
	struct pod_limits	 lim = { 64 * MiB, 500, 10 };
	struct pod_cgroup	*p;
	struct stat		 st, fst;
	char			 id[64], err[512], path[PATH_MAX + 80];
	struct {
		struct file_handle	fh;
		unsigned char		buf[16];
	} h;
	uint64_t		 cgid;
	int			 mnt_id, n, i;

	(void)state;
	podid(id, sizeof(id), "layout");
	if ((p = pod_cgroup_create(id, enforceable(&lim), err,
	    sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	/* v2 and v1 memory, pids, cpu here (+ freezer on v1 only) */
	n = pod_dirs_present(id);
	print_message("%d directories\n", n);
	assert_true(n >= (pod_cgroup_mode() == PODCG_V2 ? 1 : 3));
	if (pod_cgroup_features() & PODCG_F_ID) {
		assert_int_equal(pod_dir(NULL, id, path, sizeof(path)), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(pod_cgroup_id(p), (uint64_t)st.st_ino);
		assert_int_equal(fstat(pod_cgroup_fd(p), &fst), 0);
		assert_int_equal(fst.st_ino, st.st_ino);
		/* The kernel's own idea of the cgroup id. */
		h.fh.handle_bytes = sizeof(h.buf);
		assert_int_equal(name_to_handle_at(AT_FDCWD, path, &h.fh,
		    &mnt_id, 0), 0);
		memcpy(&cgid, h.fh.f_handle, sizeof(cgid));
		assert_int_equal(pod_cgroup_id(p), cgid);
	} else {
		assert_int_equal(pod_cgroup_id(p), 0);
		assert_int_equal(pod_cgroup_fd(p), -1);
	}
	/* root-owned, not writable by others */
	for (i = 0; i < nmnts; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", mnts[i].parent,
		    id);
		if (stat(path, &st) == -1)
			continue;
		assert_int_equal(st.st_uid, 0);
		assert_int_equal(st.st_mode & 022, 0);
	}
	/* the limits as written */
	if (pod_dir("memory", id, path, sizeof(path)) == 0)
		(void)strncat(path, "/memory.limit_in_bytes",
		    sizeof(path) - strlen(path) - 1);
	if (access(path, F_OK) == 0) {
		FILE	*f = fopen(path, "re");
		unsigned long long v = 0;

		assert_non_null(f);
		assert_int_equal(fscanf(f, "%llu", &v), 1);
		fclose(f);
		assert_int_equal(v, lim.memory);
	}
	assert_int_equal(pod_cgroup_populated(p), 0);
	assert_int_equal(pod_cgroup_limit_hit(p), LIMIT_NONE);
	assert_int_equal(pod_cgroup_destroy(p), 0);
	assert_int_equal(pod_dirs_left(id), 0);
}

static void
test_memory(void **state)
{
	struct pod_limits	 lim = { 32 * MiB, 0, 0 };
	struct pod_cgroup	*p;
	char			 id[64], err[512], c;
	uint64_t		 cur;
	int			 status, pfd[2];
	pid_t			 pid;

	(void)state;
	need(PODCG_F_MEMORY);
	/* With the limit: touching 64 MiB is an OOM kill. */
	podid(id, sizeof(id), "mem");
	if ((p = pod_cgroup_create(id, &lim, err, sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	assert_int_equal(pipe(pfd), 0);
	pid = spawn_in(p, child_touch, 64, pfd[1]);
	(void)close(pfd[1]);
	/* At 8 MiB the child says so: memory_current sees it. */
	assert_int_equal(read(pfd[0], &c, 1), 1);
	cur = pod_cgroup_memory_current(p);
	print_message("memory_current at 8 MiB touched: %llu\n",
	    (unsigned long long)cur);
	assert_true(cur >= 8 * MiB);
	assert_true(cur <= 32 * MiB);
	(void)close(pfd[0]);
	status = child_status(pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(pod_cgroup_limit_hit(p), LIMIT_MEMORY);
	assert_int_equal(pod_cgroup_destroy(p), 0);
	assert_int_equal(pod_dirs_left(id), 0);

	/* Without it the same child runs to the end. */
	lim.memory = 0;
	podid(id, sizeof(id), "nomem");
	if ((p = pod_cgroup_create(id, &lim, err, sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	pid = spawn_in(p, child_touch, 64, -1);
	status = child_status(pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(pod_cgroup_limit_hit(p), LIMIT_NONE);
	assert_int_equal(pod_cgroup_destroy(p), 0);
	assert_int_equal(pod_dirs_left(id), 0);
}

static void
test_pids(void **state)
{
	struct pod_limits	 lim = { 0, 0, 4 };
	struct pod_cgroup	*p;
	char			 id[64], err[512];
	int			 res[2], pfd[2], status;
	pid_t			 pid;

	(void)state;
	need(PODCG_F_PIDS);
	podid(id, sizeof(id), "pids");
	if ((p = pod_cgroup_create(id, &lim, err, sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	assert_int_equal(pod_cgroup_limit_hit(p), LIMIT_NONE);
	assert_int_equal(pipe(pfd), 0);
	pid = spawn_in(p, child_forks, 16, pfd[1]);
	(void)close(pfd[1]);
	assert_int_equal(read(pfd[0], res, sizeof(res)), sizeof(res));
	(void)close(pfd[0]);
	print_message("forks before failing: %d (%s)\n", res[0],
	    strerror(res[1]));
	/* The child itself is one of the 4. */
	assert_int_equal(res[0], 3);
	assert_int_equal(res[1], EAGAIN);
	assert_int_equal(pod_cgroup_limit_hit(p), LIMIT_PIDS);
	assert_int_equal(pod_cgroup_kill(p), 0);
	assert_true(wait_empty(p, 5000));
	status = child_status(pid);
	assert_true(WIFSIGNALED(status));
	reap_all();
	assert_int_equal(pod_cgroup_destroy(p), 0);
	assert_int_equal(pod_dirs_left(id), 0);
}

static void
test_cpu(void **state)
{
	struct pod_limits	 lim = { 0, 50, 0 };
	struct pod_cgroup	*p;
	char			 id[64], err[512], path[PATH_MAX + 80];
	long long		 thr = -1;
	int			 i, waited;
	pid_t			 pid;

	(void)state;
	need(PODCG_F_CPU);
	podid(id, sizeof(id), "cpu");
	if ((p = pod_cgroup_create(id, &lim, err, sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	pid = spawn_in(p, child_spin, 0, 0);
	/* Whichever hierarchy has the cpu controller counts throttling. */
	for (waited = 0; waited < 20000; waited += 20) {
		for (i = 0; i < nmnts; i++) {
			(void)snprintf(path, sizeof(path), "%s/%s/cpu.stat",
			    mnts[i].parent, id);
			if ((thr = file_key(path, "nr_throttled")) > 0)
				break;
		}
		if (thr > 0)
			break;
		msleep(20);
	}
	print_message("nr_throttled %lld (%s) after ~%d ms\n", thr, path,
	    waited);
	assert_true(thr > 0);
	assert_int_equal(pod_cgroup_destroy(p), 0);
	(void)child_status(pid);
	assert_int_equal(pod_dirs_left(id), 0);
}

static void
test_kill(void **state)
{
	struct pod_cgroup	*p;
	char			 id[64], err[512];
	int			 status;
	pid_t			 pid;

	(void)state;
	podid(id, sizeof(id), "kill");
	if ((p = pod_cgroup_create(id, NULL, err, sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	assert_int_equal(pod_cgroup_populated(p), 0);
	pid = spawn_in(p, child_sleep, 3, 0);
	msleep(50);
	assert_int_equal(pod_cgroup_populated(p), 1);
	assert_int_equal(pod_cgroup_kill(p), 0);
	assert_true(wait_empty(p, 5000));
	assert_int_equal(pod_cgroup_populated(p), 0);
	status = child_status(pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	reap_all();
	assert_int_equal(pod_cgroup_destroy(p), 0);
	assert_int_equal(pod_dirs_left(id), 0);
}

/* destroy with processes still running (and not yet reaped). */
static void
test_destroy_busy(void **state)
{
	struct pod_limits	 lim = { 64 * MiB, 200, 20 };
	struct pod_cgroup	*p;
	char			 id[64], err[512];
	int			 status;
	pid_t			 pid;

	(void)state;
	podid(id, sizeof(id), "destroy");
	if ((p = pod_cgroup_create(id, enforceable(&lim), err,
	    sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	pid = spawn_in(p, child_sleep, 2, 0);
	msleep(50);
	assert_int_equal(pod_dirs_present(id) > 0, 1);
	assert_int_equal(pod_cgroup_destroy(p), 0);
	assert_int_equal(pod_dirs_left(id), 0);
	status = child_status(pid);
	assert_true(WIFSIGNALED(status));
	reap_all();
}

/* A dead podrunner's empty pod cgroup. */
static void
test_gc_empty(void **state)
{
	char	id[64], err[512];
	int	status, n, present;
	pid_t	pid;

	(void)state;
	podid(id, sizeof(id), "gcempty");
	if ((pid = fork()) == 0)
		_exit(pod_cgroup_create(id, NULL, err, sizeof(err)) == NULL);
	status = child_status(pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* A concurrent podrunner's gc may be quicker than ours. */
	present = pod_dirs_present(id);
	n = pod_cgroup_gc();
	if (present > 0 && n < 1)
		print_message("removed by another gc meanwhile\n");
	assert_int_equal(settled_dirs(id), 0);
}

/* A dead podrunner's pod with a process still in it. */
static void
test_gc_orphan(void **state)
{
	struct pod_limits	 lim = { 0, 0, 8 };
	char			 id[64], err[512];
	int			 status, pfd[2];
	pid_t			 pid, orphan = 0;

	(void)state;
	podid(id, sizeof(id), "gcorphan");
	assert_int_equal(pipe(pfd), 0);
	if ((pid = fork()) == 0) {
		struct pod_cgroup	*p;
		pid_t			 g;

		if ((p = pod_cgroup_create(id, enforceable(&lim), err,
		    sizeof(err))) == NULL)
			_exit(1);
		if ((g = fork_into(p, 0)) == 0) {
			/* As a pod must: no fd of the supervisor's. */
			(void)close_range(3, pfd[1] - 1, 0);
			(void)close_range(pfd[1] + 1, ~0U, 0);
			g = getpid();
			(void)!write(pfd[1], &g, sizeof(g));
			(void)close(pfd[1]);
			for (;;)
				pause();
		}
		_exit(0);
	}
	(void)close(pfd[1]);
	/* the pod's creator is gone, and the orphan holds none of its fds */
	status = child_status(pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(read(pfd[0], &orphan, sizeof(orphan)),
	    sizeof(orphan));
	(void)close(pfd[0]);
	/* (A concurrent podrunner's gc may be quicker than ours.) */
	if (pod_cgroup_gc() < 1)
		print_message("removed by another gc meanwhile\n");
	assert_int_equal(settled_dirs(id), 0);
	/* We are the subreaper: the orphan was killed. */
	status = child_status(orphan);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* gc leaves a live pod (its lock is held) alone. */
static void
test_gc_live(void **state)
{
	struct pod_cgroup	*p, *q;
	char			 id[64], err[512];
	int			 before;

	(void)state;
	podid(id, sizeof(id), "gclive");
	if ((p = pod_cgroup_create(id, NULL, err, sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	before = pod_dirs_present(id);
	(void)pod_cgroup_gc();
	assert_int_equal(pod_dirs_present(id), before);
	/* Nor does a second create take over its name. */
	q = pod_cgroup_create(id, NULL, err, sizeof(err));
	assert_null(q);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(pod_dirs_present(id), before);
	assert_int_equal(pod_cgroup_destroy(p), 0);
	assert_int_equal(pod_dirs_left(id), 0);
}

/*
 * The hierarchies pid is in its pod id's cgroup in, beneath ours
 * ("id:ctrls:<our path>/podrunner/<id>"); every other line must be ours.
 */
static int
pod_lines(pid_t pid, const char *id, const char *other)
{
	char	 mine[32][512], line[512], want[600], path[64];
	FILE	*f;
	int	 n = 0, i, moved = 0;

	assert_non_null(f = fopen("/proc/self/cgroup", "re"));
	while (n < 32 && fgets(mine[n], sizeof(mine[n]), f) != NULL) {
		mine[n][strcspn(mine[n], "\n")] = '\0';
		n++;
	}
	fclose(f);
	(void)snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	assert_non_null(f = fopen(path, "re"));
	for (i = 0; i < n && fgets(line, sizeof(line), f) != NULL; i++) {
		line[strcspn(line, "\n")] = '\0';
		assert_null(strstr(line, other));
		if (strcmp(line, mine[i]) == 0)
			continue;
		(void)snprintf(want, sizeof(want), "%s%spodrunner/%s",
		    mine[i], mine[i][strlen(mine[i]) - 1] == '/' ? "" : "/",
		    id);
		assert_string_equal(line, want);
		moved++;
	}
	fclose(f);
	return moved;
}

/*
 * Two pods at once; a child is in exactly its pod's cgroups, beneath
 * our own cgroup in every hierarchy: one created in the v2 cgroup by
 * clone3, one that joined v2 itself (the older kernel's way); both
 * joined the v1 ones themselves.
 */
static void
test_two_pods(void **state)
{
	struct pod_limits	 lim = { 64 * MiB, 0, 10 };
	struct pod_cgroup	*a, *b;
	char			 ida[64], idb[64], err[512];
	int			 moved;
	pid_t			 pa, pb;

	(void)state;
	podid(ida, sizeof(ida), "podA");
	podid(idb, sizeof(idb), "podB");
	(void)enforceable(&lim);
	if ((a = pod_cgroup_create(ida, &lim, err, sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	if ((b = pod_cgroup_create(idb, &lim, err, sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	if (pod_cgroup_features() & PODCG_F_ID) {
		assert_true(pod_cgroup_id(a) != pod_cgroup_id(b));
		assert_true(pod_cgroup_id(a) != 0);
	}
	pa = spawn_joined(a, 0, child_sleep, 0, 0);
	assert_int_equal(pod_cgroup_populated(a), 1);
	assert_int_equal(pod_cgroup_populated(b), 0);
	pb = spawn_joined(b, 1, child_sleep, 0, 0);
	assert_int_equal(pod_cgroup_populated(b), 1);

	moved = pod_lines(pa, ida, idb);
	print_message("children in %d pod cgroups\n", moved);
	/* in each hierarchy the pod has a directory in, and no other */
	assert_int_equal(moved, pod_dirs_present(ida));
	assert_int_equal(pod_dirs_present(idb), moved);
	assert_int_equal(pod_lines(pb, idb, ida), moved);
	assert_int_equal(pod_cgroup_destroy(a), 0);
	assert_int_equal(pod_cgroup_destroy(b), 0);
	(void)child_status(pa);
	(void)child_status(pb);
	assert_int_equal(pod_dirs_left(ida), 0);
	assert_int_equal(pod_dirs_left(idb), 0);
}

/* The pod's own uid can neither change its limits nor leave. */
static void
test_permissions(void **state)
{
	static const char *files[] = {
		"cgroup.procs", "pids.max", "memory.limit_in_bytes",
		"memory.max", "memory.memsw.limit_in_bytes", "cpu.max",
		"cpu.cfs_quota_us", "cgroup.kill", "cgroup.freeze",
		"freezer.state", "cgroup.subtree_control",
	};
	struct pod_limits	 lim = { 64 * MiB, 500, 10 };
	struct pod_cgroup	*p;
	char			 id[64], err[512];
	static char		 paths[MAXMNT * 16][PATH_MAX + 96];
	char			 subdir[PATH_MAX + 96];
	int			 np = 0, i, status, pfd[2];
	size_t			 j;
	pid_t			 pid;

	(void)state;
	podid(id, sizeof(id), "perm");
	if ((p = pod_cgroup_create(id, enforceable(&lim), err,
	    sizeof(err))) == NULL)
		fail_msg("create: %s", err);
	for (i = 0; i < nmnts; i++) {
		for (j = 0; j < sizeof(files) / sizeof(files[0]); j++)
			(void)snprintf(paths[np++], sizeof(paths[0]),
			    "%s/%s/%s", mnts[i].parent, id, files[j]);
		/* moving out: the parent's and our base's cgroup.procs */
		(void)snprintf(paths[np++], sizeof(paths[0]),
		    "%s/cgroup.procs", mnts[i].parent);
	}
	for (i = 0; i < nmnts; i++) {
		(void)snprintf(subdir, sizeof(subdir), "%s/%s", mnts[i].parent,
		    id);
		if (access(subdir, F_OK) == 0)
			break;
	}
	assert_true(i < nmnts);
	(void)strncat(subdir, "/sub", sizeof(subdir) - strlen(subdir) - 1);
	assert_int_equal(pipe(pfd), 0);
	if ((pid = fork_into(p, 0)) == 0) {
		int	bad = 0, refused = 0, fd;

		(void)close(pfd[0]);
		if (setgroups(0, NULL) == -1 || setgid(NOBODY) == -1 ||
		    setuid(NOBODY) == -1)
			_exit(90);
		for (i = 0; i < np; i++) {
			if ((fd = open(paths[i], O_WRONLY)) != -1) {
				(void)close(fd);
				bad++;
			} else if (errno == EACCES)
				refused++;
			else if (errno != ENOENT)
				bad++;
		}
		/* nor make cgroups of its own below it */
		if (mkdir(subdir, 0755) == 0 || errno != EACCES)
			bad++;
		(void)!write(pfd[1], &refused, sizeof(refused));
		_exit(bad);
	}
	(void)close(pfd[1]);
	status = child_status(pid);
	assert_int_equal(read(pfd[0], &i, sizeof(i)), sizeof(i));
	(void)close(pfd[0]);
	print_message("%d cgroup files refused to the pod's uid\n", i);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* at least cgroup.procs of each directory and of its parent */
	assert_true(i >= 2 * pod_dirs_present(id));
	assert_int_equal(pod_cgroup_destroy(p), 0);
	assert_int_equal(pod_dirs_left(id), 0);
}

/* Nothing of ours is left in any parent. */
static void
test_nothing_left(void **state)
{
	DIR		*d;
	struct dirent	*de;
	char		 prefix[32];
	int		 i, left = 0;

	(void)state;
	(void)snprintf(prefix, sizeof(prefix), "T%d-", (int)getpid());
	for (i = 0; i < nmnts; i++) {
		if ((d = opendir(mnts[i].parent)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
				print_message("left: %s/%s\n", mnts[i].parent,
				    de->d_name);
				left++;
			}
		closedir(d);
	}
	assert_int_equal(left, 0);
}

#define TESTS								\
	cmocka_unit_test(test_mode),					\
	cmocka_unit_test(test_bad_ids),					\
	cmocka_unit_test(test_unenforceable),				\
	cmocka_unit_test(test_layout),					\
	cmocka_unit_test(test_memory),					\
	cmocka_unit_test(test_pids),					\
	cmocka_unit_test(test_cpu),					\
	cmocka_unit_test(test_kill),					\
	cmocka_unit_test(test_destroy_busy),				\
	cmocka_unit_test(test_gc_empty),				\
	cmocka_unit_test(test_gc_orphan),				\
	cmocka_unit_test(test_gc_live),					\
	cmocka_unit_test(test_two_pods),				\
	cmocka_unit_test(test_permissions),				\
	cmocka_unit_test(test_nothing_left)

int
main(void)
{
	const struct CMUnitTest host[] = { TESTS };
	const struct CMUnitTest nokill[] = { TESTS };
	const struct CMUnitTest v1only[] = { TESTS };
	const struct CMUnitTest v2only[] = { TESTS };
	int	rv = 0;

	/* make check-unit stops at the first non-zero exit */
	if (geteuid() != 0) {
		fprintf(stderr, "test_podcgroup: needs root, skipped\n");
		return 0;
	}
	log_init(1, 0);
	/* Orphans of a "dead podrunner" come back to us to be reaped. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		return 1;
	rv += cmocka_run_group_tests_name("podcgroup (host)", host,
	    setup_host, group_teardown);
	rv += cmocka_run_group_tests_name("podcgroup (no cgroup.kill)",
	    nokill, setup_nokill, group_teardown);
	rv += cmocka_run_group_tests_name("podcgroup (as v1 only)", v1only,
	    setup_v1only, group_teardown);
	/* Here v2 has none of the controllers: tracking and kill only. */
	rv += cmocka_run_group_tests_name("podcgroup (as v2 only)", v2only,
	    setup_v2only, group_teardown);
	return rv != 0;
}
