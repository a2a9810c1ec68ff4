/*
 * The parent: CLI, process table, start-up handshake, the pod's
 * lifecycle and the exit status.  It runs as root, parses nothing that
 * a worker wrote, and moves imsgs and fds.
 */
#ifndef PODRUNNER_PARENT_H
#define PODRUNNER_PARENT_H

#include <sys/types.h>

#include "cli.h"
#include "imsg.h"
#include "log.h"
#include "proto.h"
#include "sandbox.h"

struct event_base;

/* One row per child process (after relayd/vmd's proc table). */
struct proc {
	enum proc_id	  id;
	const char	 *title;
	__dead void	(*run)(void);		/* the child's entry point */
	int		(*dispatch)(struct proc *, struct imsg *);
	pid_t		  pid;
	int		  alive;
	int		  configured;
	int		  started;		/* CTL_START sent */
	struct imsgev	  iev;
};

struct parent {
	struct run_config	*rc;
	struct event_base	*base;
	char			 podid[PODID_LEN + 1];
	char			 runtime[4096];
	char			 runtime_script[4096];
	char			 podshm_lib[4096];
	int			 policy_fd;
	int			 audit_log_fd;	/* --audit-log, for auditd */
	int			 audit_loader_fd;	/* for the sandbox */
	int			 lifeline[2];	/* [1] held until exit */
	int			 started;	/* CTL_START sent */
	int			 shutting_down;
	int			 exit_code;	/* -1: not decided */
	struct runtime_rule {
		unsigned int	 kind;
		char		*value;
	}			*runtime_rules;	/* LAYER_RUNTIME */
	size_t			 nruntime;
	struct cfg_resources	 limits;	/* effective, from policyd */
};

extern struct parent	 parent_env;
extern struct proc	 procs[PROC_MAX];

/* proc.c */
struct proc	*proc_by_name(const char *);
char		**proc_child_env(void);
__dead void	 proc_child_main(int, char **);
void		 proc_start_all(void);
void		 proc_configure_all(void);
int		 proc_compose(enum proc_id, uint32_t, uint32_t, int,
		    const void *, size_t);
void		 proc_shutdown(int);
void		 proc_fail(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
int		 proc_dispatch_sandbox(struct proc *, struct imsg *);
void		 proc_sigchld(void);
int		 proc_blame_dead(void);

/* check.c */
int		 check_main(int);

/* pod.c */
void		 pod_start(void);
void		 pod_signal(int);
int		 pod_sandbox_msg(struct imsg *);
int		 pod_active(void);
void		 pod_cleanup_files(void);
void		 pod_policy_loaded(struct imsg *);
int		 pod_env_allowed(struct imsg *);
int		 pod_proxy_event(struct imsg *);
int		 pod_proxy_forgotten(struct imsg *);
int		 pod_audit_msg(struct imsg *);
void		 pod_send(const char *, size_t);
void		 pod_stop(void);
void		 pod_kill(void);
void		 pod_interrupt(void);
void		 pod_memory(void);
int		 pod_syscalls(void);
void		 pod_timer(int);
void		 pod_pause(int);

/* serve.c: podrunner serve's JSON lines */
struct pod_memory;
struct json_t;
void		 serve_init(void);
void		 serve_configured(void);
void		 serve_flush(void);
int		 serve_signal(void);
void		 serve_cut_off(void);
void		 serve_policy_loaded(const char *, size_t);
void		 serve_ready(void);
int		 serve_pod_event(const char *, size_t);
void		 serve_daemon_event(const char *, const char *, size_t);
int		 serve_exec_start(void);
int		 serve_exec_end(void);
int		 serve_memory(const struct pod_memory *);
int		 serve_exit(int);

/* HTTP_PROXY and friends: the worker's environment points at the proxy. */
#define POD_PROXY_NVARS	8
extern const char *pod_proxy_vars[];

#endif
