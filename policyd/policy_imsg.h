/*
 * The normalised policy over imsg (policy_imsg.c).
 */
#ifndef PODRUNNER_POLICY_IMSG_H
#define PODRUNNER_POLICY_IMSG_H

#include <stddef.h>
#include <stdint.h>

struct imsg;
struct imsgev;
struct policy;

/* IMSG_CFG_RULE..., IMSG_CFG_SETTINGS, then its IMSG_CFG_AUDIT_EVENTs. */
int	policy_imsg_send(const struct policy *, struct imsgev *);
int	policy_imsg_is(uint32_t);
/* 0, or -1 with a reason: the sender is broken or compromised. */
int	policy_imsg_recv(struct policy *, struct imsg *, char *, size_t);

#endif
