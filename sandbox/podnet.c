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

/* RTM_NEWADDR of addr/32 on the loopback, and its acknowledgement. */
static int
addr_add(struct mnl_socket *nl, const char *addr)
{
	char			 buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr		*nlh;
	struct ifaddrmsg	*ifa;
	struct in_addr		 in;
	unsigned int		 seq, portid;
	ssize_t			 n;

	if (inet_pton(AF_INET, addr, &in) != 1) {
		errno = EINVAL;
		return -1;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL |
	    NLM_F_ACK;
	nlh->nlmsg_seq = seq = (unsigned int)time(NULL);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 32;
	ifa->ifa_flags = IFA_F_PERMANENT;
	ifa->ifa_scope = RT_SCOPE_HOST;
	ifa->ifa_index = if_nametoindex("lo");
	if (ifa->ifa_index == 0)
		return -1;
	mnl_attr_put_u32(nlh, IFA_LOCAL, in.s_addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, in.s_addr);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) == -1)
		return -1;
	portid = mnl_socket_get_portid(nl);
	if ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) == -1)
		return -1;
	/* The ack: an NLMSG_ERROR with 0, or the kernel's errno. */
	return mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL) ==
	    MNL_CB_ERROR ? -1 : 0;
}

int
podnet_setup(int *listenfd, char *err, size_t errlen)
{
	struct mnl_socket	*nl;
	struct sockaddr_in	 sin;
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
	if (addr_add(nl, POD_PROXY_ADDR) == -1 ||
	    addr_add(nl, POD_WORKER_ADDR) == -1) {
		(void)snprintf(err, errlen, "address on the loopback: %s",
		    strerror(errno));
		(void)mnl_socket_close(nl);
		return -1;
	}
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
