/*
 * The normalised policy and the decision engine (policyd/policy.c,
 * policyd/match.c).  Pure code: no I/O, no process state, so the same
 * objects serve policyd, the unit tests, the fuzzers and the benches.
 *
 * Layers, highest first (enum perm_layer): flags, POD_* variables, the
 * document, the runtime's own needs, the default (deny).  For a
 * request, the highest layer with a rule that matches the target
 * decides; inside that layer a deny beats a warn beats an allow.  When
 * no layer has a matching rule, the document's per-kind default
 * ("defaults": {"net": "allow"}) decides, else deny.  In monitor mode a
 * deny is turned into an allow that says it would have been denied.
 */
#ifndef PODRUNNER_POLICY_H
#define PODRUNNER_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct json_t;
struct matcher;		/* compiled, per kind and layer (match.c) */

enum policy_mode {
	MODE_STRICT = 0,	/* denials deny */
	MODE_MONITOR		/* denials are logged and allowed */
};

/* One rule: an allow, deny or warn of one value (or of the whole kind). */
struct prule {
	char		*value;		/* normal form; NULL: the whole kind */
	uint8_t		 kind;		/* enum perm_kind */
	uint8_t		 action;	/* enum perm_action */
	uint8_t		 layer;		/* enum perm_layer */
	char		*origin;	/* "--allow-net", "POD_DENY_ENV",
					 * "p.json:12:7", "runtime" */
};

struct policy_resources {
	uint64_t	 memory;	/* bytes, 0: unlimited */
	uint32_t	 cpu_pct;	/* percent of one CPU, 0: unlimited */
	uint32_t	 pids;		/* 0: unlimited */
	uint64_t	 timeout_ms;	/* 0: none */
	uint64_t	 tmpfs;		/* size of the pod's /tmp, 0: default */
};

struct policy_audit {
	int		 enabled;
	int		 required;	/* refuse to run without the audit layer */
	char		**events;	/* syscall names */
	size_t		 nevents;
};

struct policy {
	int			 mode;		/* enum policy_mode */
	int			 has_default[PERM_MAX];
	uint8_t			 defaults[PERM_MAX];	/* document's, PERM_* */
	struct prule		*rules;
	size_t			 nrules;
	int			 net_rate_limit;	/* connections/s, 0: none */
	int			 plugins_namespaces, plugins_landlock,
				 plugins_seccomp;
	struct policy_resources	 res;
	struct policy_audit	 audit;
	char			*document;	/* name of the loaded document */
	/* compiled by policy_compile() */
	struct matcher		*m[PERM_MAX][LAYER_DEFAULT];
	int			 compiled;
};

struct decision {
	uint8_t		 verdict;	/* enum verdict */
	uint8_t		 layer;		/* enum perm_layer that decided */
	int		 monitored;	/* a deny let through (monitor mode) */
	const struct prule *rule;	/* NULL: a default decided */
	int		 addr;		/* by policy_decide_addr() */
	char		 builtin[128];	/* policy_decide_addr(): the
					 * built-in range that denied */
};

struct policy	*policy_new(void);
void		 policy_free(struct policy *);

/*
 * Add one rule.  value NULL (or "*") is the whole kind.  The value is
 * checked and normalised (common/perm.c); -1 and a one-line reason in
 * err when it is bad.
 */
int		 policy_add_rule(struct policy *, unsigned int kind,
		    unsigned int action, unsigned int layer, const char *value,
		    const char *origin, char *err, size_t errlen);

/*
 * Load a policy document (either shape: the version 1 document, or the
 * seeds' SandboxConfig) into LAYER_POLICY and the settings (mode,
 * defaults, resources, audit, plugins).  On error nothing is changed and
 * err holds "NAME:LINE:COLUMN: KEY: what is wrong" (KEY is a JSON
 * pointer such as /rules/net/allow/2).  Unknown keys are errors.
 */
int		 policy_load(struct policy *, const char *name, const char *text,
		    size_t len, char *err, size_t errlen);

/* Build the matchers; no rule may be added afterwards. */
int		 policy_compile(struct policy *, char *err, size_t errlen);

/*
 * Decide on one target of one kind.  Targets: absolute paths (read,
 * write, ffi), "host:port" or "[v6]:port" (net), a command name or
 * absolute path (run), a variable name (env), an API name (sys).
 */
void		 policy_decide(const struct policy *, unsigned int kind,
		    const char *target, struct decision *);
/*
 * The proxy's second question, for an address it is about to connect
 * to ("a.b.c.d:port" or "[v6]:port"), after the host was allowed: the
 * highest layer with an address rule that matches decides (a deny
 * denies; an allow or warn from a flag, a variable or the document
 * allows, even a built-in range); else the address is denied if it is
 * in the built-in set (builtin_denied()), and allowed otherwise.  "*"
 * and host names never allow a built-in range; the runtime layer does
 * not either.  Monitor mode as in policy_decide().
 */
void		 policy_decide_addr(const struct policy *, const char *target,
		    struct decision *);
/* builtin.c: the built-in range holding the address, named in buf. */
struct in6_addr;
const char	*builtin_denied(const struct in6_addr *, char *, size_t);

/* "flag --deny-net=github.com", "document p.json:3:5 allow-read=/data",
 * "default: deny (--allow-net to grant)" */
void		 decision_describe(const struct decision *, unsigned int kind,
		    char *buf, size_t len);
/* The same, with the target in a default deny's hint: "default: deny
 * (run again with --allow-net=github.com:443)". */
void		 decision_describe_target(const struct decision *,
		    unsigned int kind, const char *target, char *buf,
		    size_t len);

/*
 * The normalised policy as a version 1 document.  with_origin adds, for
 * explain, the layer and origin of every rule.  The document loads back
 * into the same normalised policy (init-policy round trip).
 */
struct json_t	*policy_to_json(const struct policy *, int with_origin);

const char	*layer_name(unsigned int);
const char	*action_name(unsigned int);

/* match.c: compiled matchers, one per kind and layer. */
struct matcher	*matcher_new(unsigned int kind);
int		 matcher_add(struct matcher *, const struct prule *);
int		 matcher_compile(struct matcher *);
/* The strongest matching rule (deny > warn > allow), NULL if none. */
const struct prule *matcher_match(const struct matcher *, const char *);
void		 matcher_free(struct matcher *);

#endif
