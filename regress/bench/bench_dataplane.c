/*
 * bench_dataplane: the libpodshm rings between two processes, against
 * baselines measured in the same run between the same two processes.
 *
 * A fork()ed child is the worker (the producer, and the echo side of
 * the round trips); the parent is the supervisor.  With two CPUs or
 * more in the affinity mask each is pinned to a CPU of its own; the
 * one-core cases pin both to the same CPU.  Measured:
 *
 *  - throughput of 64 KiB frames: libpodshm with the default 1 MiB
 *    segment and a 16 MiB one, against a Unix stream socket pair and a
 *    pipe (write/read of 64 KiB), and single-core memcpy of the same
 *    blocks as the physical limit;
 *  - 256-byte frames per second: libpodshm busy-polling and through
 *    podshm_wait_*(), against a SOCK_SEQPACKET socket pair (one
 *    message per frame, as a frame is one message);
 *  - the round trip of 64 bytes there and 64 back, median and p99:
 *    busy-polling, sleeping between messages (no spin: every message
 *    is a futex wake-up), the adaptive spin, against a SOCK_SEQPACKET
 *    ping-pong; and all on one CPU;
 *  - the CPU time of a consumer waiting 1 s in podshm_wait_readable().
 *
 * Throughputs are the best of ROUNDS rounds; a round measures every
 * method once, one after the other, so that a method and its baseline
 * see the same spells of a busy machine.  Each line names its target
 * and says met or NOT met; nothing is asserted, the numbers are printed.
 * Arguments, if any, name the parts to run: throughput small rt idle.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "podshm.h"

#define KIB		1024
#define MIB		(1024 * 1024)
#define ROUNDS		7
#define BIG		(64 * KIB)	/* throughput frames */
#define BIG_SHM		(1024ULL * MIB)	/* a round: podshm, memcpy */
#define BIG_SOCK	(512ULL * MIB)	/* a round: the socket */
#define BIG_PIPE	(128ULL * MIB)	/* a round: the pipe */
#define SMALL		256		/* small frames */
#define SMALL_N		2000000		/* a round, podshm */
#define SMALL_N_SOCK	200000		/* a round, socket */
#define PING		64		/* round-trip messages */
#define RT_BUSY_N	200000
#define RT_SLEEP_N	20000

#define TGT_THROUGHPUT	8.0		/* x the Unix socket */
#define TGT_SMALL	15e6		/* frames/s */
#define TGT_RT_BUSY	1000.0		/* ns, median */
#define TGT_IDLE_US	1000.0		/* CPU us in a 1 s wait */

enum mode {
	M_BUSY,		/* retry on EAGAIN */
	M_WAIT,		/* podshm_wait_*(), adaptive spin */
	M_SLEEP		/* podshm_wait_*(), no spin: every wait sleeps */
};

struct rt {
	double	 median;	/* ns */
	double	 p99;
};

static int	 cpus[2];	/* the producer's, the consumer's */
static int	 ncpus;
static volatile uint64_t sink;

static uint64_t	 now_ns(void);
static void	 pin(int);
static void	 relax(void);
static void	 die(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
static void	 reap(pid_t);
static struct podshm *segment(size_t, int *);
static struct podshm *child_open(int, size_t, enum mode);
static void	 shm_send(struct podshm *, const void *, size_t, enum mode);
static size_t	 shm_recv(struct podshm *, void *, size_t, enum mode);
static void	 full_write(int, const void *, size_t);
static double	 tp_memcpy(uint64_t);
static double	 tp_shm(size_t, enum mode, uint64_t);
static double	 tp_fd(int, uint64_t);
static double	 small_shm(enum mode, uint64_t);
static double	 small_sock(uint64_t);
static double	 maxd(double, double);
static struct rt rt_shm(enum mode, int, int);
static struct rt rt_sock(int, int);
static int	 cmp_u64(const void *, const void *);
static struct rt rt_stats(uint64_t *, int);
static double	 idle_cpu_us(int);
static const char *verdict(int);

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
pin(int cpu)
{
	cpu_set_t	set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		die("sched_setaffinity %d: %s", cpu, strerror(errno));
}

static void
relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "bench_dataplane: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void
reap(pid_t pid)
{
	int	status;

	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("child failed (status %d)", status);
}

/* A fresh segment in a memfd; the fd stays open for the child. */
static struct podshm *
segment(size_t size, int *fdp)
{
	struct podshm	*shm;
	int		 fd;

	if ((fd = memfd_create("bench_dataplane", MFD_CLOEXEC)) == -1)
		die("memfd_create: %s", strerror(errno));
	if ((shm = podshm_create_fd(fd, size)) == NULL)
		die("podshm_create_fd: %s", strerror(errno));
	*fdp = fd;
	return shm;
}

/* In the child: the worker's side of the segment. */
static struct podshm *
child_open(int fd, size_t size, enum mode mode)
{
	struct podshm	*shm;

	if ((shm = podshm_open_fd(fd, size, PODSHM_WORKER)) == NULL)
		_exit(20);
	if (mode == M_SLEEP)
		(void)podshm_set_spin(shm, 0);
	return shm;
}

static void
shm_send(struct podshm *shm, const void *buf, size_t len, enum mode mode)
{
	while (podshm_send(shm, buf, len) == -1) {
		if (errno != EAGAIN)
			die("podshm_send: %s", strerror(errno));
		if (mode == M_BUSY)
			relax();
		else if (podshm_wait_writable(shm, len, 10000) == -1)
			die("podshm_wait_writable: %s", strerror(errno));
	}
}

static size_t
shm_recv(struct podshm *shm, void *buf, size_t cap, enum mode mode)
{
	ssize_t	n;

	while ((n = podshm_recv(shm, buf, cap)) == -1) {
		if (errno != EAGAIN)
			die("podshm_recv: %s", strerror(errno));
		if (mode == M_BUSY)
			relax();
		else if (podshm_wait_readable(shm, 10000) == -1)
			die("podshm_wait_readable: %s", strerror(errno));
	}
	return (size_t)n;
}

static void
full_write(int fd, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			_exit(21);
		}
		p += n;
		len -= (size_t)n;
	}
}

/* --- throughput, 64 KiB frames ---------------------------------------- */

/* One core copying 64 KiB blocks between two 1 MiB buffers: GB/s. */
static double
tp_memcpy(uint64_t bytes)
{
	static unsigned char	*src, *dst;
	uint64_t		 t, i, n = bytes / BIG;

	if (src == NULL) {
		if ((src = malloc(MIB)) == NULL || (dst = malloc(MIB)) == NULL)
			die("malloc");
		memset(src, 1, MIB);
		memset(dst, 2, MIB);
	}
	t = now_ns();
	for (i = 0; i < n; i++)
		memcpy(dst + (i * BIG) % MIB, src + ((i + 3) * BIG) % MIB, BIG);
	t = now_ns() - t;
	sink += dst[(n * 7) % MIB];
	return (double)(n * BIG) / (double)t;
}

/*
 * The child sends bytes in 64 KiB frames, each starting with its
 * number; the parent receives and checks the numbers.  The clock starts
 * after two laps of the ring: the first touches each page of a fresh
 * segment (a page fault each side; a long-lived worker pays that once),
 * and stops at the last frame.  GB/s.
 */
static double
tp_shm(size_t size, enum mode mode, uint64_t bytes)
{
	struct podshm	*shm, *w;
	unsigned char	*buf;
	uint64_t	 i, n = bytes / BIG, t0 = 0, warm, first = 0;
	pid_t		 pid;
	int		 fd;

	if ((buf = calloc(1, BIG)) == NULL)
		die("calloc");
	shm = segment(size, &fd);
	if (mode == M_SLEEP)
		(void)podshm_set_spin(shm, 0);
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		pin(cpus[0]);
		w = child_open(fd, size, mode);
		for (i = 0; i < n; i++) {
			memcpy(buf, &i, sizeof(i));
			shm_send(w, buf, BIG, mode);
		}
		_exit(0);
	}
	pin(cpus[1]);
	warm = 2 * (size / 2) / BIG;		/* frames in two laps */
	if (warm >= n / 2)
		die("tp_shm: %llu MiB is too little for two laps",
		    (unsigned long long)(bytes / MIB));
	for (i = 0; i < n; i++) {
		if (shm_recv(shm, buf, BIG, mode) != BIG ||
		    memcmp(buf, &i, sizeof(i)) != 0)
			die("podshm: frame %llu is wrong", (unsigned long long)i);
		if (i == warm) {
			t0 = now_ns();
			first = i;
		}
	}
	t0 = now_ns() - t0;
	reap(pid);
	podshm_close(shm);
	close(fd);
	free(buf);
	return (double)((n - 1 - first) * BIG) / (double)t0;
}

/* The same through a Unix stream socket pair (sock) or a pipe. */
static double
tp_fd(int sock, uint64_t bytes)
{
	unsigned char	*buf;
	uint64_t	 i, got, first = 0, t0 = 0;
	ssize_t		 n;
	pid_t		 pid;
	int		 fds[2];

	if ((buf = calloc(1, BIG)) == NULL)
		die("calloc");
	if (sock ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds))
		die("socketpair/pipe: %s", strerror(errno));
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		pin(cpus[0]);
		close(fds[0]);
		for (i = 0; i < bytes / BIG; i++) {
			memcpy(buf, &i, sizeof(i));
			full_write(fds[1], buf, BIG);
		}
		_exit(0);
	}
	pin(cpus[1]);
	close(fds[1]);
	for (got = 0; got < bytes / BIG * BIG; got += (uint64_t)n) {
		if ((n = read(fds[0], buf, BIG)) <= 0)
			die("read: %s", n == 0 ? "EOF" : strerror(errno));
		if (got == 0) {
			t0 = now_ns();
			first = (uint64_t)n;	/* before the clock */
		}
	}
	t0 = now_ns() - t0;
	sink += buf[0];
	close(fds[0]);
	reap(pid);
	free(buf);
	return (double)(got - first) / (double)t0;
}

/* --- small frames ------------------------------------------------------- */

/* n frames of SMALL bytes through podshm: frames/s. */
static double
small_shm(enum mode mode, uint64_t n)
{
	struct podshm	*shm, *w;
	unsigned char	 buf[SMALL];
	uint64_t	 i, t0 = 0;
	pid_t		 pid;
	int		 fd;

	memset(buf, 0, sizeof(buf));
	shm = segment(MIB, &fd);
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		pin(cpus[0]);
		w = child_open(fd, MIB, mode);
		for (i = 0; i < n; i++) {
			memcpy(buf, &i, sizeof(i));
			shm_send(w, buf, SMALL, mode);
		}
		_exit(0);
	}
	pin(cpus[1]);
	for (i = 0; i < n; i++) {
		if (shm_recv(shm, buf, SMALL, mode) != SMALL ||
		    memcmp(buf, &i, sizeof(i)) != 0)
			die("podshm: small frame %llu is wrong",
			    (unsigned long long)i);
		if (i == 0)
			t0 = now_ns();
	}
	t0 = now_ns() - t0;
	reap(pid);
	podshm_close(shm);
	close(fd);
	return (double)(n - 1) * 1e9 / (double)t0;
}

/* The same through a SOCK_SEQPACKET pair, one message a frame. */
static double
small_sock(uint64_t n)
{
	unsigned char	 buf[SMALL];
	uint64_t	 i, t0 = 0;
	pid_t		 pid;
	int		 fds[2];

	memset(buf, 0, sizeof(buf));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == -1)
		die("socketpair: %s", strerror(errno));
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		pin(cpus[0]);
		close(fds[0]);
		for (i = 0; i < n; i++)
			if (send(fds[1], buf, SMALL, 0) != SMALL)
				_exit(22);
		_exit(0);
	}
	pin(cpus[1]);
	close(fds[1]);
	for (i = 0; i < n; i++) {
		if (recv(fds[0], buf, sizeof(buf), 0) != SMALL)
			die("recv: %s", strerror(errno));
		if (i == 0)
			t0 = now_ns();
	}
	t0 = now_ns() - t0;
	close(fds[0]);
	reap(pid);
	return (double)(n - 1) * 1e9 / (double)t0;
}

static double
maxd(double a, double b)
{
	return a > b ? a : b;
}

/* --- round trips -------------------------------------------------------- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct rt
rt_stats(uint64_t *v, int n)
{
	struct rt	r;

	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	r.median = (double)v[n / 2];
	r.p99 = (double)v[(size_t)n * 99 / 100];
	return r;
}

/*
 * n round trips of PING bytes: the parent sends, the child echoes.
 * onecore: both on the consumer's CPU.
 */
static struct rt
rt_shm(enum mode mode, int n, int onecore)
{
	struct podshm	*shm, *w;
	unsigned char	 buf[PING];
	uint64_t	*v, t;
	struct rt	 r;
	pid_t		 pid;
	int		 fd, i;

	if ((v = calloc((size_t)n, sizeof(*v))) == NULL)
		die("calloc");
	memset(buf, 0, sizeof(buf));
	shm = segment(MIB, &fd);
	if (mode == M_SLEEP)
		(void)podshm_set_spin(shm, 0);
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		pin(onecore ? cpus[1] : cpus[0]);
		w = child_open(fd, MIB, mode);
		for (i = 0; i < n + 100; i++) {
			if (shm_recv(w, buf, sizeof(buf), mode) != PING)
				_exit(23);
			shm_send(w, buf, PING, mode);
		}
		_exit(0);
	}
	pin(cpus[1]);
	for (i = 0; i < n + 100; i++) {		/* 100 to warm up */
		memcpy(buf, &i, sizeof(i));
		t = now_ns();
		shm_send(shm, buf, PING, mode);
		if (shm_recv(shm, buf, sizeof(buf), mode) != PING ||
		    memcmp(buf, &i, sizeof(i)) != 0)
			die("podshm: echo %d is wrong", i);
		if (i >= 100)
			v[i - 100] = now_ns() - t;
	}
	reap(pid);
	podshm_close(shm);
	close(fd);
	r = rt_stats(v, n);
	free(v);
	return r;
}

static struct rt
rt_sock(int n, int onecore)
{
	unsigned char	 buf[PING];
	uint64_t	*v, t;
	struct rt	 r;
	pid_t		 pid;
	int		 fds[2], i;

	if ((v = calloc((size_t)n, sizeof(*v))) == NULL)
		die("calloc");
	memset(buf, 0, sizeof(buf));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == -1)
		die("socketpair: %s", strerror(errno));
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		pin(onecore ? cpus[1] : cpus[0]);
		close(fds[0]);
		for (i = 0; i < n + 100; i++) {
			if (recv(fds[1], buf, sizeof(buf), 0) != PING ||
			    send(fds[1], buf, PING, 0) != PING)
				_exit(24);
		}
		_exit(0);
	}
	pin(cpus[1]);
	close(fds[1]);
	for (i = 0; i < n + 100; i++) {
		t = now_ns();
		if (send(fds[0], buf, PING, 0) != PING ||
		    recv(fds[0], buf, sizeof(buf), 0) != PING)
			die("socket echo: %s", strerror(errno));
		if (i >= 100)
			v[i - 100] = now_ns() - t;
	}
	close(fds[0]);
	reap(pid);
	r = rt_stats(v, n);
	free(v);
	return r;
}

/* --- idle --------------------------------------------------------------- */

/*
 * CPU time (user + system, us) of one podshm_wait_readable(1000) on an
 * empty ring; trained: after 1000 short waits have grown the adaptive
 * spin (the worst case for an idle wait that follows busy traffic).
 */
static double
idle_cpu_us(int trained)
{
	struct podshm	*shm, *w;
	struct rusage	 a, b;
	unsigned char	 buf[PING];
	pid_t		 pid;
	int		 fd, i;

	memset(buf, 0, sizeof(buf));
	shm = segment(MIB, &fd);
	if (trained) {
		if ((pid = fork()) == -1)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			pin(cpus[0]);
			w = child_open(fd, MIB, M_WAIT);
			for (i = 0; i < 1000; i++) {
				if (shm_recv(w, buf, sizeof(buf), M_WAIT) !=
				    PING)
					_exit(25);
				shm_send(w, buf, PING, M_WAIT);
			}
			_exit(0);
		}
		pin(cpus[1]);
		for (i = 0; i < 1000; i++) {
			shm_send(shm, buf, PING, M_WAIT);
			(void)shm_recv(shm, buf, sizeof(buf), M_WAIT);
		}
		reap(pid);
	}
	getrusage(RUSAGE_SELF, &a);
	if (podshm_wait_readable(shm, 1000) != -1 || errno != ETIMEDOUT)
		die("idle wait: not a timeout");
	getrusage(RUSAGE_SELF, &b);
	podshm_close(shm);
	close(fd);
	return (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec +
	    b.ru_stime.tv_sec - a.ru_stime.tv_sec) * 1e6 +
	    (double)(b.ru_utime.tv_usec - a.ru_utime.tv_usec +
	    b.ru_stime.tv_usec - a.ru_stime.tv_usec);
}

static const char *
verdict(int met)
{
	return met ? "met" : "NOT met";
}

static int	 nsel;
static char	**sel;

static int
want(const char *part)
{
	int	i;

	for (i = 0; i < nsel; i++)
		if (strcmp(sel[i], part) == 0)
			return 1;
	return nsel == 0;
}

int
main(int argc, char *argv[])
{
	cpu_set_t	 set;
	double		 mc, sock, pip, s1, s16, w1, fb, fw, fs;
	struct rt	 busy, wait, slp, us, one, one_us;
	double		 idle, idle_t;
	FILE		*fp;
	char		 load[128];
	int		 i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	nsel = argc - 1;
	sel = argv + 1;
	if (sched_getaffinity(0, sizeof(set), &set) == -1)
		die("sched_getaffinity: %s", strerror(errno));
	for (i = 0; i < CPU_SETSIZE && ncpus < 2; i++)
		if (CPU_ISSET(i, &set))
			cpus[ncpus++] = i;
	if (ncpus < 2)
		cpus[1] = cpus[0];
	printf("bench_dataplane: libpodshm between two processes; %s\n",
	    ncpus >= 2 ? "producer and consumer pinned to CPUs of their own" :
	    "one CPU available: both on it");
	if (ncpus >= 2)
		printf("  (producer/echo on CPU %d, consumer on CPU %d)\n",
		    cpus[0], cpus[1]);
	/* Other work on the machine shows in every number: say how much. */
	if ((fp = fopen("/proc/loadavg", "r")) != NULL) {
		if (fgets(load, sizeof(load), fp) != NULL)
			printf("  load average at start: %s", load);
		fclose(fp);
	}

	if (!want("throughput"))
		goto small;
	printf("throughput, 64 KiB frames, best of %d rounds:\n", ROUNDS);
	mc = sock = pip = s1 = w1 = s16 = 0;
	for (i = 0; i < ROUNDS; i++) {
		mc = maxd(mc, tp_memcpy(BIG_SHM));
		sock = maxd(sock, tp_fd(1, BIG_SOCK));
		pip = maxd(pip, tp_fd(0, BIG_PIPE));
		s1 = maxd(s1, tp_shm(MIB, M_BUSY, BIG_SHM));
		w1 = maxd(w1, tp_shm(MIB, M_WAIT, BIG_SHM));
		s16 = maxd(s16, tp_shm(16 * MIB, M_BUSY, BIG_SHM));
	}
	printf("  memcpy, one core (the limit):  %6.2f GB/s\n", mc);
	printf("  baseline unix stream socket:   %6.2f GB/s\n", sock);
	printf("  baseline pipe:                 %6.2f GB/s  (%.2fx the "
	    "socket)\n", pip, pip / sock);
	printf("  podshm 1 MiB, busy-poll:       %6.2f GB/s  (%.2fx the "
	    "socket, %.2f of memcpy; target >= %.0fx: %s)\n", s1, s1 / sock,
	    s1 / mc, TGT_THROUGHPUT, verdict(s1 >= TGT_THROUGHPUT * sock));
	printf("  podshm 1 MiB, spin-then-futex: %6.2f GB/s  (%.2fx the "
	    "socket, %.2f of memcpy; target >= %.0fx: %s)\n", w1, w1 / sock,
	    w1 / mc, TGT_THROUGHPUT, verdict(w1 >= TGT_THROUGHPUT * sock));
	printf("  podshm 16 MiB, busy-poll:      %6.2f GB/s  (%.2fx the "
	    "socket, %.2f of memcpy; target >= %.0fx: %s)\n", s16,
	    s16 / sock, s16 / mc, TGT_THROUGHPUT,
	    verdict(s16 >= TGT_THROUGHPUT * sock));

 small:
	if (!want("small"))
		goto rt;
	printf("small frames, %d bytes, best of %d rounds:\n", SMALL, ROUNDS);
	fs = fb = fw = 0;
	for (i = 0; i < ROUNDS; i++) {
		fs = maxd(fs, small_sock(SMALL_N_SOCK));
		fb = maxd(fb, small_shm(M_BUSY, SMALL_N));
		fw = maxd(fw, small_shm(M_WAIT, SMALL_N));
	}
	printf("  baseline unix seqpacket:       %6.2f M frames/s\n", fs / 1e6);
	printf("  podshm, busy-poll:             %6.2f M frames/s  (%.1fx the "
	    "socket; target >= %.0f M/s: %s)\n", fb / 1e6, fb / fs,
	    TGT_SMALL / 1e6, verdict(fb >= TGT_SMALL));
	printf("  podshm, spin-then-futex:       %6.2f M frames/s  (%.1fx the "
	    "socket; target >= %.0f M/s: %s)\n", fw / 1e6, fw / fs,
	    TGT_SMALL / 1e6, verdict(fw >= TGT_SMALL));

 rt:
	if (!want("rt"))
		goto idle;
	printf("round trip, %d bytes each way:\n", PING);
	us = rt_sock(RT_SLEEP_N, 0);
	busy = rt_shm(M_BUSY, RT_BUSY_N, 0);
	wait = rt_shm(M_WAIT, RT_BUSY_N, 0);
	slp = rt_shm(M_SLEEP, RT_SLEEP_N, 0);
	printf("  baseline unix seqpacket:       median %8.2f us  p99 %8.2f "
	    "us\n", us.median / 1e3, us.p99 / 1e3);
	printf("  podshm, busy-poll:             median %8.2f us  p99 %8.2f "
	    "us  (%.1fx faster; target median < 1 us: %s)\n",
	    busy.median / 1e3, busy.p99 / 1e3, us.median / busy.median,
	    verdict(busy.median < TGT_RT_BUSY));
	printf("  podshm, spin-then-futex:       median %8.2f us  p99 %8.2f "
	    "us  (%.1fx faster)\n", wait.median / 1e3, wait.p99 / 1e3,
	    us.median / wait.median);
	printf("  podshm, futex (sleeps, no spin): median %6.2f us  p99 %8.2f "
	    "us  (%.2fx the socket; target <= the socket: %s)\n",
	    slp.median / 1e3, slp.p99 / 1e3, slp.median / us.median,
	    verdict(slp.median <= us.median));
	if (ncpus >= 2) {
		one_us = rt_sock(RT_SLEEP_N, 1);
		one = rt_shm(M_WAIT, RT_SLEEP_N, 1);
		printf("  one CPU: unix seqpacket:       median %8.2f us  p99 "
		    "%8.2f us\n", one_us.median / 1e3, one_us.p99 / 1e3);
		printf("  one CPU: podshm wait (no spin): median %7.2f us  p99 "
		    "%8.2f us  (%.2fx the socket; target <= the socket: %s)\n",
		    one.median / 1e3, one.p99 / 1e3, one.median / one_us.median,
		    verdict(one.median <= one_us.median));
	}

 idle:
	if (!want("idle"))
		return 0;
	idle = idle_cpu_us(0);
	idle_t = idle_cpu_us(1);
	printf("idle: podshm_wait_readable(1000 ms) on an empty ring:\n");
	printf("  CPU time, fresh handle:        %6.0f us  (target < %.0f us, "
	    "0.1%%: %s)\n", idle, TGT_IDLE_US, verdict(idle < TGT_IDLE_US));
	printf("  CPU time, after busy traffic:  %6.0f us  (target < %.0f us, "
	    "0.1%%: %s)\n", idle_t, TGT_IDLE_US,
	    verdict(idle_t < TGT_IDLE_US));
	return 0;
}
