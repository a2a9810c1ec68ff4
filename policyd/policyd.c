/*
 * policyd: decisions.  This release knows the flag and POD_* layers
 * and answers every request with allow, deny or warn and the rule that
 * decided; policy documents are checked (syntax) and carried, and are
 * applied by the full engine of the policy issue (see README).
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <errno.h>
#include <jansson.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "perm.h"
#include "policyd.h"
#include "privsep.h"
#include "proto.h"
#include "util.h"

#define POLICY_MAX_SIZE		(1024 * 1024)
#define TARGET_MAX		4096

struct rule_set {
	int	  all;
	char	**v;
	size_t	  n;
};

struct layer_rules {
	struct rule_set	allow[PERM_MAX];
	struct rule_set	deny[PERM_MAX];
};

/* A channel that asks for decisions: a pod relay or the proxy. */
struct asker {
	TAILQ_ENTRY(asker)	 entry;
	struct imsgev		 iev;
	uint32_t		 pod;	/* 0 for the proxy */
};

static int	policyd_dispatch_parent(struct imsg *);
static int	policyd_config_done(char *, size_t);
static void	asker_handler(int, short, void *);
static void	decide(const char *, unsigned int, const char *,
		    struct policy_resp *, char *, size_t);
static int	check_document(const char *, const char *, size_t, char *,
		    size_t);

static struct child		 policyd_child;
static struct layer_rules	 layers[LAYER_DEFAULT];
static TAILQ_HEAD(, asker)	 askers = TAILQ_HEAD_INITIALIZER(askers);
static char			 policy_error[2048];
static char			*policy_name;
static unsigned char		*policy_doc;
static size_t			 policy_len;

static const char *layer_names[] = { "flag", "env", "policy", "default" };

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
	priv_confine("policyd", &pu, NULL, 0);
	/* Decisions need no syscall beyond the daemon base set. */
	priv_seccomp_allowlist("policyd", NULL, 0);
	child_loop();
}

static void
asker_add(int fd, uint32_t pod, const char *name)
{
	struct asker	*a;

	a = xcalloc(1, sizeof(*a));
	a->pod = pod;
	imsgev_init(&a->iev, fd, name, asker_handler, a);
	TAILQ_INSERT_TAIL(&askers, a, entry);
	imsgev_add(&a->iev);
}

static void
asker_remove(struct asker *a)
{
	TAILQ_REMOVE(&askers, a, entry);
	imsgev_clear(&a->iev);
	free(a);
}

static int
add_perm(struct imsg *imsg)
{
	struct cfg_perm	 cp;
	struct rule_set	*rs;
	struct ibuf	 b;
	char		*value = NULL;

	if (imsg_get_ibuf(imsg, &b) == -1 ||
	    ibuf_get(&b, &cp, sizeof(cp)) == -1 ||
	    ibuf_get_string(&b, &value, TARGET_MAX) == -1 ||
	    ibuf_size(&b) != 0 || cp.kind >= PERM_MAX || cp.action > PERM_DENY ||
	    cp.layer >= LAYER_DEFAULT || cp.all > 1 ||
	    (cp.all && value[0] != '\0') || (!cp.all && value[0] == '\0')) {
		free(value);
		return -1;
	}
	rs = cp.action == PERM_DENY ? &layers[cp.layer].deny[cp.kind] :
	    &layers[cp.layer].allow[cp.kind];
	if (cp.all) {
		rs->all = 1;
		free(value);
		return 0;
	}
	rs->v = xreallocarray(rs->v, rs->n + 1, sizeof(*rs->v));
	rs->v[rs->n++] = value;
	return 0;
}

static int
policyd_dispatch_parent(struct imsg *imsg)
{
	unsigned char	*decoded;
	char		 name[512], *b64;
	size_t		 len;
	uint32_t	 peer;
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
		return add_perm(imsg);
	case IMSG_CFG_POLICY_FD:
		if (imsg_get_cstring(imsg, name, sizeof(name)) == -1 ||
		    (fd = imsg_get_fd(imsg)) == -1 || policy_doc != NULL)
			return -1;
		policy_doc = xmalloc(POLICY_MAX_SIZE + 1);
		policy_len = 0;
		while ((n = read(fd, policy_doc + policy_len,
		    POLICY_MAX_SIZE + 1 - policy_len)) > 0)
			policy_len += (size_t)n;
		close(fd);
		policy_name = xstrdup(name);
		if (n == -1)
			(void)snprintf(policy_error, sizeof(policy_error),
			    "%s: %s", name, strerror(errno));
		else if (policy_len > POLICY_MAX_SIZE)
			(void)snprintf(policy_error, sizeof(policy_error),
			    "%s: larger than %d bytes", name, POLICY_MAX_SIZE);
		else
			(void)check_document(name, (char *)policy_doc,
			    policy_len, policy_error, sizeof(policy_error));
		return 0;
	case IMSG_CFG_POLICY_B64:
		len = imsg_get_len(imsg);
		if (len == 0 || len > 2 * POLICY_MAX_SIZE || policy_doc != NULL)
			return -1;
		b64 = xmalloc(len + 1);
		if (imsg_get_data(imsg, b64, len) == -1) {
			free(b64);
			return -1;
		}
		b64[len] = '\0';
		policy_name = xstrdup("POD_POLICY_JSON");
		if (memchr(b64, '\0', len) != NULL ||
		    b64_decode(b64, &decoded, &policy_len) == -1)
			(void)snprintf(policy_error, sizeof(policy_error),
			    "POD_POLICY_JSON: not valid base64");
		else {
			policy_doc = decoded;
			(void)check_document(policy_name, (char *)policy_doc,
			    policy_len, policy_error, sizeof(policy_error));
		}
		free(b64);
		return 0;
	case IMSG_POLICY_CHANNEL:
		if (imsg_get_len(imsg) != 0 || (fd = imsg_get_fd(imsg)) == -1)
			return -1;
		asker_add(fd, imsg_get_peerid(imsg), "relay");
		return 0;
	}
	return -1;
}

/* Syntax of a policy document: file, line, column and what is wrong. */
static int
check_document(const char *name, const char *doc, size_t len, char *err,
    size_t errlen)
{
	json_error_t	 je;
	json_t		*root;

	if ((root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		(void)snprintf(err, errlen, "%s:%d:%d: %s", name, je.line,
		    je.column, je.text);
		return -1;
	}
	if (!json_is_object(root)) {
		(void)snprintf(err, errlen, "%s:1:1: the document must be a "
		    "JSON object", name);
		json_decref(root);
		return -1;
	}
	json_decref(root);
	return 0;
}

static int
policyd_config_done(char *err, size_t errlen)
{
	if (policy_error[0] != '\0') {
		(void)snprintf(err, errlen, "policy error: %s", policy_error);
		return -1;
	}
	if (policy_name != NULL)
		log_info("%s: valid JSON; its rules are not applied yet",
		    policy_name);
	return 0;
}

static int
path_match(const char *rule, const char *target)
{
	size_t	len = strlen(rule);

	if (strcmp(rule, "/") == 0)
		return target[0] == '/';
	return strncmp(rule, target, len) == 0 &&
	    (target[len] == '\0' || target[len] == '/');
}

/* Net targets are "host:port" or "[v6]:port"; rules may omit the port. */
static int
net_match(const char *rule, const char *target)
{
	const char	*tport, *rport;
	size_t		 thost, rhost, sfx;

	if (strcmp(rule, "*") == 0)
		return 1;
	tport = strrchr(target, ':');
	thost = tport != NULL && strchr(target, ']') < tport ?
	    (size_t)(tport - target) : strlen(target);
	if (tport == NULL || thost == strlen(target))
		tport = NULL;
	rport = strrchr(rule, ':');
	rhost = rport != NULL && (rule[0] != '[' || strchr(rule, ']') <
	    rport) && strchr(rule, ':') == rport ? (size_t)(rport - rule) :
	    strlen(rule);
	if (rhost == strlen(rule))
		rport = NULL;
	if (rport != NULL && (tport == NULL || strcmp(rport, tport) != 0))
		return 0;
	if (strncmp(rule, "*.", 2) == 0) {
		sfx = rhost - 1;	/* ".example.com" */
		return thost > sfx && strncasecmp(target + thost - sfx,
		    rule + 1, sfx) == 0;
	}
	return rhost == thost && strncasecmp(rule, target, thost) == 0;
}

static int
rule_match(unsigned int kind, const char *rule, const char *target)
{
	const char	*base;

	switch (kind) {
	case PERM_READ:
	case PERM_WRITE:
	case PERM_FFI:
		return path_match(rule, target);
	case PERM_ENV:
		return env_pattern_match(rule, target);
	case PERM_NET:
		return net_match(rule, target);
	case PERM_RUN:
		if (strchr(rule, '/') != NULL)
			return strcmp(rule, target) == 0;
		base = strrchr(target, '/');
		return strcmp(rule, base != NULL ? base + 1 : target) == 0;
	default:
		return strcmp(rule, target) == 0;
	}
}

/*
 * The highest layer with a rule for the target decides; inside a layer
 * a deny beats an allow.  Nothing matching: the default, deny.
 */
static void
decide(const char *who, unsigned int kind, const char *target,
    struct policy_resp *resp, char *rule, size_t rulelen)
{
	struct rule_set	*al, *dl;
	size_t		 i;
	int		 layer;

	for (layer = LAYER_FLAG; layer < LAYER_DEFAULT; layer++) {
		dl = &layers[layer].deny[kind];
		al = &layers[layer].allow[kind];
		resp->layer = (uint8_t)layer;
		if (dl->all) {
			resp->verdict = VERDICT_DENY;
			(void)snprintf(rule, rulelen, "%s: deny-%s",
			    layer_names[layer], perm_kind_name(kind));
			goto done;
		}
		for (i = 0; i < dl->n; i++)
			if (rule_match(kind, dl->v[i], target)) {
				resp->verdict = VERDICT_DENY;
				(void)snprintf(rule, rulelen, "%s: deny-%s=%s",
				    layer_names[layer], perm_kind_name(kind),
				    dl->v[i]);
				goto done;
			}
		if (al->all) {
			resp->verdict = VERDICT_ALLOW;
			(void)snprintf(rule, rulelen, "%s: allow-%s",
			    layer_names[layer], perm_kind_name(kind));
			goto done;
		}
		for (i = 0; i < al->n; i++)
			if (rule_match(kind, al->v[i], target)) {
				resp->verdict = VERDICT_ALLOW;
				(void)snprintf(rule, rulelen, "%s: allow-%s=%s",
				    layer_names[layer], perm_kind_name(kind),
				    al->v[i]);
				goto done;
			}
	}
	resp->verdict = VERDICT_DENY;
	resp->layer = LAYER_DEFAULT;
	(void)snprintf(rule, rulelen, "default: deny (--allow-%s to grant)",
	    perm_kind_name(kind));
 done:
	log_info("decision for %s: %s %s \"%s\" by %s", who,
	    resp->verdict == VERDICT_DENY ? "deny" : "allow",
	    perm_kind_name(kind), target, rule);
}

static void
asker_handler(int fd, short events, void *arg)
{
	struct asker		*a = arg;
	struct policy_req	 req;
	struct policy_resp	 resp;
	struct imsg		 imsg;
	struct ibuf		 b, *out;
	char			*target, rule[TARGET_MAX + 64];
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
		    ibuf_size(&b) != 0 || req.kind >= PERM_MAX) {
			/* A bad request closes that channel, nothing else. */
			log_warnx("malformed request from %s, closing it",
			    a->iev.name);
			free(target);
			if (n == 1)
				imsg_free(&imsg);
			asker_remove(a);
			return;
		}
		memset(&resp, 0, sizeof(resp));
		resp.reqid = req.reqid;
		decide(a->iev.name, req.kind, target, &resp, rule,
		    sizeof(rule));
		free(target);
		peerid = imsg_get_peerid(&imsg);
		imsg_free(&imsg);
		if ((out = ibuf_dynamic(64, sizeof(rule) + 64)) == NULL ||
		    ibuf_add(out, &resp, sizeof(resp)) == -1 ||
		    ibuf_add_string(out, rule) == -1 ||
		    imsgev_compose_ibuf(&a->iev, IMSG_POLICY_DECISION,
		    peerid, 0, -1, out) == -1)
			fatal("%s: compose", __func__);
	}
	imsgev_add(&a->iev);
}
