/*
 * The podrunner command line and POD_* environment: parsed and
 * validated into a run_config before anything starts.
 */
#ifndef PODRUNNER_CLI_H
#define PODRUNNER_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "proto.h"

enum cli_cmd {
	CMD_NONE = 0,
	CMD_RUN,
	CMD_SERVE,		/* run's options, a persistent worker */
	CMD_INIT_POLICY,
	CMD_EXPLAIN,
	CMD_CHECK,
	CMD_HELP,
	CMD_VERSION
};

enum worker_type {
	WORKER_AUTO = 0,
	WORKER_PYTHON,
	WORKER_BUN,
	WORKER_EXEC,
	WORKER_CUSTOM		/* --worker=custom:PATH, a protocol worker */
};

/* One kind's values in one layer. */
struct perm_list {
	int	  given;	/* the flag or variable appeared */
	int	  all;		/* given without a value */
	char	**v;		/* normalised values */
	size_t	  n;
};

struct perm_layer_set {
	struct perm_list	allow[PERM_MAX];
	struct perm_list	deny[PERM_MAX];
};

#define SHM_SIZE_DEFAULT	(1024 * 1024)

struct run_config {
	enum cli_cmd		 cmd;
	struct perm_layer_set	 layer[LAYER_DEFAULT];	/* FLAG, ENV, POLICY */
	int			 allow_all;
	char			*policy_path;
	char			*audit_log;	/* --audit-log: JSON lines */
	char			*policy_b64;	/* POD_POLICY_JSON */
	uint64_t		 shm_size;
	int			 shm_size_given;
	enum worker_type	 worker;
	char			*worker_path;	/* WORKER_CUSTOM: its program */
	int			 no_sandbox;
	int			 debug_ui;
	int			 json;		/* explain --json */
	int			 debug;
	int			 verbose;
	uint64_t		 timeout_ms;	/* 0: none */
	struct cfg_resources	 res;		/* limits given as flags */
	char			*cwd;
	char			*entry;
	char			**args;		/* after the entry */
	int			 nargs;
};

void	cli_init(struct run_config *);
/* 0, or -1 with a one-line reason in err (a usage error). */
int	cli_parse(int, char **, struct run_config *, char *, size_t);
/* The POD_* layer from an environment; same errors. */
int	cli_parse_env(char **, struct run_config *, char *, size_t);
enum worker_type cli_worker_from_entry(const char *);
const char *worker_type_name(enum worker_type);
void	cli_free(struct run_config *);
void	cli_usage(FILE *);

#endif
