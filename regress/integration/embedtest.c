/*
 * embedtest: libpodrunner driven by a script, for test_libpodrunner.py.
 *
 *	embedtest [-x] [-p podrunner] [-w worker] [-P policy-file]
 *	    [-J policy-json] [-m memory] [-t timeout_ms] [-L path]
 *	    [-e NAME=value]... [-f flag]... [-i]
 *
 * Options become struct podrunner_options (-i: stderr inherited, not
 * captured; -L: open path without O_CLOEXEC first, a descriptor that
 * must not reach podrunner).  Commands, one a line on standard input;
 * CODE is the rest of the line with \n, \t, \\ and \xNN escapes:
 *
 *	start [MS]		podrunner_start
 *	send CODE		podrunner_send_code
 *	fresh CODE		the same, fresh
 *	wait [ID] [MS]		podrunner_wait (no ID: the last)
 *	until STATE [MS]	poll(podrunner_fd) + podrunner_dispatch until
 *				a state event STATE of the last submission
 *	interrupt		podrunner_interrupt
 *	interrupt-after MS	the same from another thread, MS later
 *	stop-after MS		podrunner_stop from another thread, MS later
 *	reenter			at the next exec_end, from the callback:
 *				podrunner_dispatch (refused) and
 *				podrunner_send_code (allowed)
 *	request-stop		podrunner_request_stop
 *	drain [MS]		poll + dispatch until EEXITED
 *	stop [MS]		podrunner_stop
 *	join			wait for the stop-after thread
 *	sleep MS
 *	pid			podrunner_pid
 *	fds			podrunner serve's open descriptors (its /proc)
 *	free			podrunner_free
 *	exit			exit without stopping (podrunner_free not called)
 *
 * Output, one a line: "event JSON" for each event, "log LINE" for
 * podrunner's standard error, "invalid WHY" for a line that is not an
 * event, and "CMD RV ..." for each command (RV as podrunner_strerror
 * names it, or a number), with "error MESSAGE" after a failure.
 */
#include <sys/types.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <podrunner.h>

#define MAXARGS		64

static struct podrunner	*pr;
static int64_t		 last_id;
static char		 seen_state[64];	/* last state of last_id */
static int64_t		 seen_id;
static int		 reenter;

static void
on_event(const struct podrunner_event *ev, void *arg)
{
	(void)arg;
	switch (ev->type) {
	case PODRUNNER_EVENT_LOG:
		printf("log %.*s\n", (int)ev->data_len, ev->data);
		break;
	case PODRUNNER_EVENT_INVALID:
		printf("invalid %.*s\n", (int)ev->data_len, ev->data);
		break;
	default:
		printf("event %.*s\n", (int)ev->json_len, ev->json);
		break;
	}
	if (ev->type == PODRUNNER_EVENT_STATE && ev->worker_state != NULL) {
		(void)snprintf(seen_state, sizeof(seen_state), "%s",
		    ev->worker_state);
		seen_id = ev->id;
	}
	if (reenter && ev->state == PODRUNNER_STATE_EXEC_END) {
		int64_t	id = 0;
		int	d, w, snd;

		reenter = 0;
		d = podrunner_dispatch(pr);
		w = podrunner_wait(pr, PODRUNNER_NOID, 0, NULL);
		snd = podrunner_send_code(pr, "print('from the callback')", 0,
		    &id);
		if (snd == PODRUNNER_OK)
			last_id = id;
		printf("reenter dispatch %s wait %s send %d id %" PRId64 "\n",
		    podrunner_strerror(d), podrunner_strerror(w), snd, id);
	}
}

/* \n \t \\ \xNN, in place. */
static void
unescape(char *s)
{
	char	*o = s;
	char	 hex[3];

	while (*s != '\0') {
		if (*s != '\\' || s[1] == '\0') {
			*o++ = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'n':
			*o++ = '\n';
			s++;
			break;
		case 't':
			*o++ = '\t';
			s++;
			break;
		case 'x':
			if (s[1] != '\0' && s[2] != '\0') {
				hex[0] = s[1];
				hex[1] = s[2];
				hex[2] = '\0';
				*o++ = (char)strtol(hex, NULL, 16);
				s += 3;
				break;
			}
			/* FALLTHROUGH */
		default:
			*o++ = *s++;
			break;
		}
	}
	*o = '\0';
}

static void
result(const char *cmd, int rv)
{
	if (rv >= 0)
		printf("%s %d\n", cmd, rv);
	else
		printf("%s %s\nerror %s\n", cmd, podrunner_strerror(rv),
		    podrunner_error(pr));
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The caller's loop: poll podrunner_fd(), dispatch, until done(). */
static int
loop(int (*done)(const char *), const char *arg, int ms)
{
	struct pollfd	pfd;
	int64_t		end = now_ms() + ms;
	int		rv, left;

	for (;;) {
		if (done != NULL && done(arg))
			return 0;
		left = ms < 0 ? -1 : (int)(end - now_ms());
		if (ms >= 0 && left <= 0)
			return PODRUNNER_ETIMEDOUT;
		pfd.fd = podrunner_fd(pr);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) == -1)
			err(1, "poll");
		if (pfd.revents == 0)
			continue;
		if ((rv = podrunner_dispatch(pr)) < 0)
			return done != NULL && done(arg) ? 0 : rv;
	}
}

static int
state_seen(const char *state)
{
	return seen_id == last_id && strcmp(seen_state, state) == 0;
}

static void *
interrupter(void *arg)
{
	int	rv;

	usleep((useconds_t)(intptr_t)arg * 1000);
	rv = podrunner_interrupt(pr);
	if (rv != PODRUNNER_OK)
		fprintf(stderr, "embedtest: interrupt from a thread: %s\n",
		    podrunner_error(pr));
	return NULL;
}

static void *
stopper(void *arg)
{
	int	rv;

	usleep((useconds_t)(intptr_t)arg * 1000);
	rv = podrunner_stop(pr, 60000);
	printf("stop-after %d\n", rv);
	return NULL;
}

static void
print_fds(void)
{
	char		 path[PATH_MAX], target[PATH_MAX];
	struct dirent	*de;
	DIR		*d;
	ssize_t		 n;

	(void)snprintf(path, sizeof(path), "/proc/%d/fd", podrunner_pid(pr));
	if ((d = opendir(path)) == NULL) {
		printf("fds error %s\n", strerror(errno));
		return;
	}
	printf("fds");
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%d/fd/%s",
		    podrunner_pid(pr), de->d_name);
		if ((n = readlink(path, target, sizeof(target) - 1)) == -1)
			continue;
		target[n] = '\0';
		printf(" %s=%s", de->d_name, target);
	}
	printf("\n");
	(void)closedir(d);
}

int
main(int argc, char *argv[])
{
	struct podrunner_options	 opts;
	const char			*flags[MAXARGS + 1], *env[MAXARGS + 1];
	char				*line = NULL, *cmd, *rest;
	size_t				 cap = 0;
	ssize_t				 n;
	pthread_t			 t;
	int64_t				 id;
	int				 ch, nflags = 0, nenv = 0, rv, code, ms;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&opts, 0, sizeof(opts));
	while ((ch = getopt(argc, argv, "e:f:iJ:L:m:p:P:t:w:x")) != -1) {
		switch (ch) {
		case 'e':
			if (nenv == MAXARGS)
				errx(2, "too many -e");
			env[nenv++] = optarg;
			break;
		case 'f':
			if (nflags == MAXARGS)
				errx(2, "too many -f");
			flags[nflags++] = optarg;
			break;
		case 'i':
			opts.stderr_mode = PODRUNNER_STDERR_INHERIT;
			break;
		case 'J':
			opts.policy_json = optarg;
			break;
		case 'L':
			/* A descriptor podrunner must not get. */
			if (open(optarg, O_RDONLY) == -1)
				err(2, "%s", optarg);
			break;
		case 'm':
			opts.memory = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			opts.podrunner = optarg;
			break;
		case 'P':
			opts.policy_path = optarg;
			break;
		case 't':
			opts.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			opts.worker = optarg;
			break;
		case 'x':
			opts.no_sandbox = 1;
			break;
		default:
			errx(2, "usage: see embedtest.c");
		}
	}
	flags[nflags] = NULL;
	env[nenv] = NULL;
	opts.flags = flags;
	if (nenv > 0)
		opts.env = env;
	if ((pr = podrunner_new(&opts)) == NULL) {
		printf("new %s\nerror %s\n", strerror(errno),
		    podrunner_error(NULL));
		return 1;
	}
	podrunner_on_event(pr, on_event, NULL);

	while ((n = getline(&line, &cap, stdin)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		cmd = line;
		if ((rest = strchr(line, ' ')) != NULL)
			*rest++ = '\0';
		else
			rest = line + n;
		ms = *rest != '\0' ? atoi(rest) : -1;
		if (strcmp(cmd, "start") == 0) {
			result("start", podrunner_start(pr, *rest != '\0' ?
			    ms : 60000));
		} else if (strcmp(cmd, "send") == 0 ||
		    strcmp(cmd, "fresh") == 0) {
			unescape(rest);
			rv = podrunner_send_code(pr, rest, *cmd == 'f', &id);
			if (rv == PODRUNNER_OK) {
				last_id = id;
				printf("%s %d id %" PRId64 "\n", cmd, rv, id);
			} else
				result(cmd, rv);
		} else if (strcmp(cmd, "wait") == 0) {
			id = PODRUNNER_NOID;
			ms = -1;
			if (*rest != '\0')
				id = strtoll(rest, &rest, 10);
			if (*rest == ' ')
				ms = atoi(rest + 1);
			rv = podrunner_wait(pr, id, ms, &code);
			if (rv == PODRUNNER_OK)
				printf("wait %d exit %d\n", rv, code);
			else
				result("wait", rv);
		} else if (strcmp(cmd, "until") == 0) {
			if ((cmd = strchr(rest, ' ')) != NULL) {
				*cmd++ = '\0';
				ms = atoi(cmd);
			} else
				ms = 60000;
			result("until", loop(state_seen, rest, ms));
		} else if (strcmp(cmd, "interrupt") == 0) {
			result("interrupt", podrunner_interrupt(pr));
		} else if (strcmp(cmd, "interrupt-after") == 0) {
			if ((errno = pthread_create(&t, NULL, interrupter,
			    (void *)(intptr_t)ms)) != 0)
				err(1, "pthread_create");
			(void)pthread_detach(t);
			printf("interrupt-after 0\n");
		} else if (strcmp(cmd, "stop-after") == 0) {
			if ((errno = pthread_create(&t, NULL, stopper,
			    (void *)(intptr_t)ms)) != 0)
				err(1, "pthread_create");
			printf("stop-after started\n");
		} else if (strcmp(cmd, "join") == 0) {
			(void)pthread_join(t, NULL);
			printf("join 0\n");
		} else if (strcmp(cmd, "reenter") == 0) {
			reenter = 1;
			printf("reenter armed\n");
		} else if (strcmp(cmd, "request-stop") == 0) {
			result("request-stop", podrunner_request_stop(pr));
		} else if (strcmp(cmd, "drain") == 0) {
			result("drain", loop(NULL, NULL, *rest != '\0' ? ms :
			    60000));
		} else if (strcmp(cmd, "stop") == 0) {
			result("stop", podrunner_stop(pr, *rest != '\0' ? ms :
			    60000));
		} else if (strcmp(cmd, "sleep") == 0) {
			usleep((useconds_t)ms * 1000);
			printf("sleep 0\n");
		} else if (strcmp(cmd, "pid") == 0) {
			printf("pid %d\n", podrunner_pid(pr));
		} else if (strcmp(cmd, "fds") == 0) {
			print_fds();
		} else if (strcmp(cmd, "free") == 0) {
			podrunner_free(pr);
			pr = NULL;
			printf("free 0\n");
		} else if (strcmp(cmd, "exit") == 0) {
			printf("exit 0\n");
			_exit(0);
		} else if (*cmd != '\0' && *cmd != '#')
			errx(2, "unknown command %s", cmd);
	}
	free(line);
	if (pr != NULL)
		podrunner_free(pr);
	return 0;
}
