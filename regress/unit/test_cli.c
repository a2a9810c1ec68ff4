/*
 * CLI, POD_* and permission-value parsing: each case is an argument
 * vector and what must come of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "perm.h"

struct cli_case {
	const char	*argv[8];
	int		 ok;
	const char	*err;	/* substring of the reason when !ok */
};

static const struct cli_case cases[] = {
	/* good */
	{ { "podrunner", "run", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--allow-net", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--allow-net=github.com,jsr.io:443", "x.py" },
	    1, NULL },
	{ { "podrunner", "run", "--deny-net=10.0.0.0/8,[::1]:80,fe80::/10",
	    "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--allow-net=*.example.com", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--allow-read=/tmp,./data", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--allow-env=PATH,AWS_*", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--deny-sys=uid,gid", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--shm-size", "10mb", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--shm-size=64k", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--worker=exec", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--worker=custom:./w", "x.cw" }, 1, NULL },
	{ { "podrunner", "explain", "--worker=custom:/opt/w" }, 1, NULL },
	{ { "podrunner", "run", "--timeout=500ms", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "--policy=p.json", "x.py" }, 1, NULL },
	{ { "podrunner", "run", "x.py", "--not-ours", "-d" }, 1, NULL },
	{ { "podrunner", "init-policy", "--allow-net=a.com" }, 1, NULL },
	/* bad */
	{ { "podrunner" }, 0, "missing command" },
	{ { "podrunner", "walk", "x.py" }, 0, "unknown command" },
	{ { "podrunner", "run" }, 0, "missing entry" },
	{ { "podrunner", "run", "--allow-nett", "x.py" }, 0,
	    "unknown option --allow-nett" },
	{ { "podrunner", "run", "--allow-all=yes", "x.py" }, 0, "takes no value" },
	{ { "podrunner", "run", "--allow-w", "x.py" }, 0,
	    "did you mean --allow-write" },
	{ { "podrunner", "run", "--allow-ne=github.com", "x.py" }, 0,
	    "unknown option --allow-ne=github.com" },
	{ { "podrunner", "run", "--pol", "p.json", "x.py" }, 0, "unknown option" },
	{ { "podrunner", "run", "--shm-size=10xb", "x.py" }, 0, "unknown unit" },
	{ { "podrunner", "run", "--shm-size=1000", "x.py" }, 0, "multiple of 4k" },
	{ { "podrunner", "run", "--shm-size=2gb", "x.py" }, 0, "multiple of 4k" },
	{ { "podrunner", "run", "--shm-size", "x.py" }, 0, "not a number" },
	{ { "podrunner", "run", "--worker=perl", "x.py" }, 0, "unknown worker" },
	{ { "podrunner", "run", "--worker=custom", "x.py" }, 0,
	    "unknown worker" },
	{ { "podrunner", "run", "--worker=custom:", "x.py" }, 0, "custom:PATH" },
	{ { "podrunner", "run", "--timeout=abc", "x.py" }, 0, "--timeout" },
	{ { "podrunner", "run", "--allow-net=bad..host", "x.py" }, 0,
	    "bad host name" },
	{ { "podrunner", "run", "--allow-net=1.2.3.4/33", "x.py" }, 0,
	    "prefix length" },
	{ { "podrunner", "run", "--allow-net=a.com:70000", "x.py" }, 0,
	    "bad port" },
	{ { "podrunner", "run", "--allow-net=[::1", "x.py" }, 0, "missing ']'" },
	{ { "podrunner", "run", "--allow-net=", "x.py" }, 0, "empty value" },
	{ { "podrunner", "run", "--allow-net=a.com,,b.com", "x.py" }, 0,
	    "empty item" },
	{ { "podrunner", "run", "--allow-env=BAD-NAME", "x.py" }, 0,
	    "bad variable name" },
	{ { "podrunner", "run", "--allow-sys=kernel", "x.py" }, 0,
	    "unknown system API" },
	{ { "podrunner", "init-policy", "extra" }, 0, "unexpected argument" },
	{ { "podrunner", "init-policy", "--timeout=3s" }, 0, "option of run" },
	{ { "podrunner", "init-policy", "-d" }, 0, "option of run" },
};

static void
test_cli_cases(void **state)
{
	struct run_config	 rc;
	char			 err[512];
	size_t			 i;
	int			 argc, rv;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (argc = 0; cases[i].argv[argc] != NULL; argc++)
			;
		cli_init(&rc);
		err[0] = '\0';
		rv = cli_parse(argc, (char **)(uintptr_t)cases[i].argv, &rc, err,
		    sizeof(err));
		if (cases[i].ok && rv != 0)
			fail_msg("case %zu (%s): unexpected error: %s", i,
			    cases[i].argv[2], err);
		if (!cases[i].ok) {
			if (rv != -1)
				fail_msg("case %zu (%s): accepted", i,
				    cases[i].argv[2] ? cases[i].argv[2] : "");
			if (strstr(err, cases[i].err) == NULL)
				fail_msg("case %zu: reason \"%s\" lacks \"%s\"",
				    i, err, cases[i].err);
			if (strchr(err, '\n') != NULL)
				fail_msg("case %zu: reason is not one line", i);
		}
		cli_free(&rc);
	}
}

static void
test_cli_values(void **state)
{
	const char		*argv[] = { "podrunner", "run",
	    "--allow-read=/a/./b//c/../d,rel", "--allow-net", "--deny-env",
	    "--shm-size=2m", "prog", "arg1", "--x" };
	struct run_config	 rc;
	char			 err[256];

	(void)state;
	cli_init(&rc);
	free(rc.cwd);
	rc.cwd = strdup("/home/u");
	assert_int_equal(cli_parse(9, (char **)(uintptr_t)argv, &rc, err,
	    sizeof(err)), 0);
	assert_int_equal(rc.layer[LAYER_FLAG].allow[PERM_READ].n, 2);
	assert_string_equal(rc.layer[LAYER_FLAG].allow[PERM_READ].v[0], "/a/b/d");
	assert_string_equal(rc.layer[LAYER_FLAG].allow[PERM_READ].v[1],
	    "/home/u/rel");
	assert_true(rc.layer[LAYER_FLAG].allow[PERM_NET].all);
	assert_true(rc.layer[LAYER_FLAG].deny[PERM_ENV].all);
	assert_false(rc.layer[LAYER_FLAG].allow[PERM_ENV].given);
	assert_int_equal(rc.shm_size, 2 * 1024 * 1024);
	assert_string_equal(rc.entry, "prog");
	assert_int_equal(rc.nargs, 2);
	assert_string_equal(rc.args[1], "--x");
	assert_int_equal(rc.worker, WORKER_EXEC);
	cli_free(&rc);
}

static void
test_cli_env(void **state)
{
	char	*good[] = { "HOME=/root", "POD_ALLOW_NET=api.example.com",
	    "POD_DENY_NET=10.0.0.0/8", "POD_ALLOW_ENV=PATH,HOME",
	    "POD_POLICY_JSON=e30=", NULL };
	char	*bad[] = { "POD_ALLOW_NET=bad..host", NULL };
	char	*empty[] = { "POD_ALLOW_READ=", NULL };
	struct run_config	 rc;
	char			 err[256];

	(void)state;
	cli_init(&rc);
	assert_int_equal(cli_parse_env(good, &rc, err, sizeof(err)), 0);
	assert_int_equal(rc.layer[LAYER_ENV].allow[PERM_NET].n, 1);
	assert_string_equal(rc.layer[LAYER_ENV].deny[PERM_NET].v[0],
	    "10.0.0.0/8");
	assert_int_equal(rc.layer[LAYER_ENV].allow[PERM_ENV].n, 2);
	assert_false(rc.layer[LAYER_FLAG].allow[PERM_NET].given);
	assert_string_equal(rc.policy_b64, "e30=");
	/* both a document file and POD_POLICY_JSON */
	rc.policy_path = strdup("p.json");
	assert_int_equal(cli_parse_env(good, &rc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "both"));
	cli_free(&rc);

	cli_init(&rc);
	assert_int_equal(cli_parse_env(bad, &rc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "POD_ALLOW_NET"));
	cli_free(&rc);
	cli_init(&rc);
	assert_int_equal(cli_parse_env(empty, &rc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty value"));
	cli_free(&rc);
}

static void
test_worker_from_entry(void **state)
{
	(void)state;
	assert_int_equal(cli_worker_from_entry("a.py"), WORKER_PYTHON);
	assert_int_equal(cli_worker_from_entry("dir/main.ts"), WORKER_BUN);
	assert_int_equal(cli_worker_from_entry("x.mjs"), WORKER_BUN);
	assert_int_equal(cli_worker_from_entry("./tool"), WORKER_EXEC);
	assert_int_equal(cli_worker_from_entry("a.dir/tool"), WORKER_EXEC);
	assert_int_equal(cli_worker_from_entry("script.sh"), WORKER_EXEC);
}

/* --worker=custom:PATH: the path kept as given (checked at run time),
 * the last --worker wins. */
static void
test_worker_custom(void **state)
{
	const char *argv[] = { "podrunner", "run", "--worker=custom:rel/w x",
	    "job.cw", "a" };
	const char *again[] = { "podrunner", "run", "--worker=custom:/a",
	    "--worker=exec", "job" };
	struct run_config	 rc;
	char			 err[256];

	(void)state;
	cli_init(&rc);
	assert_int_equal(cli_parse(5, (char **)(uintptr_t)argv, &rc, err,
	    sizeof(err)), 0);
	assert_int_equal(rc.worker, WORKER_CUSTOM);
	assert_string_equal(rc.worker_path, "rel/w x");
	assert_string_equal(rc.entry, "job.cw");
	assert_string_equal(worker_type_name(rc.worker), "custom");
	cli_free(&rc);

	cli_init(&rc);
	assert_int_equal(cli_parse(5, (char **)(uintptr_t)again, &rc, err,
	    sizeof(err)), 0);
	assert_int_equal(rc.worker, WORKER_EXEC);
	assert_null(rc.worker_path);
	cli_free(&rc);
}

static void
test_path_normalise(void **state)
{
	static const struct {
		const char *cwd, *in, *out;
	} t[] = {
		{ "/", "/", "/" },
		{ "/", "/a/b/", "/a/b" },
		{ "/", "//a///b", "/a/b" },
		{ "/", "/a/./b/../c", "/a/c" },
		{ "/", "/../../a", "/a" },
		{ "/x/y", "..", "/x" },
		{ "/x/y", "../../..", "/" },
		{ "/x", "z/./w", "/x/z/w" },
	};
	char	buf[256];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(path_normalise(t[i].cwd, t[i].in, buf,
		    sizeof(buf)), 0);
		assert_string_equal(buf, t[i].out);
	}
	assert_int_equal(path_normalise("/", "/abcdef", buf, 4), -1);
}

static void
test_env_pattern(void **state)
{
	(void)state;
	assert_true(env_pattern_match("AWS_*", "AWS_SECRET"));
	assert_true(env_pattern_match("AWS_*", "AWS_"));
	assert_false(env_pattern_match("AWS_*", "AWS"));
	assert_true(env_pattern_match("*", "ANY"));
	assert_true(env_pattern_match("PATH", "PATH"));
	assert_false(env_pattern_match("PATH", "PATHX"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_cases),
		cmocka_unit_test(test_cli_values),
		cmocka_unit_test(test_cli_env),
		cmocka_unit_test(test_worker_from_entry),
		cmocka_unit_test(test_worker_custom),
		cmocka_unit_test(test_path_normalise),
		cmocka_unit_test(test_env_pattern),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
