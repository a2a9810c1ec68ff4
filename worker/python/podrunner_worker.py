"""podrunner Python worker runtime, and the worker protocol it speaks.

This file is run by the pod's interpreter (Debian's /usr/bin/python3,
standard library only) as

    podrunner_worker.py <socket_path> <shm_name> <shm_size>

and runs one user script as ``__main__``, the way ``python3 entry.py
args...`` would.  The rest of this docstring describes the protocol
completely enough to write a worker in another language.

Environment
-----------
PODSHM_LIB
    Absolute path of libpodshm.so.1, the ring implementation (the
    supervisor sets it; otherwise the library is looked up with
    ctypes.util.find_library("podshm")).  The runtime removes it from
    os.environ before user code runs.
PYTHONUNBUFFERED=1
    Set by the supervisor.  stdin, stdout and stderr are the process's own
    file descriptors (a pipe or the terminal); the runtime does not
    redirect them.

Data plane: the shared-memory rings
-----------------------------------
``shm_name`` is a POSIX shared-memory object (shm_open) of exactly
``shm_size`` bytes, created and initialised by the supervisor.  It is split
50/50 into two single-producer single-consumer rings; the first half
carries worker -> supervisor, the second half supervisor -> worker.  The
layout of each half (all integers little endian):

    offset   0  u32 magic 0x4d485350 ("PSHM")
    offset   4  u32 version (1)
    offset   8  u32 capacity = shm_size / 2 - 192
    offset  64  u64 head: bytes ever written (producer stores, release)
    offset 128  u64 tail: bytes ever consumed (consumer stores, release)
    offset 192  data area of capacity bytes; stream position p is at
                data[p % capacity]

A frame is ``[u32 length][payload]``; it may wrap around the end of the
data area (the length prefix too), and its payload is at most
capacity - 4 bytes.  Use libpodshm (C, or through an FFI: podshm_open with
role PODSHM_WORKER = 0, podshm_send, podshm_recv) rather than re-implementing
it; a re-implementation must treat the segment as hostile (private copies
of the header and of its own index, bounds checks on everything read).

Every frame is one UTF-8 JSON object with a "type" member.

supervisor -> worker:

    {"type": "run", "path": "/abs/entry.py",
     "argv": ["/abs/entry.py", "arg1", ...],
     "source_b64": "<base64 of the file's bytes>"}

        Run the script.  "argv" defaults to [path]; without "source_b64"
        the file at "path" is read.  This runtime runs one script and
        exits.

worker -> supervisor:

    {"type": "state", "worker": "exec_start"}
        The script is about to be compiled and run.
    {"type": "state", "worker": "exception", "exc_type": "ValueError",
     "traceback": "Traceback (most recent call last):\\n ..."}
        The script ended with an uncaught exception (also SyntaxError and
        KeyboardInterrupt).  A traceback too large for a frame is cut,
        keeping its end, and "truncated": true is added.
    {"type": "state", "worker": "exec_end", "exit_code": N}
        The script is done; the process exits with N once atexit handlers
        and non-daemon threads have finished.  After an uncaught
        KeyboardInterrupt N is 130 and "signal": 2 is added: the process
        then kills itself with SIGINT, as CPython does.
    {"type": "error", "data": "unknown frame type 'x'"}
        A frame the worker did not understand (not JSON, not an object,
        unknown type, a second "run"); it is otherwise ignored.

If the worker -> supervisor ring stays full for about 2 seconds, the
frame is dropped with a warning on stderr.

Control plane: the socket
-------------------------
``socket_path`` is a Unix SOCK_SEQPACKET socket: one message per request,
response or notification, so no length field is needed.  The worker
connects and sends ``READY\\n`` once it has opened the rings.

worker -> supervisor:

    [u8 type][u32 req_id LE][payload, UTF-8]    a permission request
        types: FS_READ=1 FS_WRITE=2 NET_CONNECT=3 EXEC=4 LISTDIR=5
               ENV=6 FFI=7 SYS=8
        req_id is never 0.
    [u8 0x10][u32 0]                            DATA: frames were written
                                                to the worker->supervisor
                                                ring

supervisor -> worker, always exactly 5 bytes:

    [u8 decision][u32 req_id LE]    the answer to a request;
                                    decision 0 deny, 1 allow (podrunner also
                                    answers 1 for warn; 2 is reserved)
    [u8 0x10][u32 0]                DATA: frames are waiting in the
                                    supervisor->worker ring
    [u8 0x11][u32 0]                STOP: exit now

Whoever receives DATA reads every frame available (until the ring is
empty), so one DATA may announce several frames and a wake-up is never
lost.  A writer sends DATA after publishing its frames.  This runtime
reads the socket only while it waits for the "run" frame, inside check()
and while sending its events, so a STOP that arrives while the script
runs without asking for permissions takes effect only then; the
supervisor kills the pod if it must not wait.  On STOP the runtime
flushes stdout and stderr and exits at once with status 0 (no further
events, no atexit handlers).

Exit status
-----------
The script's own status (as with python3), 1 for an uncaught exception,
death by SIGINT for an uncaught KeyboardInterrupt, and 70 (EX_SOFTWARE)
for a protocol or set-up failure of the worker itself, with one line
"podrunner-worker: <reason>" on stderr: bad arguments, the library or the
shared-memory segment cannot be opened, the socket cannot be connected,
the control socket closes or carries a malformed message, a ring is
corrupt (EPROTO), or the "run" frame is malformed.

Permission checks
-----------------
check(kind, target) sends a request and waits for its decision.  It is
available to code in the pod as ``import podrunner_worker`` (the runtime
registers itself under that name); hooking it into builtins is separate.
"""

import base64
import ctypes
import ctypes.util
import errno
import json
import os
import signal
import socket
import struct
import sys
import time
import types

__all__ = ["check", "DENY", "ALLOW", "WARN", "FS_READ", "FS_WRITE",
           "NET_CONNECT", "EXEC", "LISTDIR", "ENV", "FFI", "SYS"]

EX_SOFTWARE = 70

PODSHM_WORKER = 0

# Requests, worker -> supervisor.
FS_READ = 1
FS_WRITE = 2
NET_CONNECT = 3
EXEC = 4
LISTDIR = 5
ENV = 6
FFI = 7
SYS = 8
REQUEST_TYPES = {
    "FS_READ": FS_READ, "FS_WRITE": FS_WRITE, "NET_CONNECT": NET_CONNECT,
    "EXEC": EXEC, "LISTDIR": LISTDIR, "ENV": ENV, "FFI": FFI, "SYS": SYS,
}

# Decisions, supervisor -> worker.
DENY = 0
ALLOW = 1
WARN = 2

# Notifications, both directions: [u8 code][u32 0].
NOTE_DATA = 0x10
NOTE_STOP = 0x11

CTL_MSG = struct.Struct("<BI")
READY = b"READY\n"
SEND_TIMEOUT = 2.0
RECV_BUF = 64 * 1024        # grown on demand, up to the largest frame


class ProtocolError(Exception):
    """The supervisor or the rings broke the protocol."""


def _die(reason):
    """Report a protocol or set-up failure and exit 70 at once."""
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    try:
        os.write(2, ("podrunner-worker: %s\n" % reason).encode(
            "utf-8", "backslashreplace"))
    except OSError:
        pass
    os._exit(EX_SOFTWARE)


def _warn(msg):
    try:
        sys.stderr.write("podrunner-worker: warning: %s\n" % msg)
        sys.stderr.flush()
    except Exception:
        pass


class Ring:
    """The worker's end of the libpodshm rings, through ctypes."""

    def __init__(self, libpath, name, size):
        lib = ctypes.CDLL(libpath, use_errno=True)
        vp, sz = ctypes.c_void_p, ctypes.c_size_t
        lib.podshm_open.argtypes = [ctypes.c_char_p, sz, ctypes.c_int]
        lib.podshm_open.restype = vp
        lib.podshm_close.argtypes = [vp]
        lib.podshm_close.restype = None
        lib.podshm_max_frame.argtypes = [vp]
        lib.podshm_max_frame.restype = sz
        lib.podshm_send.argtypes = [vp, ctypes.c_char_p, sz]
        lib.podshm_send.restype = ctypes.c_int
        lib.podshm_recv.argtypes = [vp, vp, sz]
        lib.podshm_recv.restype = ctypes.c_ssize_t
        lib.podshm_peek_len.argtypes = [vp]
        lib.podshm_peek_len.restype = ctypes.c_ssize_t
        self._lib = lib
        ctypes.set_errno(0)
        self._shm = lib.podshm_open(os.fsencode(name), size, PODSHM_WORKER)
        if not self._shm:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        self.max_frame = lib.podshm_max_frame(self._shm)
        self._buf = ctypes.create_string_buffer(min(self.max_frame, RECV_BUF))

    def send(self, data):
        """True if sent, False if the ring is full; raises otherwise."""
        if self._lib.podshm_send(self._shm, data, len(data)) == 0:
            return True
        e = ctypes.get_errno()
        if e == errno.EAGAIN:
            return False
        if e == errno.EPROTO:
            raise ProtocolError("worker->supervisor ring is corrupt")
        raise ProtocolError("writing the ring: %s" % os.strerror(e))

    def recv(self):
        """The next frame's bytes, or None if the ring is empty."""
        n = self._lib.podshm_peek_len(self._shm)
        if n > len(self._buf):
            self._buf = ctypes.create_string_buffer(n)
        if n >= 0:
            n = self._lib.podshm_recv(self._shm, self._buf, len(self._buf))
        if n >= 0:
            return ctypes.string_at(self._buf, n)
        e = ctypes.get_errno()
        if e == errno.EAGAIN:
            return None
        if e == errno.EPROTO:
            raise ProtocolError("supervisor->worker ring is corrupt "
                                "(bad index or frame length)")
        raise ProtocolError("reading the ring: %s" % os.strerror(e))


class _Worker:
    """Protocol state shared by the runtime and check()."""

    def __init__(self, ring, sock):
        self.ring = ring
        self.sock = sock
        self.next_id = 1
        self.answers = {}       # req_id -> decision that nobody awaits yet
        self.inbox = []         # decoded frames not yet handled
        self.running = False
        self.lock = _allocate_lock()        # one request at a time
        self.send_lock = _allocate_lock()   # one producer on the ring

    # --- control socket ------------------------------------------------

    def recv_ctl(self):
        """Read one control message; returns (code, req_id)."""
        try:
            msg = self.sock.recv(64)
        except OSError as e:
            raise ProtocolError("control socket: %s" % e.strerror)
        if not msg:
            raise ProtocolError("control socket closed by the supervisor")
        if len(msg) != CTL_MSG.size:
            raise ProtocolError("control message of %d bytes, want %d" %
                                (len(msg), CTL_MSG.size))
        code, rid = CTL_MSG.unpack(msg)
        if code in (DENY, ALLOW, WARN):
            return code, rid
        if code in (NOTE_DATA, NOTE_STOP) and rid == 0:
            return code, rid
        raise ProtocolError("control message with code 0x%02x" % code)

    def dispatch_note(self, code):
        if code == NOTE_STOP:
            for f in (sys.stdout, sys.stderr):
                try:
                    f.flush()
                except Exception:
                    pass
            os._exit(0)
        self.drain()

    def notify_data(self):
        """Tell the supervisor frames are waiting; False if it could not."""
        note = CTL_MSG.pack(NOTE_DATA, 0)
        deadline = time.monotonic() + SEND_TIMEOUT
        while True:
            try:
                self.sock.send(note, socket.MSG_DONTWAIT)
                return True
            except BlockingIOError:
                # The supervisor has unread messages; keep trying.
                if time.monotonic() > deadline:
                    _warn("control socket full, DATA notification dropped")
                    return False
                time.sleep(0.001)
            except OSError as e:
                if not self.running:
                    raise ProtocolError("control socket: %s" % e.strerror)
                _warn("control socket: %s" % e.strerror)
                return False

    # --- rings -------------------------------------------------------------

    def send_frame(self, obj):
        data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        if len(data) > self.ring.max_frame:
            size, data = len(data), self._shrink(obj)
            if data is None:
                _warn("frame of %d bytes does not fit the ring, dropped" %
                      size)
                return False
        deadline = time.monotonic() + SEND_TIMEOUT
        with self.send_lock:
            # Script threads may still call check() (which can answer
            # frames) while the main thread sends exec_end.
            while not self.ring.send(data):
                if time.monotonic() > deadline:
                    _warn("ring full for %.0f s, %s frame dropped" %
                          (SEND_TIMEOUT, obj.get("type")))
                    return False
                time.sleep(0.001)
        return self.notify_data()

    def _shrink(self, obj):
        """Cut the longest string member, keeping its end, until it fits."""
        obj = dict(obj)
        keys = [k for k, v in obj.items() if isinstance(v, str)]
        if not keys:
            return None
        key = max(keys, key=lambda k: len(obj[k]))
        obj["truncated"] = True
        text = obj[key]
        while text:
            text = text[len(text) // 2:] if len(text) > 64 else ""
            obj[key] = "..." + text
            data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
            if len(data) <= self.ring.max_frame:
                return data
        return None

    def drain(self):
        """Read every waiting frame; handle all but "run" frames now."""
        while True:
            raw = self.ring.recv()
            if raw is None:
                return
            try:
                obj = json.loads(raw)
            except (ValueError, RecursionError):
                self.send_frame({"type": "error",
                                 "data": "frame is not UTF-8 JSON"})
                continue
            if not isinstance(obj, dict):
                self.send_frame({"type": "error",
                                 "data": "frame is not a JSON object"})
                continue
            ftype = obj.get("type")
            if ftype == "run" and not self.running:
                self.inbox.append(obj)
            elif ftype == "run":
                self.send_frame({"type": "error",
                                 "data": "a script is already running"})
            else:
                self.send_frame({"type": "error",
                                 "data": "unknown frame type %r" % (ftype,)})

    def wait_run(self):
        """Block until a "run" frame arrives; return it."""
        while not self.inbox:
            code, rid = self.recv_ctl()
            if code in (NOTE_DATA, NOTE_STOP) and rid == 0:
                self.dispatch_note(code)
            else:
                raise ProtocolError("decision for request %d, none asked" %
                                    rid)
        return self.inbox.pop(0)

    # --- requests ----------------------------------------------------------

    def check(self, kind, target):
        rtype = _request_type(kind)
        if isinstance(target, str):
            payload = target.encode("utf-8", "surrogateescape")
        elif isinstance(target, (bytes, bytearray)):
            payload = bytes(target)
        else:
            raise TypeError("check(): target must be str or bytes")
        with self.lock:
            rid = self.next_id
            self.next_id = self.next_id % 0xffffffff + 1
            try:
                self.sock.send(CTL_MSG.pack(rtype, rid) + payload)
            except OSError as e:
                raise ProtocolError("control socket: %s" % e.strerror)
            while rid not in self.answers:
                code, got = self.recv_ctl()
                if code in (NOTE_DATA, NOTE_STOP) and got == 0:
                    self.dispatch_note(code)
                else:
                    # Answers to requests abandoned (e.g. by a
                    # KeyboardInterrupt) are kept but never read.
                    self.answers[got] = code
            return self.answers.pop(rid)


def _allocate_lock():
    import _thread
    return _thread.allocate_lock()


def _request_type(kind):
    if isinstance(kind, int) and not isinstance(kind, bool):
        if kind in REQUEST_TYPES.values():
            return kind
    elif isinstance(kind, str) and kind.upper() in REQUEST_TYPES:
        return REQUEST_TYPES[kind.upper()]
    raise ValueError("check(): unknown request type %r" % (kind,))


_worker = None


def check(kind, target):
    """Ask the supervisor whether an operation is allowed.

    kind is one of FS_READ, FS_WRITE, NET_CONNECT, EXEC, LISTDIR, ENV,
    FFI, SYS (the constant or its name); target is what the operation
    touches (a path, "host:port", a command, a variable name).  Returns
    DENY (0), ALLOW (1) or WARN (2, allowed but logged).  Data and stop
    notifications arriving meanwhile are handled.  A broken protocol ends
    the process with status 70.
    """
    if _worker is None:
        raise RuntimeError("check(): not running inside podrunner")
    try:
        return _worker.check(kind, target)
    except ProtocolError as e:
        _die(e)


# --- running the script ------------------------------------------------------

def _user_traceback(tb):
    """Drop the runtime's own frames from the top of a traceback."""
    mine = globals()
    while tb is not None and tb.tb_frame.f_globals is mine:
        tb = tb.tb_next
    return tb


def _report(exc):
    """Print an uncaught exception as python3 would; return its text."""
    import traceback

    tb = _user_traceback(exc.__traceback__)
    exc = exc.with_traceback(tb)
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    try:
        # The built-in hook reads source lines from disk only; the
        # traceback module also sees the source the frame brought.
        if sys.excepthook is sys.__excepthook__:
            sys.stderr.write(text)
        else:
            sys.excepthook(type(exc), exc, tb)
    except Exception:
        try:
            sys.stderr.write(text)
        except Exception:
            pass
    return text


def _exit_code(code):
    """The status python3 exits with for SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xff
    try:
        sys.stderr.write("%s\n" % (code,))
    except Exception:
        pass
    return 1


def _register_source(path, source):
    """Let tracebacks and inspect show the script even if not on disk."""
    import io
    import linecache
    import tokenize

    try:
        enc, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(enc)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    linecache.cache[path] = (len(text), None, lines, path)


def _parse_run(obj):
    path = obj.get("path")
    if not isinstance(path, str) or not os.path.isabs(path):
        raise ProtocolError("run frame: \"path\" must be an absolute path")
    argv = obj.get("argv", [path])
    if not isinstance(argv, list) or not argv or \
            not all(isinstance(a, str) for a in argv):
        raise ProtocolError("run frame: \"argv\" must be a non-empty list "
                            "of strings")
    b64 = obj.get("source_b64")
    if b64 is None:
        try:
            with open(path, "rb") as f:
                source = f.read()
        except OSError as e:
            raise ProtocolError("run frame: no source_b64 and %s: %s" %
                                (path, e.strerror))
    elif isinstance(b64, str):
        try:
            source = base64.b64decode(b64, validate=True)
        except ValueError:
            raise ProtocolError("run frame: \"source_b64\" is not base64")
    else:
        raise ProtocolError("run frame: \"source_b64\" must be a string")
    return path, argv, source


_sigint_exit = False


def _atexit_sigint():
    # Registered before the script's own handlers, so it runs after them
    # (and after non-daemon threads were joined), as CPython's own
    # exit-by-SIGINT happens after finalisation.
    if not _sigint_exit:
        return
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def _run(w, path, argv, source):
    """Run the script as __main__; return its exit status."""
    global _sigint_exit
    import atexit
    import builtins

    main = types.ModuleType("__main__")
    main.__dict__.update({
        "__file__": path,
        "__builtins__": builtins,
        "__cached__": None,
    })
    sys.modules["__main__"] = main
    sys.argv = list(argv)
    # As python3 does: the script's directory replaces the runtime's own,
    # unless -P/-I say not to add one.
    if not sys.flags.safe_path:
        if sys.path:
            sys.path[0] = os.path.dirname(path)
        else:
            sys.path.insert(0, os.path.dirname(path))
    _register_source(path, source)
    atexit.register(_atexit_sigint)

    w.send_frame({"type": "state", "worker": "exec_start"})
    event = None
    try:
        code = compile(source, path, "exec", dont_inherit=True)
        exec(code, main.__dict__)
        status = 0
    except SystemExit as e:
        status = _exit_code(e.code)
    except KeyboardInterrupt as e:
        event = e
        _sigint_exit = True
        status = 128 + signal.SIGINT
    except BaseException as e:
        event = e
        status = 1
    if event is not None:
        text = _report(event)
        w.send_frame({"type": "state", "worker": "exception",
                      "exc_type": type(event).__name__, "traceback": text})
        del event
    return status


def main(args):
    global _worker

    libpath = os.environ.pop("PODSHM_LIB", None)
    # PEP 538: with no locale given, CPython coerces the C locale and
    # exports LC_CTYPE=C.UTF-8 itself.  The script should see the
    # environment the supervisor gave, not the interpreter's addition.
    if (os.environ.get("LC_CTYPE") == "C.UTF-8" and
            "LC_ALL" not in os.environ and "LANG" not in os.environ):
        del os.environ["LC_CTYPE"]
    if len(args) != 3:
        _die("usage: podrunner_worker.py socket_path shm_name shm_size")
    sock_path, shm_name, size_arg = args
    try:
        shm_size = int(size_arg, 10)
        if not 0 < shm_size <= sys.maxsize:
            raise ValueError
    except ValueError:
        _die("shm_size %r is not a positive decimal number" % size_arg)
    if not libpath:
        libpath = ctypes.util.find_library("podshm")
        if not libpath:
            _die("libpodshm not found (set PODSHM_LIB)")
    try:
        ring = Ring(libpath, shm_name, shm_size)
    except OSError as e:
        if e.errno is None:
            _die("loading %s: %s" % (libpath, e))
        _die("opening shared memory %s (%d bytes): %s" %
             (shm_name, shm_size, e.strerror))
    except AttributeError as e:
        _die("%s is not libpodshm: %s" % (libpath, e))

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(sock_path)
        sock.sendall(READY)
    except OSError as e:
        _die("connecting to %s: %s" % (sock_path, e.strerror or e))

    _worker = w = _Worker(ring, sock)
    sys.modules.setdefault("podrunner_worker", sys.modules[__name__])
    try:
        path, argv, source = _parse_run(w.wait_run())
    except KeyboardInterrupt:
        # ^C before the script started: die of it quietly.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        os._exit(128 + signal.SIGINT)
    except ProtocolError as e:
        try:
            w.send_frame({"type": "error", "data": str(e)})
        except ProtocolError:
            pass
        _die(e)

    w.running = True
    try:
        status = _run(w, path, argv, source)
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
        end = {"type": "state", "worker": "exec_end", "exit_code": status}
        if _sigint_exit:
            end["signal"] = int(signal.SIGINT)
        w.send_frame(end)
    except ProtocolError as e:
        _die(e)
    # sys.exit, not os._exit: atexit handlers and thread joins still run.
    sys.exit(status)


if __name__ == "__main__":
    main(sys.argv[1:])
