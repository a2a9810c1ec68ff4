/*
 * auditd: the eBPF audit collector, unprivileged and chrooted; it will
 * receive the BPF ring buffer map fd from the privileged side.  This
 * release holds its place in the process framework only.
 */
#ifndef PODRUNNER_AUDITD_H
#define PODRUNNER_AUDITD_H

#include "log.h"

__dead void	auditd_main(void);

#endif
