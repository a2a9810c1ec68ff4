/*
 * The built-in deny set of the egress proxy: addresses a pod never
 * reaches through a name or a "*" rule, only through a rule that names
 * them by address or CIDR (policy_decide_addr()).  Private networks,
 * the host's own loopback, link-local (cloud metadata at
 * 169.254.169.254, the pod's own 169.254.1.x), shared address space,
 * multicast, broadcast, unspecified, reserved and documentation
 * ranges; and every IPv6 form that carries an IPv4 address (mapped,
 * compatible, NAT64, 6to4, Teredo) is judged by that IPv4 address.
 */
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

struct range {
	uint8_t		 addr[16];
	uint8_t		 plen;
	const char	*name;
};

#define V4(a, b, c, d, len, name) \
	{ { 0,0,0,0, 0,0,0,0, 0,0,0xff,0xff, a, b, c, d }, 96 + (len), name }

static const struct range v4_ranges[] = {
	V4(0, 0, 0, 0, 8, "\"this network\" 0.0.0.0/8"),
	V4(10, 0, 0, 0, 8, "private network 10.0.0.0/8 (RFC 1918)"),
	V4(100, 64, 0, 0, 10, "shared address space 100.64.0.0/10 (CGNAT)"),
	V4(127, 0, 0, 0, 8, "loopback 127.0.0.0/8"),
	V4(169, 254, 0, 0, 16, "link-local 169.254.0.0/16 (cloud "
	    "metadata, the pod's proxy)"),
	V4(172, 16, 0, 0, 12, "private network 172.16.0.0/12 (RFC 1918)"),
	V4(192, 0, 0, 0, 24, "IETF protocol assignments 192.0.0.0/24"),
	V4(192, 0, 2, 0, 24, "documentation 192.0.2.0/24"),
	V4(192, 88, 99, 0, 24, "6to4 relay anycast 192.88.99.0/24"),
	V4(192, 168, 0, 0, 16, "private network 192.168.0.0/16 (RFC 1918)"),
	V4(198, 18, 0, 0, 15, "benchmarking 198.18.0.0/15"),
	V4(198, 51, 100, 0, 24, "documentation 198.51.100.0/24"),
	V4(203, 0, 113, 0, 24, "documentation 203.0.113.0/24"),
	V4(224, 0, 0, 0, 4, "multicast 224.0.0.0/4"),
	V4(240, 0, 0, 0, 4, "reserved 240.0.0.0/4 (and broadcast)"),
};

static const struct range v6_ranges[] = {
	{ { 0 }, 128, "unspecified ::" },
	{ { 0,0,0,0, 0,0,0,0, 0,0,0,0, 0,0,0,1 }, 128, "loopback ::1" },
	{ { 0x01, 0 }, 64, "discard-only 100::/64" },
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, "documentation 2001:db8::/32" },
	{ { 0x3f, 0xff }, 20, "documentation 3fff::/20" },
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48,
	    "local-use NAT64 64:ff9b:1::/48" },
	{ { 0xfc }, 7, "unique-local fc00::/7" },
	{ { 0xfe, 0x80 }, 10, "link-local fe80::/10" },
	{ { 0xfe, 0xc0 }, 10, "site-local fec0::/10" },
	{ { 0xff }, 8, "multicast ff00::/8" },
};

static int
in_prefix(const uint8_t *a, const uint8_t *p, unsigned int plen)
{
	unsigned int	bytes = plen / 8, bits = plen % 8;

	if (memcmp(a, p, bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	return ((a[bytes] ^ p[bytes]) & (0xff << (8 - bits))) == 0;
}

static const char *
v4_builtin(const uint8_t *v4)
{
	uint8_t	mapped[16] = { 0,0,0,0, 0,0,0,0, 0,0,0xff,0xff };
	size_t	i;

	memcpy(mapped + 12, v4, 4);
	for (i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++)
		if (in_prefix(mapped, v4_ranges[i].addr, v4_ranges[i].plen))
			return v4_ranges[i].name;
	return NULL;
}

/*
 * The built-in range that holds a (an IPv4 address as v4-mapped), or
 * NULL.  name gets what to say: the range, and for an IPv6 form of an
 * IPv4 address, that form too.
 */
const char *
builtin_denied(const struct in6_addr *in, char *name, size_t len)
{
	const uint8_t	*a = in->s6_addr;
	const char	*why, *form = NULL;
	uint8_t		 v4[4];
	size_t		 i;
	static const uint8_t mapped[12] = { 0,0,0,0, 0,0,0,0, 0,0,0xff,0xff };
	static const uint8_t compat[12] = { 0 };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	if (memcmp(a, mapped, 12) == 0)
		return (why = v4_builtin(a + 12)) == NULL ? NULL :
		    (snprintf(name, len, "%s", why), name);
	for (i = 0; i < sizeof(v6_ranges) / sizeof(v6_ranges[0]); i++)
		if (in_prefix(a, v6_ranges[i].addr, v6_ranges[i].plen)) {
			(void)snprintf(name, len, "%s", v6_ranges[i].name);
			return name;
		}
	/* IPv6 forms of an IPv4 address: judged by that address. */
	if (memcmp(a, compat, 12) == 0) {
		form = "IPv4-compatible ::/96";
		memcpy(v4, a + 12, 4);
	} else if (memcmp(a, nat64, 12) == 0) {
		form = "NAT64 64:ff9b::/96";
		memcpy(v4, a + 12, 4);
	} else if (a[0] == 0x20 && a[1] == 0x02) {
		form = "6to4 2002::/16";
		memcpy(v4, a + 2, 4);
	} else if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		/* Teredo: the server, and the client (inverted bits). */
		form = "Teredo 2001::/32";
		memcpy(v4, a + 4, 4);
		if ((why = v4_builtin(v4)) == NULL) {
			for (i = 0; i < 4; i++)
				v4[i] = (uint8_t)~a[12 + i];
		}
	}
	if (form == NULL || (why = v4_builtin(v4)) == NULL)
		return NULL;
	(void)snprintf(name, len, "%s in %s", why, form);
	return name;
}
