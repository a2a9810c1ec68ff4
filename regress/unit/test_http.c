/*
 * Unit tests for proxy/http.c: the egress proxy's HTTP/1.1 parsing.
 *
 * Mostly tables: the heads that must parse with what they must yield,
 * and next to them the bad ones with the status they must get.  The
 * framing state machine is fed every message whole, byte by byte and
 * split at every offset, and must find the same end and the same data.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* --- head scanning ----------------------------------------------------- */

static int
scan_all(const char *buf, size_t len, size_t step, size_t *start,
    size_t *headlen, struct http_error *err)
{
	struct http_scan	s;
	size_t			have;
	int			r = HTTP_MORE;

	memset(&s, 0, sizeof(s));
	for (have = step < len ? step : len;; have += step) {
		if (have > len)
			have = len;
		r = http_head_scan(&s, buf, have, HTTP_LINE_MAX,
		    HTTP_FIELDS_MAX, headlen, err);
		if (r != HTTP_MORE || have == len)
			break;
	}
	*start = s.start;
	return r;
}

static void
test_scan_good(void **state)
{
	static const struct {
		const char	*in;
		size_t		 start, end;
	} tab[] = {
		{ "GET http://a/ HTTP/1.1\r\n\r\n", 0, 26 },
		{ "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\nBODY", 0, 35 },
		{ "\r\n\r\nGET http://a/ HTTP/1.1\r\n\r\n", 4, 30 },
	};
	struct http_error	err;
	size_t			i, step, start, end;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++)
		for (step = 1; step <= strlen(tab[i].in); step++) {
			end = 0;
			assert_int_equal(scan_all(tab[i].in, strlen(tab[i].in),
			    step, &start, &end, &err), HTTP_DONE);
			assert_int_equal(start, tab[i].start);
			assert_int_equal(end, tab[i].end);
		}
}

static void
test_scan_incomplete(void **state)
{
	struct http_error	err;
	size_t			start, end;

	(void)state;
	assert_int_equal(scan_all("GET http://a/ HTTP/1.1\r\nHost: a\r\n",
	    33, 1, &start, &end, &err), HTTP_MORE);
	assert_int_equal(scan_all("GET http://a/ HTTP/1.1\r\n\r", 25, 5,
	    &start, &end, &err), HTTP_MORE);
}

static char *
repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
	size_t	 len = strlen(prefix) + strlen(unit) * n + strlen(suffix);
	char	*p = malloc(len + 1), *q;
	size_t	 i;

	assert_non_null(p);
	q = stpcpy(p, prefix);
	for (i = 0; i < n; i++)
		q = stpcpy(q, unit);
	(void)stpcpy(q, suffix);
	return p;
}

static void
test_scan_bad(void **state)
{
	static const struct {
		const char	*in;
		int		 status;
	} tab[] = {
		{ "GET http://a/ HTTP/1.1\n\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nHost: a\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\rX\r\n\r\n", 400 },
		{ "\n", 400 },
	};
	struct http_error	err;
	size_t			i, start, end;
	char			*big;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++) {
		err.status = 0;
		assert_int_equal(scan_all(tab[i].in, strlen(tab[i].in), 1,
		    &start, &end, &err), HTTP_ERROR);
		assert_int_equal(err.status, tab[i].status);
		assert_non_null(err.reason);
	}
	/* A request line of 8 KiB passes, one byte more does not. */
	big = repeat("GET http://a/", "x", HTTP_LINE_MAX - 13 - 9,
	    " HTTP/1.1\r\n\r\n");
	assert_int_equal(scan_all(big, strlen(big), 4096, &start, &end, &err),
	    HTTP_DONE);
	free(big);
	big = repeat("GET http://a/", "x", HTTP_LINE_MAX - 13 - 8,
	    " HTTP/1.1\r\n\r\n");
	assert_int_equal(scan_all(big, strlen(big), 4096, &start, &end, &err),
	    HTTP_ERROR);
	assert_int_equal(err.status, 400);
	free(big);
	/* 100 fields pass, 101 do not. */
	big = repeat("GET http://a/ HTTP/1.1\r\n", "X: y\r\n", HTTP_FIELDS_MAX,
	    "\r\n");
	assert_int_equal(scan_all(big, strlen(big), 7, &start, &end, &err),
	    HTTP_DONE);
	free(big);
	big = repeat("GET http://a/ HTTP/1.1\r\n", "X: y\r\n",
	    HTTP_FIELDS_MAX + 1, "\r\n");
	assert_int_equal(scan_all(big, strlen(big), 7, &start, &end, &err),
	    HTTP_ERROR);
	assert_int_equal(err.status, 400);
	free(big);
	/* The head is at most 64 KiB. */
	big = repeat("GET http://a/ HTTP/1.1\r\nX: ", "y", HTTP_HEAD_MAX,
	    "\r\n\r\n");
	assert_int_equal(scan_all(big, strlen(big), 1000, &start, &end, &err),
	    HTTP_ERROR);
	assert_int_equal(err.status, 400);
	free(big);
	/* Leading empty lines count toward the limit. */
	big = repeat("", "\r\n", HTTP_HEAD_MAX, "GET http://a/ HTTP/1.1\r\n\r\n");
	assert_int_equal(scan_all(big, strlen(big), 1000, &start, &end, &err),
	    HTTP_ERROR);
	free(big);
}

/* --- requests ------------------------------------------------------- */

static int
parse_req(const char *in, struct http_msg *m, struct http_error *err)
{
	err->status = 0;
	err->reason = NULL;
	return http_parse_request(m, in, strlen(in), err);
}

static void
test_request_good(void **state)
{
	struct http_msg		m;
	struct http_error	err;

	(void)state;
	assert_int_equal(parse_req("GET http://Example.COM/a?b HTTP/1.1\r\n"
	    "Host: example.com\r\nAccept:   */*  \r\nX-Empty:\r\n\r\n", &m,
	    &err), 0);
	assert_string_equal(m.method, "GET");
	assert_string_equal(m.target, "http://Example.COM/a?b");
	assert_int_equal(m.minor, 1);
	assert_int_equal(m.nfields, 3);
	assert_string_equal(m.fields[1].name, "Accept");
	assert_string_equal(m.fields[1].value, "*/*");
	assert_string_equal(m.fields[2].value, "");
	assert_string_equal(http_field(&m, "ACCEPT"), "*/*");
	assert_null(http_field(&m, "Cookie"));
	assert_int_equal(m.framing, HTTP_BODY_NONE);
	assert_int_equal(m.keepalive, 1);
	http_msg_free(&m);

	assert_int_equal(parse_req("POST http://a/ HTTP/1.1\r\n"
	    "Content-Length: 12\r\ncontent-length: 12\r\n"
	    "Connection: foo, close\r\n\r\n", &m, &err), 0);
	assert_int_equal(m.framing, HTTP_BODY_LENGTH);
	assert_int_equal(m.length, 12);
	assert_int_equal(m.keepalive, 0);
	http_msg_free(&m);

	assert_int_equal(parse_req("POST http://a/ HTTP/1.1\r\n"
	    "Transfer-Encoding:  Chunked \r\n\r\n", &m, &err), 0);
	assert_int_equal(m.framing, HTTP_BODY_CHUNKED);
	http_msg_free(&m);

	assert_int_equal(parse_req("POST http://a/ HTTP/1.1\r\n"
	    "Content-Length: 0\r\n\r\n", &m, &err), 0);
	assert_int_equal(m.framing, HTTP_BODY_NONE);
	http_msg_free(&m);

	assert_int_equal(parse_req("GET http://a/ HTTP/1.0\r\n\r\n", &m, &err),
	    0);
	assert_int_equal(m.minor, 0);
	assert_int_equal(m.keepalive, 0);
	http_msg_free(&m);

	assert_int_equal(parse_req("GET http://a/ HTTP/1.0\r\n"
	    "Connection: Keep-Alive\r\n\r\n", &m, &err), 0);
	assert_int_equal(m.keepalive, 1);
	http_msg_free(&m);

	assert_int_equal(parse_req("CONNECT a.example:443 HTTP/1.1\r\n"
	    "Host: a.example:443\r\n\r\n", &m, &err), 0);
	assert_string_equal(m.method, "CONNECT");
	http_msg_free(&m);

	/* obs-text in a value is taken (UTF-8 file names, say). */
	assert_int_equal(parse_req("GET http://a/ HTTP/1.1\r\n"
	    "X-Name: caf\xc3\xa9\r\n\r\n", &m, &err), 0);
	http_msg_free(&m);
}

static void
test_request_bad(void **state)
{
	static const struct {
		const char	*in;
		int		 status;
	} tab[] = {
		/* request line */
		{ "GET  http://a/ HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/  HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1 \r\n\r\n", 400 },
		{ "GET\thttp://a/ HTTP/1.1\r\n\r\n", 400 },
		{ "G(T http://a/ HTTP/1.1\r\n\r\n", 400 },
		{ " GET http://a/ HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/\x01 HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/\xff HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\n", 400 },
		{ "GET http://a/ http/1.1\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/11\r\n\r\n", 400 },
		{ "GET http://a/\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/2.0\r\n\r\n", 505 },
		{ "GET http://a/ HTTP/1.2\r\n\r\n", 505 },
		{ "GET http://a/ HTTP/0.9\r\n\r\n", 505 },
		/* fields */
		{ "GET http://a/ HTTP/1.1\r\nHost : a\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nHost\t: a\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: a\x7fz\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: a\rz\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: a\nz\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\n: empty\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX(y): z\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: y\r\n\r\nextra", 400 },
		{ "GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n", 400 },
		/* framing */
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		  "Content-Length: 0\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		  501 },
		{ "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked"
		  "\r\n\r\n", 501 },
		{ "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n", 501 },
		{ "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: identity\r\n"
		  "\r\n", 501 },
		{ "POST http://a/ HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n"
		  "\r\n", 400 },
		{ "POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
		  "\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
		  400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
		  400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length:\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: "
		  "99999999999999999999\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\n"
		  "Content-Length: 2\r\n\r\n", 400 },
		{ "CONNECT a:443 HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 400 },
	};
	struct http_msg		m;
	struct http_error	err;
	size_t			i;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++) {
		if (parse_req(tab[i].in, &m, &err) != HTTP_ERROR)
			fail_msg("accepted: %s", tab[i].in);
		if (err.status != tab[i].status)
			fail_msg("%s: status %d, want %d (%s)", tab[i].in,
			    err.status, tab[i].status, err.reason);
		assert_non_null(err.reason);
		http_msg_free(&m);
	}
	/* NUL anywhere */
	assert_int_equal(http_parse_request(&m, "GET http://a/ HTTP/1.1\r\n"
	    "X: a\0b\r\n\r\n", 34, &err), HTTP_ERROR);
	assert_int_equal(err.status, 400);
	http_msg_free(&m);
}

static void
test_request_limits(void **state)
{
	struct http_msg		m;
	struct http_error	err;
	char			*big;

	(void)state;
	big = repeat("GET http://a/ HTTP/1.1\r\n", "X: y\r\n", HTTP_FIELDS_MAX,
	    "\r\n");
	assert_int_equal(parse_req(big, &m, &err), 0);
	assert_int_equal(m.nfields, HTTP_FIELDS_MAX);
	http_msg_free(&m);
	free(big);
	big = repeat("GET http://a/ HTTP/1.1\r\n", "X: y\r\n",
	    HTTP_FIELDS_MAX + 1, "\r\n");
	assert_int_equal(parse_req(big, &m, &err), HTTP_ERROR);
	assert_int_equal(err.status, 400);
	http_msg_free(&m);
	free(big);
	big = repeat("GET http://a/", "x", HTTP_LINE_MAX, " HTTP/1.1\r\n\r\n");
	assert_int_equal(parse_req(big, &m, &err), HTTP_ERROR);
	assert_int_equal(err.status, 400);
	http_msg_free(&m);
	free(big);
}

/* --- targets -------------------------------------------------------- */

static void
test_target_good(void **state)
{
	static const struct {
		const char	*method, *target;
		const char	*host, *hostport, *authority, *path;
		int		 family;
		int		 port;
	} tab[] = {
		{ "GET", "http://example.com/a/b?c=d", "example.com",
		  "example.com:80", "example.com", "/a/b?c=d", 0, 80 },
		{ "GET", "HTTP://Example.COM.:8080", "example.com",
		  "example.com:8080", "example.com:8080", "", 0, 8080 },
		{ "GET", "http://a.b?q", "a.b", "a.b:80", "a.b", "?q", 0, 80 },
		{ "GET", "http://93.184.216.34/", "93.184.216.34",
		  "93.184.216.34:80", "93.184.216.34", "/", AF_INET, 80 },
		{ "GET", "http://[2001:DB8:0:0::1]:81/x", "2001:db8::1",
		  "[2001:db8::1]:81", "[2001:db8::1]:81", "/x", AF_INET6, 81 },
		{ "GET", "http://[::ffff:1.2.3.4]/", "::ffff:1.2.3.4",
		  "[::ffff:1.2.3.4]:80", "[::ffff:1.2.3.4]", "/", AF_INET6,
		  80 },
		{ "GET", "http://under_score.example/", "under_score.example",
		  "under_score.example:80", "under_score.example", "/", 0, 80 },
		{ "GET", "http://xn--bcher-kva.example/", "xn--bcher-kva.example",
		  "xn--bcher-kva.example:80", "xn--bcher-kva.example", "/", 0,
		  80 },
		{ "GET", "http://a1.b2c/", "a1.b2c", "a1.b2c:80", "a1.b2c", "/",
		  0, 80 },
		{ "GET", "http://localhost:65535/", "localhost",
		  "localhost:65535", "localhost:65535", "/", 0, 65535 },
		{ "CONNECT", "github.com:443", "github.com", "github.com:443",
		  "github.com:443", "", 0, 443 },
		{ "CONNECT", "[::1]:443", "::1", "[::1]:443", "[::1]:443", "",
		  AF_INET6, 443 },
		{ "CONNECT", "10.0.0.1:22", "10.0.0.1", "10.0.0.1:22",
		  "10.0.0.1:22", "", AF_INET, 22 },
	};
	struct http_msg		m;
	struct http_target	t;
	struct http_error	err;
	size_t			i;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++) {
		memset(&m, 0, sizeof(m));
		m.method = tab[i].method;
		m.target = tab[i].target;
		if (http_parse_target(&m, &t, &err) != 0)
			fail_msg("%s: %s", tab[i].target, err.reason);
		assert_string_equal(t.host, tab[i].host);
		assert_string_equal(t.hostport, tab[i].hostport);
		assert_string_equal(t.authority, tab[i].authority);
		assert_int_equal(t.family, tab[i].family);
		assert_int_equal(t.port, tab[i].port);
		assert_int_equal(t.connect, strcmp(tab[i].method, "CONNECT") ==
		    0);
		if (!t.connect) {
			assert_int_equal(t.pathlen, strlen(tab[i].path));
			assert_memory_equal(t.path, tab[i].path, t.pathlen);
		}
	}
}

static void
test_target_bad(void **state)
{
	static const struct {
		const char	*method, *target;
		int		 status;
	} tab[] = {
		{ "GET", "/index.html", 400 },
		{ "GET", "*", 400 },
		{ "OPTIONS", "*", 400 },
		{ "GET", "https://example.com/", 501 },
		{ "GET", "HTTPS://example.com/", 501 },
		{ "GET", "ftp://example.com/", 501 },
		{ "GET", "ws://example.com/", 501 },
		{ "GET", "http:/example.com/", 400 },
		{ "GET", "http:example.com", 400 },
		{ "GET", "example.com:80", 501 },	/* scheme "example.com" */
		{ "GET", "http://", 400 },
		{ "GET", "http:///path", 400 },
		{ "GET", "http://:80/", 400 },
		{ "GET", "http://user@example.com/", 400 },
		{ "GET", "http://user:pw@example.com/", 400 },
		{ "GET", "http://example.com@evil.example/", 400 },
		{ "GET", "http://example.com/#frag", 400 },
		{ "GET", "http://example.com#frag", 400 },
		{ "GET", "http://example.com:0/", 400 },
		{ "GET", "http://example.com:65536/", 400 },
		{ "GET", "http://example.com:/", 400 },
		{ "GET", "http://example.com:8o/", 400 },
		{ "GET", "http://example.com:-1/", 400 },
		{ "GET", "http://example.com:123456/", 400 },
		{ "GET", "http://exa mple.com/", 400 },
		{ "GET", "http://exa%6dple.com/", 400 },
		{ "GET", "http://example..com/", 400 },
		{ "GET", "http://.example.com/", 400 },
		{ "GET", "http://-example.com/", 400 },
		{ "GET", "http://example-.com/", 400 },
		{ "GET", "http://ex\\ample.com/", 400 },
		{ "GET", "http://example.com../", 400 },
		/* numbers that some parsers read as addresses */
		{ "GET", "http://127.1/", 403 },
		{ "GET", "http://2130706433/", 403 },
		{ "GET", "http://0x7f000001/", 403 },
		{ "GET", "http://0X7F000001/", 403 },
		{ "GET", "http://0x7f.0.0.1/", 403 },
		{ "GET", "http://127.0.0.01/", 403 },
		{ "GET", "http://0177.0.0.1/", 403 },
		{ "GET", "http://1.2.3.4.5/", 403 },
		{ "GET", "http://example.123/", 403 },
		{ "GET", "http://256.1.1.1/", 403 },
		{ "CONNECT", "127.1:443", 403 },
		/* IPv6 */
		{ "GET", "http://[::1/", 400 },
		{ "GET", "http://[]/", 400 },
		{ "GET", "http://[fe80::1%25eth0]/", 400 },
		{ "GET", "http://[::1]x/", 400 },
		{ "GET", "http://[1.2.3.4]/", 400 },
		{ "GET", "http://::1/", 400 },
		/* CONNECT */
		{ "CONNECT", "example.com", 400 },
		{ "CONNECT", "example.com:", 400 },
		{ "CONNECT", "http://example.com:443", 400 },
		{ "CONNECT", "[::1]", 400 },
		{ "CONNECT", "u@example.com:443", 400 },
		{ "CONNECT", "example.com:443/", 400 },
	};
	struct http_msg		m;
	struct http_target	t;
	struct http_error	err;
	size_t			i;
	char			*big;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++) {
		memset(&m, 0, sizeof(m));
		m.method = tab[i].method;
		m.target = tab[i].target;
		err.status = 0;
		if (http_parse_target(&m, &t, &err) != HTTP_ERROR)
			fail_msg("accepted: %s %s", tab[i].method,
			    tab[i].target);
		if (err.status != tab[i].status)
			fail_msg("%s: status %d, want %d (%s)", tab[i].target,
			    err.status, tab[i].status, err.reason);
	}
	/* A name of 253 bytes is taken, 254 is not. */
	big = repeat("http://", "abcdefghi.", 25, "abc/");
	memset(&m, 0, sizeof(m));
	m.method = "GET";
	m.target = big;
	assert_int_equal(http_parse_target(&m, &t, &err), 0);
	assert_int_equal(strlen(t.host), 253);
	free(big);
	big = repeat("http://", "abcdefghi.", 25, "abcd/");
	m.target = big;
	assert_int_equal(http_parse_target(&m, &t, &err), HTTP_ERROR);
	free(big);
	big = repeat("http://", "a", 64, ".example/");
	m.target = big;
	assert_int_equal(http_parse_target(&m, &t, &err), HTTP_ERROR);
	free(big);
}

/* --- responses ------------------------------------------------------ */

static void
test_response(void **state)
{
	static const struct {
		const char	*in, *method;
		int		 ret, status, framing, keepalive;
		uint64_t	 length;
	} tab[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", 0, 200,
		  HTTP_BODY_LENGTH, 1, 5 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", 0, 200,
		  HTTP_BODY_NONE, 1, 0 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET",
		  0, 200, HTTP_BODY_CHUNKED, 1, 0 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		  "GET", 0, 200, HTTP_BODY_CHUNKED, 1, 0 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", 0,
		  200, HTTP_BODY_CLOSE, 0, 0 },
		{ "HTTP/1.1 200 OK\r\n\r\n", "GET", 0, 200, HTTP_BODY_CLOSE, 0,
		  0 },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", "GET", 0, 200,
		  HTTP_BODY_LENGTH, 0, 3 },
		{ "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
		  "Content-Length: 3\r\n\r\n", "GET", 0, 200, HTTP_BODY_LENGTH,
		  1, 3 },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\n"
		  "Content-Length: 3\r\n\r\n", "GET", 0, 200, HTTP_BODY_LENGTH,
		  0, 3 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", 0, 200,
		  HTTP_BODY_NONE, 1, 0 },
		{ "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "GET",
		  0, 204, HTTP_BODY_NONE, 1, 0 },
		{ "HTTP/1.1 304 Not Modified\r\n\r\n", "GET", 0, 304,
		  HTTP_BODY_NONE, 1, 0 },
		{ "HTTP/1.1 100 Continue\r\n\r\n", "POST", 0, 100,
		  HTTP_BODY_NONE, 1, 0 },
		{ "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", "GET", 0, 200,
		  HTTP_BODY_LENGTH, 1, 1 },
		{ "HTTP/1.1 999 Odd\r\nContent-Length: 1\r\n\r\n", "GET", 0, 999,
		  HTTP_BODY_LENGTH, 1, 1 },
		/* refused */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n", "GET", -1, 0, 0, 0, 0 },
		{ "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET",
		  -1, 0, 0, 0, 0 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		  "Content-Length: 6\r\n\r\n", "GET", -1, 0, 0, 0, 0 },
		{ "HTTP/1.1 20 OK\r\n\r\n", "GET", -1, 0, 0, 0, 0 },
		{ "HTTP/1.1 2000 OK\r\n\r\n", "GET", -1, 0, 0, 0, 0 },
		{ "HTTP/1.1 099 OK\r\n\r\n", "GET", -1, 0, 0, 0, 0 },
		{ "HTTP/2 200 OK\r\n\r\n", "GET", -1, 0, 0, 0, 0 },
		{ "HTTP/1.1  200 OK\r\n\r\n", "GET", -1, 0, 0, 0, 0 },
		{ "HTTP/1.1 200 O\x01K\r\n\r\n", "GET", -1, 0, 0, 0, 0 },
		{ "HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n", "GET", -1, 0, 0,
		  0, 0 },
		{ "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "GET", -1, 0, 0, 0,
		  0 },
		{ "ICY 200 OK\r\n\r\n", "GET", -1, 0, 0, 0, 0 },
	};
	struct http_msg		m;
	struct http_error	err;
	size_t			i;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++) {
		err.status = 0;
		if (http_parse_response(&m, tab[i].in, strlen(tab[i].in),
		    tab[i].method, &err) != tab[i].ret)
			fail_msg("%s: %s", tab[i].in, err.reason ? err.reason :
			    "accepted");
		if (tab[i].ret == 0) {
			assert_int_equal(m.status, tab[i].status);
			assert_int_equal(m.framing, tab[i].framing);
			assert_int_equal(m.keepalive, tab[i].keepalive);
			if (m.framing == HTTP_BODY_LENGTH)
				assert_int_equal(m.length, tab[i].length);
		} else
			assert_int_equal(err.status, 502);
		http_msg_free(&m);
	}
}

/* --- forwarding ----------------------------------------------------- */

static void
test_forward_request(void **state)
{
	static const char	*in = "POST http://Example.com:8080/up?x=1 "
	    "HTTP/1.1\r\n"
	    "Host: evil.example\r\n"
	    "Connection: keep-alive, X-Secret, Content-Length, Host\r\n"
	    "Keep-Alive: timeout=5\r\n"
	    "Proxy-Connection: keep-alive\r\n"
	    "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
	    "TE: trailers\r\n"
	    "Trailer: X-Sum\r\n"
	    "Upgrade: websocket\r\n"
	    "X-Secret: 1\r\n"
	    "x-secret: 2\r\n"
	    "Content-Length: 3\r\n"
	    "Accept: */*\r\n"
	    "Via: 1.1 other\r\n"
	    "\r\n";
	static const char	*want = "POST /up?x=1 HTTP/1.1\r\n"
	    "Host: example.com:8080\r\n"
	    "Content-Length: 3\r\n"
	    "Accept: */*\r\n"
	    "Via: 1.1 other\r\n"
	    "Via: 1.1 podrunner\r\n"
	    "\r\n";
	struct http_msg		m;
	struct http_target	t;
	struct http_error	err;
	size_t			len;
	char			*out;

	(void)state;
	assert_int_equal(parse_req(in, &m, &err), 0);
	assert_int_equal(http_parse_target(&m, &t, &err), 0);
	out = http_request_forward(&m, &t, 0, &len);
	assert_non_null(out);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
	http_msg_free(&m);

	assert_int_equal(parse_req("GET http://a.example?q HTTP/1.0\r\n\r\n",
	    &m, &err), 0);
	assert_int_equal(http_parse_target(&m, &t, &err), 0);
	out = http_request_forward(&m, &t, 1, &len);
	assert_string_equal(out, "GET /?q HTTP/1.1\r\nHost: a.example\r\n"
	    "Via: 1.0 podrunner\r\nConnection: close\r\n\r\n");
	free(out);
	http_msg_free(&m);

	assert_int_equal(parse_req("GET http://a.example HTTP/1.1\r\n\r\n",
	    &m, &err), 0);
	assert_int_equal(http_parse_target(&m, &t, &err), 0);
	out = http_request_forward(&m, &t, 0, &len);
	assert_string_equal(out, "GET / HTTP/1.1\r\nHost: a.example\r\n"
	    "Via: 1.1 podrunner\r\n\r\n");
	free(out);
	http_msg_free(&m);
}

static void
test_forward_response(void **state)
{
	static const char	*in = "HTTP/1.1 200 Fine\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "Connection: X-Hop\r\n"
	    "X-Hop: 1\r\n"
	    "Keep-Alive: timeout=5\r\n"
	    "Proxy-Authenticate: Basic\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n";
	struct http_msg		m;
	struct http_error	err;
	size_t			len;
	char			*out;

	(void)state;
	assert_int_equal(http_parse_response(&m, in, strlen(in), "GET", &err),
	    0);
	out = http_response_forward(&m, 0, 0, &len);
	assert_string_equal(out, "HTTP/1.1 200 Fine\r\n"
	    "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n"
	    "Via: 1.1 podrunner\r\n\r\n");
	free(out);
	out = http_response_forward(&m, 1, 1, &len);
	assert_string_equal(out, "HTTP/1.1 200 Fine\r\n"
	    "Content-Type: text/plain\r\nVia: 1.1 podrunner\r\n"
	    "Connection: close\r\n\r\n");
	assert_int_equal(len, strlen(out));
	free(out);
	http_msg_free(&m);
}

static void
test_response_make(void **state)
{
	char	*out, s[16];
	size_t	 len;

	(void)state;
	out = http_response_make(403, "X-Podrunner-Decision: deny\r\n",
	    "no\n", &len);
	assert_string_equal(out, "HTTP/1.1 403 Forbidden\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 3\r\nConnection: close\r\n"
	    "X-Podrunner-Decision: deny\r\n\r\nno\n");
	assert_int_equal(len, strlen(out));
	free(out);
	http_sanitize(s, sizeof(s), "a\r\nb\"\xc3\xa9");
	assert_string_equal(s, "a??b\"??");
	http_sanitize(s, 4, "abcdef");
	assert_string_equal(s, "abc");
}

/* --- body framing --------------------------------------------------- */

/*
 * Feed msg to the framing machine in pieces of step bytes; collect the
 * data; return the offset where the message ended, or -1 on error,
 * -2 if it never ended.
 */
static ssize_t
feed(int framing, uint64_t length, const char *msg, size_t len, size_t step,
    char *data, size_t *datalen, const char **why)
{
	struct http_body	b;
	size_t			off = 0, n, have, piece;
	int			r, isdata;

	http_body_init(&b, framing, length);
	*datalen = 0;
	while (off <= len) {
		piece = len - off < step ? len - off : step;
		have = 0;
		do {
			r = http_body_step(&b, msg + off + have, piece - have,
			    &n, &isdata, why);
			if (r == HTTP_ERROR)
				return -1;
			if (isdata) {
				memcpy(data + *datalen, msg + off + have, n);
				*datalen += n;
			}
			have += n;
			if (r == HTTP_DONE) {
				if (!http_body_done(&b))
					fail_msg("DONE but not done");
				return (ssize_t)(off + have);
			}
		} while (have < piece && n > 0);
		if (have < piece)
			fail_msg("no progress at %zu", off + have);
		if (piece == 0)
			break;
		off += piece;
	}
	return -2;
}

static void
test_body_good(void **state)
{
	static const struct {
		int		 framing;
		uint64_t	 length;
		const char	*msg;
		const char	*data;
		size_t		 end;	/* where the message ends */
	} tab[] = {
		{ HTTP_BODY_NONE, 0, "GET", "", 0 },
		{ HTTP_BODY_LENGTH, 5, "helloGET", "hello", 5 },
		{ HTTP_BODY_CHUNKED, 0, "5\r\nhello\r\n0\r\n\r\nGET", "hello",
		  15 },
		{ HTTP_BODY_CHUNKED, 0, "0\r\n\r\n", "", 5 },
		{ HTTP_BODY_CHUNKED, 0, "000\r\n\r\n", "", 7 },
		{ HTTP_BODY_CHUNKED, 0, "A\r\n0123456789\r\n1;a=b\r\nx\r\n"
		  "0\r\n\r\n", "0123456789x", 30 },
		{ HTTP_BODY_CHUNKED, 0, "a;x;y=\"q\\\"t d\" ; z = w\r\n"
		  "0123456789\r\n0;last\r\nX-Sum: 1\r\nY:\r\n\r\nrest",
		  "0123456789", 60 },
		{ HTTP_BODY_CHUNKED, 0, "2 \r\nab\r\n0\t\r\n\r\n", "ab", 14 },
		{ HTTP_BODY_CHUNKED, 0, "0000000000000001\r\nz\r\n0\r\n\r\n",
		  "z", 26 },
	};
	char		 data[256];
	const char	*why;
	size_t		 i, step, dlen;
	ssize_t		 end;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++)
		for (step = 1; step <= strlen(tab[i].msg) + 1; step++) {
			why = NULL;
			end = feed(tab[i].framing, tab[i].length, tab[i].msg,
			    strlen(tab[i].msg), step, data, &dlen, &why);
			if (end != (ssize_t)tab[i].end)
				fail_msg("%zu step %zu: end %zd, want %zu (%s)",
				    i, step, end, tab[i].end, why ? why : "");
			assert_int_equal(dlen, strlen(tab[i].data));
			assert_memory_equal(data, tab[i].data, dlen);
		}
}

static void
test_body_bad(void **state)
{
	static const char *tab[] = {
		"x\r\n",
		"\r\n",
		";a\r\n",
		"5\nhello\r\n0\r\n\r\n",
		"5\r\nhello\n0\r\n\r\n",
		"5\r\nhelloX\r\n0\r\n\r\n",
		"5\r\nhello\rX0\r\n\r\n",
		"5\rX",
		"5;\r\n",
		"5;=b\r\n",
		"5;a=\r\n",
		"5;a=b c\r\n",
		"5;a=\"\x01\"\r\n",
		"5 x\r\n",
		"-5\r\n",
		"0x5\r\n",
		"1000000000000000\r\n",
		"0\r\n X: y\r\n\r\n",
		"0\r\nX : y\r\n\r\n",
		"0\r\nX: \x01\r\n\r\n",
		"0\r\nX: y\n\r\n",
		"0\r\n\rX",
		"0\r\n\n",
	};
	char		 data[256];
	const char	*why;
	size_t		 i, step, dlen;
	char		*big;

	(void)state;
	for (i = 0; i < NITEMS(tab); i++)
		for (step = 1; step <= strlen(tab[i]); step++) {
			why = NULL;
			if (feed(HTTP_BODY_CHUNKED, 0, tab[i], strlen(tab[i]),
			    step, data, &dlen, &why) != -1)
				fail_msg("accepted: %s", tab[i]);
			assert_non_null(why);
		}
	/* A chunk-size line of 4 KiB passes, longer does not. */
	big = repeat("1", ";a", (HTTP_CHUNK_LINE_MAX - 3) / 2, "\r\nz\r\n0\r\n\r\n");
	assert_int_equal(feed(HTTP_BODY_CHUNKED, 0, big, strlen(big), 100, data,
	    &dlen, &why), (ssize_t)strlen(big));
	free(big);
	big = repeat("1", ";a", HTTP_CHUNK_LINE_MAX / 2, "\r\nz\r\n0\r\n\r\n");
	assert_int_equal(feed(HTTP_BODY_CHUNKED, 0, big, strlen(big), 100, data,
	    &dlen, &why), -1);
	free(big);
	/* 100 trailer fields pass, 101 do not; 64 KiB of trailers at most */
	big = repeat("0\r\n", "X: y\r\n", HTTP_FIELDS_MAX, "\r\n");
	assert_int_equal(feed(HTTP_BODY_CHUNKED, 0, big, strlen(big), 64, data,
	    &dlen, &why), (ssize_t)strlen(big));
	free(big);
	big = repeat("0\r\n", "X: y\r\n", HTTP_FIELDS_MAX + 1, "\r\n");
	assert_int_equal(feed(HTTP_BODY_CHUNKED, 0, big, strlen(big), 64, data,
	    &dlen, &why), -1);
	free(big);
	big = repeat("0\r\nX: ", "y", HTTP_LINE_MAX, "\r\n\r\n");
	assert_int_equal(feed(HTTP_BODY_CHUNKED, 0, big, strlen(big), 1000,
	    data, &dlen, &why), -1);
	free(big);
}

static void
test_body_stream(void **state)
{
	struct http_body	 b;
	const char		*why;
	char			 buf[4096];
	size_t			 n, total = 0;
	int			 data, r;

	(void)state;
	/* A large Content-Length body in pieces: data all the way. */
	memset(buf, 'a', sizeof(buf));
	http_body_init(&b, HTTP_BODY_LENGTH, 1000000);
	do {
		r = http_body_step(&b, buf, sizeof(buf), &n, &data, &why);
		assert_int_equal(data, 1);
		total += n;
	} while (r == HTTP_MORE);
	assert_int_equal(r, HTTP_DONE);
	assert_int_equal(total, 1000000);
	/* Until close: never done. */
	http_body_init(&b, HTTP_BODY_CLOSE, 0);
	assert_int_equal(http_body_step(&b, buf, sizeof(buf), &n, &data, &why),
	    HTTP_MORE);
	assert_int_equal(n, sizeof(buf));
	assert_int_equal(http_body_done(&b), 0);
	/* A big chunk streams as data. */
	http_body_init(&b, HTTP_BODY_CHUNKED, 0);
	assert_int_equal(http_body_step(&b, "fffff\r\n", 7, &n, &data, &why),
	    HTTP_MORE);
	assert_int_equal(n, 7);
	assert_int_equal(data, 0);
	total = 0;
	while (total < 0xfffff) {
		assert_int_equal(http_body_step(&b, buf, sizeof(buf), &n,
		    &data, &why), HTTP_MORE);
		assert_int_equal(data, 1);
		total += n;
	}
	assert_int_equal(total, 0xfffff);
	assert_int_equal(http_body_step(&b, "\r\n0\r\n\r\n", 7, &n, &data,
	    &why), HTTP_DONE);
	assert_int_equal(n, 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_good),
		cmocka_unit_test(test_scan_incomplete),
		cmocka_unit_test(test_scan_bad),
		cmocka_unit_test(test_request_good),
		cmocka_unit_test(test_request_bad),
		cmocka_unit_test(test_request_limits),
		cmocka_unit_test(test_target_good),
		cmocka_unit_test(test_target_bad),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_forward_request),
		cmocka_unit_test(test_forward_response),
		cmocka_unit_test(test_response_make),
		cmocka_unit_test(test_body_good),
		cmocka_unit_test(test_body_bad),
		cmocka_unit_test(test_body_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
