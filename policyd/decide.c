/*
 * Decisions: the layers of a compiled policy (policy.h), and the words
 * that explain a decision.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy.h"

#define HINT_TARGET_MAX	200	/* longest target quoted in a hint */

static uint8_t	 verdict_of(unsigned int);
static void	 describe_rule(const struct prule *, char *, size_t);
static void	 describe_hint(unsigned int, const char *, char *, size_t);

/*
 * One matcher per kind and layer that has rules.  All or nothing: on
 * error the policy is left uncompiled and err names the rule.
 */
int
policy_compile(struct policy *p, char *err, size_t errlen)
{
	struct matcher		*m[PERM_MAX][LAYER_DEFAULT];
	const struct prule	*r;
	size_t			 i;
	unsigned int		 k, l;

	if (p->compiled)
		return 0;
	memset(m, 0, sizeof(m));
	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		if (r->kind >= PERM_MAX || r->layer >= LAYER_DEFAULT ||
		    r->action > PERM_WARN) {
			(void)snprintf(err, errlen, "rule %zu (%s): bad kind, "
			    "action or layer", i, r->origin != NULL ?
			    r->origin : "?");
			goto fail;
		}
		if (m[r->kind][r->layer] == NULL)
			m[r->kind][r->layer] = matcher_new(r->kind);
		if (matcher_add(m[r->kind][r->layer], r) == -1) {
			(void)snprintf(err, errlen, "%s: %s-%s=%s: not a "
			    "normalised value", r->origin != NULL ? r->origin :
			    "?", action_name(r->action),
			    perm_kind_name(r->kind), r->value);
			goto fail;
		}
	}
	for (k = 0; k < PERM_MAX; k++)
		for (l = 0; l < LAYER_DEFAULT; l++)
			if (m[k][l] != NULL &&
			    matcher_compile(m[k][l]) == -1) {
				(void)snprintf(err, errlen, "%s rules of the "
				    "%s layer: cannot compile",
				    perm_kind_name(k), layer_name(l));
				goto fail;
			}
	memcpy(p->m, m, sizeof(p->m));
	p->compiled = 1;
	return 0;
 fail:
	for (k = 0; k < PERM_MAX; k++)
		for (l = 0; l < LAYER_DEFAULT; l++)
			matcher_free(m[k][l]);
	return -1;
}

static uint8_t
verdict_of(unsigned int action)
{
	switch (action) {
	case PERM_ALLOW:
		return VERDICT_ALLOW;
	case PERM_WARN:
		return VERDICT_WARN;
	default:
		return VERDICT_DENY;
	}
}

/*
 * The highest layer with a rule that matches decides, with its
 * strongest rule.  Else the document's default for the kind (reported
 * as the policy layer, without a rule), else deny.  In monitor mode a
 * deny becomes an allow that says so.
 */
void
policy_decide(const struct policy *p, unsigned int kind, const char *target,
    struct decision *d)
{
	const struct prule	*r;
	unsigned int		 l;

	memset(d, 0, sizeof(*d));
	d->verdict = VERDICT_DENY;
	d->layer = LAYER_DEFAULT;
	if (kind >= PERM_MAX)
		return;		/* not a permission: no monitor either */
	if (!p->compiled)
		fatalx("%s: the policy is not compiled", __func__);
	if (target == NULL)
		target = "";
	for (l = 0; l < LAYER_DEFAULT; l++)
		if ((r = matcher_match(p->m[kind][l], target)) != NULL) {
			d->verdict = verdict_of(r->action);
			d->layer = (uint8_t)l;
			d->rule = r;
			break;
		}
	if (d->rule == NULL && p->has_default[kind]) {
		d->verdict = verdict_of(p->defaults[kind]);
		d->layer = LAYER_POLICY;
	}
	if (d->verdict == VERDICT_DENY && p->mode == MODE_MONITOR) {
		d->verdict = VERDICT_ALLOW;
		d->monitored = 1;
	}
}

/* The address of "a.b.c.d:port" or "[v6]:port", IPv4 as v4-mapped. */
static int
addr_of(const char *target, struct in6_addr *in)
{
	char		 buf[INET6_ADDRSTRLEN + 8];
	const char	*colon;
	struct in_addr	 v4;
	size_t		 len;

	if (target[0] == '[') {
		if ((colon = strstr(target, "]:")) == NULL)
			return -1;
		len = (size_t)(colon - target - 1);
		target++;
	} else {
		if ((colon = strrchr(target, ':')) == NULL)
			return -1;
		len = (size_t)(colon - target);
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, target, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		memset(in, 0, sizeof(*in));
		in->s6_addr[10] = in->s6_addr[11] = 0xff;
		memcpy(&in->s6_addr[12], &v4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, buf, in) == 1 ? 0 : -1;
}

void
policy_decide_addr(const struct policy *p, const char *target,
    struct decision *d)
{
	const struct prule	*r;
	struct in6_addr		 in;
	unsigned int		 l;
	int			 builtin;

	memset(d, 0, sizeof(*d));
	d->verdict = VERDICT_DENY;
	d->layer = LAYER_DEFAULT;
	d->addr = 1;
	if (!p->compiled)
		fatalx("%s: the policy is not compiled", __func__);
	if (target == NULL || addr_of(target, &in) == -1) {
		(void)snprintf(d->builtin, sizeof(d->builtin),
		    "not an address");
		return;
	}
	builtin = builtin_denied(&in, d->builtin, sizeof(d->builtin)) !=
	    NULL;
	/*
	 * Layers from the highest.  A deny denies; an address rule (not
	 * the runtime's) allows.  "*" (or the runtime) allows what is not
	 * built-in; for a built-in address, only a lower layer's address
	 * rule may still speak.
	 */
	for (l = 0; l < LAYER_DEFAULT; l++) {
		if ((r = matcher_match(p->m[PERM_NET][l], target)) == NULL)
			continue;
		if (r->action == PERM_DENY ||
		    (r->value != NULL && r->layer != LAYER_RUNTIME)) {
			d->verdict = verdict_of(r->action);
			d->layer = (uint8_t)l;
			d->rule = r;
			d->builtin[0] = '\0';
			break;
		}
		if (!builtin)
			break;
	}
	if (d->rule == NULL && !builtin) {
		/* The host's decision stands. */
		d->verdict = VERDICT_ALLOW;
		d->layer = LAYER_DEFAULT;
	}
	if (d->verdict == VERDICT_DENY && p->mode == MODE_MONITOR) {
		d->verdict = VERDICT_ALLOW;
		d->monitored = 1;
	}
}

/*
 * "flag --deny-net=github.com", "env POD_ALLOW_READ=/data",
 * "policy p.json:3:5 allow-read=/data", "runtime allow-read=/usr/lib".
 * A flag or a variable is its own action; a document's position is not.
 */
static void
describe_rule(const struct prule *r, char *buf, size_t len)
{
	const char	*lname = layer_name(r->layer), *o = r->origin;
	const char	*eq = r->value != NULL ? "=" : "";
	const char	*v = r->value != NULL ? r->value : "";

	if (o != NULL && (strncmp(o, "--", 2) == 0 ||
	    strncmp(o, "POD_", 4) == 0))
		(void)snprintf(buf, len, "%s %s%s%s", lname, o, eq, v);
	else if (o != NULL && *o != '\0' && strcmp(o, lname) != 0)
		(void)snprintf(buf, len, "%s %s %s-%s%s%s", lname, o,
		    action_name(r->action), perm_kind_name(r->kind), eq, v);
	else
		(void)snprintf(buf, len, "%s %s-%s%s%s", lname,
		    action_name(r->action), perm_kind_name(r->kind), eq, v);
}

/*
 * "run again with --allow-net=github.com:443" (Deno's words); without
 * a target, "--allow-net to grant".  The target comes from a worker:
 * only printable ASCII of it is quoted, and not too much.
 */
static void
describe_hint(unsigned int kind, const char *target, char *buf, size_t len)
{
	char	 t[HINT_TARGET_MAX + 4];
	size_t	 i;

	if (target == NULL || *target == '\0') {
		(void)snprintf(buf, len, "--allow-%s to grant",
		    perm_kind_name(kind));
		return;
	}
	for (i = 0; target[i] != '\0' && i < HINT_TARGET_MAX; i++)
		t[i] = target[i] > ' ' && target[i] < 0x7f ? target[i] : '?';
	if (target[i] != '\0') {
		memcpy(t + i, "...", 3);
		i += 3;
	}
	t[i] = '\0';
	(void)snprintf(buf, len, "run again with --allow-%s=%s",
	    perm_kind_name(kind), t);
}

void
decision_describe_target(const struct decision *d, unsigned int kind,
    const char *target, char *buf, size_t len)
{
	char		 what[512], hint[HINT_TARGET_MAX + 64];
	const char	*dflt;

	if (len == 0)
		return;
	if (kind >= PERM_MAX) {
		(void)snprintf(buf, len, "default: deny (unknown permission "
		    "kind %u)", kind);
		return;
	}
	if (d->rule == NULL && d->builtin[0] != '\0') {
		if (d->monitored)
			(void)snprintf(buf, len, "monitor: would deny (built-in: "
			    "%s)", d->builtin);
		else
			(void)snprintf(buf, len, "built-in: deny %s (name it by "
			    "address to allow it: --allow-net=%s)", d->builtin,
			    target != NULL ? target : "ADDRESS");
		return;
	}
	if (d->addr && d->rule == NULL && !d->monitored &&
	    d->verdict == VERDICT_ALLOW) {
		(void)snprintf(buf, len, "address allowed (not in the "
		    "built-in deny set)");
		return;
	}
	if (d->rule != NULL) {
		describe_rule(d->rule, what, sizeof(what));
		if (d->monitored)
			(void)snprintf(buf, len, "monitor: would deny (%s)",
			    what);
		else
			(void)snprintf(buf, len, "%s", what);
		return;
	}
	/* A default: the document's (policy layer), or podrunner's. */
	if (d->layer == LAYER_POLICY)
		(void)snprintf(what, sizeof(what), "%s default",
		    layer_name(LAYER_POLICY));
	else
		(void)snprintf(what, sizeof(what), "default");
	describe_hint(kind, target, hint, sizeof(hint));
	if (d->monitored)
		(void)snprintf(buf, len, "monitor: would deny (%s; %s)", what,
		    hint);
	else if (d->verdict == VERDICT_DENY)
		(void)snprintf(buf, len, "%s: deny (%s)", what, hint);
	else {
		dflt = d->verdict == VERDICT_WARN ? "warn" : "allow";
		(void)snprintf(buf, len, "%s: %s", what, dflt);
	}
}

void
decision_describe(const struct decision *d, unsigned int kind, char *buf,
    size_t len)
{
	decision_describe_target(d, kind, NULL, buf, len);
}
