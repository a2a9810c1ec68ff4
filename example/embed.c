/*
 * embed: libpodrunner in a program of your own.
 *
 *	embed [-x] [-p podrunner] [-w python|bun] [-P policy.json]
 *	    [-f flag]... [code ...]
 *
 * Starts one podrunner serve (one pod, one persistent worker), sends it
 * each code argument in turn (three of its own if there is none: the
 * worker keeps its globals between them, and an exception does not end
 * it), prints every event as it comes, waits for the last submission,
 * stops, and exits with podrunner's exit status.  It waits in its own
 * poll(2) loop, as a program with an event loop of its own (libevent,
 * glib...) would: podrunner_fd() is one more descriptor to watch and
 * podrunner_dispatch() is called when it is readable.
 *
 * Built by make as build/example/embed, the way you build yours:
 *
 *	cc -o embed embed.c $(pkg-config --cflags --libs podrunner)
 *
 * after make install (or with PKG_CONFIG_PATH=build in the tree).  It
 * must run as root, as podrunner does; in the tree:
 *
 *	sudo build/example/embed -p ./podrunner
 *	sudo build/example/embed -p ./podrunner 'print(2 + 2)'
 */
#include <err.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <podrunner.h>

#define MAXFLAGS	32

static const char *const demo[] = {
	"greeting = 'hello from a persistent worker'\nprint(greeting)",
	"print(greeting.upper())\nraise ValueError('on purpose')",
	"print('still here:', greeting)",
	NULL
};

/* What the loop waits for: the exec_end of this submission. */
struct progress {
	int64_t		last;
	int		done;
	int		exit_code;
};

static void
on_event(const struct podrunner_event *ev, void *arg)
{
	struct progress	*p = arg;

	switch (ev->type) {
	case PODRUNNER_EVENT_READY:
		printf("ready\n");
		break;
	case PODRUNNER_EVENT_OUTPUT:
		printf("[%" PRId64 "] %s: %.*s%s", ev->id,
		    ev->stream == PODRUNNER_STREAM_STDERR ? "stderr" : "stdout",
		    (int)ev->data_len, ev->data, ev->data_len > 0 &&
		    ev->data[ev->data_len - 1] == '\n' ? "" : "\n");
		break;
	case PODRUNNER_EVENT_STATE:
		if (ev->state == PODRUNNER_STATE_EXCEPTION)
			printf("[%" PRId64 "] exception %s\n", ev->id,
			    ev->exc_type != NULL ? ev->exc_type : "?");
		else if (ev->state == PODRUNNER_STATE_EXEC_END) {
			printf("[%" PRId64 "] exec_end %d\n", ev->id,
			    ev->exit_code);
			if (ev->id == p->last) {
				p->done = 1;
				p->exit_code = ev->exit_code;
			}
		} else
			printf("[%" PRId64 "] %s\n", ev->id, ev->worker_state);
		break;
	case PODRUNNER_EVENT_MEMORY:
		printf("[%" PRId64 "] memory %" PRId64 " bytes, peak %" PRId64
		    "\n", ev->id, ev->mem_current, ev->mem_peak);
		break;
	case PODRUNNER_EVENT_EXIT:
		printf("exit %d\n", ev->exit_code);
		break;
	case PODRUNNER_EVENT_LOG:
		/* podrunner's own standard error. */
		fprintf(stderr, "%.*s\n", (int)ev->data_len, ev->data);
		break;
	default:
		/* policy-loaded, syscalls, error...: the line as it came. */
		if (ev->json != NULL)
			printf("%s\n", ev->json);
		break;
	}
	fflush(stdout);
}

static void
usage(void)
{
	fprintf(stderr, "usage: embed [-x] [-p podrunner] [-w python|bun] "
	    "[-P policy.json]\n             [-f flag]... [code ...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct podrunner_options	 opts;
	struct podrunner		*pr;
	struct progress			 prog;
	struct pollfd			 pfd;
	const char			*flags[MAXFLAGS + 1];
	const char *const		*codes;
	int				 ch, nflags = 0, rv, status, i;

	memset(&opts, 0, sizeof(opts));
	memset(&prog, 0, sizeof(prog));
	while ((ch = getopt(argc, argv, "f:p:P:w:x")) != -1) {
		switch (ch) {
		case 'f':
			if (nflags == MAXFLAGS)
				errx(2, "too many -f");
			flags[nflags++] = optarg;
			break;
		case 'p':
			opts.podrunner = optarg;
			break;
		case 'P':
			opts.policy_path = optarg;
			break;
		case 'w':
			opts.worker = optarg;
			break;
		case 'x':
			opts.no_sandbox = 1;
			break;
		default:
			usage();
		}
	}
	flags[nflags] = NULL;
	opts.flags = flags;
	codes = optind < argc ? (const char *const *)argv + optind : demo;

	if ((pr = podrunner_new(&opts)) == NULL)
		errx(1, "podrunner_new: %s", podrunner_error(NULL));
	podrunner_on_event(pr, on_event, &prog);
	/* Blocks until the worker is ready (ready is printed meanwhile). */
	if ((rv = podrunner_start(pr, 30000)) != PODRUNNER_OK)
		errx(1, "start: %s", podrunner_error(pr));

	/* Submissions queue up in podrunner and run one after the other. */
	for (i = 0; codes[i] != NULL; i++)
		if (podrunner_send_code(pr, codes[i], 0, &prog.last) !=
		    PODRUNNER_OK)
			errx(1, "send: %s", podrunner_error(pr));

	/* The caller's own loop: one more descriptor to poll. */
	pfd.fd = podrunner_fd(pr);
	pfd.events = POLLIN;
	while (!prog.done) {
		if (poll(&pfd, 1, -1) == -1)
			err(1, "poll");
		if ((rv = podrunner_dispatch(pr)) < 0)
			errx(1, "dispatch: %s", podrunner_error(pr));
	}

	/* Stop: the remaining events (memory, exit) come, then it ends. */
	if ((status = podrunner_stop(pr, 30000)) < 0)
		errx(1, "stop: %s", podrunner_error(pr));
	printf("podrunner exited %d; last submission exited %d\n", status,
	    prog.exit_code);
	podrunner_free(pr);
	return status;
}
