/*
 * The worker's seccomp profile; see podseccomp.h.
 *
 * Where the list comes from: what Docker's default profile leaves out
 * or puts behind a capability (moby profiles/seccomp/default.json),
 * what flatpak's filter (the one it hands bubblewrap) refuses on top
 * of that (the LDT, NUMA, TIOCSTI masked to 32 bits, the new mount
 * API), nsjail's practice, and Linux's system call table up to 6.18.
 * The worker has no capabilities, so the kernel already refuses much
 * of this by itself: the profile is the second, independent layer, and
 * it also closes code paths that need no privilege at all (io_uring,
 * bpf maps, perf, userfaultfd, keys, NUMA, the LDT, most socket
 * families) where kernel bugs keep being found.
 *
 * Left allowed on purpose: seccomp and landlock_* (a worker may confine
 * itself further); memfd_create and execveat (running code the worker
 * made is what a worker does anyway, with the same uid, filter and
 * landlock domain); pidfd_open, pidfd_send_signal, process_mrelease
 * (its own children; bun uses pidfd_open); statmount and listmount
 * (the pod's own mount table, as /proc/self/mountinfo shows it);
 * mincore and cachestat; rseq, close_range, epoll_pwait2, eventfd2
 * (bun); SysV and POSIX IPC (the pod has its own IPC namespace).
 */
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "podseccomp.h"

/*
 * System calls newer than libseccomp 2.5.4 (it knows numbers up to
 * 456) go by number.  From 424 on, every architecture but alpha uses
 * the same numbers; these are checked against syscall_64.tbl.
 */
#define NR_OPEN_TREE_ATTR	467	/* Linux 6.15 */
#define NR_FUTURE		470	/* listns (6.19) and all after it */

/* clone(2)'s flags are argument 0, except on s390 where they are 1. */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG		1
#else
#define CLONE_FLAGS_ARG		0
#endif

/* The low 32 bits of argument 0, as a BPF program loads them. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG0_LOW	offsetof(struct seccomp_data, args[0])
#else
#define ARG0_LOW	(offsetof(struct seccomp_data, args[0]) + 4)
#endif

#define X32_BIT			0x40000000U
#define SOCK_TYPE_BITS		0xf	/* the kernel's SOCK_TYPE_MASK */
#define LOW32			0xffffffffULL

enum deny_how {
	DENY_ALWAYS,		/* whatever the arguments */
	DENY_CLONE_FLAG,	/* clone() with flag bit datum set */
	DENY_IOCTL,		/* ioctl() with request datum */
	DENY_FAMILY,		/* address family not in bit mask datum */
	DENY_SOCKTYPE,		/* socket(datum >> 8, type datum & 0xff) */
	DENY_ARG_EQ,		/* argument datum >> 32 == datum & LOW32 */
	DENY_ARG_BIT,		/* argument datum >> 32 has bit(s) datum set */
	DENY_BPF,		/* in bpf_install(), not a libseccomp rule */
	DENY_ABI		/* a foreign ABI: the bad-arch action */
};

struct deny {
	const char	*name;		/* what reports show */
	int		 nr;		/* < 0: not on this architecture */
	int		 err;		/* what the caller's errno becomes */
	enum deny_how	 how;
	uint64_t	 datum;
};

#define ALWAYS(sys)	{ #sys, SCMP_SYS(sys), EPERM, DENY_ALWAYS, 0 }

static const struct deny deny_list[] = {
	/*
	 * Kernel interfaces with a long record of privilege escalations
	 * and no use in a worker.  io_uring also does its work (open,
	 * connect, socket...) without system calls this filter could see;
	 * userfaultfd turns kernel races into reliable exploits by
	 * stalling a copy from user memory; bpf maps and perf events need
	 * no privilege to reach a great deal of kernel code; the key
	 * retention service is not namespaced.
	 */
	ALWAYS(io_uring_setup), ALWAYS(io_uring_enter),
	ALWAYS(io_uring_register), ALWAYS(bpf), ALWAYS(perf_event_open),
	ALWAYS(userfaultfd), ALWAYS(keyctl), ALWAYS(add_key),
	ALWAYS(request_key),

	/*
	 * The pod's filesystem view is fixed by the spawner before the
	 * worker starts; changing it is how container escapes begin.  The
	 * whole new mount API goes too: open_tree without OPEN_TREE_CLONE
	 * is only an O_PATH open, but nothing in a worker uses it.
	 */
	ALWAYS(mount), ALWAYS(umount2), ALWAYS(pivot_root), ALWAYS(chroot),
	ALWAYS(move_mount), ALWAYS(open_tree), ALWAYS(fsopen),
	ALWAYS(fsconfig), ALWAYS(fsmount), ALWAYS(fspick),
	ALWAYS(mount_setattr),
	{ "open_tree_attr", NR_OPEN_TREE_ATTR, EPERM, DENY_ALWAYS, 0 },

	/*
	 * New namespaces.  A user namespace hands its creator a full set
	 * of capabilities inside it and with them kernel code that is
	 * otherwise root's alone (netfilter, filesystem mounts, ...); the
	 * others would let a worker build itself a different view of the
	 * system.  unshare and setns are refused whatever the flags (no
	 * runtime unshares CLONE_FS or CLONE_FILES either); clone only
	 * with a CLONE_NEW* flag, since fork and threads use it.  The
	 * kernel reads the low 32 bits of clone's flags, and so does each
	 * masked test here.  clone3 passes its flags in memory, which
	 * seccomp cannot read: it gets ENOSYS, so glibc (2.34 on) falls
	 * back to clone, which is checked.  CLONE_NEWTIME exists only for
	 * clone3 and unshare.
	 */
	ALWAYS(unshare), ALWAYS(setns),
	{ "clone(CLONE_NEWNS)", SCMP_SYS(clone), EPERM, DENY_CLONE_FLAG,
	    CLONE_NEWNS },
	{ "clone(CLONE_NEWCGROUP)", SCMP_SYS(clone), EPERM, DENY_CLONE_FLAG,
	    CLONE_NEWCGROUP },
	{ "clone(CLONE_NEWUTS)", SCMP_SYS(clone), EPERM, DENY_CLONE_FLAG,
	    CLONE_NEWUTS },
	{ "clone(CLONE_NEWIPC)", SCMP_SYS(clone), EPERM, DENY_CLONE_FLAG,
	    CLONE_NEWIPC },
	{ "clone(CLONE_NEWUSER)", SCMP_SYS(clone), EPERM, DENY_CLONE_FLAG,
	    CLONE_NEWUSER },
	{ "clone(CLONE_NEWPID)", SCMP_SYS(clone), EPERM, DENY_CLONE_FLAG,
	    CLONE_NEWPID },
	{ "clone(CLONE_NEWNET)", SCMP_SYS(clone), EPERM, DENY_CLONE_FLAG,
	    CLONE_NEWNET },
	{ "clone3", SCMP_SYS(clone3), ENOSYS, DENY_ALWAYS, 0 },

	/*
	 * Reaching into other processes: their memory, their file
	 * descriptors, their memory advice, comparing their kernel
	 * objects.  A worker's children may be --allow-run commands that
	 * hold what the worker itself must not touch.
	 */
	ALWAYS(ptrace), ALWAYS(process_vm_readv), ALWAYS(process_vm_writev),
	ALWAYS(process_madvise), ALWAYS(kcmp), ALWAYS(pidfd_getfd),

	/*
	 * File handles: open_by_handle_at opens any inode of a filesystem
	 * from a guessed handle, past every bind mount and pivot_root
	 * (Docker's "shocker" escape, 2014); name_to_handle_at hands the
	 * handles out.
	 */
	ALWAYS(open_by_handle_at), ALWAYS(name_to_handle_at),

	/* Replacing the kernel, loading code into it, rebooting it. */
	ALWAYS(kexec_load), ALWAYS(kexec_file_load), ALWAYS(init_module),
	ALWAYS(finit_module), ALWAYS(delete_module), ALWAYS(reboot),

	/*
	 * State that belongs to the host, not to a pod: process
	 * accounting, swap, the kernel log (it also leaks kernel
	 * addresses), disk quotas, the clocks (adjtimex and clock_adjtime
	 * only read them without CAP_SYS_TIME, which no worker needs),
	 * host and domain name (set once by pod init), and hanging up the
	 * terminal.  fanotify can watch whole filesystems; runtimes use
	 * inotify.
	 */
	ALWAYS(acct), ALWAYS(swapon), ALWAYS(swapoff), ALWAYS(syslog),
	ALWAYS(quotactl), ALWAYS(quotactl_fd), ALWAYS(settimeofday),
	ALWAYS(clock_settime), ALWAYS(clock_adjtime), ALWAYS(adjtimex),
	ALWAYS(sethostname), ALWAYS(setdomainname), ALWAYS(vhangup),
	ALWAYS(fanotify_init),

	/*
	 * x86 hardware: I/O ports (not even built into this kernel), and
	 * the LDT, which only 16-bit code and Wine use and which has had
	 * its share of exploits (CVE-2015-5157, CVE-2017-17053).
	 * Elsewhere SCMP_SYS() gives a negative number and they are
	 * skipped.
	 */
	ALWAYS(iopl), ALWAYS(ioperm), ALWAYS(modify_ldt),

	/*
	 * NUMA placement, refused as flatpak does (and Docker without
	 * CAP_SYS_NICE): move_pages and migrate_pages act on other
	 * processes' pages (and tell where they are), the memory policy
	 * code has had use-after-frees, and a pod's memory is the
	 * cgroup's business.  get_mempolicy goes too, so libnuma's
	 * numa_available() reports no NUMA and its callers do not go on
	 * to call mbind.
	 */
	ALWAYS(mbind), ALWAYS(set_mempolicy), ALWAYS(get_mempolicy),
	ALWAYS(set_mempolicy_home_node), ALWAYS(migrate_pages),
	ALWAYS(move_pages),

	/* Obsolete interfaces that nothing uses any more. */
	ALWAYS(uselib), ALWAYS(sysfs), ALWAYS(ustat), ALWAYS(nfsservctl),
	ALWAYS(_sysctl), ALWAYS(lookup_dcookie),

	/*
	 * Terminal ioctls.  TIOCSTI pushes characters into the terminal's
	 * input, to be read by the invoking user's shell once the pod is
	 * gone (CVE-2016-7545, bubblewrap's CVE-2017-5226); TIOCLINUX
	 * does the same through a virtual console's selection; TIOCSETD
	 * switches line disciplines, a recurring source of kernel bugs
	 * (n_hdlc CVE-2017-2636, n_gsm CVE-2023-6546).  The request is an
	 * unsigned int to the kernel: only the low 32 bits are compared,
	 * so a request with junk in the high half is caught as well.
	 */
	{ "ioctl(TIOCSTI)", SCMP_SYS(ioctl), EPERM, DENY_IOCTL, TIOCSTI },
	{ "ioctl(TIOCLINUX)", SCMP_SYS(ioctl), EPERM, DENY_IOCTL, TIOCLINUX },
	{ "ioctl(TIOCSETD)", SCMP_SYS(ioctl), EPERM, DENY_IOCTL, TIOCSETD },

	/*
	 * Sockets: Unix, IPv4 and IPv6 only.  The other families are most
	 * of the kernel's socket code and many of its CVEs (AF_PACKET
	 * CVE-2016-8655 and CVE-2017-7308, AF_VSOCK CVE-2021-26708, ...).
	 * vsock is not confined by a network namespace the way IP is, and
	 * on a VM like this one it reaches the host side; AF_NETLINK is
	 * how a network is reconfigured (glibc's getaddrinfo copes
	 * without it).  Raw and packet sockets on IPv4/IPv6 would forge
	 * or sniff packets (they also need CAP_NET_RAW); socket(AF_INET,
	 * SOCK_PACKET) is the kernel's obsolete spelling of an AF_PACKET
	 * socket and still makes one.  The type is compared through
	 * SOCK_TYPE_MASK, so SOCK_NONBLOCK and SOCK_CLOEXEC do not hide
	 * it.  Families are compared on all 64 bits: a family with junk in
	 * the high half is refused even where the kernel would have read
	 * AF_UNIX from it, which only fails closed.
	 */
	{ "socket(family other than AF_UNIX, AF_INET, AF_INET6)",
	    SCMP_SYS(socket), EPERM, DENY_FAMILY,
	    1ULL << AF_UNIX | 1ULL << AF_INET | 1ULL << AF_INET6 },
	{ "socket(AF_INET, SOCK_RAW)", SCMP_SYS(socket), EPERM,
	    DENY_SOCKTYPE, AF_INET << 8 | SOCK_RAW },
	{ "socket(AF_INET, SOCK_PACKET)", SCMP_SYS(socket), EPERM,
	    DENY_SOCKTYPE, AF_INET << 8 | SOCK_PACKET },
	{ "socket(AF_INET6, SOCK_RAW)", SCMP_SYS(socket), EPERM,
	    DENY_SOCKTYPE, AF_INET6 << 8 | SOCK_RAW },
	{ "socket(AF_INET6, SOCK_PACKET)", SCMP_SYS(socket), EPERM,
	    DENY_SOCKTYPE, AF_INET6 << 8 | SOCK_PACKET },
	{ "socketpair(family other than AF_UNIX)", SCMP_SYS(socketpair),
	    EPERM, DENY_FAMILY, 1ULL << AF_UNIX },

	/*
	 * Two ways around landlock's TCP connect rule on this kernel: an
	 * MPTCP socket (IPPROTO_MPTCP, 262) connects to any port
	 * (landlock-lsm/linux#54), and TCP Fast Open's MSG_FASTOPEN on a
	 * send connects and delivers data (landlock-lsm/linux#41).  A
	 * worker needs neither: plain TCP does the same work.
	 */
	{ "socket(protocol IPPROTO_MPTCP)", SCMP_SYS(socket), EPERM,
	    DENY_ARG_EQ, 2ULL << 32 | 262 },
	{ "sendto(MSG_FASTOPEN)", SCMP_SYS(sendto), EPERM, DENY_ARG_BIT,
	    3ULL << 32 | 0x20000000 },
	{ "sendmsg(MSG_FASTOPEN)", SCMP_SYS(sendmsg), EPERM, DENY_ARG_BIT,
	    2ULL << 32 | 0x20000000 },
	{ "sendmmsg(MSG_FASTOPEN)", SCMP_SYS(sendmmsg), EPERM, DENY_ARG_BIT,
	    3ULL << 32 | 0x20000000 },

	/*
	 * Execution domains: PER_LINUX (0) and the query (0xffffffff)
	 * only.  The others change the ABI (PER_LINUX32) or weaken what
	 * the worker execs next: ADDR_NO_RANDOMIZE turns off ASLR,
	 * READ_IMPLIES_EXEC makes every readable mapping executable,
	 * MMAP_PAGE_ZERO maps page 0.
	 */
	{ "personality(other than PER_LINUX and the query)",
	    SCMP_SYS(personality), EPERM, DENY_BPF, 0 },

	/*
	 * System calls added after this list was researched (Linux 6.18,
	 * whose last is 469): ENOSYS, as on the kernel it was researched
	 * on, until someone reviews them.  The first, listns (6.19),
	 * enumerates namespaces.
	 */
	{ "listns and every later system call (470 on)", NR_FUTURE, ENOSYS,
	    DENY_BPF, 0 },

	/*
	 * The 32-bit entry points (int 0x80 and sysenter: i386; the x32
	 * bit 0x40000000 in the number) kill the process rather than
	 * fail: their numbers are another table (i386's 21 is mount, 26
	 * ptrace), so a filter written for x86_64 numbers would pass them
	 * all, and no x86_64 runtime makes such calls.  libseccomp sends
	 * any number at or above 0x40000000 (but -1) on an x86_64-only
	 * filter to the bad-arch action, as it does i386's audit arch.
	 */
#if defined(__x86_64__)
	{ "i386 and x32 entry (process killed)", 0, 0, DENY_ABI, 0 },
#else
	{ "compat (32-bit) entry (process killed)", 0, 0, DENY_ABI, 0 },
#endif
};

#define NDENY	(sizeof(deny_list) / sizeof(deny_list[0]))

static int	deny_add(scmp_filter_ctx, const struct deny *);

static int
deny_add(scmp_filter_ctx ctx, const struct deny *d)
{
	uint32_t	act = SCMP_ACT_ERRNO(d->err);
	int		i, rc;

	if (d->nr < 0)
		return 0;	/* not a system call on this architecture */
	switch (d->how) {
	case DENY_ALWAYS:
		return seccomp_rule_add(ctx, act, d->nr, 0);
	case DENY_CLONE_FLAG:
		return seccomp_rule_add(ctx, act, d->nr, 1,
		    SCMP_CMP(CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, d->datum,
		    d->datum));
	case DENY_IOCTL:
		return seccomp_rule_add(ctx, act, d->nr, 1,
		    SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, d->datum));
	case DENY_FAMILY:
		/*
		 * libseccomp takes one comparison per argument and rule,
		 * so "not in the set" is spelled out: each value below
		 * the highest allowed family that is not allowed, then
		 * everything above it.
		 */
		for (i = 0; (d->datum >> i) > 1; i++) {
			if (d->datum & 1ULL << i)
				continue;
			if ((rc = seccomp_rule_add(ctx, act, d->nr, 1,
			    SCMP_A0(SCMP_CMP_EQ, i, 0))) != 0)
				return rc;
		}
		return seccomp_rule_add(ctx, act, d->nr, 1,
		    SCMP_A0(SCMP_CMP_GT, i, 0));
	case DENY_SOCKTYPE:
		return seccomp_rule_add(ctx, act, d->nr, 2,
		    SCMP_A0(SCMP_CMP_EQ, d->datum >> 8, 0),
		    SCMP_A1(SCMP_CMP_MASKED_EQ, SOCK_TYPE_BITS,
		    d->datum & 0xff));
	case DENY_ARG_EQ:
		return seccomp_rule_add(ctx, act, d->nr, 1,
		    SCMP_CMP((unsigned int)(d->datum >> 32), SCMP_CMP_MASKED_EQ,
		    LOW32, d->datum & LOW32));
	case DENY_ARG_BIT:
		return seccomp_rule_add(ctx, act, d->nr, 1,
		    SCMP_CMP((unsigned int)(d->datum >> 32), SCMP_CMP_MASKED_EQ,
		    d->datum & LOW32, d->datum & LOW32));
	case DENY_BPF:
		return 0;	/* bpf_install() */
	case DENY_ABI:
		return 0;	/* the bad-arch action, set by the caller */
	}
	return -EINVAL;
}

/*
 * The two rows libseccomp 2.5.4 cannot say in a rule or two, as a
 * second filter of a dozen instructions.  It has no rule for a range
 * of numbers (one rule per number cost 0.4 ms a pod for 41 of them),
 * and takes one comparison per argument and rule, so "neither 0 nor
 * 0xffffffff" would be 32 masked rules (another 0.4 ms).  The kernel
 * runs every filter and keeps the strictest answer; this one answers
 * ALLOW for every other call without looking at arguments, so the
 * kernel's per-number cache still skips it for them.
 *
 * personality's argument is an unsigned int to the kernel: only its
 * low 32 bits are compared.  Numbers from 0x40000000 up (x32, and -1
 * that a tracer uses to skip a call) are the first filter's business.
 */
static int
bpf_install(char *err, size_t errlen)
{
	struct sock_filter	 prog[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			    offsetof(struct seccomp_data, arch)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			    seccomp_arch_native(), 0, 9),	/* 11 */
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			    offsetof(struct seccomp_data, nr)),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			    SYS_personality, 0, 4),		/* 8 */
		/* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LOW),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			    0, 5, 0),				/* 11 */
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			    0xffffffffU, 4, 0),			/* 11 */
		/* 7 */ BPF_STMT(BPF_RET | BPF_K,
			    SECCOMP_RET_ERRNO | EPERM),
		/* 8 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
			    NR_FUTURE, 0, 2),			/* 11 */
		/* 9 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
			    X32_BIT, 1, 0),			/* 11 */
		/* 10 */ BPF_STMT(BPF_RET | BPF_K,
			    SECCOMP_RET_ERRNO | ENOSYS),
		/* 11 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog	 fprog = {
		.len = sizeof(prog) / sizeof(prog[0]),
		.filter = prog,
	};

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) == -1) {
		(void)snprintf(err, errlen, "seccomp: second filter: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
pod_seccomp_install(char *err, size_t errlen)
{
	scmp_filter_ctx	 ctx;
	size_t		 i;
	int		 rc;

	switch (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)) {
	case 1:
		break;
	case 0:
		(void)snprintf(err, errlen, "seccomp: no_new_privs is not "
		    "set");
		return -1;
	default:
		(void)snprintf(err, errlen, "seccomp: PR_GET_NO_NEW_PRIVS: %s",
		    strerror(errno));
		return -1;
	}
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		(void)snprintf(err, errlen, "seccomp: seccomp_init failed");
		return -1;
	}
	/*
	 * Kill on a foreign ABI (see DENY_ABI above).  The caller has set
	 * no_new_privs, so libseccomp need not.  The rules stay a list in
	 * priority order (libseccomp's default): a binary tree saved 20 ns
	 * an ioctl here and cost 0.3 ms to build.
	 */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) != 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) != 0) {
		(void)snprintf(err, errlen, "seccomp: seccomp_attr_set: %s",
		    strerror(-rc));
		goto fail;
	}
	for (i = 0; i < NDENY; i++)
		if ((rc = deny_add(ctx, &deny_list[i])) != 0) {
			(void)snprintf(err, errlen, "seccomp: rule %s: %s",
			    deny_list[i].name, strerror(-rc));
			goto fail;
		}
	if ((rc = seccomp_load(ctx)) != 0) {
		(void)snprintf(err, errlen, "seccomp: seccomp_load: %s",
		    strerror(-rc));
		goto fail;
	}
	seccomp_release(ctx);
	return bpf_install(err, errlen);
 fail:
	seccomp_release(ctx);
	return -1;
}

const char *const *
pod_seccomp_denied_names(size_t *n)
{
	static const char	*names[NDENY];
	static size_t		 nnames;
	size_t			 i;

	/* Filled once; the table it comes from never changes. */
	if (nnames == 0)
		for (i = 0; i < NDENY; i++)
			if (deny_list[i].nr >= 0)
				names[nnames++] = deny_list[i].name;
	*n = nnames;
	return names;
}
