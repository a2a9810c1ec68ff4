"""
The reference C worker, example/cworker.c (built by make as
build/example/cworker), run as a custom worker:
`podrunner run --worker=custom:build/example/cworker script args...`.

Under podrunner and the full sandbox: hello, arguments, stdin, exit
statuses, the events, a permission request allowed and denied
(--allow-read), the scrubbed environment, and a worker that writes a
garbage frame: the relay cuts it off and reports it, the worker exits
70, and a pod running beside it does not notice.  With the test as the
supervisor (as test_worker_python does): STOP before and during the run,
unknown frames, and exit 70 for each set-up and protocol failure.
"""

import base64
import json
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import (EXIT_FAILURE, EXIT_NOENT, EXIT_NOEXEC, ROOT, Case,
                      Pod, cases_by_name, podrunner, run_case, write_script)

import test_worker_python as twp  # noqa: E402

CWORKER = ROOT / "build" / "example" / "cworker"
WORKER = f"--worker=custom:{CWORKER}"


@pytest.fixture(scope="module", autouse=True)
def _built():
    if not os.access(CWORKER, os.X_OK):
        pytest.fail(f"{CWORKER} missing: run make", pytrace=False)


def cw(name, source, **kw):
    """A case: source is the script cworker runs (the entry)."""
    kw.setdefault("suffix", ".cw")
    kw["flags"] = [WORKER, *kw.get("flags", ())]
    return Case(name, source, **kw)


ARGS = ["a", "b c", "", "ü → ✓", "--allow-all", "$HOME"]


def _argv(r, path):
    assert r.out.splitlines() == [str(path)] + ARGS, r.describe()


CASES = [
    cw("hello", "print hello from C\n", stdout=b"hello from C\n",
       stderr_exact=""),
    cw("comments-blank", "# nothing\n\n   \nprint x\r\n", stdout=b"x\n"),
    cw("empty", "", stdout=b"", stderr_exact=""),
    cw("args", "print $0\nargs\n", args=ARGS, check=_argv),
    cw("dollars", "print $1-$$1-$9-$\n", args=["one"],
       stdout=b"one-$1--$\n"),
    cw("stdin", "print before\nstdin\nprint after\n", stdin=b"in 1\nin 2\n",
       stdout=b"before\nin 1\nin 2\nafter\n"),
    cw("exit-0", "print a\nexit 0\nprint never\n", stdout=b"a\n"),
    cw("exit-3", "print a\nexit 3\nprint never\n", status=3, stdout=b"a\n"),
    cw("unknown-command", "print a\nbogus thing\nprint never\n", status=1,
       stdout=b"a\n", stderr_exact="line 2: unknown command 'bogus'\n"),
    cw("bad-exit", "exit 256\n", status=1,
       stderr_has=['exit: "256" is not a number from 0 to 255']),
    cw("sleep", "sleep 50\nprint woke\n", stdout=b"woke\n"),
]


@cases_by_name(CASES)
def test_cworker(case):
    run_case(case)


def test_example_hello():
    """example/hello.cw, as the README runs it: denied, then allowed."""
    hello = ROOT / "example" / "hello.cw"
    head = (b"Hello, you, from a C worker in a podrunner pod!\narguments:\n"
            b"you\nreading /etc/hostname, after asking policyd:\n")
    r = podrunner("run", WORKER, hello, "you")
    assert (r.status, r.stdout) == (1, head), r.describe()
    assert r.err_lines == [f"line 10: {deno('/etc/hostname')}"], r.describe()
    r = podrunner("run", WORKER, "--allow-read=/etc/hostname", hello, "you")
    with open("/etc/hostname", "rb") as f:
        host = f.read()
    assert (r.status, r.stdout) == (0, head + host + b"done\n"), \
        r.describe()


# --- events ------------------------------------------------------------------------

def _events(r):
    out = []
    for line in r.stderr.splitlines():
        i = line.find("event: {")
        if i >= 0:
            out.append(json.loads(line[i + len("event: "):]))
    return [e for e in out if e.get("type") != "syscalls"]


def test_events():
    r = run_case(cw("events", "print x\nexit 4\n", flags=["-d", "-v"],
                    status=4))
    assert _events(r) == [
        {"type": "state", "worker": "exec_start"},
        {"type": "state", "worker": "exec_end", "exit_code": 4}], r.describe()


def test_events_exception():
    r = run_case(cw("events-exc", "nope\n", flags=["-d", "-v"], status=1))
    ev = _events(r)
    assert [e["worker"] for e in ev] == ["exec_start", "exception",
                                         "exec_end"], r.describe()
    assert ev[1]["exc_type"] == "CommandError"
    assert ev[1]["traceback"] == "line 1: unknown command 'nope'\n"
    assert ev[2]["exit_code"] == 1


def test_custom_event():
    """A frame that is a JSON object with a "type" is passed on."""
    r = run_case(cw("events-custom",
                    'frame {"type":"output","data":"x","stream":"stdout"}\n',
                    flags=["-d", "-v"]))
    assert {"type": "output", "data": "x", "stream": "stdout"} in \
        _events(r), r.describe()


# --- permissions ----------------------------------------------------------------

def deno(path):
    return (f'Requires read access to "{path}", run again with '
            f"--allow-read={path}")


@pytest.fixture
def secret():
    """Not under /tmp: the runtime layer grants reading the pod's /tmp."""
    d = Path(tempfile.mkdtemp(prefix="podrunner-cw-", dir="/var/tmp"))
    os.chmod(d, 0o755)
    f = d / "secret.txt"
    f.write_text("the secret\n")
    os.chmod(f, 0o644)
    yield Path(os.path.realpath(f))
    shutil.rmtree(d, ignore_errors=True)


CAT = "print before\ncat $1\nprint after\n"


def test_read_denied(secret):
    r = run_case(cw("read-denied", CAT, args=[secret], status=1,
                    stdout=b"before\n",
                    stderr_exact=f"line 2: {deno(secret)}\n"))
    assert "the secret" not in r.out


def test_read_allowed(secret):
    run_case(cw("read-allowed", CAT, args=[secret],
                flags=[f"--allow-read={secret}"],
                stdout=b"before\nthe secret\nafter\n", stderr_exact=""))


def test_read_allowed_directory(secret):
    run_case(cw("read-allowed-dir", CAT, args=[secret],
                flags=[f"--allow-read={secret.parent}"],
                stdout=b"before\nthe secret\nafter\n"))


def test_read_deny_wins(secret):
    run_case(cw("read-deny-wins", CAT, args=[secret],
                flags=[f"--allow-read={secret.parent}",
                       f"--deny-read={secret}"],
                status=1, stdout=b"before\n",
                stderr_has=[deno(secret)]))


def test_ask():
    run_case(cw("ask", "ask net example.com:443\nask env HOME\n"
                "ask sys hostname\n",
                flags=["--allow-net=example.com", "--allow-sys=hostname"],
                stdout=b"net example.com:443: allow\nenv HOME: deny\n"
                       b"sys hostname: allow\n"))


def test_env_scrubbed():
    """PATH and the proxy variables; no POD_* variable, and not the
    relay's PODSHM_LIB, which the worker removes before the script."""
    r = run_case(cw("env", "env\n", env={"POD_ALLOW_NET": "a.com",
                                         "SECRET": "x",
                                         "PODSHM_LIB": "/host/lib"}))
    names = {l.split("=", 1)[0] for l in r.out.splitlines()}
    assert names == {"PATH", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                     "http_proxy", "https_proxy", "all_proxy", "NO_PROXY",
                     "no_proxy"}, r.describe()


# --- a hostile worker: garbage in its ring -------------------------------------

GARBAGE = ("print before\nframe this is not JSON\n"
           "cat /etc/hostname\nprint never\n")


def test_garbage_frame_cut_off():
    r = run_case(cw("garbage", GARBAGE, status=70, stdout=b"before\n"))
    assert "podrunner: worker cut off: ring frame is not a JSON event" in \
        r.stderr, r.describe()
    assert "cworker: control socket closed by the supervisor" in \
        r.stderr, r.describe()


@pytest.mark.parametrize("frame", ['["not", "an", "object"]',
                                   '{"no": "type"}', '{"type": 1}'])
def test_not_an_event_cut_off(frame):
    r = run_case(cw("not-event", f"frame {frame}\ncat /etc/hostname\n",
                    status=70))
    assert "worker cut off: ring frame is not a JSON event" in r.stderr, \
        r.describe()


def test_garbage_beside_a_healthy_pod(secret):
    """The cut-off is the hostile pod's alone: a pod started before it
    and still running asks, is answered, and ends as it should."""
    calm = write_script("print calm start\nsleep 1500\ncat $1\n"
                        "print calm end\nexit 5\n", suffix=".cw")
    with Pod(calm, args=[secret], flags=[WORKER,
                                         f"--allow-read={secret}"]) as pod:
        pod.wait_output(b"calm start\n")
        r = run_case(cw("garbage-beside", GARBAGE, status=70,
                        stdout=b"before\n"))
        assert "worker cut off" in r.stderr
        status = pod.wait()
        assert status == 5, pod.describe()
        assert pod.stdout == b"calm start\nthe secret\ncalm end\n", \
            pod.describe()
        assert "cut off" not in pod.stderr, pod.describe()


# --- the option ---------------------------------------------------------------------

def test_custom_worker_not_found():
    path = write_script("print x\n", suffix=".cw")
    r = podrunner("run", "--worker=custom:/nonexistent/cworker", path)
    assert r.status == EXIT_NOENT, r.describe()
    assert "podrunner: worker /nonexistent/cworker: No such file" in \
        r.stderr, r.describe()


def test_custom_worker_not_executable():
    prog = write_script("not a program\n", suffix="", mode=0o644)
    path = write_script("print x\n", suffix=".cw")
    r = podrunner("run", f"--worker=custom:{prog}", path)
    assert r.status == EXIT_NOEXEC, r.describe()
    assert "not an executable file" in r.stderr, r.describe()


def test_custom_worker_empty_path():
    path = write_script("print x\n", suffix=".cw")
    r = podrunner("run", "--worker=custom:", path)
    assert r.status == EXIT_FAILURE, r.describe()
    assert "custom:PATH" in r.stderr, r.describe()


def test_relative_worker_path():
    """custom:PATH is found from podrunner's working directory."""
    path = write_script("print relative\n", suffix=".cw")
    r = podrunner("run", "--worker=custom:build/example/cworker", path,
                  cwd=str(ROOT))
    assert (r.status, r.stdout) == (0, b"relative\n"), r.describe()


def test_no_sandbox():
    """Without the kernel sandbox: the host's path, the rpath's
    library."""
    path = write_script("print plain\n", suffix=".cw")
    r = podrunner("run", "--no-sandbox", WORKER, path)
    assert (r.status, r.stdout) == (0, b"plain\n"), r.describe()


# --- the protocol, with the test as the supervisor ------------------------------

class CSupervisor(twp.Supervisor):
    def start(self, args=None, env=None, stdin=b""):
        if args is None:
            args = [self.sock_path, self.name, str(self.size)]
        self.proc = subprocess.Popen(
            [str(CWORKER)] + args, env=env if env is not None else {},
            cwd=self.tmpdir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        if stdin is not None:
            self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self.proc.stdin = None

    def run_cw(self, script, argv=(), decide=None, until="exec_end"):
        path = os.path.join(self.tmpdir, "entry.cw")
        return self.run(script, argv=argv, path=path, decide=decide,
                        until=until)


@pytest.fixture(scope="module")
def lib():
    return twp.load_podshm()


@pytest.fixture
def sup(lib):
    tmpdir = tempfile.mkdtemp(prefix="pc-")
    s = CSupervisor(lib, tmpdir)
    yield s
    s.close()
    shutil.rmtree(tmpdir)


def test_protocol_run_and_events(sup):
    sup.start(stdin=b"in\n", env={"PODSHM_LIB": "/x", "KEEP": "1"})
    sup.accept()
    end = sup.run_cw("args\nstdin\nenv\n", argv=["x y"])
    status, out, err = sup.finish()
    assert (status, err) == (0, ""), err
    assert out == "x y\nin\nKEEP=1\n"
    assert end == {"type": "state", "worker": "exec_end", "exit_code": 0}
    assert sup.events() == ["exec_start", "exec_end"]


def test_protocol_requests(sup, tmp_path):
    """cat asks FS_READ of the resolved path and honours the answer;
    ask sends the kind's type; ids are non-zero and distinct."""
    f = tmp_path / "f.txt"
    f.write_text("content\n")
    link = tmp_path / "link"
    link.symlink_to(f)
    sup.start()
    sup.accept()
    # The first three are allowed, the fourth denied.
    sup.run_cw(f"cat {link}\nask run /bin/ls\nask listdir /\n"
               f"cat {f}\n",
               decide=lambda t, p: 1 if len(sup.requests) < 4 else 0)
    status, out, err = sup.finish()
    assert sup.requests[0][0] == 1 and sup.requests[0][2] == \
        str(f).encode()
    assert [(t, p) for t, _, p in sup.requests[1:3]] == [
        (4, b"/bin/ls"), (5, b"/")]
    ids = [i for _, i, _ in sup.requests]
    assert 0 not in ids and len(set(ids)) == len(ids)
    assert out == "content\nrun /bin/ls: allow\nlistdir /: allow\n"
    assert status == 1 and err == f"line 4: {deno(f)}\n"
    assert sup.events() == ["exec_start", "exception", "exec_end"]


def test_protocol_unknown_frames(sup):
    sup.start()
    sup.accept()
    sup.send_frame({"type": "bogus"})
    sup.send_frame(b"\xff not json")
    sup.send_frame(b"[1, 2]")
    sup.send_frame({"kind": "run"})
    errs = []
    while len(errs) < 4:
        assert sup.conn.recv(64) == twp.DATA
        errs += sup.recv_frames()
    assert errs == [
        {"type": "error", "data": "unknown frame type 'bogus'"},
        {"type": "error", "data": "frame is not UTF-8 JSON"},
        {"type": "error", "data": "frame is not a JSON object"},
        {"type": "error", "data": "frame without a string \"type\""},
    ]
    sup.run_cw("print still fine\n")
    assert sup.finish() == (0, "still fine\n", "")


def test_protocol_second_run(sup):
    """A run frame while a script runs gets an error; the first goes on."""
    sup.start()
    sup.accept()
    sup.run_cw("sleep 300\nprint done\n", until="exec_start")
    sup.send_frame({"type": "run", "path": "/x", "source_b64": ""})
    end = sup.serve()
    assert end["exit_code"] == 0
    assert {"type": "error", "data": "a script is already running"} in \
        sup.frames
    assert sup.finish() == (0, "done\n", "")


def test_protocol_no_source_reads_path(sup):
    sup.start()
    sup.accept()
    path = os.path.join(sup.tmpdir, "on-disk.cw")
    with open(path, "w") as f:
        f.write("print from disk\n")
    sup.send_frame({"type": "run", "path": path, "argv": [path]})
    sup.serve()
    assert sup.finish() == (0, "from disk\n", "")


def test_protocol_stop_before_run(sup):
    sup.start()
    sup.accept()
    sup.conn.send(twp.STOP)
    assert sup.finish() == (0, "", "")


def test_protocol_stop_during_run(sup):
    """STOP while the script sleeps: exit 0 at once, no exec_end."""
    sup.start()
    sup.accept()
    sup.run_cw('print started\nframe {"type":"marker"}\nsleep 60000\n'
               'print never\n', until="marker")
    sup.conn.send(twp.STOP)
    status, out, err = sup.finish()
    assert (status, out, err) == (0, "started\n", "")
    sup.recv_frames()
    assert "exec_end" not in sup.events()


def test_protocol_stop_while_asking(sup):
    """STOP instead of an answer: exit 0, nothing more."""
    sup.start()
    sup.accept()
    sup.send_frame({"type": "run", "path": "/x.cw", "source_b64":
                    base64.b64encode(b"ask read /x\nprint never\n")
                    .decode()})
    while True:
        msg = sup.conn.recv(65536)
        if msg != twp.DATA:
            break
    assert msg == struct.pack("<BI", 1, 1) + b"/x", msg
    sup.conn.send(twp.STOP)
    assert sup.finish() == (0, "", "")


def expect_70(sup, what):
    status, out, err = sup.finish()
    assert status == twp.EX_SOFTWARE, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cworker: "), err
    assert what in lines[0], err


@pytest.mark.parametrize("how,what", [
    ("args", "usage"), ("size", "shm_size"), ("segment", "No such file"),
    ("wrong-size", "Invalid argument"), ("connect", "connecting to"),
])
def test_protocol_setup_failures(sup, how, what):
    a = [sup.sock_path, sup.name, str(twp.SHM_SIZE)]
    if how == "args":
        a = ["only-one"]
    elif how == "size":
        a[2] = "lots"
    elif how == "segment":
        a[1] = "/podrunner-test-missing"
    elif how == "wrong-size":
        a[2] = str(twp.SHM_SIZE * 2)
    elif how == "connect":
        a[0] += ".nope"
    sup.start(args=a)
    expect_70(sup, what)


def test_protocol_socket_closed(sup):
    sup.start()
    sup.accept()
    sup.conn.close()
    sup.conn = None
    expect_70(sup, "closed")


def test_protocol_malformed_message(sup):
    sup.start()
    sup.accept()
    sup.conn.send(b"\x10\x00\x00")
    expect_70(sup, "control message of 3 bytes")


def test_protocol_unasked_decision(sup):
    sup.start()
    sup.accept()
    sup.conn.send(struct.pack("<BI", 1, 7))
    expect_70(sup, "decision for request 7, none asked")


@pytest.mark.parametrize("frame,what", [
    ({"type": "run", "path": "relative.cw", "source_b64": ""},
     "absolute path"),
    ({"type": "run", "path": "/x", "argv": "x", "source_b64": ""},
     "\"argv\" must be"),
    ({"type": "run", "path": "/x", "argv": [], "source_b64": ""},
     "\"argv\" must be"),
    ({"type": "run", "path": "/x", "source_b64": "!!!"}, "not base64"),
    ({"type": "run", "path": "/x", "source_b64": 5}, "must be a string"),
])
def test_protocol_malformed_run_frame(sup, frame, what):
    sup.start()
    sup.accept()
    sup.send_frame(frame)
    expect_70(sup, what)
    assert sup.recv_frames()[0]["type"] == "error"


def test_protocol_corrupt_ring(sup):
    sup.start()
    sup.accept()
    twp.corrupt_head(sup)
    expect_70(sup, "ring is corrupt")


def test_protocol_base64_and_escapes(sup):
    """The run frame's JSON with escapes and a multi-byte argument."""
    sup.start()
    sup.accept()
    src = "print $1|$2\n"
    path = os.path.join(sup.tmpdir, "entry.cw")
    raw = ('{"type":"run","path":"%s","argv":["%s","\\u00fc\\ud83d\\ude00",'
           '"tab\\there"],"source_b64":"%s","extra":{"x":[1,2.5e3,null,'
           'true]}}' % (path, path, base64.b64encode(src.encode()).decode()))
    sup.send_frame(raw.encode())
    sup.serve()
    assert sup.finish() == (0, "ü😀|tab\there\n", "")
