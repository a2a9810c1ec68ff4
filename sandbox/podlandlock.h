/*
 * Landlock for the pod: the filesystem grants again as a second,
 * independent layer under the mounts, TCP connect only to the proxy
 * port, bind nothing, abstract Unix sockets and signals scoped.
 *
 * pod_landlock_apply() runs in the process that will execve the worker,
 * after PR_SET_NO_NEW_PRIVS and before execve.  It restricts the calling
 * thread only (landlock_restrict_self(2)), so it must be called while
 * the process is single-threaded.  It allocates nothing.
 *
 * Handled rights.  Everything the targeted ABI knows is handled, so
 * whatever is not granted below is denied:
 *   fs   execute, write_file, read_file, read_dir, remove_dir,
 *        remove_file, make_char, make_dir, make_reg, make_sock,
 *        make_fifo, make_block, make_sym, refer (ABI 2), truncate (ABI 3),
 *        ioctl_dev (ABI 5)
 *   net  bind_tcp, connect_tcp (ABI 4)
 *   scope abstract_unix_socket, signal (ABI 6, when cfg->scope is set)
 *
 * What each POD_LL_* bit grants beneath a path:
 *   READ   read_file, read_dir.
 *   WRITE  write_file, truncate, make_reg, make_dir, make_sym, make_fifo,
 *          make_sock, remove_file, remove_dir, refer.  Not read: combine
 *          with READ (as Deno's --allow-write does not imply read).
 *   EXEC   execute, read_file.  The kernel opens a dynamic executable's
 *          ELF interpreter (ld.so) and a script's #! interpreter for
 *          execution too: they need EXEC as well.  Shared libraries are
 *          mmap'ed, not executed: READ is enough for them.
 *   IOCTL  ioctl_dev (ABI 5): ioctl(2) on a device opened beneath the
 *          path, e.g. "/dev/tty".  Landlock checks it when the device is
 *          opened, so fds opened before the restriction (the inherited
 *          stdio tty) keep their ioctls without it.
 * Never granted: make_char, make_block.  On a non-directory only the
 * file rights (execute, read_file, write_file, truncate, ioctl_dev) of
 * the grant apply.  Paths are opened with O_PATH | O_CLOEXEC (symlinks
 * are followed); one that does not exist (ENOENT, ENOTDIR) is skipped and
 * reported as POD_LL_NOTE_MISSING; any other open error is fatal.
 *
 * Network (ABI 4): TCP connect(2) is allowed only to connect_ports (on
 * any address, IPv4 and IPv6), bind(2) of a TCP socket to any port is
 * denied.  Known gaps (ABI 7, kernel 6.18, each verified): Landlock does
 * not see UDP; nor the ephemeral port a listen(2) on an unbound socket
 * picks; nor MPTCP sockets (socket(..., IPPROTO_MPTCP) connects and binds
 * anywhere, landlock-lsm/linux#54); nor the implicit connect of
 * sendto/sendmsg(MSG_FASTOPEN) (landlock-lsm/linux#41).  The pod's
 * network namespace bounds what is reachable; seccomp should refuse
 * IPPROTO_MPTCP and MSG_FASTOPEN.
 *
 * Scope (ABI 6, cfg->scope): the process and its descendants can neither
 * connect/send to an abstract Unix socket created outside the Landlock
 * domain, nor signal a process outside it (both EPERM).  Signals to
 * processes inside the domain (the worker's own children) still work.
 *
 * Degradation.  The ABI used is min(kernel ABI, POD_LL_ABI_MAX,
 * cfg->max_abi if set); *abi_used receives it (also on failure, 0 when
 * Landlock is unavailable).  What a lower ABI cannot
 * enforce is reported, never silently dropped:
 *   ABI 1      POD_LL_NOTE_NO_REFER: renames and links across
 *              directories always fail (EXDEV); stricter, not weaker.
 *   ABI < 3    POD_LL_NOTE_NO_TRUNCATE: truncate(2) is not restricted.
 *   ABI < 4    POD_LL_NOTE_NO_NET: TCP bind/connect are not restricted.
 *   ABI < 5    POD_LL_NOTE_NO_IOCTL_DEV: device ioctls not restricted.
 *   ABI < 6    POD_LL_NOTE_NO_SCOPE (only if cfg->scope): abstract Unix
 *              sockets and signals are not scoped.
 * Each note (and each skipped path) is passed to cfg->note if set, and on
 * success err receives them all as one line, "; "-separated ("" when
 * nothing was dropped), truncated with "..." if errlen is too small.  The
 * caller decides whether a note is acceptable (podrunner refuses to start
 * when a layer the policy requires is missing unless degradation is
 * explicitly allowed).
 *
 * Logging (ABI 7): no LANDLOCK_RESTRICT_SELF_LOG_* flag is passed, so the
 * kernel's default holds: denials are audit-logged only until the next
 * execve, i.e. not the worker's (a hostile worker cannot flood the audit
 * log; auditd observes the worker by eBPF).
 *
 * Returns 0, or -1 with errno set and the reason in err: Landlock
 * unsupported or disabled (ENOSYS/EOPNOTSUPP),
 * no_new_privs not set (EPERM), bad access bits (EINVAL), a path that
 * cannot be opened, or a landlock syscall failure.  On failure nothing
 * has been restricted.
 */
#ifndef PODRUNNER_PODLANDLOCK_H
#define PODRUNNER_PODLANDLOCK_H

#include <stddef.h>
#include <stdint.h>

#define POD_LL_READ	0x01u
#define POD_LL_WRITE	0x02u
#define POD_LL_EXEC	0x04u
#define POD_LL_IOCTL	0x08u
#define POD_LL_ALL	(POD_LL_READ | POD_LL_WRITE | POD_LL_EXEC | \
			 POD_LL_IOCTL)

#define POD_LL_ABI_MAX	7	/* the newest ABI this module knows */

enum pod_ll_note {
	POD_LL_NOTE_MISSING = 1,	/* detail: the path, skipped */
	POD_LL_NOTE_NO_REFER,		/* ABI 1 */
	POD_LL_NOTE_NO_TRUNCATE,	/* ABI < 3 */
	POD_LL_NOTE_NO_NET,		/* ABI < 4 */
	POD_LL_NOTE_NO_IOCTL_DEV,	/* ABI < 5 */
	POD_LL_NOTE_NO_SCOPE		/* ABI < 6 and cfg->scope */
};

struct pod_ll_path {
	const char	*path;
	unsigned int	 access;	/* POD_LL_* */
};

struct pod_ll_config {
	const struct pod_ll_path *paths;
	size_t		 npaths;
	const uint16_t	*connect_ports;	/* TCP connect only to these */
	size_t		 nports;	/* bind: never */
	int		 scope;		/* 1: scope abstract unix + signals */
	int		 max_abi;	/* 0: the kernel's; else a cap */
	/*
	 * Optional: called for each dropped guarantee and skipped path;
	 * the string is the path for POD_LL_NOTE_MISSING, else the note's
	 * text (pod_landlock_note_str).  Runs in the calling process.
	 */
	void		(*note)(void *, enum pod_ll_note, const char *);
	void		*note_arg;
};

int		 pod_landlock_abi(void);
int		 pod_landlock_apply(const struct pod_ll_config *, int *,
		    char *, size_t);
const char	*pod_landlock_note_str(enum pod_ll_note);

#endif /* PODRUNNER_PODLANDLOCK_H */
