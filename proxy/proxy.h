/*
 * proxy: the egress proxy (libevent), unprivileged and chrooted.  It
 * asks policyd for every connection.  This release holds its place in
 * the process framework; the HTTP forward/CONNECT proxy arrives with
 * the egress issue.
 */
#ifndef PODRUNNER_PROXY_H
#define PODRUNNER_PROXY_H

#include "log.h"

__dead void	proxy_main(void);

#endif
