/*
 * Names for logs: message types, permission kinds, processes.
 */
#include <stdio.h>

#include "proto.h"

const char *
imsg_type_name(uint32_t type)
{
	static const char *names[IMSG_MAX] = {
		[IMSG_NONE] = "NONE",
		[IMSG_CTL_VERSION] = "CTL_VERSION",
		[IMSG_CTL_VERBOSE] = "CTL_VERBOSE",
		[IMSG_CTL_START] = "CTL_START",
		[IMSG_CFG_PEER] = "CFG_PEER",
		[IMSG_CFG_PERM] = "CFG_PERM",
		[IMSG_CFG_POLICY_FD] = "CFG_POLICY_FD",
		[IMSG_CFG_POLICY_B64] = "CFG_POLICY_B64",
		[IMSG_CFG_DONE] = "CFG_DONE",
		[IMSG_CFG_ERROR] = "CFG_ERROR",
		[IMSG_CFG_ENVNAME] = "CFG_ENVNAME",
		[IMSG_CFG_ENVALLOW] = "CFG_ENVALLOW",
		[IMSG_CFG_RULE] = "CFG_RULE",
		[IMSG_CFG_SETTINGS] = "CFG_SETTINGS",
		[IMSG_CFG_AUDIT_EVENT] = "CFG_AUDIT_EVENT",
		[IMSG_CFG_RESOURCES] = "CFG_RESOURCES",
		[IMSG_SANDBOX_FD] = "SANDBOX_FD",
		[IMSG_SANDBOX_SPAWN] = "SANDBOX_SPAWN",
		[IMSG_SANDBOX_SIGNAL] = "SANDBOX_SIGNAL",
		[IMSG_SANDBOX_MEMORY] = "SANDBOX_MEMORY",
		[IMSG_SANDBOX_STARTED] = "SANDBOX_STARTED",
		[IMSG_SANDBOX_FAILED] = "SANDBOX_FAILED",
		[IMSG_SANDBOX_GONE] = "SANDBOX_GONE",
		[IMSG_RELAY_WORKER] = "RELAY_WORKER",
		[IMSG_RELAY_ATTACHED] = "RELAY_ATTACHED",
		[IMSG_RELAY_CGROUP] = "RELAY_CGROUP",
		[IMSG_RELAY_GO] = "RELAY_GO",
		[IMSG_POD_READY] = "POD_READY",
		[IMSG_POD_OUTPUT] = "POD_OUTPUT",
		[IMSG_POD_EVENT] = "POD_EVENT",
		[IMSG_POD_ERROR] = "POD_ERROR",
		[IMSG_POD_EXIT] = "POD_EXIT",
		[IMSG_POD_SEND] = "POD_SEND",
		[IMSG_POD_STOP] = "POD_STOP",
		[IMSG_POD_EXEC_START] = "POD_EXEC_START",
		[IMSG_POD_EXEC_END] = "POD_EXEC_END",
		[IMSG_POLICY_CHANNEL] = "POLICY_CHANNEL",
		[IMSG_POLICY_DECIDE] = "POLICY_DECIDE",
		[IMSG_POLICY_DECISION] = "POLICY_DECISION",
		[IMSG_POLICY_EXPLAIN] = "POLICY_EXPLAIN",
		[IMSG_POLICY_LOADED] = "POLICY_LOADED",
		[IMSG_PROXY_LISTEN] = "PROXY_LISTEN",
		[IMSG_PROXY_FORGET] = "PROXY_FORGET",
		[IMSG_PROXY_EVENT] = "PROXY_EVENT",
		[IMSG_AUDIT_LOADER] = "AUDIT_LOADER",
		[IMSG_AUDIT_LOAD] = "AUDIT_LOAD",
		[IMSG_AUDIT_LINK] = "AUDIT_LINK",
		[IMSG_AUDIT_PODS] = "AUDIT_PODS",
		[IMSG_AUDIT_RING] = "AUDIT_RING",
		[IMSG_AUDIT_COUNTERS] = "AUDIT_COUNTERS",
		[IMSG_AUDIT_READY] = "AUDIT_READY",
		[IMSG_AUDIT_UNAVAILABLE] = "AUDIT_UNAVAILABLE",
		[IMSG_AUDIT_LOG] = "AUDIT_LOG",
		[IMSG_AUDIT_POD] = "AUDIT_POD",
		[IMSG_AUDIT_EVENT] = "AUDIT_EVENT",
		[IMSG_AUDIT_POD_END] = "AUDIT_POD_END",
		[IMSG_AUDIT_SYSCALLS] = "AUDIT_SYSCALLS",
		[IMSG_AUDIT_DONE] = "AUDIT_DONE",
	};
	static char	 buf[32];

	if (type < IMSG_MAX && names[type] != NULL)
		return names[type];
	(void)snprintf(buf, sizeof(buf), "UNKNOWN(%u)", type);
	return buf;
}

const char *
perm_kind_name(unsigned int kind)
{
	static const char *names[PERM_MAX] = {
		"net", "read", "write", "env", "run", "ffi", "sys"
	};

	return kind < PERM_MAX ? names[kind] : "unknown";
}

const char *
proc_name(unsigned int id)
{
	static const char *names[PROC_MAX] = {
		"parent", "policyd", "proxy", "auditd", "sandbox"
	};

	return id < PROC_MAX ? names[id] : "unknown";
}
