/*
 * The audit's records as text (see auditfmt.h).
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditfmt.h"

#define AT_FDCWD_VALUE	(-100)

void
sb_reset(struct sbuf *sb)
{
	sb->len = 0;
	if (sb->buf != NULL)
		sb->buf[0] = '\0';
}

void
sb_free(struct sbuf *sb)
{
	free(sb->buf);
	memset(sb, 0, sizeof(*sb));
}

static int
sb_grow(struct sbuf *sb, size_t more)
{
	size_t	 cap;
	char	*p;

	if (sb->len + more + 1 <= sb->cap)
		return 0;
	cap = sb->cap == 0 ? 256 : sb->cap;
	while (cap < sb->len + more + 1)
		cap *= 2;
	if ((p = realloc(sb->buf, cap)) == NULL)
		return -1;
	sb->buf = p;
	sb->cap = cap;
	return 0;
}

void
sb_add(struct sbuf *sb, const void *p, size_t n)
{
	if (sb_grow(sb, n) == -1)
		return;
	memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void
sb_adds(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void
sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_grow(sb, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_len(const uint8_t *s, size_t n)
{
	uint32_t	c;
	size_t		len, i;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond Unicode. */
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
	    (len == 4 && c < 0x10000) || (c >= 0xd800 && c <= 0xdfff) ||
	    c > 0x10ffff)
		return 0;
	return len;
}

void
sb_json_str(struct sbuf *sb, const char *str, size_t n)
{
	const uint8_t	*s = (const uint8_t *)str;
	size_t		 i, u;

	sb_add(sb, "\"", 1);
	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '"':
			sb_add(sb, "\\\"", 2);
			continue;
		case '\\':
			sb_add(sb, "\\\\", 2);
			continue;
		case '\n':
			sb_add(sb, "\\n", 2);
			continue;
		case '\t':
			sb_add(sb, "\\t", 2);
			continue;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			sb_printf(sb, "\\u%04x", s[i]);
			continue;
		}
		if (s[i] < 0x80) {
			sb_add(sb, &s[i], 1);
			continue;
		}
		if ((u = utf8_len(s + i, n - i)) == 0) {
			/* Not UTF-8: the byte as the text \xHH. */
			sb_printf(sb, "\\\\x%02x", s[i]);
			continue;
		}
		sb_add(sb, &s[i], u);
		i += u - 1;
	}
	sb_add(sb, "\"", 1);
}

/* A syslog value: bare if it can be, else quoted and escaped. */
static void
sb_kv_str(struct sbuf *sb, const char *key, const char *str, size_t n,
    int argv)
{
	const uint8_t	*s = (const uint8_t *)str;
	size_t		 i;
	int		 bare = n > 0;

	for (i = 0; i < n && bare; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' ||
		    s[i] == '\\')
			bare = 0;
	sb_printf(sb, "%s%s=", sb->len > 0 ? " " : "", key);
	if (bare) {
		sb_add(sb, s, n);
		return;
	}
	sb_add(sb, "\"", 1);
	for (i = 0; i < n; i++) {
		if (argv && s[i] == '\0')
			sb_add(sb, " ", 1);	/* between arguments */
		else if (s[i] == '"' || s[i] == '\\') {
			sb_add(sb, "\\", 1);
			sb_add(sb, &s[i], 1);
		} else if (s[i] < 0x20 || s[i] >= 0x7f || (argv && s[i] == ' '))
			sb_printf(sb, "\\x%02x", s[i]);
		else
			sb_add(sb, &s[i], 1);
	}
	sb_add(sb, "\"", 1);
}

int
arec_view(struct arec_view *v, const void *buf, size_t len)
{
	const uint8_t	*d;
	size_t		 n;

	memset(v, 0, sizeof(*v));
	if (len < sizeof(v->h))
		return -1;
	memcpy(&v->h, buf, sizeof(v->h));
	d = (const uint8_t *)buf + sizeof(v->h);
	n = len - sizeof(v->h);
	if ((size_t)v->h.len1 + v->h.len2 > n)
		return -1;
	switch (v->h.kind) {
	case AREC_OPEN:
		if (v->h.len1 >= AREC_PATH_MAX || v->h.len2 != 0)
			return -1;
		break;
	case AREC_EXEC:
		/* The path's NUL is between path and arguments. */
		if (v->h.len1 >= AREC_PATH_MAX ||
		    (size_t)v->h.len1 + 1 + v->h.len2 > n)
			return -1;
		if (v->h.len2 > 0 && d[v->h.len1 + v->h.len2] != '\0')
			return -1;
		v->d2 = d + v->h.len1 + 1;
		v->n2 = v->h.len2;
		break;
	case AREC_CONNECT:
	case AREC_BIND:
		if (v->h.len1 > AREC_ADDR_MAX || v->h.len2 != 0)
			return -1;
		break;
	case AREC_SYSCALL:
		if (v->h.len1 != 0 || v->h.len2 != 0)
			return -1;
		break;
	default:
		return -1;
	}
	v->d1 = d;
	v->n1 = v->h.len1;
	/* A path ends at its first NUL whatever len1 says. */
	if (v->h.kind == AREC_OPEN || v->h.kind == AREC_EXEC)
		v->n1 = strnlen((const char *)d, v->n1);
	v->h.comm[sizeof(v->h.comm) - 1] = '\0';
	return 0;
}

void
afmt_addr(char *buf, size_t len, const uint8_t *sa, size_t n)
{
	struct sockaddr_in	 in;
	struct sockaddr_in6	 in6;
	char			 a[INET6_ADDRSTRLEN];
	sa_family_t		 fam;
	size_t			 i, o;

	if (n < sizeof(fam)) {
		(void)snprintf(buf, len, "-");
		return;
	}
	memcpy(&fam, sa, sizeof(fam));
	switch (fam) {
	case AF_INET:
		if (n < sizeof(in))
			break;
		memcpy(&in, sa, sizeof(in));
		(void)inet_ntop(AF_INET, &in.sin_addr, a, sizeof(a));
		(void)snprintf(buf, len, "%s:%u", a, ntohs(in.sin_port));
		return;
	case AF_INET6:
		if (n < sizeof(in6))
			break;
		memcpy(&in6, sa, sizeof(in6));
		(void)inet_ntop(AF_INET6, &in6.sin6_addr, a, sizeof(a));
		(void)snprintf(buf, len, "[%s]:%u", a, ntohs(in6.sin6_port));
		return;
	case AF_UNIX:
		o = (size_t)snprintf(buf, len, "unix:");
		if (n == sizeof(fam)) {
			(void)snprintf(buf + o, len - o, "(unnamed)");
			return;
		}
		/* Abstract names start with a NUL, shown as '@'. */
		for (i = sizeof(fam); i < n && o + 5 < len; i++) {
			if (sa[i] == '\0' && i > sizeof(fam))
				break;
			if (sa[i] == '\0')
				buf[o++] = '@';
			else if (sa[i] < 0x20 || sa[i] >= 0x7f)
				o += (size_t)snprintf(buf + o, len - o,
				    "\\x%02x", sa[i]);
			else
				buf[o++] = (char)sa[i];
		}
		buf[o] = '\0';
		return;
	}
	if (fam == AF_NETLINK) {
		(void)snprintf(buf, len, "netlink");
		return;
	}
	(void)snprintf(buf, len, "family:%u", (unsigned)fam);
}

void
afmt_open_flags(char *buf, size_t len, uint32_t fl)
{
	static const struct {
		uint32_t	 bit;
		const char	*name;
	} names[] = {
		{ O_CREAT, "O_CREAT" }, { O_EXCL, "O_EXCL" },
		{ O_NOCTTY, "O_NOCTTY" }, { O_TRUNC, "O_TRUNC" },
		{ O_APPEND, "O_APPEND" }, { O_NONBLOCK, "O_NONBLOCK" },
		{ O_DSYNC, "O_DSYNC" }, { O_DIRECT, "O_DIRECT" },
		{ O_LARGEFILE, "O_LARGEFILE" }, { O_NOATIME, "O_NOATIME" },
		{ O_CLOEXEC, "O_CLOEXEC" }, { O_PATH, "O_PATH" },
		/* Compound flags contain O_DIRECTORY and O_DSYNC: first. */
		{ O_TMPFILE & ~O_DIRECTORY, "O_TMPFILE" },
		{ O_DIRECTORY, "O_DIRECTORY" }, { O_NOFOLLOW, "O_NOFOLLOW" },
		{ O_SYNC & ~O_DSYNC, "O_SYNC" },
	};
	size_t	i, o;

	switch (fl & O_ACCMODE) {
	case O_RDONLY:
		o = (size_t)snprintf(buf, len, "O_RDONLY");
		break;
	case O_WRONLY:
		o = (size_t)snprintf(buf, len, "O_WRONLY");
		break;
	case O_RDWR:
		o = (size_t)snprintf(buf, len, "O_RDWR");
		break;
	default:
		o = (size_t)snprintf(buf, len, "O_ACCMODE");
		break;
	}
	fl &= ~(uint32_t)O_ACCMODE;
	for (i = 0; i < sizeof(names) / sizeof(names[0]) && o < len; i++)
		if ((fl & names[i].bit) == names[i].bit && names[i].bit != 0) {
			o += (size_t)snprintf(buf + o, len - o, "|%s",
			    names[i].name);
			fl &= ~names[i].bit;
		}
	if (fl != 0 && o < len)
		(void)snprintf(buf + o, len - o, "|%#x", fl);
}

void
afmt_time(char *buf, size_t len, const struct timespec *ts)
{
	struct tm	tm;
	time_t		t = ts->tv_sec;

	if (gmtime_r(&t, &tm) == NULL) {
		(void)snprintf(buf, len, "-");
		return;
	}
	(void)snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000);
}

static const char *
err_name(int64_t ret)
{
	const char	*s;

	if (ret >= 0 || ret < -4095)
		return NULL;
	s = strerrorname_np((int)-ret);
	return s;
}

/* Does this open say what it creates with? */
static int
has_mode(uint32_t flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

void
afmt_syslog(struct sbuf *sb, const struct arec_view *v, const struct afmt *f)
{
	const struct arec	*h = &v->h;
	const char		*e;
	char			 buf[256];

	sb_reset(sb);
	sb_kv_str(sb, "pod", f->podid, strlen(f->podid), 0);
	sb_printf(sb, " pid=%u", h->pid);
	if (h->tid != h->pid)
		sb_printf(sb, " tid=%u", h->tid);
	sb_printf(sb, " uid=%u", h->uid);
	sb_kv_str(sb, "comm", h->comm, strnlen(h->comm, sizeof(h->comm)), 0);
	sb_kv_str(sb, "syscall", f->syscall, strlen(f->syscall), 0);
	switch (h->kind) {
	case AREC_OPEN:
		sb_kv_str(sb, "path", (const char *)v->d1, v->n1, 0);
		if (h->a0 != AT_FDCWD_VALUE)
			sb_printf(sb, " dirfd=%d", h->a0);
		afmt_open_flags(buf, sizeof(buf), h->a1);
		sb_printf(sb, " flags=%s", buf);
		if (has_mode(h->a1))
			sb_printf(sb, " mode=%04o", h->a2 & 07777);
		break;
	case AREC_EXEC:
		sb_kv_str(sb, "path", (const char *)v->d1, v->n1, 0);
		if (h->a0 != AT_FDCWD_VALUE)
			sb_printf(sb, " dirfd=%d", h->a0);
		/* The arguments without the last NUL. */
		sb_kv_str(sb, "argv", (const char *)v->d2, v->n2 > 0 ?
		    v->n2 - 1 : 0, 1);
		break;
	case AREC_CONNECT:
	case AREC_BIND:
		afmt_addr(buf, sizeof(buf), v->d1, v->n1);
		sb_kv_str(sb, "addr", buf, strlen(buf), 0);
		sb_printf(sb, " fd=%d", h->a0);
		break;
	}
	sb_printf(sb, " ret=%lld", (long long)h->ret);
	if ((e = err_name(h->ret)) != NULL)
		sb_printf(sb, " err=%s", e);
	if (f->decision != NULL)
		sb_printf(sb, " decision=%s", f->decision);
	if (h->flags & (AREC_F_PATH_TRUNC | AREC_F_ARGV_TRUNC | AREC_F_FAULT))
		sb_printf(sb, " truncated=%s%s%s",
		    h->flags & AREC_F_PATH_TRUNC ? "path" : "",
		    (h->flags & AREC_F_ARGV_TRUNC) ? (h->flags &
		    AREC_F_PATH_TRUNC ? ",argv" : "argv") : "",
		    (h->flags & AREC_F_FAULT) ? (h->flags & (AREC_F_PATH_TRUNC |
		    AREC_F_ARGV_TRUNC) ? ",fault" : "fault") : "");
}

void
afmt_json(struct sbuf *sb, const struct arec_view *v, const struct afmt *f)
{
	const struct arec	*h = &v->h;
	const uint8_t		*a, *end;
	const char		*e;
	char			 buf[256];
	size_t			 n;
	int			 first;

	sb_reset(sb);
	afmt_time(buf, sizeof(buf), &f->wall);
	sb_printf(sb, "{\"ts\":\"%s\",\"type\":\"syscall\",\"pod\":", buf);
	sb_json_str(sb, f->podid, strlen(f->podid));
	sb_printf(sb, ",\"pid\":%u,\"tid\":%u,\"uid\":%u,\"gid\":%u,\"comm\":",
	    h->pid, h->tid, h->uid, h->gid);
	sb_json_str(sb, h->comm, strnlen(h->comm, sizeof(h->comm)));
	sb_adds(sb, ",\"syscall\":");
	sb_json_str(sb, f->syscall, strlen(f->syscall));
	sb_printf(sb, ",\"nr\":%u", h->nr);
	switch (h->kind) {
	case AREC_OPEN:
		sb_adds(sb, ",\"path\":");
		sb_json_str(sb, (const char *)v->d1, v->n1);
		if (h->a0 != AT_FDCWD_VALUE)
			sb_printf(sb, ",\"dirfd\":%d", h->a0);
		afmt_open_flags(buf, sizeof(buf), h->a1);
		sb_printf(sb, ",\"flags\":\"%s\"", buf);
		if (has_mode(h->a1))
			sb_printf(sb, ",\"mode\":\"%04o\"", h->a2 & 07777);
		break;
	case AREC_EXEC:
		sb_adds(sb, ",\"path\":");
		sb_json_str(sb, (const char *)v->d1, v->n1);
		if (h->a0 != AT_FDCWD_VALUE)
			sb_printf(sb, ",\"dirfd\":%d", h->a0);
		sb_adds(sb, ",\"argv\":[");
		a = v->d2;
		end = v->d2 + v->n2;
		for (first = 1; a < end; first = 0) {
			n = strnlen((const char *)a, (size_t)(end - a));
			if (!first)
				sb_adds(sb, ",");
			sb_json_str(sb, (const char *)a, n);
			a += n + 1;
		}
		sb_adds(sb, "]");
		break;
	case AREC_CONNECT:
	case AREC_BIND:
		afmt_addr(buf, sizeof(buf), v->d1, v->n1);
		sb_adds(sb, ",\"addr\":");
		sb_json_str(sb, buf, strlen(buf));
		sb_printf(sb, ",\"fd\":%d", h->a0);
		break;
	}
	sb_printf(sb, ",\"ret\":%lld", (long long)h->ret);
	if ((e = err_name(h->ret)) != NULL)
		sb_printf(sb, ",\"err\":\"%s\"", e);
	if (f->decision != NULL)
		sb_printf(sb, ",\"decision\":\"%s\"", f->decision);
	if (h->flags & AREC_F_PATH_TRUNC)
		sb_adds(sb, ",\"path_truncated\":true");
	if (h->flags & AREC_F_ARGV_TRUNC)
		sb_adds(sb, ",\"argv_truncated\":true");
	if (h->flags & AREC_F_FAULT)
		sb_adds(sb, ",\"fault\":true");
	sb_adds(sb, "}\n");
}
