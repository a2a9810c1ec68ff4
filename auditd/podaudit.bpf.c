/*
 * podaudit: the eBPF side of podrunner's syscall audit (auditd(8) reads
 * what it writes).  Built by make with clang -target bpf into a libbpf
 * skeleton; loaded and attached by the sandbox's loader child
 * (auditload.c), which also sets the configuration below.
 *
 * One program, on the raw sys_exit tracepoint: a record is made when
 * the syscall returns, from its arguments (the registers at entry,
 * which the kernel keeps in the task's pt_regs: the tracepoint's first
 * argument, read in place through the cast below, with no helper call;
 * a copy of them with bpf_probe_read_kernel() cost about 30 ns more
 * for each of a pod's syscalls here), the user memory they point to
 * and the result.  Why not sys_enter too, or the per-syscall
 * tracepoints (syscalls/sys_enter_openat, ...), measured here on a
 * 2-CPU VM with the SRSO ("safe RET") and retpoline mitigations, for a
 * loop of openat + close of a host process:
 *   - any program on a syscall tracepoint sends every syscall of every
 *     process through the slow path and a BPF dispatch: an empty program
 *     on sys_exit alone costs 1.09-1.14x (make bench prints it as the
 *     host loop's floor), on sys_enter and sys_exit 1.19x, and empty
 *     programs on sys_{enter,exit}_openat 1.25x;
 *   - detaching a per-syscall tracepoint waits for RCU grace periods
 *     (35 ms each, half a second for eight pairs, at every run's end);
 *     a raw tracepoint detaches at once;
 *   - each helper call costs 30-40 ns (the mitigations' return
 *     thunks), and entry plus exit needs two more of them (per-thread
 *     storage) per record.
 * The price: user memory (a path, a sockaddr, argv) is read when the
 * syscall returns, not when it starts, so a thread of the worker could
 * rewrite it in between and make the record differ from what the
 * kernel read; the result (ret) is the kernel's either way.  A
 * successful execve has replaced the memory its arguments were in: its
 * path and argv are read from the new image instead (the file name the
 * kernel put above the environment strings, the argument strings
 * between mm->arg_start and arg_end).  exit and exit_group do not
 * return, and are never recorded; neither is a syscall that the pod's
 * seccomp filter refuses (it never runs).
 *
 * The filter comes first, before any other work, and costs no helper
 * call for a syscall that is not audited (most are not, of the host's
 * and of a pod's): the syscall's number, from the registers, against
 * the bitmap of audited ones.  Then the calling task's cgroup v2 id is
 * compared with the pods' (.data.pods, struct audit_pods: the sandbox
 * writes a pod's id when it creates the pod's cgroup and clears it when
 * the pod is gone).  A task of no pod returns there.  Being a cgroup,
 * the filter follows fork without a race: a child is in its parent's
 * cgroup from its first instruction.  A pod's processes are in the
 * pod's cgroup itself, never below it (nothing is delegated to the pod,
 * which has no cgroup file system), so the task's own cgroup is the one
 * to compare, not an ancestor.  The id is read by walking the task's
 * structures (current->cgroups->dfl_cgrp->kn->id) and the pods by a few
 * loads, not with bpf_get_current_cgroup_id() and a hash map; the
 * credentials the same way (current->cred), not with
 * bpf_get_current_uid_gid().  Without the cast (before Linux 6.2), the
 * registers come through bpf_task_pt_regs(), before the number.
 *
 * A record is built in a per-CPU buffer (the program runs with
 * preemption off, and the kernel never runs it twice at once on a CPU)
 * and output with bpf_ringbuf_output() at its real length.  Wake-ups
 * are batched: auditd drains on a timer and is woken every 1024th
 * record of a CPU.  A record the ring has no room for is counted in
 * counters.lost, never dropped silently.
 *
 * No CO-RE relocations, so that libbpf need not parse the kernel's BTF
 * at load time, which would be most of the load: pt_regs is fixed per
 * architecture, and the task's fields read (with the offsets of the
 * build's vmlinux.h) are checked once by calibrate, against the helpers
 * and the loader's own /proc/self/stat; the loader refuses a kernel that
 * disagrees.
 */
#define BPF_NO_PRESERVE_ACCESS_INDEX
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "podaudit.h"

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(r)	((long)(r)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(r)	((long)(r)->syscallno)
#else
#error "the syscall number's register of this architecture"
#endif

/* Set by the loader before load (frozen afterwards). */
const volatile __s32	nr_open = -1, nr_creat = -1, nr_openat = -1,
			nr_openat2 = -1, nr_execve = -1, nr_execveat = -1,
			nr_connect = -1, nr_bind = -1;
/* The loader made rdonly_cast (below) the kfunc's call. */
const volatile __u32	have_cast = 0;

/*
 * Set by the loader after load, before attach: the audited syscalls;
 * what calibrate compares and what it found.  A map that only the
 * loader ever holds: auditd gets the .bss (the counters), whose fd it
 * could mmap writable, the sandbox .data.pods.
 */
__u64			audited[AUDIT_NR_MAX / 64] SEC(".data.cfg");
__u64			calib_mm[4] SEC(".data.cfg");	/* arg_start, arg_end,
							 * env_start, env_end */
__u32			calib_bad SEC(".data.cfg") = 0;
/* Records per CPU, for the wake-ups. */
__u32			wake_ctr[64] SEC(".data.cfg");

/* The pods (podaudit.h), written by the sandbox. */
struct audit_pods	pods SEC(".data.pods");

/* The counters auditd reads: the only member of .bss. */
struct audit_counters	counters;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);	/* the loader sets it */
} ring SEC(".maps");

/* The record being made: header, then its data; argv's pointers. */
struct scratch {
	struct arec	rec;
	__u8		data[AREC_DATA_MAX];
	__u32		got;		/* exec: argv pointers read */
	__u32		pos;		/* exec: where the next argument goes */
	__u32		start;		/* exec: where the arguments begin */
	__u32		pad;
	__u64		argvp[AREC_ARGS_MAX + 1];	/* and the one after */
	__u64		how[4];		/* openat2's open_how; exec's path
					 * and argv; the mm's strings */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

#define AT_FDCWD	(-100)
#define O_WRONLY	01
#define O_CREAT		0100
#define O_TRUNC		01000

/*
 * bpf_rdonly_cast(), a kfunc of the kernel (6.2 and later; the verifier
 * makes it a move), called through a placeholder: the loader makes this
 * helper call a call of the kfunc, and PODAUDIT_RDCAST_TASK and
 * PODAUDIT_RDCAST_REGS the kernel's BTF ids of struct task_struct and
 * struct pt_regs (auditload.c), which libbpf would otherwise find by
 * parsing the whole of the kernel's BTF (7-9 ms here); without them, a
 * move of the pointer itself, and have_cast is 0: the regs' cast, whose
 * argument is a number to the verifier, is never reached.  An
 * unpatched program does not load: no helper has this number.
 */
static void *(*const rdonly_cast)(const void *, __u32) =
    (void *)PODAUDIT_RDCAST_CALL;

/*
 * The task's cgroup v2 id, without a helper call: loads from the task's
 * structures.  Through the cast: walked from a trusted pointer, each
 * pointer the walk loads makes the verifier search the kernel's BTF by
 * name, up to four times, for the types that keep their trust (the
 * search is linear: 70% of the program's verification, 7-8 ms of a
 * run's start here); from the cast's untrusted one, it does not.  The
 * loads are the same either way, faults reading as 0.
 */
static __always_inline struct task_struct *
task_cast(struct task_struct *t)
{
	return rdonly_cast(t, PODAUDIT_RDCAST_TASK);
}

static __always_inline __u64
task_cgid(struct task_struct *t)
{
	return task_cast(t)->cgroups->dfl_cgrp->kn->id;
}

/*
 * The pod number of a task's cgroup id, or 0 (the parent never numbers a
 * pod 0).  A pod's slot is the id's low bits or one of the few after
 * (audit_pod_add): AUDIT_POD_PROBES loads, not a scan of every slot,
 * which the verifier walks slot by slot (a scan of 64 was 7 ms of the
 * load here).  A number read from the map, not the slot's index, leaves
 * the loop: one unknown value to the verifier, not constants that it
 * would each follow through the rest of the program.
 */
static __always_inline __u32
pod_of(__u64 id)
{
	__u32	i, s;

	for (i = 0; i < AUDIT_POD_PROBES; i++) {
		s = (__u32)(id + i) & (AUDIT_POD_SLOTS - 1);
		if (pods.cgid[s] == id)
			return pods.num[s];
	}
	return 0;
}

/* A user string into data at 0; its length without the NUL. */
static __always_inline void
read_path(struct scratch *f, const char *up)
{
	long	n;

	n = bpf_probe_read_user_str(f->data, AREC_PATH_MAX, up);
	if (n <= 0) {
		f->rec.flags |= AREC_F_FAULT;
		f->data[0] = '\0';
		n = 1;
	} else if (n == AREC_PATH_MAX)
		f->rec.flags |= AREC_F_PATH_TRUNC;
	f->rec.len1 = (__u16)(n - 1);
}

/*
 * argv by its pointers (an exec that failed: the caller's memory is
 * still there), one argument for each turn of bpf_loop(): the verifier
 * checks argv_one() for any turn at once, where a bounded loop had it
 * follow each turn with each of the states it came in with (about half
 * of the program's verification: 1.5-2 ms of CPU of every run here).
 * The pointers are read in one go, not one by one (a helper call and
 * an exit per pointer made the verifier slow); the kernel itself read
 * argv up to its NULL, so (n + 1) pointers are mapped, and if the whole
 * block is not, fewer are tried.  A failed read leaves zeros, where the
 * loop ends.  Where the strings go (pos), where they began (start) and
 * how many pointers were read (got) are kept in the record's scratch,
 * not in registers: numbers the verifier does not follow turn by turn.
 */
static long
argv_one(__u64 i, void *arg)
{
	struct scratch	*f = *(struct scratch **)arg;
	__u32		 pos;
	long		 n;

	i &= AREC_ARGS_MAX - 1;
	if (f->argvp[i] == 0) {
		/* The end, or the end of what could be read. */
		if (i == f->got)
			f->rec.flags |= AREC_F_ARGV_TRUNC;
		return 1;
	}
	pos = f->pos;
	if (pos - f->start >= AREC_ARGV_MAX) {
		f->rec.flags |= AREC_F_ARGV_TRUNC;
		return 1;
	}
	pos &= AREC_POS_MASK;
	n = bpf_probe_read_user_str(&f->data[pos], AREC_ARG_MAX,
	    (const void *)f->argvp[i]);
	if (n <= 0) {
		f->rec.flags |= AREC_F_ARGV_TRUNC;
		return 1;
	}
	/* Filled to the brim, or the last one kept with more after it:
	 * truncated. */
	if (n == AREC_ARG_MAX || (i == AREC_ARGS_MAX - 1 &&
	    f->argvp[AREC_ARGS_MAX] != 0))
		f->rec.flags |= AREC_F_ARGV_TRUNC;
	f->pos = pos + (__u32)n;
	f->rec.a1++;
	return 0;
}

static __always_inline void
read_argv(struct scratch *f, const char *const *argv)
{
	struct scratch	*arg = f;

	f->start = f->pos = f->rec.len1 + 1;
	f->got = AREC_ARGS_MAX + 1;
	if (bpf_probe_read_user(f->argvp, sizeof(f->argvp), argv) != 0) {
		f->got = 1;
		if (bpf_probe_read_user(f->argvp, sizeof(f->argvp[0]),
		    argv) != 0) {
			f->got = 0;
			f->rec.flags |= AREC_F_FAULT;
		}
	}
	bpf_loop(AREC_ARGS_MAX, argv_one, &arg, 0);
	f->rec.len2 = (__u16)(f->pos - f->start);
}

/*
 * A successful exec: its memory is the new image's.  The file name the
 * kernel ran is the string right above the environment strings (it was
 * copied first, at the top of the stack), the arguments are the strings
 * from mm->arg_start to arg_end, NUL-separated as the record wants them.
 */
/*
 * Where the mm keeps a process's argument and environment strings
 * (arg_start, arg_end, env_start, env_end): read with
 * bpf_probe_read_kernel at the offsets of the build's vmlinux.h from
 * bpf_get_current_task(), a number to the verifier, not by walking the
 * structures, which costs it about a millisecond a walk; calibrate
 * checks the offsets.
 */
static __always_inline void
mm_strings(__u64 *v)
{
	__u64	t = bpf_get_current_task(), mm = 0;

	if (bpf_probe_read_kernel(&mm, sizeof(mm), (void *)(t +
	    __builtin_offsetof(struct task_struct, mm))) != 0 || mm == 0 ||
	    bpf_probe_read_kernel(v, 4 * sizeof(v[0]), (void *)(mm +
	    __builtin_offsetof(struct mm_struct, arg_start))) != 0)
		v[0] = v[1] = v[2] = v[3] = 0;
}

static __always_inline void
read_new_image(struct scratch *f)
{
	__u64	start, end;
	__u32	pos, n;

	mm_strings(f->how);
	start = f->how[0];
	end = f->how[1];
	read_path(f, (const char *)f->how[3]);
	/* From memory: the path's length as a number the verifier does not
	 * follow, not one state for each way read_path() ended. */
	pos = *(volatile __u16 *)&f->rec.len1 + 1;
	n = end > start ? (__u32)(end - start) : 0;
	if (n > AREC_ARGV_MAX) {
		n = AREC_ARGV_MAX;
		f->rec.flags |= AREC_F_ARGV_TRUNC;
	}
	barrier_var(pos);
	pos &= 1023;
	barrier_var(n);
	n &= 2047;
	if (n == 0 || n > AREC_ARGV_MAX ||
	    bpf_probe_read_user(&f->data[pos], n, (const void *)start) != 0) {
		f->rec.flags |= AREC_F_FAULT;
		return;
	}
	/* The last argument ends with a NUL, even cut short. */
	f->data[(pos + n - 1) & AREC_POS_MASK] = '\0';
	f->rec.len2 = (__u16)n;
}

/* The record out, at its real length. */
static __always_inline void
emit(struct scratch *f)
{
	__u64	len, flags;
	__u32	cpu, c;

	f->rec.ts = bpf_ktime_get_ns();
	len = (__u64)f->rec.len1 + f->rec.len2;
	if (f->rec.kind == AREC_EXEC)
		len++;		/* the path's NUL, before the arguments */
	barrier_var(len);
	if (len > AREC_DATA_MAX)
		len = AREC_DATA_MAX;
	len += sizeof(struct arec);
	/*
	 * Batched wake-ups: auditd drains on a timer, and is woken by
	 * every 1024th record of a CPU (about 100 KiB, far less than the
	 * ring), not by each (each would queue an irq_work and wake it).
	 * bpf_get_smp_processor_id() is inlined by the verifier; no
	 * helper asks the ring how full it is (one more call per record).
	 */
	cpu = bpf_get_smp_processor_id() & 63;
	c = ++wake_ctr[cpu];
	flags = (c & 1023) == 0 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&ring, f, len, flags) != 0)
		__sync_fetch_and_add(&counters.lost, 1);
}

/*
 * Run once by the loader (BPF_PROG_TEST_RUN of sys_exit with a null
 * pt_regs, which a syscall never has, in the loader's own context):
 * what sys_exit reads from the task's structures with the offsets of
 * the build's vmlinux.h (the cgroup id, pid, tgid, comm, the mm's
 * argument and environment strings) must be what the helpers say, and
 * the loader's
 * /proc/self/stat for its mm (calib_mm).  Anything else: the kernel is
 * not the one podrunner was built for.  Part of sys_exit, not a program
 * of its own: the verifier's walks of the kernel's types cost
 * milliseconds per program.
 */
static __noinline int
calibrate(struct task_struct *t, __u64 cgid)
{
	struct task_struct	*u = task_cast(t);
	char			 comm[16];
	__u64			 id, mm[4], w[2];
	__u32			 bad = 0;

	if (cgid != bpf_get_current_cgroup_id())
		bad |= CALIB_CGROUP;
	id = bpf_get_current_pid_tgid();
	if (u->tgid != (int)(id >> 32) || u->pid != (int)(__u32)id)
		bad |= CALIB_PID;
	id = bpf_get_current_uid_gid();
	if (u->cred->uid.val != (__u32)id || u->cred->gid.val != id >> 32)
		bad |= CALIB_UID;
	/* As sys_exit copies it; in two words, not sixteen bytes (each
	 * load of the task costs the verifier). */
	__builtin_memset(comm, 0, sizeof(comm));
	bpf_get_current_comm(comm, sizeof(comm));
	__builtin_memcpy(&w, u->comm, sizeof(w));
	if (w[0] != ((__u64 *)comm)[0] || w[1] != ((__u64 *)comm)[1])
		bad |= CALIB_COMM;
	mm_strings(mm);
	if (mm[0] != calib_mm[0] || mm[1] != calib_mm[1] ||
	    mm[2] != calib_mm[2] || mm[3] != calib_mm[3])
		bad |= CALIB_MM;
	calib_bad = bad | CALIB_DONE;
	return 0;
}

SEC("podrunner.raw_tp/sys_exit")
int
sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct	*t = NULL, *u;
	struct scratch		*f;
	struct pt_regs		*regs;
	__u64			 bit, cgid;
	__u32			 pod, zero = 0, n;
	long			 nr, ret = (long)ctx->args[1];
	__u8			 kind;

	if (ctx->args[0] == 0) {
		t = bpf_get_current_task_btf();
		return calibrate(t, task_cgid(t));
	}
	/* Every syscall of the host comes here: the number first, from
	 * the tracepoint's own pt_regs (with the cast: no helper call). */
	if (have_cast)
		regs = rdonly_cast((void *)ctx->args[0], PODAUDIT_RDCAST_REGS);
	else {
		t = bpf_get_current_task_btf();
		regs = (struct pt_regs *)bpf_task_pt_regs(t);
	}
	nr = SYSCALL_NR(regs);
	if (nr < 0 || nr >= AUDIT_NR_MAX)
		return 0;
	bit = (__u64)nr;
	if ((audited[(bit >> 6) & (AUDIT_NR_MAX / 64 - 1)] &
	    (1ULL << (bit & 63))) == 0)
		return 0;
	if (t == NULL)
		t = bpf_get_current_task_btf();
	cgid = task_cgid(t);
	if ((pod = pod_of(cgid)) == 0)
		return 0;
	if ((f = bpf_map_lookup_elem(&scratch, &zero)) == NULL)
		return 0;

	/* Who, before any branch; through the cast, each load costs the
	 * verifier no search of the kernel's BTF. */
	u = task_cast(t);
	f->rec.pod = pod;
	f->rec.pid = u->tgid;
	f->rec.tid = u->pid;
	f->rec.uid = u->cred->uid.val;
	f->rec.gid = u->cred->gid.val;
	__builtin_memcpy(f->rec.comm, u->comm, sizeof(f->rec.comm));
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
	f->rec.nr = (__u16)nr;
	f->rec.kind = kind;
	f->rec.flags = 0;
	f->rec.ret = ret;
	f->rec.a0 = f->rec.a1 = f->rec.a2 = 0;
	f->rec.len1 = f->rec.len2 = 0;

	if (nr == nr_open || nr == nr_creat) {
		f->rec.a0 = AT_FDCWD;
		if (nr == nr_creat) {
			f->rec.a1 = O_CREAT | O_WRONLY | O_TRUNC;
			f->rec.a2 = (__u32)PT_REGS_PARM2_SYSCALL(regs);
		} else {
			f->rec.a1 = (__u32)PT_REGS_PARM2_SYSCALL(regs);
			f->rec.a2 = (__u32)PT_REGS_PARM3_SYSCALL(regs);
		}
		read_path(f, (const char *)PT_REGS_PARM1_SYSCALL(regs));
	} else if (kind == AREC_OPEN) {
		f->rec.a0 = (__s32)PT_REGS_PARM1_SYSCALL(regs);
		if (nr == nr_openat) {
			f->rec.a1 = (__u32)PT_REGS_PARM3_SYSCALL(regs);
			f->rec.a2 = (__u32)PT_REGS_PARM4_SYSCALL(regs);
		} else if (bpf_probe_read_user(f->how, sizeof(f->how),
		    (void *)PT_REGS_PARM3_SYSCALL(regs)) == 0) {
			/* openat2: struct open_how { flags, mode, ... } */
			f->rec.a1 = (__u32)f->how[0];
			f->rec.a2 = (__u32)f->how[1];
		} else
			f->rec.flags |= AREC_F_FAULT;
		read_path(f, (const char *)PT_REGS_PARM2_SYSCALL(regs));
	} else if (kind == AREC_EXEC && ret == 0) {
		/* The registers were reset for the new image too. */
		f->rec.a0 = AT_FDCWD;
		read_new_image(f);
	} else if (kind == AREC_EXEC) {
		/* Failed: execve(path, argv, envp) or execveat(dirfd,
		 * path, argv, envp, flags); one read_argv (each copy of it
		 * costs the verifier). */
		if (nr == nr_execve) {
			f->rec.a0 = AT_FDCWD;
			f->how[0] = PT_REGS_PARM1_SYSCALL(regs);
			f->how[1] = PT_REGS_PARM2_SYSCALL(regs);
		} else {
			f->rec.a0 = (__s32)PT_REGS_PARM1_SYSCALL(regs);
			f->rec.a2 = (__u32)PT_REGS_PARM5_SYSCALL(regs);
			f->how[0] = PT_REGS_PARM2_SYSCALL(regs);
			f->how[1] = PT_REGS_PARM3_SYSCALL(regs);
		}
		read_path(f, (const char *)f->how[0]);
		read_argv(f, (const char *const *)f->how[1]);
	} else if (kind != AREC_SYSCALL) {
		/* connect, bind (fd, sockaddr, len) */
		n = (__u32)PT_REGS_PARM3_SYSCALL(regs);
		f->rec.a0 = (__s32)PT_REGS_PARM1_SYSCALL(regs);
		if (n > AREC_ADDR_MAX)
			n = AREC_ADDR_MAX;
		barrier_var(n);
		n &= 127;
		if (bpf_probe_read_user(f->data, n,
		    (void *)PT_REGS_PARM2_SYSCALL(regs)) != 0) {
			f->rec.flags |= AREC_F_FAULT;
			n = 0;
		}
		f->rec.len1 = (__u16)n;
	}
	emit(f);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
