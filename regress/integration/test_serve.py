"""
podrunner serve: one persistent Python worker under the full sandbox,
driven by JSON lines on stdin, events as JSON lines on stdout
(podrunner(1), SERVE PROTOCOL).

The test is the embedder: start, submissions (globals kept, a fresh
namespace, exceptions and recovery, sys.exit, 100 in a row), interrupt
of an infinite loop and of one spinning inside the permission hooks,
denial messages, output order and encoding, malformed requests (an
error event, and serving goes on), stop and end of input, a worker that
dies or is killed by a limit, a per-submission timeout, and a worker
that forges frames (cut off, reported, exit 70).
"""

import json
import queue
import subprocess
import threading
import time

import pytest

from conftest import EXIT_FAILURE, EXIT_TIMEOUT, PODRUNNER, base_env

WAIT = 30


class Serve:
    """A running `podrunner serve`: requests in, events collected."""

    def __init__(self, *flags, start=True):
        self.proc = subprocess.Popen(
            [str(PODRUNNER), "serve", *flags], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=base_env())
        self.events = queue.Queue()
        self.seen = []
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = b""
        self._errt = threading.Thread(target=self._read_err, daemon=True)
        self._errt.start()
        if start:
            self.send_line({"op": "start"})
            self.wait(lambda e: e["type"] == "ready")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            self.events.put(json.loads(line))
        self.events.put(None)

    def _read_err(self):
        self.stderr = self.proc.stderr.read()

    def send_line(self, obj):
        text = obj if isinstance(obj, (str, bytes)) else json.dumps(obj)
        if isinstance(text, str):
            text = text.encode()
        self.proc.stdin.write(text + b"\n")
        self.proc.stdin.flush()

    def next(self, timeout=WAIT):
        try:
            ev = self.events.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no event in {timeout}s; seen: {self.seen[-10:]}")
        if ev is not None:
            self.seen.append(ev)
        return ev

    def wait(self, pred, timeout=WAIT):
        """Events up to and including the first that pred accepts."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next(max(0.1, deadline - time.monotonic()))
            assert ev is not None, f"output ended; seen: {self.seen[-10:]}"
            got.append(ev)
            if pred(ev):
                return got

    def run(self, code, sid, fresh=None):
        """Submit code; its events, exec_end last."""
        req = {"op": "send", "code": code, "id": sid}
        if fresh is not None:
            req["fresh"] = fresh
        self.send_line(req)
        return self.wait(lambda e: e["type"] == "state" and
                         e.get("id") == sid and
                         e["data"]["worker"] == "exec_end")

    def finish(self, stop=True):
        """Stop (or close stdin); the events to the end and the status."""
        if stop:
            self.send_line({"op": "stop"})
        self.proc.stdin.close()
        rest = []
        while True:
            ev = self.next()
            if ev is None:
                break
            rest.append(ev)
        status = self.proc.wait(timeout=WAIT)
        self._errt.join(WAIT)
        return rest, status

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def serve():
    made = []

    def make(*flags, **kw):
        s = Serve(*flags, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.kill()


def output(events, stream="stdout"):
    return "".join(e["data"] for e in events
                   if e["type"] == "output" and e["stream"] == stream)


def states(events):
    return [e["data"]["worker"] for e in events if e["type"] == "state"]


def exec_end(events):
    return [e for e in events if e["type"] == "state" and
            e["data"]["worker"] == "exec_end"][-1]["data"]["exit_code"]


def test_hello_and_events(serve):
    s = serve()
    first = s.seen[0]
    assert first["type"] == "policy-loaded", s.seen
    assert first["data"]["rules"]["read"]["deny"] == []
    evs = s.run("print('hello')", 1)
    assert output(evs) == "hello\n"
    assert states(evs) == ["exec_start", "exec_end"]
    assert all(e.get("id") == 1 for e in evs), evs
    assert exec_end(evs) == 0
    # After it, in either order: its memory use, and the audit's counts
    # so far (the last counts come at the end, without an id).
    after = {}
    while len(after) < 2:
        ev = s.next()
        assert ev is not None and ev["type"] in ("memory", "syscalls"), ev
        after[ev["type"]] = ev
    mem, sc = after["memory"], after["syscalls"]
    assert mem["id"] == 1
    assert 0 < mem["data"]["current"] <= mem["data"]["limit"]
    assert mem["data"]["limit"] == 64 * 1024 * 1024
    assert sc["id"] == 1 and sc["data"]["counts"]["openat"] > 0, sc
    rest, status = s.finish()
    last = [e for e in rest if e["type"] == "syscalls"]
    assert last and "id" not in last[-1], rest
    assert rest[-1] == {"type": "exit", "data": {"code": 0}}, rest
    assert status == 0, s.stderr
    # Every line is one JSON object; nothing else reaches stdout.
    assert all(line.endswith(b"}\n") for line in s.lines)



def test_net_event(serve):
    """
    A request through the pod's proxy is a "net" event on serve's output,
    {"type": "net", "data": {...}}: the proxy's members under "data", put
    together from the proxy's bytes by the parent, which does not parse
    them (pod_event_check()).  The host is denied by the policy, so no
    name is resolved and nothing leaves the machine.
    """
    s = serve("--deny-net=blocked.example")
    code = ("import urllib.request\n"
            "try:\n"
            "    urllib.request.urlopen('http://blocked.example:8000/x',"
            " timeout=10)\n"
            "except Exception as e:\n"
            "    print(getattr(e, 'code', repr(e)))\n")
    evs = s.run(code, 1)
    assert output(evs) == "403\n", evs
    net = [e for e in s.seen if e["type"] == "net"]
    if not net:
        net = [e for e in s.wait(lambda e: e["type"] == "net")
               if e["type"] == "net"]
    ev = net[0]
    assert sorted(ev) == ["data", "type"], ev
    d = ev["data"]
    assert "type" not in d, ev
    assert (d["method"], d["host"], d["port"], d["decision"],
            d["status"]) == ("GET", "blocked.example", 8000, "deny",
                             403), ev
    assert "blocked.example" in d["rule"], ev
    rest, status = s.finish()
    assert status == 0, s.stderr
    assert all(line.endswith(b"}\n") for line in s.lines)

def test_globals_kept_100_submissions(serve):
    s = serve()
    s.run("n = 0", "init")
    for i in range(100):
        evs = s.run("n += 1", i)
        assert exec_end(evs) == 0, evs
    evs = s.run("print(n)", "last")
    assert output(evs) == "100\n"
    s.finish()


def test_fresh_namespace(serve):
    s = serve()
    s.run("x = 1", 1)
    assert output(s.run("print('x' in globals())", 2)) == "True\n"
    assert output(s.run("print('x' in globals())", 3, fresh=True)) == \
        "False\n"
    s.finish()


def test_exception_then_recovery(serve):
    s = serve()
    evs = s.run("def f():\n    return 1/0\nf()", "boom")
    exc = [e for e in evs if e["type"] == "state" and
           e["data"]["worker"] == "exception"]
    assert len(exc) == 1, evs
    assert exc[0]["data"]["exc_type"] == "ZeroDivisionError"
    tb = exc[0]["data"]["traceback"]
    assert '<submission 1>", line 2, in f' in tb, tb
    assert "podrunner_worker" not in tb, tb
    assert "ZeroDivisionError" in output(evs, "stderr")
    assert exec_end(evs) == 1
    evs = s.run("print('still here')", "next")
    assert output(evs) == "still here\n" and exec_end(evs) == 0
    # A syntax error is an exception of its submission too.
    evs = s.run("def (", "syntax")
    assert "exception" in states(evs) and exec_end(evs) == 1
    s.finish()


def test_sys_exit_ends_the_submission_not_the_worker(serve):
    s = serve()
    assert exec_end(s.run("import sys; sys.exit(3)", 1)) == 3
    assert exec_end(s.run("raise SystemExit('bye')", 2)) == 1
    assert output(s.run("print('alive')", 3)) == "alive\n"
    rest, status = s.finish()
    assert status == 0


def test_interrupt_infinite_loop(serve):
    s = serve()
    s.send_line({"op": "send", "code": "n = 0\nwhile True:\n    n += 1",
                 "id": "loop"})
    s.wait(lambda e: e["type"] == "state" and
           e["data"]["worker"] == "exec_start")
    time.sleep(0.3)
    s.send_line({"op": "interrupt"})
    evs = s.wait(lambda e: e["type"] == "state" and
                 e["data"]["worker"] == "exec_end")
    assert states(evs) == ["interrupted", "exec_end"], evs
    assert exec_end(evs) == 130
    assert "KeyboardInterrupt" in evs[-2]["data"]["traceback"]
    # The pod lives on, with the loop's globals.
    assert output(s.run("print(n > 0)", "after")) == "True\n"
    # An interrupt with nothing running changes nothing.
    s.send_line({"op": "interrupt"})
    assert output(s.run("print('ok')", "idle")) == "ok\n"
    s.finish()


def test_interrupt_inside_the_permission_hooks(serve):
    """A loop that spends its time in the runtime (denied opens): the
    interrupt waits until the runtime returns to the code, then comes."""
    s = serve()
    code = ("while True:\n"
            "    try:\n"
            "        open('/etc/passwd')\n"
            "    except PermissionError:\n"
            "        pass\n")
    s.send_line({"op": "send", "code": code, "id": 1})
    s.wait(lambda e: e["type"] == "state")
    time.sleep(0.5)
    s.send_line({"op": "interrupt"})
    evs = s.wait(lambda e: e["type"] == "state" and
                 e["data"]["worker"] == "exec_end")
    assert "interrupted" in states(evs) and exec_end(evs) == 130
    assert output(s.run("print(1)", 2)) == "1\n"
    s.finish()


def test_denial_message_and_grant(serve):
    s = serve("--allow-read=/etc/hostname")
    evs = s.run("open('/etc/shadow')", 1)
    exc = [e for e in evs if e["type"] == "state" and
           e["data"]["worker"] == "exception"][0]["data"]
    assert exc["exc_type"] == "PermissionError"
    assert 'Requires read access to "/etc/shadow", run again with ' \
        '--allow-read=/etc/shadow' in exc["traceback"]
    evs = s.run("print(len(open('/etc/hostname').read()) > 0)", 2)
    assert output(evs) == "True\n"
    s.finish()


def test_submission_is_text(serve):
    """A submission is text, compiled as compile(str) would: a coding
    cookie in it is not applied a second time, and a syntax error is the
    submission's, with its line."""
    s = serve()
    evs = s.run("# -*- coding: latin-1 -*-\nprint(len('\u00e9t\u00e9'))\n",
                1)
    assert output(evs) == "3\n"
    evs = s.run("x = 1\nx = (\n", 2)
    exc = [e["data"] for e in evs if e["type"] == "state" and
           e["data"]["worker"] == "exception"]
    assert exc and exc[0]["exc_type"] == "SyntaxError"
    assert "line 2" in exc[0]["traceback"]
    s.finish()


def test_output_order_large_and_encoding(serve):
    s = serve()
    code = ("import sys\n"
            "for i in range(3):\n"
            "    print('out', i)\n"
            "    print('err', i, file=sys.stderr)\n"
            "print('no newline', end='')\n")
    evs = s.run(code, 1)
    got = [(e["stream"], e["data"]) for e in evs if e["type"] == "output"]
    text = "".join(d for _, d in got)
    assert text == "out 0\nerr 0\nout 1\nerr 1\nout 2\nerr 2\nno newline"
    # 4 MiB, whole and in order.
    evs = s.run("import sys\nfor i in range(65536):\n"
                "    sys.stdout.write('%063d\\n' % i)", 2)
    big = output(evs)
    assert len(big) == 4 * 1024 * 1024
    assert big.splitlines()[12345] == "%063d" % 12345
    # Bytes written to fd 1 directly: valid UTF-8 always.
    evs = s.run("import os\nos.write(1, b'\\xff\\xfeok \\xe2\\x9c\\x93\\n')",
                3)
    assert output(evs) == "\ufffd\ufffdok \u2713\n"
    s.finish()


def test_malformed_requests_get_errors_and_serving_goes_on(serve):
    s = serve(start=False)
    s.send_line("this is not json")
    ev = s.next()
    assert ev["type"] == "error" and "line 1, column" in ev["data"], ev
    s.send_line({"op": "send", "code": "print(1)", "id": 9})
    ev = s.next()
    assert ev["type"] == "error" and ev["id"] == 9 and \
        "start" in ev["data"], ev
    s.send_line({"op": "start"})
    s.wait(lambda e: e["type"] == "ready")
    for bad, what in [({"op": "launch"}, "unknown op"),
                      ({"op": "send", "code": 5, "id": 1}, '"code"'),
                      ({"op": "send", "code": "", "fresh": 1, "id": 2},
                       '"fresh"'),
                      ({"op": "send", "code": "", "cod": 1, "id": 3},
                       'unknown member "cod"'),
                      ({"op": "start"}, "already started"),
                      ([1, 2], "object"),
                      ('{"op":"send","op":"stop"}', "line")]:
        s.send_line(bad)
        ev = s.next()
        assert ev["type"] == "error" and what in ev["data"], (bad, ev)
    assert output(s.run("print('fine')", "ok")) == "fine\n"
    rest, status = s.finish()
    assert status == 0


def test_end_of_input_runs_what_was_sent_then_stops(serve):
    s = serve()
    for i in range(5):
        s.send_line({"op": "send", "code": f"print({i})", "id": i})
    rest, status = s.finish(stop=False)
    assert output(rest) == "0\n1\n2\n3\n4\n"
    assert rest[-1] == {"type": "exit", "data": {"code": 0}}
    assert status == 0


def test_requests_before_the_pod_is_up_are_kept_in_order():
    """start, sends and stop written at once, before the daemons are
    configured: everything runs, in order."""
    reqs = [{"op": "start"}] + \
        [{"op": "send", "code": f"print({i})", "id": i} for i in range(3)] + \
        [{"op": "stop"}]
    r = subprocess.run([str(PODRUNNER), "serve"], env=base_env(),
                       input="".join(json.dumps(q) + "\n" for q in reqs),
                       capture_output=True, text=True, timeout=WAIT)
    evs = [json.loads(l) for l in r.stdout.splitlines()]
    assert output(evs) == "0\n1\n2\n", r.stdout
    assert evs[-1]["type"] == "exit" and r.returncode == 0, r.stderr


def test_worker_exit_ends_serving(serve):
    s = serve()
    s.send_line({"op": "send", "code": "import os; os._exit(7)", "id": 1})
    rest, status = s.finish(stop=False)
    assert rest[-1] == {"type": "exit", "data": {"code": 7}}, rest
    assert status == 7


def test_memory_limit_kills_the_pod(serve):
    s = serve("--memory=32mb")
    s.send_line({"op": "send", "id": 1,
                 "code": "x = []\nwhile True:\n    x.append(b'x' * 2**20)"})
    rest, status = s.finish(stop=False)
    assert rest[-1] == {"type": "exit", "data": {"code": 137}}, rest
    assert status == 137
    assert b"memory limit 32 MiB reached" in s.stderr


def test_timeout_is_per_submission(serve):
    s = serve("--timeout=1500ms")
    # Three submissions of 0.6 s: 1.8 s in all, each under the limit.
    for i in range(3):
        assert exec_end(s.run("import time; time.sleep(0.6)", i)) == 0
    s.send_line({"op": "send", "code": "while True: pass", "id": "spin"})
    rest, status = s.finish(stop=False)
    assert rest[-1]["data"]["code"] == EXIT_TIMEOUT, rest
    assert status == EXIT_TIMEOUT
    assert b"timeout after 1500ms" in s.stderr


@pytest.mark.parametrize("forge, why", [
    ("_w.send_frame({'type': 'state', 'seq': 999, 'worker': 'exec_end',"
     " 'exit_code': 0})", "not running"),
    ("_w.ring.send(b'\\x00not json'); _w.notify_data()", "not a JSON"),
    ("_w.send_frame({'type': 'output', 'stream': 'tty', 'data': 'x'})",
     "output frame"),
])
def test_forged_frames_cut_the_worker_off(serve, forge, why):
    s = serve()
    code = "import podrunner_worker\n_w = podrunner_worker._worker\n" + \
        forge + "\nimport time\ntime.sleep(0.2)"
    s.send_line({"op": "send", "code": code, "id": 1})
    rest, status = s.finish(stop=False)
    assert b"worker cut off" in s.stderr and why.encode() in s.stderr, \
        s.stderr
    # Its socket is closed: the worker exits 70 when it next uses it.
    assert rest[-1] == {"type": "exit", "data": {"code": 70}}, rest
    assert status == 70


@pytest.mark.parametrize("args, msg", [
    (["serve", "script.py"], "serve: unexpected argument"),
    (["serve", "--worker=bun"], "python only"),
    (["serve", "--shm-size=1"], "shm"),
])
def test_serve_usage_errors(args, msg):
    r = subprocess.run([str(PODRUNNER), *args], env=base_env(),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=WAIT)
    assert r.returncode == EXIT_FAILURE and msg in r.stderr, r.stderr
    assert r.stdout == ""


FLOOD_REQUESTS = """\
import podrunner_worker, struct
_w = podrunner_worker._worker
for rid in range(1, 200000):
    _w.sock.send(struct.pack('<BI', 1, rid) + b'/etc/passwd')
"""

FLOOD_DATA = """\
import podrunner_worker, struct
_w = podrunner_worker._worker
for i in range(200000):
    _w.sock.send(struct.pack('<BI', 0x10, 0))
"""


@pytest.mark.parametrize("flood, why", [
    (FLOOD_REQUESTS, (b"requests in flight", b"control socket")),
    (FLOOD_DATA, (b"flood of DATA notes",)),
], ids=["requests", "data"])
def test_flooding_worker_is_cut_off_and_others_go_on(serve, flood, why):
    """A worker that floods the control socket (requests it never
    reads the answers to, or DATA notes with nothing in the ring) is
    cut off and reported; a pod beside it does not notice."""
    other = serve()
    other.run("n = 0", 0)
    s = serve()
    s.send_line({"op": "send", "code": flood, "id": 1})
    for i in range(1, 30):
        assert exec_end(other.run("n += 1", i)) == 0
    rest, status = s.finish(stop=False)
    assert b"worker cut off" in s.stderr, s.stderr
    assert any(w in s.stderr for w in why), s.stderr
    assert status == 70, (status, rest[-3:])
    assert output(other.run("print(n)", "n")) == "29\n"
    other.finish()


def test_many_submissions_then_a_traceback(serve):
    """2000 submissions before the first exception: its traceback still
    shows its line (the sources are kept, the last ones only)."""
    s = serve()
    for i in range(2000):
        s.send_line({"op": "send", "code": f"v{i % 7} = {i}", "id": i})
    s.wait(lambda e: e["type"] == "state" and e.get("id") == 1999 and
           e["data"]["worker"] == "exec_end", timeout=120)
    evs = s.run("assert v0 == 1995, 'kept'\nraise ValueError('late')", "x")
    exc = [e for e in evs if e["type"] == "state" and
           e["data"]["worker"] == "exception"][0]["data"]
    assert exc["exc_type"] == "ValueError", exc
    assert "raise ValueError('late')" in exc["traceback"], exc
    s.finish()


def test_cut_off_worker_that_goes_on_is_killed(serve):
    """A worker that forges a frame and then never looks at its socket
    again is killed 2 s after it is cut off, with the submissions queued
    behind it dropped."""
    s = serve()
    code = ("import podrunner_worker\n"
            "podrunner_worker._worker.send_frame({'type': 'state', "
            "'seq': 99, 'worker': 'exec_end', 'exit_code': 0})\n"
            "while True:\n    pass\n")
    s.send_line({"op": "send", "code": code, "id": 1})
    for i in range(2, 50):
        s.send_line({"op": "send", "code": "pass", "id": i})
    rest, status = s.finish(stop=False)
    assert b"worker cut off" in s.stderr, s.stderr
    assert b"did not stop within" in s.stderr, s.stderr
    assert rest[-1] == {"type": "exit", "data": {"code": 137}}, rest[-3:]
    assert status == 137


def test_interrupt_right_after_send(serve):
    """An interrupt written right behind its send, before the code
    starts: it is for that submission, delivered when it starts."""
    s = serve()
    for i in range(5):
        s.send_line({"op": "send", "code": "while True: pass", "id": i})
        s.send_line({"op": "interrupt"})
        evs = s.wait(lambda e: e["type"] == "state" and e["id"] == i and
                     e["data"]["worker"] == "exec_end")
        assert exec_end(evs) == 130, evs
    assert output(s.run("print('next')", "n")) == "next\n"
    s.finish()


def test_slow_reader_gets_every_event():
    """An embedder that reads only after podrunner is done: nothing is
    lost, the exit event last (podrunner waits for its reader)."""
    reqs = [{"op": "start"},
            {"op": "send", "id": 1, "code": "import sys\n"
             "for i in range(20000):\n"
             "    sys.stdout.write('%099d\\n' % i)"},
            {"op": "stop"}]
    p = subprocess.Popen([str(PODRUNNER), "serve"], env=base_env(),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    p.stdin.write("".join(json.dumps(q) + "\n" for q in reqs).encode())
    p.stdin.close()
    time.sleep(2)
    evs = [json.loads(l) for l in p.stdout.read().splitlines()]
    assert p.wait(timeout=WAIT) == 0
    assert evs[-1] == {"type": "exit", "data": {"code": 0}}
    assert output(evs) == "".join("%099d\n" % i for i in range(20000))
