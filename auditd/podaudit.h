/*
 * The records of the eBPF audit, as the BPF programs (podaudit.bpf.c)
 * write them into the ring buffer and auditd reads them back.  Shared
 * by both sides, so only fixed-width types; the BPF side gets them from
 * vmlinux.h, user space from <linux/types.h>.
 *
 * A record is a struct arec header followed by len1 + len2 bytes of
 * data (whose meaning depends on kind; exec: one more, the path's NUL).
 * The reader checks every length against the record's size before it
 * looks at the data: the producer is the kernel, but a record is only
 * as sound as this header says.
 */
#ifndef PODRUNNER_PODAUDIT_H
#define PODRUNNER_PODAUDIT_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/*
 * Placeholders in the program that the loader resolves (podaudit.bpf.c,
 * auditload.c): a helper call that becomes a call of the kfunc
 * bpf_rdonly_cast, and the constants that become the kernel's BTF ids of
 * struct task_struct and struct pt_regs.
 */
#define PODAUDIT_RDCAST_CALL	0x7ff0
#define PODAUDIT_RDCAST_TASK	0x7ff1
#define PODAUDIT_RDCAST_REGS	0x7ff2

/* What a record is about (arec.kind). */
#define AREC_OPEN	1	/* open, creat, openat, openat2: path */
#define AREC_EXEC	2	/* execve, execveat: path, then argv */
#define AREC_CONNECT	3	/* connect: sockaddr */
#define AREC_BIND	4	/* bind: sockaddr */
#define AREC_SYSCALL	5	/* any other audited syscall: number, result */

/* arec.flags */
#define AREC_F_PATH_TRUNC	0x01	/* the path was longer than kept */
#define AREC_F_ARGV_TRUNC	0x02	/* more arguments, or longer ones */
#define AREC_F_FAULT		0x04	/* a user pointer could not be read */

/* Limits of what a record keeps. */
#define AREC_PATH_MAX	512		/* path bytes, NUL included */
#define AREC_ARG_MAX	256		/* one argument, NUL included */
#define AREC_ARGV_MAX	1024		/* argv bytes before we stop */
#define AREC_ARGS_MAX	8		/* a failed exec's arguments kept
					 * (a successful one's: AREC_ARGV_MAX
					 * bytes of them) */
#define AREC_ADDR_MAX	112		/* sockaddr bytes (sockaddr_un) */
/*
 * The data area: the path, then argument strings written at a running
 * offset below AREC_PATH_MAX + AREC_ARGV_MAX, each read with the
 * constant size AREC_ARG_MAX (the verifier wants constant sizes).
 */
#define AREC_POS_MASK	2047		/* >= AREC_PATH_MAX + AREC_ARGV_MAX */
#define AREC_DATA_MAX	(AREC_POS_MASK + 1 + AREC_ARG_MAX)

/* The syscall numbers a bitmap covers (x86_64 has fewer). */
#define AUDIT_NR_MAX	512

struct arec {
	__u64	ts;		/* CLOCK_MONOTONIC ns at the syscall's exit */
	__s64	ret;		/* its result: >= 0, or -errno */
	__u32	pod;		/* the pod's number (the parent's peerid) */
	__u32	pid;		/* thread group id, host view */
	__u32	tid;		/* thread id, host view */
	__u32	uid;		/* real uid, host view */
	__u32	gid;
	__u16	nr;		/* syscall number */
	__u8	kind;		/* AREC_* */
	__u8	flags;		/* AREC_F_* */
	char	comm[16];	/* at entry (for exec: the caller) */
	__s32	a0;		/* open: dirfd; exec: dirfd (execveat) */
	__u32	a1;		/* open: flags; exec: argc kept */
	__u32	a2;		/* open: mode; exec: execveat flags */
	__u16	len1;		/* open, exec: path bytes (no NUL);
				 * connect, bind: sockaddr bytes */
	__u16	len2;		/* exec: argv bytes (each arg NUL-ended),
				 * after the path's NUL */
};

/*
 * The pods whose processes are audited (the programs' .data.pods, which
 * the sandbox maps and writes): a slot holds a pod's cgroup v2 id and
 * its number; an id of 0 is a free slot.  A slot is filled number
 * first, id last, and emptied by its id.
 */
#define AUDIT_POD_SLOTS	64	/* a power of 2 */
/* A pod's cgroup id is in slot id % AUDIT_POD_SLOTS or one of the next
 * AUDIT_POD_PROBES - 1 (wrapping). */
#define AUDIT_POD_PROBES	4

struct audit_pods {
	__u64	cgid[AUDIT_POD_SLOTS];
	__u32	num[AUDIT_POD_SLOTS];
	__u32	nslots;	/* unused (was: slots in use, from the first) */
	__u32	pad;
};

/* Counters the programs keep in their .bss (read by auditd, mmap). */
struct audit_counters {
	__u64	lost;		/* records the ring had no room for */
	__u64	spare;
};

/* What calibrate (podaudit.bpf.c) found wrong, in .data.cfg. */
#define CALIB_CGROUP	0x01	/* the cgroup id read from the task */
#define CALIB_PID	0x02
#define CALIB_UID	0x04
#define CALIB_COMM	0x08
#define CALIB_MM	0x10	/* arg_start, arg_end, env_start, env_end */
#define CALIB_DONE	0x80	/* it ran */

/* The BPF object's .bss, as the skeleton lays it out. */
#define AUDIT_BSS_COUNTERS_OFF	0

#endif
