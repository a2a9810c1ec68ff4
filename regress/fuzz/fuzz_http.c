/*
 * libFuzzer harness: the egress proxy's HTTP parsing (proxy/http.c).
 * The first byte picks what the rest is: a request head, a response
 * head, or a chunked body.  Beyond "no crash", the invariants are the
 * ones smuggling depends on: a head we forward parses back with the
 * framing we computed, and the framing machine finds the same end
 * whether the bytes come at once or one by one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_request(const char *buf, size_t len)
{
	struct http_scan	 s;
	struct http_error	 err;
	struct http_msg		 m, back;
	struct http_target	 t;
	size_t			 headlen, flen;
	char			*fwd;
	int			 r;

	memset(&s, 0, sizeof(s));
	if (http_head_scan(&s, buf, len, HTTP_LINE_MAX, HTTP_FIELDS_MAX,
	    &headlen, &err) != HTTP_DONE)
		return;
	if (s.start > headlen || headlen > len)
		abort();
	if (http_parse_request(&m, buf + s.start, headlen - s.start,
	    &err) == -1) {
		if (err.reason == NULL || err.status < 400)
			abort();
		http_msg_free(&m);
		return;
	}
	if (m.method[0] == '\0' || m.target[0] == '\0' ||
	    m.nfields > HTTP_FIELDS_MAX)
		abort();
	if (http_parse_target(&m, &t, &err) == 0 && !t.connect) {
		if (t.port == 0 || t.hostport[0] == '\0')
			abort();
		if ((fwd = http_request_forward(&m, &t, m.keepalive == 0,
		    &flen)) == NULL)
			abort();
		/*
		 * The origin must see the framing we saw.  Host, Via and
		 * Connection may take a head of 100 fields past the limit
		 * of our own parser, not of the origin's.
		 */
		r = http_parse_request(&back, fwd, flen, &err);
		if (r == -1 && err.status == 400 &&
		    m.nfields + 3 > HTTP_FIELDS_MAX) {
			http_msg_free(&back);
			free(fwd);
			http_msg_free(&m);
			return;
		}
		if (r == -1 || back.framing != m.framing ||
		    (m.framing == HTTP_BODY_LENGTH &&
		    back.length != m.length) ||
		    strcmp(back.method, m.method) != 0 ||
		    back.target[0] != '/' ||
		    http_field(&back, "upgrade") != NULL ||
		    http_field(&back, "proxy-authorization") != NULL ||
		    strcmp(http_field(&back, "host"), t.authority) != 0)
			abort();
		http_msg_free(&back);
		free(fwd);
	}
	http_msg_free(&m);
}

static void
check_response(const char *buf, size_t len, const char *method)
{
	struct http_scan	 s;
	struct http_error	 err;
	struct http_msg		 m, back;
	size_t			 headlen, flen;
	char			*fwd;
	int			 r;

	memset(&s, 0, sizeof(s));
	if (http_head_scan(&s, buf, len, HTTP_HEAD_MAX, HTTP_RESP_FIELDS_MAX,
	    &headlen, &err) != HTTP_DONE)
		return;
	if (http_parse_response(&m, buf + s.start, headlen - s.start, method,
	    &err) == -1) {
		if (err.status != 502 || err.reason == NULL)
			abort();
		http_msg_free(&m);
		return;
	}
	if ((fwd = http_response_forward(&m, 0, 0, &flen)) == NULL)
		abort();
	r = http_parse_response(&back, fwd, flen, method, &err);
	if (r == -1 && m.nfields + 2 > HTTP_RESP_FIELDS_MAX) {
		http_msg_free(&back);
		free(fwd);
		http_msg_free(&m);
		return;
	}
	if (r == -1 || back.status != m.status || back.framing != m.framing ||
	    (m.framing == HTTP_BODY_LENGTH && back.length != m.length))
		abort();
	http_msg_free(&back);
	free(fwd);
	http_msg_free(&m);
}

/* The end and the data length, fed at once or byte by byte. */
static int
body_run(const char *buf, size_t len, size_t step, size_t *end,
    size_t *ndata)
{
	struct http_body	 b;
	const char		*why;
	size_t			 off = 0, n, piece;
	int			 r = HTTP_MORE, data;

	http_body_init(&b, HTTP_BODY_CHUNKED, 0);
	*ndata = 0;
	while (off < len) {
		piece = len - off < step ? len - off : step;
		r = http_body_step(&b, buf + off, piece, &n, &data, &why);
		if (r == HTTP_ERROR)
			return r;
		if (n > piece || (n == 0 && r == HTTP_MORE))
			abort();
		if (data)
			*ndata += n;
		off += n;
		if (r == HTTP_DONE)
			break;
	}
	*end = off;
	return r;
}

static void
check_body(const char *buf, size_t len)
{
	size_t	e1, e2, d1, d2;
	int	r1, r2;

	r1 = body_run(buf, len, len, &e1, &d1);
	r2 = body_run(buf, len, 1, &e2, &d2);
	if (r1 != r2 || (r1 != HTTP_ERROR && (e1 != e2 || d1 != d2)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*copy;

	if (size == 0)
		return 0;
	/* An exact-size heap copy: ASan sees any over-read. */
	if ((copy = malloc(size - 1 + 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		check_request(copy, size - 1);
		break;
	case 1:
		check_response(copy, size - 1, "GET");
		break;
	case 2:
		check_response(copy, size - 1, "HEAD");
		break;
	default:
		check_body(copy, size - 1);
		break;
	}
	free(copy);
	return 0;
}
