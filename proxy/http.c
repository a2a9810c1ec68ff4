/*
 * HTTP/1.1 message parsing for the egress proxy (see http.h).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* Body framing states (struct http_body.state), chunked coding. */
enum {
	C_SIZE0 = 0,	/* first hex digit of a chunk-size */
	C_SIZE,		/* more digits, an extension or CR */
	C_EXT_WS,	/* BWS before ';' or CR */
	C_EXT_NAME0,	/* BWS, then an extension name */
	C_EXT_NAME,
	C_EXT_NAME_WS,	/* BWS before '=', ';' or CR */
	C_EXT_VAL0,	/* BWS, then a token or quoted-string */
	C_EXT_VAL,
	C_EXT_QS,	/* inside a quoted-string */
	C_EXT_QP,	/* after a backslash in it */
	C_SIZE_LF,
	C_DATA,
	C_DATA_CR,
	C_DATA_LF,
	C_TRAILER0,	/* start of a trailer line, or the final CR */
	C_TR_NAME,
	C_TR_VALUE,
	C_TR_LF,
	C_END_LF,
	C_DONE
};

/* A string builder for the heads we send. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 failed;
};

static const char	*hop_by_hop[] = {
	"connection", "keep-alive", "proxy-connection", "proxy-authorization",
	"proxy-authenticate", "te", "trailer", "upgrade", NULL
};

/* Fields a Connection option may never remove: the framing and Host. */
static const char	*not_hop[] = {
	"content-length", "transfer-encoding", "host", NULL
};

static int
is_tchar(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP, HTAB: what a field value may hold (obs-text too). */
static int
is_fchar(int c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
is_ws(int c)
{
	return c == ' ' || c == '\t';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
fail(struct http_error *err, int status, const char *reason)
{
	if (err != NULL) {
		err->status = status;
		err->reason = reason;
	}
	return HTTP_ERROR;
}

int
http_head_scan(struct http_scan *s, const char *buf, size_t len,
    size_t linemax, size_t maxfields, size_t *headlen, struct http_error *err)
{
	size_t	i;

	for (i = s->off; i < len; i++) {
		if (i >= HTTP_HEAD_MAX)
			return fail(err, 400, "request head larger than 64 KiB");
		if (buf[i] == '\n')
			return fail(err, 400, "bare LF (lines end in CR LF)");
		if (buf[i] != '\r') {
			if (s->lines == 0 && i - s->line >= linemax)
				return fail(err, 400, "request line longer than 8 KiB");
			continue;
		}
		if (i + 1 == len) {
			/* The LF is yet to come: look at this CR again. */
			s->off = i;
			return HTTP_MORE;
		}
		if (buf[i + 1] != '\n')
			return fail(err, 400, "bare CR (lines end in CR LF)");
		if (i == s->line) {
			if (s->lines == 0) {
				/* An empty line before the start line. */
				s->start = s->line = i + 2;
				i++;
				continue;
			}
			*headlen = i + 2;
			s->off = i + 2;
			return HTTP_DONE;
		}
		if (++s->lines > maxfields + 1)
			return fail(err, 400, "more than 100 header fields");
		s->line = i + 2;
		i++;
	}
	s->off = len;
	return HTTP_MORE;
}

/*
 * The next line of the head at *p: NUL-terminated in place, CR LF
 * required, no other CR or LF inside.  NULL at the end of the head.
 */
static char *
next_line(char **p, char *end, struct http_error *err, int status, int *bad)
{
	char	*line = *p, *q;

	for (q = line; q < end; q++) {
		if (*q == '\n') {
			*bad = fail(err, status, "bare LF (lines end in CR LF)");
			return NULL;
		}
		if (*q != '\r')
			continue;
		if (q + 1 >= end || q[1] != '\n') {
			*bad = fail(err, status, "bare CR (lines end in CR LF)");
			return NULL;
		}
		*q = '\0';
		*p = q + 2;
		return line;
	}
	*bad = fail(err, status, "head does not end with an empty line");
	return NULL;
}

/* HTTP/1.0 or HTTP/1.1; status 400 (a request) or 502 (a response). */
static int
parse_version(const char *v, int *minor, struct http_error *err, int status)
{
	if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
	    v[6] != '.' || v[7] < '0' || v[7] > '9')
		return fail(err, status, "malformed HTTP version");
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return fail(err, status == 400 ? 505 : status,
		    "HTTP version not supported (HTTP/1.0 and 1.1 are)");
	*minor = v[7] - '0';
	return 0;
}

/* Header fields until the empty line. */
static int
parse_fields(struct http_msg *m, char *p, char *end, size_t max,
    struct http_error *err, int status)
{
	char	*line, *q, *v, *e;
	int	 bad = 0;

	for (;;) {
		if ((line = next_line(&p, end, err, status, &bad)) == NULL)
			return bad ? HTTP_ERROR : fail(err, status,
			    "truncated head");
		if (*line == '\0')
			break;
		if (is_ws((unsigned char)*line))
			return fail(err, status, "obsolete line folding");
		for (q = line; *q != ':'; q++) {
			if (*q == '\0')
				return fail(err, status, "header field without "
				    "a colon");
			if (is_ws((unsigned char)*q))
				return fail(err, status, "whitespace before the "
				    "colon of a header field");
			if (!is_tchar((unsigned char)*q))
				return fail(err, status, "bad character in a "
				    "header field name");
		}
		if (q == line)
			return fail(err, status, "empty header field name");
		*q++ = '\0';
		while (is_ws((unsigned char)*q))
			q++;
		v = q;
		for (e = q; *e != '\0'; e++)
			if (!is_fchar((unsigned char)*e))
				return fail(err, status, "control character in "
				    "a header field value");
		while (e > v && is_ws((unsigned char)e[-1]))
			e--;
		*e = '\0';
		if (m->nfields == max)
			return fail(err, status, "too many header fields");
		m->fields[m->nfields].name = line;
		m->fields[m->nfields].value = v;
		m->nfields++;
	}
	if (p != end)
		return fail(err, status, "bytes after the end of the head");
	return 0;
}

const char *
http_field(const struct http_msg *m, const char *name)
{
	size_t	i;

	for (i = 0; i < m->nfields; i++)
		if (strcasecmp(m->fields[i].name, name) == 0)
			return m->fields[i].value;
	return NULL;
}

/*
 * Call fn for each element of a comma-separated list (OWS trimmed,
 * empty elements skipped); stops when fn returns non-zero.
 */
static int
list_each(const char *v, int (*fn)(const char *, size_t, void *), void *arg)
{
	const char	*s, *e;
	int		 r;

	while (*v != '\0') {
		while (*v == ',' || is_ws((unsigned char)*v))
			v++;
		if (*v == '\0')
			break;
		for (s = v; *v != '\0' && *v != ','; v++)
			;
		for (e = v; e > s && is_ws((unsigned char)e[-1]); e--)
			;
		if ((r = fn(s, (size_t)(e - s), arg)) != 0)
			return r;
	}
	return 0;
}

static int
token_eq(const char *s, size_t len, void *arg)
{
	const char	*tok = arg;

	return strlen(tok) == len && strncasecmp(s, tok, len) == 0;
}

int
http_field_has_token(const struct http_msg *m, const char *name,
    const char *tok)
{
	size_t	i;

	for (i = 0; i < m->nfields; i++)
		if (strcasecmp(m->fields[i].name, name) == 0 &&
		    list_each(m->fields[i].value, token_eq, (void *)(uintptr_t)
		    tok))
			return 1;
	return 0;
}

/* Content-Length: digits only; every occurrence the same value. */
static int
parse_length(struct http_msg *m, int *seen, struct http_error *err,
    int status)
{
	const char	*v;
	uint64_t	 n;
	size_t		 i, k;

	for (i = 0; i < m->nfields; i++) {
		if (strcasecmp(m->fields[i].name, "content-length") != 0)
			continue;
		v = m->fields[i].value;
		n = 0;
		for (k = 0; v[k] != '\0'; k++) {
			if (v[k] < '0' || v[k] > '9')
				return fail(err, status, "Content-Length is "
				    "not a number");
			if (k >= 18)
				return fail(err, status, "Content-Length too "
				    "large");
			n = n * 10 + (uint64_t)(v[k] - '0');
		}
		if (k == 0)
			return fail(err, status, "empty Content-Length");
		if (*seen && n != m->length)
			return fail(err, status, "Content-Length fields "
			    "disagree");
		*seen = 1;
		m->length = n;
	}
	return 0;
}

struct te_state {
	int	n;		/* codings */
	int	chunked_last;
	int	bad;		/* not a token */
	int	other;		/* a coding other than chunked */
};

static int
te_elem(const char *s, size_t len, void *arg)
{
	struct te_state	*t = arg;
	size_t		 i;

	t->n++;
	t->chunked_last = len == 7 && strncasecmp(s, "chunked", 7) == 0;
	if (!t->chunked_last)
		t->other = 1;
	for (i = 0; i < len; i++)
		if (!is_tchar((unsigned char)s[i]) && s[i] != ';' &&
		    s[i] != '=' && !is_ws((unsigned char)s[i]) && s[i] != '"')
			t->bad = 1;
	if (len == 0 || !is_tchar((unsigned char)s[0]))
		t->bad = 1;
	return 0;
}

static int
parse_te(const struct http_msg *m, struct te_state *t)
{
	size_t	i;
	int	seen = 0;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < m->nfields; i++) {
		if (strcasecmp(m->fields[i].name, "transfer-encoding") != 0)
			continue;
		seen = 1;
		(void)list_each(m->fields[i].value, te_elem, t);
	}
	return seen;
}

static int
msg_init(struct http_msg *m, const char *head, size_t len, size_t maxfields)
{
	memset(m, 0, sizeof(*m));
	if ((m->buf = malloc(len + 1)) == NULL ||
	    (m->fields = calloc(maxfields, sizeof(*m->fields))) == NULL) {
		free(m->buf);
		m->buf = NULL;
		return -1;
	}
	memcpy(m->buf, head, len);
	m->buf[len] = '\0';
	m->len = len;
	return 0;
}

void
http_msg_free(struct http_msg *m)
{
	free(m->buf);
	free(m->fields);
	memset(m, 0, sizeof(*m));
}

int
http_parse_request(struct http_msg *m, const char *head, size_t len,
    struct http_error *err)
{
	struct te_state	 te;
	const char	*v;
	char		*p, *end, *line, *sp, *q;
	size_t		 i, nhost = 0;
	int		 bad = 0, cl = 0;

	if (msg_init(m, head, len, HTTP_FIELDS_MAX) == -1)
		return fail(err, 500, "out of memory");
	if (memchr(head, '\0', len) != NULL)
		return fail(err, 400, "NUL in the request head");
	p = m->buf;
	end = m->buf + len;
	if ((line = next_line(&p, end, err, 400, &bad)) == NULL)
		return HTTP_ERROR;
	if (strlen(line) > HTTP_LINE_MAX)
		return fail(err, 400, "request line longer than 8 KiB");
	/* method SP request-target SP HTTP-version, single spaces */
	for (q = line; is_tchar((unsigned char)*q); q++)
		;
	if (q == line || *q != ' ')
		return fail(err, 400, "malformed request line (method)");
	*q++ = '\0';
	m->method = line;
	for (sp = q; *sp > 0x20 && *sp < 0x7f; sp++)
		;
	if (sp == q || *sp != ' ')
		return fail(err, 400, "malformed request line (target)");
	*sp++ = '\0';
	m->target = q;
	if (parse_version(sp, &m->minor, err, 400) == -1)
		return HTTP_ERROR;
	if (sp[8] != '\0')
		return fail(err, 400, "malformed request line (version)");
	if (parse_fields(m, p, end, HTTP_FIELDS_MAX, err, 400) == -1)
		return HTTP_ERROR;

	for (i = 0; i < m->nfields; i++) {
		if (strcasecmp(m->fields[i].name, "host") != 0)
			continue;
		if (++nhost > 1)
			return fail(err, 400, "more than one Host field");
		for (v = m->fields[i].value; *v != '\0'; v++)
			if (!is_tchar((unsigned char)*v) &&
			    strchr(":[]()!$&',;=", *v) == NULL)
				return fail(err, 400, "bad Host field");
	}
	if (parse_length(m, &cl, err, 400) == -1)
		return HTTP_ERROR;
	if (parse_te(m, &te)) {
		if (cl)
			return fail(err, 400, "both Content-Length and "
			    "Transfer-Encoding (request smuggling)");
		if (m->minor == 0)
			return fail(err, 400, "Transfer-Encoding in an "
			    "HTTP/1.0 request");
		if (te.n == 0 || te.bad)
			return fail(err, 400, "malformed Transfer-Encoding");
		if (te.n != 1 || te.other)
			return fail(err, 501, "Transfer-Encoding other than "
			    "chunked");
		m->framing = HTTP_BODY_CHUNKED;
	} else if (cl && m->length > 0)
		m->framing = HTTP_BODY_LENGTH;
	else
		m->framing = HTTP_BODY_NONE;
	if (strcmp(m->method, "CONNECT") == 0 &&
	    m->framing != HTTP_BODY_NONE)
		return fail(err, 400, "CONNECT with a body");
	if (m->minor == 1)
		m->keepalive = !http_field_has_token(m, "connection", "close");
	else
		m->keepalive = http_field_has_token(m, "connection",
		    "keep-alive");
	return 0;
}

int
http_parse_response(struct http_msg *m, const char *head, size_t len,
    const char *method, struct http_error *err)
{
	struct te_state	 te;
	char		*p, *end, *line, *q;
	int		 bad = 0, cl = 0, s;

	if (msg_init(m, head, len, HTTP_RESP_FIELDS_MAX) == -1)
		return fail(err, 502, "out of memory");
	p = m->buf;
	end = m->buf + len;
	if (memchr(head, '\0', len) != NULL)
		return fail(err, 502, "NUL in the response head");
	if ((line = next_line(&p, end, err, 502, &bad)) == NULL)
		return HTTP_ERROR;
	/* HTTP-version SP 3DIGIT SP [reason]; a missing last SP is taken */
	if (parse_version(line, &m->minor, err, 502) == -1)
		return HTTP_ERROR;
	q = line + 8;
	if (q[0] != ' ' || q[1] < '1' || q[1] > '9' || q[2] < '0' ||
	    q[2] > '9' || q[3] < '0' || q[3] > '9' ||
	    (q[4] != ' ' && q[4] != '\0'))
		return fail(err, 502, "malformed status line");
	m->status = (q[1] - '0') * 100 + (q[2] - '0') * 10 + (q[3] - '0');
	m->reason = q[4] == '\0' ? q + 4 : q + 5;
	for (q = line + (m->reason - line); *q != '\0'; q++)
		if (!is_fchar((unsigned char)*q))
			return fail(err, 502, "control character in the "
			    "status line");
	if (parse_fields(m, p, end, HTTP_RESP_FIELDS_MAX, err, 502) == -1)
		return HTTP_ERROR;

	s = m->status;
	if (m->minor == 1)
		m->keepalive = !http_field_has_token(m, "connection", "close");
	else
		m->keepalive = http_field_has_token(m, "connection",
		    "keep-alive");
	if (s / 100 == 1 || s == 204 || s == 304 ||
	    (method != NULL && strcmp(method, "HEAD") == 0)) {
		m->framing = HTTP_BODY_NONE;
		return 0;
	}
	if (parse_length(m, &cl, err, 502) == -1)
		return HTTP_ERROR;
	if (parse_te(m, &te)) {
		if (cl)
			return fail(err, 502, "both Content-Length and "
			    "Transfer-Encoding in a response");
		if (m->minor == 0)
			return fail(err, 502, "Transfer-Encoding in an "
			    "HTTP/1.0 response");
		if (te.n == 0 || te.bad)
			return fail(err, 502, "malformed Transfer-Encoding");
		if (te.chunked_last) {
			m->framing = HTTP_BODY_CHUNKED;
		} else {
			m->framing = HTTP_BODY_CLOSE;
			m->keepalive = 0;
		}
	} else if (cl) {
		m->framing = m->length > 0 ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	} else {
		m->framing = HTTP_BODY_CLOSE;
		m->keepalive = 0;
	}
	return 0;
}

/* --- targets ------------------------------------------------------- */

/*
 * Like the policy's host names (common/perm.c): labels of 1 to 63
 * letters, digits, '-' and '_', no '-' at either end.  -1: not a name;
 * -2: a number that some resolvers and URL parsers read as an IPv4
 * address.
 */
static int
check_name(const char *h)
{
	const char	*label = h, *p;
	size_t		 n;
	int		 alldigits = 1, hex;

	for (p = h;; p++) {
		if (*p == '.' || *p == '\0') {
			n = (size_t)(p - label);
			if (n == 0 || n > 63 || label[0] == '-' ||
			    p[-1] == '-')
				return -1;
			if (*p == '\0')
				break;
			label = p + 1;
			alldigits = 1;
			continue;
		}
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= '0' && *p <= '9') &&
		    *p != '-' && *p != '_')
			return -1;
		if (!(*p >= '0' && *p <= '9'))
			alldigits = 0;
	}
	/*
	 * A last label of digits (or 0x and hex) reads as an IPv4 address
	 * in some resolvers and URL parsers ("127.1", "0x7f.1"): refused,
	 * only the dotted quad is an address here.
	 */
	hex = label[0] == '0' && label[1] == 'x';
	if (hex)
		for (p = label + 2; *p != '\0'; p++)
			if (hexval((unsigned char)*p) == -1)
				hex = 0;
	if (alldigits || hex)
		return -2;
	return 0;
}

static int
parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long	n = 0;
	size_t		i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (unsigned long)(s[i] - '0');
	}
	if (n == 0 || n > 65535)
		return -1;
	*port = (uint16_t)n;
	return 0;
}

/*
 * "127.1", "2130706433", "0x7f000001", "0177.0.0.1": 127.0.0.1 to some
 * parsers, a name or nothing to others.  Refused as a policy matter
 * (403, the built-in deny), whichever way the origin would read it.
 */
#define AMBIGUOUS	"built-in: deny a numeric host that is not an IPv4 " \
	"address a.b.c.d (some parsers read it as one)"

/* host [":" port], "[" v6 "]" [":" port]; no userinfo. */
static int
parse_authority(const char *a, size_t len, struct http_target *t,
    int need_port, struct http_error *err)
{
	struct in6_addr	 in6;
	struct in_addr	 in4;
	const char	*hend, *colon = NULL;
	char		 v6[INET6_ADDRSTRLEN + 1];
	size_t		 hlen, i;
	int		 r;

	if (memchr(a, '@', len) != NULL)
		return fail(err, 400, "user information in the target");
	if (len > 0 && a[0] == '[') {
		if ((hend = memchr(a, ']', len)) == NULL)
			return fail(err, 400, "unterminated IPv6 address");
		hlen = (size_t)(hend - a - 1);
		if (hlen == 0 || hlen >= sizeof(v6))
			return fail(err, 400, "bad IPv6 address");
		memcpy(v6, a + 1, hlen);
		v6[hlen] = '\0';
		if (inet_pton(AF_INET6, v6, &in6) != 1)
			return fail(err, 400, "bad IPv6 address");
		if (inet_ntop(AF_INET6, &in6, t->host, sizeof(t->host)) ==
		    NULL)
			return fail(err, 400, "bad IPv6 address");
		t->family = AF_INET6;
		hend++;
		if (hend < a + len) {
			if (*hend != ':')
				return fail(err, 400, "junk after an IPv6 "
				    "address");
			colon = hend;
		}
	} else {
		colon = memchr(a, ':', len);
		hend = colon != NULL ? colon : a + len;
		hlen = (size_t)(hend - a);
		if (hlen == 0)
			return fail(err, 400, "empty host");
		if (hlen > 1 && a[hlen - 1] == '.')
			hlen--;		/* the root's dot */
		if (hlen > HTTP_HOST_MAX)
			return fail(err, 400, "host name too long");
		for (i = 0; i < hlen; i++)
			t->host[i] = (a[i] >= 'A' && a[i] <= 'Z') ?
			    (char)(a[i] - 'A' + 'a') : a[i];
		t->host[hlen] = '\0';
		if (strspn(t->host, "0123456789.") == hlen) {
			if (inet_pton(AF_INET, t->host, &in4) != 1)
				return fail(err, 403, AMBIGUOUS);
			t->family = AF_INET;
		} else if ((r = check_name(t->host)) != 0)
			return fail(err, r == -2 ? 403 : 400, r == -2 ?
			    AMBIGUOUS : "bad host name");
	}
	if (colon != NULL) {
		if (parse_port(colon + 1, (size_t)(a + len - colon - 1),
		    &t->port) == -1)
			return fail(err, 400, "bad port");
	} else if (need_port)
		return fail(err, 400, "CONNECT needs host:port");
	else
		t->port = 80;
	if (t->family == AF_INET6) {
		(void)snprintf(t->hostport, sizeof(t->hostport), "[%s]:%u",
		    t->host, t->port);
		if (t->port == 80)
			(void)snprintf(t->authority, sizeof(t->authority),
			    "[%s]", t->host);
		else
			(void)snprintf(t->authority, sizeof(t->authority),
			    "[%s]:%u", t->host, t->port);
	} else {
		(void)snprintf(t->hostport, sizeof(t->hostport), "%s:%u",
		    t->host, t->port);
		if (t->port == 80)
			(void)snprintf(t->authority, sizeof(t->authority),
			    "%s", t->host);
		else
			(void)snprintf(t->authority, sizeof(t->authority),
			    "%s:%u", t->host, t->port);
	}
	return 0;
}

int
http_parse_target(const struct http_msg *m, struct http_target *t,
    struct http_error *err)
{
	const char	*u = m->target, *a, *e;
	size_t		 n;

	memset(t, 0, sizeof(*t));
	if (strcmp(m->method, "CONNECT") == 0) {
		t->connect = 1;
		return parse_authority(u, strlen(u), t, 1, err);
	}
	if (u[0] == '/' || strcmp(u, "*") == 0)
		return fail(err, 400, "not a proxy request (use the "
		    "absolute form: http://host/path)");
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	for (n = 0; (u[n] >= 'a' && u[n] <= 'z') || (u[n] >= 'A' &&
	    u[n] <= 'Z') || (n > 0 && ((u[n] >= '0' && u[n] <= '9') ||
	    u[n] == '+' || u[n] == '-' || u[n] == '.')); n++)
		;
	if (n == 0 || u[n] != ':')
		return fail(err, 400, "malformed request target");
	if (n == 5 && strncasecmp(u, "https", 5) == 0)
		return fail(err, 501, "https in a forward request: use "
		    "CONNECT");
	if (n != 4 || strncasecmp(u, "http", 4) != 0)
		return fail(err, 501, "only the http scheme is forwarded");
	if (strncmp(u + 4, "://", 3) != 0)
		return fail(err, 400, "malformed http URI");
	a = u + 7;
	for (e = a; *e != '\0' && *e != '/' && *e != '?' && *e != '#'; e++)
		;
	if (strchr(e, '#') != NULL)
		return fail(err, 400, "fragment in the request target");
	if (parse_authority(a, (size_t)(e - a), t, 0, err) == -1)
		return HTTP_ERROR;
	t->path = e;
	t->pathlen = strlen(e);
	return 0;
}

/* --- building heads ------------------------------------------------ */

static void
sb_add(struct sbuf *b, const char *s, size_t len)
{
	size_t	 ncap;
	char	*np;

	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap) {
		ncap = b->cap ? b->cap : 512;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void __attribute__((__format__(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list	ap;
	char	buf[512];
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		b->failed = 1;
		return;
	}
	sb_add(b, buf, (size_t)n);
}

static char *
sb_finish(struct sbuf *b, size_t *len)
{
	if (b->failed) {
		free(b->p);
		return NULL;
	}
	*len = b->len;
	return b->p;
}

static int
in_list(const char *name, const char **list)
{
	size_t	i;

	for (i = 0; list[i] != NULL; i++)
		if (strcasecmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/* Hop-by-hop: the fixed set, and what the Connection fields name. */
static int
is_hop(const struct http_msg *m, const char *name)
{
	if (in_list(name, hop_by_hop))
		return 1;
	if (in_list(name, not_hop))
		return 0;
	return http_field_has_token(m, "connection", name);
}

static void
add_fields(struct sbuf *b, const struct http_msg *m, const char *skip)
{
	size_t	i;

	for (i = 0; i < m->nfields; i++) {
		if (is_hop(m, m->fields[i].name) || (skip != NULL &&
		    strcasecmp(m->fields[i].name, skip) == 0))
			continue;
		sb_str(b, m->fields[i].name);
		sb_add(b, ": ", 2);
		sb_str(b, m->fields[i].value);
		sb_add(b, "\r\n", 2);
	}
}

char *
http_request_forward(const struct http_msg *m, const struct http_target *t,
    int close, size_t *len)
{
	struct sbuf	b = { NULL, 0, 0, 0 };

	sb_str(&b, m->method);
	sb_add(&b, " ", 1);
	if (t->pathlen == 0 || t->path[0] != '/')
		sb_add(&b, "/", 1);
	sb_add(&b, t->path, t->pathlen);
	sb_printf(&b, " HTTP/1.1\r\nHost: %s\r\n", t->authority);
	add_fields(&b, m, "host");
	sb_printf(&b, "Via: 1.%d podrunner\r\n", m->minor);
	if (close)
		sb_str(&b, "Connection: close\r\n");
	sb_add(&b, "\r\n", 2);
	return sb_finish(&b, len);
}

char *
http_response_forward(const struct http_msg *m, int dechunk, int close,
    size_t *len)
{
	struct sbuf	b = { NULL, 0, 0, 0 };

	sb_printf(&b, "HTTP/1.1 %03d ", m->status);
	sb_str(&b, m->reason);
	sb_add(&b, "\r\n", 2);
	add_fields(&b, m, dechunk ? "transfer-encoding" : NULL);
	sb_printf(&b, "Via: 1.%d podrunner\r\n", m->minor);
	if (close)
		sb_str(&b, "Connection: close\r\n");
	sb_add(&b, "\r\n", 2);
	return sb_finish(&b, len);
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 200:	return "OK";
	case 400:	return "Bad Request";
	case 403:	return "Forbidden";
	case 408:	return "Request Timeout";
	case 414:	return "URI Too Long";
	case 429:	return "Too Many Requests";
	case 431:	return "Request Header Fields Too Large";
	case 500:	return "Internal Server Error";
	case 501:	return "Not Implemented";
	case 502:	return "Bad Gateway";
	case 503:	return "Service Unavailable";
	case 504:	return "Gateway Timeout";
	case 505:	return "HTTP Version Not Supported";
	}
	return "Error";
}

char *
http_response_make(int status, const char *extra, const char *body,
    size_t *len)
{
	struct sbuf	b = { NULL, 0, 0, 0 };

	sb_printf(&b, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n", status,
	    http_status_text(status), strlen(body));
	if (extra != NULL)
		sb_str(&b, extra);
	sb_add(&b, "\r\n", 2);
	sb_str(&b, body);
	return sb_finish(&b, len);
}

void
http_sanitize(char *out, size_t len, const char *in)
{
	size_t	i;

	if (len == 0)
		return;
	for (i = 0; i + 1 < len && in[i] != '\0'; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
}

/* --- body framing -------------------------------------------------- */

void
http_body_init(struct http_body *b, int framing, uint64_t length)
{
	memset(b, 0, sizeof(*b));
	b->framing = framing;
	b->left = length;
	b->state = C_SIZE0;
}

int
http_body_done(const struct http_body *b)
{
	switch (b->framing) {
	case HTTP_BODY_NONE:
		return 1;
	case HTTP_BODY_LENGTH:
		return b->left == 0;
	case HTTP_BODY_CHUNKED:
		return b->state == C_DONE;
	}
	return 0;
}

static int
bad(const char **why, const char *reason)
{
	*why = reason;
	return HTTP_ERROR;
}

/* One byte of a chunk-size line, trailer or chunk end. */
static int
chunk_byte(struct http_body *b, unsigned char c, const char **why)
{
	int	h;

	switch (b->state) {
	case C_SIZE0:
	case C_SIZE:
		if ((h = hexval(c)) != -1) {
			if (b->left != 0 || h != 0)
				b->sizedigits++;
			if (b->sizedigits > 15)
				return bad(why, "chunk too large");
			b->left = b->left * 16 + (uint64_t)h;
			b->state = C_SIZE;
			return 0;
		}
		if (b->state == C_SIZE0)
			return bad(why, "chunk size is not hexadecimal");
		/* FALLTHROUGH */
	case C_EXT_WS:
		if (is_ws(c))
			b->state = C_EXT_WS;
		else if (c == ';')
			b->state = C_EXT_NAME0;
		else if (c == '\r')
			b->state = C_SIZE_LF;
		else
			return bad(why, "malformed chunk size line");
		return 0;
	case C_EXT_NAME0:
		if (is_ws(c))
			return 0;
		if (!is_tchar(c))
			return bad(why, "malformed chunk extension");
		b->state = C_EXT_NAME;
		return 0;
	case C_EXT_NAME:
		if (is_tchar(c))
			return 0;
		/* FALLTHROUGH */
	case C_EXT_NAME_WS:
		if (is_ws(c))
			b->state = C_EXT_NAME_WS;
		else if (c == '=')
			b->state = C_EXT_VAL0;
		else if (c == ';')
			b->state = C_EXT_NAME0;
		else if (c == '\r')
			b->state = C_SIZE_LF;
		else
			return bad(why, "malformed chunk extension");
		return 0;
	case C_EXT_VAL0:
		if (is_ws(c))
			return 0;
		if (c == '"')
			b->state = C_EXT_QS;
		else if (is_tchar(c))
			b->state = C_EXT_VAL;
		else
			return bad(why, "malformed chunk extension");
		return 0;
	case C_EXT_VAL:
		if (is_tchar(c))
			return 0;
		if (is_ws(c))
			b->state = C_EXT_WS;
		else if (c == ';')
			b->state = C_EXT_NAME0;
		else if (c == '\r')
			b->state = C_SIZE_LF;
		else
			return bad(why, "malformed chunk extension");
		return 0;
	case C_EXT_QS:
		if (c == '"')
			b->state = C_EXT_WS;
		else if (c == '\\')
			b->state = C_EXT_QP;
		else if (!is_fchar(c))
			return bad(why, "control character in a chunk "
			    "extension");
		return 0;
	case C_EXT_QP:
		if (!is_fchar(c))
			return bad(why, "control character in a chunk "
			    "extension");
		b->state = C_EXT_QS;
		return 0;
	case C_SIZE_LF:
		if (c != '\n')
			return bad(why, "bare CR in a chunk size line");
		b->sizedigits = 0;
		b->linelen = 0;
		b->state = b->left == 0 ? C_TRAILER0 : C_DATA;
		return 0;
	case C_DATA_CR:
		if (c != '\r')
			return bad(why, "chunk data longer than its size");
		b->state = C_DATA_LF;
		return 0;
	case C_DATA_LF:
		if (c != '\n')
			return bad(why, "bare CR after chunk data");
		b->state = C_SIZE0;
		b->linelen = 0;
		return 0;
	case C_TRAILER0:
		if (c == '\r') {
			b->state = C_END_LF;
			return 0;
		}
		if (is_ws(c))
			return bad(why, "obsolete line folding in a trailer");
		if (!is_tchar(c))
			return bad(why, "bad trailer field name");
		b->state = C_TR_NAME;
		return 0;
	case C_TR_NAME:
		if (c == ':')
			b->state = C_TR_VALUE;
		else if (!is_tchar(c))
			return bad(why, "bad trailer field name");
		return 0;
	case C_TR_VALUE:
		if (c == '\r')
			b->state = C_TR_LF;
		else if (!is_fchar(c))
			return bad(why, "control character in a trailer");
		return 0;
	case C_TR_LF:
		if (c != '\n')
			return bad(why, "bare CR in a trailer");
		if (++b->ntrailers > HTTP_FIELDS_MAX)
			return bad(why, "too many trailer fields");
		b->linelen = 0;
		b->state = C_TRAILER0;
		return 0;
	case C_END_LF:
		if (c != '\n')
			return bad(why, "bare CR at the end of the trailers");
		b->state = C_DONE;
		return 0;
	}
	return bad(why, "framing state");
}

int
http_body_step(struct http_body *b, const char *buf, size_t len, size_t *n,
    int *data, const char **why)
{
	size_t	i;

	*n = 0;
	*data = 0;
	switch (b->framing) {
	case HTTP_BODY_NONE:
		return HTTP_DONE;
	case HTTP_BODY_CLOSE:
		*n = len;
		*data = 1;
		return HTTP_MORE;
	case HTTP_BODY_LENGTH:
		if (b->left == 0)
			return HTTP_DONE;
		*n = len < b->left ? len : (size_t)b->left;
		*data = 1;
		b->left -= *n;
		return b->left == 0 ? HTTP_DONE : HTTP_MORE;
	case HTTP_BODY_CHUNKED:
		break;
	default:
		return bad(why, "framing");
	}
	if (b->state == C_DONE)
		return HTTP_DONE;
	if (b->state == C_DATA) {
		*n = len < b->left ? len : (size_t)b->left;
		*data = 1;
		if ((b->left -= *n) == 0)
			b->state = C_DATA_CR;
		return HTTP_MORE;
	}
	for (i = 0; i < len && b->state != C_DATA && b->state != C_DONE; i++) {
		if (b->state >= C_TRAILER0) {
			if (++b->trailer > HTTP_TRAILER_MAX)
				return bad(why, "trailer section too large");
			if (++b->linelen > HTTP_LINE_MAX)
				return bad(why, "trailer line too long");
		} else if (b->state < C_DATA && ++b->linelen >
		    HTTP_CHUNK_LINE_MAX)
			return bad(why, "chunk size line too long");
		if (chunk_byte(b, (unsigned char)buf[i], why) == HTTP_ERROR)
			return HTTP_ERROR;
	}
	*n = i;
	return b->state == C_DONE ? HTTP_DONE : HTTP_MORE;
}
