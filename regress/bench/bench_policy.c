/*
 * bench_policy: decisions per second of a compiled policy of 1,000
 * rules, against a baseline measured in the same run.
 *
 * The policy mixes every kind of value the matchers index: paths
 * (read, write) with denials below allowed trees, host names with
 * wildcards and ports, IPv4 and IPv6 CIDRs and addresses, env names and
 * PREFIX* patterns, commands; spread over the flag, POD_* and document
 * layers.  The targets are a fixed mix, about half of them named by a
 * rule and half not (they fall to the default, the slow path: every
 * layer is asked).
 *
 * Baseline: for the same targets, one exact-match lookup each in a
 * plain hash set of the 1,000 rule values (FNV-1a of the target, linear
 * probing, strcmp), the cheapest thing a decision could possibly be.
 * The ratio says how many such lookups one decision costs.  Times are
 * the best of a few rounds; nothing is asserted, the numbers are
 * printed.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "util.h"

#define NRULES		1000
#define NTARGETS	4096
#define ROUNDS		5
#define PASSES		250		/* over the targets, a round */
#define SETSIZE		4096		/* a power of two */

struct target {
	unsigned int	 kind;
	char		*s;
};

static struct policy	*pol;
static struct target	 targets[NTARGETS];
static const char	*set[SETSIZE];
static size_t		 nrules;
static volatile unsigned long sink;

static void	 rule(unsigned int, unsigned int, unsigned int, const char *,
		    ...) __attribute__((__format__(printf, 4, 5)));
static void	 build_policy(void);
static void	 build_targets(void);
static uint32_t	 fnv(const char *);
static void	 set_add(const char *);
static int	 set_has(const char *);
static double	 now(void);
static double	 run_decide(void);
static double	 run_baseline(void);

static void
rule(unsigned int kind, unsigned int action, unsigned int layer,
    const char *fmt, ...)
{
	static const char *origins[] = { "--bench", "POD_BENCH",
	    "bench.json:1:1" };
	char	 v[256], err[256];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	if (policy_add_rule(pol, kind, action, layer, v, origins[layer], err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "bench_policy: rule %s: %s\n", v, err);
		exit(1);
	}
	set_add(pol->rules[pol->nrules - 1].value);
	nrules++;
}

/* Layer of the i-th rule of a family: 10% flags, 10% POD_*, the rest
 * the document. */
#define LAYER(i)	((i) % 10 == 0 ? LAYER_FLAG : (i) % 10 == 1 ? \
			    LAYER_ENV : LAYER_POLICY)

static void
build_policy(void)
{
	char	 err[256];
	int	 i;

	pol = policy_new();
	/* 350 paths: allowed trees, denied subtrees, write areas. */
	for (i = 0; i < 150; i++)
		rule(PERM_READ, PERM_ALLOW, LAYER(i), "/srv/app%d/data", i);
	for (i = 0; i < 100; i++)
		rule(PERM_READ, PERM_DENY, LAYER(i), "/srv/app%d/data/secret",
		    i);
	for (i = 0; i < 100; i++)
		rule(PERM_WRITE, i % 7 == 0 ? PERM_DENY : PERM_ALLOW, LAYER(i),
		    "/home/user%d/project/out", i);
	/* 300 host names: exact, wildcards, with ports. */
	for (i = 0; i < 120; i++)
		rule(PERM_NET, PERM_ALLOW, LAYER(i), "svc%d.example%d.com", i,
		    i % 13);
	for (i = 0; i < 80; i++)
		rule(PERM_NET, i % 4 == 0 ? PERM_DENY : PERM_ALLOW, LAYER(i),
		    "*.corp%d.net", i);
	for (i = 0; i < 100; i++)
		rule(PERM_NET, i % 5 == 0 ? PERM_DENY : PERM_ALLOW, LAYER(i),
		    "api%d.service.io:%d", i, 443 + i % 3);
	/* 150 addresses and CIDRs, IPv4 and IPv6. */
	for (i = 0; i < 50; i++)
		rule(PERM_NET, PERM_ALLOW, LAYER(i), "10.%d.0.0/16", i);
	for (i = 0; i < 40; i++)
		rule(PERM_NET, PERM_DENY, LAYER(i), "10.%d.66.0/24", i);
	for (i = 0; i < 30; i++)
		rule(PERM_NET, PERM_ALLOW, LAYER(i), "192.168.%d.%d:8080", i,
		    i + 1);
	for (i = 0; i < 30; i++)
		rule(PERM_NET, i % 3 == 0 ? PERM_DENY : PERM_ALLOW, LAYER(i),
		    "[2001:db8:%x::/48]", i);
	/* 150 env: patterns and names. */
	for (i = 0; i < 90; i++)
		rule(PERM_ENV, i % 9 == 0 ? PERM_DENY : PERM_ALLOW, LAYER(i),
		    "APP%d_*", i);
	for (i = 0; i < 60; i++)
		rule(PERM_ENV, PERM_ALLOW, LAYER(i), "VAR_%d", i);
	/* 50 commands: names and paths. */
	for (i = 0; i < 25; i++)
		rule(PERM_RUN, PERM_ALLOW, LAYER(i), "tool%d", i);
	for (i = 0; i < 25; i++)
		rule(PERM_RUN, PERM_DENY, LAYER(i), "/opt/bin/cmd%d", i);
	if (nrules != NRULES) {
		fprintf(stderr, "bench_policy: %zu rules, not %d\n", nrules,
		    NRULES);
		exit(1);
	}
	if (policy_compile(pol, err, sizeof(err)) == -1) {
		fprintf(stderr, "bench_policy: compile: %s\n", err);
		exit(1);
	}
}

/* Half named by a rule, half not; every kind. */
static void
build_targets(void)
{
	unsigned int	 seed = 42, r, k;
	char		 buf[256];
	size_t		 i;

	for (i = 0; i < NTARGETS; i++) {
		seed = seed * 1103515245U + 12345U;
		r = (seed >> 8) % 1000;
		switch (i % 16) {
		case 0:
			k = PERM_READ;
			(void)snprintf(buf, sizeof(buf),
			    "/srv/app%u/data/input/part-%u.csv", r % 200, r);
			break;
		case 1:
			k = PERM_READ;
			(void)snprintf(buf, sizeof(buf),
			    "/srv/app%u/data/secret/key.pem", r % 120);
			break;
		case 2:
			k = PERM_READ;
			(void)snprintf(buf, sizeof(buf),
			    "/usr/lib/python3.11/site-packages/m%u/__init__.py",
			    r);
			break;
		case 3:
			k = PERM_WRITE;
			(void)snprintf(buf, sizeof(buf),
			    "/home/user%u/project/out/result.json", r % 130);
			break;
		case 4:
			k = PERM_NET;
			(void)snprintf(buf, sizeof(buf),
			    "svc%u.example%u.com:443", r % 150, r % 150 % 13);
			break;
		case 5:
			k = PERM_NET;
			(void)snprintf(buf, sizeof(buf),
			    "host%u.eu.corp%u.net:443", r, r % 100);
			break;
		case 6:
			k = PERM_NET;
			(void)snprintf(buf, sizeof(buf),
			    "api%u.service.io:%u", r % 120, 443 + r % 4);
			break;
		case 7:
			k = PERM_NET;
			(void)snprintf(buf, sizeof(buf),
			    "www.unknown%u.org:443", r);
			break;
		case 8:
			k = PERM_NET;
			(void)snprintf(buf, sizeof(buf), "10.%u.%u.%u:443",
			    r % 60, r % 100 == 0 ? 66 : r % 250, r % 200 + 1);
			break;
		case 9:
			k = PERM_NET;
			(void)snprintf(buf, sizeof(buf), "%u.%u.8.8:53",
			    r % 200 + 20, r % 250);
			break;
		case 10:
			k = PERM_NET;
			(void)snprintf(buf, sizeof(buf),
			    "[2001:db8:%x::%x]:443", r % 40, r);
			break;
		case 11:
			k = PERM_NET;
			(void)snprintf(buf, sizeof(buf),
			    "[::ffff:10.%u.1.1]:80", r % 60);
			break;
		case 12:
			k = PERM_ENV;
			(void)snprintf(buf, sizeof(buf), "APP%u_TOKEN",
			    r % 120);
			break;
		case 13:
			k = PERM_ENV;
			(void)snprintf(buf, sizeof(buf), r % 2 ? "VAR_%u" :
			    "HOME%u", r % 80);
			break;
		case 14:
			k = PERM_RUN;
			(void)snprintf(buf, sizeof(buf), "/usr/bin/tool%u",
			    r % 40);
			break;
		default:
			k = PERM_RUN;
			(void)snprintf(buf, sizeof(buf), "/opt/bin/cmd%u",
			    r % 40);
			break;
		}
		targets[i].kind = k;
		targets[i].s = xstrdup(buf);
	}
}

static uint32_t
fnv(const char *s)
{
	uint32_t	h = 2166136261U;

	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619U;
	}
	return h;
}

static void
set_add(const char *v)
{
	uint32_t	i;

	if (v == NULL)
		return;
	for (i = fnv(v) & (SETSIZE - 1); set[i] != NULL;
	    i = (i + 1) & (SETSIZE - 1))
		if (strcmp(set[i], v) == 0)
			return;
	set[i] = v;
}

static int
set_has(const char *v)
{
	uint32_t	i;

	for (i = fnv(v) & (SETSIZE - 1); set[i] != NULL;
	    i = (i + 1) & (SETSIZE - 1))
		if (strcmp(set[i], v) == 0)
			return 1;
	return 0;
}

static double
now(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds for PASSES passes of policy_decide over the targets. */
static double
run_decide(void)
{
	struct decision	 d;
	unsigned long	 acc = 0;
	double		 t0;
	size_t		 i, p;

	t0 = now();
	for (p = 0; p < PASSES; p++)
		for (i = 0; i < NTARGETS; i++) {
			policy_decide(pol, targets[i].kind, targets[i].s, &d);
			acc += d.verdict + d.layer;
		}
	sink += acc;
	return now() - t0;
}

/* Seconds for as many exact hash lookups of the same targets. */
static double
run_baseline(void)
{
	unsigned long	 acc = 0;
	double		 t0;
	size_t		 i, p;

	t0 = now();
	for (p = 0; p < PASSES; p++)
		for (i = 0; i < NTARGETS; i++)
			acc += (unsigned long)set_has(targets[i].s);
	sink += acc;
	return now() - t0;
}

int
main(void)
{
	struct decision	 d;
	double		 td = 1e9, tb = 1e9, t, n;
	size_t		 i, named = 0, denied = 0;
	int		 r;

	build_policy();
	build_targets();
	for (i = 0; i < NTARGETS; i++) {
		policy_decide(pol, targets[i].kind, targets[i].s, &d);
		named += d.rule != NULL;
		denied += d.verdict == VERDICT_DENY;
	}
	/* Warm up, then the best of ROUNDS, interleaved. */
	(void)run_decide();
	(void)run_baseline();
	for (r = 0; r < ROUNDS; r++) {
		if ((t = run_decide()) < td)
			td = t;
		if ((t = run_baseline()) < tb)
			tb = t;
	}
	n = (double)PASSES * NTARGETS;
	printf("bench_policy: %zu rules, %d targets (%zu named by a rule, "
	    "%zu denied)\n", nrules, NTARGETS, named, denied);
	printf("  policy_decide:            %12.0f decisions/s  "
	    "(%.0f ns each)\n", n / td, td / n * 1e9);
	printf("  baseline (exact lookup):  %12.0f lookups/s    "
	    "(%.0f ns each)\n", n / tb, tb / n * 1e9);
	printf("  ratio: a decision costs %.1f exact hash lookups "
	    "(target: >= 1000000 decisions/s: %s)\n", td / tb,
	    n / td >= 1e6 ? "met" : "NOT met");
	policy_free(pol);
	for (i = 0; i < NTARGETS; i++)
		free(targets[i].s);
	return 0;
}
