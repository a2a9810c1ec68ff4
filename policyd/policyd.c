/*
 * policyd: the policy decision engine as a process.  Unprivileged,
 * chrooted, no network.  The parent sends it the layers (flags, POD_*
 * variables, the runtime's needs) and the document; policyd normalises
 * them once (policy.c), compiles the matchers (match.c), tells the
 * parent the result (policy-loaded) and which of its environment
 * variables the worker may see, then answers IMSG_POLICY_DECIDE from
 * pod relays and the proxy, and explain.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "perm.h"
#include "policy.h"
#include "policy_imsg.h"
#include "policyd.h"
#include "privsep.h"
#include "proto.h"
#include "util.h"

#define POLICY_MAX_SIZE		(1024 * 1024)
#define TARGET_MAX		4096
#define EXPLAIN_MAX		(2 * 1024 * 1024)

/* A channel that asks for decisions: a pod relay or the proxy. */
struct asker {
	TAILQ_ENTRY(asker)	 entry;
	struct imsgev		 iev;
	uint32_t		 pod;	/* 0 for the proxy */
	char			 podid[17];	/* the pod's name, for logs */
};

static const char	*pod_name(uint32_t);

static int	policyd_dispatch_parent(struct imsg *);
static int	policyd_config_done(char *, size_t);
static void	asker_handler(int, short, void *);
static void	explain(int);
static void	resources_settle(void);

static struct child		 policyd_child;
static struct policy		*pol;
static TAILQ_HEAD(, asker)	 askers = TAILQ_HEAD_INITIALIZER(askers);
static char			 cfg_error[2048];
static char			**envnames;
static size_t			 nenvnames;
static struct cfg_resources	 res_flags;	/* limits given as flags */

/* Peers: the parent, the proxy, one channel per pod relay. */

__dead void
policyd_main(void)
{
	struct privsep_user	pu;
	char			err[256];

	if (priv_lookup_user(&pu, err, sizeof(err)) == -1)
		fatalx("%s", err);
	child_init(&policyd_child, "policyd");
	policyd_child.dispatch = policyd_dispatch_parent;
	policyd_child.config_done = policyd_config_done;
	pol = policy_new();
	priv_confine("policyd", &pu, NULL, 0);
	/* Decisions need no syscall beyond the daemon base set. */
	priv_seccomp_allowlist("policyd", NULL, 0);
	child_loop();
}

static struct asker *
asker_add(int fd, uint32_t pod, const char *name)
{
	struct asker	*a;

	a = xcalloc(1, sizeof(*a));
	a->pod = pod;
	imsgev_init(&a->iev, fd, name, asker_handler, a);
	TAILQ_INSERT_TAIL(&askers, a, entry);
	imsgev_add(&a->iev);
	return a;
}

/* The name of pod number id, from its relay's channel; "-" if none. */
static const char *
pod_name(uint32_t id)
{
	struct asker	*a;

	TAILQ_FOREACH(a, &askers, entry)
		if (a->pod == id && a->pod != 0 && a->podid[0] != '\0')
			return a->podid;
	return "-";
}

static void
asker_remove(struct asker *a)
{
	TAILQ_REMOVE(&askers, a, entry);
	imsgev_clear(&a->iev);
	free(a);
}

/* Keep the first configuration error; the parent stops on it. */
static void
cfg_fail(const char *msg)
{
	if (cfg_error[0] == '\0')
		(void)snprintf(cfg_error, sizeof(cfg_error), "%s", msg);
}

/* "--allow-net", "POD_DENY_ENV", "runtime" */
static void
origin_of(const struct cfg_perm *cp, char *buf, size_t len)
{
	char	kind[16];
	size_t	i;

	switch (cp->layer) {
	case LAYER_FLAG:
		(void)snprintf(buf, len, "--%s-%s",
		    cp->action == PERM_DENY ? "deny" : "allow",
		    perm_kind_name(cp->kind));
		break;
	case LAYER_ENV:
		(void)snprintf(kind, sizeof(kind), "%s",
		    perm_kind_name(cp->kind));
		for (i = 0; kind[i] != '\0'; i++)
			kind[i] = (char)(kind[i] - 'a' + 'A');
		(void)snprintf(buf, len, "POD_%s_%s",
		    cp->action == PERM_DENY ? "DENY" : "ALLOW", kind);
		break;
	default:
		(void)snprintf(buf, len, "runtime");
		break;
	}
}

static int
add_perm(struct imsg *imsg)
{
	struct cfg_perm	 cp;
	struct ibuf	 b;
	char		*value = NULL, origin[64], err[512], msg[700];

	if (imsg_get_ibuf(imsg, &b) == -1 ||
	    ibuf_get(&b, &cp, sizeof(cp)) == -1 ||
	    ibuf_get_string(&b, &value, TARGET_MAX) == -1 ||
	    ibuf_size(&b) != 0 || cp.kind >= PERM_MAX ||
	    cp.action > PERM_DENY || cp.all > 1 ||
	    (cp.layer != LAYER_FLAG && cp.layer != LAYER_ENV &&
	    cp.layer != LAYER_RUNTIME) ||
	    (cp.all && value[0] != '\0') || (!cp.all && value[0] == '\0')) {
		free(value);
		return -1;
	}
	origin_of(&cp, origin, sizeof(origin));
	if (policy_add_rule(pol, cp.kind, cp.action, cp.layer,
	    cp.all ? NULL : value, origin, err, sizeof(err)) == -1) {
		(void)snprintf(msg, sizeof(msg), "%s: %s", origin, err);
		cfg_fail(msg);
	}
	free(value);
	return 0;
}

static void
load_document(const char *name, const char *text, size_t len)
{
	char	err[1024];

	if (policy_load(pol, name, text, len, err, sizeof(err)) == -1)
		cfg_fail(err);
}

static int
policyd_dispatch_parent(struct imsg *imsg)
{
	struct asker	*a;
	unsigned char	*decoded;
	char		 name[512], *buf, *b64, podid[17];
	size_t		 len;
	uint32_t	 peer, json;
	ssize_t		 n;
	int		 fd;

	switch (imsg_get_type(imsg)) {
	case IMSG_CFG_PEER:
		if (imsg_get_data(imsg, &peer, sizeof(peer)) == -1 ||
		    peer != PROC_PROXY || (fd = imsg_get_fd(imsg)) == -1)
			return -1;
		asker_add(fd, 0, "proxy");
		return 0;
	case IMSG_CFG_PERM:
		if (policyd_child.configured)
			return -1;
		return add_perm(imsg);
	case IMSG_CFG_ENVNAME:
		if (imsg_get_cstring(imsg, name, sizeof(name)) == -1 ||
		    name[0] == '\0' || policyd_child.configured)
			return -1;
		envnames = xreallocarray(envnames, nenvnames + 1,
		    sizeof(*envnames));
		envnames[nenvnames++] = xstrdup(name);
		return 0;
	case IMSG_CFG_POLICY_FD:
		if (imsg_get_cstring(imsg, name, sizeof(name)) == -1 ||
		    (fd = imsg_get_fd(imsg)) == -1 || policyd_child.configured)
			return -1;
		buf = xmalloc(POLICY_MAX_SIZE + 1);
		len = 0;
		while ((n = read(fd, buf + len, POLICY_MAX_SIZE + 1 - len)) > 0)
			len += (size_t)n;
		close(fd);
		if (n == -1) {
			(void)snprintf(cfg_error, sizeof(cfg_error), "%s: %s",
			    name, strerror(errno));
		} else if (len > POLICY_MAX_SIZE)
			(void)snprintf(cfg_error, sizeof(cfg_error),
			    "%s: larger than %d bytes", name, POLICY_MAX_SIZE);
		else
			load_document(name, buf, len);
		free(buf);
		return 0;
	case IMSG_CFG_POLICY_B64:
		len = imsg_get_len(imsg);
		if (len == 0 || len > 2 * POLICY_MAX_SIZE ||
		    policyd_child.configured)
			return -1;
		b64 = xmalloc(len + 1);
		if (imsg_get_data(imsg, b64, len) == -1) {
			free(b64);
			return -1;
		}
		b64[len] = '\0';
		if (memchr(b64, '\0', len) != NULL ||
		    b64_decode(b64, &decoded, &len) == -1)
			cfg_fail("POD_POLICY_JSON: not valid base64");
		else {
			load_document("POD_POLICY_JSON", (char *)decoded, len);
			free(decoded);
		}
		free(b64);
		return 0;
	case IMSG_CFG_RESOURCES:
		if (imsg_get_data(imsg, &res_flags, sizeof(res_flags)) == -1 ||
		    (res_flags.set & ~(RES_MEMORY | RES_CPU | RES_PIDS |
		    RES_TMPFS | RES_TIMEOUT)) != 0 || policyd_child.configured)
			return -1;
		return 0;
	case IMSG_POLICY_CHANNEL:
		/* The pod's name (its hex id), for the audit trail. */
		len = imsg_get_len(imsg);
		if (len == 0 || len >= sizeof(podid) ||
		    imsg_get_data(imsg, podid, len) == -1 ||
		    (fd = imsg_get_fd(imsg)) == -1)
			return -1;
		podid[len] = '\0';
		if (strspn(podid, "0123456789abcdef") != len) {
			close(fd);
			return -1;
		}
		a = asker_add(fd, imsg_get_peerid(imsg), "relay");
		(void)strlcpy(a->podid, podid, sizeof(a->podid));
		return 0;
	case IMSG_POLICY_EXPLAIN:
		if (imsg_get_data(imsg, &json, sizeof(json)) == -1 ||
		    !policyd_child.started)
			return -1;
		explain(json != 0);
		return 0;
	}
	return -1;
}

/*
 * Configuration complete: compile, tell the parent the normalised
 * policy and the variables its worker may see.  The runtime layer does
 * not count for those: podrunner sets its own variables itself.
 */
/*
 * Limits: a flag beats the document, which beats the defaults (the
 * seeds': 64 MiB, half a CPU; podrunner.policy(5)).  0 in a document
 * means "the default".
 */
static void
resources_settle(void)
{
	struct policy_resources	*r = &pol->res;

	if (res_flags.set & RES_MEMORY)
		r->memory = res_flags.memory;
	if (res_flags.set & RES_CPU)
		r->cpu_pct = res_flags.cpu_pct;
	if (res_flags.set & RES_PIDS)
		r->pids = res_flags.pids;
	if (res_flags.set & RES_TMPFS)
		r->tmpfs = res_flags.tmpfs;
	if (res_flags.set & RES_TIMEOUT)
		r->timeout_ms = res_flags.timeout_ms;
	if (r->memory == 0)
		r->memory = DEFAULT_MEMORY;
	if (r->cpu_pct == 0)
		r->cpu_pct = DEFAULT_CPU_PCT;
	if (r->pids == 0)
		r->pids = DEFAULT_PIDS;
	if (r->tmpfs == 0)
		r->tmpfs = DEFAULT_TMPFS;
}

static int
policyd_config_done(char *err, size_t errlen)
{
	struct cfg_resources	 eff;
	struct decision	 d;
	json_t		*doc;
	char		*text;
	size_t		 i;

	resources_settle();
	if (cfg_error[0] == '\0' && policy_compile(pol, err, errlen) == -1)
		cfg_fail(err);
	if (cfg_error[0] != '\0') {
		(void)snprintf(err, errlen, "policy error: %s", cfg_error);
		return -1;
	}
	if ((doc = policy_to_json(pol, 1)) == NULL ||
	    (text = json_dumps(doc, JSON_COMPACT)) == NULL)
		fatalx("%s: policy_to_json", __func__);
	json_decref(doc);
	if (strlen(text) + IMSG_HEADER_SIZE < CHILD_IMSG_MAX)
		child_compose(IMSG_POLICY_LOADED, 0, -1, text, strlen(text));
	free(text);
	for (i = 0; i < nenvnames; i++) {
		policy_decide(pol, PERM_ENV, envnames[i], &d);
		if (d.verdict != VERDICT_DENY && !d.monitored &&
		    d.layer != LAYER_RUNTIME)
			child_compose(IMSG_CFG_ENVALLOW, 0, -1, envnames[i],
			    strlen(envnames[i]));
		free(envnames[i]);
	}
	free(envnames);
	envnames = NULL;
	nenvnames = 0;
	if (pol->mode == MODE_MONITOR)
		log_warnx("monitor mode: denials are logged and allowed");
	/* The effective limits: the parent keeps the time. */
	memset(&eff, 0, sizeof(eff));
	eff.set = RES_MEMORY | RES_CPU | RES_PIDS | RES_TMPFS | RES_TIMEOUT;
	eff.memory = pol->res.memory;
	eff.cpu_pct = pol->res.cpu_pct;
	eff.pids = pol->res.pids;
	eff.tmpfs = pol->res.tmpfs;
	eff.timeout_ms = pol->res.timeout_ms;
	child_compose(IMSG_CFG_RESOURCES, 0, -1, &eff, sizeof(eff));
	/* For the enforcing processes, through the parent. */
	if (policy_imsg_send(pol, &policyd_child.parent) == -1)
		fatal("%s: sending the policy", __func__);
	return 0;
}

/* How each kind is enforced in this release (podrunner(1), CAVEATS). */
static const char *enforcement[PERM_MAX] = {
	[PERM_NET] = "the pod's network namespace (loopback and the "
	    "proxy's address only: no route out) and landlock (TCP connect "
	    "to the proxy port only); the egress proxy asks policyd about "
	    "each host and each address it connects to (built-in deny set "
	    "for private and special ranges); the runtime's hooks ask "
	    "policyd",
	[PERM_READ] = "the pod's filesystem (only granted paths exist, "
	    "read-only) and landlock; the runtime's hooks ask policyd",
	[PERM_WRITE] = "the pod's filesystem (only granted paths are "
	    "writable) and landlock; the runtime's hooks ask policyd",
	[PERM_ENV] = "the worker's environment is scrubbed to what is "
	    "allowed; the runtime's hooks ask policyd",
	[PERM_RUN] = "the pod's filesystem (only granted commands exist) and "
	    "landlock execute rights; the runtime's hooks ask policyd",
	[PERM_FFI] = "the pod's filesystem (granted libraries are mapped); "
	    "the runtime's hooks ask policyd",
	[PERM_SYS] = "the runtime's hooks ask policyd (the pod's own uts and "
	    "pid namespaces hide the host's name and processes)",
};

static void
explain(int as_json)
{
	json_t		*doc, *enf;
	char		*text = NULL, line[8192], def[64];
	size_t		 len = 0, cap = 0, i;
	unsigned int	 k;
	int		 n;

	if (as_json) {
		doc = json_object();
		enf = json_object();
		for (k = 0; k < PERM_MAX; k++)
			json_object_set_new(enf, perm_kind_name(k),
			    json_string(enforcement[k]));
		json_object_set_new(doc, "policy", policy_to_json(pol, 1));
		json_object_set_new(doc, "enforcement", enf);
		text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(doc);
		if (text == NULL)
			fatalx("%s: json_dumps", __func__);
		len = strlen(text);
		text = realloc(text, len + 2);
		text[len++] = '\n';
		text[len] = '\0';
		goto send;
	}
#define APPEND(...) do {						\
	n = snprintf(line, sizeof(line), __VA_ARGS__);			\
	if (n < 0)							\
		break;							\
	if ((size_t)n >= sizeof(line))					\
		n = sizeof(line) - 1;					\
	if (len + (size_t)n + 1 > cap) {				\
		cap = (len + (size_t)n + 1) * 2;			\
		text = xreallocarray(text, cap, 1);			\
	}								\
	memcpy(text + len, line, (size_t)n + 1);			\
	len += (size_t)n;						\
} while (0)
	APPEND("mode: %s%s\n", pol->mode == MODE_MONITOR ? "monitor" : "strict",
	    pol->mode == MODE_MONITOR ? " (denials are logged and allowed)" :
	    "");
	if (pol->document != NULL)
		APPEND("document: %s\n", pol->document);
	for (k = 0; k < PERM_MAX; k++) {
		if (pol->has_default[k])
			(void)snprintf(def, sizeof(def), "%s (document)",
			    action_name(pol->defaults[k]));
		else
			(void)snprintf(def, sizeof(def), "deny");
		APPEND("\n%s: default %s\n", perm_kind_name(k), def);
		for (i = 0; i < pol->nrules; i++) {
			if (pol->rules[i].kind != k)
				continue;
			APPEND("  %-5s %-40s %-8s %s\n",
			    action_name(pol->rules[i].action),
			    pol->rules[i].value ? pol->rules[i].value :
			    "(all)", layer_name(pol->rules[i].layer),
			    pol->rules[i].origin ? pol->rules[i].origin : "");
		}
		APPEND("  enforced by: %s\n", enforcement[k]);
	}
	APPEND("\nresources: memory %llu, cpu %u%%, pids %u, timeout %llu ms, "
	    "tmpfs %llu (cgroup limits, the timeout and the pod's /tmp)\n",
	    (unsigned long long)pol->res.memory,
	    pol->res.cpu_pct, pol->res.pids,
	    (unsigned long long)pol->res.timeout_ms,
	    (unsigned long long)pol->res.tmpfs);
	APPEND("audit: %s%s", pol->audit.enabled ? "enabled" : "disabled",
	    pol->audit.required ? ", required" : "");
	for (i = 0; i < pol->audit.nevents; i++)
		APPEND("%s%s", i == 0 ? ", events " : " ", pol->audit.events[i]);
	APPEND(" (the eBPF audit: syslog authpriv, podrunner-audit)\n");
#undef APPEND
 send:
	if (len + IMSG_HEADER_SIZE > CHILD_IMSG_MAX)
		len = CHILD_IMSG_MAX - IMSG_HEADER_SIZE;
	child_compose(IMSG_POLICY_EXPLAIN, 0, -1, text, len);
	free(text);
}

static void
asker_handler(int fd, short events, void *arg)
{
	struct asker		*a = arg;
	struct policy_req	 req;
	struct policy_resp	 resp;
	struct decision		 d;
	struct imsg		 imsg;
	struct ibuf		 b, *out;
	char			*target, rule[TARGET_MAX + 256];
	uint32_t		 peerid;
	int			 n;

	(void)fd;
	if ((n = imsgev_handle_io(&a->iev, events)) <= 0) {
		/* A relay going away is the end of its pod; the proxy going
		 * away is for the parent to judge. */
		if (a->pod == 0)
			log_warnx("proxy channel closed");
		asker_remove(a);
		return;
	}
	for (;;) {
		if ((n = imsg_get(&a->iev.ibuf, &imsg)) == 0)
			break;
		target = NULL;
		if (n == -1 || imsg_get_type(&imsg) != IMSG_POLICY_DECIDE ||
		    imsg_get_ibuf(&imsg, &b) == -1 ||
		    ibuf_get(&b, &req, sizeof(req)) == -1 ||
		    ibuf_get_string(&b, &target, TARGET_MAX) == -1 ||
		    ibuf_size(&b) != 0 || req.kind >= PERM_MAX ||
		    (req.flags & ~POLICY_REQ_ADDR) != 0 ||
		    ((req.flags & POLICY_REQ_ADDR) && (a->pod != 0 ||
		    req.kind != PERM_NET)) || !pol->compiled) {
			/* A bad request closes that channel, nothing else. */
			log_warnx("malformed request from %s, closing it",
			    a->iev.name);
			free(target);
			if (n == 1)
				imsg_free(&imsg);
			asker_remove(a);
			return;
		}
		peerid = imsg_get_peerid(&imsg);
		imsg_free(&imsg);
		/* Only the proxy asks about the addresses it connects to. */
		if (req.flags & POLICY_REQ_ADDR)
			policy_decide_addr(pol, target, &d);
		else
			policy_decide(pol, req.kind, target, &d);
		decision_describe_target(&d, req.kind, target, rule, sizeof(rule));
		/* Denials, warnings and monitored denials are the audit
		 * trail; plain allows are debug. */
		if (d.verdict == VERDICT_ALLOW && !d.monitored)
			log_debug("%s: pod=%s allow %s \"%s\": %s",
			    a->iev.name, pod_name(a->pod != 0 ? a->pod :
			    peerid), perm_kind_name(req.kind), target, rule);
		else
			log_info("%s: pod=%s %s %s%s \"%s\": %s", a->iev.name,
			    pod_name(a->pod != 0 ? a->pod : peerid),
			    d.monitored ? "monitor-allow" :
			    d.verdict == VERDICT_DENY ? "deny" : "warn",
			    perm_kind_name(req.kind),
			    (req.flags & POLICY_REQ_ADDR) ? " address" : "",
			    target, rule);
		free(target);
		memset(&resp, 0, sizeof(resp));
		resp.reqid = req.reqid;
		resp.verdict = d.verdict;
		resp.layer = d.layer;
		if ((out = ibuf_dynamic(64, sizeof(rule) + 64)) == NULL ||
		    ibuf_add(out, &resp, sizeof(resp)) == -1 ||
		    ibuf_add_string(out, rule) == -1 ||
		    imsgev_compose_ibuf(&a->iev, IMSG_POLICY_DECISION,
		    peerid, 0, -1, out) == -1)
			fatal("%s: compose", __func__);
	}
	/* Answers go now, not on the next pass of the loop: the asker
	 * waits for them.  What the socket does not take waits for
	 * EV_WRITE. */
	if (imsgbuf_queuelen(&a->iev.ibuf) > 0)
		(void)imsgbuf_write(&a->iev.ibuf);
	imsgev_add(&a->iev);
}
