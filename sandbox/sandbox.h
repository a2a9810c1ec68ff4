/*
 * sandbox/: the namespace spawner (one process, keeps the capabilities
 * that spawning needs) and the per-pod relay (privileged set-up, then
 * unprivileged and chrooted before it reads anything from the worker).
 */
#ifndef PODRUNNER_SANDBOX_H
#define PODRUNNER_SANDBOX_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "proto.h"

struct ibuf;
struct imsg;

#define PODID_LEN	16		/* hex digits */
#define SPAWN_MAX_ARGS	4096
#define SPAWN_MAX_STR	(128 * 1024)
#define SPAWN_IMSG_MAX	CHILD_IMSG_MAX
#define POD_IMSG_MAX	(4 * 1024 * 1024)	/* relay <-> parent channel */
#define POD_OUTPUT_CHUNK (64 * 1024)

#define SPAWN_F_NO_SANDBOX	0x01
#define SPAWN_F_NO_LANDLOCK	0x02	/* the policy's plugins.landlock false */
#define SPAWN_F_NO_SECCOMP	0x04	/* the policy's plugins.seccomp false */
#define SPAWN_F_PERSISTENT	0x08	/* podrunner serve: no entry; code
					 * comes as "exec" frames */
#define SPAWN_F_ALL		0x0f
#define TMPFS_SIZE_DEFAULT	(64ULL * 1024 * 1024)

/* Fixed fds of a freshly executed relay (after PROC_PARENT_FD = 3). */
#define RELAY_FD_SANDBOX	3	/* channel to the sandbox process */
#define RELAY_FD_PARENT		4	/* channel to the parent */
#define RELAY_FD_POLICYD	5	/* channel to policyd */
#define RELAY_FD_STDIN		6	/* the worker's stdin */
#define RELAY_FD_LIFELINE	7	/* read end: EOF when podrunner is gone */

/* What the parent asks the sandbox to start (IMSG_SANDBOX_SPAWN). */
struct spawn_spec {
	char		  podid[PODID_LEN + 1];
	uint32_t	  worker;	/* enum worker_type */
	uint32_t	  flags;	/* SPAWN_F_* */
	uint64_t	  shm_size;
	uint32_t	  worker_uid;	/* set by the sandbox for the relay */
	uint32_t	  worker_gid;
	char		 *entry;	/* absolute path */
	char		 *cwd;
	char		 *runtime;	/* interpreter, "" for exec */
	char		 *runtime_script;	/* "" for exec */
	char		 *runtime_lib;	/* libpodshm for the runtime, or "" */
	char		**args;		/* the script's arguments */
	size_t		  nargs;
	char		**env;		/* the scrubbed environment */
	size_t		  nenv;
	uint32_t	  invoker_uid;	/* who ran podrunner: idmapped grants */
	uint32_t	  invoker_gid;
	uint64_t	  tmpfs_size;	/* the pod's /tmp */
	/* Filesystem grants, decided by the sandbox process's policy. */
	struct spawn_grant {
		uint8_t	  kind;		/* PERM_READ, PERM_WRITE, PERM_RUN */
		uint8_t	  action;	/* PERM_ALLOW, or PERM_DENY: hide it */
		char	 *path;		/* absolute; "/" for the whole kind */
	}		 *grants;
	size_t		  ngrants;
};

struct imsgbuf;
struct ibuf	*spawn_spec_build(const struct spawn_spec *);
void		 spawn_report_failed(struct imsgbuf *, uint32_t, const char *);
int		 spawn_spec_parse(struct imsg *, struct spawn_spec *);
void		 spawn_spec_free(struct spawn_spec *);

/* What the relay puts in a pod's directory (removed with it). */
#define POD_SOCKET		"ctl.sock"
#define POD_RUNTIME_SCRIPT	"podrunner_worker.py"
#define POD_RUNTIME_PYC		"podrunner_worker.pyc"
#define POD_RUNTIME_JS		"podrunner_worker.js"	/* bun, bundled */
#define POD_RUNTIME_TS		"podrunner_worker.ts"	/* bun, as written */
#define POD_RUNTIME_LIB		"libpodshm.so.1"
#define POD_ROOT		"root"	/* mountpoint of the pod's root */
/* Where the pod has the bun binary, wherever the host keeps it. */
#define POD_BUN_MNT		"bun"	/* bun, bound over this empty file */
/* Where every pod has libpodshm: on the dynamic linker's default path. */
#define POD_PODSHM_LIB		"/usr/lib/libpodshm.so.1"

/* Names derived from the pod id, the same in every process. */
void		 pod_shm_name(const char *, char *, size_t);	/* podrunner.<id> */
void		 pod_dir_name(const char *, char *, size_t);	/* /run/podrunner/<id> */
int		 pod_unlink_names(int, int, const char *);

/* pod init (podinit.c): the worker's parent, as the pod's uid. */
struct fsplan;
struct pod_ll_config;
struct podinit {
	uid_t		  uid;
	gid_t		  gid;
	const char	 *cwd;
	char		**argv;
	char		**env;
	int		  stdin_fd, stdout_fd, stderr_fd;
	int		  errpipe;	/* write end: struct podinit_err */
	int		  lifeline;	/* read end */
	/* The kernel sandbox: pod init is pid 1 of new namespaces. */
	int		  sandboxed;
	const struct fsplan *plan;
	const char	 *root;		/* where the plan builds the root */
	int		  userns_fd;	/* idmapping for grants, -1 */
	int		  gofd;		/* one byte: the relay's side is done */
	int		  proxyfd;	/* Unix socket: the proxy's listener
					 * goes to the relay through it */
	const char	 *hostname;
	const struct pod_ll_config *ll;	/* landlock, from the same plan */
	int		  no_landlock;	/* degraded by the policy, said */
	int		  no_seccomp;
	/* Its cgroups, joined first (pod_cgroup_join()). */
	int		  cg_v2fd;	/* v2 directory: clone3 could not */
	const int	 *cg_tasks;	/* v1 tasks files */
	size_t		  cg_ntasks;
};

/* What pod init reports on the exec pipe when it fails. */
struct podinit_err {
	int32_t		  code;		/* >0 errno of the worker's exec,
					 * <0 pod init's own set-up */
	char		  msg[244];	/* "step: reason" */
};

__dead void	 podinit_run(const struct podinit *);

/* podnet.c: the pod's network, from inside its namespace. */
int		 podnet_setup(int *, char *, size_t);

__dead void	 sandbox_main(void);
__dead void	 relay_main(void);

#endif
