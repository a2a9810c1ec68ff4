/*
 * Command line and POD_* environment parsing.  Everything is checked
 * here, before any process starts: a bad value is a usage error (125)
 * with a one-line reason.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "perm.h"
#include "podshm.h"
#include "util.h"

enum {
	OPT_ALLOW = 0x100,	/* + kind */
	OPT_DENY = 0x200,	/* + kind */
	OPT_ALLOW_ALL = 0x300,
	OPT_POLICY,
	OPT_SHM_SIZE,
	OPT_WORKER,
	OPT_NO_SANDBOX,
	OPT_DEBUG_UI,
	OPT_TIMEOUT,
	OPT_HELP,
	OPT_VERSION,
	OPT_JSON,
	OPT_MEMORY,
	OPT_CPUS,
	OPT_PIDS,
	OPT_TMPFS_SIZE,
	OPT_AUDIT_LOG
};

static const struct option run_opts[] = {
	{ "allow-net",	optional_argument, NULL, OPT_ALLOW + PERM_NET },
	{ "deny-net",	optional_argument, NULL, OPT_DENY + PERM_NET },
	{ "allow-read",	optional_argument, NULL, OPT_ALLOW + PERM_READ },
	{ "deny-read",	optional_argument, NULL, OPT_DENY + PERM_READ },
	{ "allow-write", optional_argument, NULL, OPT_ALLOW + PERM_WRITE },
	{ "deny-write",	optional_argument, NULL, OPT_DENY + PERM_WRITE },
	{ "allow-env",	optional_argument, NULL, OPT_ALLOW + PERM_ENV },
	{ "deny-env",	optional_argument, NULL, OPT_DENY + PERM_ENV },
	{ "allow-run",	optional_argument, NULL, OPT_ALLOW + PERM_RUN },
	{ "deny-run",	optional_argument, NULL, OPT_DENY + PERM_RUN },
	{ "allow-ffi",	optional_argument, NULL, OPT_ALLOW + PERM_FFI },
	{ "deny-ffi",	optional_argument, NULL, OPT_DENY + PERM_FFI },
	{ "allow-sys",	optional_argument, NULL, OPT_ALLOW + PERM_SYS },
	{ "deny-sys",	optional_argument, NULL, OPT_DENY + PERM_SYS },
	{ "allow-all",	no_argument,	   NULL, OPT_ALLOW_ALL },
	{ "policy",	required_argument, NULL, OPT_POLICY },
	{ "shm-size",	required_argument, NULL, OPT_SHM_SIZE },
	{ "worker",	required_argument, NULL, OPT_WORKER },
	{ "no-sandbox",	no_argument,	   NULL, OPT_NO_SANDBOX },
	{ "debug-ui",	no_argument,	   NULL, OPT_DEBUG_UI },
	{ "timeout",	required_argument, NULL, OPT_TIMEOUT },
	{ "json",	no_argument,	   NULL, OPT_JSON },
	{ "memory",	required_argument, NULL, OPT_MEMORY },
	{ "cpus",	required_argument, NULL, OPT_CPUS },
	{ "pids",	required_argument, NULL, OPT_PIDS },
	{ "tmpfs-size",	required_argument, NULL, OPT_TMPFS_SIZE },
	{ "audit-log",	required_argument, NULL, OPT_AUDIT_LOG },
	{ "help",	no_argument,	   NULL, OPT_HELP },
	{ "version",	no_argument,	   NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 }
};

static const char *env_names[PERM_MAX][2] = {
	{ "POD_ALLOW_NET", "POD_DENY_NET" },
	{ "POD_ALLOW_READ", "POD_DENY_READ" },
	{ "POD_ALLOW_WRITE", "POD_DENY_WRITE" },
	{ "POD_ALLOW_ENV", "POD_DENY_ENV" },
	{ "POD_ALLOW_RUN", "POD_DENY_RUN" },
	{ "POD_ALLOW_FFI", "POD_DENY_FFI" },
	{ "POD_ALLOW_SYS", "POD_DENY_SYS" },
};

void
cli_usage(FILE *f)
{
	fprintf(f,
"usage: podrunner run [-dv] [--allow-KIND[=VALUES]] [--deny-KIND[=VALUES]]\n"
"                     [--allow-all] [--policy FILE] [--shm-size SIZE]\n"
"                     [--worker python|bun|exec|custom:PATH]\n"
"                     [--timeout DURATION] [--memory SIZE] [--cpus N]\n"
"                     [--pids N] [--tmpfs-size SIZE] [--audit-log FILE]\n"
"                     [--no-sandbox] [--debug-ui] entry [args ...]\n"
"       podrunner serve [run options]\n"
"       podrunner init-policy [--allow-KIND[=VALUES]] [--deny-KIND[=VALUES]]\n"
"                     [--allow-all]\n"
"       podrunner explain [--json] [--allow-KIND[=VALUES]] [--deny-KIND[=VALUES]]\n"
"                     [--allow-all] [--policy FILE] [--worker TYPE]\n"
"                     [--memory SIZE] [--cpus N] [--pids N] [--tmpfs-size SIZE]\n"
"                     [--timeout DURATION]\n"
"       podrunner check [--json]\n"
"       podrunner --help | --version\n"
"\n"
"KIND is net, read, write, env, run, ffi or sys; VALUES is a comma-separated\n"
"list (hosts[:port], *.domain, IPs and CIDRs; paths; variable names with an\n"
"optional trailing *; commands; system API names).  Without =VALUES the whole\n"
"kind is allowed (or denied).  Flags override POD_* variables, which override\n"
"the policy document; inside one layer a deny beats an allow.\n"
"\n"
"serve runs a persistent Python worker: requests ({\"op\":\"start\"},\n"
"{\"op\":\"send\",\"code\":...}, interrupt, stop) on stdin and events on\n"
"stdout, one JSON object per line (podrunner(1), SERVE PROTOCOL).\n"
"\n"
"  --allow-all          grant every permission (loudly)\n"
"  --policy FILE        policy document (JSON); or POD_POLICY_JSON (base64)\n"
"  --shm-size SIZE      data-plane segment, e.g. 64k, 10mb, 1gb (default 1mb)\n"
"  --worker TYPE        python, bun or exec (default: from the entry's\n"
"                       extension: .py python; .ts .tsx .mts .cts .js .jsx\n"
"                       .mjs .cjs bun; anything else exec); custom:PATH runs\n"
"                       the program PATH as a protocol worker, with entry\n"
"                       in its run frame (podrunner(8), WORKER PROTOCOL)\n"
"  --timeout DURATION   kill the worker after e.g. 30s, 500ms, 2m\n"
"  --memory SIZE        memory limit (default 64mb); --cpus N cpu limit\n"
"                       (default 0.5); --pids N (default 256);\n"
"                       --tmpfs-size SIZE the pod's /tmp (default 64mb)\n"
"  --audit-log FILE     the audit trail also as JSON lines, appended to FILE\n"
"  --no-sandbox         no kernel isolation (development only)\n"
"  --debug-ui           the debug web interface\n"
"  -d                   debug: daemons log to stderr; -v more verbose\n"
"\n"
"Exit status: the worker's own; 128+N if it died of signal N; 124 timeout;\n"
"125 podrunner failed (usage, policy, setup, a daemon died); 126 entry not\n"
"executable; 127 entry not found.  See podrunner(1).\n");
}

void
cli_init(struct run_config *rc)
{
	char	buf[PATH_MAX];

	memset(rc, 0, sizeof(*rc));
	rc->shm_size = SHM_SIZE_DEFAULT;
	if (getcwd(buf, sizeof(buf)) == NULL)
		(void)snprintf(buf, sizeof(buf), "/");
	rc->cwd = xstrdup(buf);
}

const char *
worker_type_name(enum worker_type w)
{
	switch (w) {
	case WORKER_PYTHON:
		return "python";
	case WORKER_BUN:
		return "bun";
	case WORKER_EXEC:
		return "exec";
	case WORKER_CUSTOM:
		return "custom";
	default:
		return "auto";
	}
}

enum worker_type
cli_worker_from_entry(const char *entry)
{
	static const char *bun_ext[] = {
		".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"
	};
	const char	*dot, *slash;
	size_t		 i;

	slash = strrchr(entry, '/');
	dot = strrchr(entry, '.');
	if (dot == NULL || (slash != NULL && dot < slash))
		return WORKER_EXEC;
	if (strcmp(dot, ".py") == 0)
		return WORKER_PYTHON;
	for (i = 0; i < sizeof(bun_ext) / sizeof(bun_ext[0]); i++)
		if (strcmp(dot, bun_ext[i]) == 0)
			return WORKER_BUN;
	return WORKER_EXEC;
}

/* Add the comma-separated values of one flag or variable. */
static int
add_values(struct run_config *rc, int layer, int kind, int deny,
    const char *values, const char *what, char *err, size_t errlen)
{
	struct perm_list	*pl;
	char			*copy, *item, *save = NULL, *norm, reason[256];
	char			 resolved[PATH_MAX];

	pl = deny ? &rc->layer[layer].deny[kind] : &rc->layer[layer].allow[kind];
	pl->given = 1;
	if (values == NULL || strcmp(values, "*") == 0) {
		pl->all = 1;
		return 0;
	}
	if (*values == '\0') {
		(void)snprintf(err, errlen, "%s: empty value (give no value, "
		    "or *, to mean all)", what);
		return -1;
	}
	copy = xstrdup(values);
	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		if (perm_value_normalise(kind, item, rc->cwd, &norm, reason,
		    sizeof(reason)) == -1) {
			(void)snprintf(err, errlen, "%s: %s", what, reason);
			free(copy);
			return -1;
		}
		/*
		 * A path grant is made for what the path resolves to now:
		 * --allow-read=/data with /data -> /mnt/data grants
		 * /mnt/data.  A path that does not exist stays as written.
		 */
		if ((kind == PERM_READ || kind == PERM_WRITE ||
		    kind == PERM_FFI || (kind == PERM_RUN && norm[0] == '/')) &&
		    realpath(norm, resolved) != NULL) {
			free(norm);
			norm = xstrdup(resolved);
		}
		pl->v = xreallocarray(pl->v, pl->n + 1, sizeof(*pl->v));
		pl->v[pl->n++] = norm;
	}
	free(copy);
	/* "a,,b" and "," leave empty items that strtok skips. */
	if (strstr(values, ",,") != NULL || values[0] == ',' ||
	    values[strlen(values) - 1] == ',') {
		(void)snprintf(err, errlen, "%s: empty item in \"%s\"", what,
		    values);
		return -1;
	}
	return 0;
}

static int
set_shm_size(struct run_config *rc, const char *v, char *err, size_t errlen)
{
	const char	*why;
	uint64_t	 sz;

	if (parse_size(v, &sz, &why) == -1) {
		(void)snprintf(err, errlen, "--shm-size: \"%s\": %s", v, why);
		return -1;
	}
	if (sz < PODSHM_MIN_SIZE || sz > PODSHM_MAX_SIZE || sz % 4096 != 0) {
		(void)snprintf(err, errlen, "--shm-size: \"%s\": must be a "
		    "multiple of 4k between 8k and 1gb", v);
		return -1;
	}
	rc->shm_size = sz;
	rc->shm_size_given = 1;
	return 0;
}

static int
perms_given(const struct run_config *rc)
{
	int	k;

	for (k = 0; k < PERM_MAX; k++)
		if (rc->layer[LAYER_FLAG].allow[k].given ||
		    rc->layer[LAYER_FLAG].deny[k].given)
			return 1;
	return 0;
}

/* "0.5", "2", "1.25": hundredths of a CPU, as a percentage. */
static int
parse_cpus(const char *s, uint32_t *pct)
{
	char		*ep;
	double		 d;

	errno = 0;
	d = strtod(s, &ep);
	if (*s == '\0' || *ep != '\0' || errno != 0 || !(d >= 0.01) ||
	    d > 1024 || strspn(s, "0123456789.") != strlen(s))
		return -1;
	*pct = (uint32_t)(d * 100 + 0.5);
	return 0;
}

static const char *
cmd_name(enum cli_cmd c)
{
	return c == CMD_EXPLAIN ? "explain" : c == CMD_INIT_POLICY ?
	    "init-policy" : c == CMD_CHECK ? "check" : c == CMD_SERVE ?
	    "serve" : "run";
}

/* "--name" or "--name=value", spelled out. */
static int
exact_long(const char *word, const char *name)
{
	size_t	len = strlen(name);

	return strncmp(word, "--", 2) == 0 &&
	    strncmp(word + 2, name, len) == 0 &&
	    (word[2 + len] == '\0' || word[2 + len] == '=');
}

int
cli_parse(int argc, char **argv, struct run_config *rc, char *err,
    size_t errlen)
{
	const char	*why = NULL, *runonly = NULL;
	char		 what[64];
	uint64_t	 v = 1;
	int		 ch, kind, longidx, word;

	if (argc < 2) {
		(void)snprintf(err, errlen, "missing command (run, serve, "
		    "init-policy, explain, check, --help, --version)");
		return -1;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		rc->cmd = CMD_HELP;
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		rc->cmd = CMD_VERSION;
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		rc->cmd = CMD_RUN;
	else if (strcmp(argv[1], "serve") == 0)
		rc->cmd = CMD_SERVE;
	else if (strcmp(argv[1], "init-policy") == 0)
		rc->cmd = CMD_INIT_POLICY;
	else if (strcmp(argv[1], "explain") == 0)
		rc->cmd = CMD_EXPLAIN;
	else if (strcmp(argv[1], "check") == 0)
		rc->cmd = CMD_CHECK;
	else {
		(void)snprintf(err, errlen, "unknown command \"%s\" (run, "
		    "serve, init-policy, explain, check, --help, --version)",
		    argv[1]);
		return -1;
	}

	/* Options stop at the entry: the rest belongs to the script. */
	optind = 1;
	opterr = 0;
	argc--;
	argv++;
	for (;;) {
		word = optind;
		longidx = -1;
		if ((ch = getopt_long(argc, argv, "+dvhV", run_opts,
		    &longidx)) == -1)
			break;
		/* No abbreviations: --allow-w must not mean --allow-write. */
		if (longidx >= 0 && !exact_long(argv[word],
		    run_opts[longidx].name)) {
			(void)snprintf(err, errlen, "unknown option %s (did "
			    "you mean --%s?)", argv[word],
			    run_opts[longidx].name);
			return -1;
		}
		if (ch >= OPT_ALLOW && ch < OPT_ALLOW + PERM_MAX) {
			kind = ch - OPT_ALLOW;
			(void)snprintf(what, sizeof(what), "--allow-%s",
			    perm_kind_name(kind));
			if (add_values(rc, LAYER_FLAG, kind, 0, optarg, what,
			    err, errlen) == -1)
				return -1;
			continue;
		}
		if (ch >= OPT_DENY && ch < OPT_DENY + PERM_MAX) {
			kind = ch - OPT_DENY;
			(void)snprintf(what, sizeof(what), "--deny-%s",
			    perm_kind_name(kind));
			if (add_values(rc, LAYER_FLAG, kind, 1, optarg, what,
			    err, errlen) == -1)
				return -1;
			continue;
		}
		if (ch != OPT_ALLOW_ALL && ch != OPT_HELP && ch != OPT_VERSION &&
		    ch != 'h' && ch != 'V' && ch != '?' && ch != ':' &&
		    ch != OPT_JSON && runonly == NULL &&
		    !(rc->cmd == CMD_EXPLAIN && (ch == OPT_POLICY ||
		    ch == OPT_WORKER || ch == 'd' || ch == 'v' ||
		    ch == OPT_MEMORY || ch == OPT_CPUS || ch == OPT_PIDS ||
		    ch == OPT_TMPFS_SIZE || ch == OPT_TIMEOUT)))
			runonly = argv[word];
		switch (ch) {
		case OPT_ALLOW_ALL:
			rc->allow_all = 1;
			break;
		case OPT_POLICY:
			if (*optarg == '\0') {
				(void)snprintf(err, errlen,
				    "--policy: empty file name");
				return -1;
			}
			free(rc->policy_path);
			rc->policy_path = xstrdup(optarg);
			break;
		case OPT_SHM_SIZE:
			if (set_shm_size(rc, optarg, err, errlen) == -1)
				return -1;
			break;
		case OPT_AUDIT_LOG:
			if (*optarg == '\0') {
				(void)snprintf(err, errlen,
				    "--audit-log: empty file name");
				return -1;
			}
			free(rc->audit_log);
			rc->audit_log = xstrdup(optarg);
			break;
		case OPT_WORKER:
			if (strcmp(optarg, "python") == 0)
				rc->worker = WORKER_PYTHON;
			else if (strcmp(optarg, "bun") == 0)
				rc->worker = WORKER_BUN;
			else if (strcmp(optarg, "exec") == 0)
				rc->worker = WORKER_EXEC;
			else if (strncmp(optarg, "custom:", 7) == 0) {
				/* The program is looked at before the run. */
				if (optarg[7] == '\0') {
					(void)snprintf(err, errlen, "--worker="
					    "custom: needs the worker's program,"
					    " as custom:PATH");
					return -1;
				}
				rc->worker = WORKER_CUSTOM;
				free(rc->worker_path);
				rc->worker_path = xstrdup(optarg + 7);
			} else {
				(void)snprintf(err, errlen, "--worker: unknown "
				    "worker type \"%s\" (python, bun, exec, "
				    "custom:PATH)", optarg);
				return -1;
			}
			if (rc->worker != WORKER_CUSTOM) {
				free(rc->worker_path);
				rc->worker_path = NULL;
			}
			break;
		case OPT_JSON:
			if (rc->cmd != CMD_EXPLAIN && rc->cmd != CMD_CHECK) {
				(void)snprintf(err, errlen, "--json is an option "
				    "of explain and check");
				return -1;
			}
			rc->json = 1;
			break;
		case OPT_MEMORY:
		case OPT_TMPFS_SIZE:
			if (parse_size(optarg, &v, &why) == -1 || v == 0) {
				(void)snprintf(err, errlen, "%s: \"%s\": %s",
				    ch == OPT_MEMORY ? "--memory" :
				    "--tmpfs-size", optarg, v == 0 && why ==
				    NULL ? "must not be 0" : why);
				return -1;
			}
			if (ch == OPT_MEMORY) {
				rc->res.memory = v;
				rc->res.set |= RES_MEMORY;
			} else {
				rc->res.tmpfs = v;
				rc->res.set |= RES_TMPFS;
			}
			break;
		case OPT_CPUS:
			if (parse_cpus(optarg, &rc->res.cpu_pct) == -1) {
				(void)snprintf(err, errlen, "--cpus: \"%s\": a "
				    "number of CPUs such as 0.5, 1 or 2", optarg);
				return -1;
			}
			rc->res.set |= RES_CPU;
			break;
		case OPT_PIDS:
			if (parse_size(optarg, &v, &why) == -1 || v == 0 ||
			    v > 4194304 || strspn(optarg, "0123456789") !=
			    strlen(optarg)) {
				(void)snprintf(err, errlen, "--pids: \"%s\": a "
				    "number of processes from 1 to 4194304",
				    optarg);
				return -1;
			}
			rc->res.pids = (uint32_t)v;
			rc->res.set |= RES_PIDS;
			break;
		case OPT_NO_SANDBOX:
			rc->no_sandbox = 1;
			break;
		case OPT_DEBUG_UI:
			rc->debug_ui = 1;
			break;
		case OPT_TIMEOUT:
			if (parse_duration(optarg, &rc->timeout_ms, &why) == -1) {
				(void)snprintf(err, errlen, "--timeout: \"%s\": "
				    "%s", optarg, why);
				return -1;
			}
			rc->res.timeout_ms = rc->timeout_ms;
			rc->res.set |= RES_TIMEOUT;
			break;
		case 'd':
			rc->debug = 1;
			rc->verbose++;
			break;
		case 'v':
			rc->verbose++;
			break;
		case 'h':
		case OPT_HELP:
			rc->cmd = CMD_HELP;
			return 0;
		case 'V':
		case OPT_VERSION:
			rc->cmd = CMD_VERSION;
			return 0;
		default:
			/* optind already points past the bad word. */
			if (optopt != 0 && optopt < 0x100 &&
			    strchr("dvhV", optopt) == NULL)
				(void)snprintf(err, errlen, "unknown option "
				    "-%c", optopt);
			else if (optopt != 0 && strchr(argv[optind - 1],
			    '=') == NULL && optopt >= OPT_POLICY)
				(void)snprintf(err, errlen, "option %s needs "
				    "a value", argv[optind - 1]);
			else if (optopt != 0)
				(void)snprintf(err, errlen, "option %s takes "
				    "no value", argv[optind - 1]);
			else
				(void)snprintf(err, errlen, "unknown option "
				    "%s", argv[optind - 1]);
			return -1;
		}
	}
	argc -= optind;
	argv += optind;

	if (rc->cmd == CMD_CHECK && (runonly != NULL || argc > 0 ||
	    perms_given(rc) || rc->allow_all)) {
		(void)snprintf(err, errlen, "check takes only --json");
		return -1;
	}
	if (rc->cmd == CMD_CHECK)
		return 0;
	if (rc->cmd == CMD_INIT_POLICY || rc->cmd == CMD_EXPLAIN) {
		if (runonly != NULL) {
			(void)snprintf(err, errlen, "%s: %s is an option of run",
			    cmd_name(rc->cmd), runonly);
			return -1;
		}
		if (argc > 0) {
			(void)snprintf(err, errlen, "%s: unexpected argument "
			    "\"%s\"", cmd_name(rc->cmd), argv[0]);
			return -1;
		}
		return 0;
	}
	if (rc->cmd == CMD_SERVE) {
		if (argc > 0) {
			(void)snprintf(err, errlen, "serve: unexpected argument "
			    "\"%s\" (code comes on stdin, see podrunner(1))",
			    argv[0]);
			return -1;
		}
		if (rc->worker == WORKER_AUTO)
			rc->worker = WORKER_PYTHON;
		if (rc->worker != WORKER_PYTHON) {
			(void)snprintf(err, errlen, "serve: --worker %s: a "
			    "persistent worker is python only", rc->worker ==
			    WORKER_CUSTOM ? "custom" : worker_type_name(
			    rc->worker));
			return -1;
		}
		return 0;
	}
	if (argc < 1 || argv[0][0] == '\0') {
		(void)snprintf(err, errlen, "run: missing entry (the script "
		    "or program to run)");
		return -1;
	}
	rc->entry = xstrdup(argv[0]);
	rc->args = argv + 1;
	rc->nargs = argc - 1;
	if (rc->worker == WORKER_AUTO)
		rc->worker = cli_worker_from_entry(rc->entry);
	return 0;
}

int
cli_parse_env(char **envp, struct run_config *rc, char *err, size_t errlen)
{
	const char	*val;
	size_t		 nlen;
	char		**e;
	int		 kind, deny;

	for (e = envp; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, "POD_", 4) != 0)
			continue;
		for (kind = 0; kind < PERM_MAX; kind++) {
			for (deny = 0; deny < 2; deny++) {
				nlen = strlen(env_names[kind][deny]);
				if (strncmp(*e, env_names[kind][deny],
				    nlen) != 0 || (*e)[nlen] != '=')
					continue;
				val = *e + nlen + 1;
				if (add_values(rc, LAYER_ENV, kind, deny, val,
				    env_names[kind][deny], err, errlen) == -1)
					return -1;
			}
		}
		if (strncmp(*e, "POD_POLICY_JSON=", 16) == 0) {
			free(rc->policy_b64);
			rc->policy_b64 = xstrdup(*e + 16);
		}
	}
	if (rc->policy_b64 != NULL && rc->policy_path != NULL) {
		(void)snprintf(err, errlen, "both --policy and POD_POLICY_JSON "
		    "are given; use one");
		return -1;
	}
	return 0;
}

void
cli_free(struct run_config *rc)
{
	size_t	l, k, i;

	for (l = 0; l < LAYER_DEFAULT; l++)
		for (k = 0; k < PERM_MAX; k++) {
			for (i = 0; i < rc->layer[l].allow[k].n; i++)
				free(rc->layer[l].allow[k].v[i]);
			for (i = 0; i < rc->layer[l].deny[k].n; i++)
				free(rc->layer[l].deny[k].v[i]);
			free(rc->layer[l].allow[k].v);
			free(rc->layer[l].deny[k].v);
		}
	free(rc->policy_path);
	free(rc->audit_log);
	free(rc->worker_path);
	free(rc->policy_b64);
	free(rc->cwd);
	free(rc->entry);
	memset(rc, 0, sizeof(*rc));
}
