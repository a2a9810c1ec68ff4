"""
Running scripts: output, arguments, exit status, signals, exceptions,
stdin, large output, timeouts, and the exec worker.
"""

import hashlib
import os
import subprocess

import pytest

from conftest import (EXIT_NOENT, EXIT_NOEXEC, EXIT_TIMEOUT, PODRUNNER,
                      TIMEOUT, Case, Pod, base_env, cases_by_name,
                      podrunner, run_case, write_script)


def _traceback_names_script(r, path):
    assert "Traceback" in r.stderr, r.describe()
    assert os.path.basename(str(path)) in r.stderr, \
        f"traceback does not name {path}\n{r.describe()}"


def _argv0_is_script(r, path):
    assert os.path.basename(r.out.splitlines()[0]) == \
        os.path.basename(str(path)), r.describe()


ARGS = ["a", "b c", "  two  spaces ", "ü → ✓ 日本", "", "--allow-net", "-d",
        "$HOME", "*", "'quoted'", 'dq"', "a\tb", "line\nbreak"]

PYTHON_CASES = [
    Case("hello", 'print("hello, world")\n', stdout=b"hello, world\n",
         stderr_exact=""),
    Case("no-output", "pass\n", stdout=b"", stderr_exact=""),
    Case("stderr", 'import sys\nprint("to err", file=sys.stderr)\n'
         'print("to out")\n', stdout=b"to out\n", stderr_exact="to err\n"),
    Case("no-newline", 'import sys\nsys.stdout.write("partial")\n',
         stdout=b"partial"),
    Case("args",
         "import sys, json\nprint(sys.argv[0])\n"
         "print(json.dumps(sys.argv[1:], ensure_ascii=False))\n",
         args=ARGS,
         stdout_has=[__import__("json").dumps(ARGS, ensure_ascii=False)],
         check=_argv0_is_script),
    Case("name-is-main", "print(__name__)\n", stdout=b"__main__\n"),
    Case("exit-0", "import sys\nsys.exit(0)\n", status=0, stdout=b""),
    Case("exit-3", "import sys\nsys.exit(3)\n", status=3, stdout=b""),
    Case("exit-255", "import sys\nsys.exit(255)\n", status=255),
    Case("os-exit-5", 'import os\nprint("x", flush=True)\nos._exit(5)\n',
         status=5, stdout=b"x\n"),
    Case("exit-message", 'import sys\nsys.exit("fatal: no luck")\n',
         status=1, stderr_has=["fatal: no luck"]),
    Case("output-then-exit-3",
         'import sys\nprint("before")\nsys.exit(3)\n',
         status=3, stdout=b"before\n"),
    Case("sigkill-self", "import os\nos.kill(os.getpid(), 9)\n",
         status=128 + 9),
    Case("sigsegv", "import ctypes\nctypes.string_at(0)\n",
         status=128 + 11),
    Case("sigterm-self",
         'import os, signal\nprint("bye", flush=True)\n'
         "os.kill(os.getpid(), signal.SIGTERM)\n",
         status=128 + 15, stdout=b"bye\n"),
    Case("sigabrt", "import os\nos.abort()\n", status=128 + 6),
    Case("exception",
         'def f():\n    raise ValueError("boom")\nprint("start")\nf()\n',
         status=1, stdout=b"start\n",
         stderr_has=["ValueError: boom", "line 2"],
         check=_traceback_names_script),
    Case("syntax-error", "def (:\n", status=1,
         stderr_has=["SyntaxError"]),
    Case("unicode-output", 'print("ü → ✓ 日本")\n',
         stdout="ü → ✓ 日本\n".encode()),
    Case("binary-output",
         "import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4)\n",
         stdout=bytes(range(256)) * 4),
]


@cases_by_name(PYTHON_CASES)
def test_python(case):
    run_case(case)


# --- stdin ------------------------------------------------------------------------

ECHO_STDIN = ("import sys\ndata = sys.stdin.buffer.read()\n"
              "sys.stdout.buffer.write(data)\n")
COUNT_STDIN = ("import sys, hashlib\ndata = sys.stdin.buffer.read()\n"
               "print(len(data), hashlib.sha256(data).hexdigest())\n")

BINARY = bytes(range(256)) * 4096          # 1 MiB, every byte value
BIG = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(131072))

STDIN_CASES = [
    Case("stdin-text", ECHO_STDIN, stdin=b"hello\nworld\n",
         stdout=b"hello\nworld\n"),
    Case("stdin-eof-empty", COUNT_STDIN, stdin=b"",
         stdout=b"0 " + hashlib.sha256(b"").hexdigest().encode() + b"\n"),
    Case("stdin-binary", ECHO_STDIN, stdin=BINARY, stdout=BINARY),
    Case("stdin-no-newline", ECHO_STDIN, stdin=b"\0\xff\r\n\x04end",
         stdout=b"\0\xff\r\n\x04end"),
    Case("stdin-4mib", COUNT_STDIN, stdin=BIG,
         stdout=b"%d %s\n" % (len(BIG), hashlib.sha256(BIG).hexdigest()
                               .encode())),
    Case("stdin-lines-until-eof",
         "import sys\nn = 0\nfor line in sys.stdin:\n    n += 1\n"
         "print(n)\n", stdin=b"".join(b"line %d\n" % i for i in range(1000)),
         stdout=b"1000\n"),
    Case("stdin-input-eoferror",
         'try:\n    input()\nexcept EOFError:\n    print("eof")\n',
         stdin=b"", stdout=b"eof\n"),
    Case("stdin-unread", 'print("ignored stdin")\n', stdin=BIG,
         stdout=b"ignored stdin\n"),
]


@cases_by_name(STDIN_CASES)
def test_stdin(case):
    run_case(case)


def test_stdin_interactive(script_dir):
    """A dialogue: each answer arrives before the next question is sent."""
    path = write_script(
        "import sys\n"
        'print("e-ready", file=sys.stderr)\n'
        "for line in sys.stdin:\n"
        '    print("pong", line.strip())\n'
        'print("done")\n')
    with Pod(path) as pod:
        pod.wait_output(b"e-ready", stream="stderr")
        for i in range(3):
            pod.write(b"ping %d\n" % i)
            pod.wait_output(b"pong ping %d\n" % i)
        pod.close_stdin()
        assert pod.wait() == 0, pod.describe()
        assert pod.stdout == b"".join(b"pong ping %d\n" % i for i in
                                      range(3)) + b"done\n", pod.describe()


# --- large output -------------------------------------------------------------------

MIB10 = 10 << 20
GEN = ("import hashlib, sys\n"
       "out = getattr(sys, sys.argv[1]).buffer\n"
       "for i in range(%d):\n"
       "    out.write(hashlib.sha256(b'%%d' %% i).digest() * 64)\n" % (
           MIB10 // (32 * 64)))
EXPECT = b"".join(hashlib.sha256(b"%d" % i).digest() * 64
                  for i in range(MIB10 // (32 * 64)))


def _first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def test_stdout_10mib_whole_and_in_order():
    r = run_case(Case("big-stdout", GEN, args=["stdout"], timeout=120))
    got = r.stdout
    assert len(got) == len(EXPECT) and got == EXPECT, (
        f"stdout: {len(got)} bytes, want {len(EXPECT)}; first difference "
        f"at {_first_difference(got, EXPECT)}")
    assert r.err_lines == [], r.describe()


def test_stderr_10mib_whole_and_in_order():
    """Same as above for stderr, compared as raw bytes."""
    path = write_script(GEN)
    p = subprocess.run([str(PODRUNNER), "run", str(path), "stderr"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       env=base_env(), timeout=2 * TIMEOUT,
                       start_new_session=True)
    assert p.returncode == 0, p.stderr[-2000:]
    err = p.stderr
    # podrunner's own warning lines may precede the script's output.
    while err.startswith(b"podrunner: warning:"):
        err = err[err.index(b"\n") + 1:]
    assert len(err) == len(EXPECT) and err == EXPECT, (
        f"stderr: {len(err)} bytes, want {len(EXPECT)}; first difference "
        f"at {_first_difference(err, EXPECT)}")
    assert p.stdout == b""


def test_output_interleaved_line_numbered():
    """10 MiB of numbered lines alternating between stdout and stderr."""
    # 100-byte lines, half of 10 MiB on each stream.
    lines = (10 << 20) // 2 // 100
    src = ("import sys\n"
           "pad = 'x' * 86\n"
           "for i in range(%d):\n"
           "    print('out %%08d %%s' %% (i, pad))\n"
           "    print('err %%08d %%s' %% (i, pad), file=sys.stderr)\n"
           % lines)
    r = run_case(Case("interleaved", src, timeout=120))
    pad = "x" * 86
    for stream, text in (("out", r.out), ("err", "".join(
            l + "\n" for l in r.err_lines))):
        got = text.splitlines()
        assert len(got) == lines, f"{stream}: {len(got)} lines, want {lines}"
        for i, line in enumerate(got):
            if line != f"{stream} {i:08d} {pad}":
                pytest.fail(f"{stream} line {i} is {line[:40]!r}...")


# --- timeouts ------------------------------------------------------------------------

TIMEOUT_CASES = [
    Case("busy-loop", "while True:\n    pass\n", flags=["--timeout=1s"],
         status=EXIT_TIMEOUT),
    Case("sleeping", "import time\ntime.sleep(1000)\n",
         flags=["--timeout=500ms"], status=EXIT_TIMEOUT),
    Case("space-form", "import time\ntime.sleep(1000)\n",
         flags=["--timeout", "1s"], status=EXIT_TIMEOUT),
    Case("ignores-sigterm",
         "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
         'print("ready", flush=True)\nwhile True:\n    time.sleep(1)\n',
         flags=["--timeout=1s"], status=EXIT_TIMEOUT, stdout=b"ready\n"),
    # A child holding stdout open must not keep podrunner waiting, and
    # must be gone afterwards (the leftovers check sees its command line).
    Case("forked-child",
         "import os, time\nif os.fork() == 0:\n    time.sleep(1000)\n"
         "time.sleep(1000)\n", flags=["--timeout=1s"], status=EXIT_TIMEOUT),
    Case("finishes-first", "import sys\nprint('quick')\nsys.exit(3)\n",
         flags=["--timeout=30s"], status=3, stdout=b"quick\n"),
    Case("exec-busy-loop", "#!/bin/sh\nwhile :; do :; done\n", suffix=".sh",
         mode=0o755, flags=["--timeout=1s"], status=EXIT_TIMEOUT),
]


@cases_by_name(TIMEOUT_CASES)
def test_timeout(case):
    run_case(case)


def test_orphaned_child_does_not_outlive_the_pod():
    """
    The worker exits 0 leaving a forked child that sleeps (holding
    stdout): podrunner must finish with status 0 and the child must be
    gone (the leftovers check finds it by its command line).  Fails if
    podrunner waits for the child (hang -> timeout) or leaves it running.
    """
    run_case(Case("orphan",
                  "import os, sys, time\n"
                  "if os.fork() == 0:\n    time.sleep(1000)\n"
                  "    os._exit(0)\n"
                  'print("parent done")\n',
                  stdout=b"parent done\n"))


def test_spawned_program_does_not_outlive_the_pod():
    """
    As above with a grandchild that exec'd another program (/bin/sleep,
    whose command line names neither podrunner nor the script): the
    leftovers check finds it by its session.  Fails if it survives.
    """
    run_case(Case("spawned",
                  "import subprocess\n"
                  'subprocess.Popen(["/bin/sleep", "1000"])\n'
                  'print("spawned")\n',
                  flags=["--allow-run"], stdout=b"spawned\n"))


# --- the exec worker ---------------------------------------------------------------------

SH_ARGS = ('#!/bin/sh\nfor a in "$@"; do printf "[%s]\\n" "$a"; done\n'
           'cat\necho err >&2\nexit 5\n')


def _echo_copy():
    with open("/bin/echo", "rb") as f:
        return f.read()


EXEC_CASES = [
    Case("echo-copy", data=_echo_copy(), suffix="", mode=0o755,
         args=["a b", "ü"], stdout="a b ü\n".encode()),
    # In a pod only granted commands exist: the script needs cat.
    Case("shell-script", SH_ARGS, suffix=".sh", mode=0o755,
         flags=["--allow-run=cat"],
         args=["one", "two words", ""], stdin=b"from stdin\n", status=5,
         stdout=b"[one]\n[two words]\n[]\nfrom stdin\n",
         stderr_exact="err\n"),
    Case("shell-no-ext", "#!/bin/sh\necho no ext\n", suffix="", mode=0o755,
         stdout=b"no ext\n"),
    Case("shell-signal", "#!/bin/sh\nkill -TERM $$\nsleep 100\n",
         suffix=".sh", mode=0o755, flags=["--allow-run=sleep"],
         status=128 + 15),
    Case("forced-exec-py", "#!/usr/bin/python3\nimport sys\n"
         "print('exec', sys.argv[1])\n", flags=["--worker=exec"],
         mode=0o755, args=["x"], stdout=b"exec x\n"),
    Case("forced-python-no-ext", 'print("py")\n', suffix="",
         flags=["--worker=python"], stdout=b"py\n"),
    # 126: the exec worker's entry has no x bit.
    Case("not-executable", "#!/bin/sh\necho ran\n", suffix=".sh",
         mode=0o644, status=EXIT_NOEXEC, stdout=b""),
    Case("not-executable-no-ext", "#!/bin/sh\necho ran\n", suffix="",
         mode=0o644, status=EXIT_NOEXEC, stdout=b""),
    # 127: the entry does not exist, whatever the worker.
    Case("not-found-exec", entry="/nonexistent/podrunner-prog",
         status=EXIT_NOENT, stdout=b"", stderr_has=["podrunner-prog"]),
    Case("not-found-py", entry="/nonexistent/podrunner-script.py",
         status=EXIT_NOENT, stdout=b"", stderr_has=["podrunner-script.py"]),
    Case("not-found-forced-exec", entry="/tmp/podrunner-no-such-file",
         flags=["--worker=exec"], status=EXIT_NOENT, stdout=b""),
]


@cases_by_name(EXEC_CASES)
def test_exec(case):
    run_case(case)


def test_relative_entry(script_dir):
    """A relative entry is found from podrunner's working directory."""
    path = write_script('print("relative")\n')
    r = podrunner("run", path.name, cwd=str(script_dir))
    assert r.status == 0 and r.stdout == b"relative\n", r.describe()
