/*
 * libFuzzer harness: the worker's control-plane messages.  The first
 * byte picks whether READY was seen; the rest is one message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlmsg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctl_msg	 m;
	const char		*why = NULL;
	unsigned char		*copy;
	int			 ready;

	if (size == 0)
		return 0;
	ready = data[0] & 1;
	/* An exact-size heap copy: ASan sees any over-read. */
	if ((copy = malloc(size - 1 + 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	if (ctl_parse(copy, size - 1, ready, &m, &why) == 0) {
		/* Invariants of an accepted message. */
		if (m.kind == CTL_MSG_REQUEST &&
		    (m.type < REQ_FS_READ || m.type >= REQ_MAX ||
		    strlen(m.target) == 0 || strlen(m.target) > CTL_TARGET_MAX))
			abort();
	} else if (why == NULL)
		abort();
	free(copy);
	return 0;
}
