/*
 * The child side of the process framework, shared by every daemon:
 * the channel to the parent on fd 3, the protocol version check, the
 * CFG_DONE acknowledgement, CTL_START, and exit when the parent goes.
 */
#ifndef PODRUNNER_CHILD_H
#define PODRUNNER_CHILD_H

#include "imsg.h"
#include "log.h"

struct event_base;
struct policy;

struct child {
	const char		 *title;
	struct event_base	 *base;
	struct imsgev		  parent;
	int			  configured;
	int			  started;
	/* Messages the common part does not know; -1: unexpected. */
	int			(*dispatch)(struct imsg *);
	/* Configuration complete: 0, or -1 and a reason (sent as
	 * CFG_ERROR, the parent stops). */
	int			(*config_done)(char *, size_t);
	void			(*start)(void);
	/* Set: the normalised policy is received into it and compiled
	 * before CFG_DONE (sandbox, proxy, auditd). */
	struct policy		 *policy;
};

extern struct child	*child;

/* Event base, signals, the parent channel (not yet reading). */
void		 child_init(struct child *, const char *);
/* Start reading from the parent and run the loop; exits 0 on EOF. */
__dead void	 child_loop(void);
int		 child_compose(uint32_t, uint32_t, int, const void *, size_t);
/* Read a NUL-free string payload of at most max bytes. */
int		 imsg_get_cstring(struct imsg *, char *, size_t);

#endif
