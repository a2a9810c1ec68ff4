/*
 * proxy: egress proxy process.  Confined and connected to policyd; the
 * forward proxy itself arrives with the egress issue (see README).
 */
#include <sys/types.h>

#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "policy.h"
#include "privsep.h"
#include "proto.h"
#include "proxy.h"

static int	proxy_dispatch_parent(struct imsg *);

static struct child	proxy_child;
static struct imsgev	proxy_policyd;	/* peer: decisions */
static int		held_fd = -1;

/* Peers: the parent (configuration), policyd (decisions). */

__dead void
proxy_main(void)
{
	struct privsep_user	pu;
	char			err[256];

	if (priv_lookup_user(&pu, err, sizeof(err)) == -1)
		fatalx("%s", err);
	child_init(&proxy_child, "proxy");
	proxy_child.policy = policy_new();
	proxy_child.dispatch = proxy_dispatch_parent;
	priv_confine("proxy", &pu, NULL, 0);
	/* Nothing beyond the daemon base set until it proxies. */
	priv_seccomp_allowlist("proxy", NULL, 0);
	child_loop();
}

static void
proxy_policyd_handler(int fd, short events, void *arg)
{
	struct imsg	imsg;
	int		n;

	(void)fd;
	(void)arg;
	if ((n = imsgev_handle_io(&proxy_policyd, events)) <= 0) {
		/* The parent fails closed when a daemon dies: it names the
		 * dead one, so we do not die of it too. */
		log_warnx("policyd channel closed");
		imsgev_clear(&proxy_policyd);
		return;
	}
	while ((n = imsg_get(&proxy_policyd.ibuf, &imsg)) > 0) {
		/* No requests are sent yet, so no answer is expected. */
		fatalx("unexpected %s from policyd",
		    imsg_type_name(imsg_get_type(&imsg)));
	}
	if (n == -1)
		fatalx("malformed message from policyd");
	imsgev_add(&proxy_policyd);
}

static int
proxy_dispatch_parent(struct imsg *imsg)
{
	uint32_t	peer;
	int		fd;

	switch (imsg_get_type(imsg)) {
	case IMSG_CFG_PEER:
		if (imsg_get_data(imsg, &peer, sizeof(peer)) == -1 ||
		    peer != PROC_POLICYD || proxy_policyd.ev != NULL ||
		    (fd = imsg_get_fd(imsg)) == -1)
			return -1;
		imsgev_init(&proxy_policyd, fd, "policyd",
		    proxy_policyd_handler, NULL);
		imsgev_add(&proxy_policyd);
		return 0;
	case IMSG_PROXY_LISTEN:
		/* Placeholder until the proxy proper lands: held, unused. */
		if ((fd = imsg_get_fd(imsg)) == -1)
			return -1;
		if (held_fd != -1)
			close(held_fd);
		held_fd = fd;
		return 0;
	case IMSG_PROXY_FORGET:
		if (held_fd != -1)
			close(held_fd);
		held_fd = -1;
		return 0;
	}
	return -1;
}
