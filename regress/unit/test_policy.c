/*
 * policyd/policy.c: both document shapes load (the seeds' lambda.json
 * and default SandboxConfig, verbatim), every error names its line,
 * column and key, a failed load changes nothing, policy_to_json()
 * loads back to the same policy, and the shipped etc files load.
 *
 * Run from the top of the tree (make check-unit) or from anywhere: the
 * shipped documents are found next to the binary's build directory.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "policy.h"
#include "proto.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define MiB		(1ULL << 20)

/* The seeds' lambda.json (002, "Example Lambda Policy"), verbatim. */
static const char seeds_lambda[] =
	"{\n"
	"  \"version\": 1,\n"
	"  \"plugins\": {\n"
	"    \"namespaces\": true,\n"
	"    \"landlock\": true,\n"
	"    \"seccomp\": true\n"
	"  },\n"
	"  \"defaults\": {\n"
	"    \"fs\": \"deny\",\n"
	"    \"net\": \"deny\",\n"
	"    \"exec\": \"deny\"\n"
	"  },\n"
	"  \"rules\": {\n"
	"    \"fs\": {\n"
	"      \"allow\": [\"/tmp\", \"/proc/self/fd\"],\n"
	"      \"mode\": \"read\"\n"
	"    },\n"
	"    \"net\": {\n"
	"      \"allow\": [],\n"
	"      \"mode\": \"allow\"\n"
	"    },\n"
	"    \"exec\": {\n"
	"      \"allow\": []\n"
	"    }\n"
	"  },\n"
	"  \"audit\": {\n"
	"    \"enabled\": true,\n"
	"    \"events\": [\"openat\", \"connect\", \"execve\"]\n"
	"  }\n"
	"}\n";

/* The seeds' default configuration (002, SandboxConfig), as JSON. */
static const char seeds_sandboxconfig[] =
	"{\n"
	"  \"security\": { \"mode\": \"strict\" },\n"
	"  \"network\": {\n"
	"    \"enabled\": true,\n"
	"    \"policy\": \"allow_list\",\n"
	"    \"allow_list\": [\"*\"],\n"
	"    \"deny_list\": [],\n"
	"    \"rate_limit\": 5\n"
	"  },\n"
	"  \"filesystem\": { \"allow_write\": false },\n"
	"  \"resources\": {\n"
	"    \"memory_limit\": 64,\n"
	"    \"cpu_limit\": 50\n"
	"  }\n"
	"}\n";

/* Every member of the version 1 superset, seeds' kinds included. */
static const char rich_v1[] =
	"{\n"
	"  \"$schema\": \"policy.schema.json\",\n"
	"  \"version\": 1,\n"
	"  \"mode\": \"monitor\",\n"
	"  \"plugins\": {\"namespaces\": true, \"landlock\": false,\n"
	"    \"seccomp\": true},\n"
	"  \"defaults\": {\"net\": \"warn\", \"fs\": \"deny\", \"exec\": "
	"\"allow\",\n"
	"    \"env\": \"deny\", \"sys\": \"allow\"},\n"
	"  \"rules\": {\n"
	"    \"net\": {\"allow\": [\"GitHub.com\", \"*.example.com:443\",\n"
	"        \"10.0.0.0/8\", \"[::1]:8080\", \"fe80::/10\"],\n"
	"      \"deny\": [\"evil.example.com\"], \"warn\": [\"1.2.3.4\"],\n"
	"      \"rate_limit\": 10},\n"
	"    \"fs\": {\"mode\": \"read\", \"allow\": [\"/data\", "
	"\"/srv//x/../y\"],\n"
	"      \"deny\": [\"/data/secret\"]},\n"
	"    \"write\": {\"allow\": [\"/tmp/out\"], \"warn\": [\"/var/tmp\"]},\n"
	"    \"env\": {\"allow\": [\"PATH\", \"LC_*\"], \"deny\": [\"AWS_*\"]},\n"
	"    \"exec\": {\"allow\": [\"python3\", \"/usr/bin/git\"], "
	"\"deny\": [\"*\"]},\n"
	"    \"ffi\": {\"allow\": [\"/usr/lib/libm.so.6\"]},\n"
	"    \"sys\": {\"deny\": [\"uid\", \"hostname\"]}\n"
	"  },\n"
	"  \"resources\": {\"memory\": \"1gb\", \"cpu\": 150, \"pids\": 100,\n"
	"    \"timeout\": 90, \"tmpfs\": 16},\n"
	"  \"audit\": {\"enabled\": true, \"required\": true,\n"
	"    \"events\": [\"openat\", \"connect\"]}\n"
	"}\n";

/* ---- helpers -------------------------------------------------------- */

static struct policy *
load_ok(struct policy *p, const char *name, const char *text)
{
	char	err[1024];

	if (p == NULL)
		p = policy_new();
	if (policy_load(p, name, text, strlen(text), err, sizeof(err)) == -1)
		fail_msg("%s: %s", name, err);
	return p;
}

static void
add_ok(struct policy *p, unsigned int kind, unsigned int action,
    unsigned int layer, const char *value, const char *origin)
{
	char	err[512];

	if (policy_add_rule(p, kind, action, layer, value, origin, err,
	    sizeof(err)) == -1)
		fail_msg("add %s %s: %s", perm_kind_name(kind),
		    value ? value : "(all)", err);
}

/* Rules of kind, action and value (NULL: the whole kind) in a layer. */
static size_t
count_rules(const struct policy *p, unsigned int kind, unsigned int action,
    unsigned int layer, const char *value)
{
	size_t	i, n = 0;

	for (i = 0; i < p->nrules; i++) {
		const struct prule *r = &p->rules[i];

		if (r->kind != kind || r->action != action || r->layer != layer)
			continue;
		if (value == NULL ? r->value == NULL :
		    r->value != NULL && strcmp(r->value, value) == 0)
			n++;
	}
	return n;
}

static const struct prule *
find_rule(const struct policy *p, unsigned int kind, unsigned int action,
    const char *value)
{
	size_t	i;

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].kind == kind && p->rules[i].action == action &&
		    p->rules[i].value != NULL &&
		    strcmp(p->rules[i].value, value) == 0)
			return &p->rules[i];
	return NULL;
}

static unsigned int
eff_default(const struct policy *p, unsigned int kind)
{
	return p->has_default[kind] ? p->defaults[kind] : PERM_DENY;
}

static char *
dump(const struct policy *p, int with_origin)
{
	json_t	*j;
	char	*s;

	assert_non_null(j = policy_to_json(p, with_origin));
	assert_non_null(s = json_dumps(j, JSON_INDENT(2)));
	json_decref(j);
	return s;
}

/* Everything a policy holds, as text: for "nothing changed". */
static char *
snapshot(const struct policy *p)
{
	char	*s, *out;
	size_t	 k;
	char	 hd[PERM_MAX * 2 + 1];

	for (k = 0; k < PERM_MAX; k++) {
		hd[2 * k] = p->has_default[k] ? 'y' : 'n';
		hd[2 * k + 1] = (char)('0' + p->defaults[k] % 10);
	}
	hd[2 * PERM_MAX] = '\0';
	s = dump(p, 1);
	if (asprintf(&out, "%s\nnrules %zu\nhas_default %s\ndocument %s\n"
	    "compiled %d\n", s, p->nrules, hd, p->document ? p->document :
	    "(none)", p->compiled) == -1)
		fail_msg("asprintf");
	free(s);
	return out;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "kind action value" of every rule, sorted: rules as a set. */
static char *
rule_set(const struct policy *p)
{
	char	**v, *out;
	size_t	  i, n = 0, len = 1;

	v = calloc(p->nrules + 1, sizeof(*v));
	assert_non_null(v);
	for (i = 0; i < p->nrules; i++) {
		const struct prule *r = &p->rules[i];

		if (asprintf(&v[n++], "%s %s %s\n", perm_kind_name(r->kind),
		    action_name(r->action), r->value ? r->value : "*") == -1)
			fail_msg("asprintf");
		len += strlen(v[n - 1]);
	}
	qsort(v, n, sizeof(*v), cmpstr);
	out = calloc(1, len);
	assert_non_null(out);
	for (i = 0; i < n; i++) {
		strcat(out, v[i]);
		free(v[i]);
	}
	free(v);
	return out;
}

/* Defaults too, unless a flag or POD_* layer became one. */
static void
settings_equal(const struct policy *a, const struct policy *b, int defaults)
{
	size_t	i;
	int	k;

	assert_int_equal(a->mode, b->mode);
	for (k = 0; defaults && k < PERM_MAX; k++)
		assert_int_equal(eff_default(a, k), eff_default(b, k));
	assert_int_equal(a->net_rate_limit, b->net_rate_limit);
	assert_int_equal(a->plugins_namespaces, b->plugins_namespaces);
	assert_int_equal(a->plugins_landlock, b->plugins_landlock);
	assert_int_equal(a->plugins_seccomp, b->plugins_seccomp);
	assert_memory_equal(&a->res, &b->res, sizeof(a->res));
	assert_int_equal(a->audit.enabled, b->audit.enabled);
	assert_int_equal(a->audit.required, b->audit.required);
	assert_int_equal(a->audit.nevents, b->audit.nevents);
	for (i = 0; i < a->audit.nevents; i++)
		assert_string_equal(a->audit.events[i], b->audit.events[i]);
}

/* A shipped document: etc/NAME from the top, or from the binary's. */
static char *
read_etc(const char *name, size_t *lenp)
{
	char	 path[4096 + 64], exe[4096], *buf, *s;
	FILE	*f;
	ssize_t	 n;
	size_t	 len;
	int	 up;

	(void)snprintf(path, sizeof(path), "etc/%s", name);
	if (access(path, R_OK) == -1 &&
	    (n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		/* TOP/build/regress/unit/test_policy */
		for (up = 0; up < 4 && (s = strrchr(exe, '/')) != NULL; up++)
			*s = '\0';
		(void)snprintf(path, sizeof(path), "%s/etc/%s", exe, name);
	}
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot open (run from the top of the tree)",
		    path);
	buf = malloc(1 << 20);
	assert_non_null(buf);
	len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* ---- the policy object ---------------------------------------------- */

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(layer_name(LAYER_FLAG), "flag");
	assert_string_equal(layer_name(LAYER_ENV), "env");
	assert_string_equal(layer_name(LAYER_POLICY), "policy");
	assert_string_equal(layer_name(LAYER_RUNTIME), "runtime");
	assert_string_equal(layer_name(LAYER_DEFAULT), "default");
	assert_string_equal(action_name(PERM_ALLOW), "allow");
	assert_string_equal(action_name(PERM_DENY), "deny");
	assert_string_equal(action_name(PERM_WARN), "warn");
	assert_string_equal(layer_name(99), "unknown");
	assert_string_equal(action_name(99), "unknown");
}

static void
test_new(void **state)
{
	struct policy	*p = policy_new();
	int		 k;

	(void)state;
	assert_int_equal(p->mode, MODE_STRICT);
	for (k = 0; k < PERM_MAX; k++)
		assert_int_equal(p->has_default[k], 0);
	assert_int_equal(p->nrules, 0);
	assert_true(p->plugins_namespaces && p->plugins_landlock &&
	    p->plugins_seccomp);
	assert_true(p->audit.enabled);
	assert_false(p->audit.required);
	assert_int_equal(p->audit.nevents, 3);
	assert_string_equal(p->audit.events[2], "execve");
	assert_null(p->document);
	policy_free(p);
	policy_free(NULL);
}

static void
test_add_rule(void **state)
{
	struct policy	*p = policy_new();
	char		 err[256];
	int		 i;

	(void)state;
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_FLAG, NULL, "--allow-net");
	add_ok(p, PERM_NET, PERM_DENY, LAYER_ENV, "*", "POD_DENY_NET");
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_FLAG, "GitHub.COM:443",
	    "--allow-net");
	add_ok(p, PERM_READ, PERM_WARN, LAYER_POLICY, "/a/./b//c/../d", NULL);
	add_ok(p, PERM_READ, PERM_WARN, LAYER_POLICY, "/a/b/d", NULL);
	add_ok(p, PERM_RUN, PERM_ALLOW, LAYER_RUNTIME, "python3", "runtime");
	add_ok(p, PERM_ENV, PERM_DENY, LAYER_FLAG, "AWS_*", "--deny-env");
	assert_int_equal(p->nrules, 7);
	assert_null(p->rules[0].value);
	assert_null(p->rules[1].value);
	assert_int_equal(p->rules[1].layer, LAYER_ENV);
	assert_string_equal(p->rules[1].origin, "POD_DENY_NET");
	assert_string_equal(p->rules[2].value, "github.com:443");
	assert_string_equal(p->rules[3].value, "/a/b/d");
	assert_string_equal(p->rules[3].origin, "policy");	/* NULL */
	/* Duplicates are kept. */
	assert_int_equal(count_rules(p, PERM_READ, PERM_WARN, LAYER_POLICY,
	    "/a/b/d"), 2);

	/* Many rules: the array grows. */
	for (i = 0; i < 1000; i++)
		add_ok(p, PERM_ENV, PERM_ALLOW, LAYER_POLICY, "X", "x");
	assert_int_equal(p->nrules, 1007);

	assert_int_equal(policy_add_rule(p, PERM_NET, PERM_ALLOW, LAYER_FLAG,
	    "bad..host", "--allow-net", err, sizeof(err)), -1);
	assert_string_equal(err, "bad host name \"bad..host\"");
	assert_int_equal(policy_add_rule(p, PERM_NET, PERM_ALLOW, LAYER_FLAG,
	    "10.0.0.0/33", NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "bad prefix length \"/33\" (0-32)");
	assert_int_equal(policy_add_rule(p, PERM_ENV, PERM_ALLOW, LAYER_FLAG,
	    "", NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "empty value");
	assert_int_equal(policy_add_rule(p, PERM_MAX, PERM_ALLOW, LAYER_FLAG,
	    NULL, NULL, err, sizeof(err)), -1);
	assert_int_equal(policy_add_rule(p, PERM_NET, 3, LAYER_FLAG,
	    NULL, NULL, err, sizeof(err)), -1);
	assert_int_equal(policy_add_rule(p, PERM_NET, PERM_ALLOW,
	    LAYER_DEFAULT, NULL, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "bad rule (kind 0, action 0, layer 4)");
	assert_int_equal(p->nrules, 1007);
	policy_free(p);
}

/* ---- both shapes ---------------------------------------------------- */

static void
test_seeds_lambda(void **state)
{
	struct policy		*p;
	const struct prule	*r;

	(void)state;
	p = load_ok(NULL, "lambda.json", seeds_lambda);
	assert_string_equal(p->document, "lambda.json");
	assert_int_equal(p->mode, MODE_STRICT);
	assert_true(p->plugins_namespaces && p->plugins_landlock &&
	    p->plugins_seccomp);
	/* defaults fs, net, exec deny; rules.net.mode allow agrees. */
	assert_true(p->has_default[PERM_READ] && p->has_default[PERM_WRITE] &&
	    p->has_default[PERM_NET] && p->has_default[PERM_RUN]);
	assert_int_equal(p->defaults[PERM_READ], PERM_DENY);
	assert_int_equal(p->defaults[PERM_WRITE], PERM_DENY);
	assert_int_equal(p->defaults[PERM_NET], PERM_DENY);
	assert_int_equal(p->defaults[PERM_RUN], PERM_DENY);
	assert_false(p->has_default[PERM_ENV]);
	/* fs mode read: the allow list grants reading only. */
	assert_int_equal(p->nrules, 2);
	assert_non_null(r = find_rule(p, PERM_READ, PERM_ALLOW, "/tmp"));
	assert_int_equal(r->layer, LAYER_POLICY);
	assert_string_equal(r->origin, "lambda.json:15:17");
	assert_non_null(r = find_rule(p, PERM_READ, PERM_ALLOW,
	    "/proc/self/fd"));
	assert_string_equal(r->origin, "lambda.json:15:25");
	assert_null(find_rule(p, PERM_WRITE, PERM_ALLOW, "/tmp"));
	assert_true(p->audit.enabled);
	assert_int_equal(p->audit.nevents, 3);
	assert_string_equal(p->audit.events[0], "openat");
	assert_string_equal(p->audit.events[1], "connect");
	assert_string_equal(p->audit.events[2], "execve");
	policy_free(p);
}

static void
test_seeds_sandboxconfig(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(NULL, "config.json", seeds_sandboxconfig);
	assert_int_equal(p->mode, MODE_STRICT);
	/* allow_list ["*"]: the whole kind, in the document layer. */
	assert_int_equal(p->nrules, 1);
	assert_int_equal(count_rules(p, PERM_NET, PERM_ALLOW, LAYER_POLICY,
	    NULL), 1);
	assert_string_equal(p->rules[0].origin, "config.json:6:20");
	assert_true(p->has_default[PERM_NET]);
	assert_int_equal(p->defaults[PERM_NET], PERM_DENY);
	assert_int_equal(p->net_rate_limit, 5);
	/* allow_write false: writes denied by default. */
	assert_true(p->has_default[PERM_WRITE]);
	assert_int_equal(p->defaults[PERM_WRITE], PERM_DENY);
	assert_false(p->has_default[PERM_READ]);
	assert_int_equal(p->res.memory, 64 * MiB);
	assert_int_equal(p->res.cpu_pct, 50);
	policy_free(p);
}

static void
test_sandboxconfig_variants(void **state)
{
	struct policy	*p;

	(void)state;
	/* deny_all: the allow list is checked, not applied. */
	p = load_ok(NULL, "c.json", "{\"network\": {\"policy\": \"deny_all\","
	    " \"allow_list\": [\"a.com\"], \"deny_list\": [\"b.com\"]}, "
	    "\"security\": {\"mode\": \"monitor\"}, "
	    "\"filesystem\": {\"allow_write\": true}}");
	assert_int_equal(p->nrules, 1);
	assert_int_equal(count_rules(p, PERM_NET, PERM_DENY, LAYER_POLICY,
	    "b.com"), 1);
	assert_int_equal(p->mode, MODE_MONITOR);
	assert_int_equal(p->defaults[PERM_WRITE], PERM_ALLOW);
	policy_free(p);
	/* enabled false: the same. */
	p = load_ok(NULL, "c.json", "{\"network\": {\"enabled\": false,"
	    " \"allow_list\": [\"a.com\"]}}");
	assert_int_equal(p->nrules, 0);
	assert_int_equal(p->defaults[PERM_NET], PERM_DENY);
	policy_free(p);
	p = load_ok(NULL, "c.json", "{\"network\": {\"allow_list\": "
	    "[\"a.com\", \"10.0.0.0/8\"]}}");
	assert_int_equal(count_rules(p, PERM_NET, PERM_ALLOW, LAYER_POLICY,
	    "a.com"), 1);
	assert_int_equal(count_rules(p, PERM_NET, PERM_ALLOW, LAYER_POLICY,
	    "10.0.0.0/8"), 1);
	policy_free(p);
}

static void
test_v1_rich(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(NULL, "rich.json", rich_v1);
	assert_int_equal(p->mode, MODE_MONITOR);
	assert_false(p->plugins_landlock);
	assert_int_equal(eff_default(p, PERM_NET), PERM_WARN);
	assert_int_equal(eff_default(p, PERM_READ), PERM_DENY);
	assert_int_equal(eff_default(p, PERM_RUN), PERM_ALLOW);
	assert_int_equal(eff_default(p, PERM_SYS), PERM_ALLOW);
	assert_false(p->has_default[PERM_FFI]);
	assert_non_null(find_rule(p, PERM_NET, PERM_ALLOW, "github.com"));
	assert_non_null(find_rule(p, PERM_NET, PERM_WARN, "1.2.3.4"));
	/* fs mode read: allows read only, the deny denies both. */
	assert_non_null(find_rule(p, PERM_READ, PERM_ALLOW, "/srv/y"));
	assert_null(find_rule(p, PERM_WRITE, PERM_ALLOW, "/data"));
	assert_non_null(find_rule(p, PERM_READ, PERM_DENY, "/data/secret"));
	assert_non_null(find_rule(p, PERM_WRITE, PERM_DENY, "/data/secret"));
	assert_non_null(find_rule(p, PERM_RUN, PERM_ALLOW, "/usr/bin/git"));
	assert_int_equal(count_rules(p, PERM_RUN, PERM_DENY, LAYER_POLICY,
	    NULL), 1);
	assert_int_equal(p->net_rate_limit, 10);
	assert_int_equal(p->res.memory, 1024 * MiB);
	assert_int_equal(p->res.cpu_pct, 150);
	assert_int_equal(p->res.pids, 100);
	assert_int_equal(p->res.timeout_ms, 90000);
	assert_int_equal(p->res.tmpfs, 16 * MiB);
	assert_true(p->audit.required);
	assert_int_equal(p->audit.nevents, 2);
	policy_free(p);
}

/* Members a document leaves out keep their settings; rules add up. */
static void
test_merge(void **state)
{
	struct policy	*p;

	(void)state;
	p = load_ok(NULL, "a.json", "{\"version\": 1, \"resources\": "
	    "{\"memory\": \"128m\"}, \"rules\": {\"env\": {\"allow\": "
	    "[\"HOME\"]}}}");
	add_ok(p, PERM_ENV, PERM_ALLOW, LAYER_FLAG, "PATH", "--allow-env");
	p = load_ok(p, "b.json", "{\"version\": 1, \"mode\": \"monitor\", "
	    "\"audit\": {\"events\": []}, \"rules\": {\"env\": {\"allow\": "
	    "[\"HOME\"]}}}");
	assert_int_equal(p->res.memory, 128 * MiB);
	assert_int_equal(p->mode, MODE_MONITOR);
	assert_int_equal(p->audit.nevents, 0);
	assert_true(p->audit.enabled);
	assert_int_equal(p->nrules, 3);
	assert_string_equal(p->rules[0].origin, "a.json:1:77");
	assert_string_equal(p->rules[2].origin, "b.json:1:88");
	assert_string_equal(p->document, "b.json");
	policy_free(p);
}

/* ---- errors --------------------------------------------------------- */

struct bad_doc {
	const char	*what;
	const char	*doc;
	const char	*err;
};

static const struct bad_doc bad_docs[] = {
	{ "unknown top-level key",
	  "{\"version\": 1, \"modes\": \"strict\"}",
	  "t.json:1:16: /modes: unknown key (a version 1 document has "
	  "version, $schema, mode, plugins, defaults, rules, resources and "
	  "audit)" },
	{ "unknown nested key",
	  "{\n  \"version\": 1,\n  \"rules\": {\n    \"net\": {\n"
	  "      \"allow\": [],\n      \"alow\": []\n    }\n  }\n}\n",
	  "t.json:6:7: /rules/net/alow: unknown key (expected allow, deny, "
	  "warn, mode or rate_limit)" },
	{ "unknown kind",
	  "{\"version\": 1, \"rules\": {\"files\": {}}}",
	  "t.json:1:26: /rules/files: unknown key (expected a kind: net, "
	  "read, write, env, run, ffi, sys, fs or exec)" },
	{ "SandboxConfig key in a version 1 document",
	  "{\"version\": 1, \"security\": {\"mode\": \"strict\"}}",
	  "t.json:1:16: /security: unknown key (a version 1 document has "
	  "version, $schema, mode, plugins, defaults, rules, resources and "
	  "audit)" },
	{ "wrong type",
	  "{\"version\": 1, \"plugins\": {\"seccomp\": \"yes\"}}",
	  "t.json:1:28: /plugins/seccomp: expected a boolean, got a string" },
	{ "wrong type: list",
	  "{\"version\": 1, \"rules\": {\"net\": {\"allow\": \"a.com\"}}}",
	  "t.json:1:34: /rules/net/allow: expected an array of strings, got "
	  "a string" },
	{ "wrong type: item",
	  "{\"version\": 1, \"rules\": {\"env\": {\"allow\": [\"HOME\", 1]}}}",
	  "t.json:1:52: /rules/env/allow/1: expected a string, got an "
	  "integer" },
	{ "wrong type: size",
	  "{\"version\": 1, \"resources\": {\"memory\": true}}",
	  "t.json:1:30: /resources/memory: expected a size (\"512mb\", or an "
	  "integer of MiB), got a boolean" },
	{ "wrong type: real",
	  "{\"version\": 1, \"rules\": {\"net\": {\"rate_limit\": 2.5}}}",
	  "t.json:1:34: /rules/net/rate_limit: expected an integer, got a "
	  "number with a fraction" },
	{ "bad CIDR",
	  "{\n  \"version\": 1,\n  \"rules\": {\n    \"net\": {\n"
	  "      \"deny\": [\"10.0.0.0/8\",\n        \"10.0.0.0/33\"]\n"
	  "    }\n  }\n}\n",
	  "t.json:6:9: /rules/net/deny/1: bad prefix length \"/33\" (0-32)" },
	{ "bad host",
	  "{\n  \"version\": 1,\n  \"rules\": {\n    \"net\": {\n"
	  "      \"allow\": [\n        \"github.com\",\n"
	  "        \"*.example.com:443\",\n        \"bad..host\"\n"
	  "      ]\n    }\n  }\n}\n",
	  "t.json:8:9: /rules/net/allow/2: bad host name \"bad..host\"" },
	{ "bad port",
	  "{\"version\": 1, \"rules\": {\"net\": {\"allow\": [\"a.com:0\"]}}}",
	  "t.json:1:44: /rules/net/allow/0: bad port \"0\"" },
	{ "empty value",
	  "{\"version\": 1, \"rules\": {\"net\": {\"allow\": [\"\"]}}}",
	  "t.json:1:44: /rules/net/allow/0: empty value" },
	{ "bad variable name",
	  "{\"version\": 1, \"rules\": {\"env\": {\"deny\": [\"BAD-NAME\"]}}}",
	  "t.json:1:43: /rules/env/deny/0: bad variable name \"BAD-NAME\" "
	  "(letters, digits, '_', and an optional trailing '*')" },
	{ "bad system API",
	  "{\"version\": 1, \"rules\": {\"sys\": {\"allow\": [\"kernel\"]}}}",
	  "t.json:1:44: /rules/sys/allow/0: unknown system API \"kernel\"" },
	{ "bad size, after good members",
	  "{\"version\": 1, \"mode\": \"monitor\",\n"
	  " \"rules\": {\"net\": {\"allow\": [\"a.com\"]}},\n"
	  " \"resources\": {\"memory\": \"10xb\"}}",
	  "t.json:3:16: /resources/memory: bad size \"10xb\": unknown unit "
	  "(use b, k, kb, m, mb, g or gb)" },
	{ "bad duration",
	  "{\"version\": 1, \"resources\": {\"timeout\": \"30x\"}}",
	  "t.json:1:30: /resources/timeout: bad duration \"30x\": unknown "
	  "unit (use ms, s, m or h)" },
	{ "negative",
	  "{\"version\": 1, \"resources\": {\"pids\": -1}}",
	  "t.json:1:30: /resources/pids: -1 is out of range (0-4194304)" },
	{ "too large",
	  "{\"version\": 1, \"resources\": {\"cpu\": 100001}}",
	  "t.json:1:30: /resources/cpu: 100001 is out of range (0-100000)" },
	{ "version 2",
	  "{\"version\": 2, \"mode\": \"strict\"}",
	  "t.json:1:2: /version: unsupported version 2 (this podrunner "
	  "reads version 1)" },
	{ "version a string",
	  "{\"version\": \"1\"}",
	  "t.json:1:2: /version: expected an integer, got a string" },
	{ "mode loud",
	  "{\"version\": 1, \"mode\": \"loud\"}",
	  "t.json:1:16: /mode: unknown mode \"loud\" (strict or monitor)" },
	{ "bad default",
	  "{\"version\": 1, \"defaults\": {\"net\": \"block\"}}",
	  "t.json:1:29: /defaults/net: unknown action \"block\" (allow, deny "
	  "or warn)" },
	{ "fs against read",
	  "{\"version\": 1, \"defaults\": {\"fs\": \"deny\", \"read\": "
	  "\"allow\"}}",
	  "t.json:1:43: /defaults/read: conflicts with /defaults/fs (the read "
	  "default would be both deny and allow)" },
	{ "net mode against the net default",
	  "{\"version\": 1, \"defaults\": {\"net\": \"deny\"}, \"rules\": "
	  "{\"net\": {\"mode\": \"deny\"}}}",
	  "t.json:1:63: /rules/net/mode: conflicts with /defaults/net (the "
	  "net default would be both deny and allow)" },
	{ "bad fs mode",
	  "{\"version\": 1, \"rules\": {\"fs\": {\"mode\": \"append\"}}}",
	  "t.json:1:33: /rules/fs/mode: unknown fs mode \"append\" (read, "
	  "write or readwrite)" },
	{ "relative path",
	  "{\"version\": 1, \"rules\": {\"read\": {\"allow\": [\"/tmp\", "
	  "\"data\"]}}}",
	  "t.json:1:53: /rules/read/allow/1: path must be absolute: \"data\"" },
	{ "relative command path",
	  "{\"version\": 1, \"rules\": {\"run\": {\"allow\": [\"python3\", "
	  "\"./bin/x\"]}}}",
	  "t.json:1:55: /rules/run/allow/1: path must be absolute: "
	  "\"./bin/x\"" },
	{ "bad audit event",
	  "{\"version\": 1, \"audit\": {\"events\": [\"openat\", \"OpenAt\"]}}",
	  "t.json:1:47: /audit/events/1: bad system call name \"OpenAt\" (a "
	  "lowercase identifier)" },
	{ "repeated audit event",
	  "{\"version\": 1, \"audit\": {\"events\": [\"openat\", \"openat\"]}}",
	  "t.json:1:47: /audit/events/1: \"openat\" is already listed" },
	{ "required audit disabled",
	  "{\"version\": 1, \"audit\": {\"required\": true, \"enabled\": "
	  "false}}",
	  "t.json:1:16: /audit: audit is required but not enabled" },
	{ "syntax error",
	  "{\"version\": 1,\n \"mode\": strict}",
	  "t.json:2:15: invalid token near 'strict'" },
	{ "duplicate key",
	  "{\"version\": 1, \"mode\": \"strict\", \"mode\": \"monitor\"}",
	  "t.json:1:39: duplicate object key near '\"mode\"'" },
	{ "empty document", "",
	  "t.json:1:0: '[' or '{' expected near end of file" },
	{ "two documents",
	  "{\"version\": 1}\n{\"version\": 1}",
	  "t.json:2:1: end of file expected near '{'" },
	{ "non-object", "  [1, 2]",
	  "t.json:1:3: the document must be a JSON object" },
	{ "neither shape", "{\"plugins\": {}}",
	  "t.json:1:1: not a policy document: a version 1 policy has "
	  "\"version\": 1, a SandboxConfig has \"security\", \"network\" or "
	  "\"filesystem\"" },
	{ "empty object", "\n\n   {}",
	  "t.json:3:4: not a policy document: a version 1 policy has "
	  "\"version\": 1, a SandboxConfig has \"security\", \"network\" or "
	  "\"filesystem\"" },
	/* Columns count characters; keys are shown as JSON pointers. */
	{ "column after multibyte characters",
	  "{\"$schema\": \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\", "
	  "\"version\": 1, \"bogus\": 0}",
	  "t.json:1:34: /bogus: unknown key (a version 1 document has "
	  "version, $schema, mode, plugins, defaults, rules, resources and "
	  "audit)" },
	{ "pointer escapes",
	  "{\"version\": 1, \"a\\/b~\": 0}",
	  "t.json:1:16: /a~1b~0: unknown key (a version 1 document has "
	  "version, $schema, mode, plugins, defaults, rules, resources and "
	  "audit)" },
	{ "escaped key",
	  "{\"version\": 1, \"rules\": {\"n\\u0065t\": {\"x\": 1}}}",
	  "t.json:1:39: /rules/net/x: unknown key (expected allow, deny, "
	  "warn, mode or rate_limit)" },
	{ "control character in a key",
	  "{\"version\": 1, \"k\\u0001\": 0}",
	  "t.json:1:16: /k\\u0001: unknown key (a version 1 document has "
	  "version, $schema, mode, plugins, defaults, rules, resources and "
	  "audit)" },
	/* The SandboxConfig shape. */
	{ "SandboxConfig: bad host",
	  "{\"security\": {\"mode\": \"strict\"}, \"network\": {\"allow_list\":"
	  " [\"ok.com\", \"bad..host\"]}}",
	  "t.json:1:71: /network/allow_list/1: bad host name \"bad..host\"" },
	{ "SandboxConfig: bad host in a list that is off",
	  "{\"network\": {\"policy\": \"deny_all\", \"allow_list\": "
	  "[\"bad..host\"]}}",
	  "t.json:1:51: /network/allow_list/0: bad host name \"bad..host\"" },
	{ "SandboxConfig: unknown key",
	  "{\"filesystem\": {\"allow_write\": false, \"allow_read\": true}}",
	  "t.json:1:39: /filesystem/allow_read: unknown key (expected "
	  "allow_write)" },
	{ "SandboxConfig: unknown top-level key",
	  "{\"security\": {}, \"audit\": {}}",
	  "t.json:1:18: /audit: unknown key (a SandboxConfig has security, "
	  "network, filesystem and resources; a version 1 document needs "
	  "\"version\": 1)" },
	{ "SandboxConfig: wrong type",
	  "{\"resources\": {\"memory_limit\": \"64mb\"}, \"network\": {}}",
	  "t.json:1:16: /resources/memory_limit: expected an integer, got a "
	  "string" },
	{ "SandboxConfig: bad policy",
	  "{\"network\": {\"policy\": \"some\"}}",
	  "t.json:1:14: /network/policy: unknown network policy \"some\" "
	  "(allow_list or deny_all)" },
	{ "SandboxConfig: bad mode",
	  "{\"security\": {\"mode\": \"loud\"}}",
	  "t.json:1:15: /security/mode: unknown mode \"loud\" (strict or "
	  "monitor)" },
};

static void
test_errors(void **state)
{
	struct policy	*p;
	char		 err[1024];
	size_t		 i;

	(void)state;
	for (i = 0; i < NITEMS(bad_docs); i++) {
		p = policy_new();
		err[0] = '\0';
		if (policy_load(p, "t.json", bad_docs[i].doc,
		    strlen(bad_docs[i].doc), err, sizeof(err)) != -1)
			fail_msg("%s: loaded", bad_docs[i].what);
		if (strcmp(err, bad_docs[i].err) != 0)
			fail_msg("%s:\n  got  %s\n  want %s", bad_docs[i].what,
			    err, bad_docs[i].err);
		assert_int_equal(p->nrules, 0);
		policy_free(p);
	}
}

/* Bounds that keep a large document cheap to check. */
static void
test_limits(void **state)
{
	struct policy	*p = policy_new();
	char		*doc, err[1024];
	size_t		 i, o, n = 1025;

	(void)state;
	doc = malloc(64 + n * 10);
	assert_non_null(doc);
	o = (size_t)sprintf(doc, "{\"version\": 1, \"audit\": {\"events\": [");
	for (i = 0; i < n; i++)
		o += (size_t)sprintf(doc + o, "%s\"a%zu\"", i ? "," : "", i);
	(void)sprintf(doc + o, "]}}");
	assert_int_equal(policy_load(p, "t.json", doc, strlen(doc), err,
	    sizeof(err)), -1);
	assert_string_equal(err, "t.json:1:26: /audit/events: too many "
	    "events (at most 1024)");
	assert_int_equal(p->audit.nevents, 3);
	free(doc);
	policy_free(p);
}

/* A failed load leaves the policy exactly as it was. */
static void
test_not_half_applied(void **state)
{
	struct policy	*p;
	char		 err[1024], *before, *after;
	size_t		 i;

	(void)state;
	p = load_ok(NULL, "lambda.json", seeds_lambda);
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_FLAG, "github.com",
	    "--allow-net");
	add_ok(p, PERM_ENV, PERM_DENY, LAYER_ENV, NULL, "POD_DENY_ENV");
	p->res.pids = 7;
	before = snapshot(p);
	for (i = 0; i < NITEMS(bad_docs); i++) {
		assert_int_equal(policy_load(p, "t.json", bad_docs[i].doc,
		    strlen(bad_docs[i].doc), err, sizeof(err)), -1);
		after = snapshot(p);
		if (strcmp(before, after) != 0)
			fail_msg("%s: the policy changed:\n%s\n---\n%s",
			    bad_docs[i].what, before, after);
		free(after);
	}
	free(before);
	policy_free(p);
}

static void
test_compiled(void **state)
{
	struct policy	*p;
	char		 err[512];

	(void)state;
	p = load_ok(NULL, "lambda.json", seeds_lambda);
	assert_int_equal(policy_compile(p, err, sizeof(err)), 0);
	assert_int_equal(policy_load(p, "x.json", seeds_lambda,
	    strlen(seeds_lambda), err, sizeof(err)), -1);
	assert_string_equal(err, "x.json: the policy is compiled; no "
	    "document may be loaded");
	assert_int_equal(policy_add_rule(p, PERM_NET, PERM_ALLOW, LAYER_FLAG,
	    NULL, NULL, err, sizeof(err)), -1);
	assert_int_equal(p->nrules, 2);
	policy_free(p);	/* frees the matchers */
}

/* ---- back to a document --------------------------------------------- */

/* p -> document -> p2: the same rules, settings and document. */
static struct policy *
round_trip(const struct policy *p, int defaults)
{
	struct policy	*p2;
	char		*s1, *s2, err[1024];

	s1 = dump(p, 0);
	p2 = policy_new();
	if (policy_load(p2, "rt.json", s1, strlen(s1), err, sizeof(err)) ==
	    -1)
		fail_msg("round trip: %s\n%s", err, s1);
	s2 = dump(p2, 0);
	assert_string_equal(s1, s2);
	settings_equal(p, p2, defaults);
	free(s1);
	free(s2);
	return p2;
}

static void
test_round_trip_documents(void **state)
{
	const char	*docs[] = { seeds_lambda, seeds_sandboxconfig, rich_v1 };
	struct policy	*p, *p2;
	char		*a, *b;
	size_t		 i;

	(void)state;
	for (i = 0; i < NITEMS(docs); i++) {
		p = load_ok(NULL, "d.json", docs[i]);
		p2 = round_trip(p, 1);
		a = rule_set(p);
		b = rule_set(p2);
		assert_string_equal(a, b);
		free(a);
		free(b);
		policy_free(p);
		policy_free(p2);
	}
}

/*
 * init-policy: the flag and POD_* layers become a document.  A layer
 * that names the whole kind is the kind's default, and hides the
 * lower layers' rules of the kind; the runtime's rules stay out.  The
 * document decides as the layers did, for every target that the
 * runtime layer does not name.
 */
static void
test_round_trip_flags(void **state)
{
	static const struct {
		unsigned int	 kind;
		const char	*target;
	} asks[] = {
		{ PERM_NET, "github.com:443" }, { PERM_NET, "evil.com:80" },
		{ PERM_NET, "other.org:443" }, { PERM_READ, "/data/x" },
		{ PERM_READ, "/etc/passwd" }, { PERM_WRITE, "/etc/x" },
		{ PERM_WRITE, "/tmp/y" }, { PERM_ENV, "HOME" },
		{ PERM_ENV, "PATH" }, { PERM_ENV, "AWS_SECRET" },
		{ PERM_RUN, "python3" }, { PERM_SYS, "uid" },
		{ PERM_FFI, "/opt/x.so" },
	};
	struct policy	*p, *p2;
	struct decision	 d1, d2;
	json_t		*j, *rules;
	char		 err[512];
	size_t		 i;

	(void)state;
	p = load_ok(NULL, "p.json", "{\"version\": 1, \"defaults\": {\"net\": "
	    "\"allow\"}, \"rules\": {\"net\": {\"deny\": [\"evil.com\"]}, "
	    "\"env\": {\"allow\": [\"PATH\"]}}}");
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_FLAG, "github.com",
	    "--allow-net");
	add_ok(p, PERM_WRITE, PERM_DENY, LAYER_FLAG, "/etc", "--deny-write");
	add_ok(p, PERM_ENV, PERM_ALLOW, LAYER_FLAG, NULL, "--allow-env");
	add_ok(p, PERM_ENV, PERM_DENY, LAYER_FLAG, "AWS_SECRET", "--deny-env");
	add_ok(p, PERM_ENV, PERM_DENY, LAYER_ENV, "HOME", "POD_DENY_ENV");
	add_ok(p, PERM_READ, PERM_ALLOW, LAYER_ENV, "/data", "POD_ALLOW_READ");
	add_ok(p, PERM_SYS, PERM_ALLOW, LAYER_FLAG, NULL, "--allow-sys");
	add_ok(p, PERM_SYS, PERM_DENY, LAYER_FLAG, NULL, "--deny-sys");
	add_ok(p, PERM_RUN, PERM_WARN, LAYER_ENV, NULL, "POD_WARN_RUN");
	add_ok(p, PERM_FFI, PERM_ALLOW, LAYER_RUNTIME, "/usr/lib",
	    "runtime");

	assert_non_null(j = policy_to_json(p, 0));
	rules = json_object_get(j, "rules");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    j, "defaults"), "env")), "allow");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    j, "defaults"), "sys")), "deny");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    j, "defaults"), "run")), "warn");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    j, "defaults"), "net")), "allow");
	/* Hidden by --allow-env: the document's PATH, POD_DENY_ENV=HOME. */
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    rules, "env"), "allow")), 0);
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    rules, "env"), "deny")), 1);
	/* The runtime's rules are not the user's. */
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    rules, "ffi"), "allow")), 0);
	json_decref(j);

	p2 = round_trip(p, 0);
	assert_int_equal(p2->nrules, 5);
	assert_int_equal(count_rules(p2, PERM_NET, PERM_ALLOW, LAYER_POLICY,
	    "github.com"), 1);
	assert_int_equal(count_rules(p2, PERM_NET, PERM_DENY, LAYER_POLICY,
	    "evil.com"), 1);
	assert_int_equal(count_rules(p2, PERM_READ, PERM_ALLOW, LAYER_POLICY,
	    "/data"), 1);
	assert_int_equal(count_rules(p2, PERM_WRITE, PERM_DENY, LAYER_POLICY,
	    "/etc"), 1);
	assert_int_equal(count_rules(p2, PERM_ENV, PERM_DENY, LAYER_POLICY,
	    "AWS_SECRET"), 1);

	assert_int_equal(policy_compile(p, err, sizeof(err)), 0);
	assert_int_equal(policy_compile(p2, err, sizeof(err)), 0);
	for (i = 0; i < NITEMS(asks); i++) {
		policy_decide(p, asks[i].kind, asks[i].target, &d1);
		policy_decide(p2, asks[i].kind, asks[i].target, &d2);
		if (d1.verdict != d2.verdict)
			fail_msg("%s %s: %d before, %d after the round trip",
			    perm_kind_name(asks[i].kind), asks[i].target,
			    d1.verdict, d2.verdict);
	}
	policy_free(p);
	policy_free(p2);
}

static void
test_with_origin(void **state)
{
	struct policy	*p;
	json_t		*j, *net, *item, *read;

	(void)state;
	p = load_ok(NULL, "lambda.json", seeds_lambda);
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_FLAG, "github.com",
	    "--allow-net");
	add_ok(p, PERM_NET, PERM_DENY, LAYER_ENV, NULL, "POD_DENY_NET");
	add_ok(p, PERM_READ, PERM_ALLOW, LAYER_RUNTIME, "/usr/lib",
	    "runtime");
	assert_non_null(j = policy_to_json(p, 1));
	assert_string_equal(json_string_value(json_object_get(j, "document")),
	    "lambda.json");
	net = json_object_get(json_object_get(j, "rules"), "net");
	item = json_array_get(json_object_get(net, "allow"), 0);
	assert_string_equal(json_string_value(json_object_get(item, "value")),
	    "github.com");
	assert_string_equal(json_string_value(json_object_get(item, "layer")),
	    "flag");
	assert_string_equal(json_string_value(json_object_get(item, "origin")),
	    "--allow-net");
	/* Whole-kind rules are listed, as "*", with their layer. */
	item = json_array_get(json_object_get(net, "deny"), 0);
	assert_string_equal(json_string_value(json_object_get(item, "value")),
	    "*");
	assert_string_equal(json_string_value(json_object_get(item, "layer")),
	    "env");
	/* The runtime's rules too. */
	read = json_object_get(json_object_get(json_object_get(j, "rules"),
	    "read"), "allow");
	assert_int_equal(json_array_size(read), 3);
	item = json_array_get(read, 0);
	assert_string_equal(json_string_value(json_object_get(item, "origin")),
	    "lambda.json:15:17");
	item = json_array_get(read, 2);
	assert_string_equal(json_string_value(json_object_get(item, "layer")),
	    "runtime");
	json_decref(j);
	policy_free(p);

	p = policy_new();
	assert_non_null(j = policy_to_json(p, 1));
	assert_true(json_is_null(json_object_get(j, "document")));
	json_decref(j);
	policy_free(p);
}

/* JSON carries only UTF-8: a flag's raw bytes make no document. */
static void
test_not_utf8(void **state)
{
	struct policy	*p = policy_new();

	(void)state;
	add_ok(p, PERM_READ, PERM_ALLOW, LAYER_FLAG, "/data/\xff", "--allow-read");
	assert_null(policy_to_json(p, 0));
	assert_null(policy_to_json(p, 1));
	policy_free(p);
}

static void
test_resources_format(void **state)
{
	struct policy	*p = policy_new(), *p2;
	json_t		*j, *res;

	(void)state;
	p->res.memory = 1536ULL * 1024;		/* 1.5 MiB */
	p->res.tmpfs = 1000;
	p->res.timeout_ms = 1500;
	p->res.cpu_pct = 25;
	assert_non_null(j = policy_to_json(p, 0));
	res = json_object_get(j, "resources");
	assert_string_equal(json_string_value(json_object_get(res, "memory")),
	    "1536kb");
	assert_string_equal(json_string_value(json_object_get(res, "tmpfs")),
	    "1000b");
	assert_string_equal(json_string_value(json_object_get(res, "timeout")),
	    "1500ms");
	assert_int_equal(json_integer_value(json_object_get(res, "cpu")), 25);
	assert_null(json_object_get(res, "pids"));	/* 0: left out */
	json_decref(j);
	p2 = round_trip(p, 1);
	policy_free(p2);
	p->res.timeout_ms = 7200000;
	p->res.memory = 2ULL << 30;
	assert_non_null(j = policy_to_json(p, 0));
	res = json_object_get(j, "resources");
	assert_string_equal(json_string_value(json_object_get(res, "memory")),
	    "2gb");
	assert_string_equal(json_string_value(json_object_get(res, "timeout")),
	    "2h");
	json_decref(j);
	policy_free(p);
}

/* ---- the shipped documents ------------------------------------------ */

static void
test_etc(void **state)
{
	struct policy	*p, *d;
	json_t		*j1, *j2;
	char		*text, err[1024];
	size_t		 len;
	int		 k;

	(void)state;
	/* lambda.json is the seeds' file, unchanged. */
	text = read_etc("lambda.json", &len);
	assert_int_equal(len, strlen(seeds_lambda));
	assert_memory_equal(text, seeds_lambda, len);
	p = policy_new();
	if (policy_load(p, "lambda.json", text, len, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	policy_free(p);
	free(text);

	/* default.json: what init-policy prints without flags. */
	text = read_etc("default.json", &len);
	p = policy_new();
	if (policy_load(p, "default.json", text, len, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	for (k = 0; k < PERM_MAX; k++) {
		assert_true(p->has_default[k]);
		assert_int_equal(p->defaults[k], PERM_DENY);
	}
	assert_int_equal(p->nrules, 0);
	assert_true(p->audit.enabled);
	assert_int_equal(p->audit.nevents, 3);
	d = policy_new();
	j1 = json_loadb(text, len, 0, NULL);
	j2 = policy_to_json(d, 0);
	assert_true(json_equal(j1, j2));
	json_decref(j1);
	json_decref(j2);
	policy_free(d);
	policy_free(p);
	free(text);

	text = read_etc("strict.json", &len);
	p = policy_new();
	if (policy_load(p, "strict.json", text, len, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(p->mode, MODE_STRICT);
	for (k = 0; k < PERM_MAX; k++)
		assert_int_equal(eff_default(p, k), PERM_DENY);
	assert_true(p->audit.enabled && p->audit.required);
	assert_int_equal(p->res.memory, 256 * MiB);
	assert_int_equal(p->res.pids, 64);
	assert_int_equal(p->res.timeout_ms, 60000);
	assert_int_equal(p->res.tmpfs, 64 * MiB);
	assert_int_equal(p->res.cpu_pct, 100);
	assert_int_equal(p->net_rate_limit, 5);
	policy_free(p);
	free(text);

	/* The schema is JSON. */
	text = read_etc("policy.schema.json", &len);
	assert_non_null(j1 = json_loadb(text, len, JSON_REJECT_DUPLICATES,
	    NULL));
	assert_string_equal(json_string_value(json_object_get(j1, "$schema")),
	    "https://json-schema.org/draft/2020-12/schema");
	json_decref(j1);
	free(text);
}

/* Every built-in range, its IPv6 forms, and addresses that are not. */
static void
test_builtin_denied(void **state)
{
	static const char *denied[] = {
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255",
		"100.64.0.1", "100.127.255.255", "127.0.0.1", "127.9.9.9",
		"169.254.169.254", "169.254.1.1", "169.254.1.2",
		"172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1",
		"192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.255",
		"198.51.100.7", "203.0.113.9", "224.0.0.1", "239.1.1.1",
		"240.0.0.1", "255.255.255.255",
		"::", "::1", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1",
		"fec0::1", "ff02::1", "2001:db8::1", "3fff::1", "100::1",
		"64:ff9b:1::1",
		/* IPv4 in IPv6 clothing */
		"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254",
		"::10.0.0.1", "::127.0.0.1", "64:ff9b::10.0.0.1",
		"64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe",
		"2002:0a00:0001::1", "2002:7f00:0001::", "2002:c0a8:0101::5",
		"2001:0:0a00:0001::1",	/* Teredo server 10.0.0.1 */
		"2001:0:0808:0808::f5ff:fffe",	/* Teredo client ~ = 10.0.0.1 */
	};
	static const char *allowed[] = {
		"1.1.1.1", "8.8.8.8", "93.184.216.34", "9.255.255.255",
		"11.0.0.0", "100.63.255.255", "100.128.0.0", "172.15.255.255",
		"172.32.0.0", "192.167.255.255", "192.169.0.0", "198.17.255.255",
		"198.20.0.0", "223.255.255.255", "169.253.255.255",
		"2606:4700::1111", "2a00:1450::1", "::ffff:8.8.8.8",
		"64:ff9b::808:808", "2002:0808:0808::1",
		"2001:0:0808:0808::f7f7:f7f7",	/* Teredo, 8.8.8.8 both */
	};
	struct in6_addr	 in;
	struct in_addr	 v4;
	char		 name[128];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		if (inet_pton(AF_INET, denied[i], &v4) == 1) {
			memset(&in, 0, sizeof(in));
			in.s6_addr[10] = in.s6_addr[11] = 0xff;
			memcpy(&in.s6_addr[12], &v4, 4);
		} else
			assert_int_equal(inet_pton(AF_INET6, denied[i], &in), 1);
		if (builtin_denied(&in, name, sizeof(name)) == NULL)
			fail_msg("%s: not denied", denied[i]);
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (inet_pton(AF_INET, allowed[i], &v4) == 1) {
			memset(&in, 0, sizeof(in));
			in.s6_addr[10] = in.s6_addr[11] = 0xff;
			memcpy(&in.s6_addr[12], &v4, 4);
		} else
			assert_int_equal(inet_pton(AF_INET6, allowed[i], &in),
			    1);
		if (builtin_denied(&in, name, sizeof(name)) != NULL)
			fail_msg("%s: denied as %s", allowed[i], name);
	}
}

/* The proxy's address question: rules by address, then the set. */
static void
test_decide_addr(void **state)
{
	struct policy	*p;
	struct decision	 d;
	char		 err[256], why[512];

	(void)state;
	p = policy_new();
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_FLAG, NULL, "--allow-net");
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_ENV, "10.1.2.3", "POD_ALLOW_NET");
	add_ok(p, PERM_NET, PERM_DENY, LAYER_POLICY, "93.184.0.0/16", "p.json");
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_POLICY, "192.168.0.0/16",
	    "p.json");
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_RUNTIME, "169.254.1.1:8080",
	    "runtime");
	assert_int_equal(policy_compile(p, err, sizeof(err)), 0);

	/* "*" (a higher layer) does not open a built-in range. */
	policy_decide_addr(p, "127.0.0.1:80", &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_null(d.rule);
	decision_describe_target(&d, PERM_NET, "127.0.0.1:80", why,
	    sizeof(why));
	assert_non_null(strstr(why, "built-in: deny loopback"));
	policy_decide_addr(p, "[::ffff:7f00:1]:80", &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	policy_decide_addr(p, "[fd00::1]:443", &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	/* Nor does the runtime layer's own address. */
	policy_decide_addr(p, "169.254.1.1:8080", &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	/* An address rule does, in the layer that names it... */
	policy_decide_addr(p, "10.1.2.3:22", &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_non_null(d.rule);
	assert_int_equal(d.layer, LAYER_ENV);
	policy_decide_addr(p, "10.1.2.4:22", &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	/* ...even below a "*", which does not speak for built-in
	 * ranges; for the others it does, over the document's deny. */
	policy_decide_addr(p, "192.168.1.1:80", &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_int_equal(d.layer, LAYER_POLICY);
	policy_decide_addr(p, "93.184.216.34:80", &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_null(d.rule);
	policy_decide_addr(p, "[2606:4700::1111]:443", &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	policy_decide_addr(p, "not-an-address:80", &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	policy_free(p);

	/* Without "*": the document's deny CIDR and allow CIDR decide. */
	p = policy_new();
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_FLAG, "example.com", "--allow-net");
	add_ok(p, PERM_NET, PERM_DENY, LAYER_POLICY, "93.184.0.0/16", "p.json");
	add_ok(p, PERM_NET, PERM_ALLOW, LAYER_POLICY, "192.168.0.0/16",
	    "p.json");
	assert_int_equal(policy_compile(p, err, sizeof(err)), 0);
	policy_decide_addr(p, "93.184.216.34:443", &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_non_null(d.rule);
	policy_decide_addr(p, "192.168.1.1:80", &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	policy_decide_addr(p, "8.8.8.8:53", &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	policy_free(p);

	/* Monitor mode: a built-in denial is let through, and says so. */
	p = load_ok(NULL, "m.json", "{\"version\": 1, \"mode\": \"monitor\"}");
	assert_int_equal(policy_compile(p, err, sizeof(err)), 0);
	policy_decide_addr(p, "10.0.0.1:80", &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_true(d.monitored);
	decision_describe_target(&d, PERM_NET, "10.0.0.1:80", why,
	    sizeof(why));
	assert_non_null(strstr(why, "monitor: would deny (built-in"));
	/* The host question in monitor mode says what it would do too. */
	policy_decide(p, PERM_NET, "example.com:80", &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	decision_describe_target(&d, PERM_NET, "example.com:80", why,
	    sizeof(why));
	assert_non_null(strstr(why, "monitor: would deny (default"));
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_add_rule),
		cmocka_unit_test(test_seeds_lambda),
		cmocka_unit_test(test_seeds_sandboxconfig),
		cmocka_unit_test(test_sandboxconfig_variants),
		cmocka_unit_test(test_v1_rich),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_not_half_applied),
		cmocka_unit_test(test_compiled),
		cmocka_unit_test(test_round_trip_documents),
		cmocka_unit_test(test_round_trip_flags),
		cmocka_unit_test(test_with_origin),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_resources_format),
		cmocka_unit_test(test_etc),
		cmocka_unit_test(test_builtin_denied),
		cmocka_unit_test(test_decide_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
