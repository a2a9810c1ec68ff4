/*
 * podcgroup: one cgroup per pod, for its limits (memory, cpu, pids),
 * for tracking (is anything of it still running?), for killing all of
 * it at once and for the id that BPF events are filtered by.
 *
 * Used by the sandbox process, which is root but chrooted: everything
 * under /proc and /sys/fs/cgroup is looked at once, in
 * pod_cgroup_init() before the chroot; afterwards the module only uses
 * the directory fds opened there (openat, mkdirat, unlinkat, fstat,
 * flock), never a path.
 *
 * Which cgroup version does what, per host type
 * ----------------------------------------------
 * The choice is made per controller: a controller mounted in a v1
 * hierarchy can not be used in v2 at the same time, so if it is
 * mounted in v1 it is used there; otherwise, if the v2 hierarchy
 * offers it, there.  The v2 hierarchy, when mounted at all, is always
 * used for the pod's "tracking" cgroup.
 *
 *  pure v2 (PODCG_V2)	everything in v2: memory.max (+ memory.swap.max
 *			0, memory.oom.group 1), pids.max, cpu.max;
 *			cgroup.kill, cgroup.events "populated", the
 *			cgroup id.  The controllers are enabled in the
 *			cgroup.subtree_control of our current cgroup and
 *			of the "podrunner" parent.
 *  mixed (PODCG_MIXED)	(this machine) the limits in the v1 hierarchies
 *			that hold memory, pids and cpu (memory.limit_in_bytes
 *			+ memory.memsw.limit_in_bytes, pids.max,
 *			cpu.cfs_quota_us/cfs_period_us); tracking, kill
 *			and the cgroup id in v2, which needs no
 *			controller for that.  A controller that is
 *			only in v2 on a mixed host is used in v2.
 *  v1 only (PODCG_V1)	everything in v1; the pod is tracked in its v1
 *			freezer cgroup (else pids, memory, cpu), killed by
 *			freezing it and SIGKILLing every pid in
 *			cgroup.procs, "populated" is a non-empty
 *			cgroup.procs; there is no cgroup id (0) and no
 *			pod_cgroup_fd() (-1).
 * Without cgroup.kill (v2 before Linux 5.14) the v2 freezer
 * (cgroup.freeze) or the v1 freezer stands in, as on v1-only hosts.
 *
 * Where the cgroups go
 * --------------------
 * Beneath the cgroup this process is already in (from
 * /proc/self/cgroup and the mounts in /proc/self/mountinfo), in each
 * hierarchy used: <current>/podrunner/<podid> (here: the memory
 * hierarchy's <current> is a pre-made cgroup, the others' the root).
 * The "podrunner" parent holds no process and is shared by every
 * podrunner that runs in the same cgroup; it is left in place when
 * podrunner exits (removing it would race with another instance
 * creating a pod in it; pod_cgroup_fini(1), for tests, removes it if
 * empty, and a podrunner that finds it gone makes it again).
 *
 * The v2 "no internal processes" rule: a non-root v2 cgroup with
 * processes can not enable controllers for its children.  Pods and the
 * parent obey it (processes only in the leaves).  On a pure v2 host,
 * if our current cgroup holds processes and is not the root, the
 * controllers can only be enabled if those processes move out: this
 * is done only when the current cgroup is the root of our cgroup
 * namespace (podrunner as a container's entrypoint), by moving them
 * all into the leaf <current>/podrunner.init (a later start from
 * there uses <current> again).  Anywhere else (e.g. a systemd unit
 * without Delegate=yes) the controllers stay unavailable and
 * pod_cgroup_create() refuses limits it can not enforce.
 *
 * Permissions
 * -----------
 * The directories are created by root, mode 0755, and stay root-owned
 * with the kernel's root-owned 0644 files: nothing is delegated (no
 * chown), so a pod, whose worker runs under an unprivileged uid
 * without capabilities, can neither change its limits, nor move itself
 * out of its cgroup (v2 also requires write access to the common
 * ancestor's cgroup.procs for a move), nor make cgroups below it.
 * The pod is not given /sys/fs/cgroup anyway.
 *
 * Ownership and clean-up
 * ----------------------
 * Every directory of a pod is held open with an exclusive flock() for
 * the life of its struct pod_cgroup: pod_cgroup_gc() removes only pods
 * none of whose locks is held, i.e. whose podrunner is gone (killing
 * what still runs in them), so podrunners sharing the parent never
 * remove each other's pods, even if they see the host differently.
 * The fds are O_CLOEXEC; a pod process forked from the sandbox should
 * close them before it runs pod code (close_range), or the pod holds
 * its own lock and a stale pod is only collected once it is empty.
 *
 * The pod's first process gets in without being migrated by anyone
 * (which would take the kernel's global cgroup lock and wait for an RCU
 * grace period): clone3(CLONE_INTO_CGROUP) into the v2 directory and
 * pod_cgroup_join() for the v1 hierarchies, with the fds from
 * pod_cgroup_spawn_fds().  It joins before it makes its cgroup
 * namespace (unshare CLONE_NEWCGROUP), so that the pod sees its own
 * cgroup as "/".
 *
 * Syscalls used after init: openat, mkdirat, unlinkat, read, write,
 * close, dup3, fstat, newfstatat, flock, getdents64, kill,
 * clock_nanosleep (the v2 id is the directory's inode number, so
 * name_to_handle_at, denied to the spawner, is not needed).
 * pod_cgroup_destroy() blocks for as long as the pod takes to die:
 * milliseconds, at most about 2 s (then it leaves the rest to gc).
 * Capabilities: root's ownership of the cgroup files is enough; CAP_KILL
 * for the freezer fallback.
 */
#ifndef PODRUNNER_PODCGROUP_H
#define PODRUNNER_PODCGROUP_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct pod_limits {
	uint64_t	memory;		/* bytes, 0 none */
	uint32_t	cpu_millis;	/* 1000 = one CPU, 0 none; min 10 */
	uint32_t	pids;		/* 0 none */
};

struct pod_cgroup;

enum pod_limit_hit { LIMIT_NONE, LIMIT_MEMORY, LIMIT_PIDS };

enum pod_cgroup_mode {
	PODCG_NONE,		/* not initialised, or no cgroup at all */
	PODCG_V1,
	PODCG_MIXED,
	PODCG_V2
};

/* pod_cgroup_features(): what this host gives us. */
#define PODCG_F_MEMORY	0x0001	/* memory limit enforceable */
#define PODCG_F_PIDS	0x0002	/* pids limit enforceable */
#define PODCG_F_CPU	0x0004	/* cpu quota enforceable */
#define PODCG_F_SWAP	0x0008	/* swap is inside the memory limit */
#define PODCG_F_KILL	0x0010	/* atomic kill (v2 cgroup.kill) */
#define PODCG_F_FREEZE	0x0020	/* a freezer (kill fallback) */
#define PODCG_F_ID	0x0040	/* v2 cgroup ids (BPF filtering) */

/* pod_cgroup_init_flags(): for tests and `podrunner check`. */
#define PODCG_INIT_NO_V2	0x01	/* act as on a v1-only host */
#define PODCG_INIT_NO_KILL	0x02	/* ignore cgroup.kill */
#define PODCG_INIT_NO_V1	0x04	/* act as on a pure v2 host */

/* Before the chroot.  0, or -1 with a reason in err. */
int		 pod_cgroup_init(char *, size_t);
int		 pod_cgroup_init_flags(unsigned int, char *, size_t);
/* Close the fds; with rmparent, also rmdir the parents if empty. */
void		 pod_cgroup_fini(int);
enum pod_cgroup_mode pod_cgroup_mode(void);
const char	*pod_cgroup_mode_name(enum pod_cgroup_mode);
unsigned int	 pod_cgroup_features(void);	/* PODCG_F_* */
/* Why a PODCG_F_MEMORY/PIDS/CPU feature is missing ("" if it is not). */
const char	*pod_cgroup_why(unsigned int);

/*
 * podid: 1 to 64 of [A-Za-z0-9_-].  Fails (NULL, reason in err) if a
 * limit is asked for that this host can not enforce.
 */
struct pod_cgroup *pod_cgroup_create(const char *, const struct pod_limits *,
		    char *, size_t);
/* At most this many `tasks` files from pod_cgroup_spawn_fds(). */
#define PODCG_SPAWN_MAX	8

int		 pod_cgroup_spawn_fds(const struct pod_cgroup *, int *, int *,
		    size_t);
int		 pod_cgroup_join(int, const int *, size_t);
uint64_t	 pod_cgroup_id(const struct pod_cgroup *);	/* 0: no v2 */
/* The v2 pod directory (O_CLOEXEC; do not close), -1 without v2. */
int		 pod_cgroup_fd(const struct pod_cgroup *);
int		 pod_cgroup_kill(struct pod_cgroup *);
/* 1 while a process is in the pod, 0 when empty, -1 on error. */
int		 pod_cgroup_populated(struct pod_cgroup *);
enum pod_limit_hit pod_cgroup_limit_hit(struct pod_cgroup *);
uint64_t	 pod_cgroup_memory_current(struct pod_cgroup *);
uint64_t	 pod_cgroup_memory_peak(struct pod_cgroup *);
/*
 * Kill, wait (bounded) until empty, rmdir everywhere, free.  -1 if a
 * directory is left (the next pod_cgroup_gc() takes it).
 */
int		 pod_cgroup_destroy(struct pod_cgroup *);
/* Remove pod cgroups whose podrunner is gone: the number removed. */
int		 pod_cgroup_gc(void);

#endif
