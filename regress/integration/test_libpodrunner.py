"""
libpodrunner (libpodrunner/), the C library for embedders, driven by
build/regress/embedtest (regress/integration/embedtest.c: a script of
library calls on its standard input, every event and result on its
standard output).

Against the real `./podrunner serve`: one persistent worker, 100
submissions in order, globals kept and a fresh namespace, an exception
then recovery, sys.exit, interrupts (of `while True: pass`, also from
another thread while the main thread waits), large output and a large
submission, the memory event, a policy document given as JSON, start
failures with podrunner's reason, no descriptor of the embedder reaching
podrunner, and nothing left behind after stop, after the embedder exits
without stopping and after it is killed (the leftovers fixture).
example/embed runs as the README shows.

Against fake_serve.py, a scripted stand-in, what the real one does not
do on demand: lines that are not events, a podrunner that dies, one
that fails at start, one that does not read while it floods us with
events, one that will not stop; and the command line and environment
the options make.
"""

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (PODRUNNER, ROOT, TIMEOUT, _can_run, _register,
                      base_env, proc_pids, proc_session, proc_stat,
                      write_script)

EMBEDTEST = ROOT / "build" / "regress" / "embedtest"
EMBED = ROOT / "build" / "example" / "embed"
FAKE = Path(__file__).resolve().with_name("fake_serve.py")


@pytest.fixture(scope="module", autouse=True)
def _built():
    for p in (EMBEDTEST, EMBED):
        if not os.access(p, os.X_OK):
            pytest.fail(f"{p} missing: run make", pytrace=False)


class Run:
    """What embedtest printed, read back."""

    def __init__(self, cmd, status, out, err):
        self.cmd, self.status, self.err = cmd, status, err
        self.lines = out.decode("utf-8", "replace").splitlines()
        self.events = []
        self.results = []          # (command, rest of the line)
        self.errors = []
        self.logs = []
        self.invalid = []
        for line in self.lines:
            kind, _, rest = line.partition(" ")
            if kind == "event":
                self.events.append(json.loads(rest))
            elif kind == "log":
                self.logs.append(rest)
            elif kind == "invalid":
                self.invalid.append(rest)
            elif kind == "error":
                self.errors.append(rest)
            else:
                self.results.append((kind, rest))

    def describe(self):
        out = "\n".join(l[:200] for l in self.lines[-40:])
        return (f"command: {' '.join(map(str, self.cmd))}\nstatus: "
                f"{self.status}\noutput (last 80 lines):\n{out}\n"
                f"stderr:\n{self.err[-3000:]}")

    def result(self, cmd, n=0):
        """The rest of the n-th result line of cmd."""
        got = [r for c, r in self.results if c == cmd]
        assert len(got) > n, f"no result {n} for {cmd}\n{self.describe()}"
        return got[n]

    def all(self, cmd):
        return [r for c, r in self.results if c == cmd]

    def of(self, rid, etype=None):
        return [e for e in self.events if e.get("id") == rid and
                (etype is None or e["type"] == etype)]

    def output(self, rid, stream="stdout"):
        return "".join(e["data"] for e in self.of(rid, "output")
                       if e.get("stream") == stream)

    def states(self, rid):
        return [e["data"]["worker"] for e in self.of(rid, "state")]

    def exit_code(self, rid):
        ends = [e["data"] for e in self.of(rid, "state")
                if e["data"]["worker"] == "exec_end"]
        assert len(ends) == 1, f"{len(ends)} exec_end for {rid}\n" \
            f"{self.describe()}"
        return ends[0]["exit_code"]




def register_session(sid):
    """
    Everything still in the session of a program we started is ours:
    a podrunner it spawned that outlived it is a leftover, not a
    podrunner of someone else's (which the fixture leaves alone).
    """
    for pid in proc_pids():
        if proc_session(pid) == sid:
            _register(pid)


def esc(code):
    """A submission as one embedtest line (embedtest unescapes)."""
    return (code.replace("\\", "\\\\").replace("\n", "\\n")
            .replace("\t", "\\t"))


def drive(script, args=(), env=None, timeout=TIMEOUT, real=True):
    """Run embedtest with the script; a hang fails the test."""
    if real:
        _can_run()
        args = ["-p", PODRUNNER, *args]
    cmd = [str(EMBEDTEST), *map(str, args)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=base_env(env),
                         start_new_session=True)
    _register(p.pid)
    try:
        out, err = p.communicate(script.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"embedtest hung for {timeout}s\n" +
                    Run(cmd, None, out, err.decode("utf-8", "replace"))
                    .describe(), pytrace=False)
    register_session(p.pid)
    return Run(cmd, p.returncode, out, err.decode("utf-8", "replace"))


def fake(script, mode="normal", args=(), env=None, timeout=TIMEOUT):
    e = {"FAKE_SERVE": mode}
    e.update(env or {})
    return drive(script, ["-p", FAKE, *args], env=e, timeout=timeout,
                 real=False)


def check_clean_end(r):
    """stop returned 0, the exit event was the last, with code 0."""
    ctx = r.describe()
    assert r.status == 0, ctx
    assert r.result("stop") == "0", ctx
    assert r.events[-1] == {"type": "exit", "data": {"code": 0}} or (
        r.events[-1]["type"] == "exit" and
        r.events[-1]["data"]["code"] == 0), ctx
    # Events of the pod come after it is ready, and there is one ready.
    types = [e["type"] for e in r.events]
    assert types.count("ready") == 1, ctx
    assert "policy-loaded" in types[:types.index("ready") + 1], ctx


# --- the real podrunner serve ------------------------------------------------

def test_persistent_100_submissions():
    """One worker, 100 submissions in order, a global kept across all."""
    script = "start\nsend n = 0\n"
    script += "send n += 1\\nprint(n)\n" * 100
    script += "wait\nstop\n"
    r = drive(script)
    ctx = r.describe()
    check_clean_end(r)
    ids = [int(x.split()[-1]) for x in r.all("send")]
    assert ids == list(range(1, 102)), ctx
    assert r.result("wait") == "0 exit 0", ctx
    for i in range(2, 102):
        assert r.output(i) == f"{i - 1}\n", ctx
        assert r.states(i) == ["exec_start", "exec_end"], ctx
        assert r.exit_code(i) == 0, ctx
    # In order: each submission's exec_start after the last one's end.
    starts = [n for n, e in enumerate(r.events) if e["type"] == "state"
              and e["data"]["worker"] == "exec_start"]
    assert [r.events[n]["id"] for n in starts] == list(range(1, 102)), ctx
    # One worker for all: one ready, one policy-loaded.
    assert [e["type"] for e in r.events].count("policy-loaded") == 1, ctx


def test_globals_and_fresh():
    """Globals kept; fresh: a new namespace, which the next ones share."""
    for r in both("start\nsend x = 41\nsend x += 1\\nprint(x)\nwait\n"
                  "fresh print('x' in globals())\\ny = 1\nwait\n"
                  "send print('x' in globals(), y)\nwait\nstop\n"):
        ctx = r.describe()
        check_clean_end(r)
        assert r.output(2) == "42\n", ctx
        assert r.output(3) == "False\n", ctx
        assert r.output(4) == "False 1\n", ctx


def test_exception_then_recovery():
    r = drive("start\nsend greeting = 'hi'\n"
              "send raise ValueError('boom')\nwait\n"
              "send print(greeting, 'again')\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.states(2) == ["exec_start", "exception", "exec_end"], ctx
    exc = [e["data"] for e in r.of(2, "state")
           if e["data"]["worker"] == "exception"][0]
    assert exc["exc_type"] == "ValueError", ctx
    assert "ValueError: boom" in exc["traceback"], ctx
    assert r.exit_code(2) == 1, ctx
    assert r.all("wait")[0] == "0 exit 1", ctx
    assert r.output(3) == "hi again\n", ctx
    assert r.exit_code(3) == 0, ctx


def test_error_of_a_running_submission_is_not_its_end():
    """
    An error event with the id of a submission that has started (a
    frame of the worker's) is not a refusal: the wait goes on to its
    exec_end.
    """
    code = esc("import sys, time, podrunner_worker\n"
               "seq = int(sys._getframe().f_code.co_filename.split()[1][:-1])\n"
               "podrunner_worker._worker.send_frame({'type': 'error', "
               "'seq': seq, 'data': 'from the worker'})\n"
               "time.sleep(0.2)\nprint('went on')")
    r = drive(f"start\nsend {code}\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.result("wait") == "0 exit 0", ctx
    assert {"type": "error", "id": 1, "data": "from the worker"} in \
        r.events, ctx
    assert r.output(1) == "went on\n", ctx


def test_sys_exit_keeps_the_worker():
    r = drive("start\nsend import sys\\nprint('a')\\nsys.exit(3)\nwait\n"
              "send print('b')\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.all("wait") == ["0 exit 3", "0 exit 0"], ctx
    assert (r.output(1), r.output(2)) == ("a\n", "b\n"), ctx


def test_interrupt_busy_loop():
    """`while True: pass` interrupted; the worker goes on."""
    r = drive("start\nsend n = 5\nsend while True: pass\n"
              "until exec_start\ninterrupt\nwait\n"
              "send print(n)\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.result("until") == "0", ctx
    assert r.result("interrupt") == "0", ctx
    assert "interrupted" in r.states(2), ctx
    assert r.exit_code(2) == 130, ctx
    assert r.all("wait")[0] == "0 exit 130", ctx
    assert r.output(3) == "5\n", ctx


def test_interrupt_right_after_send():
    """Before its code runs: kept for it, as serve on main does."""
    r = drive("start\nsend while True: pass\ninterrupt\nwait\n"
              "send print('on')\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.all("wait") == ["0 exit 130", "0 exit 0"], ctx
    assert r.output(2) == "on\n", ctx


def test_interrupt_from_another_thread():
    """The main thread waits in podrunner_wait; another interrupts."""
    r = drive("start\nsend import time\\nwhile True: time.sleep(0.01)\n"
              "until exec_start\ninterrupt-after 300\nwait -1 30000\n"
              "send print('after')\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.all("wait")[0] == "0 exit 130", ctx
    assert r.output(2) == "after\n", ctx
    assert "interrupt from a thread" not in r.err, ctx


def both(script, args=()):
    """The script against the real podrunner serve, then the stand-in."""
    return [fake(script, args=args), drive(script, args)]


def test_callback_sends_but_does_not_read():
    """
    From the callback: podrunner_dispatch and podrunner_wait are refused
    (EBUSY, not a deadlock), podrunner_send_code works and its
    submission runs next.
    """
    for r in both("start\nsend x = 1\nreenter\nwait 1\nwait\nstop\n"):
        ctx = r.describe()
        check_clean_end(r)
        assert r.result("reenter", 1) == (
            "dispatch called from an event callback wait called from an "
            "event callback send 0 id 2"), ctx
        assert r.output(2) == "from the callback\n", ctx
        assert r.all("wait") == ["0 exit 0", "0 exit 0"], ctx


def test_stop_from_another_thread_while_waiting():
    """
    The main thread waits for a submission; another thread stops: the
    submission runs to its end first (serve runs what was sent), the
    wait returns it, the stop returns 0.
    """
    for r in both("start\nsend import time\\ntime.sleep(1)\\n"
                  "print('slept')\nstop-after 200\nwait\njoin\n"):
        ctx = r.describe()
        assert r.status == 0, ctx
        assert r.result("wait") == "0 exit 0", ctx
        assert r.output(1) == "slept\n", ctx
        assert r.result("stop-after", 1) == "0", ctx
        assert r.events[-1] == {"type": "exit", "data": {"code": 0}}, ctx


def test_wait_timeout_then_interrupt():
    """A timed-out wait leaves the submission running."""
    r = drive("start\nsend while True: pass\nwait -1 300\n"
              "interrupt\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.all("wait") == ["timed out", "0 exit 130"], ctx


def test_large_output_and_submission():
    """4 MB of output, and a 400 KiB submission sent while it comes."""
    big = "a" * (400 << 10)
    r = drive(f"start\nsend print('y' * 4000000)\nsend s = '{big}'\n"
              "send print(len(s))\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.output(1) == "y" * 4000000 + "\n", ctx
    assert r.output(3) == f"{400 << 10}\n", ctx


def test_refused_submission():
    """
    Code too large for the data plane: an error event with its id, no
    exec_end; podrunner_wait says so, and the next one runs.  With a
    larger --shm-size the same code runs.
    """
    big = "a" * (1 << 20)
    script = (f"start\nsend s = '{big}'\nwait\nsend print('next')\nwait\n"
              "stop\n")
    for r in both(script):
        ctx = r.describe()
        check_clean_end(r)
        assert r.all("wait") == ["podrunner refused the submission",
                                 "0 exit 0"], ctx
        assert r.errors[0].startswith("submission 1 refused: submission "
                                      "of "), ctx
        assert "does not fit the data plane" in r.errors[0], ctx
        assert r.states(1) == [] and r.output(2) == "next\n", ctx
    r = drive(f"start\nsend s = '{big}'\nsend print(len(s))\nwait\n"
              "stop\n", ["-f", "--shm-size=4mb"])
    ctx = r.describe()
    check_clean_end(r)
    assert r.output(2) == f"{1 << 20}\n", ctx


def test_stderr_and_output_order():
    r = drive("start\nsend import sys\\nfor i in range(50):\\n"
              "    print(i)\\n    print(-i, file=sys.stderr)\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.output(1) == "".join(f"{i}\n" for i in range(50)), ctx
    assert r.output(1, "stderr") == "".join(f"{-i}\n"
                                            for i in range(50)), ctx


def test_memory_event():
    r = drive("start\nsend x = bytearray(8 << 20)\nwait\nstop\n",
              ["-m", str(128 << 20)])
    ctx = r.describe()
    check_clean_end(r)
    mem = r.of(1, "memory")
    assert len(mem) == 1, ctx
    m = mem[0]["data"]
    assert m["limit"] == 128 << 20, ctx
    assert 0 < m["current"] <= m["limit"] and m["peak"] >= 8 << 20, ctx


def test_policy_document_as_json(script_dir):
    """policy_json: the document reaches podrunner as POD_POLICY_JSON."""
    secret = write_script("the content\n", suffix=".txt")
    doc = json.dumps({"version": 1, "rules": {
        "fs": {"allow": [str(secret)], "mode": "read"}}})
    code = esc(f"print(open({str(secret)!r}).read(), end='')")
    r = drive(f"start\nsend {code}\nwait\nstop\n", ["-J", doc])
    ctx = r.describe()
    check_clean_end(r)
    assert r.output(1) == "the content\n", ctx
    pol = [e for e in r.events if e["type"] == "policy-loaded"][0]
    assert str(secret) in json.dumps(pol["data"]), ctx
    # Without it, the same read is denied.
    r = drive(f"start\nsend {code}\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.exit_code(1) == 1, ctx
    # Denied, or not in the pod at all (its /tmp is its own).
    exc = [e["data"]["exc_type"] for e in r.of(1, "state")
           if e["data"]["worker"] == "exception"]
    assert exc in (["PermissionError"], ["FileNotFoundError"]), ctx


def test_start_failure_says_why():
    """podrunner refuses an option: start fails with its reason."""
    r = drive("start\nsend print(1)\nstop\n", ["-f", "--memory=10xb"])
    ctx = r.describe()
    assert r.result("start") == "podrunner serve has exited", ctx
    assert any("exited with status 125 before the worker was ready: "
               "podrunner: " in e and "--memory" in e
               for e in r.errors), ctx
    assert any(l.startswith("podrunner: ") for l in r.logs), ctx
    assert r.result("send") == "podrunner serve has exited", ctx
    assert r.result("stop") == "125", ctx


def test_no_descriptor_of_the_embedder_reaches_podrunner():
    r = drive("start\nfds\nstop\n", ["-L", "/etc/hostname"])
    ctx = r.describe()
    check_clean_end(r)
    fds = r.result("fds")
    assert "/etc/hostname" not in fds, ctx
    # Its standard input and output are our pipes, stderr too (captured).
    got = dict(kv.split("=", 1) for kv in fds.split())
    assert all(got[f].startswith("pipe:") for f in "012"), ctx


def test_stop_leaves_nothing():
    """stop reaps podrunner; the leftovers fixture checks the rest."""
    r = drive("start\npid\nsend print('x')\nwait\nstop\npid\n")
    ctx = r.describe()
    check_clean_end(r)
    pids = [int(x) for x in r.all("pid")]
    assert pids[0] > 0 and pids[1] == -1, ctx
    # Reaped: no zombie of it is left to embedtest either.
    assert proc_stat(pids[0]) is None, ctx


def test_stop_runs_what_was_sent():
    """A stop right after three sends: all three run, then the end."""
    for r in both("start\nsend print(1)\nsend print(2)\nsend print(3)\n"
                  "stop\n"):
        ctx = r.describe()
        check_clean_end(r)
        assert [r.output(i) for i in (1, 2, 3)] == ["1\n", "2\n", "3\n"], ctx


def test_interrupt_then_stop():
    r = drive("start\nsend while True: pass\nuntil exec_start\n"
              "interrupt\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.exit_code(1) == 130, ctx


def test_stop_timeout_ends_a_busy_loop():
    """
    A stop waits for the running submission; after its timeout,
    SIGTERM: podrunner stops the pod at once, and is reaped.
    """
    r = drive("start\nsend while True: pass\nuntil exec_start\nstop 1000\n"
              "pid\n")
    ctx = r.describe()
    assert r.status == 0, ctx
    assert r.result("stop") == "timed out", ctx
    assert r.errors == ["podrunner serve did not stop within 1000 ms "
                        "(killed)"], ctx
    assert r.result("pid") == "-1", ctx
    assert r.events[-1]["type"] == "exit", ctx


def test_free_stops_at_once():
    """podrunner_free with a busy loop running: no wait for it."""
    r = drive("start\nsend while True: pass\nuntil exec_start\nfree\n")
    assert r.status == 0 and r.result("free") == "0", r.describe()


def test_embedder_exits_without_stopping():
    """_exit() with a running pod: EOF and PDEATHSIG end it."""
    r = drive("start\nsend while True: pass\nuntil exec_start\nexit\n")
    assert r.status == 0, r.describe()
    # The leftovers fixture waits for podrunner and its pod to go.


def test_embedder_killed():
    """SIGKILL to the embedder mid-submission: the pod goes too."""
    _can_run()
    p = subprocess.Popen([str(EMBEDTEST), "-p", str(PODRUNNER)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env=base_env(), start_new_session=True)
    _register(p.pid)
    p.stdin.write(b"start\nsend while True: pass\nuntil exec_start\n")
    p.stdin.flush()
    deadline = time.monotonic() + TIMEOUT
    seen = b""
    while b"until 0\n" not in seen and time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        seen += line
    assert b"until 0\n" in seen, seen[-2000:]
    p.kill()
    p.wait()
    register_session(p.pid)
    p.stdin.close()
    p.stdout.close()


def test_embed_example():
    """example/embed, as its comment runs it."""
    _can_run()
    p = subprocess.run([str(EMBED), "-p", str(PODRUNNER)],
                       capture_output=True, env=base_env(),
                       timeout=TIMEOUT, start_new_session=True)
    out = p.stdout.decode()
    ctx = f"status {p.returncode}\n{out}\n{p.stderr.decode()}"
    assert p.returncode == 0, ctx
    for s in ("ready\n", "[1] stdout: hello from a persistent worker\n",
              "[2] stdout: HELLO FROM A PERSISTENT WORKER\n",
              "[2] exception ValueError\n", "[2] exec_end 1\n",
              "[3] stdout: still here: hello from a persistent worker\n",
              "[3] exec_end 0\n", "exit 0\n",
              "podrunner exited 0; last submission exited 0\n"):
        assert s in out, ctx


# --- the library against a scripted stand-in -------------------------------------

def test_fake_protocol():
    """The same session against the stand-in (no root, no pod)."""
    r = fake("start\nsend x = 1\nsend print(x + 1)\nwait\nstop\n")
    ctx = r.describe()
    check_clean_end(r)
    assert r.output(2) == "2\n", ctx
    assert r.logs == ["fake_serve: serving"], ctx


def test_lines_that_are_not_events():
    r = fake("start\nsend print(1)\nwait\nstop\n", mode="garbage")
    ctx = r.describe()
    check_clean_end(r)
    assert r.invalid == [
        "not JSON: invalid token near 'this' (column 4)",
        'no string "type"'], ctx
    # An unknown type is passed on as it came.
    assert {"type": "net", "data": {"host": "example.com"}} in r.events, ctx
    assert r.output(1) == "1\n", ctx


def test_podrunner_fails_at_start():
    r = fake("start\nsend x\nstop\n", mode="fail")
    ctx = r.describe()
    assert r.result("start") == "podrunner serve has exited", ctx
    assert r.errors[0] == ("podrunner serve exited with status 125 before "
                           "the worker was ready: podrunner: --memory: "
                           "bad size"), ctx
    assert r.result("stop") == "125", ctx


def test_podrunner_dies():
    r = fake("start\nsend print(1)\nwait\nsend print(2)\nstop\n", mode="die")
    ctx = r.describe()
    assert r.result("wait") == "podrunner serve has exited", ctx
    assert "exited with status 3 before submission 1 ended" in \
        r.errors[0], ctx
    assert r.result("send", 1) == "podrunner serve has exited", ctx
    assert r.result("stop") == "3", ctx


def test_no_deadlock_when_podrunner_does_not_read():
    """
    podrunner blocked writing 2 MiB of events, not reading requests,
    while we write a 500 KiB submission (the pipe holds 64) and
    dispatch nothing: the writer reads the events meanwhile, and they
    are all delivered, in order.
    """
    big = "b" * (500 << 10)
    r = fake(f"start\nsend print(1)\nsend s = '{big}'\n"
             "send print(len(s))\nwait\nstop\n", mode="flood")
    ctx = r.describe()
    check_clean_end(r)
    assert r.output(3).endswith(f"{500 << 10}\n"), ctx
    for i in (1, 2, 3):
        assert r.output(i).startswith("x" * 1023 + "\n"), ctx
        assert r.exit_code(i) == 0, ctx


def test_stop_timeout_kills():
    """A podrunner that ignores stop and SIGTERM is killed and reaped."""
    r = fake("start\npid\nstop 300\npid\n", mode="nostop")
    ctx = r.describe()
    assert r.result("stop") == "timed out", ctx
    assert "did not stop within 300 ms (killed)" in r.errors[0], ctx
    assert r.all("pid")[1] == "-1", ctx


def test_calls_in_the_wrong_state():
    r = fake("send x\nstop\nwait\nstart\nstart\nsend \\xff\nstop\n")
    ctx = r.describe()
    assert r.all("send")[0] == "not possible in this state", ctx
    assert r.all("stop")[0] == "not possible in this state", ctx
    assert r.result("wait") == "invalid argument", ctx
    assert r.all("start") == ["0", "not possible in this state"], ctx
    assert r.all("send")[1] == "invalid argument", ctx
    assert "not UTF-8" in r.errors[-1] or "not UTF-8" in " ".join(
        r.errors), ctx
    assert r.all("stop")[1] == "0", ctx


def test_binary_not_found():
    r = drive("start\n", ["-p", "/nonexistent/podrunner"], real=False)
    ctx = r.describe()
    assert r.result("start") == "system call failed", ctx
    assert r.errors == ["/nonexistent/podrunner: No such file or "
                        "directory"], ctx


def test_options_make_the_command_line(tmp_path):
    """Every option, as podrunner serve gets it; the document in base64."""
    args_file = tmp_path / "args.json"
    doc = '{"version": 1, "defaults": {"net": "allow"}, "note": "é"}'
    r = fake("start\nstop\n", args=[
        "-w", "python", "-m", str(96 << 20), "-t", "2500", "-x",
        "-J", doc, "-f", "--allow-read=/data", "-f", "-v",
        "-L", "/etc/hostname"],
        env={"FAKE_SERVE_ARGS": str(args_file),
             "POD_POLICY_JSON": "aW5oZXJpdGVk"})
    ctx = r.describe()
    check_clean_end(r)
    got = json.loads(args_file.read_text())
    assert got["argv"][1:] == [
        "serve", "--worker", "python", "--memory", str(96 << 20),
        "--timeout", "2500ms", "--no-sandbox", "--allow-read=/data",
        "-v"], ctx
    # The options' document, not the one in our environment.
    assert base64.b64decode(got["policy"]).decode() == doc, ctx
    # Not the descriptor embedtest opened without O_CLOEXEC.
    assert "/etc/hostname" not in got["fds"].values(), got
    assert all(got["fds"][f].startswith("pipe:") for f in "012"), got


def test_policy_file_drops_an_inherited_document(tmp_path):
    args_file = tmp_path / "args.json"
    r = fake("start\nstop\n", args=["-P", "/etc/podrunner.json"],
             env={"FAKE_SERVE_ARGS": str(args_file),
                  "POD_POLICY_JSON": "aW5oZXJpdGVk"})
    check_clean_end(r)
    got = json.loads(args_file.read_text())
    assert got["argv"][1:] == ["serve", "--policy", "/etc/podrunner.json"]
    assert got["policy"] is None


def test_environment_given():
    """opts.env replaces ours: the stand-in sees only it."""
    r = fake("start\nsend import os\\nprint(sorted(os.environ))\nwait\n"
             "stop\n", env={"EXTRA": "1"},
             args=["-e", "FAKE_SERVE=normal", "-e", "A=b",
                   "-e", "LANG=C.UTF-8"])
    ctx = r.describe()
    check_clean_end(r)
    assert r.output(1) == "['A', 'FAKE_SERVE', 'LANG']\n", ctx
