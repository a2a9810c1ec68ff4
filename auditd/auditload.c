/*
 * The eBPF audit's loader (see auditload.h): a short-lived child of the
 * parent, which forks it first thing in a run and hands its channel to
 * the sandbox.  It reads nothing but the sandbox's messages.
 *
 * Its start, in order: die with the parent; close every inherited fd
 * but its channel; capabilities down to CAP_BPF and CAP_PERFMON; the
 * BPF object opened and loaded (about 5 ms of CPU here, most of
 * it the verifier), at once or after IMSG_AUDIT_LOAD (see loader_main);
 * attached after IMSG_AUDIT_LOAD if the policy enables the audit.  In
 * the meantime the parent configures the other processes, and the
 * pod's relay sets the pod up.
 *
 * The program attaches to the raw tracepoint sys_exit, by name (a
 * BPF_RAW_TRACEPOINT link): no tracefs, so no mount namespace to mount
 * it in, and no CAP_SYS_ADMIN.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btf.h>
#include <linux/capability.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auditbtf.h"
#include "auditload.h"
#include "imsg.h"
#include "log.h"
#include "podaudit.h"
#include "privsep.h"
/* The generated skeleton casts its embedded object's const away. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#include "podaudit.skel.h"
#pragma GCC diagnostic pop

_Static_assert(AUDIT_NR_MAX == AUDIT_SYSCALLS_MAX, "syscall bitmap size");

#define MAX_LINKS	2

/* The syscalls with a full record, always audited. */
static const char *const own[] = {
	"open", "creat", "openat", "openat2", "execve", "execveat", "connect",
	"bind",
};

struct loaded {
	struct podaudit	*skel;
	int		 links[MAX_LINKS];
	int		 nlinks;
};

static char	 libbpf_err[200];
/* The kernel's BTF has what the cast needs (kernel_btf_ids). */
static int	 have_cast;

static __dead void loader_main(int, int);
static int	 loader_prepare(char *, size_t);
static int	 do_load(struct podaudit *, uint64_t, char *, size_t);
static int	 do_attach(struct podaudit *, const struct audit_load *,
		    struct loaded *, char *, size_t);

/* libbpf's last warning, for the reason of a failure. */
static int
libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char	buf[1024], *nl, *p;

	if (level != LIBBPF_WARN)
		return 0;
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	/* A verifier log is many lines: its first says what failed. */
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	/* Its own prefix, and the summary that says nothing new, go. */
	p = strncmp(buf, "libbpf: ", 8) == 0 ? buf + 8 : buf;
	if (*p != '\0' && strncmp(p, "failed to load BPF skeleton", 27) != 0)
		(void)strlcpy(libbpf_err, p, sizeof(libbpf_err));
	return 0;
}

static void
seterr(char *err, size_t len, const char *what, int e)
{
	/* EPERM is a missing capability; EACCES the verifier's no. */
	if (e == EPERM)
		(void)snprintf(err, len, "%s: %s (CAP_BPF and CAP_PERFMON "
		    "are needed)", what, strerror(e));
	else
		(void)snprintf(err, len, "%s: %s%s%s", what, strerror(e),
		    libbpf_err[0] != '\0' ? "; libbpf: " : "", libbpf_err);
}

static uint64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int
audit_loader_fork(int eager, pid_t *pidp)
{
	int	sv[2];
	pid_t	pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
	    sv) == -1)
		return -1;
	switch (pid = fork()) {
	case -1:
		close(sv[0]);
		close(sv[1]);
		return -1;
	case 0:
		close(sv[0]);
		loader_main(sv[1], eager);
	}
	close(sv[1]);
	*pidp = pid;
	return sv[0];
}

/* Before anything of the policy is known: only what loading needs. */
static int
loader_prepare(char *err, size_t errlen)
{
	capng_results_t	 r;
	int		 caps[] = { CAP_BPF, CAP_PERFMON };
	size_t		 i;

	/* CAP_BPF and CAP_PERFMON, if we have them at all. */
	if (capng_get_caps_process() != 0) {
		(void)snprintf(err, errlen, "reading capabilities failed");
		return -1;
	}
	r = capng_have_capabilities(CAPNG_SELECT_CAPS);
	capng_clear(CAPNG_SELECT_BOTH);
	for (i = 0; r != CAPNG_NONE && i < sizeof(caps) / sizeof(caps[0]);
	    i++)
		(void)capng_update(CAPNG_ADD, CAPNG_EFFECTIVE |
		    CAPNG_PERMITTED | CAPNG_BOUNDING_SET, caps[i]);
	if (capng_apply(CAPNG_SELECT_BOTH) != 0) {
		/* Not in our bounding set (capsh, setpriv): none then. */
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
			(void)snprintf(err, errlen, "dropping capabilities "
			    "failed");
			return -1;
		}
	}
	return 0;
}

/* The configuration fixed at load time, then the load. */
static int
do_load(struct podaudit *skel, uint64_t ring_size, char *err, size_t errlen)
{
	struct podaudit__rodata	*ro = skel->rodata;

	if (ring_size < 4096 || (ring_size & (ring_size - 1)) != 0 ||
	    ring_size > (1U << 30)) {
		(void)snprintf(err, errlen, "ring size %llu is not a power "
		    "of 2 between 4 KiB and 1 GiB",
		    (unsigned long long)ring_size);
		return -1;
	}
	ro->nr_open = seccomp_syscall_resolve_name("open");
	ro->nr_creat = seccomp_syscall_resolve_name("creat");
	ro->nr_openat = seccomp_syscall_resolve_name("openat");
	ro->nr_openat2 = seccomp_syscall_resolve_name("openat2");
	ro->nr_execve = seccomp_syscall_resolve_name("execve");
	ro->nr_execveat = seccomp_syscall_resolve_name("execveat");
	ro->nr_connect = seccomp_syscall_resolve_name("connect");
	ro->nr_bind = seccomp_syscall_resolve_name("bind");
	ro->have_cast = (__u32)have_cast;
	if (bpf_map__set_max_entries(skel->maps.ring, (uint32_t)ring_size) !=
	    0) {
		seterr(err, errlen, "setting the ring size", errno);
		return -1;
	}
	if (podaudit__load(skel) != 0) {
		seterr(err, errlen, "loading the BPF programs", errno);
		return -1;
	}
	return 0;
}

/*
 * The kernel's BTF ids the program needs (the placeholders of
 * podaudit.h): the kfunc bpf_rdonly_cast, struct task_struct and struct
 * pt_regs.  libbpf would find them by parsing the whole of the kernel's
 * BTF (btf__load_vmlinux_btf: 7-9 ms here, more than the rest of the
 * load); audit_btf_ids() walks the type records of /sys/kernel/btf/vmlinux,
 * mapped, until it has them (0.3 ms here).  The kernel checks what it is
 * given: the call must name a kfunc of its BTF, the cast's id a struct.
 */
enum { BTF_RDCAST, BTF_TASK, BTF_REGS, BTF_NWANT };
static struct audit_btf_want	btf_want[BTF_NWANT] = {
	[BTF_RDCAST] = { "bpf_rdonly_cast", BTF_KIND_FUNC, -1 },
	[BTF_TASK] = { "task_struct", BTF_KIND_STRUCT, -1 },
	[BTF_REGS] = { "pt_regs", BTF_KIND_STRUCT, -1 },
};

static void
kernel_btf_ids(void)
{
	struct stat	 sb;
	void		*base;
	size_t		 len;
	int		 fd;

	have_cast = 0;
	if ((fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC)) == -1)
		return;
	if (fstat(fd, &sb) == -1 || sb.st_size <= 0) {
		close(fd);
		return;
	}
	len = (size_t)sb.st_size;
	base = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return;
	have_cast = audit_btf_ids(base, len, btf_want, BTF_NWANT) == 0;
	(void)munmap(base, len);
}

/*
 * The program's section (podaudit.bpf.c) is ours, so that this runs
 * before the load: the placeholders become the kfunc's call and the
 * type's id.
 */
static int
prepare_load(struct bpf_program *prog, struct bpf_prog_load_opts *opts,
    long cookie)
{
	const struct bpf_insn	*in = bpf_program__insns(prog);
	struct bpf_insn		*insns;
	size_t			 i, n = bpf_program__insn_cnt(prog);
	int			 calls = 0, ids = 0, rc;

	(void)opts;
	(void)cookie;
	if ((insns = calloc(n, sizeof(*insns))) == NULL)
		return -ENOMEM;
	memcpy(insns, in, n * sizeof(*insns));
	for (i = 0; i < n; i++) {
		if (insns[i].code == (BPF_JMP | BPF_CALL) &&
		    insns[i].src_reg == 0 &&
		    insns[i].imm == PODAUDIT_RDCAST_CALL) {
			if (have_cast) {
				insns[i].src_reg = BPF_PSEUDO_KFUNC_CALL;
				insns[i].off = 0;	/* the kernel's BTF */
				insns[i].imm = btf_want[BTF_RDCAST].id;
			} else {
				/* No cast: r0 = r1, the trusted pointer
				 * itself (slower to verify, as fast);
				 * the regs' cast is never reached
				 * (have_cast is 0). */
				insns[i].code = BPF_ALU64 | BPF_MOV | BPF_X;
				insns[i].dst_reg = BPF_REG_0;
				insns[i].src_reg = BPF_REG_1;
				insns[i].off = 0;
				insns[i].imm = 0;
			}
			calls++;
		} else if ((insns[i].code == (BPF_ALU64 | BPF_MOV | BPF_K) ||
		    insns[i].code == (BPF_ALU | BPF_MOV | BPF_K)) &&
		    insns[i].dst_reg == BPF_REG_2 &&
		    (insns[i].imm == PODAUDIT_RDCAST_TASK ||
		    insns[i].imm == PODAUDIT_RDCAST_REGS)) {
			insns[i].imm = !have_cast ? 0 : btf_want[
			    insns[i].imm == PODAUDIT_RDCAST_TASK ? BTF_TASK :
			    BTF_REGS].id;
			ids++;
		}
	}
	/* An id for each call (the compiler sets r2 for it); the verifier
	 * refuses a call whose r2 is not a known struct's id. */
	rc = calls > 0 && calls == ids ?
	    bpf_program__set_insns(prog, insns, n) : -EINVAL;
	free(insns);
	return rc;
}

/* The object opened, its program's placeholders to be resolved. */
static struct podaudit *
do_open(char *err, size_t errlen)
{
	LIBBPF_OPTS(libbpf_prog_handler_opts, hopts,
	    .prog_prepare_load_fn = prepare_load);
	struct podaudit	*skel;

	/* Without the ids (before Linux 6.2, or a BTF that cannot be
	 * mapped, before 6.16), the program walks without the cast. */
	kernel_btf_ids();
	if (libbpf_register_prog_handler("podrunner.raw_tp/",
	    BPF_PROG_TYPE_RAW_TRACEPOINT, 0, &hopts) < 0) {
		seterr(err, errlen, "registering the program's section",
		    errno);
		return NULL;
	}
	if ((skel = podaudit__open()) == NULL)
		seterr(err, errlen, "opening the BPF object", errno);
	return skel;
}

static int
add_link(struct loaded *l, struct bpf_link *link)
{
	if (link == NULL || l->nlinks == MAX_LINKS)
		return -1;
	l->links[l->nlinks++] = bpf_link__fd(link);
	return 0;
}

/*
 * Where this process's argument and environment strings are, from
 * /proc/self/stat (fields 48 to 51), for calibrate.
 */
static int
self_mm(__u64 v[4])
{
	char	 buf[2048], *p;
	ssize_t	 n;
	int	 fd, field;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* After the command's name, which may hold anything: field 3. */
	if ((p = strrchr(buf, ')')) == NULL) {
		errno = EINVAL;
		return -1;
	}
	for (field = 3, p++; field < 48 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	    &v[3]) != 4) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* What the policy decides, then the programs attached. */
static int
do_attach(struct podaudit *skel, const struct audit_load *cfg,
    struct loaded *l, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_test_run_opts, run);
	__u64		 ctx[2] = { 0, 0 };
	const char	*tp = "";
	size_t		 i;
	int		 nr;

	memset(l, 0, sizeof(*l));
	l->skel = skel;
	/* The task's fields as the programs read them (podaudit.bpf.c). */
	if (self_mm(skel->data_cfg->calib_mm) == -1) {
		(void)snprintf(err, errlen, "/proc/self/stat: %s",
		    strerror(errno));
		return -1;
	}
	/* sys_exit, with a null pt_regs: calibrate (podaudit.bpf.c). */
	run.ctx_in = ctx;
	run.ctx_size_in = sizeof(ctx);
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.sys_exit),
	    &run) != 0) {
		seterr(err, errlen, "checking the program", errno);
		return -1;
	}
	if (skel->data_cfg->calib_bad != CALIB_DONE) {
		(void)snprintf(err, errlen, "the kernel's structures are not "
		    "those podrunner was built for (%s%s%s%s%s differ): "
		    "rebuild it on this kernel", skel->data_cfg->calib_bad &
		    CALIB_CGROUP ? " cgroup" : "", skel->data_cfg->calib_bad &
		    CALIB_PID ? " pid" : "", skel->data_cfg->calib_bad &
		    CALIB_UID ? " uid" : "", skel->data_cfg->calib_bad &
		    CALIB_COMM ? " comm" : "", skel->data_cfg->calib_bad &
		    CALIB_MM ? " mm" : "");
		return -1;
	}

	/* What is audited: ours, and the policy's others. */
	memcpy(skel->data_cfg->audited, cfg->generic,
	    sizeof(skel->data_cfg->audited));
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if ((nr = seccomp_syscall_resolve_name(own[i])) >= 0 &&
		    nr < AUDIT_NR_MAX)
			skel->data_cfg->audited[nr / 64] |= 1ULL << (nr % 64);

	tp = "sys_exit";
	if (add_link(l, bpf_program__attach_raw_tracepoint(
	    skel->progs.sys_exit, tp)) == -1)
		goto fail;
	return 0;
 fail:
	{
		char	what[128];

		(void)snprintf(what, sizeof(what), "attaching to the raw "
		    "tracepoint %s", tp);
		seterr(err, errlen, what, errno);
	}
	return -1;
}

/* The policy's settings; the end of this process if it disables. */
static void
settings(struct imsgbuf *ib, struct audit_load *cfg)
{
	struct imsg	imsg;

	if (imsg_wait(ib, &imsg) <= 0)
		_exit(0);	/* the sandbox is gone */
	if (imsg_get_type(&imsg) != IMSG_AUDIT_LOAD ||
	    imsg_get_data(&imsg, cfg, sizeof(*cfg)) == -1)
		_exit(1);
	imsg_free(&imsg);
	if (!cfg->enabled)
		_exit(0);
}

static void
send_fd(struct imsgbuf *ib, uint32_t type, int fd, const void *data,
    size_t len)
{
	int	dfd;

	/* imsg closes what it sends; the object keeps its own. */
	if ((dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    imsg_compose(ib, type, 0, 0, dfd, data, len) == -1)
		_exit(1);
}

/*
 * Eager: the programs are loaded before the policy is known, without
 * waiting for it (the run has no policy document, and the defaults
 * enable the audit): the policy comes 5-10 ms after our start, the load
 * takes longer, and the pod must not wait for it.  Otherwise, only if
 * the policy enables the audit: disabled, it costs nothing.  Either
 * way they are attached only then.
 */
static __dead void
loader_main(int fd, int eager)
{
	struct audit_load		 cfg;
	struct audit_ring		 ring;
	struct audit_counters_map	 cm;
	struct audit_ready		 ready;
	struct podaudit			*skel = NULL;
	struct loaded			 l;
	struct imsgbuf			 ib;
	char				 err[512] = "";
	uint64_t			 t0, tload;
	int				 i;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		_exit(1);
	/* Nothing of the sandbox's but our channel. */
	if (fd != 3) {
		if (dup2(fd, 3) == -1)
			_exit(1);
		fd = 3;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (syscall(SYS_close_range, 4U, ~0U, 0) == -1)
		_exit(1);
	/* Nor podrunner's stdin, stdout and stderr (a reader waits for
	 * their end). */
	if ((i = open("/dev/null", O_RDWR)) == -1 || dup2(i, 0) == -1 ||
	    dup2(i, 1) == -1 || dup2(i, 2) == -1)
		_exit(1);
	if (i > 2)
		close(i);
	(void)signal(SIGCHLD, SIG_DFL);
	setproctitle("%s", "audit loader");
	priv_setname("auditload");
	imsgbuf_init(&ib, fd);
	imsgbuf_allow_fdpass(&ib);
	libbpf_set_print(libbpf_print);

	if (!eager)
		settings(&ib, &cfg);
	t0 = now_us();
	if (loader_prepare(err, sizeof(err)) == 0 &&
	    (skel = do_open(err, sizeof(err))) != NULL)
		(void)do_load(skel, AUDIT_RING_DEFAULT, err, sizeof(err));
	tload = now_us() - t0;
	if (eager)
		settings(&ib, &cfg);

	t0 = now_us();
	if (err[0] != '\0' || do_attach(skel, &cfg, &l, err,
	    sizeof(err)) == -1) {
		if (imsg_compose(&ib, IMSG_AUDIT_UNAVAILABLE, 0, 0, -1, err,
		    strlen(err)) == -1)
			_exit(1);
		(void)imsgbuf_flush(&ib);
		_exit(0);
	}
	for (i = 0; i < l.nlinks; i++)
		send_fd(&ib, IMSG_AUDIT_LINK, l.links[i], NULL, 0);
	send_fd(&ib, IMSG_AUDIT_PODS, bpf_map__fd(skel->maps.data_pods), NULL,
	    0);
	memset(&ring, 0, sizeof(ring));
	ring.size = AUDIT_RING_DEFAULT;
	send_fd(&ib, IMSG_AUDIT_RING, bpf_map__fd(skel->maps.ring), &ring,
	    sizeof(ring));
	memset(&cm, 0, sizeof(cm));
	cm.size = (uint32_t)bpf_map__value_size(skel->maps.bss);
	cm.offset = offsetof(struct podaudit__bss, counters);
	send_fd(&ib, IMSG_AUDIT_COUNTERS, bpf_map__fd(skel->maps.bss), &cm,
	    sizeof(cm));
	memset(&ready, 0, sizeof(ready));
	ready.load_us = (uint32_t)tload;
	ready.attach_us = (uint32_t)(now_us() - t0);
	ready.nlinks = (uint32_t)l.nlinks;
	if (imsg_compose(&ib, IMSG_AUDIT_READY, 0, 0, -1, &ready,
	    sizeof(ready)) == -1)
		_exit(1);
	(void)imsgbuf_flush(&ib);
	/*
	 * Not podaudit__destroy(): the links live on in the sandbox's
	 * copies of their fds; ours close with the process.
	 */
	_exit(0);
}

/*
 * The pods' slots (struct audit_pods), mapped by the sandbox: not
 * inherited by its children (MADV_DONTFORK), so a relay never has it.
 */
struct audit_pods *
audit_pods_map(int fd)
{
	void	*m;

	m = mmap(NULL, sizeof(struct audit_pods), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return NULL;
	(void)madvise(m, sizeof(struct audit_pods), MADV_DONTFORK);
	return m;
}

/* A pod's slot: the id's low bits, or one of the few after (pod_of). */
static uint32_t
pod_slot(uint64_t cgid, uint32_t i)
{
	return (uint32_t)(cgid + i) & (AUDIT_POD_SLOTS - 1);
}

/* The id last: a slot the programs see is complete. */
int
audit_pod_add(struct audit_pods *ap, uint64_t cgid, uint32_t num)
{
	uint32_t	i, s = 0;

	if (cgid == 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < AUDIT_POD_PROBES; i++) {
		s = pod_slot(cgid, i);
		if (__atomic_load_n(&ap->cgid[s], __ATOMIC_RELAXED) == 0)
			break;
	}
	if (i == AUDIT_POD_PROBES) {
		errno = ENOSPC;
		return -1;
	}
	ap->num[s] = num;
	__atomic_store_n(&ap->cgid[s], cgid, __ATOMIC_RELEASE);
	return 0;
}

void
audit_pod_del(struct audit_pods *ap, uint64_t cgid)
{
	uint32_t	i, s;

	for (i = 0; i < AUDIT_POD_PROBES; i++) {
		s = pod_slot(cgid, i);
		if (ap->cgid[s] == cgid)
			__atomic_store_n(&ap->cgid[s], 0, __ATOMIC_RELEASE);
	}
}

/*
 * `podrunner check`: the whole mechanism in a throwaway child, with the
 * root cgroup (id 1, level 0) standing in for the pods' base.
 */
int
audit_probe(char *err, size_t errlen, double *ms)
{
	struct audit_load	 cfg;
	struct podaudit		*skel;
	struct loaded		 l;
	struct {
		int32_t		 ok;
		uint32_t	 us;
		char		 err[400];
	}			 res;
	uint64_t		 t0;
	int			 p[2], status;
	pid_t			 pid;

	memset(&res, 0, sizeof(res));
	if (pipe2(p, O_CLOEXEC) == -1) {
		(void)snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	switch (pid = fork()) {
	case -1:
		(void)snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	case 0:
		close(p[0]);
		libbpf_set_print(libbpf_print);
		t0 = now_us();
		memset(&cfg, 0, sizeof(cfg));
		cfg.enabled = 1;
		if (loader_prepare(res.err, sizeof(res.err)) == 0 &&
		    (skel = do_open(res.err, sizeof(res.err))) != NULL &&
		    do_load(skel, AUDIT_RING_DEFAULT, res.err,
		    sizeof(res.err)) == 0 && do_attach(skel, &cfg, &l,
		    res.err, sizeof(res.err)) == 0)
			res.ok = 1;
		res.us = (uint32_t)(now_us() - t0);
		(void)!write(p[1], &res, sizeof(res));
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &res, sizeof(res)) != (ssize_t)sizeof(res)) {
		res.ok = 0;
		(void)snprintf(res.err, sizeof(res.err), "the probe died");
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	res.err[sizeof(res.err) - 1] = '\0';
	*ms = res.us / 1000.0;
	if (!res.ok) {
		(void)snprintf(err, errlen, "%s", res.err);
		return -1;
	}
	return 0;
}
