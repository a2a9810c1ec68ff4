/*
 * Allocation, size and duration parsing shared by every process.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t size)
{
	void	*p;

	if (size == 0)
		fatalx("xmalloc: zero size");
	if ((p = malloc(size)) == NULL)
		fatal("xmalloc: allocating %zu bytes", size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		fatalx("xcalloc: zero size");
	if ((p = calloc(nmemb, size)) == NULL)
		fatal("xcalloc: allocating %zu * %zu bytes", nmemb, size);
	return p;
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		fatalx("xreallocarray: zero size");
	if ((p = reallocarray(ptr, nmemb, size)) == NULL)
		fatal("xreallocarray: allocating %zu * %zu bytes", nmemb, size);
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("xstrdup");
	return p;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	i;

	va_start(ap, fmt);
	i = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (i < 0 || *ret == NULL)
		fatal("xasprintf");
	return i;
}

/* Split "<digits><unit>"; the unit is returned lower-cased in u. */
static int
split_number(const char *s, uint64_t *num, char *u, size_t ulen,
    const char **errstr)
{
	const char	*p = s;
	uint64_t	 v = 0, d;
	size_t		 i;

	if (s == NULL || *s == '\0') {
		*errstr = "empty value";
		return -1;
	}
	if (!isdigit((unsigned char)*p)) {
		*errstr = "not a number";
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10) {
			*errstr = "too large";
			return -1;
		}
		v = v * 10 + d;
	}
	for (i = 0; p[i] != '\0'; i++) {
		if (i + 1 >= ulen || !isalpha((unsigned char)p[i])) {
			*errstr = "unknown unit";
			return -1;
		}
		u[i] = (char)tolower((unsigned char)p[i]);
	}
	u[i] = '\0';
	*num = v;
	return 0;
}

int
parse_size(const char *s, uint64_t *out, const char **errstr)
{
	static const struct {
		const char	*unit;
		unsigned	 shift;
	} units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
		{ "t", 40 }, { "tb", 40 }, { "tib", 40 },
	};
	uint64_t	 v;
	char		 u[8];
	size_t		 i;

	if (split_number(s, &v, u, sizeof(u), errstr) == -1)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(u, units[i].unit) != 0)
			continue;
		if (units[i].shift > 0 && v > (UINT64_MAX >> units[i].shift)) {
			*errstr = "too large";
			return -1;
		}
		*out = v << units[i].shift;
		return 0;
	}
	*errstr = "unknown unit (use b, k, kb, m, mb, g or gb)";
	return -1;
}

int
parse_duration(const char *s, uint64_t *ms, const char **errstr)
{
	static const struct {
		const char	*unit;
		uint64_t	 mult;
	} units[] = {
		{ "", 1000 }, { "s", 1000 }, { "ms", 1 },
		{ "m", 60000 }, { "min", 60000 }, { "h", 3600000 },
	};
	uint64_t	 v;
	char		 u[8];
	size_t		 i;

	if (split_number(s, &v, u, sizeof(u), errstr) == -1)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(u, units[i].unit) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult) {
			*errstr = "too large";
			return -1;
		}
		*ms = v * units[i].mult;
		return 0;
	}
	*errstr = "unknown unit (use ms, s, m or h)";
	return -1;
}

const char *
fmt_size(uint64_t v, char *buf, size_t len)
{
	if (v >= (1ULL << 30) && v % (1ULL << 30) == 0)
		(void)snprintf(buf, len, "%" PRIu64 " GiB", v >> 30);
	else if (v >= (1ULL << 20) && v % (1ULL << 20) == 0)
		(void)snprintf(buf, len, "%" PRIu64 " MiB", v >> 20);
	else if (v >= 1024 && v % 1024 == 0)
		(void)snprintf(buf, len, "%" PRIu64 " KiB", v >> 10);
	else
		(void)snprintf(buf, len, "%" PRIu64 " bytes", v);
	return buf;
}

/* Strict RFC 4648 base64 (padding required, no whitespace). */
int
b64_decode(const char *in, unsigned char **out, size_t *outlen)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char	*p;
	unsigned char	*buf;
	size_t		 len = strlen(in), i, o = 0;
	uint32_t	 acc;
	int		 pad = 0, j, v;

	if (len == 0 || len % 4 != 0)
		return -1;
	buf = xmalloc(len / 4 * 3 + 1);
	for (i = 0; i < len; i += 4) {
		acc = 0;
		for (j = 0; j < 4; j++) {
			if (in[i + j] == '=') {
				/* Only in the last group's last two places. */
				if (i + 4 != len || j < 2 ||
				    (j == 2 && in[i + 3] != '=')) {
					free(buf);
					return -1;
				}
				pad++;
				v = 0;
			} else {
				if (pad || (p = strchr(alphabet, in[i + j])) ==
				    NULL || in[i + j] == '\0') {
					free(buf);
					return -1;
				}
				v = (int)(p - alphabet);
			}
			acc = (acc << 6) | (uint32_t)v;
		}
		buf[o++] = (unsigned char)(acc >> 16);
		if (pad < 2)
			buf[o++] = (unsigned char)(acc >> 8);
		if (pad < 1)
			buf[o++] = (unsigned char)acc;
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
}

/* The length of the UTF-8 sequence at in[0..len): 1-4; 0 if in[0]
 * starts no valid sequence; -1 if it is a valid but cut-off prefix. */
static int
utf8_seq(const unsigned char *in, size_t len)
{
	unsigned char	c = in[0];
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;	/* nothing past U+10FFFF */
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if (i >= len)
			return -1;
		if (in[i] < lo || in[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return (int)n;
}

size_t
utf8_clean(const unsigned char *in, size_t len, char *out, size_t *used,
    int final)
{
	size_t	i = 0, o = 0;
	int	n;

	while (i < len) {
		n = utf8_seq(in + i, len - i);
		if (n == -1 && !final)
			break;		/* the rest comes with the next call */
		if (n <= 0) {
			out[o++] = (char)0xef;	/* U+FFFD */
			out[o++] = (char)0xbf;
			out[o++] = (char)0xbd;
			i++;
			continue;
		}
		memcpy(out + o, in + i, (size_t)n);
		o += (size_t)n;
		i += (size_t)n;
	}
	out[o] = '\0';
	*used = i;
	return o;
}

size_t
event_framed(const char *text, size_t len, const char *type)
{
	char	prefix[64];
	int	n = 1;

	if (type != NULL) {
		n = snprintf(prefix, sizeof(prefix), "{\"type\":\"%s\",", type);
		if (n < 0 || (size_t)n >= sizeof(prefix))
			return 0;
	}
	if (len < (size_t)n + 1 || text[0] != '{' || text[len - 1] != '}' ||
	    memchr(text, '\n', len) != NULL || memchr(text, '\0', len) != NULL)
		return 0;
	if (type != NULL && (len < (size_t)n + 2 ||
	    memcmp(text, prefix, (size_t)n) != 0))
		return 0;
	return (size_t)n;
}
