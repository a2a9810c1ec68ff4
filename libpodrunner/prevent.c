/*
 * Event lines of podrunner serve, read into struct podrunner_event, and
 * the submission request.  The events are one JSON object per line:
 *
 *	{"type":"output","stream":"stdout","data":"1\n","id":7}
 *	{"type":"state","data":{"worker":"exec_end","exit_code":0},"id":7}
 *
 * A line must be a JSON object with a string "type"; anything else is
 * an invalid line (reported, never guessed at).  The fields of a known
 * type are read when they have the expected JSON type and left at
 * their "none" value otherwise: the whole line is in ev->json for what
 * this reader does not take out.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "podrunner.h"
#include "prevent.h"

static const struct {
	const char			*name;
	enum podrunner_event_type	 type;
} event_types[] = {
	{ "policy-loaded",	PODRUNNER_EVENT_POLICY_LOADED },
	{ "ready",		PODRUNNER_EVENT_READY },
	{ "state",		PODRUNNER_EVENT_STATE },
	{ "output",		PODRUNNER_EVENT_OUTPUT },
	{ "memory",		PODRUNNER_EVENT_MEMORY },
	{ "error",		PODRUNNER_EVENT_ERROR },
	{ "syscalls",		PODRUNNER_EVENT_SYSCALLS },
	{ "exit",		PODRUNNER_EVENT_EXIT },
};

static const struct {
	const char		*name;
	enum podrunner_state	 state;
} states[] = {
	{ "exec_start",		PODRUNNER_STATE_EXEC_START },
	{ "exception",		PODRUNNER_STATE_EXCEPTION },
	{ "interrupted",	PODRUNNER_STATE_INTERRUPTED },
	{ "exec_end",		PODRUNNER_STATE_EXEC_END },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void	event_clear(struct podrunner_event *, const char *, size_t);
static int64_t	get_int(json_t *, const char *, int64_t, int64_t);
static const char *get_str(json_t *, const char *, size_t *);

static void
event_clear(struct podrunner_event *ev, const char *line, size_t len)
{
	memset(ev, 0, sizeof(*ev));
	ev->id = PODRUNNER_NOID;
	ev->exit_code = -1;
	ev->mem_current = ev->mem_peak = ev->mem_limit = -1;
	ev->json = line;
	ev->json_len = len;
}

/* An integer member within [min, max], or -1. */
static int64_t
get_int(json_t *o, const char *key, int64_t min, int64_t max)
{
	json_t		*v;
	json_int_t	 i;

	if (!json_is_object(o) || (v = json_object_get(o, key)) == NULL ||
	    !json_is_integer(v))
		return -1;
	i = json_integer_value(v);
	return i < min || i > max ? -1 : (int64_t)i;
}

/* A string member, or NULL. */
static const char *
get_str(json_t *o, const char *key, size_t *lenp)
{
	json_t	*v;

	if (!json_is_object(o) || (v = json_object_get(o, key)) == NULL ||
	    !json_is_string(v))
		return NULL;
	if (lenp != NULL)
		*lenp = json_string_length(v);
	return json_string_value(v);
}

int
pr_event_parse(const char *line, size_t len, struct podrunner_event *ev,
    json_t **rootp, char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*root, *data;
	const char	*s;
	size_t		 i;

	*rootp = NULL;
	event_clear(ev, line, len);
	/*
	 * "\u0000" is allowed in strings (output is bytes); any value, so
	 * that a scalar is "not an object" rather than "not JSON".
	 */
	if ((root = json_loadb(line, len, JSON_ALLOW_NUL | JSON_DECODE_ANY |
	    JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		(void)snprintf(err, errlen, "not JSON: %s (column %d)",
		    jerr.text, jerr.column);
		goto invalid;
	}
	if (!json_is_object(root)) {
		(void)snprintf(err, errlen, "not a JSON object");
		goto invalid;
	}
	if ((s = get_str(root, "type", NULL)) == NULL) {
		(void)snprintf(err, errlen, "no string \"type\"");
		goto invalid;
	}
	*rootp = root;
	ev->type_name = s;
	ev->type = PODRUNNER_EVENT_OTHER;
	for (i = 0; i < NELEM(event_types); i++)
		if (strcmp(s, event_types[i].name) == 0)
			ev->type = event_types[i].type;
	/* Ours are positive integers: any other id is not one of ours. */
	ev->id = get_int(root, "id", 0, INT64_MAX);
	data = json_object_get(root, "data");

	switch (ev->type) {
	case PODRUNNER_EVENT_OUTPUT:
		if ((s = get_str(root, "stream", NULL)) != NULL)
			ev->stream = strcmp(s, "stdout") == 0 ?
			    PODRUNNER_STREAM_STDOUT : strcmp(s, "stderr") == 0 ?
			    PODRUNNER_STREAM_STDERR : PODRUNNER_STREAM_NONE;
		/* FALLTHROUGH */
	case PODRUNNER_EVENT_ERROR:
		if (json_is_string(data)) {
			ev->data = json_string_value(data);
			ev->data_len = json_string_length(data);
		}
		break;
	case PODRUNNER_EVENT_STATE:
		if ((s = get_str(data, "worker", NULL)) == NULL)
			break;
		ev->worker_state = s;
		ev->state = PODRUNNER_STATE_OTHER;
		for (i = 0; i < NELEM(states); i++)
			if (strcmp(s, states[i].name) == 0)
				ev->state = states[i].state;
		if (ev->state == PODRUNNER_STATE_EXEC_END)
			ev->exit_code = (int)get_int(data, "exit_code", 0,
			    INT_MAX);
		if (ev->state == PODRUNNER_STATE_EXCEPTION) {
			ev->exc_type = get_str(data, "exc_type", NULL);
			ev->traceback = get_str(data, "traceback", NULL);
		}
		break;
	case PODRUNNER_EVENT_MEMORY:
		ev->mem_current = get_int(data, "current", 0, INT64_MAX);
		ev->mem_peak = get_int(data, "peak", 0, INT64_MAX);
		ev->mem_limit = get_int(data, "limit", 0, INT64_MAX);
		break;
	case PODRUNNER_EVENT_EXIT:
		ev->exit_code = (int)get_int(data, "code", 0, INT_MAX);
		break;
	default:
		break;
	}
	return 0;

 invalid:
	if (root != NULL)
		json_decref(root);
	ev->type = PODRUNNER_EVENT_INVALID;
	ev->type_name = "invalid";
	ev->data = err;
	ev->data_len = strlen(err);
	return -1;
}

void
pr_event_log(const char *line, size_t len, struct podrunner_event *ev)
{
	event_clear(ev, NULL, 0);
	ev->type = PODRUNNER_EVENT_LOG;
	ev->type_name = "log";
	ev->data = line;
	ev->data_len = len;
}

char *
pr_request_send(const char *code, int fresh, int64_t id, size_t *lenp)
{
	json_t	*req, *c;
	char	*s, *line;
	size_t	 n;

	/* json_string() refuses what is not UTF-8. */
	if ((c = json_string(code)) == NULL) {
		errno = EILSEQ;
		return NULL;
	}
	if ((req = json_pack("{s:s, s:o, s:I, s:b}", "op", "send", "code", c,
	    "id", (json_int_t)id, "fresh", fresh != 0)) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	/* Compact, one line: a newline in code is "\n" in the JSON. */
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (s == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	n = strlen(s);
	if ((line = realloc(s, n + 2)) == NULL) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*lenp = n + 1;
	return line;
}
