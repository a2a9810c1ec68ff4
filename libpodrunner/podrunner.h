/*
 * libpodrunner: run untrusted code in a podrunner pod from a C program.
 *
 * The library holds no privilege and starts no daemon inside the
 * embedding process: it runs "podrunner serve [options]" as a child
 * (fork and exec, pipes on its standard input, output and error,
 * close-on-exec everywhere, PR_SET_PDEATHSIG so that it dies with us)
 * and speaks serve's JSON-lines protocol with it.  One handle is one
 * podrunner serve, one pod and one persistent worker; code submissions
 * run in it one after the other and keep their globals unless sent
 * "fresh".
 *
 *	struct podrunner_options o = { .worker = "python" };
 *	struct podrunner *pr = podrunner_new(&o);
 *	podrunner_on_event(pr, print_event, NULL);
 *	if (podrunner_start(pr, 10000) != PODRUNNER_OK)
 *		errx(1, "%s", podrunner_error(pr));
 *	podrunner_send_code(pr, "print(6 * 7)", 0, &id);
 *	podrunner_wait(pr, id, -1, &code);
 *	status = podrunner_stop(pr, 10000);
 *	podrunner_free(pr);
 *
 * Threads: see libpodrunner(3), THREADS.  In short: send_code,
 * interrupt and request_stop may be called from any thread at any
 * time, also from an event callback; dispatch, wait, start and stop
 * read podrunner's output, one thread at a time, and run the callback
 * on the calling thread; they may not be called from the callback.
 */
#ifndef PODRUNNER_H
#define PODRUNNER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes: 0 or more is success, negative an error. */
#define PODRUNNER_OK		  0
#define PODRUNNER_ESYS		 -1	/* a system call failed */
#define PODRUNNER_EINVAL	 -2	/* bad argument */
#define PODRUNNER_ESTATE	 -3	/* not now: not started, stopping... */
#define PODRUNNER_ETIMEDOUT	 -4	/* the timeout passed */
#define PODRUNNER_EEXITED	 -5	/* podrunner serve has exited */
#define PODRUNNER_EBUSY		 -6	/* called from an event callback */
#define PODRUNNER_EREFUSED	 -7	/* podrunner refused the submission */

/* The id of an event that carries none (policy-loaded, ready, exit). */
#define PODRUNNER_NOID		 ((int64_t)-1)

struct podrunner_options {
	/*
	 * The podrunner binary.  NULL: $PODRUNNER (ignored in a set-user-ID
	 * program), else the installed one (podrunner_default_path()).
	 */
	const char		 *podrunner;
	/* A policy file (--policy), or the document itself, which the
	 * child gets base64-encoded in POD_POLICY_JSON; not both. */
	const char		 *policy_path;
	const char		 *policy_json;
	/* --worker: "python" (NULL); serve has no other persistent
	 * worker yet, and refuses another. */
	const char		 *worker;
	uint64_t		  shm_size;	/* bytes; 0: podrunner's 1 MiB */
	uint64_t		  memory;	/* bytes; 0: podrunner's 64 MiB */
	double			  cpus;		/* 0: no limit; 0.5 is half a CPU */
	unsigned		  pids;		/* 0: podrunner's default */
	/* --timeout: each submission's; one that runs longer has its
	 * pod killed (exit event 124).  0: none. */
	unsigned		  timeout_ms;
	int			  no_sandbox;	/* --no-sandbox (development) */
	/* More options for podrunner serve (--allow-read=/data, -v...),
	 * a NULL-terminated array, or NULL. */
	const char *const	 *flags;
	/* The child's environment, a NULL-terminated array of "NAME=value";
	 * NULL: ours.  podrunner reads POD_* variables from it. */
	const char *const	 *env;
	/*
	 * podrunner's own standard error (its "podrunner: ..." lines):
	 * 0, captured, each line given to the callback as a
	 * PODRUNNER_EVENT_LOG and the last one kept for podrunner_error();
	 * PODRUNNER_STDERR_INHERIT, ours.
	 */
	int			  stderr_mode;
#define PODRUNNER_STDERR_CAPTURE	0
#define PODRUNNER_STDERR_INHERIT	1
};

enum podrunner_event_type {
	PODRUNNER_EVENT_OTHER = 0,	/* a type this library does not know */
	PODRUNNER_EVENT_POLICY_LOADED,	/* the normalised policy (in json) */
	PODRUNNER_EVENT_READY,		/* the worker is ready */
	PODRUNNER_EVENT_STATE,		/* a submission's state: see state */
	PODRUNNER_EVENT_OUTPUT,		/* stdout or stderr text: data */
	PODRUNNER_EVENT_MEMORY,		/* after each exec_end: mem_* */
	PODRUNNER_EVENT_ERROR,		/* a request was refused: data */
	PODRUNNER_EVENT_SYSCALLS,	/* the audit's counts (in json) */
	PODRUNNER_EVENT_EXIT,		/* the pod is gone: exit_code; last */
	PODRUNNER_EVENT_LOG,		/* a line podrunner wrote on stderr */
	PODRUNNER_EVENT_INVALID		/* a line that is not an event */
};

enum podrunner_state {
	PODRUNNER_STATE_NONE = 0,	/* not a state event */
	PODRUNNER_STATE_OTHER,		/* a state this library does not know */
	PODRUNNER_STATE_EXEC_START,
	PODRUNNER_STATE_EXCEPTION,	/* exc_type, traceback */
	PODRUNNER_STATE_INTERRUPTED,
	PODRUNNER_STATE_EXEC_END	/* exit_code; a submission's last */
};

enum podrunner_stream {
	PODRUNNER_STREAM_NONE = 0,
	PODRUNNER_STREAM_STDOUT,
	PODRUNNER_STREAM_STDERR
};

/*
 * One event.  Every pointer is valid during the callback only; strings
 * are NUL-terminated (data may also hold NULs: use data_len).  Fields
 * that do not apply are NULL, PODRUNNER_NOID or -1.
 */
struct podrunner_event {
	enum podrunner_event_type type;
	const char		*type_name;	/* "output", as in the line */
	int64_t			 id;		/* the submission's, or NOID */
	enum podrunner_stream	 stream;	/* OUTPUT */
	const char		*data;		/* OUTPUT, ERROR, LOG, INVALID */
	size_t			 data_len;
	enum podrunner_state	 state;		/* STATE */
	const char		*worker_state;	/* STATE: "exec_start"... */
	int			 exit_code;	/* STATE exec_end, EXIT */
	const char		*exc_type;	/* STATE exception */
	const char		*traceback;
	int64_t			 mem_current;	/* MEMORY, bytes */
	int64_t			 mem_peak;
	int64_t			 mem_limit;
	const char		*json;		/* the line, without its newline;
						   NULL for LOG */
	size_t			 json_len;
};

typedef void	(*podrunner_event_cb)(const struct podrunner_event *ev,
		    void *arg);

struct podrunner;	/* opaque */

/*
 * A handle; nothing runs yet.  opts may be NULL (every default); it is
 * copied, strings included.  NULL on failure (podrunner_error(NULL)).
 */
struct podrunner	*podrunner_new(const struct podrunner_options *opts);
/* Stops a running podrunner serve at once (SIGTERM: what runs is not
 * waited for; SIGKILL 5 s later), delivering no events, and frees
 * everything.  Not while another thread uses the handle. */
void			 podrunner_free(struct podrunner *pr);

/* The callback for every event (one; a second call replaces it). */
void			 podrunner_on_event(struct podrunner *pr,
			    podrunner_event_cb cb, void *arg);

/*
 * Spawn podrunner serve, send "start", and dispatch events until the
 * worker is ready.  timeout_ms: < 0 waits as long as it takes, 0 does
 * not wait (ready then comes through podrunner_dispatch).  A podrunner
 * that exits first gives PODRUNNER_EEXITED, podrunner_error() saying
 * its status and its last "podrunner: ..." line; a timeout kills it,
 * PODRUNNER_ETIMEDOUT.  Once per handle.
 */
int			 podrunner_start(struct podrunner *pr, int timeout_ms);

/*
 * Queue code (UTF-8) for the worker; *idp (if not NULL) gets the
 * submission's id, which its events carry.  fresh: run it in a new,
 * empty namespace, which the next submissions then share.  Returns
 * when the request is written, not when it has run.
 */
int			 podrunner_send_code(struct podrunner *pr,
			    const char *code, int fresh, int64_t *idp);
/* Interrupt the running submission (KeyboardInterrupt in Python). */
int			 podrunner_interrupt(struct podrunner *pr);
/* Ask podrunner serve to stop once what was sent has run, without
 * waiting: its exit event and end come through podrunner_dispatch. */
int			 podrunner_request_stop(struct podrunner *pr);
/*
 * Stop: ask, dispatch the remaining events until podrunner serve has
 * exited, reap it.  serve runs the submissions sent before the stop
 * first (interrupt to hurry).  Returns its exit status (0 after a
 * clean stop, 128+N for signal N), also when it had exited already.
 * After timeout_ms (< 0: none) it is sent SIGTERM (it stops at once),
 * then SIGKILL, reaped, and the result is PODRUNNER_ETIMEDOUT.
 */
int			 podrunner_stop(struct podrunner *pr, int timeout_ms);

/*
 * For the caller's event loop: podrunner_fd() (an epoll set) is
 * readable (POLLIN) when podrunner_dispatch() has something to do.  It
 * is valid from podrunner_new() to podrunner_free() and never readable
 * once podrunner serve has exited and everything was delivered.
 * podrunner_dispatch() reads what is there, without blocking, and
 * calls the callback for each event; returns the number of events, or
 * PODRUNNER_EEXITED once podrunner serve has exited and every event
 * was delivered.
 */
int			 podrunner_fd(struct podrunner *pr);
int			 podrunner_dispatch(struct podrunner *pr);

/*
 * Dispatch until the exec_end of submission id (or the latest one, if
 * id is PODRUNNER_NOID); *exit_code (if not NULL) gets its exit code,
 * or -1 if it is no longer known (1024 ends are remembered).
 * PODRUNNER_EREFUSED if podrunner refused it (an error event with its
 * id: too large for the data plane...; podrunner_error() quotes it),
 * PODRUNNER_EEXITED if the pod ends first, PODRUNNER_ETIMEDOUT after
 * timeout_ms (< 0: none; the submission goes on running).
 */
int			 podrunner_wait(struct podrunner *pr, int64_t id,
			    int timeout_ms, int *exit_code);

/* podrunner serve's pid, or -1 (not started, or reaped). */
int			 podrunner_pid(struct podrunner *pr);

/*
 * What the last failing call on this thread said (not only for pr: it
 * is per thread, as dlerror()).  Never NULL.
 */
const char		*podrunner_error(struct podrunner *pr);
/* A return code in words. */
const char		*podrunner_strerror(int code);
/* The binary used when neither options nor $PODRUNNER name one. */
const char		*podrunner_default_path(void);

#ifdef __cplusplus
}
#endif

#endif /* PODRUNNER_H */
