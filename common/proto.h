/*
 * podrunner's inter-process protocol: every imsg type, grouped by who
 * sends it to whom, and the fixed-size payloads.  Variable payloads are
 * built with ibuf_add_*() and read back with the bounds-checked
 * ibuf_get_*(); each reader demands that nothing is left over.
 */
#ifndef PODRUNNER_PROTO_H
#define PODRUNNER_PROTO_H

#include <stdint.h>

#define PODRUNNER_PROTO_VERSION	1
#define PODRUNNER_VERSION	"0.1.0"

/* Fixed fd of a child's channel to the parent (STYLE.md). */
#define PROC_PARENT_FD		3
/* Largest message between the parent and a child (spawn, policy). */
#define CHILD_IMSG_MAX		(4 * 1024 * 1024)

enum proc_id {
	PROC_PARENT = 0,
	PROC_POLICYD,
	PROC_PROXY,
	PROC_AUDITD,
	PROC_SANDBOX,
	PROC_MAX
};

enum imsg_type {
	IMSG_NONE = 0,

	/* IMSG_CTL_*: parent -> every child, start-up and lifecycle. */
	IMSG_CTL_VERSION,	/* u32 protocol version, first message */
	IMSG_CTL_VERBOSE,	/* u32 verbosity */
	IMSG_CTL_START,		/* all children configured: go */

	/* IMSG_CFG_*: parent -> children; CFG_DONE also child -> parent. */
	IMSG_CFG_PEER,		/* fd: channel to peer u32 proc_id */
	IMSG_CFG_PERM,		/* struct cfg_perm + string value */
	IMSG_CFG_POLICY_FD,	/* fd: the --policy document (policyd) */
	IMSG_CFG_POLICY_B64,	/* POD_POLICY_JSON text (policyd) */
	IMSG_CFG_DONE,		/* end of configuration / acknowledged */
	IMSG_CFG_ERROR,		/* child -> parent: string, configuration refused */
	IMSG_CFG_ENVNAME,	/* parent -> policyd: a variable of its env */
	IMSG_CFG_ENVALLOW,	/* policyd -> parent: a variable allowed */
	/*
	 * The normalised policy, policyd -> parent -> sandbox, proxy,
	 * auditd (forwarded unchanged): structured, re-validated by every
	 * receiver (policyd/policy_imsg.c).
	 */
	IMSG_CFG_RULE,		/* struct cfg_perm + value + origin */
	IMSG_CFG_SETTINGS,	/* struct cfg_settings */
	IMSG_CFG_AUDIT_EVENT,	/* a syscall name */
	/* parent -> policyd: resource flags; policyd -> parent: the
	 * effective limits (the parent keeps the timeout). */
	IMSG_CFG_RESOURCES,	/* struct cfg_resources */

	/* IMSG_SANDBOX_*: parent -> sandbox. */
	IMSG_SANDBOX_FD,	/* fd for the next SPAWN: u32 enum spawn_fd */
	IMSG_SANDBOX_SPAWN,	/* spawn description (sandbox/sandbox.h) */
	IMSG_SANDBOX_SIGNAL,	/* u32 signal for the pod's worker */
	IMSG_SANDBOX_MEMORY,	/* the pod's memory; answered with
				 * struct pod_memory */
	/* sandbox -> parent. */
	IMSG_SANDBOX_STARTED,	/* u32 worker pid (host view) */
	IMSG_SANDBOX_FAILED,	/* u32 exit code + string: step and reason */
	IMSG_SANDBOX_GONE,	/* struct pod_gone: relay reaped, all removed */

	/* IMSG_RELAY_*: relay -> sandbox, before the relay drops. */
	IMSG_RELAY_WORKER,	/* fd: pidfd of the worker; u32 pid */
	IMSG_RELAY_ATTACHED,	/* worker connected and mapped: unlink names */
	IMSG_RELAY_CGROUP,	/* sandbox -> relay: fd: u32 enum relay_cgroup,
				 * one per cgroup of the pod, then a
				 * zero-length one */
	IMSG_RELAY_GO,		/* sandbox -> relay: the audit is ready,
				 * pod init may start the worker */

	/* IMSG_POD_*: relay -> parent (the per-pod channel). */
	IMSG_POD_READY,		/* worker said READY */
	IMSG_POD_OUTPUT,	/* u8 stream (1 stdout, 2 stderr) + bytes */
	IMSG_POD_EVENT,		/* validated JSON event from the worker */
	IMSG_POD_ERROR,		/* string: worker protocol violation */
	IMSG_POD_EXIT,		/* i32 wait status of the worker */
	/*
	 * A persistent pod (podrunner serve, SPAWN_F_PERSISTENT):
	 * SEND: parent -> relay, a submission as JSON text
	 *	{"code": "...", "fresh": bool, "id": <any, optional>};
	 *	the relay numbers it and queues an "exec" frame.
	 * STOP: parent -> relay: tell the worker to exit (CTL_STOP).
	 * EXEC_START, EXEC_END: relay -> parent: a submission started,
	 *	ended (its events, in the serve shape, go as IMSG_POD_EVENT).
	 */
	IMSG_POD_SEND,
	IMSG_POD_STOP,
	IMSG_POD_EXEC_START,
	IMSG_POD_EXEC_END,

	/* IMSG_POLICY_*: parent -> policyd. */
	IMSG_POLICY_CHANNEL,	/* fd: channel to a pod relay, peerid = pod */
	/* relay, proxy -> policyd. */
	IMSG_POLICY_DECIDE,	/* struct policy_req + string target */
	/* policyd -> relay, proxy. */
	IMSG_POLICY_DECISION,	/* struct policy_resp + string rule */
	/* parent -> policyd: u32 json; policyd -> parent: the text. */
	IMSG_POLICY_EXPLAIN,
	/* policyd -> parent: the normalised policy (JSON, for events and
	 * logs; the parent does not parse it). */
	IMSG_POLICY_LOADED,

	/*
	 * IMSG_PROXY_*: the egress proxy.  LISTEN: relay -> parent ->
	 * proxy, fd: the pod's listening socket (169.254.1.1:8080, created
	 * in the pod's network namespace), peerid = pod, struct proxy_pod.
	 * FORGET: parent -> proxy, peerid = pod: the pod is gone, close its
	 * listener and connections; proxy -> parent: done, its last events
	 * sent before.  EVENT: proxy -> parent, peerid = pod:
	 * one "net" event as a JSON object (the parent re-validates it).
	 */
	IMSG_PROXY_LISTEN,
	IMSG_PROXY_FORGET,
	IMSG_PROXY_EVENT,

	/*
	 * IMSG_AUDIT_*: the eBPF audit (auditd/, podrunner(8)).
	 * LOADER: parent -> sandbox, fd: the channel to the loader, a
	 *	child the parent forks first thing in a run (auditload.c).
	 * Between the sandbox and the loader, on that channel:
	 *  LOAD: sandbox -> loader, struct audit_load, once the policy is
	 *	known (the loader has loaded the programs by then, or is
	 *	loading them; enabled 0: exit without attaching them).
	 *  LINK: loader -> sandbox, fd: an attached program; the sandbox
	 *	holds it for as long as it runs (closing it detaches).
	 *  PODS: loader -> sandbox, fd: the programs' .data.pods map
	 *	(struct audit_pods: the pods' cgroup v2 ids and numbers they
	 *	filter by), which the sandbox maps and writes.
	 *  RING: loader -> sandbox -> parent -> auditd, fd: the BPF ring
	 *	buffer map, struct audit_ring.
	 *  COUNTERS: loader -> sandbox -> parent -> auditd, fd: the
	 *	programs' .bss map (mmap-able), struct audit_counters_map.
	 *  READY: loader -> sandbox, struct audit_ready: everything sent.
	 *  UNAVAILABLE: loader -> sandbox -> parent: string, why there is
	 *	no audit (the parent warns; with audit.required the sandbox
	 *	refuses the pod instead).
	 * Between the parent and auditd, peerid = pod where one is named:
	 *  LOG: parent -> auditd, fd: the --audit-log file (configuration).
	 *  POD: parent -> auditd, the pod's id (string): records of pod
	 *	number peerid are that pod's.
	 *  EVENT: parent -> auditd, a pod's "net" event from the proxy
	 *	(JSON, checked by the parent): joins the audit trail.
	 *  POD_END: parent -> auditd: the pod is gone (all its processes
	 *	dead, so all its records are in the ring): drain, report.
	 *  SYSCALLS: auditd -> parent: the pod's "syscalls" event (JSON).
	 *  DONE: auditd -> parent, struct audit_done: the pod's last
	 *	record is written; the parent may finish.
	 */
	IMSG_AUDIT_LOADER,
	IMSG_AUDIT_LOAD,
	IMSG_AUDIT_LINK,
	IMSG_AUDIT_PODS,
	IMSG_AUDIT_RING,
	IMSG_AUDIT_COUNTERS,
	IMSG_AUDIT_READY,
	IMSG_AUDIT_UNAVAILABLE,
	IMSG_AUDIT_LOG,
	IMSG_AUDIT_POD,
	IMSG_AUDIT_EVENT,
	IMSG_AUDIT_POD_END,
	IMSG_AUDIT_SYSCALLS,
	IMSG_AUDIT_DONE,

	IMSG_MAX
};

/* Permission kinds, in the order of the CLI's flags. */
enum perm_kind {
	PERM_NET = 0,
	PERM_READ,
	PERM_WRITE,
	PERM_ENV,
	PERM_RUN,
	PERM_FFI,
	PERM_SYS,
	PERM_MAX
};

enum perm_action {
	PERM_ALLOW = 0,
	PERM_DENY,
	PERM_WARN		/* allowed and logged (documents only) */
};

/* Where a permission came from, highest first. */
enum perm_layer {
	LAYER_FLAG = 0,		/* --allow-x / --deny-x */
	LAYER_ENV,		/* POD_ALLOW_X / POD_DENY_X */
	LAYER_POLICY,		/* the policy document */
	LAYER_RUNTIME,		/* what the worker runtime itself needs */
	LAYER_DEFAULT		/* deny */
};

/* IMSG_CFG_PERM: one --allow-x/--deny-x value (or the whole kind). */
struct cfg_perm {
	uint8_t		kind;		/* enum perm_kind */
	uint8_t		action;		/* enum perm_action */
	uint8_t		layer;		/* enum perm_layer */
	uint8_t		all;		/* flag given without a value */
};

/* IMSG_CFG_RESOURCES: limits; a field counts when its bit is in set. */
struct cfg_resources {
	uint32_t	set;
#define RES_MEMORY	0x01
#define RES_CPU		0x02
#define RES_PIDS	0x04
#define RES_TMPFS	0x08
#define RES_TIMEOUT	0x10
	uint32_t	cpu_pct;
	uint32_t	pids;
	uint32_t	pad;
	uint64_t	memory;
	uint64_t	tmpfs;
	uint64_t	timeout_ms;
};

/* Limits when neither a flag nor the document sets them (the seeds'). */
#define DEFAULT_MEMORY		(64ULL * 1024 * 1024)
#define DEFAULT_CPU_PCT		50
#define DEFAULT_PIDS		256
#define DEFAULT_TMPFS		(64ULL * 1024 * 1024)

/* IMSG_CFG_SETTINGS: everything of the policy that is not a rule. */
struct cfg_settings {
	uint8_t		mode;		/* enum policy_mode */
	uint8_t		audit_enabled;
	uint8_t		audit_required;
	uint8_t		plugins;	/* bit 0 namespaces, 1 landlock, 2 seccomp */
	uint8_t		has_default[PERM_MAX];
	uint8_t		defaults[PERM_MAX];	/* enum perm_action */
	uint8_t		pad[2];
	uint32_t	cpu_pct;
	uint32_t	pids;
	uint32_t	rate_limit;
	uint64_t	memory;
	uint64_t	timeout_ms;
	uint64_t	tmpfs;
};

enum verdict {
	VERDICT_DENY = 0,
	VERDICT_ALLOW = 1,
	VERDICT_WARN = 2		/* allowed and logged */
};

/* IMSG_POLICY_DECIDE: request, followed by the target string. */
struct policy_req {
	uint32_t	reqid;		/* echoed in the decision */
	uint8_t		kind;		/* enum perm_kind */
	uint8_t		flags;		/* POLICY_REQ_* */
	uint8_t		pad[2];
};
/*
 * The target ("a.b.c.d:port", "[v6]:port") is an address a host name
 * resolved to, or the address of a literal, that the proxy is about to
 * connect to: denied by an address rule that denies it, or by the
 * built-in set of private and special ranges unless an address rule
 * allows it by IP or CIDR (policy_decide_addr()).
 */
#define POLICY_REQ_ADDR		0x01

/* The pod's proxy, as the worker sees it (its network namespace). */
#define POD_PROXY_ADDR		"169.254.1.1"
#define POD_WORKER_ADDR		"169.254.1.2"
#define POD_PROXY_PORT		8080

/* IMSG_PROXY_LISTEN */
struct proxy_pod {
	char		podid[17];	/* PODID_LEN + NUL */
	uint8_t		pad[7];
};

/* IMSG_POLICY_DECISION: followed by a string naming the rule. */
struct policy_resp {
	uint32_t	reqid;
	uint8_t		verdict;	/* enum verdict */
	uint8_t		layer;		/* enum perm_layer that decided */
	uint8_t		pad[2];
};

/* IMSG_SANDBOX_GONE: whether a limit ended the pod. */
struct pod_gone {
	uint32_t	limit;		/* 0 none, 1 memory, 2 pids */
	uint32_t	pad;
	uint64_t	value;		/* the limit that was reached */
};

/* IMSG_SANDBOX_MEMORY, sandbox -> parent: from the pod's cgroup. */
struct pod_memory {
	uint64_t	current;	/* bytes in use now */
	uint64_t	peak;		/* the most so far (0: unknown) */
	uint64_t	limit;		/* the memory limit (0: none) */
};

/* IMSG_RELAY_CGROUP: what its fd is (podcgroup.h, pod_cgroup_spawn_fds). */
enum relay_cgroup {
	RELAY_CGROUP_V2DIR = 1,	/* the pod's v2 directory: clone3's target */
	RELAY_CGROUP_TASKS	/* a v1 hierarchy's tasks file: pod init
				 * writes "0" */
};

/* fds that travel to the sandbox ahead of IMSG_SANDBOX_SPAWN. */
enum spawn_fd {
	SPAWN_FD_STDIN = 0,	/* the worker's stdin */
	SPAWN_FD_PARENT,	/* relay <-> parent channel */
	SPAWN_FD_POLICYD,	/* relay <-> policyd channel */
	SPAWN_FD_LIFELINE,	/* read end of the parent's lifeline pipe */
	SPAWN_FD_MAX
};

/* The syscall numbers the audit's bitmap covers (podaudit.h agrees). */
#define AUDIT_SYSCALLS_MAX	512
/* Default size of the audit's ring buffer (a power of 2, pages): see
 * podrunner(8), AUDIT, for how it was sized. */
#define AUDIT_RING_DEFAULT	(1U * 1024 * 1024)

/* IMSG_AUDIT_LOAD */
struct audit_load {
	uint32_t	enabled;
	uint32_t	pad;
	uint64_t	generic[AUDIT_SYSCALLS_MAX / 64];	/* other syscalls */
};

/* IMSG_AUDIT_RING */
struct audit_ring {
	uint64_t	size;		/* data bytes (the map's max_entries) */
};

/* IMSG_AUDIT_COUNTERS: where struct audit_counters is in the map. */
struct audit_counters_map {
	uint32_t	size;		/* the map's value size */
	uint32_t	offset;
};

/* IMSG_AUDIT_READY */
struct audit_ready {
	uint32_t	load_us;	/* start to loaded (before the policy) */
	uint32_t	attach_us;	/* policy to attached */
	uint32_t	nlinks;
	uint32_t	pad;
};

/* IMSG_AUDIT_DONE */
struct audit_done {
	uint64_t	records;	/* the pod's records written */
	uint64_t	lost;		/* records the ring had no room for */
	uint64_t	syslog_dropped;	/* records syslog did not take */
};

/* Exit statuses of podrunner (podrunner(1), EXIT STATUS). */
#define EXIT_TIMEOUT		124
#define EXIT_PODRUNNER		125	/* usage, policy, setup */
#define EXIT_NOEXEC		126
#define EXIT_NOTFOUND		127

const char	*imsg_type_name(uint32_t);
const char	*perm_kind_name(unsigned int);
const char	*proc_name(unsigned int);

#endif
