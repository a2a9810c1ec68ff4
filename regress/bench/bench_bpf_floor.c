/*
 * bench_bpf_floor: the floor under the audit's cost to the host, an
 * anchor for bench_audit.py measured in the same run.  It attaches an
 * empty program (r0 = 0; exit) to the raw sys_exit tracepoint, where
 * podrunner's audit program is (auditd/podaudit.bpf.c), runs COMMAND,
 * and detaches it.  While any program is there, every syscall of every
 * process takes the kernel's slow path and a BPF dispatch: what no
 * filter inside the program can take back.
 *
 *	bench_bpf_floor COMMAND [ARG ...]
 *
 * Needs CAP_BPF and CAP_PERFMON (root).  Exits with COMMAND's status.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	const struct bpf_insn	 insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	pid_t			 pid;
	int			 prog, link, status;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_bpf_floor command [arg ...]\n");
		return 2;
	}
	prog = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "floor", "GPL",
	    insns, sizeof(insns) / sizeof(insns[0]), NULL);
	if (prog < 0)
		errc(1, -prog, "loading the empty program");
	if ((link = bpf_raw_tracepoint_open("sys_exit", prog)) < 0)
		errc(1, -link, "attaching it to sys_exit");
	switch (pid = fork()) {
	case -1:
		err(1, "fork");
	case 0:
		execvp(argv[1], argv + 1);
		err(127, "%s", argv[1]);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			err(1, "waitpid");
	close(link);
	close(prog);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
