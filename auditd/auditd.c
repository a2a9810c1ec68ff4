/*
 * auditd: the eBPF audit's collector.  Unprivileged, chrooted, no BPF
 * capability and no bpf() syscall: the sandbox's loader child loads
 * and attaches the programs (auditload.c), and the ring buffer map fd
 * comes here through the parent (IMSG_AUDIT_RING).  auditd maps it
 * (auditring.c) and drains it when the map's fd polls readable (the
 * programs wake it up only when the ring fills up) and on a 20 ms
 * timer (batched wake-ups never strand a record for longer).
 *
 * Each record goes to syslog (facility LOG_AUTHPRIV, tag
 * "podrunner-audit", one line of key=value fields; auditfmt.h) through
 * a datagram socket connected to /dev/log before the chroot, and, with
 * --audit-log, to that file as a JSON line.  Per pod it counts the
 * records by syscall and, when the parent says the pod is gone
 * (IMSG_AUDIT_POD_END), drains the ring (every record of a dead pod is
 * in it), sends the "syscalls" event and IMSG_AUDIT_DONE with the
 * counts of lost records.  The proxy's "net" events, forwarded by the
 * parent, join the same trail (IMSG_AUDIT_EVENT).
 *
 * A syscall record carries the kernel's result (ret=, err=), not a
 * policy decision: what the kernel layers refused shows as EACCES,
 * EPERM, ENOENT (not in the pod) or ENETUNREACH, and the runtime's
 * own files are granted by the pod's plan, not by a rule, so a verdict
 * recomputed here would be wrong for them.  Decisions are the records
 * of the proxy ("net" events, decision=) and of policyd.
 */
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "auditd.h"
#include "auditfmt.h"
#include "auditring.h"
#include "child.h"
#include "podaudit.h"
#include "policy.h"
#include "privsep.h"
#include "proto.h"
#include "util.h"

#define AUDIT_TAG		"podrunner-audit"
#define AUDIT_FACILITY		LOG_AUTHPRIV
#define DRAIN_MS		20
#define SYSLOG_BATCH		64
#define SYSLOG_WAIT_MS		200	/* a stuck syslog daemon: drop */
#define JSON_FLUSH		(256 * 1024)
#define UNKNOWN_POD_MS		1000	/* then "-" stands in for its id */
#define PATH_LOG		"/dev/log"

struct apod {
	TAILQ_ENTRY(apod)	 entry;
	uint32_t		 id;
	char			 podid[32];
	uint64_t		 records;
	uint64_t		 lost0;		/* counters.lost at its start */
	int			 ended;		/* POD_END done */
	uint64_t		 counts[AUDIT_SYSCALLS_MAX];
};

static int	auditd_dispatch_parent(struct imsg *);
static int	auditd_config_done(char *, size_t);
static void	ring_ready(int, short, void *);
static void	drain(void);
static int	on_record(void *, const void *, size_t);
static void	syslog_queue(const char *, size_t);
static void	syslog_flush(void);
static void	json_write(const char *, size_t);
static void	json_flush(void);
static void	pod_end(struct apod *);
static void	syscalls_event(struct apod *);
static void	net_event(uint32_t, const char *, size_t);
static struct apod *pod_find(uint32_t);

static struct child	 auditd_child;
static TAILQ_HEAD(, apod) apods = TAILQ_HEAD_INITIALIZER(apods);
static struct aring	 ring;
static struct event	*ev_ring, *ev_timer;
static const struct audit_counters *counters;
static void		*cmap;
static size_t		 cmap_len;
static int		 logfd = -1, syslogfd = -1;
static char		*sysnames[AUDIT_SYSCALLS_MAX];
static struct sbuf	 line, jbuf;
static char		 sl_msg[SYSLOG_BATCH][2048];
static struct mmsghdr	 sl_hdr[SYSLOG_BATCH];
static struct iovec	 sl_iov[SYSLOG_BATCH];
static unsigned int	 sl_n;
static uint64_t		 syslog_dropped, json_failed;
static int64_t		 wall_off_ns;	/* realtime - monotonic */
static uint64_t		 unknown_since;	/* ms, a record of no known pod */
static uint64_t		 corrupt_seen;
static int		 stop_at_unknown;
static pid_t		 mypid;
static const struct timeval drain_tv = { 0, DRAIN_MS * 1000 };

/*
 * Besides the daemon base set: sendmmsg for batched syslog lines (the
 * socket was connected before the chroot).
 */
static const int auditd_syscalls[] = {
	SCMP_SYS(sendmmsg),
};

/* Peers: the parent only. */

__dead void
auditd_main(void)
{
	struct privsep_user	pu;
	struct sockaddr_un	sun;
	char			err[256], *name;
	int			nr;

	if (priv_lookup_user(&pu, err, sizeof(err)) == -1)
		fatalx("%s", err);
	child_init(&auditd_child, "auditd");
	auditd_child.policy = policy_new();
	auditd_child.dispatch = auditd_dispatch_parent;
	auditd_child.config_done = auditd_config_done;
	mypid = getpid();

	/* The syscall names, before the seccomp filter. */
	for (nr = 0; nr < AUDIT_SYSCALLS_MAX; nr++) {
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (name == NULL)
			xasprintf(&name, "syscall_%d", nr);
		sysnames[nr] = name;
	}
	/* Our own connection to syslog: tag and facility of the audit. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)strlcpy(sun.sun_path, PATH_LOG, sizeof(sun.sun_path));
	if ((syslogfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1 || connect(syslogfd,
	    (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_debug("no syslog at %s (%s): audit records go to the "
		    "audit log only", PATH_LOG, strerror(errno));
		if (syslogfd != -1)
			close(syslogfd);
		syslogfd = -1;
	}
	/* The drain timer, armed once there is a ring. */
	if ((ev_timer = event_new(auditd_child.base, -1, EV_PERSIST,
	    ring_ready, NULL)) == NULL)
		fatalx("event_new");

	priv_confine("auditd", &pu, NULL, 0);
	priv_seccomp_allowlist("auditd", auditd_syscalls,
	    sizeof(auditd_syscalls) / sizeof(auditd_syscalls[0]));
	child_loop();
}

static int
auditd_config_done(char *err, size_t len)
{
	(void)err;
	(void)len;
	return 0;
}

static struct apod *
pod_find(uint32_t id)
{
	struct apod	*p;

	TAILQ_FOREACH(p, &apods, entry)
		if (p->id == id)
			return p;
	return NULL;
}

static int
auditd_dispatch_parent(struct imsg *imsg)
{
	struct audit_ring		 ar;
	struct audit_counters_map	 cm;
	struct apod			*p;
	uint32_t			 id = imsg_get_peerid(imsg);
	char				 podid[32];
	void				*m;
	int				 fd;

	switch (imsg_get_type(imsg)) {
	case IMSG_AUDIT_LOG:
		if (auditd_child.configured || logfd != -1 ||
		    imsg_get_len(imsg) != 0 || (fd = imsg_get_fd(imsg)) == -1)
			return -1;
		logfd = fd;
		return 0;
	case IMSG_AUDIT_RING:
		if (ev_ring != NULL || imsg_get_data(imsg, &ar,
		    sizeof(ar)) == -1 || (fd = imsg_get_fd(imsg)) == -1)
			return -1;
		if (aring_map(&ring, fd, ar.size, sizeof(struct arec) +
		    AREC_DATA_MAX) == -1)
			fatal("mapping the audit ring (%llu bytes)",
			    (unsigned long long)ar.size);
		/* The map's fd polls readable when the programs wake us. */
		if ((ev_ring = event_new(auditd_child.base, fd, EV_READ |
		    EV_PERSIST, ring_ready, NULL)) == NULL ||
		    event_add(ev_ring, NULL) == -1 ||
		    event_add(ev_timer, &drain_tv) == -1)
			fatalx("event_new");
		log_debug("audit ring of %llu bytes", (unsigned long long)
		    ar.size);
		return 0;
	case IMSG_AUDIT_COUNTERS:
		if (counters != NULL || imsg_get_data(imsg, &cm,
		    sizeof(cm)) == -1 || (fd = imsg_get_fd(imsg)) == -1)
			return -1;
		if (cm.size > (1U << 20) || cm.offset > cm.size ||
		    cm.size - cm.offset < sizeof(struct audit_counters) ||
		    cm.offset % 8 != 0)
			return -1;
		m = mmap(NULL, cm.size, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED)
			fatal("mapping the audit counters");
		cmap = m;
		cmap_len = cm.size;
		counters = (const struct audit_counters *)(const void *)
		    ((const char *)m + cm.offset);
		return 0;
	case IMSG_AUDIT_POD:
		if (imsg_get_cstring(imsg, podid, sizeof(podid)) == -1 ||
		    pod_find(id) != NULL)
			return -1;
		p = xcalloc(1, sizeof(*p));
		p->id = id;
		(void)strlcpy(p->podid, podid, sizeof(p->podid));
		p->lost0 = counters != NULL ? counters->lost : 0;
		TAILQ_INSERT_TAIL(&apods, p, entry);
		return 0;
	case IMSG_AUDIT_EVENT:
		if (imsg_get_len(imsg) == 0 || imsg_get_len(imsg) > 65536)
			return -1;
		net_event(id, ibuf_data(&imsg->data), imsg_get_len(imsg));
		return 0;
	case IMSG_AUDIT_POD_END:
		if ((p = pod_find(id)) == NULL || p->ended ||
		    imsg_get_len(imsg) != 0)
			return -1;
		pod_end(p);
		return 0;
	case IMSG_AUDIT_SYSCALLS:
		/* The counts so far (a persistent pod's submission ended). */
		if ((p = pod_find(id)) == NULL || p->ended ||
		    imsg_get_len(imsg) != 0)
			return -1;
		drain();
		syscalls_event(p);
		return 0;
	}
	return -1;
}

static void
ring_ready(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	drain();
}

static uint64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
drain(void)
{
	struct timespec	mono, real;

	if (ring.data == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	wall_off_ns = ((int64_t)real.tv_sec - mono.tv_sec) * 1000000000LL +
	    (real.tv_nsec - mono.tv_nsec);
	/*
	 * A record of a pod the parent has not announced yet (its
	 * IMSG_AUDIT_POD may still be on the way) waits in the ring,
	 * briefly.
	 */
	stop_at_unknown = unknown_since == 0 ||
	    mono_ms() - unknown_since < UNKNOWN_POD_MS;
	(void)aring_consume(&ring, on_record, NULL);
	if (ring.corrupt > corrupt_seen) {
		log_warnx("audit ring: %llu inconsistent headers, data "
		    "skipped", (unsigned long long)(ring.corrupt -
		    corrupt_seen));
		corrupt_seen = ring.corrupt;
	}
	syslog_flush();
	json_flush();
}

static int
on_record(void *arg, const void *buf, size_t len)
{
	struct arec_view	 v;
	struct afmt		 f;
	struct apod		*p;
	int64_t			 ns;

	(void)arg;
	if (arec_view(&v, buf, len) == -1) {
		log_warnx("malformed audit record (%zu bytes) skipped", len);
		return 0;
	}
	if ((p = pod_find(v.h.pod)) != NULL)
		unknown_since = 0;
	else {
		if (unknown_since == 0)
			unknown_since = mono_ms();
		if (stop_at_unknown)
			return 1;
	}
	memset(&f, 0, sizeof(f));
	f.podid = p != NULL ? p->podid : "-";
	f.syscall = v.h.nr < AUDIT_SYSCALLS_MAX ? sysnames[v.h.nr] : "unknown";
	ns = (int64_t)v.h.ts + wall_off_ns;
	f.wall.tv_sec = (time_t)(ns / 1000000000LL);
	f.wall.tv_nsec = (long)(ns % 1000000000LL);
	if (p != NULL) {
		p->records++;
		if (v.h.nr < AUDIT_SYSCALLS_MAX)
			p->counts[v.h.nr]++;
	}
	if (syslogfd != -1) {
		afmt_syslog(&line, &v, &f);
		syslog_queue(line.buf, line.len);
	}
	if (logfd != -1) {
		afmt_json(&line, &v, &f);
		json_write(line.buf, line.len);
	}
	return 0;
}

/*
 * syslog(3)'s format for the local socket, our own tag and facility:
 * "<PRI>Mmm dd hh:mm:ss podrunner-audit[pid]: fields".
 */
static void
syslog_queue(const char *msg, size_t len)
{
	static const char	*mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
				    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
				    "Dec" };
	struct tm		 tm;
	time_t			 now = time(NULL);
	int			 n;

	if (sl_n == SYSLOG_BATCH)
		syslog_flush();
	if (localtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = snprintf(sl_msg[sl_n], sizeof(sl_msg[0]),
	    "<%d>%s %2d %02d:%02d:%02d %s[%d]: %.*s",
	    AUDIT_FACILITY | LOG_INFO, mon[tm.tm_mon % 12], tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, AUDIT_TAG, (int)mypid,
	    (int)len, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(sl_msg[0]))
		n = sizeof(sl_msg[0]) - 1;
	sl_iov[sl_n].iov_base = sl_msg[sl_n];
	sl_iov[sl_n].iov_len = (size_t)n;
	memset(&sl_hdr[sl_n], 0, sizeof(sl_hdr[0]));
	sl_hdr[sl_n].msg_hdr.msg_iov = &sl_iov[sl_n];
	sl_hdr[sl_n].msg_hdr.msg_iovlen = 1;
	sl_n++;
}

/*
 * A slow syslog daemon slows us (and the ring fills, counted as lost);
 * a stuck one costs at most SYSLOG_WAIT_MS per batch, and what it did
 * not take is counted and reported.
 */
static void
syslog_flush(void)
{
	struct pollfd	pfd;
	unsigned int	off = 0;
	int		n;

	while (off < sl_n && syslogfd != -1) {
		n = sendmmsg(syslogfd, sl_hdr + off, sl_n - off, 0);
		if (n > 0) {
			off += (unsigned int)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			pfd.fd = syslogfd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, SYSLOG_WAIT_MS) > 0)
				continue;
		} else if (n == -1 && errno != ENOBUFS)
			log_warn("syslog");
		break;
	}
	syslog_dropped += sl_n - off;
	sl_n = 0;
}

static void
json_write(const char *p, size_t len)
{
	sb_add(&jbuf, p, len);
	if (jbuf.len >= JSON_FLUSH)
		json_flush();
}

static void
json_flush(void)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < jbuf.len && logfd != -1) {
		if ((n = write(logfd, jbuf.buf + off, jbuf.len - off)) == -1) {
			if (errno == EINTR)
				continue;
			if (json_failed++ == 0)
				log_warn("audit log");
			break;
		}
		off += (size_t)n;
	}
	sb_reset(&jbuf);
}

/*
 * The pod is gone: every record of it is in the ring.  Drain, then the
 * "syscalls" event (counts by name) and DONE to the parent.
 */
static void
syscalls_event(struct apod *p)
{
	json_t			*o, *c;
	char			*text;
	uint64_t		 lost;
	int			 nr;

	lost = counters != NULL ? counters->lost - p->lost0 : 0;
	c = json_object();
	for (nr = 0; nr < AUDIT_SYSCALLS_MAX; nr++)
		if (p->counts[nr] > 0)
			json_object_set_new(c, sysnames[nr],
			    json_integer((json_int_t)p->counts[nr]));
	o = json_pack("{s:s, s:s, s:o, s:I, s:I}", "type", "syscalls",
	    "pod", p->podid, "counts", c, "records", (json_int_t)p->records,
	    "lost", (json_int_t)lost);
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) == NULL)
		fatalx("%s: json", __func__);
	json_decref(o);
	child_compose(IMSG_AUDIT_SYSCALLS, p->id, -1, text, strlen(text));
	free(text);
}

static void
pod_end(struct apod *p)
{
	struct audit_done	 done;
	uint64_t		 lost;

	unknown_since = 0;
	drain();
	syscalls_event(p);
	lost = counters != NULL ? counters->lost - p->lost0 : 0;
	memset(&done, 0, sizeof(done));
	done.records = p->records;
	done.lost = lost;
	done.syslog_dropped = syslog_dropped;
	child_compose(IMSG_AUDIT_DONE, p->id, -1, &done, sizeof(done));
	/* Kept: its id still names what comes late (none should). */
	p->ended = 1;
}

/*
 * A "net" event of the proxy (checked JSON): the same trail, the same
 * pod id.  Its members become the syslog line's fields.
 */
static void
net_event(uint32_t id, const char *text, size_t len)
{
	struct apod	*p = pod_find(id);
	struct timespec	 now;
	json_error_t	 jerr;
	json_t		*o, *v;
	const char	*key;
	char		*s, ts[64], num[32];

	if ((o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL || !json_is_object(o)) {
		json_decref(o);
		log_warnx("malformed event from the parent skipped");
		return;
	}
	json_object_set_new(o, "pod", json_string(p != NULL ? p->podid :
	    "-"));
	if (syslogfd != -1) {
		sb_reset(&line);
		sb_printf(&line, "pod=%s", p != NULL ? p->podid : "-");
		json_object_foreach(o, key, v) {
			if (strcmp(key, "pod") == 0 || strspn(key,
			    "abcdefghijklmnopqrstuvwxyz_0123456789") !=
			    strlen(key))
				continue;
			if (json_is_string(v)) {
				s = (char *)(uintptr_t)json_string_value(v);
				sb_printf(&line, " %s=", key);
				if (strpbrk(s, " \"\\") == NULL && s[0] != '\0')
					sb_adds(&line, s);
				else {
					/* JSON's quoting will do. */
					sb_json_str(&line, s, strlen(s));
				}
			} else if (json_is_integer(v)) {
				(void)snprintf(num, sizeof(num), "%lld",
				    (long long)json_integer_value(v));
				sb_printf(&line, " %s=%s", key, num);
			} else if (json_is_boolean(v))
				sb_printf(&line, " %s=%s", key,
				    json_is_true(v) ? "true" : "false");
		}
		syslog_queue(line.buf, line.len);
		syslog_flush();
	}
	if (logfd != -1) {
		clock_gettime(CLOCK_REALTIME, &now);
		afmt_time(ts, sizeof(ts), &now);
		if (json_object_get(o, "ts") == NULL)
			json_object_set_new(o, "ts", json_string(ts));
		if ((s = json_dumps(o, JSON_COMPACT)) != NULL) {
			json_write(s, strlen(s));
			json_write("\n", 1);
			json_flush();
			free(s);
		}
	}
	json_decref(o);
}
