/*
 * Unit tests for the compiled matchers (policyd/match.c) and the
 * decision over the layers (policyd/decide.c).
 *
 * A matcher case is data: the rules of one kind in one layer, written
 * "+value" (allow), "-value" (deny), "~value" (warn), or the sign alone
 * for the whole kind; then targets, each with the rule that must match
 * it (same notation) or NULL for none.  Bad targets sit next to good
 * ones.  A precedence case is the rules of several layers, the policy's
 * mode and defaults, one target, and the verdict, layer, rule and words
 * that must come out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "util.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define MAXRULES	24
#define MAXCASES	48

/* decide.c: proposed for policy.h (the Deno-style hint needs the target). */


struct mcase {
	const char	*target;
	const char	*want;		/* "+value", "-"; NULL: none */
};

struct mtest {
	const char	*name;
	unsigned int	 kind;
	const char	*rules[MAXRULES];
	struct mcase	 cases[MAXCASES];
};

/* Rules from "+v", "-v", "~v" into r[], a matcher over them. */
static struct matcher *
build(unsigned int kind, const char *const *spec, struct prule *r,
    size_t *nr)
{
	struct matcher	*m;
	size_t		 i;

	m = matcher_new(kind);
	assert_non_null(m);
	for (i = 0; i < MAXRULES && spec[i] != NULL; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].kind = (uint8_t)kind;
		r[i].layer = LAYER_FLAG;
		r[i].action = spec[i][0] == '-' ? PERM_DENY :
		    spec[i][0] == '~' ? PERM_WARN : PERM_ALLOW;
		r[i].value = spec[i][1] != '\0' ? (char *)(uintptr_t)
		    (spec[i] + 1) : NULL;
		r[i].origin = (char *)(uintptr_t)"test";
		if (matcher_add(m, &r[i]) != 0)
			fail_msg("matcher_add(%s, \"%s\") failed",
			    perm_kind_name(kind), spec[i]);
	}
	*nr = i;
	assert_int_equal(matcher_compile(m), 0);
	return m;
}

static void
rule_spec(const struct prule *r, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%c%s", r->action == PERM_DENY ? '-' :
	    r->action == PERM_WARN ? '~' : '+',
	    r->value != NULL ? r->value : "");
}

static void
run_mtest(const struct mtest *t)
{
	struct prule		 r[MAXRULES];
	struct matcher		*m;
	const struct prule	*got;
	char			 spec[512];
	size_t			 i, nr;

	m = build(t->kind, t->rules, r, &nr);
	for (i = 0; i < MAXCASES && t->cases[i].target != NULL; i++) {
		got = matcher_match(m, t->cases[i].target);
		if (got == NULL && t->cases[i].want == NULL)
			continue;
		if (got == NULL)
			fail_msg("%s: \"%s\" matched nothing, want %s",
			    t->name, t->cases[i].target, t->cases[i].want);
		rule_spec(got, spec, sizeof(spec));
		if (t->cases[i].want == NULL)
			fail_msg("%s: \"%s\" matched %s, want nothing",
			    t->name, t->cases[i].target, spec);
		if (strcmp(spec, t->cases[i].want) != 0)
			fail_msg("%s: \"%s\" matched %s, want %s", t->name,
			    t->cases[i].target, spec, t->cases[i].want);
	}
	matcher_free(m);
}

/* --- paths ---------------------------------------------------------- */

static const struct mtest path_tests[] = {
	{ "component boundaries", PERM_READ,
	  { "+/data", "-/data/secret", "+/a/b", "~/var/log", NULL },
	  {
		{ "/data",		"+/data" },
		{ "/data/x/y",		"+/data" },
		{ "/data/",		"+/data" },
		{ "/database",		NULL },
		{ "/dat",		NULL },
		{ "/data/secret",	"-/data/secret" },
		{ "/data/secret/k",	"-/data/secret" },
		{ "/data/secretive",	"+/data" },
		{ "/a/b",		"+/a/b" },
		{ "/a/bc",		NULL },
		{ "/a",			NULL },
		{ "/var/log/syslog",	"~/var/log" },
		{ "/var",		NULL },
		{ "/",			NULL },
		/* Spellings that escape nothing. */
		{ "//data//secret/",	"-/data/secret" },
		{ "/data/./secret",	"-/data/secret" },
		{ "/data/secret/../x",	"+/data" },
		{ "/tmp/../data/secret", "-/data/secret" },
		{ "/data/x/../../data/secret/k", "-/data/secret" },
		{ "/../../data/secret",	"-/data/secret" },
		{ "/data/../etc",	NULL },
		{ "/x/y/../../data",	"+/data" },
		/* Not paths. */
		{ "",			NULL },
		{ "data/secret",	NULL },
		{ ".",			NULL },
		{ "..",			NULL },
		{ "\x01\xff/data",	NULL },
		{ NULL, NULL }
	  } },
	{ "a deny beats an allow at any depth", PERM_WRITE,
	  { "-/x", "+/x/y/z", "+/p", "+/p/q", "~/w/v", "+/w", NULL },
	  {
		{ "/x/y/z/w",		"-/x" },
		{ "/x/y/z",		"-/x" },
		{ "/x",			"-/x" },
		/* Equal strength: the more specific rule is reported. */
		{ "/p/q/r",		"+/p/q" },
		{ "/p/qq",		"+/p" },
		{ "/w/v/u",		"~/w/v" },
		{ "/w/u",		"+/w" },
		{ NULL, NULL }
	  } },
	{ "the root matches every absolute path", PERM_FFI,
	  { "+/", "-/etc", NULL },
	  {
		{ "/",			"+/" },
		{ "/usr/lib/libc.so.6",	"+/" },
		{ "/etc/passwd",	"-/etc" },
		{ "/etcetera",		"+/" },
		{ "relative",		NULL },
		{ "",			NULL },
		{ NULL, NULL }
	  } },
	{ "whole kind", PERM_READ,
	  { "+", "-/etc", NULL },
	  {
		{ "/etc/x",		"-/etc" },
		{ "/home",		"+" },
		{ "relative",		"+" },
		{ "",			"+" },
		{ NULL, NULL }
	  } },
	{ "whole-kind deny beats every allow", PERM_READ,
	  { "+/data", "-", NULL },
	  {
		{ "/data",		"-" },
		{ "/",			"-" },
		{ NULL, NULL }
	  } },
};

static void
test_paths(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < NITEMS(path_tests); i++)
		run_mtest(&path_tests[i]);
}

/* --- net ------------------------------------------------------------ */

static const struct mtest net_tests[] = {
	{ "names, wildcards, ports", PERM_NET,
	  { "+github.com", "-*.evil.com", "+*.example.com",
	    "+api.example.com:443", "-example.com:22", "+deep.a.b.c.d.e",
	    "+pad.example.org:0443", NULL },
	  {
		{ "github.com:443",	"+github.com" },
		{ "github.com",		"+github.com" },
		{ "GitHub.COM:443",	"+github.com" },
		{ "github.com.:443",	"+github.com" },
		{ "api.github.com:443",	NULL },
		{ "notgithub.com:443",	NULL },
		{ "com:443",		NULL },
		/* Deno: the wildcard does not match the apex. */
		{ "evil.com:443",	NULL },
		{ "a.evil.com:443",	"-*.evil.com" },
		{ "a.b.c.evil.com:80",	"-*.evil.com" },
		{ "xevil.com:443",	NULL },
		{ "evil.com.org:443",	NULL },
		{ "example.com:443",	NULL },
		{ "example.com:22",	"-example.com:22" },
		{ "example.com",	NULL },
		{ "www.example.com:80",	"+*.example.com" },
		{ "api.example.com:443", "+api.example.com:443" },
		{ "api.example.com:80",	"+*.example.com" },
		{ "deep.a.b.c.d.e:1",	"+deep.a.b.c.d.e" },
		{ "a.b.c.d.e:1",	NULL },
		{ "pad.example.org:443", "+pad.example.org:0443" },
		{ "pad.example.org:80",	NULL },
		/* A port that is not one is no port. */
		{ "github.com:abc",	"+github.com" },
		{ "github.com:99999",	"+github.com" },
		{ "github.com:",	"+github.com" },
		{ "",			NULL },
		{ ":",			NULL },
		{ ":443",		NULL },
		{ ".",			NULL },
		{ "..:443",		NULL },
		{ "github..com:443",	NULL },
		{ "[github.com]:443",	NULL },
		{ "*.evil.com:443",	"-*.evil.com" },
		{ NULL, NULL }
	  } },
	{ "addresses", PERM_NET,
	  { "+10.0.0.0/8", "-10.1.2.3", "+192.168.1.1:8080",
	    "+[2001:db8::/32]", "-[2001:db8::1]:443", "+fe80::/10",
	    "~172.16.0.0/12:53", NULL },
	  {
		{ "10.9.9.9:443",	"+10.0.0.0/8" },
		{ "10.1.2.3:443",	"-10.1.2.3" },
		{ "10.1.2.3",		"-10.1.2.3" },
		{ "10.1.2.4:443",	"+10.0.0.0/8" },
		{ "11.0.0.1:443",	NULL },
		{ "9.255.255.255:443",	NULL },
		{ "192.168.1.1:8080",	"+192.168.1.1:8080" },
		{ "192.168.1.1:80",	NULL },
		{ "192.168.1.1",	NULL },
		{ "172.31.255.255:53",	"~172.16.0.0/12:53" },
		{ "172.32.0.0:53",	NULL },
		{ "172.16.0.1:54",	NULL },
		/* IPv4-mapped IPv6 is IPv4. */
		{ "[::ffff:10.1.2.3]:443", "-10.1.2.3" },
		{ "[::ffff:10.5.5.5]:443", "+10.0.0.0/8" },
		{ "::ffff:10.5.5.5",	"+10.0.0.0/8" },
		{ "[::ffff:a05:505]:1",	"+10.0.0.0/8" },
		{ "[::10.5.5.5]:1",	NULL },
		{ "[2001:db8::5]:443",	"+[2001:db8::/32]" },
		{ "[2001:db8::1]:443",	"-[2001:db8::1]:443" },
		{ "[2001:db8::1]:80",	"+[2001:db8::/32]" },
		{ "[2001:DB8::7]:443",	"+[2001:db8::/32]" },
		{ "2001:db8::7",	"+[2001:db8::/32]" },
		{ "[2001:db9::1]:443",	NULL },
		{ "[fe80::1]:22",	"+fe80::/10" },
		{ "[febf::1]:22",	"+fe80::/10" },
		{ "[fec0::1]:22",	NULL },
		/* Junk. */
		{ "[",			NULL },
		{ "[]:443",		NULL },
		{ "[::1",		NULL },
		{ "[2001:db8::1]x",	"+[2001:db8::/32]" },
		{ "[2001:db8::1%eth0]:1", NULL },
		{ "[2001:db8::/32]:1",	NULL },
		{ "10.0.0.0/8:443",	NULL },
		{ "10.1.2.3.4:443",	NULL },
		{ "999.1.2.3:443",	NULL },
		{ "010.1.2.3:443",	NULL },
		{ "10.1.2:443",		NULL },
		{ ":::::",		NULL },
		{ NULL, NULL }
	  } },
	{ "CIDR edges", PERM_NET,
	  { "+0.0.0.0/0", "-1.2.3.4/32", "+[2001:db8::1/128]",
	    "+10.0.0.0/31", "+10.1.2.3/8", "+[2001:db8:1::/127]", NULL },
	  {
		{ "1.2.3.5:1",		"+0.0.0.0/0" },
		{ "255.255.255.255:1",	"+0.0.0.0/0" },
		{ "1.2.3.4:1",		"-1.2.3.4/32" },
		{ "[::ffff:1.2.3.4]:1",	"-1.2.3.4/32" },
		{ "[::ffff:8.8.8.8]:1",	"+0.0.0.0/0" },
		/* IPv4's /0 is not IPv6. */
		{ "[2001:db9::1]:1",	NULL },
		{ "[2001:db8::1]:1",	"+[2001:db8::1/128]" },
		{ "[2001:db8::2]:1",	NULL },
		{ "[2001:db8:1::1]:1",	"+[2001:db8:1::/127]" },
		{ "[2001:db8:1::2]:1",	NULL },
		/* Host bits in a rule are masked (10.1.2.3/8 is 10/8). */
		{ "10.200.0.1:1",	"+10.1.2.3/8" },
		{ "10.0.0.1:1",		"+10.0.0.0/31" },
		{ NULL, NULL }
	  } },
	{ "IPv6 /0 covers mapped IPv4", PERM_NET,
	  { "-[::/0]", "+github.com", NULL },
	  {
		{ "[::1]:1",		"-[::/0]" },
		{ "1.2.3.4:80",		"-[::/0]" },
		{ "github.com:443",	"+github.com" },
		{ NULL, NULL }
	  } },
	{ "every host", PERM_NET,
	  { "+*", "-evil.com", NULL },
	  {
		{ "anything:1",		"+*" },
		{ "1.2.3.4:1",		"+*" },
		{ "[::1]:1",		"+*" },
		{ "evil.com:1",		"-evil.com" },
		{ "",			"+*" },
		{ NULL, NULL }
	  } },
};

static void
test_net(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < NITEMS(net_tests); i++)
		run_mtest(&net_tests[i]);
}

/* --- env, run, sys -------------------------------------------------- */

static const struct mtest name_tests[] = {
	{ "env names and patterns", PERM_ENV,
	  { "+HOME", "+AWS_*", "-AWS_SECRET*", "+A*", "~LANG", "-PATH",
	    NULL },
	  {
		{ "HOME",		"+HOME" },
		{ "HOMEX",		NULL },
		{ "HOM",		NULL },
		{ "AWS_REGION",		"+AWS_*" },
		{ "AWS_SECRET_KEY",	"-AWS_SECRET*" },
		{ "AWS_SECRET",		"-AWS_SECRET*" },
		{ "AWS_SECRE",		"+AWS_*" },
		{ "AWS_",		"+AWS_*" },
		{ "AWS",		"+A*" },
		{ "A",			"+A*" },
		{ "AB",			"+A*" },
		{ "B",			NULL },
		{ "LANG",		"~LANG" },
		{ "LANGUAGE",		NULL },
		{ "PATH",		"-PATH" },
		{ "path",		NULL },
		{ "",			NULL },
		{ "*",			NULL },
		{ "\xff\x01",		NULL },
		{ NULL, NULL }
	  } },
	{ "env pattern chains", PERM_ENV,
	  { "+AB*", "+ABD*", "+ABDE*", "+ABDEF*", "-X*", "+XY*", "+AB*",
	    NULL },
	  {
		{ "ABC",		"+AB*" },
		{ "ABE",		"+AB*" },
		{ "ABDX",		"+ABD*" },
		{ "ABDEX",		"+ABDE*" },
		{ "ABDEFG",		"+ABDEF*" },
		{ "ABDF",		"+ABD*" },
		{ "AB",			"+AB*" },
		{ "A",			NULL },
		{ "ABZZZZ",		"+AB*" },
		{ "XYZ",		"-X*" },
		{ "X",			"-X*" },
		{ "Y",			NULL },
		{ "~",			NULL },
		{ NULL, NULL }
	  } },
	{ "env all", PERM_ENV,
	  { "+*", "-SECRET", NULL },
	  {
		{ "ANY",		"+*" },
		{ "SECRET",		"-SECRET" },
		{ "SECRETS",		"+*" },
		{ NULL, NULL }
	  } },
	{ "run names and paths", PERM_RUN,
	  { "+python3", "-/usr/bin/curl", "+/opt/tool/bin/run", "-rm",
	    NULL },
	  {
		{ "python3",		"+python3" },
		{ "/usr/bin/python3",	"+python3" },
		{ "/usr/local/bin/python3", "+python3" },
		{ "bin/python3",	"+python3" },
		{ "python3.11",		NULL },
		{ "/usr/bin/python3.11", NULL },
		{ "/usr/bin/python3/x",	NULL },
		{ "curl",		NULL },
		{ "/usr/bin/curl",	"-/usr/bin/curl" },
		{ "/usr/local/bin/curl", NULL },
		{ "/usr/bin/../bin/curl", "-/usr/bin/curl" },
		{ "//usr/bin/./curl",	"-/usr/bin/curl" },
		{ "/opt/tool/bin/run",	"+/opt/tool/bin/run" },
		{ "run",		NULL },
		{ "/usr/bin/run",	NULL },
		{ "rm",			"-rm" },
		{ "/bin/rm",		"-rm" },
		{ "./rm",		"-rm" },
		{ "",			NULL },
		{ "/",			NULL },
		{ "//",			NULL },
		{ NULL, NULL }
	  } },
	{ "sys names", PERM_SYS,
	  { "+hostname", "-uid", "~osRelease", NULL },
	  {
		{ "hostname",		"+hostname" },
		{ "uid",		"-uid" },
		{ "osRelease",		"~osRelease" },
		{ "HOSTNAME",		NULL },
		{ "hostnam",		NULL },
		{ "gid",		NULL },
		{ "",			NULL },
		{ NULL, NULL }
	  } },
};

static void
test_names(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < NITEMS(name_tests); i++)
		run_mtest(&name_tests[i]);
}

/* --- bad rules and misuse ------------------------------------------- */

struct badrule {
	unsigned int	 kind;
	const char	*value;
};

static const struct badrule bad_rules[] = {
	{ PERM_READ,	"relative" },
	{ PERM_READ,	"/a/../b" },
	{ PERM_READ,	"/a/./b" },
	{ PERM_READ,	"" },
	{ PERM_NET,	"[::1" },
	{ PERM_NET,	"[::1]x" },
	{ PERM_NET,	"[::1]:0" },
	{ PERM_NET,	"10.0.0.0/33" },
	{ PERM_NET,	"10.0.0.0/" },
	{ PERM_NET,	"10.0.0.0/8x" },
	{ PERM_NET,	"[2001:db8::/129]" },
	{ PERM_NET,	"2001:db8::/1280" },
	{ PERM_NET,	"github.com:0" },
	{ PERM_NET,	"github.com:70000" },
	{ PERM_NET,	"github.com:" },
	{ PERM_NET,	"github.com:+80" },
	{ PERM_NET,	"a..b" },
	{ PERM_NET,	".a" },
	{ PERM_NET,	"*." },
	{ PERM_NET,	"*.a*" },
	{ PERM_NET,	"1.2.3" },
	{ PERM_NET,	"256.1.1.1" },
	{ PERM_NET,	"zz::1" },
	{ PERM_ENV,	"A*B" },
	{ PERM_ENV,	"A**" },
	{ PERM_RUN,	"bin/tool" },
};

static void
test_bad_rules(void **state)
{
	struct prule	 r;
	struct matcher	*m;
	size_t		 i;

	(void)state;
	for (i = 0; i < NITEMS(bad_rules); i++) {
		m = matcher_new(bad_rules[i].kind);
		memset(&r, 0, sizeof(r));
		r.kind = (uint8_t)bad_rules[i].kind;
		r.value = (char *)(uintptr_t)bad_rules[i].value;
		if (matcher_add(m, &r) != -1)
			fail_msg("%s rule \"%s\" accepted",
			    perm_kind_name(bad_rules[i].kind),
			    bad_rules[i].value);
		matcher_free(m);
	}

	/* A rule of another kind, an unknown action, after compiling. */
	m = matcher_new(PERM_NET);
	memset(&r, 0, sizeof(r));
	r.kind = PERM_READ;
	r.value = (char *)(uintptr_t)"/x";
	assert_int_equal(matcher_add(m, &r), -1);
	r.kind = PERM_NET;
	r.value = (char *)(uintptr_t)"github.com";
	r.action = 7;
	assert_int_equal(matcher_add(m, &r), -1);
	r.action = PERM_ALLOW;
	assert_int_equal(matcher_add(m, &r), 0);
	assert_int_equal(matcher_compile(m), 0);
	assert_int_equal(matcher_compile(m), 0);
	assert_int_equal(matcher_add(m, &r), -1);
	assert_ptr_equal(matcher_match(m, "github.com:1"), &r);
	assert_null(matcher_match(m, NULL));
	matcher_free(m);

	assert_null(matcher_new(PERM_MAX));
	assert_null(matcher_match(NULL, "x"));
	assert_int_equal(matcher_add(NULL, &r), -1);
	matcher_free(NULL);
}

/* Long and random targets: no crash, no over-read (run under ASan). */
static void
test_junk_targets(void **state)
{
	static const char *const rules[PERM_MAX][MAXRULES] = {
		[PERM_NET] = { "+github.com", "-*.evil.com", "+10.0.0.0/8",
		    "+[2001:db8::/32]:443", NULL },
		[PERM_READ] = { "+/data", "-/data/x", "+/", NULL },
		[PERM_WRITE] = { "+/tmp", NULL },
		[PERM_ENV] = { "+HOME", "+AWS_*", "-AWS_S*", NULL },
		[PERM_RUN] = { "+python3", "-/bin/sh", NULL },
		[PERM_FFI] = { "-/usr/lib", NULL },
		[PERM_SYS] = { "+hostname", NULL },
	};
	struct prule	 r[MAXRULES];
	struct matcher	*m;
	const struct prule *got;
	char		*big;
	size_t		 i, j, n, nr, len = 100000;
	unsigned int	 k, seed = 12345;
	char		 buf[64];

	(void)state;
	big = xmalloc(len + 1);
	for (k = 0; k < PERM_MAX; k++) {
		m = build(k, rules[k], r, &nr);
		/* Very long: components, labels, dots, "..", brackets. */
		for (i = 0; i < len; i++)
			big[i] = "/data/x/"[i % 8];
		big[len] = '\0';
		got = matcher_match(m, big);
		if (k == PERM_READ)
			assert_true(got != NULL && got->action == PERM_DENY);
		for (i = 0; i < len; i++)
			big[i] = "/.."[i % 3];
		(void)matcher_match(m, big);
		for (i = 0; i < len; i++)
			big[i] = "a.evil.com"[i % 10];
		(void)matcher_match(m, big);
		memset(big, '.', len);
		(void)matcher_match(m, big);
		memset(big, ':', len);
		(void)matcher_match(m, big);
		big[0] = '[';
		(void)matcher_match(m, big);
		memset(big, 'A', len);
		(void)matcher_match(m, big);
		/* Random bytes, short. */
		for (j = 0; j < 20000; j++) {
			seed = seed * 1103515245U + 12345U;
			n = (seed >> 16) % (sizeof(buf) - 1);
			for (i = 0; i < n; i++) {
				seed = seed * 1103515245U + 12345U;
				buf[i] = "/.:[]a*0123456789fAe-_%\xff"[(seed >>
				    16) % 25];
			}
			buf[n] = '\0';
			(void)matcher_match(m, buf);
		}
		matcher_free(m);
	}
	free(big);
}

/* --- precedence: policy_decide over the layers ------------------------ */

struct prec_rule {
	unsigned int	 layer;
	unsigned int	 kind;
	unsigned int	 action;
	const char	*value;		/* NULL: the whole kind */
	const char	*origin;
};

struct prec {
	const char	*name;
	int		 mode;
	int		 has_default;	/* for kind */
	unsigned int	 dflt;		/* PERM_* */
	struct prec_rule rules[8];
	unsigned int	 kind;
	const char	*target;
	uint8_t		 verdict;
	uint8_t		 layer;
	int		 monitored;
	const char	*rule;		/* value of the deciding rule,
					 * "" the whole kind, NULL a
					 * default */
	const char	*words;		/* "@": the deciding layer */
};

#define R(l, k, a, v, o)	{ LAYER_##l, PERM_##k, PERM_##a, v, o }
#define END			{ 0, 0, 0, NULL, NULL }

static const struct prec precs[] = {
	{ "the seeds' case: the document allows, the flag denies",
	  MODE_STRICT, 0, 0,
	  { R(POLICY, NET, ALLOW, "github.com", "p.json:3:5"),
	    R(FLAG, NET, DENY, "github.com", "--deny-net"), END },
	  PERM_NET, "github.com:443", VERDICT_DENY, LAYER_FLAG, 0,
	  "github.com", "@ --deny-net=github.com" },
	{ "a lower layer's deny overridden by a higher allow",
	  MODE_STRICT, 0, 0,
	  { R(POLICY, NET, DENY, "*.example.com", "p.json:7:9"),
	    R(ENV, NET, ALLOW, "api.example.com", "POD_ALLOW_NET"), END },
	  PERM_NET, "api.example.com:443", VERDICT_ALLOW, LAYER_ENV, 0,
	  "api.example.com", "@ POD_ALLOW_NET=api.example.com" },
	{ "... only for what the higher layer names",
	  MODE_STRICT, 0, 0,
	  { R(POLICY, NET, DENY, "*.example.com", "p.json:7:9"),
	    R(ENV, NET, ALLOW, "api.example.com", "POD_ALLOW_NET"), END },
	  PERM_NET, "www.example.com:443", VERDICT_DENY, LAYER_POLICY, 0,
	  "*.example.com", "@ p.json:7:9 deny-net=*.example.com" },
	{ "deny beats allow in one layer",
	  MODE_STRICT, 0, 0,
	  { R(FLAG, READ, ALLOW, "/data", "--allow-read"),
	    R(FLAG, READ, DENY, "/data/secret", "--deny-read"), END },
	  PERM_READ, "/data/secret/key", VERDICT_DENY, LAYER_FLAG, 0,
	  "/data/secret", "@ --deny-read=/data/secret" },
	{ "deny beats allow in one layer, whatever the depth",
	  MODE_STRICT, 0, 0,
	  { R(POLICY, WRITE, DENY, "/data", "p.json:2:1"),
	    R(POLICY, WRITE, ALLOW, "/data/public", "p.json:3:1"), END },
	  PERM_WRITE, "/data/public/x", VERDICT_DENY, LAYER_POLICY, 0,
	  "/data", "@ p.json:2:1 deny-write=/data" },
	{ "a whole-kind flag overrides the document",
	  MODE_STRICT, 0, 0,
	  { R(POLICY, NET, DENY, "evil.com", "p.json:3:5"),
	    R(FLAG, NET, ALLOW, NULL, "--allow-net"), END },
	  PERM_NET, "evil.com:443", VERDICT_ALLOW, LAYER_FLAG, 0,
	  "", "@ --allow-net" },
	{ "a whole-kind deny in the variables",
	  MODE_STRICT, 0, 0,
	  { R(POLICY, ENV, ALLOW, "HOME", "p.json:9:3"),
	    R(ENV, ENV, DENY, NULL, "POD_DENY_ENV"), END },
	  PERM_ENV, "HOME", VERDICT_DENY, LAYER_ENV, 0,
	  "", "@ POD_DENY_ENV" },
	{ "allowing one host does not hide the lower layer's others",
	  MODE_STRICT, 0, 0,
	  { R(FLAG, NET, ALLOW, "github.com", "--allow-net"),
	    R(POLICY, NET, DENY, "evil.com", "p.json:4:2"),
	    R(POLICY, NET, ALLOW, "*", "p.json:4:9"), END },
	  PERM_NET, "evil.com:80", VERDICT_DENY, LAYER_POLICY, 0,
	  "evil.com", "@ p.json:4:2 deny-net=evil.com" },
	{ "warn", MODE_STRICT, 0, 0,
	  { R(POLICY, NET, WARN, "*.cdn.com", "p.json:4:1"),
	    R(POLICY, NET, ALLOW, "*.cdn.com", "p.json:5:1"), END },
	  PERM_NET, "x.cdn.com:443", VERDICT_WARN, LAYER_POLICY, 0,
	  "*.cdn.com", "@ p.json:4:1 warn-net=*.cdn.com" },
	{ "deny beats warn", MODE_STRICT, 0, 0,
	  { R(POLICY, NET, WARN, "*.cdn.com", "p.json:4:1"),
	    R(POLICY, NET, DENY, "bad.cdn.com", "p.json:6:1"), END },
	  PERM_NET, "bad.cdn.com:443", VERDICT_DENY, LAYER_POLICY, 0,
	  "bad.cdn.com", "@ p.json:6:1 deny-net=bad.cdn.com" },
	{ "the runtime layer, below the document", MODE_STRICT, 0, 0,
	  { R(RUNTIME, READ, ALLOW, "/usr/lib/python3", "runtime"),
	    R(POLICY, READ, DENY, "/usr/lib/python3/secret", "p.json:1:1"),
	    END },
	  PERM_READ, "/usr/lib/python3/os.py", VERDICT_ALLOW, LAYER_RUNTIME,
	  0, "/usr/lib/python3", "@ allow-read=/usr/lib/python3" },
	{ "the document above the runtime", MODE_STRICT, 0, 0,
	  { R(RUNTIME, READ, ALLOW, "/usr/lib/python3", "runtime"),
	    R(POLICY, READ, DENY, "/usr/lib/python3/secret", "p.json:1:1"),
	    END },
	  PERM_READ, "/usr/lib/python3/secret/k", VERDICT_DENY, LAYER_POLICY,
	  0, "/usr/lib/python3/secret",
	  "@ p.json:1:1 deny-read=/usr/lib/python3/secret" },
	{ "nothing matches: deny by default", MODE_STRICT, 0, 0,
	  { R(FLAG, NET, ALLOW, "github.com", "--allow-net"), END },
	  PERM_NET, "gitlab.com:443", VERDICT_DENY, LAYER_DEFAULT, 0,
	  NULL, "default: deny (run again with --allow-net=gitlab.com:443)" },
	{ "an empty policy", MODE_STRICT, 0, 0, { END },
	  PERM_SYS, "hostname", VERDICT_DENY, LAYER_DEFAULT, 0,
	  NULL, "default: deny (run again with --allow-sys=hostname)" },
	{ "the document's default", MODE_STRICT, 1, PERM_ALLOW,
	  { R(POLICY, NET, DENY, "evil.com", "p.json:2:2"), END },
	  PERM_NET, "good.com:443", VERDICT_ALLOW, LAYER_POLICY, 0,
	  NULL, "@ default: allow" },
	{ "a rule before the document's default", MODE_STRICT, 1, PERM_ALLOW,
	  { R(POLICY, NET, DENY, "evil.com", "p.json:2:2"), END },
	  PERM_NET, "evil.com:443", VERDICT_DENY, LAYER_POLICY, 0,
	  "evil.com", "@ p.json:2:2 deny-net=evil.com" },
	{ "the document's default warns", MODE_STRICT, 1, PERM_WARN,
	  { END },
	  PERM_ENV, "HOME", VERDICT_WARN, LAYER_POLICY, 0,
	  NULL, "@ default: warn" },
	{ "the document's default denies", MODE_STRICT, 1, PERM_DENY,
	  { END },
	  PERM_READ, "/etc/passwd", VERDICT_DENY, LAYER_POLICY, 0,
	  NULL, "@ default: deny (run again with --allow-read=/etc/passwd)" },
	{ "monitor: a rule's deny is let through", MODE_MONITOR, 0, 0,
	  { R(POLICY, NET, ALLOW, "github.com", "p.json:3:5"),
	    R(FLAG, NET, DENY, "github.com", "--deny-net"), END },
	  PERM_NET, "github.com:443", VERDICT_ALLOW, LAYER_FLAG, 1,
	  "github.com", "monitor: would deny (@ --deny-net=github.com)" },
	{ "monitor: the default deny is let through", MODE_MONITOR, 0, 0,
	  { END },
	  PERM_READ, "/etc/passwd", VERDICT_ALLOW, LAYER_DEFAULT, 1,
	  NULL, "monitor: would deny (default; run again with "
	  "--allow-read=/etc/passwd)" },
	{ "monitor: allows and warns are untouched", MODE_MONITOR, 0, 0,
	  { R(FLAG, RUN, WARN, "curl", "--allow-run"), END },
	  PERM_RUN, "/usr/bin/curl", VERDICT_WARN, LAYER_FLAG, 0,
	  "curl", "@ --allow-run=curl" },
	{ "another kind's rules do not count", MODE_STRICT, 0, 0,
	  { R(FLAG, READ, ALLOW, "/", "--allow-read"), END },
	  PERM_WRITE, "/tmp/x", VERDICT_DENY, LAYER_DEFAULT, 0,
	  NULL, "default: deny (run again with --allow-write=/tmp/x)" },
	{ "a junk target in the hint is quoted safely", MODE_STRICT, 0, 0,
	  { END },
	  PERM_ENV, "A\nB\x1b[0m", VERDICT_DENY, LAYER_DEFAULT, 0,
	  NULL, "default: deny (run again with --allow-env=A?B?[0m)" },
};

/* "@" in the expected words: the name of the deciding layer. */
static void
expand(const char *in, unsigned int layer, char *out, size_t len)
{
	const char	*at;

	if ((at = strchr(in, '@')) == NULL) {
		(void)snprintf(out, len, "%s", in);
		return;
	}
	(void)snprintf(out, len, "%.*s%s%s", (int)(at - in), in,
	    layer_name(layer), at + 1);
}

static void
run_prec(const struct prec *c)
{
	struct policy		*p;
	struct decision		 d;
	const struct prec_rule	*r;
	char			 err[256], got[512], want[512];

	p = policy_new();
	p->mode = c->mode;
	if (c->has_default) {
		p->has_default[c->kind] = 1;
		p->defaults[c->kind] = (uint8_t)c->dflt;
	}
	for (r = c->rules; r->origin != NULL; r++)
		if (policy_add_rule(p, r->kind, r->action, r->layer, r->value,
		    r->origin, err, sizeof(err)) == -1)
			fail_msg("%s: rule %s: %s", c->name,
			    r->value ? r->value : "(all)", err);
	if (policy_compile(p, err, sizeof(err)) == -1)
		fail_msg("%s: compile: %s", c->name, err);
	policy_decide(p, c->kind, c->target, &d);
	if (d.verdict != c->verdict || d.layer != c->layer ||
	    d.monitored != c->monitored)
		fail_msg("%s: verdict %u layer %u monitored %d, want %u %u %d",
		    c->name, d.verdict, d.layer, d.monitored, c->verdict,
		    c->layer, c->monitored);
	if (c->rule == NULL && d.rule != NULL)
		fail_msg("%s: decided by rule %s, want a default", c->name,
		    d.rule->value ? d.rule->value : "(all)");
	if (c->rule != NULL && (d.rule == NULL ||
	    strcmp(d.rule->value ? d.rule->value : "", c->rule) != 0))
		fail_msg("%s: decided by %s, want rule \"%s\"", c->name,
		    d.rule == NULL ? "a default" : d.rule->value ?
		    d.rule->value : "(all)", c->rule);
	decision_describe_target(&d, c->kind, c->target, got, sizeof(got));
	expand(c->words, d.layer, want, sizeof(want));
	if (strcmp(got, want) != 0)
		fail_msg("%s: described \"%s\", want \"%s\"", c->name, got,
		    want);
	policy_free(p);
}

static void
test_precedence(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < NITEMS(precs); i++)
		run_prec(&precs[i]);
}

/* decision_describe() without a target, bad kinds, small buffers. */
static void
test_describe(void **state)
{
	struct policy	*p;
	struct decision	 d;
	char		 err[256], buf[128], tiny[8], big[400];

	(void)state;
	p = policy_new();
	assert_int_equal(policy_compile(p, err, sizeof(err)), 0);
	assert_int_equal(policy_compile(p, err, sizeof(err)), 0);
	policy_decide(p, PERM_NET, "github.com:443", &d);
	decision_describe(&d, PERM_NET, buf, sizeof(buf));
	assert_string_equal(buf, "default: deny (--allow-net to grant)");
	decision_describe(&d, PERM_NET, tiny, sizeof(tiny));
	assert_string_equal(tiny, "default");
	decision_describe(&d, PERM_NET, tiny, 0);

	/* Not a kind: denied, even in monitor mode; no crash. */
	p->mode = MODE_MONITOR;
	policy_decide(p, PERM_MAX, "x", &d);
	assert_int_equal(d.verdict, VERDICT_DENY);
	assert_int_equal(d.monitored, 0);
	assert_null(d.rule);
	decision_describe(&d, PERM_MAX, buf, sizeof(buf));
	assert_non_null(strstr(buf, "unknown"));
	policy_decide(p, PERM_NET, NULL, &d);
	assert_int_equal(d.verdict, VERDICT_ALLOW);
	assert_int_equal(d.monitored, 1);

	/* A long target is cut in the hint. */
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	decision_describe_target(&d, PERM_ENV, big, buf, sizeof(buf));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	policy_free(p);
}

/* A rule that is not in normal form fails the compile, which changes
 * nothing. */
static void
test_compile_error(void **state)
{
	struct policy	*p;
	char		 err[256];

	(void)state;
	p = policy_new();
	assert_int_equal(policy_add_rule(p, PERM_NET, PERM_ALLOW, LAYER_FLAG,
	    "github.com", "--allow-net", err, sizeof(err)), 0);
	assert_int_equal(policy_add_rule(p, PERM_READ, PERM_ALLOW,
	    LAYER_POLICY, "/data", "p.json:3:5", err, sizeof(err)), 0);
	free(p->rules[1].value);
	p->rules[1].value = xstrdup("data/../x");
	err[0] = '\0';
	assert_int_equal(policy_compile(p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "p.json:3:5"));
	assert_non_null(strstr(err, "data/../x"));
	assert_int_equal(p->compiled, 0);
	assert_null(p->m[PERM_NET][LAYER_FLAG]);
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_net),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_junk_targets),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_compile_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
