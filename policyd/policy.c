/*
 * The normalised policy: the rules of every layer, the document's
 * settings, loading a policy document of either shape, and writing the
 * policy back as a version 1 document (init-policy, explain).
 *
 * The version 1 document (etc/policy.schema.json) is a superset of the
 * seeds' policy format:
 *
 *	version		1 (required; its presence selects this shape)
 *	$schema		a string, ignored (editors use it)
 *	mode		"strict" | "monitor"
 *	plugins		{ namespaces, landlock, seccomp: boolean }
 *	defaults	{ KIND: "allow" | "deny" | "warn" }
 *	rules		{ KIND: { allow, deny, warn: [ value, ... ] } }
 *			rules.net also takes "mode" and "rate_limit",
 *			rules.fs also takes "mode"
 *	resources	{ memory: size, cpu: percent, pids: count,
 *			  timeout: duration, tmpfs: size }
 *	audit		{ enabled, required: boolean, events: [ syscall ] }
 *
 * KIND is net, read, write, env, run, ffi or sys, or one of the seeds'
 * kinds: "fs" (read and write) and "exec" (run).  rules.fs.mode is
 * "read" (the fs allow and warn lists grant reading only), "write" or
 * "readwrite" (both); fs deny lists always deny both.  rules.net.mode
 * is the seeds' name for the net default: "allow" (an allow list:
 * unlisted hosts are denied) or "deny" (a deny list: unlisted hosts are
 * allowed); it must agree with defaults.net when both are given, as
 * defaults.fs must agree with defaults.read and defaults.write, and
 * defaults.exec with defaults.run.  rules.net.rate_limit is connections
 * per second, 0 for none.  A value "*" in a list is the whole kind.
 * Sizes are parse_size() strings ("512mb") or integers (MiB);
 * durations are parse_duration() strings ("30s") or integers (seconds).
 * Audit events are system call names (lowercase identifiers, each
 * once, at most 1024); "required" needs "enabled".
 *
 * The seeds' SandboxConfig (selected by "security", "network" or
 * "filesystem" without "version"):
 *
 *	security.mode		"strict" | "monitor"
 *	network.enabled		false: no allow_list entry is applied
 *	network.policy		"allow_list" (default) | "deny_all" (no
 *				allow_list entry is applied)
 *	network.allow_list	allow rules ("*": every host)
 *	network.deny_list	deny rules
 *	network.rate_limit	connections per second
 *	filesystem.allow_write	true: defaults.write allow, false: deny
 *	resources.memory_limit	MiB, resources.cpu_limit: percent
 *
 * A SandboxConfig with "network" makes the net default deny (what its
 * lists do not allow is denied).  In both shapes a member that is
 * absent leaves the setting as it was (the built-in defaults: strict,
 * every plugin on, audit of openat, connect and execve, no limits).
 *
 * Errors name the document, the line and column of the member's key
 * (or of the array item, or of the document) and its JSON pointer.
 * jansson records no positions, so a small scanner over the same text
 * finds them (ps_*).  A document is loaded into a scratch policy and
 * merged only when all of it is good.
 *
 * policy_to_json(p, 0) writes every rule but the runtime's as a
 * document rule.  A flag or POD_* layer that names the whole kind
 * ("--allow-net") becomes the kind's default, and the rules of lower
 * layers of that kind, which it hides, are left out; a document's own
 * whole-kind rule stays "*".  Layers are otherwise flattened: where a
 * higher layer's allow overlaps a lower layer's deny, the document,
 * being one layer, denies.  policy_to_json(p, 1) (explain) writes every
 * rule, the runtime's and the whole-kind ones included, as an object
 * { "value", "layer", "origin" } in place of the string, adds
 * "document" (the name of the loaded document, or null), and gives as
 * defaults what applies when no rule of any layer matches.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "perm.h"
#include "policy.h"
#include "proto.h"
#include "util.h"

#define LOAD_DEPTH	8		/* deepest pointer of the schema: 4 */
#define KIND_BIT(k)	(1U << (k))
#define FS_BITS		(KIND_BIT(PERM_READ) | KIND_BIT(PERM_WRITE))

#define MAX_MIB		((json_int_t)(UINT64_MAX >> 20))
#define MAX_SECONDS	((json_int_t)1 << 32)
#define MAX_CPU		100000		/* percent: 1000 CPUs */
#define MAX_PIDS	4194304		/* PID_MAX_LIMIT */
#define MAX_RATE	1000000
#define MAX_EVENT	64		/* longest system call name */
#define MAX_EVENTS	1024		/* more than any kernel has */

/* Kind names of a document: ours, then the seeds'. */
static const struct {
	const char	*name;
	unsigned int	 bits;
} doc_kinds[] = {
	{ "net",	KIND_BIT(PERM_NET) },
	{ "read",	KIND_BIT(PERM_READ) },
	{ "write",	KIND_BIT(PERM_WRITE) },
	{ "env",	KIND_BIT(PERM_ENV) },
	{ "run",	KIND_BIT(PERM_RUN) },
	{ "ffi",	KIND_BIT(PERM_FFI) },
	{ "sys",	KIND_BIT(PERM_SYS) },
	{ "fs",		FS_BITS },
	{ "exec",	KIND_BIT(PERM_RUN) },
};
#define KINDS_EXPECTED	"net, read, write, env, run, ffi, sys, fs or exec"

static const char *default_events[] = { "openat", "connect", "execve" };

/* Position of a key or value in the document text. */
struct lpos {
	int	line;
	int	col;
};

/* The position scanner: a minimal JSON tokenizer over valid text. */
struct pscan {
	const char	*s;
	size_t		 len;
	size_t		 i;
	int		 line;
	int		 ncp;		/* code points before i on the line */
};

struct loader {
	const char	*name;
	const char	*text;
	size_t		 len;
	char		*err;
	size_t		 errlen;
	struct policy	*t;		/* scratch: merged into p on success */
	const char	*seg[LOAD_DEPTH];
	char		 idx[LOAD_DEPTH][24];
	size_t		 depth;
	char		 defset[PERM_MAX][64];	/* pointer that set a default */
};

static size_t	 rules_cap(size_t);
static void	 rules_reserve(struct policy *, size_t);
static void	 audit_clear(struct policy_audit *);
static void	 settings_copy(struct policy *, const struct policy *);

static void	 ps_init(struct pscan *, const char *, size_t);
static int	 ps_peek(const struct pscan *);
static void	 ps_adv(struct pscan *);
static void	 ps_ws(struct pscan *);
static void	 ps_pos(const struct pscan *, struct lpos *);
static void	 ps_skip_string(struct pscan *);
static void	 ps_skip_value(struct pscan *);
static int	 ps_hex4(struct pscan *, unsigned int *);
static char	*ps_string(struct pscan *);
static int	 ps_find(const struct loader *, size_t, struct pscan *,
		    struct lpos *);
static void	 ps_items(const struct loader *, struct lpos *, size_t);

static void	 quote(const char *, char *, size_t);
static void	 lpointer(const struct loader *, char *, size_t);
static int	 lerr(struct loader *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static void	 lpush(struct loader *, const char *);
static void	 lpush_index(struct loader *, size_t);
static void	 lpop(struct loader *);
static const char *jtype(json_t *);
static int	 want(struct loader *, json_t *, json_type,
		    const char *);
static int	 get_bool(struct loader *, json_t *, int *);
static int	 get_int(struct loader *, json_t *, json_int_t,
		    json_int_t, json_int_t *);
static int	 get_size(struct loader *, json_t *, uint64_t *);
static int	 get_duration(struct loader *, json_t *, uint64_t *);
static int	 get_mode(struct loader *, json_t *);
static int	 get_action(struct loader *, json_t *, unsigned int *);
static int	 set_default(struct loader *, unsigned int, unsigned int);

static int	 load_list(struct loader *, json_t *, unsigned int,
		    unsigned int, int);
static int	 load_plugins(struct loader *, json_t *);
static int	 load_defaults(struct loader *, json_t *);
static int	 load_kind(struct loader *, const char *, unsigned int,
		    json_t *);
static int	 load_rules(struct loader *, json_t *);
static int	 load_resources(struct loader *, json_t *);
static int	 load_audit(struct loader *, json_t *);
static int	 load_v1(struct loader *, json_t *);
static int	 load_security(struct loader *, json_t *);
static int	 load_network(struct loader *, json_t *);
static int	 load_filesystem(struct loader *, json_t *);
static int	 load_sc_resources(struct loader *, json_t *);
static int	 load_sandboxconfig(struct loader *, json_t *);

static const char *fmt_doc_size(uint64_t, char *, size_t);
static const char *fmt_doc_duration(uint64_t, char *, size_t);
static json_t	*jstr(const char *, int *);

/* ---- the policy object ---------------------------------------------- */

struct policy *
policy_new(void)
{
	struct policy	*p;
	size_t		 i, n = sizeof(default_events) /
			    sizeof(default_events[0]);

	p = xcalloc(1, sizeof(*p));
	p->mode = MODE_STRICT;
	p->plugins_namespaces = p->plugins_landlock = p->plugins_seccomp = 1;
	p->audit.enabled = 1;
	p->audit.events = xcalloc(n, sizeof(*p->audit.events));
	for (i = 0; i < n; i++)
		p->audit.events[i] = xstrdup(default_events[i]);
	p->audit.nevents = n;
	return p;
}

void
policy_free(struct policy *p)
{
	size_t	i, k, l;

	if (p == NULL)
		return;
	for (i = 0; i < p->nrules; i++) {
		free(p->rules[i].value);
		free(p->rules[i].origin);
	}
	free(p->rules);
	audit_clear(&p->audit);
	free(p->document);
	for (k = 0; k < PERM_MAX; k++)
		for (l = 0; l < LAYER_DEFAULT; l++)
			if (p->m[k][l] != NULL)
				matcher_free(p->m[k][l]);
	free(p);
}

/* The capacity of the rule array is a function of nrules. */
static size_t
rules_cap(size_t n)
{
	size_t	c = 8;

	if (n == 0)
		return 0;
	while (c < n)
		c *= 2;
	return c;
}

/* Room for more rules. */
static void
rules_reserve(struct policy *p, size_t more)
{
	size_t	have = rules_cap(p->nrules), need;

	need = rules_cap(p->nrules + more);
	if (need != have)
		p->rules = xreallocarray(p->rules, need, sizeof(*p->rules));
}

static void
audit_clear(struct policy_audit *a)
{
	size_t	i;

	for (i = 0; i < a->nevents; i++)
		free(a->events[i]);
	free(a->events);
	a->events = NULL;
	a->nevents = 0;
}

/* Everything but the rules, the document name and the matchers. */
static void
settings_copy(struct policy *dst, const struct policy *src)
{
	size_t	i;

	dst->mode = src->mode;
	memcpy(dst->has_default, src->has_default, sizeof(dst->has_default));
	memcpy(dst->defaults, src->defaults, sizeof(dst->defaults));
	dst->net_rate_limit = src->net_rate_limit;
	dst->plugins_namespaces = src->plugins_namespaces;
	dst->plugins_landlock = src->plugins_landlock;
	dst->plugins_seccomp = src->plugins_seccomp;
	dst->res = src->res;
	audit_clear(&dst->audit);
	dst->audit.enabled = src->audit.enabled;
	dst->audit.required = src->audit.required;
	if (src->audit.nevents > 0) {
		dst->audit.events = xcalloc(src->audit.nevents,
		    sizeof(*dst->audit.events));
		for (i = 0; i < src->audit.nevents; i++)
			dst->audit.events[i] = xstrdup(src->audit.events[i]);
		dst->audit.nevents = src->audit.nevents;
	}
}

int
policy_add_rule(struct policy *p, unsigned int kind, unsigned int action,
    unsigned int layer, const char *value, const char *origin, char *err,
    size_t errlen)
{
	struct prule	*r;
	char		*norm = NULL;

	if (p->compiled) {
		(void)snprintf(err, errlen, "the policy is compiled; no rule "
		    "may be added");
		return -1;
	}
	if (kind >= PERM_MAX || action > PERM_WARN || layer >= LAYER_DEFAULT) {
		(void)snprintf(err, errlen, "bad rule (kind %u, action %u, "
		    "layer %u)", kind, action, layer);
		return -1;
	}
	if (value != NULL && strcmp(value, "*") != 0 &&
	    perm_value_normalise(kind, value, "/", &norm, err, errlen) == -1)
		return -1;
	rules_reserve(p, 1);
	r = &p->rules[p->nrules++];
	r->value = norm;
	r->kind = (uint8_t)kind;
	r->action = (uint8_t)action;
	r->layer = (uint8_t)layer;
	r->origin = xstrdup(origin != NULL ? origin : layer_name(layer));
	return 0;
}

const char *
layer_name(unsigned int layer)
{
	static const char *names[] = {
		"flag", "env", "policy", "runtime", "default"
	};

	return layer <= LAYER_DEFAULT ? names[layer] : "unknown";
}

const char *
action_name(unsigned int action)
{
	static const char *names[] = { "allow", "deny", "warn" };

	return action <= PERM_WARN ? names[action] : "unknown";
}

/* ---- the position scanner ------------------------------------------- */

static void
ps_init(struct pscan *ps, const char *s, size_t len)
{
	ps->s = s;
	ps->len = len;
	ps->i = 0;
	ps->line = 1;
	ps->ncp = 0;
}

static int
ps_peek(const struct pscan *ps)
{
	return ps->i < ps->len ? (unsigned char)ps->s[ps->i] : -1;
}

/* Columns count code points, as jansson's do. */
static void
ps_adv(struct pscan *ps)
{
	unsigned char	c;

	if (ps->i >= ps->len)
		return;
	c = (unsigned char)ps->s[ps->i++];
	if (c == '\n') {
		ps->line++;
		ps->ncp = 0;
	} else if ((c & 0xc0) != 0x80)
		ps->ncp++;
}

static void
ps_ws(struct pscan *ps)
{
	int	c;

	while ((c = ps_peek(ps)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		ps_adv(ps);
}

static void
ps_pos(const struct pscan *ps, struct lpos *pos)
{
	pos->line = ps->line;
	pos->col = ps->ncp + 1;
}

/* At '"': past the closing quote. */
static void
ps_skip_string(struct pscan *ps)
{
	int	c;

	ps_adv(ps);
	while ((c = ps_peek(ps)) != -1) {
		ps_adv(ps);
		if (c == '\\')
			ps_adv(ps);
		else if (c == '"')
			break;
	}
}

static void
ps_skip_value(struct pscan *ps)
{
	size_t	depth = 0;
	int	c;

	do {
		ps_ws(ps);
		if ((c = ps_peek(ps)) == -1)
			return;
		if (c == '"')
			ps_skip_string(ps);
		else if (c == '{' || c == '[') {
			depth++;
			ps_adv(ps);
		} else if (c == '}' || c == ']') {
			if (depth > 0)
				depth--;
			ps_adv(ps);
		} else if (c == ',' || c == ':')
			ps_adv(ps);
		else
			while ((c = ps_peek(ps)) != -1 &&
			    strchr(",:]} \t\r\n", c) == NULL)
				ps_adv(ps);
	} while (depth > 0);
}

static int
ps_hex4(struct pscan *ps, unsigned int *v)
{
	int	c, i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if ((c = ps_peek(ps)) == -1 || !isxdigit(c))
			return -1;
		*v = *v * 16 + (unsigned int)(isdigit(c) ? c - '0' :
		    tolower(c) - 'a' + 10);
		ps_adv(ps);
	}
	return 0;
}

/* At '"': the decoded string (malloc'd), as jansson decodes keys. */
static char *
ps_string(struct pscan *ps)
{
	struct pscan	 end = *ps;
	unsigned int	 cp, lo;
	char		*out, *o;
	int		 c;

	ps_skip_string(&end);
	o = out = xmalloc(end.i - ps->i + 1);
	ps_adv(ps);
	while ((c = ps_peek(ps)) != -1 && c != '"') {
		ps_adv(ps);
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		c = ps_peek(ps);
		ps_adv(ps);
		switch (c) {
		case 'b':
			*o++ = '\b';
			continue;
		case 'f':
			*o++ = '\f';
			continue;
		case 'n':
			*o++ = '\n';
			continue;
		case 'r':
			*o++ = '\r';
			continue;
		case 't':
			*o++ = '\t';
			continue;
		case 'u':
			break;
		default:
			*o++ = (char)c;
			continue;
		}
		if (ps_hex4(ps, &cp) == -1)
			break;
		if (cp >= 0xd800 && cp <= 0xdbff && ps_peek(ps) == '\\') {
			ps_adv(ps);
			ps_adv(ps);
			if (ps_hex4(ps, &lo) == -1)
				break;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (cp < 0x80)
			*o++ = (char)cp;
		else if (cp < 0x800) {
			*o++ = (char)(0xc0 | (cp >> 6));
			*o++ = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			*o++ = (char)(0xe0 | (cp >> 12));
			*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
			*o++ = (char)(0x80 | (cp & 0x3f));
		} else {
			*o++ = (char)(0xf0 | (cp >> 18));
			*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
			*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
			*o++ = (char)(0x80 | (cp & 0x3f));
		}
	}
	*o = '\0';
	*ps = end;
	return out;
}

/*
 * Walk to the value at the first depth segments of the loader's
 * pointer.  pos is where an error there is reported: the key of an
 * object member, the value of an array item or of the document.  The
 * scanner is left at the value.
 */
static int
ps_find(const struct loader *l, size_t depth, struct pscan *ps,
    struct lpos *pos)
{
	unsigned long	 want, n;
	size_t		 d;
	char		*key, *ep;
	int		 found;

	ps_init(ps, l->text, l->len);
	ps_ws(ps);
	ps_pos(ps, pos);
	for (d = 0; d < depth; d++) {
		if (ps_peek(ps) == '{') {
			ps_adv(ps);
			for (;;) {
				ps_ws(ps);
				if (ps_peek(ps) != '"')
					return -1;
				ps_pos(ps, pos);
				key = ps_string(ps);
				found = strcmp(key, l->seg[d]) == 0;
				free(key);
				ps_ws(ps);
				if (ps_peek(ps) != ':')
					return -1;
				ps_adv(ps);
				ps_ws(ps);
				if (found)
					break;
				ps_skip_value(ps);
				ps_ws(ps);
				if (ps_peek(ps) != ',')
					return -1;
				ps_adv(ps);
			}
		} else if (ps_peek(ps) == '[') {
			want = strtoul(l->seg[d], &ep, 10);
			if (*ep != '\0')
				return -1;
			ps_adv(ps);
			for (n = 0;; n++) {
				ps_ws(ps);
				if (ps_peek(ps) == ']' || ps_peek(ps) == -1)
					return -1;
				if (n == want) {
					ps_pos(ps, pos);
					break;
				}
				ps_skip_value(ps);
				ps_ws(ps);
				if (ps_peek(ps) != ',')
					return -1;
				ps_adv(ps);
			}
		} else
			return -1;
	}
	return 0;
}

/* Positions of the n items of the array at the loader's pointer. */
static void
ps_items(const struct loader *l, struct lpos *pos, size_t n)
{
	struct pscan	ps;
	struct lpos	at;
	size_t		i;

	memset(pos, 0, n * sizeof(*pos));
	if (ps_find(l, l->depth, &ps, &at) == -1 || ps_peek(&ps) != '[')
		return;
	ps_adv(&ps);
	for (i = 0; i < n; i++) {
		ps_ws(&ps);
		ps_pos(&ps, &pos[i]);
		ps_skip_value(&ps);
		ps_ws(&ps);
		if (ps_peek(&ps) != ',')
			break;
		ps_adv(&ps);
	}
}

/* ---- errors and typed values ---------------------------------------- */

/* A string from a document, fit for a message: escaped, bounded. */
static void
quote(const char *s, char *buf, size_t len)
{
	size_t	o = 0;
	int	c;

	for (; *s != '\0' && o + 8 < len; s++) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\u%04x", c);
		else
			buf[o++] = (char)c;
	}
	if (*s != '\0' && o + 4 <= len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* The loader's JSON pointer (RFC 6901), for messages. */
static void
lpointer(const struct loader *l, char *buf, size_t len)
{
	char	 q[128], *p;
	size_t	 d, o = 0;

	buf[0] = '\0';
	for (d = 0; d < l->depth && o + 1 < len; d++) {
		buf[o++] = '/';
		quote(l->seg[d], q, sizeof(q));
		for (p = q; *p != '\0' && o + 3 < len; p++) {
			if (*p == '~' || *p == '/') {
				buf[o++] = '~';
				buf[o++] = *p == '~' ? '0' : '1';
			} else
				buf[o++] = *p;
		}
		buf[o] = '\0';
	}
}

static int
lerr(struct loader *l, const char *fmt, ...)
{
	struct pscan	ps;
	struct lpos	pos;
	va_list		ap;
	char		msg[512], ptr[256];

	if (ps_find(l, l->depth, &ps, &pos) == -1)
		pos.line = pos.col = 0;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lpointer(l, ptr, sizeof(ptr));
	if (l->depth == 0)
		(void)snprintf(l->err, l->errlen, "%s:%d:%d: %s", l->name,
		    pos.line, pos.col, msg);
	else
		(void)snprintf(l->err, l->errlen, "%s:%d:%d: %s: %s", l->name,
		    pos.line, pos.col, ptr, msg);
	return -1;
}

static void
lpush(struct loader *l, const char *key)
{
	if (l->depth >= LOAD_DEPTH)
		fatalx("%s: too deep", __func__);
	l->seg[l->depth++] = key;
}

static void
lpush_index(struct loader *l, size_t i)
{
	if (l->depth >= LOAD_DEPTH)
		fatalx("%s: too deep", __func__);
	(void)snprintf(l->idx[l->depth], sizeof(l->idx[l->depth]), "%zu", i);
	l->seg[l->depth] = l->idx[l->depth];
	l->depth++;
}

static void
lpop(struct loader *l)
{
	l->depth--;
}

static const char *
jtype(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

static int
want(struct loader *l, json_t *v, json_type type, const char *what)
{
	if (json_typeof(v) == type)
		return 0;
	return lerr(l, "expected %s, got %s", what, jtype(v));
}

static int
get_bool(struct loader *l, json_t *v, int *out)
{
	if (!json_is_boolean(v))
		return lerr(l, "expected a boolean, got %s", jtype(v));
	*out = json_is_true(v);
	return 0;
}

static int
get_int(struct loader *l, json_t *v, json_int_t min, json_int_t max,
    json_int_t *out)
{
	json_int_t	n;

	if (want(l, v, JSON_INTEGER, "an integer") == -1)
		return -1;
	n = json_integer_value(v);
	if (n < min || n > max)
		return lerr(l, "%" JSON_INTEGER_FORMAT " is out of range "
		    "(%" JSON_INTEGER_FORMAT "-%" JSON_INTEGER_FORMAT ")", n,
		    min, max);
	*out = n;
	return 0;
}

/* A size: a parse_size() string, or an integer of MiB. */
static int
get_size(struct loader *l, json_t *v, uint64_t *out)
{
	const char	*errstr;
	json_int_t	 n;
	char		 q[128];

	if (json_is_integer(v)) {
		if (get_int(l, v, 0, MAX_MIB, &n) == -1)
			return -1;
		*out = (uint64_t)n << 20;
		return 0;
	}
	if (!json_is_string(v))
		return lerr(l, "expected a size (\"512mb\", or an integer of "
		    "MiB), got %s", jtype(v));
	if (parse_size(json_string_value(v), out, &errstr) == -1) {
		quote(json_string_value(v), q, sizeof(q));
		return lerr(l, "bad size \"%s\": %s", q, errstr);
	}
	return 0;
}

/* A duration: a parse_duration() string, or an integer of seconds. */
static int
get_duration(struct loader *l, json_t *v, uint64_t *ms)
{
	const char	*errstr;
	json_int_t	 n;
	char		 q[128];

	if (json_is_integer(v)) {
		if (get_int(l, v, 0, MAX_SECONDS, &n) == -1)
			return -1;
		*ms = (uint64_t)n * 1000;
		return 0;
	}
	if (!json_is_string(v))
		return lerr(l, "expected a duration (\"30s\", or an integer of "
		    "seconds), got %s", jtype(v));
	if (parse_duration(json_string_value(v), ms, &errstr) == -1) {
		quote(json_string_value(v), q, sizeof(q));
		return lerr(l, "bad duration \"%s\": %s", q, errstr);
	}
	return 0;
}

static int
get_mode(struct loader *l, json_t *v)
{
	const char	*s;
	char		 q[128];

	if (want(l, v, JSON_STRING, "a string") == -1)
		return -1;
	s = json_string_value(v);
	if (strcmp(s, "strict") == 0)
		l->t->mode = MODE_STRICT;
	else if (strcmp(s, "monitor") == 0)
		l->t->mode = MODE_MONITOR;
	else {
		quote(s, q, sizeof(q));
		return lerr(l, "unknown mode \"%s\" (strict or monitor)", q);
	}
	return 0;
}

static int
get_action(struct loader *l, json_t *v, unsigned int *action)
{
	const char	*s;
	char		 q[128];

	if (want(l, v, JSON_STRING, "a string") == -1)
		return -1;
	s = json_string_value(v);
	if (strcmp(s, "allow") == 0)
		*action = PERM_ALLOW;
	else if (strcmp(s, "deny") == 0)
		*action = PERM_DENY;
	else if (strcmp(s, "warn") == 0)
		*action = PERM_WARN;
	else {
		quote(s, q, sizeof(q));
		return lerr(l, "unknown action \"%s\" (allow, deny or warn)", q);
	}
	return 0;
}

/* The default of the kinds in bits, from the member at the pointer. */
static int
set_default(struct loader *l, unsigned int bits, unsigned int action)
{
	unsigned int	k;
	char		ptr[64];

	lpointer(l, ptr, sizeof(ptr));
	for (k = 0; k < PERM_MAX; k++) {
		if ((bits & KIND_BIT(k)) == 0)
			continue;
		if (l->defset[k][0] != '\0' && l->t->defaults[k] != action)
			return lerr(l, "conflicts with %s (the %s default "
			    "would be both %s and %s)", l->defset[k],
			    perm_kind_name(k), action_name(l->t->defaults[k]),
			    action_name(action));
		l->t->has_default[k] = 1;
		l->t->defaults[k] = (uint8_t)action;
		(void)snprintf(l->defset[k], sizeof(l->defset[k]), "%s", ptr);
	}
	return 0;
}

/* ---- the version 1 document ----------------------------------------- */

/*
 * A list of values for the kinds in bits.  apply 0 checks the values
 * without adding rules (a SandboxConfig list that is switched off).
 */
static int
load_list(struct loader *l, json_t *v, unsigned int bits,
    unsigned int action, int apply)
{
	struct lpos	*pos;
	json_t	*item;
	const char	*s;
	char		 origin[512], why[256], q[128], *norm;
	unsigned int	 k;
	size_t		 i, n;
	int		 rv = -1;

	if (want(l, v, JSON_ARRAY, "an array of strings") == -1)
		return -1;
	if ((n = json_array_size(v)) == 0)
		return 0;
	pos = xcalloc(n, sizeof(*pos));
	ps_items(l, pos, n);
	json_array_foreach(v, i, item) {
		lpush_index(l, i);
		if (want(l, item, JSON_STRING, "a string") == -1)
			goto done;
		s = json_string_value(item);
		(void)snprintf(origin, sizeof(origin), "%s:%d:%d", l->name,
		    pos[i].line, pos[i].col);
		for (k = 0; k < PERM_MAX; k++) {
			if ((bits & KIND_BIT(k)) == 0)
				continue;
			/* Documents have no working directory. */
			if (s[0] != '/' && strcmp(s, "*") != 0 &&
			    (k == PERM_READ || k == PERM_WRITE ||
			    k == PERM_FFI || (k == PERM_RUN &&
			    strchr(s, '/') != NULL))) {
				quote(s, q, sizeof(q));
				lerr(l, "path must be absolute: \"%s\"", q);
				goto done;
			}
			if (apply) {
				if (policy_add_rule(l->t, k, action,
				    LAYER_POLICY, s, origin, why,
				    sizeof(why)) == -1) {
					lerr(l, "%s", why);
					goto done;
				}
			} else if (strcmp(s, "*") != 0) {
				if (perm_value_normalise(k, s, "/", &norm, why,
				    sizeof(why)) == -1) {
					lerr(l, "%s", why);
					goto done;
				}
				free(norm);
			}
		}
		lpop(l);
	}
	rv = 0;
 done:
	free(pos);
	return rv;
}

static int
load_plugins(struct loader *l, json_t *v)
{
	const char	*key;
	json_t	*m;
	int		*flag;

	if (want(l, v, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(v, key, m) {
		lpush(l, key);
		if (strcmp(key, "namespaces") == 0)
			flag = &l->t->plugins_namespaces;
		else if (strcmp(key, "landlock") == 0)
			flag = &l->t->plugins_landlock;
		else if (strcmp(key, "seccomp") == 0)
			flag = &l->t->plugins_seccomp;
		else
			return lerr(l, "unknown key (expected namespaces, "
			    "landlock or seccomp)");
		if (get_bool(l, m, flag) == -1)
			return -1;
		lpop(l);
	}
	return 0;
}

static int
load_defaults(struct loader *l, json_t *v)
{
	const char	*key;
	json_t	*m;
	unsigned int	 action = PERM_DENY;
	size_t		 i;

	if (want(l, v, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(v, key, m) {
		lpush(l, key);
		for (i = 0; i < sizeof(doc_kinds) / sizeof(doc_kinds[0]); i++)
			if (strcmp(key, doc_kinds[i].name) == 0)
				break;
		if (i == sizeof(doc_kinds) / sizeof(doc_kinds[0]))
			return lerr(l, "unknown key (expected a kind: "
			    KINDS_EXPECTED ")");
		if (get_action(l, m, &action) == -1 ||
		    set_default(l, doc_kinds[i].bits, action) == -1)
			return -1;
		lpop(l);
	}
	return 0;
}

/* rules.KIND: allow, deny, warn; net: mode, rate_limit; fs: mode. */
static int
load_kind(struct loader *l, const char *kname, unsigned int bits,
    json_t *v)
{
	const char	*key, *s, *expect;
	json_t	*m;
	json_int_t	 n;
	unsigned int	 grant = bits, def;
	char		 q[128];
	int		 is_net, is_fs;

	is_net = strcmp(kname, "net") == 0;
	is_fs = strcmp(kname, "fs") == 0;
	expect = is_net ? "allow, deny, warn, mode or rate_limit" :
	    is_fs ? "allow, deny, warn or mode" : "allow, deny or warn";
	if (want(l, v, JSON_OBJECT, "an object") == -1)
		return -1;
	/* The mode first: it says what fs's lists grant. */
	if ((is_net || is_fs) &&
	    (m = json_object_get(v, "mode")) != NULL) {
		lpush(l, "mode");
		if (want(l, m, JSON_STRING, "a string") == -1)
			return -1;
		s = json_string_value(m);
		quote(s, q, sizeof(q));
		if (is_net) {
			if (strcmp(s, "allow") == 0)
				def = PERM_DENY;	/* an allow list */
			else if (strcmp(s, "deny") == 0)
				def = PERM_ALLOW;	/* a deny list */
			else
				return lerr(l, "unknown net mode \"%s\" "
				    "(allow: unlisted hosts are denied, deny: "
				    "unlisted hosts are allowed)", q);
			if (set_default(l, bits, def) == -1)
				return -1;
		} else {
			if (strcmp(s, "read") == 0)
				grant = KIND_BIT(PERM_READ);
			else if (strcmp(s, "write") != 0 &&
			    strcmp(s, "readwrite") != 0)
				return lerr(l, "unknown fs mode \"%s\" (read, "
				    "write or readwrite)", q);
		}
		lpop(l);
	}
	json_object_foreach(v, key, m) {
		lpush(l, key);
		if (strcmp(key, "allow") == 0) {
			if (load_list(l, m, grant, PERM_ALLOW, 1) == -1)
				return -1;
		} else if (strcmp(key, "deny") == 0) {
			if (load_list(l, m, bits, PERM_DENY, 1) == -1)
				return -1;
		} else if (strcmp(key, "warn") == 0) {
			if (load_list(l, m, grant, PERM_WARN, 1) == -1)
				return -1;
		} else if (strcmp(key, "mode") == 0 && (is_net || is_fs)) {
			/* done above */
		} else if (strcmp(key, "rate_limit") == 0 && is_net) {
			if (get_int(l, m, 0, MAX_RATE, &n) == -1)
				return -1;
			l->t->net_rate_limit = (int)n;
		} else
			return lerr(l, "unknown key (expected %s)", expect);
		lpop(l);
	}
	return 0;
}

static int
load_rules(struct loader *l, json_t *v)
{
	const char	*key;
	json_t	*m;
	size_t		 i;

	if (want(l, v, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(v, key, m) {
		lpush(l, key);
		for (i = 0; i < sizeof(doc_kinds) / sizeof(doc_kinds[0]); i++)
			if (strcmp(key, doc_kinds[i].name) == 0)
				break;
		if (i == sizeof(doc_kinds) / sizeof(doc_kinds[0]))
			return lerr(l, "unknown key (expected a kind: "
			    KINDS_EXPECTED ")");
		if (load_kind(l, key, doc_kinds[i].bits, m) == -1)
			return -1;
		lpop(l);
	}
	return 0;
}

static int
load_resources(struct loader *l, json_t *v)
{
	struct policy_resources	*res = &l->t->res;
	const char		*key;
	json_t		*m;
	json_int_t		 n;

	if (want(l, v, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(v, key, m) {
		lpush(l, key);
		if (strcmp(key, "memory") == 0) {
			if (get_size(l, m, &res->memory) == -1)
				return -1;
		} else if (strcmp(key, "tmpfs") == 0) {
			if (get_size(l, m, &res->tmpfs) == -1)
				return -1;
		} else if (strcmp(key, "timeout") == 0) {
			if (get_duration(l, m, &res->timeout_ms) == -1)
				return -1;
		} else if (strcmp(key, "cpu") == 0) {
			if (get_int(l, m, 0, MAX_CPU, &n) == -1)
				return -1;
			res->cpu_pct = (uint32_t)n;
		} else if (strcmp(key, "pids") == 0) {
			if (get_int(l, m, 0, MAX_PIDS, &n) == -1)
				return -1;
			res->pids = (uint32_t)n;
		} else
			return lerr(l, "unknown key (expected memory, cpu, "
			    "pids, timeout or tmpfs)");
		lpop(l);
	}
	return 0;
}

static int
load_audit(struct loader *l, json_t *v)
{
	struct policy_audit	*a = &l->t->audit;
	const char		*key, *s;
	json_t		*m, *e;
	char			 q[128];
	size_t			 i, j;

	if (want(l, v, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(v, key, m) {
		lpush(l, key);
		if (strcmp(key, "enabled") == 0) {
			if (get_bool(l, m, &a->enabled) == -1)
				return -1;
		} else if (strcmp(key, "required") == 0) {
			if (get_bool(l, m, &a->required) == -1)
				return -1;
		} else if (strcmp(key, "events") == 0) {
			if (want(l, m, JSON_ARRAY, "an array of system call "
			    "names") == -1)
				return -1;
			if (json_array_size(m) > MAX_EVENTS)
				return lerr(l, "too many events (at most %d)",
				    MAX_EVENTS);
			json_array_foreach(m, i, e) {
				lpush_index(l, i);
				if (want(l, e, JSON_STRING, "a string") == -1)
					return -1;
				s = json_string_value(e);
				quote(s, q, sizeof(q));
				if (s[0] == '\0' || strlen(s) > MAX_EVENT ||
				    strspn(s, "abcdefghijklmnopqrstuvwxyz"
				    "0123456789_") != strlen(s) ||
				    isdigit((unsigned char)s[0]))
					return lerr(l, "bad system call name "
					    "\"%s\" (a lowercase identifier)",
					    q);
				for (j = 0; j < i; j++)
					if (strcmp(s, json_string_value(
					    json_array_get(m, j))) == 0)
						return lerr(l, "\"%s\" is "
						    "already listed", q);
				lpop(l);
			}
			audit_clear(a);
			if ((a->nevents = json_array_size(m)) > 0)
				a->events = xcalloc(a->nevents,
				    sizeof(*a->events));
			json_array_foreach(m, i, e)
				a->events[i] = xstrdup(json_string_value(e));
		} else
			return lerr(l, "unknown key (expected enabled, "
			    "required or events)");
		lpop(l);
	}
	if (a->required && !a->enabled)
		return lerr(l, "audit is required but not enabled");
	return 0;
}

static int
load_v1(struct loader *l, json_t *root)
{
	const char	*key;
	json_t	*v;
	int		 rv;

	lpush(l, "version");
	v = json_object_get(root, "version");
	if (want(l, v, JSON_INTEGER, "an integer") == -1)
		return -1;
	if (json_integer_value(v) != 1)
		return lerr(l, "unsupported version %" JSON_INTEGER_FORMAT
		    " (this podrunner reads version 1)", json_integer_value(v));
	lpop(l);
	json_object_foreach(root, key, v) {
		lpush(l, key);
		if (strcmp(key, "version") == 0)
			rv = 0;
		else if (strcmp(key, "$schema") == 0)
			rv = want(l, v, JSON_STRING, "a string");
		else if (strcmp(key, "mode") == 0)
			rv = get_mode(l, v);
		else if (strcmp(key, "plugins") == 0)
			rv = load_plugins(l, v);
		else if (strcmp(key, "defaults") == 0)
			rv = load_defaults(l, v);
		else if (strcmp(key, "rules") == 0)
			rv = load_rules(l, v);
		else if (strcmp(key, "resources") == 0)
			rv = load_resources(l, v);
		else if (strcmp(key, "audit") == 0)
			rv = load_audit(l, v);
		else
			rv = lerr(l, "unknown key (a version 1 document has "
			    "version, $schema, mode, plugins, defaults, rules, "
			    "resources and audit)");
		if (rv == -1)
			return -1;
		lpop(l);
	}
	return 0;
}

/* ---- the seeds' SandboxConfig --------------------------------------- */

static int
load_security(struct loader *l, json_t *v)
{
	const char	*key;
	json_t	*m;

	if (want(l, v, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(v, key, m) {
		lpush(l, key);
		if (strcmp(key, "mode") != 0)
			return lerr(l, "unknown key (expected mode)");
		if (get_mode(l, m) == -1)
			return -1;
		lpop(l);
	}
	return 0;
}

static int
load_network(struct loader *l, json_t *v)
{
	const char	*key, *s;
	json_t	*m;
	json_int_t	 n;
	char		 q[128];
	int		 enabled = 1, allow_list = 1;

	if (want(l, v, JSON_OBJECT, "an object") == -1)
		return -1;
	/* Whether allow_list applies, before the lists. */
	if ((m = json_object_get(v, "enabled")) != NULL) {
		lpush(l, "enabled");
		if (get_bool(l, m, &enabled) == -1)
			return -1;
		lpop(l);
	}
	if ((m = json_object_get(v, "policy")) != NULL) {
		lpush(l, "policy");
		if (want(l, m, JSON_STRING, "a string") == -1)
			return -1;
		s = json_string_value(m);
		if (strcmp(s, "deny_all") == 0)
			allow_list = 0;
		else if (strcmp(s, "allow_list") != 0) {
			quote(s, q, sizeof(q));
			return lerr(l, "unknown network policy \"%s\" "
			    "(allow_list or deny_all)", q);
		}
		lpop(l);
	}
	if (set_default(l, KIND_BIT(PERM_NET), PERM_DENY) == -1)
		return -1;
	json_object_foreach(v, key, m) {
		lpush(l, key);
		if (strcmp(key, "enabled") == 0 || strcmp(key, "policy") == 0) {
			/* done above */
		} else if (strcmp(key, "allow_list") == 0) {
			if (load_list(l, m, KIND_BIT(PERM_NET), PERM_ALLOW,
			    enabled && allow_list) == -1)
				return -1;
		} else if (strcmp(key, "deny_list") == 0) {
			if (load_list(l, m, KIND_BIT(PERM_NET), PERM_DENY,
			    1) == -1)
				return -1;
		} else if (strcmp(key, "rate_limit") == 0) {
			if (get_int(l, m, 0, MAX_RATE, &n) == -1)
				return -1;
			l->t->net_rate_limit = (int)n;
		} else
			return lerr(l, "unknown key (expected enabled, policy, "
			    "allow_list, deny_list or rate_limit)");
		lpop(l);
	}
	return 0;
}

static int
load_filesystem(struct loader *l, json_t *v)
{
	const char	*key;
	json_t	*m;
	int		 w = 0;

	if (want(l, v, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(v, key, m) {
		lpush(l, key);
		if (strcmp(key, "allow_write") != 0)
			return lerr(l, "unknown key (expected allow_write)");
		if (get_bool(l, m, &w) == -1 ||
		    set_default(l, KIND_BIT(PERM_WRITE),
		    w ? PERM_ALLOW : PERM_DENY) == -1)
			return -1;
		lpop(l);
	}
	return 0;
}

static int
load_sc_resources(struct loader *l, json_t *v)
{
	const char	*key;
	json_t	*m;
	json_int_t	 n;

	if (want(l, v, JSON_OBJECT, "an object") == -1)
		return -1;
	json_object_foreach(v, key, m) {
		lpush(l, key);
		if (strcmp(key, "memory_limit") == 0) {
			if (get_int(l, m, 0, MAX_MIB, &n) == -1)
				return -1;
			l->t->res.memory = (uint64_t)n << 20;
		} else if (strcmp(key, "cpu_limit") == 0) {
			if (get_int(l, m, 0, MAX_CPU, &n) == -1)
				return -1;
			l->t->res.cpu_pct = (uint32_t)n;
		} else
			return lerr(l, "unknown key (expected memory_limit or "
			    "cpu_limit)");
		lpop(l);
	}
	return 0;
}

static int
load_sandboxconfig(struct loader *l, json_t *root)
{
	const char	*key;
	json_t	*v;
	int		 rv;

	json_object_foreach(root, key, v) {
		lpush(l, key);
		if (strcmp(key, "security") == 0)
			rv = load_security(l, v);
		else if (strcmp(key, "network") == 0)
			rv = load_network(l, v);
		else if (strcmp(key, "filesystem") == 0)
			rv = load_filesystem(l, v);
		else if (strcmp(key, "resources") == 0)
			rv = load_sc_resources(l, v);
		else
			rv = lerr(l, "unknown key (a SandboxConfig has "
			    "security, network, filesystem and resources; a "
			    "version 1 document needs \"version\": 1)");
		if (rv == -1)
			return -1;
		lpop(l);
	}
	return 0;
}

int
policy_load(struct policy *p, const char *name, const char *text, size_t len,
    char *err, size_t errlen)
{
	struct loader	 l;
	struct policy	*t;
	json_error_t	 je;
	json_t		*root;
	int		 rv;

	if (name == NULL)
		name = "policy";
	if (p->compiled) {
		(void)snprintf(err, errlen, "%s: the policy is compiled; no "
		    "document may be loaded", name);
		return -1;
	}
	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		(void)snprintf(err, errlen, "%s:%d:%d: %s", name, je.line,
		    je.column, je.text);
		return -1;
	}
	memset(&l, 0, sizeof(l));
	l.name = name;
	l.text = text;
	l.len = len;
	l.err = err;
	l.errlen = errlen;
	l.t = t = policy_new();
	settings_copy(t, p);

	if (!json_is_object(root))
		rv = lerr(&l, "the document must be a JSON object");
	else if (json_object_get(root, "version") != NULL)
		rv = load_v1(&l, root);
	else if (json_object_get(root, "security") != NULL ||
	    json_object_get(root, "network") != NULL ||
	    json_object_get(root, "filesystem") != NULL)
		rv = load_sandboxconfig(&l, root);
	else
		rv = lerr(&l, "not a policy document: a version 1 policy has "
		    "\"version\": 1, a SandboxConfig has \"security\", "
		    "\"network\" or \"filesystem\"");
	json_decref(root);

	if (rv == 0) {
		settings_copy(p, t);
		rules_reserve(p, t->nrules);
		if (t->nrules > 0)
			memcpy(p->rules + p->nrules, t->rules,
			    t->nrules * sizeof(*t->rules));
		p->nrules += t->nrules;
		t->nrules = 0;
		free(p->document);
		p->document = xstrdup(name);
	}
	policy_free(t);
	return rv;
}

/* ---- back to a document --------------------------------------------- */

static const char *
fmt_doc_size(uint64_t v, char *buf, size_t len)
{
	if (v % (1ULL << 30) == 0)
		(void)snprintf(buf, len, "%" PRIu64 "gb", v >> 30);
	else if (v % (1ULL << 20) == 0)
		(void)snprintf(buf, len, "%" PRIu64 "mb", v >> 20);
	else if (v % (1ULL << 10) == 0)
		(void)snprintf(buf, len, "%" PRIu64 "kb", v >> 10);
	else
		(void)snprintf(buf, len, "%" PRIu64 "b", v);
	return buf;
}

static const char *
fmt_doc_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms % 3600000 == 0)
		(void)snprintf(buf, len, "%" PRIu64 "h", ms / 3600000);
	else if (ms % 60000 == 0)
		(void)snprintf(buf, len, "%" PRIu64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		(void)snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
	else
		(void)snprintf(buf, len, "%" PRIu64 "ms", ms);
	return buf;
}

/* A JSON string; *bad is set if s is not UTF-8 (a flag's raw bytes). */
static json_t *
jstr(const char *s, int *bad)
{
	json_t	*j;

	if ((j = json_string(s)) == NULL) {
		*bad = 1;
		return json_null();
	}
	return j;
}

/*
 * NULL if a value or origin is not UTF-8, which JSON cannot carry
 * (a path given as a flag can be any bytes).
 */
/* deny > warn > allow, inside one layer. */
static int
strength(unsigned int action)
{
	return action == PERM_DENY ? 2 : action == PERM_WARN ? 1 : 0;
}

json_t *
policy_to_json(const struct policy *p, int with_origin)
{
	const struct prule	*r;
	json_t			*doc, *defaults, *rules, *kr, *lists[3], *item;
	json_t			*res, *audit, *events;
	unsigned int		 k, top, def;
	size_t			 i;
	char			 buf[64];
	int			 bad = 0;

	doc = json_object();
	json_object_set_new(doc, "version", json_integer(1));
	if (with_origin)
		json_object_set_new(doc, "document", p->document != NULL ?
		    jstr(p->document, &bad) : json_null());
	json_object_set_new(doc, "mode", json_string(p->mode == MODE_MONITOR ?
	    "monitor" : "strict"));
	json_object_set_new(doc, "plugins", json_pack("{s:b, s:b, s:b}",
	    "namespaces", p->plugins_namespaces, "landlock",
	    p->plugins_landlock, "seccomp", p->plugins_seccomp));
	defaults = json_object();
	rules = json_object();
	for (k = 0; k < PERM_MAX; k++) {
		/* The highest flag or POD_* layer naming the whole kind. */
		top = LAYER_DEFAULT;
		def = p->has_default[k] ? p->defaults[k] : PERM_DENY;
		for (i = 0; !with_origin && i < p->nrules; i++) {
			r = &p->rules[i];
			if (r->kind != k || r->value != NULL ||
			    r->layer > LAYER_ENV)
				continue;
			if (r->layer < top) {
				top = r->layer;
				def = r->action;
			} else if (r->layer == top && (r->action == PERM_DENY ||
			    (r->action == PERM_WARN && def == PERM_ALLOW)))
				def = r->action;
		}
		json_object_set_new(defaults, perm_kind_name(k),
		    json_string(action_name(def)));
		for (i = 0; i < 3; i++)
			lists[i] = json_array();
		for (i = 0; i < p->nrules; i++) {
			r = &p->rules[i];
			if (r->kind != k)
				continue;
			/*
			 * Flattened, a rule of the whole kind's layer that
			 * the whole-kind rule beats (deny > warn > allow in
			 * one layer) would win over the default: drop it.
			 */
			if (!with_origin && (r->layer == LAYER_RUNTIME ||
			    r->layer > top ||
			    (r->layer == top && (r->value == NULL ||
			    strength(r->action) < strength(def)))))
				continue;
			item = jstr(r->value != NULL ? r->value : "*", &bad);
			if (with_origin)
				item = json_pack("{s:o, s:s, s:o}", "value",
				    item, "layer", layer_name(r->layer),
				    "origin", jstr(r->origin, &bad));
			json_array_append_new(lists[r->action], item);
		}
		kr = json_object();
		json_object_set_new(kr, "allow", lists[PERM_ALLOW]);
		json_object_set_new(kr, "deny", lists[PERM_DENY]);
		json_object_set_new(kr, "warn", lists[PERM_WARN]);
		if (k == PERM_NET && p->net_rate_limit > 0)
			json_object_set_new(kr, "rate_limit",
			    json_integer(p->net_rate_limit));
		json_object_set_new(rules, perm_kind_name(k), kr);
	}
	json_object_set_new(doc, "defaults", defaults);
	json_object_set_new(doc, "rules", rules);

	res = json_object();
	if (p->res.memory > 0)
		json_object_set_new(res, "memory", json_string(
		    fmt_doc_size(p->res.memory, buf, sizeof(buf))));
	if (p->res.cpu_pct > 0)
		json_object_set_new(res, "cpu", json_integer(p->res.cpu_pct));
	if (p->res.pids > 0)
		json_object_set_new(res, "pids", json_integer(p->res.pids));
	if (p->res.timeout_ms > 0)
		json_object_set_new(res, "timeout", json_string(
		    fmt_doc_duration(p->res.timeout_ms, buf, sizeof(buf))));
	if (p->res.tmpfs > 0)
		json_object_set_new(res, "tmpfs", json_string(
		    fmt_doc_size(p->res.tmpfs, buf, sizeof(buf))));
	json_object_set_new(doc, "resources", res);

	events = json_array();
	for (i = 0; i < p->audit.nevents; i++)
		json_array_append_new(events, jstr(p->audit.events[i], &bad));
	audit = json_pack("{s:b, s:b, s:o}", "enabled", p->audit.enabled,
	    "required", p->audit.required, "events", events);
	json_object_set_new(doc, "audit", audit);
	if (bad) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}
