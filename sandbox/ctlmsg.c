/*
 * The control-plane message parser (see ctlmsg.h).
 */
#include <string.h>

#include "ctlmsg.h"
#include "proto.h"

static const uint8_t req_perm[REQ_MAX] = {
	[REQ_FS_READ] = PERM_READ, [REQ_FS_WRITE] = PERM_WRITE,
	[REQ_NET_CONNECT] = PERM_NET, [REQ_EXEC] = PERM_RUN,
	[REQ_LISTDIR] = PERM_READ, [REQ_ENV] = PERM_ENV,
	[REQ_FFI] = PERM_FFI, [REQ_SYS] = PERM_SYS,
};

int
ctl_parse(const unsigned char *msg, size_t len, int ready, struct ctl_msg *m,
    const char **why)
{
	size_t	tlen;

	memset(m, 0, sizeof(*m));
	if (len > CTL_MSG_MAX) {
		*why = "control message too long";
		return -1;
	}
	if (!ready) {
		if (len != strlen(CTL_READY) ||
		    memcmp(msg, CTL_READY, len) != 0) {
			*why = "expected READY";
			return -1;
		}
		m->kind = CTL_MSG_READY;
		return 0;
	}
	if (len < 5) {
		*why = "control message too short";
		return -1;
	}
	m->reqid = (uint32_t)msg[1] | (uint32_t)msg[2] << 8 |
	    (uint32_t)msg[3] << 16 | (uint32_t)msg[4] << 24;
	if (msg[0] == CTL_DATA) {
		if (len != 5 || m->reqid != 0) {
			*why = "malformed DATA";
			return -1;
		}
		m->kind = CTL_MSG_DATA;
		return 0;
	}
	if (msg[0] < REQ_FS_READ || msg[0] >= REQ_MAX) {
		*why = "unknown control message type";
		return -1;
	}
	tlen = len - 5;
	if (tlen == 0 || tlen > CTL_TARGET_MAX ||
	    memchr(msg + 5, '\0', tlen) != NULL) {
		*why = "malformed request target";
		return -1;
	}
	m->kind = CTL_MSG_REQUEST;
	m->type = msg[0];
	m->perm = req_perm[msg[0]];
	memcpy(m->target, msg + 5, tlen);
	m->target[tlen] = '\0';
	return 0;
}
