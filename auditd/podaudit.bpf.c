/*
 * podaudit: the eBPF side of podrunner's syscall audit (auditd(8) reads
 * what it writes).  Built by make with clang -target bpf into a libbpf
 * skeleton; loaded and attached by the sandbox's loader child
 * (auditload.c), which also sets the configuration below.
 *
 * Two programs on the raw syscall tracepoints, sys_enter and sys_exit.
 * Not the per-syscall tracepoints (syscalls/sys_enter_openat, ...):
 * detaching each of those waits for RCU grace periods (about 35 ms
 * apiece here, half a second for the set, at the end of every run),
 * while a raw tracepoint detaches at once.  The price is that
 * sys_enter runs for every syscall of every process; its first test,
 * a bitmap of the audited syscalls, costs a load and a branch.
 *
 * Then the filter, before any other work: the id of the calling
 * task's cgroup v2 ancestor at the pods' level
 * (bpf_get_current_ancestor_cgroup_id(pod_level)) is looked up in the
 * map "pods" (cgroup id -> pod number), which the sandbox fills when it
 * creates a pod's cgroup and empties when the pod is gone.  A task of
 * no pod returns there.  Being a cgroup, the filter follows fork
 * without a race: a child is in its parent's cgroup from its first
 * instruction.
 *
 * Entry and exit are paired through per-thread storage (task storage:
 * no hashing, no copy of the record).  The entry program reads the
 * user memory (paths, argv, sockaddr) while it is there (for execve the
 * old image is gone at exit) and builds the record in place.  Only a
 * task that passed the filter has such storage, so at exit the lookup
 * of the storage is the filter (a task of no pod has none, and the
 * lookup ends at a NULL pointer).  The exit program adds the result
 * and the time and outputs the record with bpf_ringbuf_output(), at its
 * real length.  Wake-ups are batched (BPF_RB_NO_WAKEUP) unless the ring
 * is filling up: auditd also drains on a short timer.  A record the
 * ring has no room for is counted in counters.lost, never dropped
 * silently.
 *
 * The open, creat, openat, openat2, execve, execveat, connect and bind
 * syscalls get full records; any other syscall of the policy's
 * audit.events its number and result.  A syscall that the pod's
 * seccomp filter refuses never reaches sys_enter, and is not recorded.
 *
 * No CO-RE relocations: the kernel structures read are pt_regs (the
 * syscall's arguments, copied with bpf_probe_read_kernel) and the
 * raw tracepoints' arguments, both fixed per architecture, so libbpf
 * need not parse the kernel's BTF at load time, which would be most of
 * the load.
 */
#define BPF_NO_PRESERVE_ACCESS_INDEX
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "podaudit.h"

/* Set by the loader before load (frozen afterwards). */
const volatile __u64	ring_size = 1;
const volatile __s32	nr_open = -1, nr_creat = -1, nr_openat = -1,
			nr_openat2 = -1, nr_execve = -1, nr_execveat = -1,
			nr_connect = -1, nr_bind = -1, nr_exit = -1,
			nr_exit_group = -1;

/*
 * Set by the loader after load, before attach: the level of the pods'
 * cgroups (found by calibrate below) and the audited syscalls.  A map
 * of their own that only the loader ever holds: auditd gets the .bss
 * (the counters), whose fd it could mmap writable.
 */
__u32			pod_level SEC(".data.cfg") = 0;
__u64			audited[AUDIT_NR_MAX / 64] SEC(".data.cfg");
/* Set by the loader for calibrate only. */
__u64			calib_base SEC(".data.cfg") = 0;

/* The counters auditd reads: the only member of .bss. */
struct audit_counters	counters;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);		/* cgroup v2 id */
	__type(value, __u32);		/* pod number */
} pods SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);	/* the loader sets it */
} ring SEC(".maps");

/* A thread's syscall in flight: the record, then its data. */
struct inflight {
	struct arec	rec;
	__u8		data[AREC_DATA_MAX];
	__u32		active;		/* syscall number + 1, 0: none */
	__u32		got;		/* exec: argv pointers read */
	__u64		argvp[AREC_ARGS_MAX];	/* exec: the argv pointers */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

#define AT_FDCWD	(-100)
#define O_WRONLY	01
#define O_CREAT		0100
#define O_TRUNC		01000

/* The filter, then the thread's record, reset for syscall nr. */
static __always_inline struct inflight *
begin(long nr, __u8 kind)
{
	struct inflight	*f;
	__u64		 cgid, id;
	__u32		*pod;

	cgid = bpf_get_current_ancestor_cgroup_id(pod_level);
	pod = bpf_map_lookup_elem(&pods, &cgid);
	if (pod == NULL)
		return NULL;
	f = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
	    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (f == NULL) {
		__sync_fetch_and_add(&counters.nostore, 1);
		return NULL;
	}
	id = bpf_get_current_pid_tgid();
	f->rec.pod = *pod;
	f->rec.pid = id >> 32;
	f->rec.tid = (__u32)id;
	id = bpf_get_current_uid_gid();
	f->rec.uid = (__u32)id;
	f->rec.gid = id >> 32;
	f->rec.nr = (__u16)nr;
	f->rec.kind = kind;
	f->rec.flags = 0;
	f->rec.a0 = f->rec.a1 = f->rec.a2 = 0;
	f->rec.len1 = f->rec.len2 = 0;
	bpf_get_current_comm(f->rec.comm, sizeof(f->rec.comm));
	f->active = (__u32)nr + 1;
	return f;
}

/* A user string into data at 0; its length without the NUL. */
static __always_inline void
read_path(struct inflight *f, const char *up)
{
	long	n;

	n = bpf_probe_read_user_str(f->data, AREC_PATH_MAX, up);
	if (n <= 0) {
		f->rec.flags |= AREC_F_FAULT;
		n = 1;
	} else if (n == AREC_PATH_MAX)
		f->rec.flags |= AREC_F_PATH_TRUNC;
	f->rec.len1 = (__u16)(n - 1);
}

/*
 * The argument pointers are read in one go, not one by one: a loop
 * with a helper call and an exit per pointer is what made the
 * verifier slow (5 ms).  The kernel itself read argv up to its NULL,
 * so (n + 1) pointers are mapped; if the whole block is not, fewer are
 * tried (a failed read leaves zeros: the loop ends there, and does not
 * depend on which read worked, which keeps the verifier's states few).
 */
static __always_inline void
read_argv(struct inflight *f, const char *const *argv)
{
	__u32	pos, start, i;
	long	n;

	start = pos = f->rec.len1 + 1;
	/* How many were read, in memory: a register would split the
	 * verifier's states three ways. */
	f->got = AREC_ARGS_MAX;
	if (bpf_probe_read_user(f->argvp, sizeof(f->argvp), argv) != 0) {
		f->got = 8;
		if (bpf_probe_read_user(f->argvp, 8 * sizeof(f->argvp[0]),
		    argv) != 0) {
			f->got = 1;
			if (bpf_probe_read_user(f->argvp, sizeof(f->argvp[0]),
			    argv) != 0) {
				f->got = 0;
				f->rec.flags |= AREC_F_FAULT;
			}
		}
	}
	for (i = 0; i < AREC_ARGS_MAX; i++) {
		if (f->argvp[i] == 0)
			break;
		if (pos - start >= AREC_ARGV_MAX)
			break;
		barrier_var(pos);
		pos &= AREC_POS_MASK;
		n = bpf_probe_read_user_str(&f->data[pos], AREC_ARG_MAX,
		    (const void *)f->argvp[i]);
		if (n <= 0)
			break;
		/*
		 * Filled to the brim: truncated.  Without a branch: one
		 * per argument would double the verifier's states each
		 * time.
		 */
		f->rec.flags |= (__u8)(((n / AREC_ARG_MAX) & 1) *
		    AREC_F_ARGV_TRUNC);
		pos += (__u32)n;
		f->rec.a1++;
	}
	/* Stopped with more to go, or at the end of what was read. */
	if (i == AREC_ARGS_MAX || f->argvp[i & (AREC_ARGS_MAX - 1)] != 0 ||
	    (i == f->got && f->got < AREC_ARGS_MAX))
		f->rec.flags |= AREC_F_ARGV_TRUNC;
	f->rec.len2 = (__u16)(pos - start);
}

/* The record out, at its real length. */
static __always_inline void
emit(struct inflight *f)
{
	__u64	len, flags;

	f->rec.ts = bpf_ktime_get_ns();
	len = (__u64)f->rec.len1 + f->rec.len2;
	if (f->rec.kind == AREC_EXEC)
		len++;		/* the path's NUL, before the arguments */
	barrier_var(len);
	if (len > AREC_DATA_MAX)
		len = AREC_DATA_MAX;
	len += sizeof(struct arec);
	/* Batched wake-ups; a prompt one when the ring fills up. */
	flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA) > ring_size / 8)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&ring, f, len, flags) != 0)
		__sync_fetch_and_add(&counters.lost, 1);
}

SEC("raw_tp/sys_enter")
int
sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct inflight	*f;
	struct pt_regs	 regs;
	long		 nr = (long)ctx->args[1];
	__u64		 bit, how[2];
	__u8		 kind;

	/* Every syscall of the host comes here: the bitmap first. */
	if (nr < 0 || nr >= AUDIT_NR_MAX)
		return 0;
	bit = (__u64)nr;
	if ((audited[(bit >> 6) & (AUDIT_NR_MAX / 64 - 1)] &
	    (1ULL << (bit & 63))) == 0)
		return 0;

	if (nr == nr_open || nr == nr_creat || nr == nr_openat ||
	    nr == nr_openat2)
		kind = AREC_OPEN;
	else if (nr == nr_execve || nr == nr_execveat)
		kind = AREC_EXEC;
	else if (nr == nr_connect)
		kind = AREC_CONNECT;
	else if (nr == nr_bind)
		kind = AREC_BIND;
	else
		kind = AREC_SYSCALL;
	if ((f = begin(nr, kind)) == NULL)
		return 0;

	if (kind == AREC_SYSCALL) {
		/* These do not return: their record goes out now. */
		if (nr == nr_exit || nr == nr_exit_group) {
			f->active = 0;
			emit(f);
		}
		return 0;
	}
	if (bpf_probe_read_kernel(&regs, sizeof(regs),
	    (void *)ctx->args[0]) != 0) {
		f->rec.flags |= AREC_F_FAULT;
		return 0;
	}
	if (nr == nr_open || nr == nr_creat) {
		f->rec.a0 = AT_FDCWD;
		if (nr == nr_creat) {
			f->rec.a1 = O_CREAT | O_WRONLY | O_TRUNC;
			f->rec.a2 = (__u32)PT_REGS_PARM2_SYSCALL(&regs);
		} else {
			f->rec.a1 = (__u32)PT_REGS_PARM2_SYSCALL(&regs);
			f->rec.a2 = (__u32)PT_REGS_PARM3_SYSCALL(&regs);
		}
		read_path(f, (const char *)PT_REGS_PARM1_SYSCALL(&regs));
	} else if (kind == AREC_OPEN) {
		f->rec.a0 = (__s32)PT_REGS_PARM1_SYSCALL(&regs);
		if (nr == nr_openat) {
			f->rec.a1 = (__u32)PT_REGS_PARM3_SYSCALL(&regs);
			f->rec.a2 = (__u32)PT_REGS_PARM4_SYSCALL(&regs);
		} else if (bpf_probe_read_user(how, sizeof(how),
		    (void *)PT_REGS_PARM3_SYSCALL(&regs)) == 0) {
			/* openat2: struct open_how { flags, mode, ... } */
			f->rec.a1 = (__u32)how[0];
			f->rec.a2 = (__u32)how[1];
		} else
			f->rec.flags |= AREC_F_FAULT;
		read_path(f, (const char *)PT_REGS_PARM2_SYSCALL(&regs));
	} else if (nr == nr_execve) {
		f->rec.a0 = AT_FDCWD;
		read_path(f, (const char *)PT_REGS_PARM1_SYSCALL(&regs));
		read_argv(f, (const char *const *)PT_REGS_PARM2_SYSCALL(&regs));
	} else if (kind == AREC_EXEC) {
		f->rec.a0 = (__s32)PT_REGS_PARM1_SYSCALL(&regs);
		f->rec.a2 = (__u32)PT_REGS_PARM5_SYSCALL(&regs);
		read_path(f, (const char *)PT_REGS_PARM2_SYSCALL(&regs));
		read_argv(f, (const char *const *)PT_REGS_PARM3_SYSCALL(&regs));
	} else {
		/* connect, bind (fd, sockaddr, len) */
		__u32	n = (__u32)PT_REGS_PARM3_SYSCALL(&regs);

		f->rec.a0 = (__s32)PT_REGS_PARM1_SYSCALL(&regs);
		if (n > AREC_ADDR_MAX)
			n = AREC_ADDR_MAX;
		barrier_var(n);
		n &= 127;
		if (bpf_probe_read_user(f->data, n,
		    (void *)PT_REGS_PARM2_SYSCALL(&regs)) != 0) {
			f->rec.flags |= AREC_F_FAULT;
			n = 0;
		}
		f->rec.len1 = (__u16)n;
	}
	return 0;
}

SEC("raw_tp/sys_exit")
int
sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct inflight	*f;

	/* Only a pod's task has the storage: this is the filter. */
	f = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);
	if (f == NULL || f->active == 0)
		return 0;
	f->active = 0;
	f->rec.ret = (__s64)ctx->args[1];
	emit(f);
	return 0;
}

/*
 * Run once by the loader (BPF_PROG_TEST_RUN, in the loader's own
 * context): the absolute level of calib_base (the cgroup the pods'
 * "podrunner" directory is in) among the loader's ancestors.  Pods are
 * two levels below.  /proc/self/cgroup cannot tell: in a cgroup
 * namespace it shows paths relative to the namespace's root.
 */
SEC("raw_tp")
int
calibrate(void *ctx)
{
	__u32	l;

	(void)ctx;
	for (l = 0; l < 64; l++)
		if (bpf_get_current_ancestor_cgroup_id(l) == calib_base) {
			pod_level = l + 2;
			return 0;
		}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
