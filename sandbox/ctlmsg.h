/*
 * The worker's control-plane messages (podrunner(8), WORKER PROTOCOL),
 * parsed by one pure function: the relay uses it, the fuzzer drives it.
 *
 *	"READY\n"				first message
 *	[u8 type 1..8][u32 req_id LE][target]	a permission request
 *	[u8 0x10][u32 0]			DATA: frames in the ring
 */
#ifndef PODRUNNER_CTLMSG_H
#define PODRUNNER_CTLMSG_H

#include <stddef.h>
#include <stdint.h>

#define CTL_TARGET_MAX	4096
#define CTL_MSG_MAX	(CTL_TARGET_MAX + 5)
#define CTL_DATA	0x10	/* frames are waiting in a ring */
#define CTL_STOP	0x11	/* supervisor -> worker: exit now */
#define CTL_READY	"READY\n"

enum ctl_req {
	REQ_FS_READ = 1, REQ_FS_WRITE, REQ_NET_CONNECT, REQ_EXEC,
	REQ_LISTDIR, REQ_ENV, REQ_FFI, REQ_SYS, REQ_MAX
};

enum ctl_kind {
	CTL_MSG_READY = 1,
	CTL_MSG_DATA,
	CTL_MSG_REQUEST
};

struct ctl_msg {
	int		 kind;		/* enum ctl_kind */
	uint8_t		 type;		/* enum ctl_req, for requests */
	uint8_t		 perm;		/* enum perm_kind it asks about */
	uint32_t	 reqid;
	char		 target[CTL_TARGET_MAX + 1];	/* NUL-terminated */
};

/*
 * Parse one received message.  ready: READY was seen already.  0, or
 * -1 with a static reason: the worker is cut off.
 */
int	ctl_parse(const unsigned char *, size_t, int, struct ctl_msg *,
	    const char **);

#endif
