/*
 * The eBPF audit's loader: a child the parent forks first thing in a
 * run, with every capability; its channel goes to the sandbox
 * (IMSG_AUDIT_LOADER).  It prepares
 * (capabilities down to CAP_BPF and CAP_PERFMON, the BPF object
 * opened), waits for the policy's audit settings
 * (IMSG_AUDIT_LOAD), loads and attaches the programs, hands the fds
 * that must outlive it to the sandbox (IMSG_AUDIT_LINK, _PODS, _RING,
 * _COUNTERS, then _READY, or _UNAVAILABLE with the reason) and exits.
 * See auditd(8) in podrunner.8 and podaudit.bpf.c.
 */
#ifndef PODRUNNER_AUDITLOAD_H
#define PODRUNNER_AUDITLOAD_H

#include <sys/types.h>

#include <stdint.h>

#include "proto.h"

/*
 * Fork the loader; its end of the channel is returned (-1 and errno on
 * failure) and its pid stored in *pid.  Eager: it loads the programs
 * at once, before the policy is known (they are attached only if it
 * enables the audit); otherwise only when the policy enables it.
 */
int		 audit_loader_fork(int, pid_t *);

/* The pods' slots, from the sandbox: a pod's cgroup in or out. */
struct audit_pods;
struct audit_pods *audit_pods_map(int);
int		 audit_pod_add(struct audit_pods *, uint64_t, uint32_t);
void		 audit_pod_del(struct audit_pods *, uint64_t);

/*
 * Load and attach in this process, for `podrunner check`: 0, or -1 and
 * the reason in err; the time it took in *ms.  Everything is released
 * before it returns.
 */
int		 audit_probe(char *, size_t, double *);

#endif
