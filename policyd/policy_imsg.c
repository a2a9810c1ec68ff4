/*
 * The normalised policy over imsg: policyd sends it, the parent
 * forwards it unchanged, the enforcing processes (sandbox, proxy,
 * auditd) rebuild it.  Structured messages, not JSON: a receiver checks
 * fixed sizes and re-validates every value with policy_add_rule, the
 * same code policyd used.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "imsg.h"
#include "policy.h"
#include "policy_imsg.h"
#include "proto.h"
#include "util.h"

#define RULE_VALUE_MAX	4096
#define RULE_ORIGIN_MAX	1024
#define AUDIT_NAME_MAX	64

int
policy_imsg_send(const struct policy *p, struct imsgev *iev)
{
	struct cfg_settings	 cs;
	struct cfg_perm		 cp;
	struct ibuf		*b;
	size_t			 i;
	unsigned int		 k;

	for (i = 0; i < p->nrules; i++) {
		memset(&cp, 0, sizeof(cp));
		cp.kind = p->rules[i].kind;
		cp.action = p->rules[i].action;
		cp.layer = p->rules[i].layer;
		cp.all = p->rules[i].value == NULL;
		if ((b = ibuf_dynamic(64, RULE_VALUE_MAX + RULE_ORIGIN_MAX +
		    64)) == NULL ||
		    ibuf_add(b, &cp, sizeof(cp)) == -1 ||
		    ibuf_add_string(b, cp.all ? "" : p->rules[i].value) == -1 ||
		    ibuf_add_string(b, p->rules[i].origin ?
		    p->rules[i].origin : "") == -1 ||
		    imsgev_compose_ibuf(iev, IMSG_CFG_RULE, 0, 0, -1, b) == -1)
			return -1;
	}
	memset(&cs, 0, sizeof(cs));
	cs.mode = (uint8_t)p->mode;
	cs.audit_enabled = p->audit.enabled != 0;
	cs.audit_required = p->audit.required != 0;
	cs.plugins = (p->plugins_namespaces ? 1 : 0) |
	    (p->plugins_landlock ? 2 : 0) | (p->plugins_seccomp ? 4 : 0);
	for (k = 0; k < PERM_MAX; k++) {
		cs.has_default[k] = p->has_default[k] != 0;
		cs.defaults[k] = p->defaults[k];
	}
	cs.cpu_pct = p->res.cpu_pct;
	cs.pids = p->res.pids;
	cs.rate_limit = (uint32_t)p->net_rate_limit;
	cs.memory = p->res.memory;
	cs.timeout_ms = p->res.timeout_ms;
	cs.tmpfs = p->res.tmpfs;
	/* The settings reset the receiver's audit events: they come next. */
	if (imsgev_compose(iev, IMSG_CFG_SETTINGS, 0, 0, -1, &cs,
	    sizeof(cs)) == -1)
		return -1;
	for (i = 0; i < p->audit.nevents; i++)
		if (imsgev_compose(iev, IMSG_CFG_AUDIT_EVENT, 0, 0, -1,
		    p->audit.events[i], strlen(p->audit.events[i])) == -1)
			return -1;
	return 0;
}

int
policy_imsg_is(uint32_t type)
{
	return type == IMSG_CFG_RULE || type == IMSG_CFG_SETTINGS ||
	    type == IMSG_CFG_AUDIT_EVENT;
}

int
policy_imsg_recv(struct policy *p, struct imsg *imsg, char *err,
    size_t errlen)
{
	struct cfg_settings	 cs;
	struct cfg_perm		 cp;
	struct ibuf		 b;
	char			*value = NULL, *origin = NULL, name[AUDIT_NAME_MAX];
	size_t			 len, i;
	unsigned int		 k;
	int			 rv = -1;

	switch (imsg_get_type(imsg)) {
	case IMSG_CFG_RULE:
		if (imsg_get_ibuf(imsg, &b) == -1 ||
		    ibuf_get(&b, &cp, sizeof(cp)) == -1 ||
		    ibuf_get_string(&b, &value, RULE_VALUE_MAX) == -1 ||
		    ibuf_get_string(&b, &origin, RULE_ORIGIN_MAX) == -1 ||
		    ibuf_size(&b) != 0 || cp.kind >= PERM_MAX ||
		    cp.action > PERM_WARN || cp.layer >= LAYER_DEFAULT ||
		    cp.all > 1 || (cp.all && value[0] != '\0') ||
		    (!cp.all && value[0] == '\0')) {
			(void)snprintf(err, errlen, "malformed policy rule");
			break;
		}
		rv = policy_add_rule(p, cp.kind, cp.action, cp.layer,
		    cp.all ? NULL : value, origin, err, errlen);
		break;
	case IMSG_CFG_AUDIT_EVENT:
		len = imsg_get_len(imsg);
		if (len == 0 || len >= sizeof(name) ||
		    imsg_get_data(imsg, name, len) == -1) {
			(void)snprintf(err, errlen, "malformed audit event");
			break;
		}
		name[len] = '\0';
		for (i = 0; i < len; i++)
			if (!((name[i] >= 'a' && name[i] <= 'z') ||
			    (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
				break;
		if (i != len) {
			(void)snprintf(err, errlen, "malformed audit event");
			break;
		}
		p->audit.events = xreallocarray(p->audit.events,
		    p->audit.nevents + 1, sizeof(char *));
		p->audit.events[p->audit.nevents++] = xstrdup(name);
		rv = 0;
		break;
	case IMSG_CFG_SETTINGS:
		if (imsg_get_data(imsg, &cs, sizeof(cs)) == -1 ||
		    cs.mode > MODE_MONITOR || cs.audit_enabled > 1 ||
		    cs.audit_required > 1 || cs.plugins > 7) {
			(void)snprintf(err, errlen, "malformed policy settings");
			break;
		}
		for (k = 0; k < PERM_MAX; k++)
			if (cs.has_default[k] > 1 || cs.defaults[k] > PERM_WARN)
				break;
		if (k != PERM_MAX) {
			(void)snprintf(err, errlen, "malformed policy settings");
			break;
		}
		for (i = 0; i < p->audit.nevents; i++)
			free(p->audit.events[i]);
		free(p->audit.events);
		p->audit.events = NULL;
		p->audit.nevents = 0;
		p->mode = cs.mode;
		p->audit.enabled = cs.audit_enabled;
		p->audit.required = cs.audit_required;
		p->plugins_namespaces = (cs.plugins & 1) != 0;
		p->plugins_landlock = (cs.plugins & 2) != 0;
		p->plugins_seccomp = (cs.plugins & 4) != 0;
		for (k = 0; k < PERM_MAX; k++) {
			p->has_default[k] = cs.has_default[k];
			p->defaults[k] = cs.defaults[k];
		}
		p->res.cpu_pct = cs.cpu_pct;
		p->res.pids = cs.pids;
		p->net_rate_limit = (int)cs.rate_limit;
		p->res.memory = cs.memory;
		p->res.timeout_ms = cs.timeout_ms;
		p->res.tmpfs = cs.tmpfs;
		rv = 0;
		break;
	default:
		(void)snprintf(err, errlen, "not a policy message");
		break;
	}
	free(value);
	free(origin);
	return rv;
}
