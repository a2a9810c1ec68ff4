/*
 * The audit's records as text: a record checked and taken apart
 * (arec_view), one syslog line of key=value fields, one JSON line.
 * Pure functions over memory, shared by auditd and the unit tests.
 *
 * Values in the syslog line are bare when they are printable ASCII
 * without space, '"' or '\'; otherwise in double quotes, with '"' and
 * '\' escaped by a backslash and every byte that is not printable
 * ASCII as \xHH.  argv= holds the arguments separated by single
 * spaces, a space inside an argument written \x20.  JSON strings carry
 * valid UTF-8 as it is; a byte that is not valid UTF-8 becomes the four
 * characters \xHH (after JSON decoding), as in the syslog line.
 */
#ifndef PODRUNNER_AUDITFMT_H
#define PODRUNNER_AUDITFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "podaudit.h"

/* A growable text buffer; on allocation failure it stays truncated. */
struct sbuf {
	char	*buf;
	size_t	 len;
	size_t	 cap;
};

void	 sb_reset(struct sbuf *);
void	 sb_free(struct sbuf *);
void	 sb_add(struct sbuf *, const void *, size_t);
void	 sb_adds(struct sbuf *, const char *);
void	 sb_printf(struct sbuf *, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
/* A JSON string value, quotes included. */
void	 sb_json_str(struct sbuf *, const char *, size_t);

/* A record, checked: the header copied, the data ranges inside it. */
struct arec_view {
	struct arec	 h;
	const uint8_t	*d1;	/* path (open, exec) or sockaddr */
	size_t		 n1;
	const uint8_t	*d2;	/* exec: the arguments, each NUL-ended */
	size_t		 n2;
};

/* 0, or -1 if the record is short, too long or of an unknown kind. */
int	 arec_view(struct arec_view *, const void *, size_t);

/* What the record itself does not know. */
struct afmt {
	const char	*podid;		/* the pod's id, "-" if unknown */
	const char	*syscall;	/* its name */
	const char	*decision;	/* the policy's verdict, or NULL */
	struct timespec	 wall;		/* the record's wall-clock time */
};

void	 afmt_syslog(struct sbuf *, const struct arec_view *,
	    const struct afmt *);
void	 afmt_json(struct sbuf *, const struct arec_view *,
	    const struct afmt *);

/* "a.b.c.d:port", "[v6]:port", "unix:/path", "unix:@abstract", ... */
void	 afmt_addr(char *, size_t, const uint8_t *, size_t);
/* O_RDONLY|O_CLOEXEC|... */
void	 afmt_open_flags(char *, size_t, uint32_t);
/* The ISO 8601 UTC time with microseconds. */
void	 afmt_time(char *, size_t, const struct timespec *);

#endif
