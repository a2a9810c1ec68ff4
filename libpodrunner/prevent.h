/*
 * libpodrunner's reading of one event line of podrunner serve (internal:
 * the library and its unit test use it, embedders do not see it).
 */
#ifndef PREVENT_H
#define PREVENT_H

#include <stddef.h>

#include <jansson.h>

#include "podrunner.h"

/*
 * Read line (len bytes, NUL-terminated at line[len], no newline) into
 * ev, whose strings point into *rootp (json_decref it after use) and
 * into line.  0 for an event; -1 for a line that is not one (not JSON,
 * not an object, no string "type"): ev is then a
 * PODRUNNER_EVENT_INVALID whose data is err, the reason.
 */
int	pr_event_parse(const char *line, size_t len,
	    struct podrunner_event *ev, json_t **rootp, char *err,
	    size_t errlen);
/* A PODRUNNER_EVENT_LOG of one line of podrunner's standard error. */
void	pr_event_log(const char *line, size_t len,
	    struct podrunner_event *ev);
/* The request line for a submission, newline included; NULL if code is
 * not UTF-8 (errno EILSEQ) or memory ran out.  free() it. */
char	*pr_request_send(const char *code, int fresh, int64_t id,
	    size_t *lenp);

#endif /* PREVENT_H */
