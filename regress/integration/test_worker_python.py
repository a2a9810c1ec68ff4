"""The Python worker runtime, driven by a supervisor played by the test.

The test process creates the rings (libpodshm through ctypes, role
PODSHM_SUPERVISOR) and a SOCK_SEQPACKET listening socket, starts
worker/python/podrunner_worker.py with /usr/bin/python3, and speaks the
protocol documented in that file's docstring.  The podrunner binary is not
involved.
"""

import base64
import ctypes
import errno
import json
import mmap
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "build", "lib", "libpodshm.so.1")
RUNTIME = os.path.join(ROOT, "worker", "python", "podrunner_worker.py")
PYTHON = "/usr/bin/python3"
SHM_SIZE = 64 * 1024
TIMEOUT = 20

PODSHM_SUPERVISOR = 1
DATA = struct.pack("<BI", 0x10, 0)
STOP = struct.pack("<BI", 0x11, 0)
EX_SOFTWARE = 70


@pytest.fixture(scope="session")
def _session():
    """Overrides conftest.py's: these tests do not need the podrunner
    binary.  (Its per-test leftovers check still applies.)"""
    yield


def load_podshm():
    """libpodshm through ctypes, the supervisor's side (the C tests and
    the other workers' protocol tests use it too)."""
    if not os.path.exists(LIB):
        subprocess.run(["make", "build/lib/libpodshm.so.1"], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)
    lib = ctypes.CDLL(LIB, use_errno=True)
    vp, sz = ctypes.c_void_p, ctypes.c_size_t
    lib.podshm_create.argtypes = [ctypes.c_char_p, sz, ctypes.c_uint]
    lib.podshm_create.restype = vp
    lib.podshm_close.argtypes = [vp]
    lib.podshm_close.restype = None
    lib.podshm_max_frame.argtypes = [vp]
    lib.podshm_max_frame.restype = sz
    lib.podshm_send.argtypes = [vp, ctypes.c_char_p, sz]
    lib.podshm_send.restype = ctypes.c_int
    lib.podshm_recv.argtypes = [vp, vp, sz]
    lib.podshm_recv.restype = ctypes.c_ssize_t
    return lib


@pytest.fixture(scope="session")
def lib():
    return load_podshm()


class Supervisor:
    """One worker and the supervisor's end of its two planes."""

    def __init__(self, lib, tmpdir, size=SHM_SIZE):
        self.lib = lib
        self.tmpdir = tmpdir
        self.size = size
        self.name = "/podrunner-test-%d-%s" % (os.getpid(),
                                               os.urandom(6).hex())
        self.shm = lib.podshm_create(self.name.encode(), size, 0o600)
        assert self.shm, os.strerror(ctypes.get_errno())
        self.buf = ctypes.create_string_buffer(lib.podshm_max_frame(self.shm))
        self.sock_path = os.path.join(tmpdir, "ctl.sock")
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.lsock.bind(self.sock_path)
        self.lsock.listen(1)
        self.lsock.settimeout(TIMEOUT)
        self.conn = None
        self.proc = None
        self.requests = []      # (type, req_id, payload)
        self.frames = []        # every frame from the worker, decoded

    def start(self, args=None, env=None, stdin=b""):
        env = dict(env if env is not None else
                   {"PODSHM_LIB": LIB, "PYTHONUNBUFFERED": "1"})
        if args is None:
            args = [self.sock_path, self.name, str(self.size)]
        self.proc = subprocess.Popen(
            [PYTHON, RUNTIME] + args, env=env, cwd=self.tmpdir,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        if stdin is not None:
            self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self.proc.stdin = None          # for communicate()

    def accept(self):
        self.conn, _ = self.lsock.accept()
        self.conn.settimeout(TIMEOUT)
        assert self.conn.recv(64) == b"READY\n"

    def send_frame(self, obj):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        assert self.lib.podshm_send(self.shm, data, len(data)) == 0
        self.conn.send(DATA)

    def recv_frames(self):
        out = []
        while True:
            n = self.lib.podshm_recv(self.shm, self.buf, len(self.buf))
            if n < 0:
                assert ctypes.get_errno() == errno.EAGAIN
                return out
            obj = json.loads(ctypes.string_at(self.buf, n))
            self.frames.append(obj)
            out.append(obj)

    def run(self, script, argv=(), path=None, decide=None, until="exec_end"):
        """Send a run frame and serve the worker until an event arrives."""
        if path is None:
            path = os.path.join(self.tmpdir, "entry.py")
            with open(path, "wb") as f:
                f.write(script if isinstance(script, bytes) else
                        script.encode())
        src = script if isinstance(script, bytes) else script.encode()
        self.send_frame({"type": "run", "path": path,
                         "argv": [path] + list(argv),
                         "source_b64": base64.b64encode(src).decode()})
        return self.serve(decide, until)

    def serve(self, decide=None, until="exec_end"):
        while True:
            msg = self.conn.recv(65536)
            assert msg, "worker closed the control socket"
            if msg == DATA:
                for f in self.recv_frames():
                    if f.get("worker") == until or f.get("type") == until:
                        return f
                continue
            rtype, rid = struct.unpack("<BI", msg[:5])
            self.requests.append((rtype, rid, msg[5:]))
            answer = decide(rtype, msg[5:]) if decide else 1
            if isinstance(answer, list):        # extra messages first
                for m in answer[:-1]:
                    m()
                answer = answer[-1]
            self.conn.send(struct.pack("<BI", answer, rid))

    def finish(self):
        out, err = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, out.decode(), err.decode()

    def events(self):
        return [f.get("worker") for f in self.frames
                if f.get("type") == "state"]

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        if self.conn:
            self.conn.close()
        self.lsock.close()
        self.lib.podshm_close(self.shm)
        try:
            os.unlink("/dev/shm" + self.name)
        except FileNotFoundError:
            pass


@pytest.fixture
def sup(lib):
    tmpdir = tempfile.mkdtemp(prefix="pw-")   # short: sun_path is 108 bytes
    s = Supervisor(lib, tmpdir)
    yield s
    s.close()
    shutil.rmtree(tmpdir)


def run_script(sup, script, **kw):
    sup.start(stdin=kw.pop("stdin", b""))
    sup.accept()
    end = sup.run(script, **kw)
    status, out, err = sup.finish()
    return end, status, out, err


# --- running scripts ------------------------------------------------------

def test_ready_and_print(sup):
    end, status, out, err = run_script(sup, "print('hello from the pod')\n")
    assert out == "hello from the pod\n"
    assert err == ""
    assert status == 0
    assert end == {"type": "state", "worker": "exec_end", "exit_code": 0}
    assert sup.events() == ["exec_start", "exec_end"]


def test_main_module_like_python3(sup):
    script = r"""
import os, sys
print(__name__, __file__ == sys.argv[0], sys.argv[1:])
print(sys.path[0] == os.path.dirname(__file__))
print(os.environ.get("PODSHM_LIB"), os.environ.get("PYTHONUNBUFFERED"))
print(sys.modules["__main__"] is sys.modules[__name__])
print(sorted(k for k in globals() if not k.startswith("__")))
print(repr(sys.stdin.read()))
"""
    end, status, out, err = run_script(sup, script, argv=["a b", "-x"],
                                       stdin=b"line one\nline two\n")
    assert err == ""
    assert out.splitlines() == [
        "__main__ True ['a b', '-x']",
        "True",
        "None 1",
        "True",
        "['os', 'sys']",
        repr("line one\nline two\n"),
    ]
    assert status == 0


def test_exit_status(sup):
    end, status, out, err = run_script(
        sup, "import sys\nprint('bye')\nsys.exit(3)\n")
    assert (status, out, end["exit_code"]) == (3, "bye\n", 3)
    assert sup.events() == ["exec_start", "exec_end"]


@pytest.mark.parametrize("code,status,err", [
    ("None", 0, ""), ("0", 0, ""), ("True", 1, ""), ("256 + 7", 7, ""),
    ("'fatal: no input'", 1, "fatal: no input\n"),
])
def test_system_exit_values(sup, code, status, err):
    end, st, out, e = run_script(sup, "raise SystemExit(%s)\n" % code)
    assert (st, end["exit_code"], e) == (status, status, err)


def test_exception(sup):
    script = "def f():\n    raise ValueError('boom')\n\nprint('before')\nf()\n"
    end, status, out, err = run_script(sup, script)
    assert status == 1 and end["exit_code"] == 1
    assert out == "before\n"
    assert sup.events() == ["exec_start", "exception", "exec_end"]
    exc = [f for f in sup.frames if f.get("worker") == "exception"][0]
    path = os.path.join(sup.tmpdir, "entry.py")
    for text in (err, exc["traceback"]):
        assert text.startswith("Traceback (most recent call last):\n")
        assert 'File "%s", line 5, in <module>' % path in text
        assert 'File "%s", line 2, in f' % path in text
        assert "raise ValueError('boom')" in text
        assert text.endswith("ValueError: boom\n")
        assert "podrunner_worker" not in text       # no runtime frames
    assert exc["exc_type"] == "ValueError"
    assert err == exc["traceback"]


def test_source_from_frame_and_coding_cookie(sup):
    """The source comes from the frame (the path need not exist), a coding
    cookie is honoured, and tracebacks still show the line."""
    script = ("# -*- coding: latin-1 -*-\n"
              "s = '\xe9t\xe9'\n"
              "print(len(s), s.encode('utf-8'))\n"
              "1/0\n").encode("latin-1")
    path = os.path.join(sup.tmpdir, "not-on-disk", "job.py")
    end, status, out, err = run_script(sup, script, path=path)
    assert out == "3 b'\\xc3\\xa9t\\xc3\\xa9'\n"
    assert status == 1
    assert 'File "%s", line 4, in <module>\n    1/0\n' % path in err
    assert err.endswith("ZeroDivisionError: division by zero\n")


def test_syntax_error(sup):
    end, status, out, err = run_script(sup, "x = (1,\nprint(x\n")
    assert status == 1
    assert 'File "%s"' % os.path.join(sup.tmpdir, "entry.py") in err
    assert "SyntaxError" in err
    assert sup.events() == ["exec_start", "exception", "exec_end"]


def test_null_byte_in_source(sup):
    """Source with a NUL is refused as compile() refuses it, not cut
    short at the NUL and run."""
    end, status, out, err = run_script(sup, b"print('before')\0\nprint(1)\n")
    assert status == 1
    assert out == ""
    assert "null bytes" in err


def test_atexit_and_threads_after_exec_end(sup):
    script = r"""
import atexit, sys, threading, time
atexit.register(lambda: print("atexit ran"))
def late():
    time.sleep(0.3)
    print("thread done")
threading.Thread(target=late).start()
sys.exit(4)
"""
    end, status, out, err = run_script(sup, script)
    assert out == "thread done\natexit ran\n"
    assert status == 4 and end["exit_code"] == 4


def test_keyboard_interrupt(sup):
    script = ("import atexit\n"
              "atexit.register(lambda: print('cleanup'))\n"
              "raise KeyboardInterrupt\n")
    end, status, out, err = run_script(sup, script)
    assert status == -signal.SIGINT
    assert out == "cleanup\n"
    assert "Traceback" in err and err.endswith("KeyboardInterrupt\n")
    assert end["exit_code"] == 130 and end["signal"] == signal.SIGINT
    assert sup.events() == ["exec_start", "exception", "exec_end"]


def test_user_excepthook(sup):
    script = ("import sys\n"
              "sys.excepthook = lambda t, v, tb: print('hook', t.__name__,"
              " tb.tb_frame.f_code.co_filename == __file__)\n"
              "raise OSError('x')\n")
    end, status, out, err = run_script(sup, script)
    assert (status, out, err) == (1, "hook OSError True\n", "")
    exc = [f for f in sup.frames if f.get("worker") == "exception"][0]
    assert exc["traceback"].endswith("OSError: x\n")


def test_traceback_larger_than_a_frame(lib):
    """On the smallest segment a big traceback is cut to fit, keeping its
    end; stderr still has all of it."""
    tmpdir = tempfile.mkdtemp(prefix="pw-")
    sup = Supervisor(lib, tmpdir, size=8192)
    try:
        end, status, out, err = run_script(
            sup, "raise ValueError('v' * 20000 + 'END')\n")
        assert status == 1 and end["exit_code"] == 1
        assert err.endswith("v" * 20000 + "END\n")
        exc = [f for f in sup.frames if f.get("worker") == "exception"][0]
        assert exc["truncated"] is True
        assert exc["traceback"].startswith("...")
        assert exc["traceback"].endswith("vvvvEND\n")
        assert len(json.dumps(exc)) <= 8192 // 2 - 192 - 4
    finally:
        sup.close()
        shutil.rmtree(tmpdir)


def test_large_script(lib):
    """A run frame larger than the runtime's initial receive buffer."""
    tmpdir = tempfile.mkdtemp(prefix="pw-")
    sup = Supervisor(lib, tmpdir, size=1 << 20)
    try:
        script = "DATA = %r\nprint(len(DATA))\n" % ("z" * 300000)
        end, status, out, err = run_script(sup, script)
        assert (status, out, err) == (0, "300000\n", "")
    finally:
        sup.close()
        shutil.rmtree(tmpdir)


def test_ring_full_does_not_hang(sup):
    """Nobody reads the worker->supervisor ring: a frame that does not fit
    is dropped after about 2 s with a warning, and the script goes on."""
    script = ("import podrunner_worker as pw\n"
              "n = 0\n"
              "while pw._worker.send_frame({'type': 'x',"
              " 'data': 'y' * 999}):\n"
              "    n += 1\n"
              "print(n)\n")
    sup.start()
    sup.accept()
    src = script.encode()
    sup.send_frame({"type": "run", "path": "/job/flood.py",
                    "source_b64": base64.b64encode(src).decode()})
    status, out, err = sup.finish()
    assert status == 0
    n = int(out)
    assert n == (SHM_SIZE // 2 - 192 - 41) // 1030     # exec_start: 41
    assert "podrunner-worker: warning: ring full for 2 s, x frame " \
        "dropped\n" in err
    frames = sup.recv_frames()
    assert frames[0] == {"type": "state", "worker": "exec_start"}
    assert frames[1:n + 1] == [{"type": "x", "data": "y" * 999}] * n
    # exec_end got in if there was room left, else it was dropped too.
    assert frames[n + 1:] in ([], [{"type": "state", "worker": "exec_end",
                                    "exit_code": 0}])


def test_unknown_frames_answered(sup):
    sup.start()
    sup.accept()
    sup.send_frame({"type": "bogus"})
    sup.send_frame(b"\xff not json")
    sup.send_frame(b"[1, 2]")
    errs = []
    while len(errs) < 3:
        assert sup.conn.recv(64) == DATA
        errs += sup.recv_frames()
    assert errs == [
        {"type": "error", "data": "unknown frame type 'bogus'"},
        {"type": "error", "data": "frame is not UTF-8 JSON"},
        {"type": "error", "data": "frame is not a JSON object"},
    ]
    end = sup.run("print('still fine')\n")
    assert end["exit_code"] == 0
    assert sup.finish() == (0, "still fine\n", "")


def test_stop_before_run(sup):
    sup.start()
    sup.accept()
    sup.conn.send(STOP)
    assert sup.finish() == (0, "", "")


# --- permission requests ---------------------------------------------------

def test_check_round_trip(sup):
    script = r"""
import podrunner_worker as pw
print(pw.check("FS_READ", "/etc/passwd"))
print(pw.check(pw.NET_CONNECT, "example.com:443"))
print(pw.check("exec", "/bin/ls"))
print(pw.check(pw.ENV, "HOME"))
try:
    pw.check("NOPE", "x")
except ValueError as e:
    print("ValueError", e)
"""
    table = {1: 1, 3: 0, 4: 2, 6: 1}

    def decide(rtype, payload):
        if rtype == 4:
            # A data notification and a frame arrive before the answer.
            return [lambda: sup.send_frame({"type": "noise"}), table[rtype]]
        return table[rtype]

    end, status, out, err = run_script(sup, script, decide=decide)
    assert err == ""
    assert out.splitlines() == ["1", "0", "2", "1", "ValueError "
                                "check(): unknown request type 'NOPE'"]
    assert [(t, p) for t, _, p in sup.requests] == [
        (1, b"/etc/passwd"), (3, b"example.com:443"), (4, b"/bin/ls"),
        (6, b"HOME")]
    ids = [i for _, i, _ in sup.requests]
    assert 0 not in ids and len(set(ids)) == len(ids)
    assert {"type": "error", "data": "unknown frame type 'noise'"} in \
        sup.frames
    assert status == 0


def test_stop_during_check(sup):
    script = ("import podrunner_worker as pw\n"
              "print('asking')\n"
              "pw.check('FS_WRITE', '/x')\n"
              "print('not reached')\n")
    sup.start()
    sup.accept()
    sup.send_frame({"type": "run", "path": "/job/s.py",
                    "source_b64": base64.b64encode(script.encode()).decode()})
    msg = b""
    while len(msg) != 5 + 2:
        msg = sup.conn.recv(64)         # DATA (exec_start), then the request
    assert msg[0] == 2 and msg[5:] == b"/x"
    sup.conn.send(STOP)
    assert sup.finish() == (0, "asking\n", "")


# --- protocol and set-up errors: exit 70 ----------------------------------

def expect_70(sup, what):
    status, out, err = sup.finish()
    assert status == EX_SOFTWARE, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("podrunner-worker: ")
    assert what in lines[0]
    assert "Traceback" not in err


def test_bad_arguments(sup):
    sup.start(args=["only-one"])
    expect_70(sup, "usage")


def test_bad_size_argument(sup):
    sup.start(args=[sup.sock_path, sup.name, "lots"])
    expect_70(sup, "shm_size")


def test_no_such_segment(sup):
    sup.start(args=[sup.sock_path, "/podrunner-test-missing", str(SHM_SIZE)])
    expect_70(sup, "No such file")


def test_wrong_segment_size(sup):
    sup.start(args=[sup.sock_path, sup.name, str(SHM_SIZE * 2)])
    expect_70(sup, "Invalid argument")


def test_no_library(sup):
    sup.start(env={"PODSHM_LIB": "/nonexistent/libpodshm.so.1"})
    expect_70(sup, "loading /nonexistent/libpodshm.so.1")


def test_connect_fails(sup):
    sup.start(args=[sup.sock_path + ".nope", sup.name, str(SHM_SIZE)])
    expect_70(sup, "connecting to")


def test_control_socket_closed(sup):
    sup.start()
    sup.accept()
    sup.conn.close()
    sup.conn = None
    expect_70(sup, "closed")


def test_malformed_control_message(sup):
    sup.start()
    sup.accept()
    sup.conn.send(b"\x10\x00\x00")
    expect_70(sup, "control message of 3 bytes")


def test_malformed_run_frame(sup):
    sup.start()
    sup.accept()
    sup.send_frame({"type": "run", "path": "relative.py",
                    "source_b64": ""})
    expect_70(sup, "absolute path")
    assert sup.recv_frames()[0]["type"] == "error"


@pytest.mark.parametrize("length", [0xffffffff, SHM_SIZE // 2 - 192 - 3,
                                    1000])
def test_corrupt_frame_length(sup, length):
    """A hostile supervisor->worker ring: the worker exits 70, no crash."""
    sup.start()
    sup.accept()
    frame = json.dumps({"type": "run", "path": "/x.py",
                        "source_b64": ""}).encode()
    assert sup.lib.podshm_send(sup.shm, frame, len(frame)) == 0
    fd = os.open("/dev/shm" + sup.name, os.O_RDWR)
    try:
        with mmap.mmap(fd, SHM_SIZE) as m:
            # Ring 1's data area starts at half + 192; the frame is first.
            off = SHM_SIZE // 2 + 192
            m[off:off + 4] = struct.pack("<I", length)
    finally:
        os.close(fd)
    sup.conn.send(DATA)
    expect_70(sup, "ring is corrupt")


def corrupt_head(sup):
    """Point the supervisor->worker ring's head far beyond its data,
    and tell the worker: a worker must refuse the ring (exit 70)."""
    fd = os.open("/dev/shm" + sup.name, os.O_RDWR)
    try:
        with mmap.mmap(fd, SHM_SIZE) as m:
            off = SHM_SIZE // 2 + 64
            m[off:off + 8] = struct.pack("<Q", 1 << 40)
    finally:
        os.close(fd)
    sup.conn.send(DATA)


def test_corrupt_head(sup):
    sup.start()
    sup.accept()
    corrupt_head(sup)
    expect_70(sup, "ring is corrupt")
