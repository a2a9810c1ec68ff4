/*
 * policyd: the policy decision engine.  Unprivileged, chrooted, no
 * network.  Receives the permission layers from the parent and answers
 * IMSG_POLICY_DECIDE from pod relays and the proxy.
 */
#ifndef PODRUNNER_POLICYD_H
#define PODRUNNER_POLICYD_H

#include "log.h"

__dead void	policyd_main(void);

#endif
