/*
 * cworker: the reference worker in C.  It speaks podrunner's worker
 * protocol (podrunner(8), WORKER PROTOCOL) with libpodshm and the C
 * library only, and is meant to be read, copied and adapted by anyone
 * who writes a worker of their own.  Every step of the protocol is
 * here, in the order a worker meets it; what is particular to this
 * worker's small command language is kept apart at the end (run_script
 * and its commands).
 *
 * Build (make builds it as build/example/cworker, the same way):
 *
 *	cc -o cworker cworker.c $(pkg-config --cflags --libs podshm)
 *
 * Run it under podrunner as a custom worker; the entry is the script it
 * runs, passed in the "run" frame:
 *
 *	podrunner run --worker=custom:build/example/cworker \
 *	    [--allow-read=PATH ...] example/hello.cw [args ...]
 *
 * podrunner starts it as
 *
 *	cworker socket_path shm_name shm_size
 *
 * in the pod, with its standard input, output and error relayed.
 *
 * The language: the entry is text, one command per line; blank lines
 * and lines starting with '#' are skipped.  In the rest of a line, $N
 * is the "run" frame's argv[N] (argv[0] is the entry's path, "" past
 * the end) and $$ is a '$'; "frame" takes its text as it is.
 *
 *	print TEXT	TEXT and a newline on standard output
 *	args		argv[1], argv[2], ... one per line
 *	stdin		standard input copied to standard output
 *	env		the environment, one variable per line
 *	cat PATH	asks FS_READ of PATH (made absolute, symlinks
 *			resolved); allowed: the file on standard output;
 *			denied: a PermissionError, in Deno's words
 *	ask KIND TARGET	asks a decision (KIND: read, write, net, run,
 *			listdir, env, ffi, sys) and prints
 *			"KIND TARGET: allow" or "... deny"
 *	sleep MS	waits MS milliseconds, watching the control
 *			socket (a STOP ends the worker at once)
 *	frame TEXT	TEXT, unchanged, as one frame to the supervisor
 *			(a custom event; the supervisor cuts off a worker
 *			whose frame is not a JSON object with a "type")
 *	exit N		ends the script with status N (0 to 255)
 *
 * A command that fails (an unknown command, a denial, a file that
 * cannot be read) ends the script like an uncaught exception: its
 * message on standard error, a "state" event "exception" with
 * "exc_type" (CommandError, PermissionError or OSError) and
 * "traceback" ("line N: message"), and status 1.
 *
 * Events, worker to supervisor: {"type":"state","worker":"exec_start"}
 * before the first command, "exception" as above, and
 * {"type":"state","worker":"exec_end","exit_code":N} after the last;
 * then the process exits with N.  A frame from the supervisor that is
 * not a "run" frame gets an {"type":"error","data":...} event and is
 * otherwise ignored.  The script's output goes to standard output, a
 * pipe that podrunner relays, not through the rings.
 *
 * Exit status: the script's; 0 on STOP (at once, no further events);
 * 70 (EX_SOFTWARE) when the protocol fails: bad arguments, the segment
 * or the socket cannot be opened, the control socket closes or carries
 * a malformed message, a ring is corrupt, the "run" frame is malformed.
 * Then one line "cworker: reason" is written on standard error.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <podshm.h>

#define EX_SOFTWARE	70	/* the protocol failed */

/* Control messages (podrunner(8), Control socket). */
#define CTL_READY	"READY\n"	/* the first message, 6 bytes */
#define CTL_LEN		5		/* [u8 code][u32 id LE] */
#define CTL_DENY	0		/* answers: [decision][req_id] */
#define CTL_ALLOW	1
#define CTL_WARN	2		/* reserved: allowed */
#define CTL_DATA	0x10		/* frames wait in a ring */
#define CTL_STOP	0x11		/* supervisor -> worker: exit now */
#define TARGET_MAX	4096		/* a request's target, in bytes */

/* Request types: the permission kind each is decided as. */
#define REQ_FS_READ	1
static const struct {
	const char	*kind;		/* as in --allow-KIND */
	unsigned char	 type;
} kinds[] = {
	{ "read", REQ_FS_READ },	/* FS_READ: an absolute path */
	{ "write", 2 },		/* FS_WRITE */
	{ "net", 3 },		/* NET_CONNECT: host:port */
	{ "run", 4 },		/* EXEC: a program's path or name */
	{ "listdir", 5 },	/* LISTDIR: decided as a read */
	{ "env", 6 },		/* ENV: a variable name */
	{ "ffi", 7 },		/* FFI: a library's path */
	{ "sys", 8 },		/* SYS: hostname, uid, ... */
};

#define SEND_TIMEOUT_MS	2000	/* ring or socket full: then drop */

static struct {
	struct podshm	*shm;
	int		 sock;		/* the control socket */
	unsigned char	*frame;		/* one frame from the ring */
	size_t		 frame_max;
	uint32_t	 next_id;	/* request ids: never 0 */
	int		 running;	/* the script has started */
	char		*run;		/* the "run" frame, until taken */
	size_t		 run_len;
} w;

/* --- failing -------------------------------------------------------------- */

/* The protocol failed: one line on stderr, status 70. */
static void __attribute__((__noreturn__, __format__(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fputs("cworker: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EX_SOFTWARE);
}

static void __attribute__((__format__(printf, 1, 2)))
warnmsg(const char *fmt, ...)
{
	va_list	ap;

	fputs("cworker: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		die("out of memory");
	return p;
}

/* All of buf to fd (the script's output). */
static void
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return;		/* nobody reads: nothing to do */
		}
		p += n;
		len -= (size_t)n;
	}
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- JSON: just enough to read a "run" frame and write events ------------- */

/*
 * A growing byte buffer, for building events and decoding strings.
 */
struct buf {
	char	*p;
	size_t	 len, cap;
};

static void
buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			die("out of memory");
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* s (UTF-8 assumed, len bytes) as a JSON string, quotes included. */
static void
buf_json(struct buf *b, const char *s, size_t len)
{
	char	esc[8];
	size_t	i;

	buf_add(b, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			buf_add(b, esc, 2);
		} else if (c == '\n')
			buf_add(b, "\\n", 2);
		else if (c == '\t')
			buf_add(b, "\\t", 2);
		else if (c < 0x20 || c == 0x7f) {
			(void)snprintf(esc, sizeof(esc), "\\u%04x", c);
			buf_add(b, esc, 6);
		} else
			buf_add(b, &s[i], 1);
	}
	buf_add(b, "\"", 1);
}

/*
 * A strict reader over one frame.  Strings are decoded (escapes,
 * surrogate pairs) into a struct buf; everything else is checked and
 * skipped.  Nesting is bounded: a hostile frame cannot exhaust the
 * stack.
 */
struct json {
	const unsigned char	*p, *end;
	int			 depth;
};

#define JSON_DEPTH	64

static void
json_ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
json_hex4(struct json *j, unsigned int *v)
{
	int	i;

	*v = 0;
	if (j->end - j->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		unsigned char c = *j->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*v |= c - 'A' + 10;
		else
			return -1;
	}
	return 0;
}

static void
utf8_put(struct buf *b, unsigned int cp)
{
	char	u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		buf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 4);
	}
}

/* The length of the well-formed UTF-8 sequence at p, or 0. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t		n, i;
	unsigned int	cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* A string at j->p (at its '"'); decoded into out if out is not NULL. */
static int
json_string(struct json *j, struct buf *out)
{
	unsigned int	cp, lo;
	size_t		n;

	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = *j->p;

		if (c == '"') {
			j->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			if ((n = utf8_len(j->p, j->end)) == 0)
				return -1;
			if (out != NULL)
				buf_add(out, j->p, n);
			j->p += n;
			continue;
		}
		if (++j->p >= j->end)
			return -1;
		c = *j->p++;
		switch (c) {
		case '"': case '\\': case '/':
			cp = c;
			break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (json_hex4(j, &cp) == -1)
				return -1;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (j->end - j->p < 6 || j->p[0] != '\\' ||
				    j->p[1] != 'u')
					return -1;
				j->p += 2;
				if (json_hex4(j, &lo) == -1 || lo < 0xdc00 ||
				    lo > 0xdfff)
					return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			break;
		default:
			return -1;
		}
		if (out != NULL)
			utf8_put(out, cp);
	}
	return -1;
}

static int	json_skip(struct json *);

static int
json_number(struct json *j)
{
	const unsigned char	*start = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (j->p < j->end && *j->p >= '1' && *j->p <= '9')
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	else
		return -1;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return -1;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return -1;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	return j->p > start ? 0 : -1;
}

static int
json_word(struct json *j, const char *word)
{
	size_t	len = strlen(word);

	if ((size_t)(j->end - j->p) < len || memcmp(j->p, word, len) != 0)
		return -1;
	j->p += len;
	return 0;
}

/* Any value: checked, skipped. */
static int
json_skip(struct json *j)
{
	int	first = 1;

	json_ws(j);
	if (j->p >= j->end)
		return -1;
	switch (*j->p) {
	case '"':
		return json_string(j, NULL);
	case 't':
		return json_word(j, "true");
	case 'f':
		return json_word(j, "false");
	case 'n':
		return json_word(j, "null");
	case '[':
	case '{':
		break;
	default:
		return json_number(j);
	}
	if (++j->depth > JSON_DEPTH)
		return -1;
	if (*j->p++ == '[') {
		for (;;) {
			json_ws(j);
			if (j->p < j->end && *j->p == ']' && first) {
				j->p++;
				break;
			}
			if (json_skip(j) == -1)
				return -1;
			first = 0;
			json_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == ']') {
				j->p++;
				break;
			}
			return -1;
		}
	} else {
		for (;;) {
			json_ws(j);
			if (j->p < j->end && *j->p == '}' && first) {
				j->p++;
				break;
			}
			if (json_string(j, NULL) == -1)
				return -1;
			json_ws(j);
			if (j->p >= j->end || *j->p++ != ':' ||
			    json_skip(j) == -1)
				return -1;
			first = 0;
			json_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == '}') {
				j->p++;
				break;
			}
			return -1;
		}
	}
	j->depth--;
	return 0;
}

/*
 * The members of a frame we care about.  kind: 0 absent, 1 a string
 * (in str), 2 another value; argv: the array's strings when it is an
 * array of strings only.
 */
struct member {
	int		 kind;
	struct buf	 str;
};

struct frame {
	struct member	 type, path, source_b64;
	int		 argv_kind;	/* 0 absent, 1 strings, 2 other */
	struct buf	*argv;
	size_t		 argc;
};

static void
frame_free(struct frame *f)
{
	size_t	i;

	free(f->type.str.p);
	free(f->path.str.p);
	free(f->source_b64.str.p);
	for (i = 0; i < f->argc; i++)
		free(f->argv[i].p);
	free(f->argv);
	memset(f, 0, sizeof(*f));
}

/* A member's value: a string kept, anything else skipped. */
static int
member_value(struct json *j, struct member *m)
{
	free(m->str.p);
	memset(m, 0, sizeof(*m));
	json_ws(j);
	if (j->p < j->end && *j->p == '"') {
		m->kind = 1;
		buf_add(&m->str, "", 0);
		return json_string(j, &m->str);
	}
	m->kind = 2;
	return json_skip(j);
}

static int
argv_value(struct json *j, struct frame *f)
{
	const unsigned char	*start;
	struct buf		 s;
	size_t			 i;

	for (i = 0; i < f->argc; i++)
		free(f->argv[i].p);
	free(f->argv);
	f->argv = NULL;
	f->argc = 0;
	json_ws(j);
	start = j->p;
	f->argv_kind = 2;
	if (j->p >= j->end || *j->p != '[')
		return json_skip(j);
	/* Strings only: anything else and the whole value is "other". */
	j->p++;
	for (;;) {
		json_ws(j);
		if (j->p < j->end && *j->p == ']' && f->argc == 0) {
			j->p++;
			f->argv_kind = 1;
			return 0;
		}
		if (j->p >= j->end || *j->p != '"')
			break;
		memset(&s, 0, sizeof(s));
		buf_add(&s, "", 0);
		if (json_string(j, &s) == -1) {
			free(s.p);
			return -1;
		}
		if ((f->argv = realloc(f->argv, (f->argc + 1) *
		    sizeof(*f->argv))) == NULL)
			die("out of memory");
		f->argv[f->argc++] = s;
		json_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			f->argv_kind = 1;
			return 0;
		}
		return -1;
	}
	j->p = start;
	return json_skip(j);
}

/*
 * Parse a frame: -1 not JSON (or not UTF-8), -2 not an object, 0 an
 * object whose interesting members are in f.
 */
static int
frame_parse(const unsigned char *data, size_t len, struct frame *f)
{
	struct json	 j = { data, data + len, 0 };
	struct buf	 key;
	int		 first = 1;

	memset(f, 0, sizeof(*f));
	json_ws(&j);
	if (j.p >= j.end || *j.p != '{') {
		if (json_skip(&j) == -1)
			return -1;
		json_ws(&j);
		return j.p == j.end ? -2 : -1;
	}
	j.p++;
	j.depth = 1;
	for (;;) {
		json_ws(&j);
		if (j.p < j.end && *j.p == '}' && first) {
			j.p++;
			break;
		}
		memset(&key, 0, sizeof(key));
		buf_add(&key, "", 0);
		if (json_string(&j, &key) == -1)
			goto bad;
		json_ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			goto bad;
		/* Later duplicates win, as in most parsers. */
		if (strcmp(key.p, "type") == 0 && key.len == 4) {
			if (member_value(&j, &f->type) == -1)
				goto bad;
		} else if (strcmp(key.p, "path") == 0 && key.len == 4) {
			if (member_value(&j, &f->path) == -1)
				goto bad;
		} else if (strcmp(key.p, "source_b64") == 0 && key.len == 10) {
			if (member_value(&j, &f->source_b64) == -1)
				goto bad;
		} else if (strcmp(key.p, "argv") == 0 && key.len == 4) {
			if (argv_value(&j, f) == -1)
				goto bad;
		} else if (json_skip(&j) == -1)
			goto bad;
		free(key.p);
		first = 0;
		json_ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		if (j.p < j.end && *j.p == '}') {
			j.p++;
			break;
		}
		frame_free(f);
		return -1;
	}
	json_ws(&j);
	if (j.p != j.end) {
		frame_free(f);
		return -1;
	}
	return 0;
 bad:
	free(key.p);
	frame_free(f);
	return -1;
}

/* Strict base64 (RFC 4648, with padding): -1 if it is not. */
static int
b64_decode(const char *in, size_t len, struct buf *out)
{
	static const char	 set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char		*c;
	unsigned char		 o[3];
	uint32_t		 v;
	size_t			 i, k, pad;

	if (len % 4 != 0)
		return -1;
	buf_add(out, "", 0);
	for (i = 0; i < len; i += 4) {
		v = 0;
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2 &&
			    (k == 3 || in[i + 3] == '=')) {
				pad++;
				v <<= 6;
				continue;
			}
			if (pad > 0 || in[i + k] == '\0' ||
			    (c = strchr(set, in[i + k])) == NULL)
				return -1;
			v = v << 6 | (uint32_t)(c - set);
		}
		o[0] = (unsigned char)(v >> 16);
		o[1] = (unsigned char)(v >> 8);
		o[2] = (unsigned char)v;
		buf_add(out, o, 3 - pad);
	}
	return 0;
}

/* --- the data plane: frames in the rings -------------------------------- */

static void	ctl_note(unsigned char, uint32_t);

/* A send on the control socket failed. */
static void __attribute__((__noreturn__))
ctl_failed(void)
{
	/* The supervisor closed it: it cut us off, or it is gone. */
	if (errno == EPIPE || errno == ECONNRESET)
		die("control socket closed by the supervisor");
	die("control socket: %s", strerror(errno));
}

/* Tell the supervisor that frames wait in our ring. */
static void
notify_data(void)
{
	unsigned char	msg[CTL_LEN] = { CTL_DATA, 0, 0, 0, 0 };
	int64_t		deadline = now_ms() + SEND_TIMEOUT_MS;

	while (send(w.sock, msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    -1) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			ctl_failed();
		/* The supervisor has not read its messages yet. */
		if (now_ms() > deadline) {
			warnmsg("control socket full, DATA dropped");
			return;
		}
		(void)poll(NULL, 0, 1);
	}
}

/*
 * One frame to the supervisor, then DATA.  A full ring is waited on for
 * a while (the supervisor drains it on DATA), then the frame is dropped;
 * a corrupt ring is fatal.
 */
static void
send_frame(const void *data, size_t len)
{
	int64_t	deadline = now_ms() + SEND_TIMEOUT_MS;

	if (len > w.frame_max) {
		warnmsg("frame of %zu bytes does not fit the ring, dropped",
		    len);
		return;
	}
	while (podshm_send(w.shm, data, len) == -1) {
		if (errno == EPROTO)
			die("worker->supervisor ring is corrupt");
		if (errno != EAGAIN)
			die("writing the ring: %s", strerror(errno));
		if (now_ms() > deadline) {
			warnmsg("ring full for 2 s, frame dropped");
			return;
		}
		(void)poll(NULL, 0, 1);
	}
	notify_data();
}

static void
send_event(struct buf *b)
{
	send_frame(b->p, b->len);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void
send_error(const char *msg)
{
	struct buf	b = { 0 };

	buf_str(&b, "{\"type\":\"error\",\"data\":");
	buf_json(&b, msg, strlen(msg));
	buf_str(&b, "}");
	send_event(&b);
}

static void
send_state(const char *state)
{
	struct buf	b = { 0 };

	buf_str(&b, "{\"type\":\"state\",\"worker\":");
	buf_json(&b, state, strlen(state));
	buf_str(&b, "}");
	send_event(&b);
}

/*
 * Every frame waiting in the supervisor's ring (one DATA may stand for
 * several): the first "run" is kept for the script, anything else
 * gets an error event.
 */
static void
drain_ring(void)
{
	struct frame	 f;
	char		 msg[160];
	ssize_t		 n;
	int		 rv;

	for (;;) {
		if ((n = podshm_recv(w.shm, w.frame, w.frame_max)) == -1) {
			if (errno == EAGAIN)
				return;
			if (errno == EPROTO)
				die("supervisor->worker ring is corrupt (bad "
				    "index or frame length)");
			die("reading the ring: %s", strerror(errno));
		}
		if ((rv = frame_parse(w.frame, (size_t)n, &f)) == -1) {
			send_error("frame is not UTF-8 JSON");
			continue;
		}
		if (rv == -2) {
			send_error("frame is not a JSON object");
			continue;
		}
		if (f.type.kind == 1 && strcmp(f.type.str.p, "run") == 0 &&
		    f.type.str.len == 3) {
			if (w.running || w.run != NULL)
				send_error("a script is already running");
			else {
				w.run = xmalloc((size_t)n);
				memcpy(w.run, w.frame, (size_t)n);
				w.run_len = (size_t)n;
			}
		} else if (f.type.kind == 1) {
			(void)snprintf(msg, sizeof(msg), "unknown frame type "
			    "'%.100s'", f.type.str.p);
			send_error(msg);
		} else
			send_error("frame without a string \"type\"");
		frame_free(&f);
	}
}

/* --- the control plane: the socket ---------------------------------------- */

/*
 * Read one control message, waiting up to timeout_ms (-1: for ever).
 * Returns 1 with the message in code and id, 0 if none came.  Every
 * message is exactly 5 bytes; anything else is a protocol failure.
 */
static int
recv_ctl(int timeout_ms, unsigned char *code, uint32_t *id)
{
	struct pollfd	pfd = { w.sock, POLLIN, 0 };
	unsigned char	msg[64];
	ssize_t		n;
	int		rv;

	if ((rv = poll(&pfd, 1, timeout_ms)) == -1) {
		if (errno == EINTR)
			return 0;
		die("poll: %s", strerror(errno));
	}
	if (rv == 0)
		return 0;
	if ((n = recv(w.sock, msg, sizeof(msg), MSG_DONTWAIT)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		/* Closed with our messages unread: it cut us off. */
		if (errno != ECONNRESET)
			die("control socket: %s", strerror(errno));
		n = 0;
	}
	if (n == 0)
		die("control socket closed by the supervisor");
	if (n != CTL_LEN)
		die("control message of %zd bytes, want %d", n, CTL_LEN);
	*code = msg[0];
	*id = (uint32_t)msg[1] | (uint32_t)msg[2] << 8 |
	    (uint32_t)msg[3] << 16 | (uint32_t)msg[4] << 24;
	if ((*code == CTL_DATA || *code == CTL_STOP) && *id != 0)
		die("notification 0x%02x with id %u", *code, *id);
	if (*code != CTL_DATA && *code != CTL_STOP && *code != CTL_DENY &&
	    *code != CTL_ALLOW && *code != CTL_WARN)
		die("control message with code 0x%02x", *code);
	return 1;
}

/* A notification: STOP ends us now, DATA means frames to read. */
static void
ctl_note(unsigned char code, uint32_t id)
{
	(void)id;
	if (code == CTL_STOP)
		_exit(0);	/* output is written unbuffered: nothing lost */
	drain_ring();
}

/* What came on the socket meanwhile, without waiting. */
static void
ctl_poll(int timeout_ms)
{
	unsigned char	code;
	uint32_t	id;

	while (recv_ctl(timeout_ms, &code, &id)) {
		if (code != CTL_DATA && code != CTL_STOP)
			die("decision for request %u, none asked", id);
		ctl_note(code, id);
		timeout_ms = 0;
	}
}

/*
 * Ask the supervisor: [u8 type][u32 req_id LE][target], then wait for
 * the 5-byte answer with the same req_id, handling notifications that
 * come first.  One request in flight at a time here.  Returns 1 allow
 * (or warn), 0 deny.
 */
static int
ask(unsigned char type, const char *target)
{
	unsigned char	 msg[CTL_LEN + TARGET_MAX], code;
	size_t		 len = strlen(target);
	uint32_t	 id, got;

	if (len == 0 || len > TARGET_MAX)
		return 0;	/* not a target: the supervisor would cut us off */
	if (++w.next_id == 0)
		w.next_id = 1;
	id = w.next_id;
	msg[0] = type;
	msg[1] = id & 0xff;
	msg[2] = (id >> 8) & 0xff;
	msg[3] = (id >> 16) & 0xff;
	msg[4] = (id >> 24) & 0xff;
	memcpy(msg + CTL_LEN, target, len);
	while (send(w.sock, msg, CTL_LEN + len, MSG_NOSIGNAL) == -1)
		if (errno != EINTR)
			ctl_failed();
	for (;;) {
		if (!recv_ctl(-1, &code, &got))
			continue;
		if (code == CTL_DATA || code == CTL_STOP) {
			ctl_note(code, got);
			continue;
		}
		if (got != id)
			die("decision for request %u, none asked", got);
		return code != CTL_DENY;
	}
}

/* --- the script: this worker's own language -------------------------------- */

struct script {
	char	**argv;		/* from the run frame */
	size_t	  argc;
	size_t	  line;		/* the current line, from 1 */
	int	  status;
	struct buf err;		/* a failure's message */
	const char *exc_type;
};

static int __attribute__((__format__(printf, 3, 4)))
fail(struct script *s, const char *exc_type, const char *fmt, ...)
{
	va_list	ap;
	char	msg[8192];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->exc_type = exc_type;
	free(s->err.p);
	memset(&s->err, 0, sizeof(s->err));
	buf_str(&s->err, msg);
	return -1;
}

/* $N and $$ in text, into out. */
static void
expand(struct script *s, const char *text, struct buf *out)
{
	const char	*p;
	size_t		 n;

	buf_add(out, "", 0);
	for (p = text; *p != '\0'; p++) {
		if (p[0] == '$' && p[1] == '$') {
			buf_add(out, "$", 1);
			p++;
		} else if (p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
			n = 0;
			while (p[1] >= '0' && p[1] <= '9' && n < 100000)
				n = n * 10 + (size_t)(*++p - '0');
			if (n < s->argc)
				buf_str(out, s->argv[n]);
		} else
			buf_add(out, p, 1);
	}
}

/* The form a request names: absolute, symlinks resolved if it exists. */
static void
abs_path(const char *path, char *out, size_t len)
{
	char	cwd[PATH_MAX];
	int	n;

	if (realpath(path, out) != NULL)
		return;
	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		n = snprintf(out, len, "%s", path);
	else
		n = snprintf(out, len, "%s/%s", strcmp(cwd, "/") == 0 ? "" :
		    cwd, path);
	if (n < 0 || (size_t)n >= len)
		(void)snprintf(out, len, "%s", path);	/* too long: as is */
}

static int
cmd_cat(struct script *s, const char *arg)
{
	char	path[PATH_MAX], buf[65536];
	ssize_t	n;
	int	fd;

	if (*arg == '\0')
		return fail(s, "CommandError", "cat: no path");
	abs_path(arg, path, sizeof(path));
	/* Ask first; act only on an allow. */
	if (!ask(REQ_FS_READ, path))
		return fail(s, "PermissionError", "Requires read access to "
		    "\"%s\", run again with --allow-read=%s", path, path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return fail(s, "OSError", "cat: %s: %s", path, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		write_all(STDOUT_FILENO, buf, (size_t)n);
	if (n == -1) {
		n = errno;
		close(fd);
		return fail(s, "OSError", "cat: %s: %s", path,
		    strerror((int)n));
	}
	close(fd);
	return 0;
}

static int
cmd_ask(struct script *s, const char *arg)
{
	struct buf	 out = { 0 };
	const char	*target;
	size_t		 i, klen;

	klen = strcspn(arg, " \t");
	for (target = arg + klen; *target == ' ' || *target == '\t'; target++)
		;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].kind) == klen &&
		    strncmp(kinds[i].kind, arg, klen) == 0)
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		return fail(s, "CommandError", "ask: unknown kind '%.*s'",
		    (int)klen, arg);
	if (*target == '\0' || strlen(target) > TARGET_MAX)
		return fail(s, "CommandError", "ask: a target of 1 to %d bytes",
		    TARGET_MAX);
	buf_add(&out, arg, klen);
	buf_str(&out, " ");
	buf_str(&out, target);
	buf_str(&out, ask(kinds[i].type, target) ? ": allow\n" : ": deny\n");
	write_all(STDOUT_FILENO, out.p, out.len);
	free(out.p);
	return 0;
}

static int
cmd_number(struct script *s, const char *cmd, const char *arg, long max,
    long *v)
{
	char	*end;

	errno = 0;
	*v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || *v < 0 || *v > max)
		return fail(s, "CommandError", "%s: \"%s\" is not a number "
		    "from 0 to %ld", cmd, arg, max);
	return 0;
}

/* One command line; -1 (with s->err) ends the script with status 1. */
static int
run_line(struct script *s, char *line)
{
	extern char	**environ;
	struct buf	  arg = { 0 };
	char		 *rest, **e, buf[65536];
	size_t		  len, i;
	ssize_t		  n;
	long		  v;
	int		  rv = 0;
	int64_t		  until;

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '\0' || *line == '#')
		return 0;
	len = strcspn(line, " \t");
	for (rest = line + len; *rest == ' ' || *rest == '\t'; rest++)
		;
	line[len] = '\0';
	if (strcmp(line, "frame") == 0) {
		/* Unchanged, unchecked: the supervisor checks it. */
		send_frame(rest, strlen(rest));
		return 0;
	}
	expand(s, rest, &arg);
	if (strcmp(line, "print") == 0) {
		buf_add(&arg, "\n", 1);
		write_all(STDOUT_FILENO, arg.p, arg.len);
	} else if (strcmp(line, "args") == 0) {
		for (i = 1; i < s->argc; i++) {
			write_all(STDOUT_FILENO, s->argv[i], strlen(s->argv[i]));
			write_all(STDOUT_FILENO, "\n", 1);
		}
	} else if (strcmp(line, "stdin") == 0) {
		while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0 ||
		    (n == -1 && errno == EINTR))
			if (n > 0)
				write_all(STDOUT_FILENO, buf, (size_t)n);
	} else if (strcmp(line, "env") == 0) {
		for (e = environ; *e != NULL; e++) {
			write_all(STDOUT_FILENO, *e, strlen(*e));
			write_all(STDOUT_FILENO, "\n", 1);
		}
	} else if (strcmp(line, "cat") == 0)
		rv = cmd_cat(s, arg.p);
	else if (strcmp(line, "ask") == 0)
		rv = cmd_ask(s, arg.p);
	else if (strcmp(line, "sleep") == 0) {
		if ((rv = cmd_number(s, "sleep", arg.p, 86400000, &v)) == 0) {
			/* Awake for the control socket all along. */
			until = now_ms() + v;
			while (now_ms() < until)
				ctl_poll((int)(until - now_ms()));
		}
	} else if (strcmp(line, "exit") == 0) {
		if ((rv = cmd_number(s, "exit", arg.p, 255, &v)) == 0) {
			s->status = (int)v;
			rv = 1;
		}
	} else
		rv = fail(s, "CommandError", "unknown command '%.64s'", line);
	free(arg.p);
	return rv;
}

/* The script, line by line; returns its exit status. */
static int
run_script(struct script *s, char *src, size_t len)
{
	struct buf	 ev = { 0 }, text = { 0 };
	char		*line, *nl, *end = src + len, tb[64];
	int		 rv;

	send_state("exec_start");
	for (line = src; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		s->line++;
		/* Between commands: a STOP or frames may have come. */
		ctl_poll(0);
		if ((rv = run_line(s, line)) == 1)
			break;			/* exit N */
		if (rv == 0)
			continue;
		/*
		 * A failure, as an uncaught exception: "line N: message"
		 * on stderr and as the event's traceback, status 1.
		 */
		(void)snprintf(tb, sizeof(tb), "line %zu: ", s->line);
		buf_str(&text, tb);
		buf_add(&text, s->err.p, s->err.len);
		buf_add(&text, "\n", 1);
		write_all(STDERR_FILENO, text.p, text.len);
		buf_str(&ev, "{\"type\":\"state\",\"worker\":\"exception\","
		    "\"exc_type\":");
		buf_json(&ev, s->exc_type, strlen(s->exc_type));
		buf_str(&ev, ",\"traceback\":");
		buf_json(&ev, text.p, text.len);
		buf_str(&ev, "}");
		send_event(&ev);
		free(text.p);
		s->status = 1;
		break;
	}
	return s->status;
}

/* --- start-up and the protocol's sequence ----------------------------------- */

int
main(int argc, char *argv[])
{
	struct sockaddr_un	 sun;
	struct script		 s;
	struct frame		 f;
	struct buf		 src = { 0 }, end = { 0 };
	unsigned char		 code;
	uint32_t		 id;
	unsigned long long	 size;
	char			*endp, num[32];
	size_t			 i;
	int			 fd;

	/*
	 * PODSHM_LIB names the pod's copy of the library, for workers that
	 * load it at run time (FFI); linked with it, we need not.  Nothing
	 * of the supervisor's should reach the script.
	 */
	(void)unsetenv("PODSHM_LIB");

	/* 1. The command line: socket_path shm_name shm_size. */
	if (argc != 4)
		die("usage: cworker socket_path shm_name shm_size");
	errno = 0;
	size = strtoull(argv[3], &endp, 10);
	if (argv[3][0] < '0' || argv[3][0] > '9' || *endp != '\0' ||
	    errno != 0 || size == 0 || size > PODSHM_MAX_SIZE)
		die("shm_size \"%s\" is not a positive decimal number",
		    argv[3]);

	/* 2. The rings: the supervisor made the segment; we attach. */
	if ((w.shm = podshm_open(argv[2], (size_t)size, PODSHM_WORKER)) ==
	    NULL)
		die("opening shared memory %s (%llu bytes): %s", argv[2], size,
		    strerror(errno));
	w.frame_max = podshm_max_frame(w.shm);
	w.frame = xmalloc(w.frame_max);

	/* 3. The control socket: SOCK_SEQPACKET, one message each. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(argv[1]) >= sizeof(sun.sun_path))
		die("connecting to %s: path too long", argv[1]);
	memcpy(sun.sun_path, argv[1], strlen(argv[1]));
	if ((w.sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) ==
	    -1 || connect(w.sock, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("connecting to %s: %s", argv[1], strerror(errno));

	/* 4. READY, once the rings are mapped and the socket connected. */
	if (send(w.sock, CTL_READY, strlen(CTL_READY), MSG_NOSIGNAL) == -1)
		die("connecting to %s: %s", argv[1], strerror(errno));

	/* 5. Wait for the "run" frame: DATA, then read the ring. */
	while (w.run == NULL) {
		if (!recv_ctl(-1, &code, &id))
			continue;
		if (code != CTL_DATA && code != CTL_STOP)
			die("decision for request %u, none asked", id);
		ctl_note(code, id);
	}

	/* 6. Check it: "path" absolute, "argv" strings, the source. */
	if (frame_parse((unsigned char *)w.run, w.run_len, &f) != 0)
		die("run frame: unreadable");	/* checked in drain_ring */
	free(w.run);
	w.run = NULL;
	if (f.path.kind != 1 || f.path.str.p[0] != '/' ||
	    strlen(f.path.str.p) != f.path.str.len) {
		send_error("run frame: \"path\" must be an absolute path");
		die("run frame: \"path\" must be an absolute path");
	}
	if (f.argv_kind == 2 || (f.argv_kind == 1 && f.argc == 0)) {
		send_error("run frame: \"argv\" must be a non-empty list of "
		    "strings");
		die("run frame: \"argv\" must be a non-empty list of strings");
	}
	if (f.source_b64.kind == 2) {
		send_error("run frame: \"source_b64\" must be a string");
		die("run frame: \"source_b64\" must be a string");
	}
	if (f.source_b64.kind == 1) {
		if (b64_decode(f.source_b64.str.p, f.source_b64.str.len,
		    &src) == -1) {
			send_error("run frame: \"source_b64\" is not base64");
			die("run frame: \"source_b64\" is not base64");
		}
	} else {
		/* No source in the frame: the file at "path". */
		char	rd[65536];
		ssize_t	n;

		if ((fd = open(f.path.str.p, O_RDONLY | O_CLOEXEC)) == -1) {
			send_error("run frame: no source_b64 and the path "
			    "cannot be read");
			die("run frame: no source_b64 and %s: %s",
			    f.path.str.p, strerror(errno));
		}
		buf_add(&src, "", 0);
		while ((n = read(fd, rd, sizeof(rd))) > 0)
			buf_add(&src, rd, (size_t)n);
		close(fd);
	}
	memset(&s, 0, sizeof(s));
	if (f.argv_kind == 1) {
		s.argc = f.argc;
		s.argv = xmalloc(f.argc * sizeof(char *));
		for (i = 0; i < f.argc; i++)
			s.argv[i] = f.argv[i].p;
	} else {
		s.argc = 1;
		s.argv = xmalloc(sizeof(char *));
		s.argv[0] = f.path.str.p;
	}

	/* 7. Run it: exec_start, the commands, exec_end, exit. */
	w.running = 1;
	(void)run_script(&s, src.p, src.len);
	(void)snprintf(num, sizeof(num), "%d", s.status);
	buf_str(&end, "{\"type\":\"state\",\"worker\":\"exec_end\","
	    "\"exit_code\":");
	buf_str(&end, num);
	buf_str(&end, "}");
	send_event(&end);
	return s.status;
}
