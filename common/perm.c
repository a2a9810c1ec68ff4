/*
 * Validation and normal form of permission values (--allow-x=V).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perm.h"
#include "proto.h"
#include "util.h"

/* Deno's --allow-sys names, plus the seeds' "os". */
static const char *sys_names[] = {
	"hostname", "os", "osRelease", "osUptime", "loadavg",
	"networkInterfaces", "systemMemoryInfo", "uid", "gid", "cpus",
	"homedir", "username", "statfs", "getPriority", "setPriority",
	"getegid",
};

int
path_normalise(const char *cwd, const char *in, char *out, size_t outlen)
{
	char	 tmp[PATH_MAX], *comp, *save = NULL;
	size_t	 len = 0, clen;

	if (in[0] == '/')
		(void)snprintf(tmp, sizeof(tmp), "%s", in);
	else if (snprintf(tmp, sizeof(tmp), "%s/%s", cwd, in) >=
	    (int)sizeof(tmp))
		return -1;
	if (outlen < 2)
		return -1;
	out[0] = '\0';
	for (comp = strtok_r(tmp, "/", &save); comp != NULL;
	    comp = strtok_r(NULL, "/", &save)) {
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			/* Drop the last component; ".." of "/" is "/". */
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			out[len] = '\0';
			continue;
		}
		clen = strlen(comp);
		if (len + 1 + clen + 1 > outlen)
			return -1;
		out[len++] = '/';
		memcpy(out + len, comp, clen);
		len += clen;
		out[len] = '\0';
	}
	if (len == 0) {
		out[0] = '/';
		out[1] = '\0';
	}
	return 0;
}

int
env_pattern_match(const char *pattern, const char *name)
{
	size_t	len = strlen(pattern);

	if (len > 0 && pattern[len - 1] == '*')
		return strncmp(pattern, name, len - 1) == 0;
	return strcmp(pattern, name) == 0;
}

static int
check_port(const char *p, char *err, size_t errlen)
{
	char	*ep;
	long	 port;

	errno = 0;
	port = strtol(p, &ep, 10);
	if (*p == '\0' || *ep != '\0' || errno != 0 || port < 1 ||
	    port > 65535 || !isdigit((unsigned char)*p)) {
		(void)snprintf(err, errlen, "bad port \"%s\"", p);
		return -1;
	}
	return 0;
}

static int
check_hostname(const char *h, char *err, size_t errlen)
{
	const char	*p = h, *label = h;
	size_t		 n;

	if (strncmp(p, "*.", 2) == 0)
		p = label = h + 2;
	if (*p == '\0' || strlen(h) > 253) {
		(void)snprintf(err, errlen, "bad host name \"%s\"", h);
		return -1;
	}
	for (;; p++) {
		if (*p == '.' || *p == '\0') {
			n = (size_t)(p - label);
			if (n == 0 || n > 63 || label[0] == '-' ||
			    p[-1] == '-') {
				(void)snprintf(err, errlen,
				    "bad host name \"%s\"", h);
				return -1;
			}
			if (*p == '\0')
				break;
			label = p + 1;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			(void)snprintf(err, errlen, "bad character '%c' in "
			    "host name \"%s\"", *p, h);
			return -1;
		}
	}
	return 0;
}

static int
check_cidr(const char *addr, const char *bits, int af, char *err,
    size_t errlen)
{
	unsigned char	 buf[sizeof(struct in6_addr)];
	char		*ep;
	long		 n;
	int		 max = af == AF_INET ? 32 : 128;

	if (inet_pton(af, addr, buf) != 1) {
		(void)snprintf(err, errlen, "bad address \"%s\"", addr);
		return -1;
	}
	if (bits == NULL)
		return 0;
	errno = 0;
	n = strtol(bits, &ep, 10);
	if (*bits == '\0' || *ep != '\0' || n < 0 || n > max ||
	    !isdigit((unsigned char)*bits)) {
		(void)snprintf(err, errlen, "bad prefix length \"/%s\" "
		    "(0-%d)", bits, max);
		return -1;
	}
	return 0;
}

/*
 * host[:port], *.domain[:port], a.b.c.d[/n][:port], [v6][:port],
 * [v6/n], v6 (bare, no port), v6/n, or "*".
 */
static int
check_net(char *v, char *err, size_t errlen)
{
	char	*p, *port = NULL, *bits;
	int	 af;

	if (strcmp(v, "*") == 0)
		return 0;
	if (v[0] == '[') {
		if ((p = strchr(v, ']')) == NULL) {
			(void)snprintf(err, errlen, "missing ']' in \"%s\"", v);
			return -1;
		}
		*p = '\0';
		if (p[1] == ':')
			port = p + 2;
		else if (p[1] != '\0') {
			(void)snprintf(err, errlen, "junk after ']'");
			return -1;
		}
		v++;
		af = AF_INET6;
	} else if ((p = strchr(v, ':')) != NULL && strchr(p + 1, ':') != NULL) {
		af = AF_INET6;	/* bare IPv6, no port */
	} else {
		if (p != NULL) {
			*p = '\0';
			port = p + 1;
		}
		af = AF_INET;
	}
	if (port != NULL && check_port(port, err, errlen) == -1)
		return -1;
	if ((bits = strchr(v, '/')) != NULL)
		*bits++ = '\0';
	if (af == AF_INET6)
		return check_cidr(v, bits, AF_INET6, err, errlen);
	/* Dotted digits are an address, anything else a name. */
	if (bits != NULL || strspn(v, "0123456789.") == strlen(v))
		return check_cidr(v, bits, AF_INET, err, errlen);
	return check_hostname(v, err, errlen);
}

int
perm_value_normalise(unsigned int kind, const char *value, const char *cwd,
    char **out, char *err, size_t errlen)
{
	char	 buf[PATH_MAX], *copy;
	size_t	 i, len = strlen(value);

	*out = NULL;
	if (len == 0) {
		(void)snprintf(err, errlen, "empty value");
		return -1;
	}
	for (i = 0; i < len; i++)
		if (iscntrl((unsigned char)value[i])) {
			(void)snprintf(err, errlen, "control character in "
			    "\"%s\"", value);
			return -1;
		}
	switch (kind) {
	case PERM_NET:
		copy = xstrdup(value);
		for (i = 0; copy[i] != '\0'; i++)
			copy[i] = (char)tolower((unsigned char)copy[i]);
		(void)snprintf(buf, sizeof(buf), "%s", copy);
		if (check_net(copy, err, errlen) == -1) {
			free(copy);
			return -1;
		}
		free(copy);
		*out = xstrdup(buf);
		return 0;
	case PERM_READ:
	case PERM_WRITE:
	case PERM_FFI:
		if (path_normalise(cwd, value, buf, sizeof(buf)) == -1) {
			(void)snprintf(err, errlen, "path too long");
			return -1;
		}
		*out = xstrdup(buf);
		return 0;
	case PERM_RUN:
		/* A command name, or a path (normalised). */
		if (strchr(value, '/') == NULL) {
			*out = xstrdup(value);
			return 0;
		}
		if (path_normalise(cwd, value, buf, sizeof(buf)) == -1) {
			(void)snprintf(err, errlen, "path too long");
			return -1;
		}
		*out = xstrdup(buf);
		return 0;
	case PERM_ENV:
		for (i = 0; i < len; i++) {
			if (value[i] == '*' && i == len - 1)
				break;
			if (!(isalpha((unsigned char)value[i]) ||
			    value[i] == '_' ||
			    (i > 0 && isdigit((unsigned char)value[i])))) {
				(void)snprintf(err, errlen, "bad variable name "
				    "\"%s\" (letters, digits, '_', and an "
				    "optional trailing '*')", value);
				return -1;
			}
		}
		*out = xstrdup(value);
		return 0;
	case PERM_SYS:
		for (i = 0; i < sizeof(sys_names) / sizeof(sys_names[0]); i++)
			if (strcmp(value, sys_names[i]) == 0) {
				*out = xstrdup(value);
				return 0;
			}
		(void)snprintf(err, errlen, "unknown system API \"%s\"", value);
		return -1;
	}
	(void)snprintf(err, errlen, "unknown permission kind");
	return -1;
}
