/*
 * Small helpers shared by every podrunner process: allocation that
 * fails hard, size and duration parsing.
 */
#ifndef PODRUNNER_UTIL_H
#define PODRUNNER_UTIL_H

#include <stddef.h>
#include <stdint.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));

/*
 * parse_size: "4096", "64k", "10mb", "1GiB" (binary units, case
 * insensitive: b, k, kb, kib, m, mb, mib, g, gb, gib).  Returns 0 and
 * stores the value, or -1 with a static reason in *errstr.
 */
int	 parse_size(const char *, uint64_t *, const char **);
/* parse_duration: "30", "30s", "500ms", "2m", "1h"; result in ms. */
int	 parse_duration(const char *, uint64_t *, const char **);
/* Human form of a size ("1 MiB"), into buf. */
const char *fmt_size(uint64_t, char *, size_t);
/* Strict base64; *out is malloc'd and NUL-terminated. */
int	 b64_decode(const char *, unsigned char **, size_t *);
/*
 * utf8_clean: in[0..len) as valid UTF-8 into out (room for 3 * len + 1
 * bytes, NUL-terminated; returns its length): every byte that starts
 * no valid sequence (overlong forms, surrogates, past U+10FFFF) becomes
 * U+FFFD.  Unless final, a sequence cut off at the end is left for the
 * next call: *used says how many input bytes were taken.
 */
size_t	 utf8_clean(const unsigned char *, size_t, char *, size_t *, int);
/*
 * event_framed: text[0..len) is one line holding one object as a JSON
 * library writes it compact, judged by its bytes alone (no parse): '{'
 * first, '}' last, no newline and no NUL; and when type is not NULL, it
 * starts with {"type":"TYPE", and at least one byte more before the
 * '}'.  Returns the length of that start (1 without a type: the '{'),
 * or 0 if the text is not so framed.  For the parent, which passes on
 * the events of the relay and the daemons without parsing them.
 */
size_t	 event_framed(const char *, size_t, const char *);

#endif
