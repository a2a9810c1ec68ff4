/*
 * podrunner: run untrusted code in a kernel sandbox with Deno-style
 * permissions.  This is the parent: it parses the command line, starts
 * the children (policyd, proxy, auditd, sandbox), configures them,
 * asks the sandbox for the pod and exits with the worker's status.
 */
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "auditload.h"
#include "parent.h"
#include "policy.h"
#include "privsep.h"
#include "util.h"

struct parent	parent_env;

static void	parent_sig(int, short, void *);
static int	init_policy(struct run_config *);
static void	find_runtime(struct run_config *);
static int	check_entry(struct run_config *);
static int	check_custom(struct run_config *);
static int	open_as_invoker(const char *);
static void	runtime_grants(struct run_config *);
static __dead void usage_error(const char *);

static __dead void
usage_error(const char *msg)
{
	fprintf(stderr, "podrunner: %s (see podrunner --help)\n", msg);
	exit(EXIT_PODRUNNER);
}

int
main(int argc, char *argv[])
{
	extern char		**environ;
	static struct run_config rc;
	struct event		*ev_sig[5];
	const int		 sigs[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP,
				    SIGPIPE };
	struct privsep_user	 pu;
	unsigned char		 rnd[PODID_LEN / 2];
	char			 err[512];
	size_t			 i;
	pid_t			 loader;
	int			 code;

	setproctitle_init(argc, argv, environ);

	/* A re-executed child: podrunner -P <role>. */
	if (argc >= 3 && strcmp(argv[1], "-P") == 0)
		proc_child_main(argc, argv);

	log_init(1, LOG_DAEMON);
	cli_init(&rc);
	if (cli_parse(argc, argv, &rc, err, sizeof(err)) == -1)
		usage_error(err);
	switch (rc.cmd) {
	case CMD_HELP:
		cli_usage(stdout);
		return 0;
	case CMD_VERSION:
		printf("podrunner %s\n", PODRUNNER_VERSION);
		return 0;
	case CMD_INIT_POLICY:
		return init_policy(&rc);
	case CMD_CHECK:
		return check_main(rc.json);
	default:
		break;
	}
	if (cli_parse_env(environ, &rc, err, sizeof(err)) == -1)
		usage_error(err);
	log_setverbose(rc.verbose);

	if (rc.cmd == CMD_RUN && (code = check_entry(&rc)) != 0)
		return code;
	if (rc.cmd == CMD_RUN && rc.worker == WORKER_CUSTOM &&
	    (code = check_custom(&rc)) != 0)
		return code;
	if (rc.allow_all)
		fprintf(stderr, "podrunner: warning: --allow-all: every "
		    "permission is granted\n");
	if ((rc.cmd == CMD_RUN || rc.cmd == CMD_SERVE) && rc.no_sandbox)
		fprintf(stderr, "podrunner: warning: --no-sandbox: the worker "
		    "runs without kernel isolation (no namespaces, landlock, "
		    "seccomp profile or cgroup limits)\n");
	if (rc.debug_ui)
		fprintf(stderr, "podrunner: warning: --debug-ui: the debug "
		    "interface is not built yet; flag ignored\n");

	if (geteuid() != 0) {
		fprintf(stderr, "podrunner: run needs root (it drops to %s "
		    "and a per-pod user)\n", PODRUNNER_USER);
		return EXIT_PODRUNNER;
	}
	if (priv_lookup_user(&pu, err, sizeof(err)) == -1 ||
	    priv_check_chroot(PATH_CHROOT, err, sizeof(err)) == -1) {
		fprintf(stderr, "podrunner: %s\n", err);
		return EXIT_PODRUNNER;
	}
	/*
	 * The audit's loader, first thing: it loads the BPF programs
	 * (about 5 ms of CPU here) while we and the daemons start, and attaches
	 * them once the sandbox, which gets its channel, knows the policy.
	 * At once only without a policy document, whose defaults enable
	 * the audit: a document may disable it, and then it must cost
	 * nothing, so with one the loader waits for the policy.  (Whether
	 * a document is given is all the parent looks at; policyd reads
	 * it.)  None for --no-sandbox: a pod without a cgroup of its own
	 * cannot be audited.
	 */
	parent_env.audit_loader_fd = -1;
	if ((rc.cmd == CMD_RUN || rc.cmd == CMD_SERVE) && !rc.no_sandbox &&
	    (parent_env.audit_loader_fd = audit_loader_fork(
	    rc.policy_path == NULL && rc.policy_b64 == NULL, &loader)) == -1)
		fatal("forking the audit loader");
	if (mkdir(PATH_RUNDIR, 0711) == -1 && errno != EEXIST) {
		fprintf(stderr, "podrunner: mkdir %s: %s\n", PATH_RUNDIR,
		    strerror(errno));
		return EXIT_PODRUNNER;
	}
	find_runtime(&rc);
	if (rc.worker == WORKER_BUN && access(parent_env.runtime, X_OK) == -1) {
		fprintf(stderr, "podrunner: the bun runtime is not installed "
		    "(%s: %s; make deps installs it)\n", parent_env.runtime,
		    strerror(errno));
		return EXIT_PODRUNNER;
	}
	runtime_grants(&rc);

	parent_env.rc = &rc;
	parent_env.exit_code = -1;
	parent_env.policy_fd = -1;
	parent_env.audit_log_fd = -1;
	if (rc.policy_path != NULL &&
	    (parent_env.policy_fd = open(rc.policy_path,
	    O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "podrunner: --policy %s: %s\n", rc.policy_path,
		    strerror(errno));
		return EXIT_PODRUNNER;
	}
	if (rc.audit_log != NULL &&
	    (parent_env.audit_log_fd = open_as_invoker(rc.audit_log)) == -1) {
		fprintf(stderr, "podrunner: --audit-log %s: %s\n", rc.audit_log,
		    strerror(errno));
		return EXIT_PODRUNNER;
	}
	arc4random_buf(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		(void)snprintf(parent_env.podid + 2 * i, 3, "%02x", rnd[i]);

	/* Pod init ends the pod when the write end, held here, closes. */
	if (pipe2(parent_env.lifeline, O_CLOEXEC) == -1)
		fatal("pipe2");
	/* Orphans of the pod come to us, so nothing outlives podrunner. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		fatal("prctl PR_SET_CHILD_SUBREAPER");
	if ((parent_env.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	imsgev_set_base(parent_env.base);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev_sig[i] = evsignal_new(parent_env.base, sigs[i], parent_sig,
		    NULL);
		if (ev_sig[i] == NULL || evsignal_add(ev_sig[i], NULL) == -1)
			fatalx("evsignal");
	}

	if (rc.cmd == CMD_SERVE)
		serve_init();
	proc_start_all();
	proc_configure_all();
	event_base_dispatch(parent_env.base);
	/* The loop ends only through proc_shutdown's exit. */
	fatalx("event loop ended");
}

static void
parent_sig(int sig, short ev, void *arg)
{
	(void)ev;
	(void)arg;
	switch (sig) {
	case SIGCHLD:
		proc_sigchld();
		break;
	case SIGINT:
	case SIGTERM:
	case SIGHUP:
		pod_signal(sig);
		break;
	case SIGPIPE:
		break;
	}
}

/*
 * The --audit-log file, opened (created 0600, appended to) with the
 * file-system identity of the user who ran us, not root's: what that
 * user could not write, this does not write either, and a new file is
 * theirs.  auditd gets the fd.
 */
static int
open_as_invoker(const char *path)
{
	uid_t	uid = getuid();
	gid_t	gid = getgid();
	int	fd, saved;

	(void)setfsgid(gid);
	(void)setfsuid(uid);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0600);
	saved = errno;
	(void)setfsuid(geteuid());
	(void)setfsgid(getegid());
	errno = saved;
	return fd;
}

/* Entry checks: 127 not found, 126 not executable/readable. */
static int
check_entry(struct run_config *rc)
{
	char		 path[PATH_MAX];
	struct stat	 sb;

	if (realpath(rc->entry, path) == NULL || stat(path, &sb) == -1) {
		fprintf(stderr, "podrunner: %s: %s\n", rc->entry,
		    strerror(errno));
		return errno == ENOENT || errno == ENOTDIR ? EXIT_NOTFOUND :
		    EXIT_NOEXEC;
	}
	if (S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "podrunner: %s: is a directory\n", rc->entry);
		return EXIT_NOEXEC;
	}
	if (rc->worker == WORKER_EXEC && access(path, X_OK) == -1) {
		fprintf(stderr, "podrunner: %s: not executable\n", rc->entry);
		return EXIT_NOEXEC;
	}
	if (rc->worker == WORKER_EXEC && (sb.st_mode & 0111) == 0) {
		fprintf(stderr, "podrunner: %s: not executable\n", rc->entry);
		return EXIT_NOEXEC;
	}
	if (access(path, R_OK) == -1 && rc->worker != WORKER_EXEC) {
		fprintf(stderr, "podrunner: %s: %s\n", rc->entry,
		    strerror(errno));
		return EXIT_NOEXEC;
	}
	free(rc->entry);
	rc->entry = xstrdup(path);
	return 0;
}

/*
 * A custom worker's program (--worker=custom:PATH), as the exec worker's
 * entry: 127 not found, 126 not an executable file.  The relay binds it
 * into the pod read-only and executable, at the same path.
 */
static int
check_custom(struct run_config *rc)
{
	char		 path[PATH_MAX];
	struct stat	 sb;

	if (realpath(rc->worker_path, path) == NULL || stat(path, &sb) == -1) {
		fprintf(stderr, "podrunner: worker %s: %s\n", rc->worker_path,
		    strerror(errno));
		return errno == ENOENT || errno == ENOTDIR ? EXIT_NOTFOUND :
		    EXIT_NOEXEC;
	}
	if (!S_ISREG(sb.st_mode) || (sb.st_mode & 0111) == 0 ||
	    access(path, X_OK) == -1) {
		fprintf(stderr, "podrunner: worker %s: not an executable "
		    "file\n", rc->worker_path);
		return EXIT_NOEXEC;
	}
	free(rc->worker_path);
	rc->worker_path = xstrdup(path);
	return 0;
}

/*
 * The worker runtimes, looked up relative to the binary so that a tree
 * works wherever it is: a build tree (build/podrunner next to worker/,
 * build/lib and deps/), an installed tree (bin/podrunner next to
 * libexec/podrunner and lib), else the configured LIBEXECDIR and LIBDIR.
 */
static int
runtime_at(const char *script_fmt, const char *lib_fmt, const char *base)
{
	(void)snprintf(parent_env.runtime_script,
	    sizeof(parent_env.runtime_script), script_fmt, base);
	(void)snprintf(parent_env.podshm_lib, sizeof(parent_env.podshm_lib),
	    lib_fmt, base);
	return access(parent_env.runtime_script, R_OK) == 0 &&
	    access(parent_env.podshm_lib, R_OK) == 0;
}

/* Python: Debian's interpreter and our runtime (compiled first). */
static int
find_python(const char *tree)
{
	(void)snprintf(parent_env.runtime, sizeof(parent_env.runtime),
	    "/usr/bin/python3");
	if (tree != NULL)
		return runtime_at("%s/build/python/podrunner_worker.pyc",
		    "%s/build/lib/libpodshm.so.1", tree) ||
		    runtime_at("%s/worker/python/podrunner_worker.py",
		    "%s/build/lib/libpodshm.so.1", tree) ||
		    runtime_at("%s/libexec/podrunner/python/"
		    "podrunner_worker.pyc", "%s/lib/libpodshm.so.1", tree) ||
		    runtime_at("%s/libexec/podrunner/python/podrunner_worker.py",
		    "%s/lib/libpodshm.so.1", tree);
	if (!runtime_at("%s" LIBEXECDIR "/python/podrunner_worker.pyc",
	    "%s" LIBDIR "/libpodshm.so.1", ""))
		(void)runtime_at("%s" LIBEXECDIR "/python/podrunner_worker.py",
		    "%s" LIBDIR "/libpodshm.so.1", "");
	return 1;
}

/*
 * Bun: the one make deps put in the tree (deps/bun) or make install in
 * LIBEXECDIR/bun, never one from PATH; our runtime bundled by make
 * (build/bun), else as written.
 */
static int
find_bun(const char *tree)
{
	if (tree != NULL) {
		(void)snprintf(parent_env.runtime, sizeof(parent_env.runtime),
		    "%s/deps/bun/bin/bun", tree);
		if (access(parent_env.runtime, X_OK) == 0 &&
		    (runtime_at("%s/build/bun/podrunner_worker.js",
		    "%s/build/lib/libpodshm.so.1", tree) ||
		    runtime_at("%s/worker/bun/podrunner_worker.ts",
		    "%s/build/lib/libpodshm.so.1", tree)))
			return 1;
		(void)snprintf(parent_env.runtime, sizeof(parent_env.runtime),
		    "%s/libexec/podrunner/bun/bin/bun", tree);
		if (access(parent_env.runtime, X_OK) == 0 &&
		    runtime_at("%s/libexec/podrunner/bun/podrunner_worker.js",
		    "%s/lib/libpodshm.so.1", tree))
			return 1;
		return 0;
	}
	(void)snprintf(parent_env.runtime, sizeof(parent_env.runtime),
	    "%s", LIBEXECDIR "/bun/bin/bun");
	(void)runtime_at("%s" LIBEXECDIR "/bun/podrunner_worker.js",
	    "%s" LIBDIR "/libpodshm.so.1", "");
	return 1;
}

/*
 * libpodshm alone: a custom worker links it (and gets the relay's copy
 * in PODSHM_LIB, as the runtimes do); every pod has it at
 * /usr/lib/libpodshm.so.1, so that an exec worker linked with it starts.
 */
static int
lib_at(const char *lib_fmt, const char *base)
{
	(void)snprintf(parent_env.podshm_lib, sizeof(parent_env.podshm_lib),
	    lib_fmt, base);
	return access(parent_env.podshm_lib, R_OK) == 0;
}

static int
find_lib(const char *tree)
{
	if (tree != NULL)
		return lib_at("%s/build/lib/libpodshm.so.1", tree) ||
		    lib_at("%s/lib/libpodshm.so.1", tree);
	if (!lib_at("%s" LIBDIR "/libpodshm.so.1", ""))
		parent_env.podshm_lib[0] = '\0';
	return 1;
}

static void
find_runtime(struct run_config *rc)
{
	char	 exe[3072], *slash;
	ssize_t	 n;
	int	 (*find)(const char *);

	parent_env.runtime[0] = '\0';
	parent_env.runtime_script[0] = '\0';
	switch (rc->worker) {
	case WORKER_PYTHON:
		find = find_python;
		break;
	case WORKER_BUN:
		find = find_bun;
		break;
	case WORKER_CUSTOM:
		/* The program is the runtime; there is no script. */
		(void)snprintf(parent_env.runtime, sizeof(parent_env.runtime),
		    "%s", rc->worker_path);
		find = find_lib;
		break;
	default:
		find = find_lib;
		break;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		/* Two levels up: the tree above build/ or bin/. */
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		if (find(exe))
			return;
	}
	(void)find(NULL);
}

static void
runtime_grant(unsigned int kind, const char *value)
{
	parent_env.runtime_rules = xreallocarray(parent_env.runtime_rules,
	    parent_env.nruntime + 1, sizeof(*parent_env.runtime_rules));
	parent_env.runtime_rules[parent_env.nruntime].kind = kind;
	parent_env.runtime_rules[parent_env.nruntime].value = xstrdup(value);
	parent_env.nruntime++;
}

/*
 * The runtime layer: what the worker runtime needs to run at all, and
 * what podrunner itself puts in the worker's environment: the entry
 * script, the harmless devices, the CA certificates, PATH, the pod's
 * /tmp and proxy; for Python also its own library directories (imports
 * read them) and PYTHONUNBUFFERED.  Bun's own files (the binary, its
 * built-in modules) are read by Bun itself, which the hooks do not ask
 * about; a custom worker gets what Bun gets.  Below the document and the
 * flags: a --deny-read of a library directory still wins.
 */
static void
runtime_grants(struct run_config *rc)
{
	static const char *pats[] = {
		"/usr/lib/python3*", "/usr/local/lib/python3*",
	};
	static const char *devs[] = {
		"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom",
	};
	static const char *certs[] = {
		"/etc/ssl/certs", "/usr/share/ca-certificates", "/usr/lib/ssl",
	};
	glob_t	 g;
	size_t	 i, j;

	if (rc->worker != WORKER_PYTHON && rc->worker != WORKER_BUN &&
	    rc->worker != WORKER_CUSTOM)
		return;
	for (i = 0; rc->worker == WORKER_PYTHON &&
	    i < sizeof(pats) / sizeof(pats[0]); i++) {
		if (glob(pats[i], GLOB_ONLYDIR, NULL, &g) != 0)
			continue;
		for (j = 0; j < g.gl_pathc; j++)
			runtime_grant(PERM_READ, g.gl_pathv[j]);
		globfree(&g);
	}
	for (i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		runtime_grant(PERM_READ, devs[i]);
	/* The system's CA certificates (public): HTTPS through the proxy
	 * verifies servers as on the host. */
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		if (access(certs[i], F_OK) == 0)
			runtime_grant(PERM_READ, certs[i]);
	/* subprocess.DEVNULL and friends open it for writing. */
	runtime_grant(PERM_WRITE, "/dev/null");
	if (rc->entry != NULL)
		runtime_grant(PERM_READ, rc->entry);
	/* The pod's own /tmp: private, size-limited; not the host's. */
	if (!rc->no_sandbox) {
		runtime_grant(PERM_READ, "/tmp");
		runtime_grant(PERM_WRITE, "/tmp");
	}
	runtime_grant(PERM_ENV, "PATH");
	if (rc->worker == WORKER_PYTHON)
		runtime_grant(PERM_ENV, "PYTHONUNBUFFERED");
	/* The pod's egress proxy: its address, and the variables that
	 * point clients at it (pod_proxy_env). */
	if (!rc->no_sandbox) {
		for (i = 0; pod_proxy_vars[i] != NULL; i++)
			runtime_grant(PERM_ENV, pod_proxy_vars[i]);
		runtime_grant(PERM_NET, POD_PROXY_ADDR ":" "8080");
	}
}

/*
 * init-policy: the flags as a version 1 policy document
 * (podrunner.policy(5)), built by the policy engine itself, so that it
 * loads back into the same normalised policy.  The flags are the
 * user's own command line: the parent may read them.
 */
static int
init_policy(struct run_config *rc)
{
	struct perm_list	*pl;
	struct policy		*p;
	json_t			*doc;
	char			 err[512], origin[64];
	size_t			 i;
	int			 k, deny, rv = EXIT_PODRUNNER;

	p = policy_new();
	for (k = 0; k < PERM_MAX; k++)
		for (deny = 0; deny < 2; deny++) {
			pl = deny ? &rc->layer[LAYER_FLAG].deny[k] :
			    &rc->layer[LAYER_FLAG].allow[k];
			(void)snprintf(origin, sizeof(origin), "--%s-%s",
			    deny ? "deny" : "allow", perm_kind_name(k));
			if ((pl->all || (rc->allow_all && !deny)) &&
			    policy_add_rule(p, k, deny ? PERM_DENY : PERM_ALLOW,
			    LAYER_FLAG, NULL, origin, err, sizeof(err)) == -1)
				goto fail;
			for (i = 0; i < pl->n; i++)
				if (policy_add_rule(p, k, deny ? PERM_DENY :
				    PERM_ALLOW, LAYER_FLAG, pl->v[i], origin, err,
				    sizeof(err)) == -1)
					goto fail;
		}
	if ((doc = policy_to_json(p, 0)) == NULL) {
		(void)snprintf(err, sizeof(err), "a value is not valid UTF-8");
		goto fail;
	}
	if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
	    printf("\n") == 1 && fflush(stdout) == 0)
		rv = 0;
	json_decref(doc);
	policy_free(p);
	return rv;
 fail:
	fprintf(stderr, "podrunner: init-policy: %s\n", err);
	policy_free(p);
	return EXIT_PODRUNNER;
}
