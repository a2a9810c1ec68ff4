/*
 * Privilege separation helpers shared by every child process: the
 * unprivileged user, the chroot check, confinement and seccomp.
 */
#ifndef PODRUNNER_PRIVSEP_H
#define PODRUNNER_PRIVSEP_H

#include <sys/types.h>

#include <stddef.h>

#define PODRUNNER_USER	"_podrunner"
#define PATH_CHROOT	"/var/empty"
#define PATH_RUNDIR	"/run/podrunner"
#define PATH_SHMDIR	"/dev/shm"
#define SHM_PREFIX	"podrunner."
#define UIDS_LOCK	"uids.lock"

/* Worker uids: one per concurrently running pod, locked by byte. */
#define WORKER_UID_BASE		3000000
#define WORKER_UID_COUNT	4096

struct privsep_user {
	uid_t	uid;
	gid_t	gid;
};

int	priv_lookup_user(struct privsep_user *, char *, size_t);
/* ntpd-style: root-owned directory, writable by no one else, empty. */
int	priv_check_chroot(const char *, char *, size_t);
void	priv_die_with_parent(pid_t);
/* The bounding set emptied but for these (NULL, 0: all); -1 on error. */
int	priv_bounding(const int *, size_t);
/*
 * The process's name for ps, top and perf: "pod-" and the role ("pod-relay",
 * "pod-init"), not the "exe" of its exec of /proc/self/exe.
 */
void	priv_setname(const char *);
/*
 * Enter the chroot, set the title, drop to pu (or, with pu == NULL,
 * stay root but keep only keepcaps), then no_new_privs and
 * non-dumpable.  Fatal on any failure.
 */
void	priv_confine(const char *, const struct privsep_user *,
	    const int *, size_t);
/*
 * Install an allowlist: the syscalls any imsg/libevent daemon needs
 * plus extra[]; anything else kills the process.
 */
void	priv_seccomp_allowlist(const char *, const int *, size_t);
/*
 * The sandbox process's filter is a deny list, because every pod it
 * spawns inherits it and runtimes need a broad syscall set.
 */
void	priv_seccomp_spawner(void);
/* Scan /proc for our own children and SIGKILL them; count returned. */
/* SIGKILL every child of ours (adopted orphans too) but keep[]. */
int	priv_kill_children(const pid_t *, size_t);

#endif
