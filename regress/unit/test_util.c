/*
 * Unit tests for common/util.h: parse_size, parse_duration, fmt_size,
 * utf8_clean, event_framed.
 *
 * Each function is tested from a table: the good inputs with the value
 * they must yield, the bad ones (next to the good) with the fact that
 * they must fail, leave the output untouched and say why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

#define KiB	(1ULL << 10)
#define MiB	(1ULL << 20)
#define GiB	(1ULL << 30)

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Sentinel written to the output before a call that must fail. */
#define UNTOUCHED	0x5a5a5a5a5a5a5a5aULL

struct good {
	const char	*in;
	uint64_t	 want;
};

struct bad {
	const char	*in;
	const char	*why;	/* for the failure message only */
};

typedef int (*parse_fn)(const char *, uint64_t *, const char **);

static void
run_good(const char *name, parse_fn fn, const struct good *tab, size_t n)
{
	const char	*errstr;
	uint64_t	 v;
	size_t		 i;

	for (i = 0; i < n; i++) {
		v = UNTOUCHED;
		errstr = NULL;
		if (fn(tab[i].in, &v, &errstr) != 0)
			fail_msg("%s(\"%s\") failed: %s", name, tab[i].in,
			    errstr ? errstr : "(no reason)");
		if (v != tab[i].want)
			fail_msg("%s(\"%s\") = %llu, want %llu", name,
			    tab[i].in, (unsigned long long)v,
			    (unsigned long long)tab[i].want);
	}
}

static void
run_bad(const char *name, parse_fn fn, const struct bad *tab, size_t n)
{
	const char	*errstr;
	uint64_t	 v;
	size_t		 i;

	for (i = 0; i < n; i++) {
		v = UNTOUCHED;
		errstr = NULL;
		if (fn(tab[i].in, &v, &errstr) != -1)
			fail_msg("%s(\"%s\") accepted (%llu); must fail: %s",
			    name, tab[i].in, (unsigned long long)v,
			    tab[i].why);
		if (errstr == NULL || *errstr == '\0')
			fail_msg("%s(\"%s\") failed without a reason", name,
			    tab[i].in);
		if (v != UNTOUCHED)
			fail_msg("%s(\"%s\") failed but wrote %llu", name,
			    tab[i].in, (unsigned long long)v);
	}
}

/* --- parse_size ----------------------------------------------------- */

static const struct good size_good[] = {
	{ "0",		0 },
	{ "1",		1 },
	{ "4096",	4096 },
	{ "4096b",	4096 },
	{ "64k",	64 * KiB },
	{ "64K",	64 * KiB },
	{ "64kb",	64 * KiB },
	{ "64KB",	64 * KiB },
	{ "64kib",	64 * KiB },
	{ "10mb",	10 * MiB },
	{ "10MB",	10 * MiB },
	{ "10m",	10 * MiB },
	{ "10MiB",	10 * MiB },
	{ "1gb",	GiB },
	{ "1g",		GiB },
	{ "1GiB",	GiB },
	{ "007k",	7 * KiB },
	/* Largest values that still fit. */
	{ "18446744073709551609", UINT64_MAX - 6 },
	{ "18014398509481983k",	18014398509481983ULL << 10 },
};

static const struct bad size_bad[] = {
	{ "",			"empty" },
	{ "10xb",		"unknown unit" },
	{ "mb",			"no number" },
	{ "k",			"no number" },
	{ "-1",			"negative" },
	{ "+1",			"sign" },
	{ "1.5mb",		"fraction" },
	{ " 1k",		"leading space" },
	{ "1k ",		"trailing space" },
	{ "1 k",		"inner space" },
	{ "1kk",		"doubled unit" },
	{ "1mbb",		"unit with junk" },
	{ "0x10",		"hex" },
	{ "1e3",		"exponent" },
	{ "99999999999999999999", "exceeds 64 bits" },
	{ "18446744073709551616", "UINT64_MAX + 1" },
	{ "18014398509481984k",	"2^54 KiB overflows 64 bits" },
	{ "17179869184g",	"2^34 GiB overflows 64 bits" },
};

static void
test_parse_size_good(void **state)
{
	(void)state;
	run_good("parse_size", parse_size, size_good, NITEMS(size_good));
}

static void
test_parse_size_bad(void **state)
{
	(void)state;
	run_bad("parse_size", parse_size, size_bad, NITEMS(size_bad));
}

static void
test_parse_size_null(void **state)
{
	const char	*errstr = NULL;
	uint64_t	 v = UNTOUCHED;

	(void)state;
	assert_int_equal(parse_size(NULL, &v, &errstr), -1);
	assert_non_null(errstr);
	assert_true(v == UNTOUCHED);
}

/*
 * Every value a uint64_t holds parses, up to UINT64_MAX itself; a digit
 * accumulator that refuses the last few values before the maximum fails
 * here.
 */
static void
test_parse_size_max(void **state)
{
	static const struct good max[] = {
		{ "18446744073709551610", UINT64_MAX - 5 },
		{ "18446744073709551615", UINT64_MAX },
		{ "18446744073709551615b", UINT64_MAX },
	};

	(void)state;
	run_good("parse_size", parse_size, max, NITEMS(max));
}

/* The reason must say what is wrong, not just "invalid". */
static void
test_parse_size_reasons(void **state)
{
	const char	*errstr = NULL;
	uint64_t	 v;

	(void)state;
	assert_int_equal(parse_size("10xb", &v, &errstr), -1);
	assert_non_null(strstr(errstr, "unit"));
	errstr = NULL;
	assert_int_equal(parse_size("18014398509481984k", &v, &errstr), -1);
	assert_non_null(strstr(errstr, "large"));
	errstr = NULL;
	assert_int_equal(parse_size("99999999999999999999", &v, &errstr), -1);
	assert_non_null(strstr(errstr, "large"));
}

/* --- parse_duration ------------------------------------------------- */

static const struct good dur_good[] = {
	{ "0",		0 },
	{ "30",		30000 },
	{ "30s",	30000 },
	{ "500ms",	500 },
	{ "2m",		120000 },
	{ "1h",		3600000 },
	{ "1S",		1000 },
	{ "1MS",	1 },
};

static const struct bad dur_bad[] = {
	{ "",		"empty" },
	{ "5x",		"unknown unit" },
	{ "s",		"no number" },
	{ "ms",		"no number" },
	{ "-3",		"negative" },
	{ "1.5s",	"fraction" },
	{ " 1s",	"leading space" },
	{ "1s ",	"trailing space" },
	{ "1ss",	"doubled unit" },
	{ "99999999999999999999", "exceeds 64 bits" },
	{ "18446744073709552s", "overflows in ms" },
	{ "5124095576031h", "overflows in ms" },
};

static void
test_parse_duration_good(void **state)
{
	(void)state;
	run_good("parse_duration", parse_duration, dur_good,
	    NITEMS(dur_good));
}

static void
test_parse_duration_bad(void **state)
{
	(void)state;
	run_bad("parse_duration", parse_duration, dur_bad, NITEMS(dur_bad));
}

/* --- fmt_size ------------------------------------------------------- */

static const struct {
	uint64_t	 in;
	const char	*want;
} fmt_tab[] = {
	{ 0,			"0 bytes" },
	{ 1,			"1 bytes" },
	{ 1000,			"1000 bytes" },
	{ 1536,			"1536 bytes" },
	{ KiB,			"1 KiB" },
	{ 4 * KiB,		"4 KiB" },
	{ 64 * KiB,		"64 KiB" },
	{ 1536 * KiB,		"1536 KiB" },
	{ MiB,			"1 MiB" },
	{ 10 * MiB,		"10 MiB" },
	{ GiB,			"1 GiB" },
	{ 3 * GiB,		"3 GiB" },
	{ GiB + MiB,		"1025 MiB" },
};

static void
test_fmt_size(void **state)
{
	char		 buf[64];
	const char	*r;
	size_t		 i;

	(void)state;
	for (i = 0; i < NITEMS(fmt_tab); i++) {
		memset(buf, 'X', sizeof(buf));
		r = fmt_size(fmt_tab[i].in, buf, sizeof(buf));
		assert_ptr_equal(r, buf);
		if (strcmp(buf, fmt_tab[i].want) != 0)
			fail_msg("fmt_size(%llu) = \"%s\", want \"%s\"",
			    (unsigned long long)fmt_tab[i].in, buf,
			    fmt_tab[i].want);
	}
}

/* A short buffer is truncated and terminated, never overrun. */
static void
test_fmt_size_short(void **state)
{
	char	buf[8];

	(void)state;
	memset(buf, 'X', sizeof(buf));
	fmt_size(1000, buf, 4);
	assert_string_equal(buf, "100");
	assert_int_equal(buf[4], 'X');
}

/* What fmt_size prints, parse_size reads back (units it emits). */
static void
test_fmt_parse_roundtrip(void **state)
{
	static const uint64_t vals[] = { 4 * KiB, 64 * KiB, MiB, 10 * MiB,
	    GiB, 4096 };
	char		 buf[64], in[64], *p;
	const char	*errstr;
	uint64_t	 v;
	size_t		 i;

	(void)state;
	for (i = 0; i < NITEMS(vals); i++) {
		fmt_size(vals[i], buf, sizeof(buf));
		/* "1 MiB" -> "1MiB", "4096 bytes" -> "4096" */
		snprintf(in, sizeof(in), "%s", buf);
		if ((p = strstr(in, " bytes")) != NULL)
			*p = '\0';
		else if ((p = strchr(in, ' ')) != NULL)
			memmove(p, p + 1, strlen(p));
		errstr = NULL;
		if (parse_size(in, &v, &errstr) != 0)
			fail_msg("parse_size(\"%s\") failed: %s", in, errstr);
		assert_true(v == vals[i]);
	}
}

static void
check_clean(const char *in, size_t len, int final, const char *want,
    size_t want_used)
{
	char	out[256];
	size_t	used, n;

	n = utf8_clean((const unsigned char *)in, len, out, &used, final);
	assert_int_equal(n, strlen(want));
	assert_string_equal(out, want);
	assert_int_equal(used, want_used);
}

static void
test_utf8_clean(void **state)
{
	(void)state;
	check_clean("plain", 5, 0, "plain", 5);
	check_clean("\xc3\xbc \xe2\x9c\x93 \xf0\x9f\x98\x80", 11, 0,
	    "\xc3\xbc \xe2\x9c\x93 \xf0\x9f\x98\x80", 11);
	/* Bytes that start nothing valid: U+FFFD each. */
	check_clean("\xff\xfeok", 4, 0, "\xef\xbf\xbd\xef\xbf\xbdok", 4);
	check_clean("\xc0\xaf", 2, 0, "\xef\xbf\xbd\xef\xbf\xbd", 2);
	check_clean("\xed\xa0\x80", 3, 0,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3);
	check_clean("\xf4\x90\x80\x80", 4, 0,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 4);
	check_clean("\xe0\x80\x80", 3, 0,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3);
	/* A sequence cut off at the end waits for the rest... */
	check_clean("ab\xe2\x9c", 4, 0, "ab", 2);
	check_clean("\xf0\x9f\x98", 3, 0, "", 0);
	/* ...unless this is the end. */
	check_clean("ab\xe2\x9c", 4, 1, "ab\xef\xbf\xbd\xef\xbf\xbd", 4);
	/* A cut-off prefix that is already wrong is not kept. */
	check_clean("a\xe2\x41", 3, 0, "a\xef\xbf\xbd" "A", 3);
	check_clean("", 0, 1, "", 0);
}

/* event_framed(): the framing the parent checks, byte by byte. */
static void
test_event_framed(void **state)
{
	static const struct {
		const char	*text;
		const char	*type;
		size_t		 want;
	} t[] = {
		{ "{}", NULL, 1 },
		{ "{\"a\":1}", NULL, 1 },
		{ "{\"type\":\"net\",\"pod\":\"x\"}", "net", 14 },
		{ "{\"type\":\"syscalls\",\"counts\":{}}", "syscalls", 19 },
		/* not one object on one line */
		{ "", NULL, 0 },
		{ "{", NULL, 0 },
		{ "}", NULL, 0 },
		{ "[1]", NULL, 0 },
		{ "{\"a\":1} ", NULL, 0 },
		{ " {\"a\":1}", NULL, 0 },
		{ "{\"a\":1}\n{\"b\":2}", NULL, 0 },
		{ "{\"a\":\"x\ny\"}", NULL, 0 },
		/* not the type asked for, or nothing after it */
		{ "{\"type\":\"net\",\"pod\":\"x\"}", "syscalls", 0 },
		{ "{\"type\":\"network\",\"pod\":\"x\"}", "net", 0 },
		{ "{\"pod\":\"x\",\"type\":\"net\"}", "net", 0 },
		{ "{\"type\": \"net\",\"pod\":\"x\"}", "net", 0 },
		{ "{\"type\":\"net\"}", "net", 0 },
		{ "{\"type\":\"net\",}", "net", 0 },
	};
	const char	nul[] = "{\"a\":\"\0\"}";
	size_t		i;

	(void)state;
	for (i = 0; i < NITEMS(t); i++)
		if (event_framed(t[i].text, strlen(t[i].text), t[i].type) !=
		    t[i].want)
			fail_msg("event_framed(%s, %s) != %zu", t[i].text,
			    t[i].type != NULL ? t[i].type : "NULL", t[i].want);
	assert_int_equal(event_framed(nul, sizeof(nul) - 1, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_good),
		cmocka_unit_test(test_parse_size_bad),
		cmocka_unit_test(test_parse_size_max),
		cmocka_unit_test(test_parse_size_null),
		cmocka_unit_test(test_parse_size_reasons),
		cmocka_unit_test(test_parse_duration_good),
		cmocka_unit_test(test_parse_duration_bad),
		cmocka_unit_test(test_fmt_size),
		cmocka_unit_test(test_fmt_size_short),
		cmocka_unit_test(test_fmt_parse_roundtrip),
		cmocka_unit_test(test_utf8_clean),
		cmocka_unit_test(test_event_framed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
