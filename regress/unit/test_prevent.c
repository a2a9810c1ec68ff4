/*
 * Unit tests for libpodrunner/prevent.c: podrunner serve's event lines
 * read into struct podrunner_event, and the submission request.
 *
 * A table of lines and what each must give (type, id, stream, data,
 * state, exit code, memory), then the lines that are not events, each
 * with the reason it must be given, and lines of known types whose
 * fields have the wrong JSON type (read as absent, the line kept).
 */
#include <sys/types.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "podrunner.h"
#include "prevent.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define NONE		(-1)

struct want {
	const char			*line;
	enum podrunner_event_type	 type;
	const char			*type_name;
	int64_t				 id;
	enum podrunner_stream		 stream;
	const char			*data;		/* NULL: none */
	enum podrunner_state		 state;
	const char			*worker;
	int				 exit_code;
	const char			*exc_type;
	const char			*traceback;
	int64_t				 mem[3];	/* current, peak, limit */
};

static void
check(const struct want *w)
{
	struct podrunner_event	 ev;
	json_t			*root;
	char			 err[256];
	size_t			 len = strlen(w->line);
	int			 i;

	print_message("line %s\n", w->line);
	assert_int_equal(pr_event_parse(w->line, len, &ev, &root, err,
	    sizeof(err)), 0);
	assert_non_null(root);
	assert_int_equal(ev.type, w->type);
	assert_string_equal(ev.type_name, w->type_name);
	assert_int_equal(ev.id, w->id);
	assert_int_equal(ev.stream, w->stream);
	if (w->data == NULL)
		assert_null(ev.data);
	else {
		assert_non_null(ev.data);
		assert_int_equal(ev.data_len, strlen(w->data));
		assert_string_equal(ev.data, w->data);
	}
	assert_int_equal(ev.state, w->state);
	if (w->worker == NULL)
		assert_null(ev.worker_state);
	else
		assert_string_equal(ev.worker_state, w->worker);
	assert_int_equal(ev.exit_code, w->exit_code);
	if (w->exc_type == NULL)
		assert_null(ev.exc_type);
	else
		assert_string_equal(ev.exc_type, w->exc_type);
	if (w->traceback == NULL)
		assert_null(ev.traceback);
	else
		assert_string_equal(ev.traceback, w->traceback);
	for (i = 0; i < 3; i++)
		assert_int_equal((&ev.mem_current)[i], w->mem[i]);
	/* The raw line is the caller's, as it was. */
	assert_ptr_equal(ev.json, w->line);
	assert_int_equal(ev.json_len, len);
	json_decref(root);
}

#define NOMEM	{ NONE, NONE, NONE }

static void
test_events(void **state)
{
	static const struct want	tab[] = {
		/* The spec's examples, one of each. */
		{ "{\"type\":\"policy-loaded\",\"data\":{\"mode\":\"strict\"}}",
		  PODRUNNER_EVENT_POLICY_LOADED, "policy-loaded", NONE,
		  PODRUNNER_STREAM_NONE, NULL, 0, NULL, NONE, NULL, NULL,
		  NOMEM },
		{ "{\"type\":\"ready\"}", PODRUNNER_EVENT_READY, "ready", NONE,
		  0, NULL, 0, NULL, NONE, NULL, NULL, NOMEM },
		{ "{\"type\":\"state\",\"data\":{\"worker\":\"exec_start\"},"
		  "\"id\":7}", PODRUNNER_EVENT_STATE, "state", 7, 0, NULL,
		  PODRUNNER_STATE_EXEC_START, "exec_start", NONE, NULL, NULL,
		  NOMEM },
		{ "{\"type\":\"output\",\"stream\":\"stdout\",\"data\":\"1\\n\","
		  "\"id\":7}", PODRUNNER_EVENT_OUTPUT, "output", 7,
		  PODRUNNER_STREAM_STDOUT, "1\n", 0, NULL, NONE, NULL, NULL,
		  NOMEM },
		{ "{\"type\":\"output\",\"stream\":\"stderr\",\"data\":\"\","
		  "\"id\":8}", PODRUNNER_EVENT_OUTPUT, "output", 8,
		  PODRUNNER_STREAM_STDERR, "", 0, NULL, NONE, NULL, NULL,
		  NOMEM },
		{ "{\"type\":\"state\",\"data\":{\"worker\":\"exception\","
		  "\"exc_type\":\"ValueError\",\"traceback\":\"Traceback...\\n"
		  "ValueError: x\\n\"},\"id\":7}", PODRUNNER_EVENT_STATE,
		  "state", 7, 0, NULL, PODRUNNER_STATE_EXCEPTION, "exception",
		  NONE, "ValueError", "Traceback...\nValueError: x\n", NOMEM },
		{ "{\"type\":\"state\",\"data\":{\"worker\":\"interrupted\"},"
		  "\"id\":9}", PODRUNNER_EVENT_STATE, "state", 9, 0, NULL,
		  PODRUNNER_STATE_INTERRUPTED, "interrupted", NONE, NULL, NULL,
		  NOMEM },
		{ "{\"type\":\"state\",\"data\":{\"worker\":\"exec_end\","
		  "\"exit_code\":0},\"id\":7}", PODRUNNER_EVENT_STATE, "state",
		  7, 0, NULL, PODRUNNER_STATE_EXEC_END, "exec_end", 0, NULL,
		  NULL, NOMEM },
		{ "{\"type\":\"state\",\"data\":{\"worker\":\"exec_end\","
		  "\"exit_code\":130},\"id\":9}", PODRUNNER_EVENT_STATE,
		  "state", 9, 0, NULL, PODRUNNER_STATE_EXEC_END, "exec_end",
		  130, NULL, NULL, NOMEM },
		{ "{\"type\":\"memory\",\"data\":{\"current\":1048576,"
		  "\"peak\":2097152,\"limit\":67108864},\"id\":7}",
		  PODRUNNER_EVENT_MEMORY, "memory", 7, 0, NULL, 0, NULL, NONE,
		  NULL, NULL, { 1048576, 2097152, 67108864 } },
		{ "{\"type\":\"error\",\"data\":\"request line 3: no op\","
		  "\"id\":\"x\"}", PODRUNNER_EVENT_ERROR, "error", NONE, 0,
		  "request line 3: no op", 0, NULL, NONE, NULL, NULL, NOMEM },
		{ "{\"type\":\"syscalls\",\"data\":{\"openat\":12}}",
		  PODRUNNER_EVENT_SYSCALLS, "syscalls", NONE, 0, NULL, 0, NULL,
		  NONE, NULL, NULL, NOMEM },
		{ "{\"type\":\"exit\",\"data\":{\"code\":0}}",
		  PODRUNNER_EVENT_EXIT, "exit", NONE, 0, NULL, 0, NULL, 0, NULL,
		  NULL, NOMEM },
		{ "{\"type\":\"exit\",\"data\":{\"code\":137}}",
		  PODRUNNER_EVENT_EXIT, "exit", NONE, 0, NULL, 0, NULL, 137,
		  NULL, NULL, NOMEM },
		/* Key order, spaces, unknown members: all as well. */
		{ " { \"id\" : 12 , \"extra\":[1,{}], \"data\": \"é ✓\", "
		  "\"stream\":\"stdout\", \"type\":\"output\" } ",
		  PODRUNNER_EVENT_OUTPUT, "output", 12, PODRUNNER_STREAM_STDOUT,
		  "é ✓", 0, NULL, NONE, NULL, NULL, NOMEM },
		/* Types and states this library does not know. */
		{ "{\"type\":\"net\",\"data\":{\"host\":\"a\"}}",
		  PODRUNNER_EVENT_OTHER, "net", NONE, 0, NULL, 0, NULL, NONE,
		  NULL, NULL, NOMEM },
		{ "{\"type\":\"state\",\"data\":{\"worker\":\"paused\"},"
		  "\"id\":3}", PODRUNNER_EVENT_STATE, "state", 3, 0, NULL,
		  PODRUNNER_STATE_OTHER, "paused", NONE, NULL, NULL, NOMEM },
		/* A stream other than stdout or stderr is none. */
		{ "{\"type\":\"output\",\"stream\":\"tty\",\"data\":\"x\"}",
		  PODRUNNER_EVENT_OUTPUT, "output", NONE, 0, "x", 0, NULL,
		  NONE, NULL, NULL, NOMEM },
		/*
		 * Fields of the wrong JSON type, or out of range: absent.
		 * Ids that are not positive integers are not ours.
		 */
		{ "{\"type\":\"output\",\"stream\":1,\"data\":{\"a\":1},"
		  "\"id\":-4}", PODRUNNER_EVENT_OUTPUT, "output", NONE, 0,
		  NULL, 0, NULL, NONE, NULL, NULL, NOMEM },
		{ "{\"type\":\"state\",\"data\":{\"worker\":\"exec_end\","
		  "\"exit_code\":\"0\"},\"id\":1.0}", PODRUNNER_EVENT_STATE,
		  "state", NONE, 0, NULL, PODRUNNER_STATE_EXEC_END, "exec_end",
		  NONE, NULL, NULL, NOMEM },
		{ "{\"type\":\"state\",\"data\":{\"worker\":\"exec_end\","
		  "\"exit_code\":-1},\"id\":0}", PODRUNNER_EVENT_STATE,
		  "state", 0, 0, NULL, PODRUNNER_STATE_EXEC_END, "exec_end",
		  NONE, NULL, NULL, NOMEM },
		{ "{\"type\":\"state\",\"data\":{\"worker\":\"exec_end\","
		  "\"exit_code\":4294967296},\"id\":9223372036854775807}",
		  PODRUNNER_EVENT_STATE, "state", INT64_MAX, 0, NULL,
		  PODRUNNER_STATE_EXEC_END, "exec_end", NONE, NULL, NULL,
		  NOMEM },
		{ "{\"type\":\"state\",\"data\":\"exec_end\"}",
		  PODRUNNER_EVENT_STATE, "state", NONE, 0, NULL, 0, NULL, NONE,
		  NULL, NULL, NOMEM },
		{ "{\"type\":\"state\",\"data\":{\"worker\":\"exception\","
		  "\"exc_type\":null,\"traceback\":[]}}", PODRUNNER_EVENT_STATE,
		  "state", NONE, 0, NULL, PODRUNNER_STATE_EXCEPTION,
		  "exception", NONE, NULL, NULL, NOMEM },
		{ "{\"type\":\"memory\",\"data\":{\"current\":5,\"peak\":-1,"
		  "\"limit\":null}}", PODRUNNER_EVENT_MEMORY, "memory", NONE, 0,
		  NULL, 0, NULL, NONE, NULL, NULL, { 5, NONE, NONE } },
		{ "{\"type\":\"memory\"}", PODRUNNER_EVENT_MEMORY, "memory",
		  NONE, 0, NULL, 0, NULL, NONE, NULL, NULL, NOMEM },
		{ "{\"type\":\"exit\",\"data\":{\"code\":\"0\"}}",
		  PODRUNNER_EVENT_EXIT, "exit", NONE, 0, NULL, 0, NULL, NONE,
		  NULL, NULL, NOMEM },
		{ "{\"type\":\"error\",\"data\":{\"line\":3}}",
		  PODRUNNER_EVENT_ERROR, "error", NONE, 0, NULL, 0, NULL, NONE,
		  NULL, NULL, NOMEM },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++)
		check(&tab[i]);
}

/* Output is bytes: "\u0000" inside data is kept, with its length. */
static void
test_nul_in_data(void **state)
{
	static const char	 line[] = "{\"type\":\"output\",\"stream\":"
	    "\"stdout\",\"data\":\"a\\u0000b\",\"id\":1}";
	struct podrunner_event	 ev;
	json_t			*root;
	char			 err[256];

	(void)state;
	assert_int_equal(pr_event_parse(line, sizeof(line) - 1, &ev, &root,
	    err, sizeof(err)), 0);
	assert_int_equal(ev.data_len, 3);
	assert_memory_equal(ev.data, "a\0b", 3);
	json_decref(root);
}

/* What is not an event: an INVALID event whose data says why. */
static void
test_invalid(void **state)
{
	static const struct {
		const char	*line;
		const char	*why;
	} tab[] = {
		{ "", "not JSON" },
		{ "   ", "not JSON" },
		{ "hello", "not JSON" },
		{ "{\"type\":\"ready\"", "not JSON" },
		{ "{\"type\":\"ready\"} {}", "not JSON" },
		{ "{\"type\":\"ready\",\"type\":\"exit\"}", "not JSON" },
		{ "{\"type\":\"output\",\"data\":\"\xff\"}", "not JSON" },
		{ "[]", "not a JSON object" },
		{ "\"ready\"", "not a JSON object" },
		{ "null", "not a JSON object" },
		{ "17", "not a JSON object" },
		{ "{}", "no string \"type\"" },
		{ "{\"type\":1}", "no string \"type\"" },
		{ "{\"type\":null}", "no string \"type\"" },
		{ "{\"Type\":\"ready\"}", "no string \"type\"" },
	};
	struct podrunner_event	 ev;
	json_t			*root;
	char			 err[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++) {
		print_message("line %s\n", tab[i].line);
		root = (json_t *)1;
		assert_int_equal(pr_event_parse(tab[i].line,
		    strlen(tab[i].line), &ev, &root, err, sizeof(err)), -1);
		assert_null(root);
		assert_int_equal(ev.type, PODRUNNER_EVENT_INVALID);
		assert_string_equal(ev.type_name, "invalid");
		assert_ptr_equal(ev.data, err);
		assert_int_equal(ev.data_len, strlen(err));
		assert_true(strncmp(err, tab[i].why, strlen(tab[i].why)) == 0);
		assert_ptr_equal(ev.json, tab[i].line);
		assert_int_equal(ev.id, PODRUNNER_NOID);
	}
}

/* Only len bytes are read, whatever follows them. */
static void
test_length(void **state)
{
	static const char	 line[] = "{\"type\":\"ready\"}garbage";
	struct podrunner_event	 ev;
	json_t			*root;
	char			 err[256];

	(void)state;
	assert_int_equal(pr_event_parse(line, 16, &ev, &root, err,
	    sizeof(err)), 0);
	assert_int_equal(ev.type, PODRUNNER_EVENT_READY);
	json_decref(root);
	assert_int_equal(pr_event_parse(line, 15, &ev, &root, err,
	    sizeof(err)), -1);
}

static void
test_log(void **state)
{
	static const char	 line[] = "podrunner: --policy x: No such file";
	struct podrunner_event	 ev;

	(void)state;
	pr_event_log(line, sizeof(line) - 1, &ev);
	assert_int_equal(ev.type, PODRUNNER_EVENT_LOG);
	assert_string_equal(ev.type_name, "log");
	assert_ptr_equal(ev.data, line);
	assert_int_equal(ev.data_len, sizeof(line) - 1);
	assert_null(ev.json);
	assert_int_equal(ev.id, PODRUNNER_NOID);
	assert_int_equal(ev.exit_code, -1);
}

/* The request: one line, read back as the same code, id and flag. */
static void
test_request(void **state)
{
	static const char	*codes[] = {
		"print(1)",
		"",
		"x = 1\nprint(x)\n",
		"print(\"quotes\", '\\\\', \"\\t\")",
		"s = 'é ✓ \xf0\x9f\x90\x8d'",
		"\x01\x1f\x7f",
	};
	json_error_t		 jerr;
	json_t			*req;
	char			*line;
	size_t			 len, i;
	int			 fresh;

	(void)state;
	for (i = 0; i < NITEMS(codes); i++) {
		fresh = (int)(i % 2);
		line = pr_request_send(codes[i], fresh, (int64_t)i + 1, &len);
		assert_non_null(line);
		assert_int_equal(len, strlen(line));
		assert_int_equal(line[len - 1], '\n');
		assert_null(memchr(line, '\n', len - 1));
		req = json_loadb(line, len, 0, &jerr);
		assert_non_null(req);
		assert_string_equal(json_string_value(json_object_get(req,
		    "op")), "send");
		assert_string_equal(json_string_value(json_object_get(req,
		    "code")), codes[i]);
		assert_int_equal(json_integer_value(json_object_get(req,
		    "id")), i + 1);
		assert_true(json_is_boolean(json_object_get(req, "fresh")));
		assert_int_equal(json_is_true(json_object_get(req, "fresh")),
		    fresh);
		assert_int_equal(json_object_size(req), 4);
		json_decref(req);
		free(line);
	}
	/* Not UTF-8: refused, nothing sent. */
	errno = 0;
	assert_null(pr_request_send("a\xff", 0, 1, &len));
	assert_int_equal(errno, EILSEQ);
	assert_null(pr_request_send("\xc3", 0, 1, &len));
	assert_null(pr_request_send("\xed\xa0\x80", 0, 1, &len));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_nul_in_data),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
