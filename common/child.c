/*
 * The child side of the process framework (see child.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "policy.h"
#include "policy_imsg.h"
#include "proto.h"

struct child	*child;

static void	child_parent_handler(int, short, void *);
static void	child_sig(int, short, void *);

void
child_init(struct child *c, const char *title)
{
	struct event	*ev;

	child = c;
	c->title = title;
	if ((c->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	imsgev_set_base(c->base);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	if ((ev = evsignal_new(c->base, SIGTERM, child_sig, NULL)) == NULL ||
	    evsignal_add(ev, NULL) == -1)
		fatalx("evsignal");
	imsgev_init(&c->parent, PROC_PARENT_FD, "parent",
	    child_parent_handler, NULL);
	imsgbuf_allow_fdpass(&c->parent.ibuf);
	if (imsgbuf_set_maxsize(&c->parent.ibuf, CHILD_IMSG_MAX) == -1)
		fatal("imsgbuf_set_maxsize");
}

__dead void
child_loop(void)
{
	imsgev_add(&child->parent);
	event_base_dispatch(child->base);
	exit(0);
}

static void
child_sig(int sig, short ev, void *arg)
{
	(void)ev;
	(void)arg;
	log_debug("signal %d, exiting", sig);
	exit(0);
}

int
child_compose(uint32_t type, uint32_t peerid, int fd, const void *data,
    size_t len)
{
	return imsgev_compose(&child->parent, type, peerid, 0, fd, data, len);
}

int
imsg_get_cstring(struct imsg *imsg, char *buf, size_t max)
{
	size_t	len = imsg_get_len(imsg);

	if (len >= max || imsg_get_data(imsg, buf, len) == -1 ||
	    memchr(buf, '\0', len) != NULL) {
		errno = EBADMSG;
		return -1;
	}
	buf[len] = '\0';
	return 0;
}

static void
child_parent_handler(int fd, short events, void *arg)
{
	struct imsg	 imsg;
	char		 err[1024];
	uint32_t	 v;
	int		 n;

	(void)fd;
	(void)arg;
	if ((n = imsgev_handle_io(&child->parent, events)) == 0) {
		log_debug("parent closed the channel, exiting");
		exit(0);
	}
	if (n == -1)
		fatal("parent channel");
	for (;;) {
		if ((n = imsg_get(&child->parent.ibuf, &imsg)) == -1)
			fatalx("malformed message from the parent");
		if (n == 0)
			break;
		switch (imsg_get_type(&imsg)) {
		case IMSG_CTL_VERSION:
			if (imsg_get_data(&imsg, &v, sizeof(v)) == -1)
				fatalx("bad CTL_VERSION");
			if (v != PODRUNNER_PROTO_VERSION)
				fatalx("protocol version %u, expected %u", v,
				    PODRUNNER_PROTO_VERSION);
			break;
		case IMSG_CTL_VERBOSE:
			if (imsg_get_data(&imsg, &v, sizeof(v)) == -1)
				fatalx("bad CTL_VERBOSE");
			log_setverbose((int)v);
			break;
		case IMSG_CFG_DONE:
			if (imsg_get_len(&imsg) != 0 || child->configured)
				fatalx("unexpected CFG_DONE");
			child->configured = 1;
			if (child->policy != NULL &&
			    policy_compile(child->policy, err, sizeof(err)) == -1)
				fatalx("policy: %s", err);
			if (child->config_done != NULL &&
			    child->config_done(err, sizeof(err)) == -1)
				child_compose(IMSG_CFG_ERROR, 0, -1, err,
				    strlen(err));
			else
				child_compose(IMSG_CFG_DONE, 0, -1, NULL, 0);
			break;
		case IMSG_CTL_START:
			if (!child->configured || child->started)
				fatalx("unexpected CTL_START");
			child->started = 1;
			if (child->start != NULL)
				child->start();
			break;
		case IMSG_CFG_RULE:
		case IMSG_CFG_SETTINGS:
		case IMSG_CFG_AUDIT_EVENT:
			/* From policyd, forwarded: checked again here. */
			if (child->policy == NULL || child->configured ||
			    policy_imsg_recv(child->policy, &imsg, err,
			    sizeof(err)) == -1)
				fatalx("normalised policy refused: %s",
				    child->policy ? err : "not expected");
			break;
		default:
			/* An unknown message from the parent is fatal. */
			if (child->dispatch == NULL ||
			    child->dispatch(&imsg) == -1)
				fatalx("unexpected %s from the parent",
				    imsg_type_name(imsg_get_type(&imsg)));
			break;
		}
		imsg_free(&imsg);
	}
	imsgev_add(&child->parent);
}
