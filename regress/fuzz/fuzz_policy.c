/*
 * libFuzzer harness: policy documents.  Whatever loads must compile,
 * decide, and survive its own round trip (policy_to_json, load again).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct {
	unsigned int	 kind;
	const char	*target;
} probes[] = {
	{ PERM_READ, "/etc/passwd" }, { PERM_WRITE, "/tmp/x" },
	{ PERM_NET, "github.com:443" }, { PERM_NET, "10.1.2.3:80" },
	{ PERM_NET, "[::1]:22" }, { PERM_ENV, "HOME" }, { PERM_RUN, "sh" },
	{ PERM_FFI, "/usr/lib/libc.so.6" }, { PERM_SYS, "hostname" },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy	*p, *q;
	struct decision	 d;
	json_t		*doc;
	char		 err[1024], *text;
	size_t		 i;

	p = policy_new();
	if (policy_load(p, "fuzz", (const char *)data, size, err,
	    sizeof(err)) == 0) {
		if (policy_compile(p, err, sizeof(err)) == -1)
			abort();
		for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
			policy_decide(p, probes[i].kind, probes[i].target, &d);
		if ((doc = policy_to_json(p, 0)) == NULL ||
		    (text = json_dumps(doc, JSON_COMPACT)) == NULL)
			abort();
		q = policy_new();
		/* What we print, we must load back. */
		if (policy_load(q, "roundtrip", text, strlen(text), err,
		    sizeof(err)) == -1)
			abort();
		policy_free(q);
		free(text);
		json_decref(doc);
	} else if (err[0] == '\0')
		abort();
	policy_free(p);
	return 0;
}
