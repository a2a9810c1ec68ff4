/*
 * HTTP/1.1 message parsing for the egress proxy (RFC 9110, RFC 9112).
 * Pure code: no I/O, no process state, so the unit tests and the
 * fuzzer drive the same functions as the proxy.
 *
 * Strict where a lenient reading is an attack surface (request
 * smuggling, header injection, ambiguous hosts): bare LF, obs-fold,
 * control characters, whitespace before a colon, Content-Length with
 * Transfer-Encoding, a Transfer-Encoding other than chunked, and a
 * host that is neither a DNS name nor an address literal are refused.
 *
 * A message is read in two parts: its head (http_head_scan() finds
 * where it ends, http_parse_request() or http_parse_response() parse
 * it), then its body, whose end the framing state machine
 * (http_body_step()) finds without buffering it.
 */
#ifndef PODRUNNER_HTTP_H
#define PODRUNNER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_LINE_MAX		(8 * 1024)	/* request line */
#define HTTP_HEAD_MAX		(64 * 1024)	/* request or response head */
#define HTTP_FIELDS_MAX		100		/* header fields of a request */
#define HTTP_RESP_FIELDS_MAX	256		/* header fields of a response */
#define HTTP_CHUNK_LINE_MAX	4096		/* chunk-size line, extensions */
#define HTTP_TRAILER_MAX	(64 * 1024)	/* trailer section */
#define HTTP_HOST_MAX		253		/* DNS name, no trailing dot */
/* "[" v6 "]:" port, or a name, ":" and a port */
#define HTTP_HOSTPORT_MAX	(HTTP_HOST_MAX + 8)

enum http_ret {
	HTTP_ERROR = -1,
	HTTP_MORE = 0,		/* need more bytes */
	HTTP_DONE = 1		/* complete */
};

/*
 * Why a message was refused: the status the client gets (400; 403 for
 * an ambiguous numeric host; 501, 505; 502 for a bad response from an
 * origin) and a short static reason for the response body and the log.
 */
struct http_error {
	int		 status;
	const char	*reason;
};

/* Where the end of a head is, found incrementally across reads. */
struct http_scan {
	size_t		 off;		/* bytes examined so far */
	size_t		 start;		/* the head starts here (after
					 * leading empty lines) */
	size_t		 line;		/* start of the current line */
	unsigned int	 lines;		/* lines ended so far */
};

struct http_field {
	const char	*name;		/* as received */
	const char	*value;		/* OWS trimmed */
};

enum http_framing {
	HTTP_BODY_NONE = 0,	/* no body */
	HTTP_BODY_LENGTH,	/* Content-Length bytes */
	HTTP_BODY_CHUNKED,	/* chunked transfer coding */
	HTTP_BODY_CLOSE		/* until the connection closes (responses) */
};

/* A parsed head.  The strings point into buf, which the message owns. */
struct http_msg {
	char		*buf;
	size_t		 len;		/* bytes of the head as received */
	int		 minor;		/* HTTP/1.minor */
	/* request */
	const char	*method;
	const char	*target;
	/* response */
	int		 status;
	const char	*reason;
	struct http_field *fields;
	size_t		 nfields;
	/* framing */
	int		 framing;	/* enum http_framing */
	uint64_t	 length;	/* HTTP_BODY_LENGTH */
	int		 keepalive;	/* persistent after this message */
};

/* The request-target of a proxy request. */
struct http_target {
	int		 connect;		/* authority-form (CONNECT) */
	int		 family;		/* 0 (a name), AF_INET, AF_INET6 */
	uint16_t	 port;
	/* lower case, no trailing dot; an IPv6 address without brackets,
	 * in its short form */
	char		 host[HTTP_HOST_MAX + 1];
	/* "host:port", "a.b.c.d:port", "[v6]:port": what policyd is asked */
	char		 hostport[HTTP_HOSTPORT_MAX + 1];
	/* the Host field sent to the origin: the port only if not 80 */
	char		 authority[HTTP_HOSTPORT_MAX + 1];
	/* origin-form: "/path?query" (points into the message, or "/") */
	const char	*path;
	size_t		 pathlen;
};

/*
 * Body framing state: the end of a message found while its bytes
 * stream through.
 */
struct http_body {
	int		 framing;	/* enum http_framing */
	int		 state;
	uint64_t	 left;		/* of the Content-Length or chunk */
	size_t		 linelen;	/* of the chunk-size or trailer line */
	size_t		 trailer;	/* bytes of the trailer section */
	unsigned int	 ntrailers;
	unsigned int	 sizedigits;
};

/*
 * Look for the end of a head in buf[0..len) (the same buffer, grown,
 * on each call; scan starts zeroed).  Empty lines before the start line
 * are skipped (RFC 9112, 2.2).  HTTP_DONE: the head is
 * buf[scan->start .. *headlen) with its final empty line; HTTP_MORE;
 * HTTP_ERROR and err (a bare CR or LF, a line or head too long, too
 * many fields).  linemax bounds the start line, maxfields the field
 * lines.
 */
int	 http_head_scan(struct http_scan *, const char *buf, size_t len,
	    size_t linemax, size_t maxfields, size_t *headlen,
	    struct http_error *);

/*
 * Parse a complete request head (as delimited by http_head_scan(),
 * without the skipped empty lines) and its framing.  0, or -1 and err.
 * The message must be freed with http_msg_free() either way.
 */
int	 http_parse_request(struct http_msg *, const char *head, size_t len,
	    struct http_error *);
/* The target of a parsed request: absolute-form with the http scheme,
 * or authority-form for CONNECT.  0, or -1 and err. */
int	 http_parse_target(const struct http_msg *, struct http_target *,
	    struct http_error *);
/*
 * Parse a response head and its framing; method is the request's
 * (HEAD and CONNECT change the framing).  Errors have status 502.
 */
int	 http_parse_response(struct http_msg *, const char *head, size_t len,
	    const char *method, struct http_error *);
void	 http_msg_free(struct http_msg *);

/* The first value of a field (case-insensitive name), or NULL. */
const char *http_field(const struct http_msg *, const char *);
/* Whether a list-valued field (all its lines) holds a token. */
int	 http_field_has_token(const struct http_msg *, const char *,
	    const char *);

/*
 * The head sent to the origin: origin-form request line, HTTP/1.1,
 * Host from the target, the client's fields minus hop-by-hop ones
 * (Connection and the fields it names, Keep-Alive, Proxy-Connection,
 * Proxy-Authorization, TE, Trailer, Upgrade) and the client's Host,
 * a Via field, and "Connection: close" when close is set.  malloc'd,
 * *len bytes (no NUL counted).
 */
char	*http_request_forward(const struct http_msg *,
	    const struct http_target *, int close, size_t *len);
/*
 * The head sent back to the client: our status line (HTTP/1.1), the
 * origin's fields minus hop-by-hop ones; without Transfer-Encoding
 * when dechunk is set; "Connection: close" when close is set.
 */
char	*http_response_forward(const struct http_msg *, int dechunk,
	    int close, size_t *len);
/*
 * A complete response of our own: status, the extra header lines
 * (each "Name: value\r\n", may be NULL), a text/plain body, and
 * "Connection: close".
 */
char	*http_response_make(int status, const char *extra,
	    const char *body, size_t *len);
const char *http_status_text(int);
/* Copy a string for a header value or log: controls and non-ASCII
 * become '?', at most len - 1 bytes. */
void	 http_sanitize(char *, size_t, const char *);

/* Body framing: start for a message (framing, length from the head). */
void	 http_body_init(struct http_body *, int framing, uint64_t length);
/*
 * Consume a prefix of buf: *n bytes that are all message data (*data
 * set: to pass on, or to keep when de-chunking) or all framing (chunk
 * lines, trailers).  HTTP_MORE: feed the rest (or more bytes);
 * HTTP_DONE: the message ends after these *n bytes; HTTP_ERROR: the
 * framing is broken, *why says how.  HTTP_BODY_CLOSE never ends here:
 * the caller ends it at EOF.
 */
int	 http_body_step(struct http_body *, const char *buf, size_t len,
	    size_t *n, int *data, const char **why);
/* Whether the message is complete (for the checks at EOF). */
int	 http_body_done(const struct http_body *);

#endif
