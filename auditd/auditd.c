/*
 * auditd: audit collector process.  Confined; the BPF programs and the
 * ring buffer reader arrive with the audit issue (see README).
 */
#include <sys/types.h>

#include <stdlib.h>

#include "auditd.h"
#include "child.h"
#include "policy.h"
#include "privsep.h"
#include "proto.h"

static struct child	auditd_child;

/* Peers: the parent only. */

__dead void
auditd_main(void)
{
	struct privsep_user	pu;
	char			err[256];

	if (priv_lookup_user(&pu, err, sizeof(err)) == -1)
		fatalx("%s", err);
	child_init(&auditd_child, "auditd");
	auditd_child.policy = policy_new();
	priv_confine("auditd", &pu, NULL, 0);
	/* Nothing beyond the daemon base set until it reads a ring. */
	priv_seccomp_allowlist("auditd", NULL, 0);
	child_loop();
}
