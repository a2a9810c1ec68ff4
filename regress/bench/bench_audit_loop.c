/*
 * The loop of bench_audit.py, in a pod or on the host:
 *
 *	bench_audit_loop open N FILE	N times openat(FILE) + close; prints
 *					the seconds it took, wall clock and
 *					CPU (the process's, kernel included)
 *	bench_audit_loop burst N FILE	the same, at most N opens in one
 *					second (paced in 1 ms steps)
 *	bench_audit_loop sleep S	sleeps S seconds (an idle pod)
 *
 * It creates FILE first.  Plain libc, no protocol: run it with
 * --worker exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
clk(clockid_t c)
{
	struct timespec	ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
now(void)
{
	return clk(CLOCK_MONOTONIC);
}

int
main(int argc, char *argv[])
{
	struct timespec	 ms = { 0, 1000000 };
	double		 t0, c0, t;
	long		 n, i, step;
	int		 fd;

	if (argc == 3 && strcmp(argv[1], "sleep") == 0) {
		(void)sleep((unsigned int)atoi(argv[2]));
		return 0;
	}
	if (argc != 4 || (strcmp(argv[1], "open") != 0 &&
	    strcmp(argv[1], "burst") != 0)) {
		fprintf(stderr, "usage: bench_audit_loop open|burst N FILE | "
		    "sleep S\n");
		return 2;
	}
	n = atol(argv[2]);
	if ((fd = open(argv[3], O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		fprintf(stderr, "%s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	close(fd);
	t0 = now();
	c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
	if (strcmp(argv[1], "open") == 0) {
		for (i = 0; i < n; i++) {
			if ((fd = open(argv[3], O_RDONLY | O_CLOEXEC)) == -1)
				return 1;
			close(fd);
		}
	} else {
		/* n opens spread over one second, 1 ms at a time. */
		step = n / 1000 > 0 ? n / 1000 : 1;
		for (i = 0; i < n; i++) {
			if ((fd = open(argv[3], O_RDONLY | O_CLOEXEC)) == -1)
				return 1;
			close(fd);
			if (i % step == step - 1) {
				t = t0 + (double)(i + 1) / step / 1000;
				while (now() < t)
					(void)nanosleep(&ms, NULL);
			}
		}
	}
	printf("%.6f %.6f\n", now() - t0, clk(CLOCK_PROCESS_CPUTIME_ID) - c0);
	return 0;
}
