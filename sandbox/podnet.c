/*
 * The pod's network, built by pod init inside the pod's fresh network
 * namespace: loopback up, the proxy's address (169.254.1.1) and the
 * worker's (169.254.1.2) on it as /32s, and the proxy's listening socket
 * at 169.254.1.1:8080.  The socket goes to the proxy daemon, which
 * accepts on it and connects out from its own namespace: no veth pair,
 * no host address, no firewall rule on the host, and every pod has the
 * same addresses.  Nothing else routes: there is no other interface and
 * no default route, so UDP, ICMP and raw traffic have nowhere to go.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "sandbox.h"

/* Bring up the pod's loopback (its network namespace starts down). */
static int
lo_up(void)
{
	struct ifreq	ifr;
	int		s, rv = -1;

	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	(void)strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rv = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return rv;
}

/* Send the request in buf and read its acknowledgement: 0, or -1 and errno. */
static int
nl_ask(struct mnl_socket *nl, char *buf, size_t len)
{
	struct nlmsghdr	*nlh = (struct nlmsghdr *)buf;
	unsigned int	 seq, portid;
	ssize_t		 n;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq = (unsigned int)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) == -1)
		return -1;
	portid = mnl_socket_get_portid(nl);
	if ((n = mnl_socket_recvfrom(nl, buf, len)) == -1)
		return -1;
	/* The ack: an NLMSG_ERROR with 0, or the kernel's errno. */
	return mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL) ==
	    MNL_CB_ERROR ? -1 : 0;
}

/* RTM_NEWADDR of addr/32 on the loopback. */
static int
addr_add(struct mnl_socket *nl, unsigned int lo, const char *addr)
{
	char			 buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr		*nlh;
	struct ifaddrmsg	*ifa;
	struct in_addr		 in;

	if (inet_pton(AF_INET, addr, &in) != 1) {
		errno = EINVAL;
		return -1;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 32;
	ifa->ifa_flags = IFA_F_PERMANENT;
	ifa->ifa_scope = RT_SCOPE_HOST;
	ifa->ifa_index = lo;
	mnl_attr_put_u32(nlh, IFA_LOCAL, in.s_addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, in.s_addr);
	return nl_ask(nl, buf, sizeof(buf));
}

/*
 * BIG TCP on the pod's loopback: segments of up to LO_GSO_MAX bytes
 * between the worker and the proxy instead of 64 KiB, so that the TCP
 * work per segment and the wake-ups come once for up to eight times the
 * bytes (bench_proxy.py: a tunnel's bulk stream 1.1-1.5x direct with it,
 * 0.5-0.8x without, on this 2-vCPU VM).  IFLA_GSO_IPV4_MAX_SIZE is
 * Linux 6.3's, IFLA_GSO_MAX_SIZE above 64 KiB 5.19's; an older kernel
 * refuses or ignores them, and the pod keeps 64 KiB segments: only
 * speed, so a refusal is not an error.
 */
#define LO_GSO_MAX		524280	/* the kernel's GSO_MAX_SIZE */
#ifndef IFLA_GSO_IPV4_MAX_SIZE
#define IFLA_GSO_IPV4_MAX_SIZE	63	/* linux/if_link.h of Linux 6.3 */
#endif

static int
lo_big_tcp(struct mnl_socket *nl, unsigned int lo)
{
	char			 buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr		*nlh;
	struct ifinfomsg	*ifi;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)lo;
	mnl_attr_put_u32(nlh, IFLA_GSO_MAX_SIZE, LO_GSO_MAX);
	mnl_attr_put_u32(nlh, IFLA_GSO_IPV4_MAX_SIZE, LO_GSO_MAX);
	return nl_ask(nl, buf, sizeof(buf));
}

int
podnet_setup(int *listenfd, char *err, size_t errlen)
{
	struct mnl_socket	*nl;
	struct sockaddr_in	 sin;
	unsigned int		 lo;
	int			 s, one = 1;

	*listenfd = -1;
	if (lo_up() == -1) {
		(void)snprintf(err, errlen, "loopback up: %s", strerror(errno));
		return -1;
	}
	if ((nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC)) == NULL ||
	    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		(void)snprintf(err, errlen, "netlink: %s", strerror(errno));
		if (nl != NULL)
			(void)mnl_socket_close(nl);
		return -1;
	}
	if ((lo = if_nametoindex("lo")) == 0 ||
	    addr_add(nl, lo, POD_PROXY_ADDR) == -1 ||
	    addr_add(nl, lo, POD_WORKER_ADDR) == -1) {
		(void)snprintf(err, errlen, "address on the loopback: %s",
		    strerror(errno));
		(void)mnl_socket_close(nl);
		return -1;
	}
	(void)lo_big_tcp(nl, lo);
	(void)mnl_socket_close(nl);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(POD_PROXY_PORT);
	(void)inet_pton(AF_INET, POD_PROXY_ADDR, &sin.sin_addr);
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s, SOMAXCONN) == -1) {
		(void)snprintf(err, errlen, "proxy socket %s:%d: %s",
		    POD_PROXY_ADDR, POD_PROXY_PORT, strerror(errno));
		if (s != -1)
			close(s);
		return -1;
	}
	*listenfd = s;
	return 0;
}
