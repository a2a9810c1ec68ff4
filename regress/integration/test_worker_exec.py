"""
The exec worker (`podrunner run ./tool args`, or --worker=exec): any
binary, run in the pod with its standard input, output and error
relayed.  The conformance scenarios that apply to a program that speaks
no protocol (hello, arguments, exit statuses 0, 3 and death by a signal,
a stdin round trip, 10 MiB of output whole and in order, the scrubbed
environment, a command that is not granted), with small C programs
built here with gcc, and one that links libpodshm the way the manual
says, `pkg-config --cflags --libs podshm` with PKG_CONFIG_PATH=build:
it starts in a pod, which has the library on the dynamic linker's path.
"""

import hashlib
import os
import subprocess

import pytest

from conftest import ROOT, Case, cases_by_name, podrunner, run_case, \
    write_script

# Built once per source and flags; the programs live in the
# world-readable script directory, so the pod's user can run them.
_built = {}


def build(name, source, flags=(), env=None):
    """Compile source with gcc into the script directory; its path."""
    key = (source, tuple(flags))
    if key in _built:
        return _built[key]
    src = write_script(source, suffix=".c")
    out = src.with_suffix("")
    out = out.with_name(f"{out.name}-{name}")
    r = subprocess.run(["gcc", "-std=gnu11", "-O1", "-Wall", "-Werror",
                        "-o", str(out), str(src), *flags],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, cwd=ROOT)
    assert r.returncode == 0, f"gcc failed:\n{r.stderr.decode()}"
    os.chmod(out, 0o755)
    _built[key] = out
    return out


def exec_case(name, source, build_flags=(), **kw):
    """A Case whose entry is source compiled (built when it runs)."""
    case = Case(name, **kw)
    case.source = source
    case.build_flags = build_flags
    return case


def run_exec(case):
    case.entry = str(build(case.name, case.source, case.build_flags))
    return run_case(case)


HELLO = r"""
#include <stdio.h>
int main(void) { puts("hello from exec"); return 0; }
"""

ARGS = r"""
#include <stdio.h>
int main(int argc, char **argv) {
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("[%s]\n", argv[i]);
	return 0;
}
"""

# exit N, or die of signal N.
STATUS = r"""
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
	if (argc == 3 && strcmp(argv[1], "signal") == 0) {
		fputs("about to die\n", stderr);
		fflush(stderr);
		signal(atoi(argv[2]), SIG_DFL);
		raise(atoi(argv[2]));
		return 99;
	}
	puts("exiting");
	return argc > 1 ? atoi(argv[1]) : 0;
}
"""

# stdin to stdout, byte for byte, and a count on stderr.
CAT = r"""
#include <stdio.h>
#include <unistd.h>
int main(void) {
	char buf[65536];
	ssize_t n;
	long total = 0;
	while ((n = read(0, buf, sizeof buf)) > 0) {
		for (ssize_t o = 0; o < n; ) {
			ssize_t w = write(1, buf + o, n - o);
			if (w <= 0) return 1;
			o += w;
		}
		total += n;
	}
	fprintf(stderr, "%ld bytes\n", total);
	return n == 0 ? 0 : 2;
}
"""

# 10 MiB of numbered lines on one stream (argv[1]: 1 or 2).
BIG = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
	FILE *f = argc > 1 && atoi(argv[1]) == 2 ? stderr : stdout;
	char pad[120];
	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	for (int i = 0; i < 81920; i++)
		fprintf(f, "%08d %s\n", i, pad);
	return 0;
}
"""

BIG_LINE = 8 + 1 + 119 + 1
BIG_EXPECT = b"".join(b"%08d %s\n" % (i, b"x" * 119) for i in range(81920))

ENV = r"""
#include <stdio.h>
extern char **environ;
int main(void) {
	for (char **e = environ; *e; e++)
		puts(*e);
	return 0;
}
"""

# execv(argv[1], argv + 1): another program, as the worker's child.
RUN = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[1], argv + 1);
		printf("exec %s: %s\n", argv[1], strerror(errno));
		fflush(stdout);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
"""

# A ring of its own through libpodshm: the library loads in the pod.
PODSHM = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <podshm.h>
int main(void) {
	char name[64], buf[64];
	struct podshm *sup, *wk;
	ssize_t n;
	snprintf(name, sizeof name, "/exec-ring-%d", (int)getpid());
	if ((sup = podshm_create(name, 8192, 0600)) == NULL ||
	    (wk = podshm_open(name, 8192, PODSHM_WORKER)) == NULL) {
		printf("podshm: %s\n", strerror(errno));
		return 1;
	}
	shm_unlink(name);
	if (podshm_send(wk, "ping", 4) != 0)
		return 2;
	n = podshm_recv(sup, buf, sizeof buf);
	printf("ring: %.*s, max frame %zu\n", (int)n, buf,
	    podshm_max_frame(sup));
	/* The pod's copy is read-only. */
	int fd = open("/usr/lib/libpodshm.so.1", O_WRONLY);
	printf("write the library: %s\n", fd == -1 ? "refused" : "ok");
	return 0;
}
"""


ARG_VALUES = ["a", "b c", "", "--allow-all", "-d", "ü → ✓", "$HOME", "*"]


def _argv(r, path):
    """argv[0] is the entry's absolute path, the rest as given."""
    assert r.out.splitlines() == [f"argc={1 + len(ARG_VALUES)}",
                                  f"[{path}]"] + \
        [f"[{a}]" for a in ARG_VALUES], r.describe()


CASES = [
    exec_case("hello", HELLO, stdout=b"hello from exec\n", stderr_exact=""),
    exec_case("args", ARGS, args=ARG_VALUES, check=_argv,
              stderr_exact=""),
    exec_case("exit-0", STATUS, args=["0"], stdout=b"exiting\n"),
    exec_case("exit-3", STATUS, args=["3"], status=3, stdout=b"exiting\n"),
    exec_case("signal-term", STATUS, args=["signal", "15"], status=128 + 15,
              stdout=b"", stderr_has=["about to die"]),
    exec_case("signal-segv", STATUS, args=["signal", "11"], status=128 + 11,
              stdout=b""),
    exec_case("stdin-empty", CAT, stdout=b"", stderr_exact="0 bytes\n"),
    exec_case("stdin-text", CAT, stdin=b"line one\nline two\n",
              stdout=b"line one\nline two\n", stderr_exact="18 bytes\n"),
]


@cases_by_name(CASES)
def test_conformance(case):
    run_exec(case)


def test_stdin_round_trip_binary():
    """Every byte value, 4 MiB of them, through the pod and back."""
    data = bytes(range(256)) * 4096 + hashlib.sha256(b"x").digest() * 4096
    case = exec_case("stdin-binary", CAT, stdin=data,
                     stderr_exact=f"{len(data)} bytes\n")
    r = run_exec(case)
    assert len(r.stdout) == len(data), r.describe()
    assert hashlib.sha256(r.stdout).digest() == \
        hashlib.sha256(data).digest(), "stdin came back changed"


@pytest.mark.parametrize("stream", [1, 2], ids=["stdout", "stderr"])
def test_10mib_output_in_order(stream):
    case = exec_case(f"big-{stream}", BIG, args=[str(stream)], timeout=120)
    r = run_exec(case)
    got = r.stdout if stream == 1 else r.stderr.encode()
    assert len(BIG_EXPECT) == 81920 * BIG_LINE >= 10 * 1024 * 1024
    assert len(got) == len(BIG_EXPECT), (len(got), r.describe()[:2000])
    assert got == BIG_EXPECT, "output out of order or changed"


# --- the environment -----------------------------------------------------------

HOST_ENV = {
    "PATH": "/custom/bin:/usr/bin:/bin",
    "POD_ALLOW_NET": "example.com",
    "POD_SECRET": "pod-secret",
    "SECRET": "hunter2",
    "HOME": "/root",
    "PODSHM_LIB": "/host/libpodshm.so",
}
PROXY_VARS = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
              "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"}


def _env(r):
    return dict(l.split("=", 1) for l in r.out.splitlines())


def test_env_scrubbed():
    """PATH (a clean one) and the proxy variables, nothing else: no
    POD_* variable, no PODSHM_LIB, nothing of the host's."""
    r = run_exec(exec_case("env", ENV, env=HOST_ENV))
    env = _env(r)
    assert set(env) == {"PATH"} | PROXY_VARS, r.describe()
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["HTTP_PROXY"] == "http://169.254.1.1:8080"


def test_env_allowed():
    """--allow-env lets a variable through, and never a POD_* one."""
    r = run_exec(exec_case("env-allowed", ENV, env=HOST_ENV,
                           flags=["--allow-env=SECRET,PATH,POD_*,PODSHM_LIB"]))
    env = _env(r)
    assert env.get("SECRET") == "hunter2", r.describe()
    assert env["PATH"] == HOST_ENV["PATH"]
    assert not [k for k in env if k.startswith("POD")], r.describe()
    assert "HOME" not in env


# --- other programs: only what is granted exists ------------------------------

def test_not_granted_command_fails():
    """A program the policy does not grant is not in the pod."""
    r = run_exec(exec_case("run-denied", RUN, args=["/usr/bin/id", "-u"],
                           status=127))
    assert r.out.splitlines() == [
        "exec /usr/bin/id: No such file or directory", "child status 127"], \
        r.describe()


def test_not_granted_shell_command_fails():
    """A shell script's interpreter is there; the commands it runs are
    not, unless granted."""
    path = write_script("#!/bin/sh\nid -u || echo \"id failed: $?\"\n",
                        suffix=".sh", mode=0o755)
    r = podrunner("run", path)
    assert r.status == 0, r.describe()
    assert r.out == "id failed: 127\n", r.describe()
    assert "id: not found" in r.stderr, r.describe()


def test_granted_command_runs():
    r = run_exec(exec_case("run-granted", RUN, args=["/usr/bin/id", "-u"],
                           flags=["--allow-run=/usr/bin/id"]))
    lines = r.out.splitlines()
    assert len(lines) == 2 and lines[1] == "child status 0", r.describe()
    assert 3000000 <= int(lines[0]) < 4000000, r.describe()


# --- libpodshm ---------------------------------------------------------------------

def _pkg_config():
    env = dict(os.environ, PKG_CONFIG_PATH="build")
    r = subprocess.run(["pkg-config", "--cflags", "--libs", "podshm"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, cwd=ROOT, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_pkg_config_names_the_build_tree():
    flags = _pkg_config()
    assert f"-I{ROOT}/worker/libpodshm" in flags, flags
    assert f"-L{ROOT}/build/lib" in flags and "-lpodshm" in flags, flags


def test_linked_with_libpodshm():
    """Built with pkg-config's flags alone (no rpath): the host's dynamic
    linker does not find the library, the pod's does."""
    prog = build("podshm", PODSHM, _pkg_config())
    host = subprocess.run([str(prog)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    assert host.returncode == 127 and b"libpodshm.so.1" in host.stderr, \
        "the host found libpodshm: this test proves nothing here"
    r = podrunner("run", prog)
    assert r.status == 0, r.describe()
    assert r.out.splitlines() == [
        "ring: ping, max frame 3900",
        "write the library: refused"], r.describe()
    assert r.err_lines == [], r.describe()


def test_usr_granted_pod_still_starts():
    """A grant of the host's /usr leaves no place for the pod's copy of
    the library: the pod starts all the same (without it)."""
    r = run_exec(exec_case("hello-usr", HELLO, flags=["--allow-read=/usr"],
                           stdout=b"hello from exec\n"))
    assert r.err_lines == [], r.describe()
