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

    {"type": "exec", "seq": N, "code": "...", "fresh": false}

        Instead of "run", for a persistent worker (podrunner serve): run
        the code, then wait for the next "exec".  See "persistent
        worker" near the end of this file, and podrunner(8).

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

    [u8 type][u32 req_id LE][target, UTF-8]     a permission request
        types: FS_READ=1 FS_WRITE=2 NET_CONNECT=3 EXEC=4 LISTDIR=5
               ENV=6 FFI=7 SYS=8
        req_id is never 0, and unique among the requests in flight.
        The target is 1 to 4096 bytes without NUL (anything else closes
        the connection); its forms are under "Targets" below.
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

Targets
-------
What a request names, in the form the policy matches (policy.h):

    FS_READ, FS_WRITE, LISTDIR   an absolute path, symlinks resolved
                                 ("/etc/passwd"); LISTDIR is decided as
                                 a read of the directory
    NET_CONNECT   "host:port", "[v6addr]:port", or the host alone when
                  there is no port (a name lookup without one): a rule
                  with a port then does not match.  Host names in lower
                  case, IPv6 in its short form without a zone.
    EXEC          the absolute path of the program, symlinks resolved,
                  or a bare name that PATH does not find
    ENV           a variable name
    FFI           the absolute path of a library, symlinks resolved (a
                  name the runtime cannot place is sent as given)
    SYS           one of Deno's names: hostname, os, osRelease,
                  osUptime, loadavg, networkInterfaces,
                  systemMemoryInfo, uid, gid, cpus, homedir, username,
                  statfs, getPriority, setPriority, getegid

Permission checks
-----------------
check(kind, target) sends a request and waits for its decision (no
cache).  It is available to code in the pod as ``import
podrunner_worker`` (the runtime registers itself under that name).
Requests may come from several threads at once: one is in flight per
process at a time, and answers are matched by req_id.

Permission hooks
----------------
Just before the script runs (after the runtime's own imports), the
runtime installs a PEP 578 audit hook (sys.addaudithook: the script
cannot remove it) and a few wrappers (those in socket, shutil and
platform when the script imports them: the runtime does not import them
itself), and from then on asks before the script does what a permission
governs.  A denial raises PermissionError (errno EACCES) in the script,
before anything happens, with Deno's message naming the target and the
flag that allows it:

    Requires read access to "/etc/passwd", run again with
    --allow-read=/etc/passwd

(one line; "read" is read, write, net, run, env, ffi or sys).  Answers
are cached per (type, target) for the life of the process, since the
policy is fixed for a run: a loop of opens costs one round trip, and a
warn decision is logged by podrunner once per target.  The runtime's own
work (its control socket and rings, its own imports) is never asked
about; nor are the standard library's files read while json, socket,
signal, shutil, linecache, tokenize or a module they import loads: the
runtime leaves them to their first import, to start faster, but they
load as its own.  Audit events and what they ask:

    open                FS_WRITE if the mode has w, a, x or + or the
                        flags O_WRONLY, O_RDWR, O_CREAT, O_TRUNC or
                        O_APPEND, else FS_READ (builtins.open, io.open,
                        os.open, io.open_code, so imports too; an fd is
                        not asked about)
    os.listdir, os.scandir, os.walk, os.fwalk, shutil.copytree (source)
                        LISTDIR
    os.getxattr, os.listxattr, shutil.copyfile/copymode/copystat
    (source), shutil.unpack_archive (archive)
                        FS_READ
    os.mkdir, os.rmdir, os.remove, os.rename (both), os.link (both),
    os.symlink (the link), os.chmod, os.chown, os.utime, os.truncate,
    os.setxattr, os.removexattr, shutil.copyfile/copymode/copystat
    (destination), shutil.copytree (destination), shutil.move (both),
    shutil.chown, shutil.rmtree, shutil.unpack_archive (destination)
                        FS_WRITE (what removes, renames or creates a
                        name resolves the directory but not the name)
    socket.connect, socket.sendto, socket.sendmsg, socket.bind
                        NET_CONNECT for AF_INET/AF_INET6 (port 0 is
                        sent without a port); FS_WRITE of the socket
                        file for AF_UNIX (abstract names: nothing)
    socket.getaddrinfo  NET_CONNECT "host:port" (port None or 0: the
                        host alone; a service name is looked up); host
                        None is not asked about
    socket.gethostbyname, socket.gethostbyaddr
                        NET_CONNECT of the host alone
    socket.getnameinfo  NET_CONNECT "host:port"
    socket.gethostname  SYS "hostname"
    subprocess.Popen, os.posix_spawn, pty.spawn
                        EXEC: the program (executable, or args[0]),
                        looked up in PATH (Popen's env and cwd count)
    os.system           EXEC of /bin/sh, shown as "sh"
    os.exec             EXEC of the file (through os.execvp and the
                        other PATH-searching forms: of the name given)
    ctypes.dlopen       FFI: the library's path (a loaded library's from
                        /proc/self/maps, else LD_LIBRARY_PATH, ld.so.conf
                        and the default directories); not CDLL(None), the
                        running interpreter, which loads nothing
    os.putenv, os.unsetenv
                        ENV of the name (so setting and deleting
                        os.environ items asks)

EXEC is asked for the real path; when the name the program was called by
differs from its real file's (python3 -> python3.11), a rule for that
path or name is asked for too, and either allowing suffices.  A connect
to an address that a name allowed by getaddrinfo or gethostbyname
resolved to is allowed as the name was (Deno checks the name, not its
addresses); any other address is asked about.

Without an audit event, wrappers ask:

    os.environ, os.environb, os.getenv
                        a checking os._Environ: reading a variable that
                        is set asks ENV for its name (denied: raises); a
                        variable that is not set is absent without
                        asking; iteration, len(), repr() and copies show
                        only allowed variables
    os.uname, platform.uname (and platform.system etc.)    SYS "os"
    platform.node       SYS "hostname"
    os.getloadavg       SYS "loadavg"
    os.getuid, os.geteuid, os.getresuid                   SYS "uid"
    os.getgid, os.getgroups                               SYS "gid"
    os.getegid          SYS "getegid" (os.getresgid: gid and getegid)
    os.cpu_count        SYS "cpus"; denied, it returns None (the CPU
                        count is "undetermined", as its documentation
                        allows), since the standard library sizes its
                        pools by it (ThreadPoolExecutor, hence asyncio)
    os.getpriority, os.setpriority       SYS "getPriority", "setPriority"
    os.statvfs (shutil.disk_usage)       SYS "statfs"
    socket.if_nameindex, if_nametoindex, if_indextoname
                        SYS "networkInterfaces"
    os.spawn*           EXEC in the parent before the fork
    shutil.rmtree       FS_WRITE of the tree once; its removals inside
                        are not asked about again

After os.fork() the child inherits the hooks and the cache and asks over
the same control socket; a POSIX lock on a memfd then keeps one exchange
in flight across the processes, so each answer reaches the process that
asked (a child's req_ids have the top bit set).  A notification read by
a child is not for it: DATA is dropped (the worker reads the ring at
the next one), STOP makes the child exit.  A child never writes frames.

The hooks are the friendly layer, not a boundary: they give denials a
message and let warn and monitor decisions be logged; the kernel layers
(mounts, landlock, seccomp, the network namespace) are what enforce.
What they cannot see:
- metadata calls without an audit event: os.stat, os.lstat, os.access,
  os.path.exists, os.readlink, os.chdir, os.mkfifo, os.mknod;
- operations on file descriptors (os.read/os.write/os.sendfile/mmap on
  an fd that was opened before, or inherited);
- a relative path opened with dir_fd= is resolved against the current
  directory (the "open" event does not carry the fd; os.fwalk's own
  opens and the other events' dir_fd arguments are handled);
- ctypes: the running program (CDLL(None), ctypes.pythonapi) and what
  it has loaded (the C library among them) are usable without asking,
  and ctypes can undo anything in the process; so can code that reaches
  the originals (posix.getuid, _socket, os.environ._data, posix.environ)
  or rebinds this module's objects;
- a signal handler that runs while the runtime resolves a target (a
  library's path, a service name) or inside shutil.rmtree is not asked
  about (one that runs during an exchange with the supervisor is), nor
  is its reading the standard library's files while json and the other
  modules above load;
- glob, os.walk and FileFinder (imports) treat a denied directory like
  an unreadable one: skipped without an error (os.walk's top is asked).
"""

# Start-up cost counts (every run pays it before the script starts):
# only C modules here (and os, which the interpreter has loaded already).
# json, socket, signal, shutil and linecache would bring re, enum and
# collections in, struct and types are Python wrappers; the C parts do
# (_json, _socket, _signal, _struct), and wrappers in modules the script
# may import are installed when it does (_when_imported).
import _ctypes
import _frozen_importlib_external
import _json
import _signal
import _socket
import _struct
import _thread
import binascii
import errno
import fcntl
import itertools
import os
import select
import sys
import time

# The types of the types module, which costs its import (0.2 ms).
_ModuleType = type(sys)
_SimpleNamespace = type(sys.implementation)
try:
    raise TypeError
except TypeError as _e:
    _TracebackType = type(_e.__traceback__)
    del _e

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

CTL_MSG = _struct.Struct("<BI")
READY = b"READY\n"
SEND_TIMEOUT = 2.0
RECV_BUF = 64 * 1024        # grown on demand, up to the largest frame
TARGET_MAX = 4096           # bytes of a request's target
RID_SPAN = 0x7fffffff       # the worker's req_ids: 1 .. 0x7fffffff
CHILD_RID = 0x80000000      # a forked child's: this bit, its pid, a count
CACHE_MAX = 65536           # decisions remembered (then forgotten at once)
ANSWER_POLL = 0.05          # s: re-check filed answers while waiting
MAX_IN_FLIGHT = 8           # requests per process (the socket queues 10)
RESEND_AFTER = 5.0          # s of silence before a request is sent again


class ProtocolError(Exception):
    """The supervisor or the rings broke the protocol."""


# --- JSON: json.dumps(obj, separators=(",", ":")) and json.loads(bytes),
# through json's own C accelerator, as json itself does -------------------

def _json_default(o):
    raise TypeError(f"Object of type {o.__class__.__name__} "
                    f"is not JSON serializable")


# (markers, default, encoder, indent, key_separator, item_separator,
# sort_keys, skipkeys, allow_nan).  No markers (check_circular): the
# runtime's frames hold no cycles, and without them one encoder is
# stateless and serves every call and thread.
_json_encode = _json.make_encoder(None, _json_default,
                                  _json.encode_basestring_ascii, None,
                                  ":", ",", False, False, True)


def _json_dumps(obj):
    """json.dumps(obj, separators=(",", ":")): ASCII, NaN allowed."""
    if isinstance(obj, str):
        return _json.encode_basestring_ascii(obj)
    return "".join(_json_encode(obj, 0))


_json_scan = _json.make_scanner(_SimpleNamespace(
    strict=True, object_hook=None, object_pairs_hook=None,
    parse_float=float, parse_int=int,
    parse_constant={"-Infinity": float("-inf"), "Infinity": float("inf"),
                    "NaN": float("nan")}.__getitem__,
    memo={}))
_JSON_WS = " \t\n\r"


def _json_encoding(b):
    """json.detect_encoding(b)."""
    if b.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        return "utf-32"
    if b.startswith((b"\xfe\xff", b"\xff\xfe")):
        return "utf-16"
    if b.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if len(b) >= 4:
        if not b[0]:
            return "utf-16-be" if b[1] else "utf-32-be"
        if not b[1]:
            return "utf-16-le" if b[2] or b[3] else "utf-32-le"
    elif len(b) == 2:
        if not b[0]:
            return "utf-16-be"
        if not b[1]:
            return "utf-16-le"
    return "utf-8"


def _json_loads(b):
    """json.loads(b) for bytes; ValueError (or RecursionError) if b is
    not a JSON document."""
    s = b.decode(_json_encoding(b), "surrogatepass")
    idx = len(s) - len(s.lstrip(_JSON_WS))
    try:
        obj, end = _json_scan(s, idx)
    except StopIteration:
        raise ValueError("Expecting value") from None
    except SystemError:
        # The scanner raises json.decoder.JSONDecodeError, when json is
        # loaded (else it fails this way).
        raise ValueError("not a JSON document") from None
    # The value's last character is not whitespace.
    if len(s.rstrip(_JSON_WS)) != end:
        raise ValueError("Extra data")
    return obj


_tls = _thread._local()


def _runtime():
    """``with _runtime():`` marks the runtime's own work in this thread;
    the permission hooks do not ask about it.  The mark is a per-thread
    re-entrant lock: taken and released in C, so that an exception a
    signal handler raises cannot leave it set (which would turn the
    checks off for the thread)."""
    r = getattr(_tls, "region", None)
    if r is None:
        r = _tls.region = _thread.RLock()
    return r


def _in_runtime():
    r = getattr(_tls, "region", None)
    return r is not None and r._is_owned()


def _loading_own():
    """``with _loading_own():`` marks the loading of one of the runtime's
    modules (_OWN_MODULES) in this thread, as _runtime() does its work."""
    r = getattr(_tls, "loading", None)
    if r is None:
        r = _tls.loading = _thread.RLock()
    return r


def _in_loading_own():
    r = getattr(_tls, "loading", None)
    return r is not None and r._is_owned()


def _flush_stdio():
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


def _die(reason):
    """Report a protocol or set-up failure and exit 70 at once."""
    said = False
    while True:
        # An exception a signal handler raises here must not keep the
        # process alive.
        try:
            if not said:
                said = True
                _flush_stdio()
                os.write(2, ("podrunner-worker: %s\n" % reason).encode(
                    "utf-8", "backslashreplace"))
            os._exit(EX_SOFTWARE)
        except BaseException:
            pass


def _warn(msg):
    try:
        sys.stderr.write("podrunner-worker: warning: %s\n" % msg)
        sys.stderr.flush()
    except Exception:
        pass


# --- the C calls: ctypes' own C module, not the ctypes package ----------------
#
# The package's Python half (ctypes/__init__ and what it imports) costs
# about 1.5 ms of every start for a handful of types; these are the same
# types, made from the same C module.  The script's own "import ctypes"
# loads the package as python3 would.

class _c_int(_ctypes._SimpleCData):
    _type_ = "i"


class _c_void_p(_ctypes._SimpleCData):
    _type_ = "P"


class _c_char_p(_ctypes._SimpleCData):
    _type_ = "z"


class _c_char(_ctypes._SimpleCData):
    _type_ = "c"


class _py_object(_ctypes._SimpleCData):
    _type_ = "O"


# size_t and ssize_t as ctypes picks them: the integer as wide as a pointer.
_c_size_t, _c_ssize_t = next(
    (type("_c_size_t", (_ctypes._SimpleCData,), {"_type_": c.upper()}),
     type("_c_ssize_t", (_ctypes._SimpleCData,), {"_type_": c}))
    for c in ("l", "q", "i")
    if _struct.calcsize(c) == _struct.calcsize("P"))


class _CFunction(_ctypes.CFuncPtr):
    """A C function of a library, errno kept (ctypes' CDLL(use_errno))."""
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _c_int


class _PyFunction(_ctypes.CFuncPtr):
    """A function of the Python C API, called with the GIL held and its
    exception raised (ctypes' PyDLL)."""
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI
    _restype_ = _c_int


class _Library:
    """A loaded library: its handle, and its functions by name."""

    def __init__(self, path, function=_CFunction):
        self._handle = _ctypes.dlopen(path, os.RTLD_LOCAL)
        self._function = function

    def function(self, name, argtypes, restype):
        f = self._function((name, self))
        f.argtypes = argtypes
        f.restype = restype
        return f


def _string_buffer(n):
    return (_c_char * n)()


class Ring:
    """The worker's end of the libpodshm rings, through ctypes."""

    def __init__(self, libpath, name, size):
        lib = _Library(libpath)
        vp, sz = _c_void_p, _c_size_t
        self._open = lib.function("podshm_open", [_c_char_p, sz, _c_int],
                                  vp)
        self._max_frame = lib.function("podshm_max_frame", [vp], sz)
        self._send = lib.function("podshm_send", [vp, _c_char_p, sz],
                                  _c_int)
        self._recv = lib.function("podshm_recv", [vp, vp, sz], _c_ssize_t)
        self._peek_len = lib.function("podshm_peek_len", [vp], _c_ssize_t)
        self._lib = lib
        _ctypes.set_errno(0)
        self._shm = self._open(os.fsencode(name), size, PODSHM_WORKER)
        if not self._shm:
            e = _ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        self.max_frame = self._max_frame(self._shm)
        self._buf = _string_buffer(min(self.max_frame, RECV_BUF))

    def send(self, data):
        """True if sent, False if the ring is full; raises otherwise."""
        if self._send(self._shm, data, len(data)) == 0:
            return True
        e = _ctypes.get_errno()
        if e == errno.EAGAIN:
            return False
        if e == errno.EPROTO:
            raise ProtocolError("worker->supervisor ring is corrupt")
        raise ProtocolError("writing the ring: %s" % os.strerror(e))

    def recv(self):
        """The next frame's bytes, or None if the ring is empty."""
        n = self._peek_len(self._shm)
        if n > len(self._buf):
            self._buf = _string_buffer(n)
        if n >= 0:
            n = self._recv(self._shm, self._buf, len(self._buf))
        if n >= 0:
            return bytes(memoryview(self._buf)[:n])
        e = _ctypes.get_errno()
        if e == errno.EAGAIN:
            return None
        if e == errno.EPROTO:
            raise ProtocolError("supervisor->worker ring is corrupt "
                                "(bad index or frame length)")
        raise ProtocolError("reading the ring: %s" % os.strerror(e))


class _CompilerFlags(_ctypes.Structure):
    _fields_ = [("cf_flags", _c_int), ("cf_feature_version", _c_int)]


PyCF_SOURCE_IS_UTF8 = 0x0100
PyCF_IGNORE_COOKIE = 0x0800
Py_file_input = 257

# Looked up now, before the hooks (a lookup raises ctypes.dlsym).
_compile_string = _Library(None, _PyFunction).function(
    "Py_CompileStringExFlags",
    [_c_char_p, _c_char_p, _c_int, _ctypes.POINTER(_CompilerFlags), _c_int],
    _py_object)


def _compile(source, filename):
    """compile(source, filename, "exec", dont_inherit=True), through the
    C API that python3 itself compiles a script with.  The builtin first
    asks whether the source is an ast object, and that builds the ast
    module's hundred-odd types: about 1 ms, and a collection of the
    garbage they make, at every run, which ``python3 script.py`` never
    pays.  Its flags are the builtin's: a str is taken as decoded (its
    coding cookie ignored), bytes as bytes (the cookie honoured)."""
    flags = PyCF_SOURCE_IS_UTF8
    if isinstance(source, str):
        source = source.encode("utf-8")    # as compile() does
        flags |= PyCF_IGNORE_COOKIE
    if b"\0" in source:
        # The builtin's own error for it (the C API would stop there).
        return compile(source, filename, "exec", dont_inherit=True)
    return _compile_string(source, os.fsencode(filename), Py_file_input,
                           _CompilerFlags(flags, sys.version_info.minor), -1)


class _Worker:
    """Protocol state shared by the runtime and check()."""

    def __init__(self, ring, sock):
        self.ring = ring
        self.sock = sock
        self.pid = os.getpid()  # of the worker; a forked child differs
        self.ids = itertools.count()    # next() is atomic under the GIL
        self.rid_base = 0
        self.rid_span = RID_SPAN
        self.pending = set()    # req_ids this process awaits an answer to
        self.answers = {}       # req_id -> decision not yet picked up
        self.inbox = []         # decoded frames not yet handled
        self.running = False
        self.persistent = False     # "exec" frames: podrunner serve
        # One exchange at a time per process.  Re-entrant: a signal
        # handler that asks while its thread waits for an answer sends
        # its own request and both answers are matched by req_id.
        self.lock = _thread.RLock()
        self.send_lock = _allocate_lock()   # one producer on the ring
        # After a fork the control socket is shared with another process:
        # a POSIX lock on a memfd then serialises exchanges between them
        # (see _fork_before).
        self.xfd = None
        self.xdepth = 0
        self.poller = None

    @property
    def forked(self):
        """True in a child forked from the worker by the script."""
        return os.getpid() != self.pid

    # --- control socket ------------------------------------------------

    def recv_ctl(self, timeout=None):
        """Read one control message; returns (code, req_id), or None if
        none came within timeout seconds."""
        try:
            if timeout is None:
                msg = self.sock.recv(64)
            else:
                if self.poller is None:
                    self.poller = select.poll()
                    self.poller.register(self.sock.fileno(), select.POLLIN)
                if not self.poller.poll(timeout * 1000):
                    return None
                # Not blocking: a signal handler that ran since may have
                # read the message.
                msg = self.sock.recv(64, _socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
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
        if self.forked:
            # A forked child consumed a notification meant for the
            # worker: it does not touch the rings (one consumer, one
            # producer); on STOP it exits, as the worker would.
            if code == NOTE_STOP:
                _flush_stdio()
                os._exit(0)
            return
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
                self.sock.send(note, _socket.MSG_DONTWAIT)
                return True
            except BlockingIOError:
                # The supervisor has unread messages; keep trying.
                if time.monotonic() > deadline:
                    _warn("control socket full, DATA notification dropped")
                    return False
                time.sleep(0.001)
            except OSError as e:
                # A persistent worker the supervisor cut off has nothing
                # left to run submissions for.
                if not self.running or self.persistent:
                    raise ProtocolError("control socket: %s" % e.strerror)
                _warn("control socket: %s" % e.strerror)
                return False

    # --- rings -------------------------------------------------------------

    def send_frame(self, obj):
        if self.forked:
            # Only the worker itself produces into the ring.
            return False
        data = _json_dumps(obj).encode("utf-8")
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
            data = _json_dumps(obj).encode("utf-8")
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
                obj = _json_loads(raw)
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
            elif ftype == "exec" and (self.persistent or not self.running):
                self.inbox.append(obj)
            elif ftype == "run":
                self.send_frame({"type": "error",
                                 "data": "a script is already running"})
            else:
                self.send_frame({"type": "error",
                                 "data": "unknown frame type %r" % (ftype,)})

    def wait_run(self):
        """Block until a "run" or "exec" frame arrives; return it."""
        while not self.inbox:
            code, rid = self.recv_ctl()
            if code in (NOTE_DATA, NOTE_STOP) and rid == 0:
                self.dispatch_note(code)
            else:
                raise ProtocolError("decision for request %d, none asked" %
                                    rid)
        return self.inbox.pop(0)

    # --- requests ----------------------------------------------------------

    def next_rid(self):
        return self.rid_base | (next(self.ids) % self.rid_span + 1)

    def check(self, kind, target):
        # Not marked as the runtime's own work (_runtime()): an exchange
        # raises no audit event the hooks handle (send and recv on the
        # control socket, fcntl.lockf and the ring's ctypes calls have
        # none they look at), while a signal handler runs inside its
        # recv() and must be asked about like any other code.  Its own
        # requests nest: the lock is re-entrant, answers go by req_id.
        rtype = _request_type(kind)
        payload = _payload(target)
        with self.lock:
            self._xlock()
            try:
                return self._exchange(rtype, payload)
            finally:
                self._xunlock()

    def _exchange(self, rtype, payload):
        # Requests nest (signal handlers that ask): keep the answers in
        # flight below what the supervisor may queue to us.
        while len(self.pending) >= MAX_IN_FLIGHT and \
                self._receive(ANSWER_POLL):
            pass
        rid = self._send_request(rtype, payload)
        answered = False
        try:
            silent = 0.0
            while rid not in self.answers:
                # A signal handler that asks runs inside this wait and
                # may read our answer (filing it): the wait is restarted
                # after the handler, so it must not block for good.
                if self._receive(ANSWER_POLL):
                    silent = 0.0
                    continue
                silent += ANSWER_POLL
                if silent >= RESEND_AFTER:
                    # Our answer was read by an exchange that an
                    # exception interrupted before it filed it: ask
                    # again (asking twice is harmless).
                    self.pending.discard(rid)
                    rid = self._send_request(rtype, payload)
                    silent = 0.0
            answered = True
            return self.answers.pop(rid)
        finally:
            if not answered:
                # Interrupted (KeyboardInterrupt, a signal handler's
                # exception): its answer is dropped when it comes.
                self.pending.discard(rid)
                self.answers.pop(rid, None)

    def _send_request(self, rtype, payload):
        rid = self.next_rid()
        self.pending.add(rid)
        try:
            self.sock.send(CTL_MSG.pack(rtype, rid) + payload)
        except OSError as e:
            self.pending.discard(rid)
            raise ProtocolError("control socket: %s" % e.strerror)
        return rid

    def _receive(self, timeout=None):
        """Read one control message and file it; False if none came."""
        got = self.recv_ctl(timeout)
        if got is None:
            return False
        code, rid = got
        if code in (NOTE_DATA, NOTE_STOP) and rid == 0:
            self.dispatch_note(code)
        elif rid in self.pending:
            self.pending.discard(rid)
            self.answers[rid] = code
        # Anything else answers a request that was given up: dropped.
        return True

    # --- fork ----------------------------------------------------------------

    def _xlock(self):
        if self.xfd is not None:
            if self.xdepth == 0:
                fcntl.lockf(self.xfd, fcntl.LOCK_EX)
            self.xdepth += 1

    def _xunlock(self):
        if self.xfd is not None:
            self.xdepth -= 1
            if self.xdepth == 0:
                fcntl.lockf(self.xfd, fcntl.LOCK_UN)

    def _fork_before(self):
        # No exchange of this process is in flight while it forks.  A
        # POSIX lock (per process, released if its holder dies) on a
        # memfd both processes share then serialises their exchanges,
        # so that every answer on the shared socket is read by the
        # process that asked.
        self.lock.acquire()
        if self.xfd is None:
            try:
                self.xfd = os.memfd_create("podrunner-ctl-lock",
                                           os.MFD_CLOEXEC)
            except (OSError, AttributeError) as e:
                _warn("no lock for the control socket after fork: %s" % e)

    def _fork_parent(self):
        self.lock.release()

    def _fork_child(self):
        self.lock = _thread.RLock()
        self.send_lock = _allocate_lock()
        self.xdepth = 0
        self.pending, self.answers = set(), {}
        self.ids = itertools.count()
        self.rid_base = CHILD_RID | ((os.getpid() & 0x3fffff) << 9)
        self.rid_span = 511


def _allocate_lock():
    import _thread
    return _thread.allocate_lock()


def _payload(target):
    """A request's target as bytes; ValueError if it cannot be sent."""
    if isinstance(target, str):
        payload = target.encode("utf-8", "surrogateescape")
    elif isinstance(target, (bytes, bytearray)):
        payload = bytes(target)
    else:
        raise TypeError("check(): target must be str or bytes")
    if not payload or b"\0" in payload or len(payload) > TARGET_MAX:
        raise ValueError("check(): the target must be 1 to %d bytes "
                         "without NUL" % TARGET_MAX)
    return payload


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
        answer = _worker.check(kind, target)
    except ProtocolError as e:
        _die(e)
    finally:
        if _interrupt_pending:
            _deliver_interrupt()
    return answer


# --- permission hooks --------------------------------------------------------
#
# Installed by _install_hooks() just before the script runs, after the
# runtime's own imports.  The module docstring ("Permission hooks") lists
# what is asked about and how targets are formed.

_KIND_WORD = {FS_READ: "read", FS_WRITE: "write", NET_CONNECT: "net",
              EXEC: "run", LISTDIR: "read", ENV: "env", FFI: "ffi",
              SYS: "sys"}

_WRITE_FLAGS = (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC |
                os.O_APPEND)


def denial(kind, target):
    """The PermissionError a denial raises (errno EACCES, Deno's words)."""
    word = _KIND_WORD[_request_type(kind)]
    e = PermissionError('Requires %s access to "%s", run again with '
                        '--allow-%s=%s' % (word, target, word, target))
    e.errno = errno.EACCES      # str(e) stays the message alone
    return e


class _Guard:
    """Asks (through the worker) and remembers the answers."""

    def __init__(self, worker):
        self.worker = worker
        self.cache = {}         # (type, target) -> allowed
        # Addresses a name resolved to after the name was allowed:
        # "ip" -> ports (0: any).  A connect to one of them is the
        # connect to the name (Deno checks the name, not its address).
        self.resolved = {}
        self.libdirs = None
        # The standard library's directory: its files are read without
        # asking while one of the runtime's own modules loads.
        stdlib = getattr(os, "__file__", None)
        self.stdlib = os.path.realpath(os.path.dirname(stdlib)) \
            if stdlib else None

    def allowed(self, rtype, target):
        if _in_runtime():
            return True         # the runtime's own work
        if rtype in (FS_READ, LISTDIR) and self.stdlib and \
                _in_loading_own() and \
                (target + "/").startswith(self.stdlib + "/"):
            return True         # the runtime's own import (_OWN_MODULES)
        key = (rtype, target)
        ok = self.cache.get(key)
        if ok is None:
            try:
                payload = _payload(target)
            except ValueError:
                return False    # cannot be asked: never allowed
            try:
                ok = self.worker.check(rtype, payload) != DENY
            except ProtocolError as e:
                _die(e)
            if len(self.cache) >= CACHE_MAX:
                self.cache.clear()
            self.cache[key] = ok
        return ok

    def require(self, rtype, target, shown=None):
        if not self.allowed(rtype, target):
            raise denial(rtype, target if shown is None else shown)

    # --- files -------------------------------------------------------------

    def path(self, rtype, path, follow=True, dir_fd=None):
        """Ask about a path argument (an fd or None: nothing to ask)."""
        p = _fspath(path)
        if p is not None:
            self.require(rtype, _resolve(p, follow, dir_fd))

    # --- network ------------------------------------------------------------

    def note_resolved(self, target_port, addrs):
        """An allowed name resolved to addrs [(ip, port)]."""
        if len(self.resolved) >= CACHE_MAX:
            self.resolved.clear()
        for ip, port in addrs:
            ports = self.resolved.setdefault(_host(ip), set())
            ports.add(0 if target_port == 0 else port)

    def connect(self, family, address, rtype=NET_CONNECT):
        """Ask about a connect/sendto/bind address of a socket family."""
        if family == _socket.AF_UNIX:
            p = _unix_path(address)
            if p is not None:
                self.require(FS_WRITE, _resolve(p, rtype == NET_CONNECT))
            return
        if family not in (_socket.AF_INET, _socket.AF_INET6) or \
                not isinstance(address, tuple) or len(address) < 2:
            return
        host = _host(address[0], family)
        port = address[1] if isinstance(address[1], int) else 0
        self.net(host, port, rtype == NET_CONNECT)

    def net(self, host, port, resolved=True):
        """Ask about host (as _host() made it) and port (0: none)."""
        if resolved:
            ports = self.resolved.get(host)
            if ports is not None and (0 in ports or port in ports):
                return
        self.require(NET_CONNECT, _net_target(host, port))

    # --- processes ----------------------------------------------------------

    def command(self, prog, cwd=None, env=None, search=True):
        """Ask about running prog (a name is looked up in PATH)."""
        p = _fspath(prog)
        if p is None:
            return
        if "/" in p:
            p = _absolute(p, cwd)
            self.executable(p, p)
            return
        if not search:
            p = _absolute(p, cwd)
            self.executable(p, p)
            return
        found = _which(p, env, cwd)
        if found is None:
            self.require(EXEC, p)
        else:
            self.executable(found, p)

    def executable(self, path, shown):
        """Ask about an executable file, by its real path; a name rule
        for the name it was called by (python3 -> python3.11) counts."""
        real = os.path.realpath(path)
        if self.allowed(EXEC, real):
            return
        norm = os.path.normpath(path)
        if os.path.basename(norm) != os.path.basename(real) and \
                self.allowed(EXEC, norm):
            return
        raise denial(EXEC, shown)

    # --- libraries ----------------------------------------------------------

    def library(self, name):
        """The absolute path dlopen(name) loads, when it can be told."""
        p = _fspath(name)
        if p is None:
            return None
        if "/" in p:
            return os.path.realpath(p)
        with _runtime():
            try:
                with open("/proc/self/maps", "rb") as f:
                    maps = f.read().decode("utf-8", "surrogateescape")
            except OSError:
                maps = ""
            for line in maps.splitlines():
                fields = line.split(None, 5)
                if len(fields) == 6 and fields[5].startswith("/") and \
                        os.path.basename(fields[5]) == p:
                    return os.path.realpath(fields[5])
            if self.libdirs is None:
                self.libdirs = _library_dirs()
            dirs = [d for d in os.environ.get("LD_LIBRARY_PATH",
                                              "").split(":") if d]
            for d in dirs + self.libdirs:
                cand = os.path.join(d, p)
                if os.path.isfile(cand):
                    return os.path.realpath(cand)
        return p


def _fspath(path):
    """A path argument as str; None for an fd, None or a non-path."""
    if path is None or isinstance(path, int):
        return None
    if isinstance(path, (bytearray, memoryview)):
        path = bytes(path)
    try:
        path = os.fspath(path)
    except TypeError:
        return None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return path


def _absolute(path, cwd=None):
    if os.path.isabs(path):
        return os.path.normpath(path)
    try:
        base = _fspath(cwd) or os.getcwd()
    except OSError:
        base = "/"
    return os.path.normpath(os.path.join(os.path.abspath(base), path))


def _resolve(path, follow=True, dir_fd=None):
    """A file target: absolute and symlink-resolved.  With follow false
    the last component is kept (remove, rename, symlink... act on it)."""
    if not os.path.isabs(path) and isinstance(dir_fd, int) and dir_fd >= 0:
        try:
            path = os.path.join(os.readlink("/proc/self/fd/%d" % dir_fd),
                                path)
        except OSError:
            pass
    path = _absolute(path)
    if follow:
        return os.path.realpath(path)
    head, tail = os.path.split(path)
    if not tail:
        return os.path.realpath(path)
    return os.path.join(os.path.realpath(head), tail)


def _unix_path(address):
    """The file of an AF_UNIX address; None if abstract or unnamed."""
    if isinstance(address, (bytes, bytearray)):
        if not address or address[0] == 0:
            return None
        return os.fsdecode(bytes(address))
    if isinstance(address, str):
        if not address or address[0] == "\0":
            return None
        return address
    return _fspath(address)


def _host(host, family=None):
    """A host as policyd matches it: lower case, IPv6 in its short form
    without a zone, "" as the unspecified address."""
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", "replace")
    host = str(host).strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "<broadcast>":
        return "255.255.255.255"
    if host == "":
        return "::" if family == _socket.AF_INET6 else "0.0.0.0"
    if ":" in host:
        host = host.split("%", 1)[0]
        try:
            host = _socket.inet_ntop(
                _socket.AF_INET6, _socket.inet_pton(_socket.AF_INET6, host))
        except (OSError, ValueError):
            pass
        return host
    if not host.isascii():
        try:
            with _runtime():
                host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host


def _is_address(host):
    for af in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(af, host)
            return True
        except (OSError, ValueError):
            pass
    return False


def _net_target(host, port):
    """"host:port", "[v6]:port"; without ":port" when the port is 0."""
    if ":" in host:
        host = "[%s]" % host
    return "%s:%d" % (host, port) if port else host


def _port(port):
    """getaddrinfo's port argument as a number (0: none, unknown)."""
    if port is None:
        return 0
    if isinstance(port, int):
        return port if 0 < port < 65536 else 0
    if isinstance(port, (bytes, bytearray)):
        port = bytes(port).decode("ascii", "replace")
    port = str(port)
    if port.isdigit():
        return int(port) if 0 < int(port) < 65536 else 0
    try:
        with _runtime():
            return _socket.getservbyname(port, "tcp")
    except OSError:
        return 0


def _which(name, env=None, cwd=None):
    """The file PATH finds for name (as the exec family would), or None."""
    with _runtime():
        try:
            dirs = os.get_exec_path(env)
        except (ValueError, TypeError):
            dirs = os.defpath.split(os.pathsep)
    for d in dirs:
        cand = _absolute(os.path.join(d or ".", name), cwd)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def _library_dirs():
    """The dynamic loader's directories: ld.so.conf, then the defaults."""
    dirs = []

    def conf(path, depth=0):
        try:
            with open(path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line.startswith("include") and depth < 4:
                pat = line[len("include"):].strip()
                pdir, pbase = os.path.split(pat)
                pre, star, post = pbase.partition("*")
                try:
                    names = sorted(os.listdir(pdir or "/etc"))
                except OSError:
                    continue
                for n in names:
                    if (star and n.startswith(pre) and n.endswith(post)
                            and len(n) >= len(pre) + len(post)) or \
                            n == pbase:
                        conf(os.path.join(pdir, n), depth + 1)
            elif line.startswith("/"):
                dirs.append(line)

    conf("/etc/ld.so.conf")
    arch = getattr(sys.implementation, "_multiarch", "")
    for d in ("/lib", "/usr/lib"):
        if arch:
            dirs.append(os.path.join(d, arch))
    dirs += ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]
    return dirs


def _fwalk_dir_fd(frame):
    """os.fwalk opens directories relative to a directory fd, which the
    "open" event does not carry: find it in the walker's frame."""
    code = getattr(getattr(os, "_fwalk", None), "__code__", None)
    if frame is not None and frame.f_code is code:
        fd = frame.f_locals.get("topfd")
        if isinstance(fd, int):
            return fd
    return None


# --- audit event handlers: (guard, args) -------------------------------------

def _on_open(g, args):
    path, mode, flags = (tuple(args) + (None, None, None))[:3]
    p = _fspath(path)
    if p is None:
        return
    write = isinstance(mode, str) and any(c in mode for c in "wax+")
    if isinstance(flags, int) and flags & _WRITE_FLAGS:
        write = True
    dir_fd = None
    if not os.path.isabs(p):
        # _audit <- the C function <- its Python caller
        dir_fd = _fwalk_dir_fd(sys._getframe(2))
    g.require(FS_WRITE if write else FS_READ, _resolve(p, True, dir_fd))


def _on_listdir(g, args):
    path = args[0] if args else None
    g.path(LISTDIR, "." if path is None else path)


def _paths(*spec):
    """A handler asking about path arguments: (index, type, follow,
    index of their dir_fd or None)."""
    def handler(g, args):
        for i, rtype, follow, fdi in spec:
            if i < len(args):
                dir_fd = args[fdi] if fdi is not None and \
                    fdi < len(args) else None
                path = args[i]
                if path is None and rtype in (FS_READ, LISTDIR):
                    path = "."
                g.path(rtype, path, follow, dir_fd)
    return handler


def _on_connect(g, args):
    sock, address = args[0], args[1]
    g.connect(getattr(sock, "family", None), address)


def _on_sendmsg(g, args):
    if len(args) > 1 and args[1] is not None:
        g.connect(getattr(args[0], "family", None), args[1])


def _on_bind(g, args):
    g.connect(getattr(args[0], "family", None), args[1], rtype=None)


def _on_getaddrinfo(g, args):
    host, port = args[0], args[1]
    if host is None:
        return          # the local host's own addresses, no lookup
    # An address (no lookup) that an allowed name resolved to is
    # treated as a connect to it would be.
    host = _host(host)
    g.net(host, _port(port), _is_address(host))


def _on_gethostbyname(g, args):
    g.require(NET_CONNECT, _net_target(_host(args[0]), 0))


def _on_getnameinfo(g, args):
    sa = args[0]
    if isinstance(sa, tuple) and len(sa) >= 2:
        port = sa[1] if isinstance(sa[1], int) else 0
        g.require(NET_CONNECT, _net_target(_host(sa[0]), port))


def _on_gethostname(g, args):
    g.require(SYS, "hostname")


def _on_popen(g, args):
    executable, argv, cwd, env = (tuple(args) + (None,) * 4)[:4]
    prog = executable
    if prog is None:
        if isinstance(argv, (str, bytes, os.PathLike)):
            prog = argv
        else:
            try:
                prog = list(argv)[0]
            except (TypeError, IndexError):
                return
    g.command(prog, cwd, env)


def _on_system(g, args):
    g.executable("/bin/sh", "sh")


def _on_exec(g, args):
    p = _fspath(args[0])
    if p is None:
        return
    # os.execvp() and friends try each PATH directory in turn: ask about
    # the name the script gave, as for subprocess (a candidate that does
    # not exist would otherwise be asked about, and named, first).
    caller = sys._getframe(2)
    search = getattr(getattr(os, "_execvpe", None), "__code__", None)
    if caller is not None and caller.f_code is search:
        name = _fspath(caller.f_locals.get("file"))
        if name and "/" not in name:
            g.command(name, env=caller.f_locals.get("env"))
            return
    p = _absolute(p)
    g.executable(p, p)


def _on_posix_spawn(g, args):
    p = _fspath(args[0])
    if p is None:
        return
    if "/" not in p and not os.path.isfile(p):
        g.command(p)    # posix_spawnp: looked up in PATH
    else:
        g.command(_absolute(p))


def _on_pty_spawn(g, args):
    argv = args[0]
    prog = argv if isinstance(argv, (str, bytes)) else \
        (list(argv) or [None])[0]
    g.command(prog)


def _on_dlopen(g, args):
    name = args[0] if args else None
    # dlopen(NULL) is the running program: nothing is loaded, and its
    # symbols, the C library's among them, are ctypes.pythonapi's, which
    # "import ctypes" itself opens this way.
    if name is None or name == "" or name == b"":
        return
    target = g.library(name)
    if target is not None:
        g.require(FFI, target)


def _on_env(g, args):
    key = args[0]
    if isinstance(key, (bytes, bytearray)):
        key = os.fsdecode(bytes(key))
    if isinstance(key, str):
        g.require(ENV, key)


_W, _R, _L = FS_WRITE, FS_READ, LISTDIR

_HANDLERS = {
    "open": _on_open,
    "os.listdir": _on_listdir,
    "os.scandir": _on_listdir,
    "os.walk": _paths((0, _L, True, None)),
    "os.fwalk": _paths((0, _L, True, 4)),
    "os.remove": _paths((0, _W, False, 1)),
    "os.rmdir": _paths((0, _W, False, 1)),
    "os.mkdir": _paths((0, _W, False, 2)),
    "os.rename": _paths((0, _W, False, 2), (1, _W, False, 3)),
    "os.link": _paths((0, _W, True, 2), (1, _W, False, 3)),
    "os.symlink": _paths((1, _W, False, 2)),
    "os.chmod": _paths((0, _W, True, 2)),
    "os.chown": _paths((0, _W, True, 3)),
    "os.utime": _paths((0, _W, True, 3)),
    "os.truncate": _paths((0, _W, True, None)),
    "os.setxattr": _paths((0, _W, True, None)),
    "os.removexattr": _paths((0, _W, True, None)),
    "os.getxattr": _paths((0, _R, True, None)),
    "os.listxattr": _paths((0, _R, True, None)),
    "shutil.copyfile": _paths((0, _R, True, None), (1, _W, True, None)),
    "shutil.copymode": _paths((0, _R, True, None), (1, _W, True, None)),
    "shutil.copystat": _paths((0, _R, True, None), (1, _W, True, None)),
    "shutil.copytree": _paths((0, _L, True, None), (1, _W, True, None)),
    "shutil.move": _paths((0, _W, False, None), (1, _W, False, None)),
    "shutil.chown": _paths((0, _W, True, None)),
    "shutil.rmtree": _paths((0, _W, True, 1)),
    "shutil.unpack_archive": _paths((0, _R, True, None),
                                    (1, _W, True, None)),
    "socket.connect": _on_connect,
    "socket.sendto": _on_connect,
    "socket.sendmsg": _on_sendmsg,
    "socket.bind": _on_bind,
    "socket.getaddrinfo": _on_getaddrinfo,
    "socket.gethostbyname": _on_gethostbyname,
    "socket.gethostbyaddr": _on_gethostbyname,
    "socket.getnameinfo": _on_getnameinfo,
    "socket.gethostname": _on_gethostname,
    "subprocess.Popen": _on_popen,
    "os.system": _on_system,
    "os.exec": _on_exec,
    "os.posix_spawn": _on_posix_spawn,
    "pty.spawn": _on_pty_spawn,
    "ctypes.dlopen": _on_dlopen,
    "os.putenv": _on_env,
    "os.unsetenv": _on_env,
}


def _make_audit_hook(g, handlers):
    get = handlers.get

    def audit(event, args):
        h = get(event)
        if h is None or _in_runtime():
            return
        try:
            h(g, args)
        except PermissionError as e:
            # Raised from here: the script's traceback ends at its call.
            raise e.with_traceback(None)
        except Exception as e:
            # Arguments this runtime does not understand: fail closed.
            raise PermissionError(errno.EACCES, "podrunner cannot check "
                                  "%s%r: %s" % (event, args, e)) from None
        finally:
            # An interrupt that came while we asked: now, in the code.
            if _interrupt_pending:
                _deliver_interrupt()

    return audit


# --- wrappers for what raises no audit event ---------------------------------

def _wrap(func, wrapper):
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(wrapper, attr, getattr(func, attr))
        except (AttributeError, TypeError):
            pass
    wrapper.__wrapped__ = func
    return wrapper


def _sys_api(g, func, names, inner=False, denied=None):
    """func asking SYS for each of names first.  inner: func runs as the
    runtime's own work (its own calls are not asked about again).
    denied: a callable whose result stands for a denied call instead of
    raising."""
    def wrapper(*args, **kwargs):
        for name in names:
            if not g.allowed(SYS, name):
                if denied is not None:
                    return denied()
                raise denial(SYS, name)
        if inner:
            with _runtime():
                return func(*args, **kwargs)
        return func(*args, **kwargs)
    return _wrap(func, wrapper)


_SYS_APIS = [
    ("os", "uname", ("os",)),
    ("os", "getloadavg", ("loadavg",)),
    ("os", "getuid", ("uid",)),
    ("os", "geteuid", ("uid",)),
    ("os", "getresuid", ("uid",)),
    ("os", "getgid", ("gid",)),
    ("os", "getgroups", ("gid",)),
    ("os", "getegid", ("getegid",)),
    ("os", "getresgid", ("gid", "getegid")),
    ("os", "getpriority", ("getPriority",)),
    ("os", "setpriority", ("setPriority",)),
    ("os", "statvfs", ("statfs",)),
    ("socket", "if_nameindex", ("networkInterfaces",)),
    ("socket", "if_nametoindex", ("networkInterfaces",)),
    ("socket", "if_indextoname", ("networkInterfaces",)),
]


def _patch_sys_apis(g, mod):
    for modname, name, names in _SYS_APIS:
        if modname == mod.__name__:
            func = getattr(mod, name, None)
            if func is not None:
                setattr(mod, name, _sys_api(g, func, names))


def _patch_platform(g, mod):
    mod.uname = _sys_api(g, mod.uname, ("os",), inner=True)
    mod.node = _sys_api(g, mod.node, ("hostname",), inner=True)


def _patch_socket(g, mod):
    _patch_sys_apis(g, mod)

    # Name resolution: the addresses an allowed name resolves to may be
    # connected to (the request was about the name).
    getaddrinfo = getattr(mod, "getaddrinfo", None)
    gethostbyname = getattr(mod, "gethostbyname", None)
    gethostbyname_ex = getattr(mod, "gethostbyname_ex", None)
    if None in (getaddrinfo, gethostbyname, gethostbyname_ex):
        return          # not the standard library's (a script's own)

    def _getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        res = getaddrinfo(host, port, family, type, proto, flags)
        if host is not None:
            g.note_resolved(_port(port), [
                (sa[4][0], sa[4][1]) for sa in res
                if sa[0] in (_socket.AF_INET, _socket.AF_INET6)])
        return res

    def _gethostbyname(hostname):
        ip = gethostbyname(hostname)
        g.note_resolved(0, [(ip, 0)])
        return ip

    def _gethostbyname_ex(hostname):
        res = gethostbyname_ex(hostname)
        g.note_resolved(0, [(ip, 0) for ip in res[2]])
        return res

    mod.getaddrinfo = _wrap(getaddrinfo, _getaddrinfo)
    mod.gethostbyname = _wrap(gethostbyname, _gethostbyname)
    mod.gethostbyname_ex = _wrap(gethostbyname_ex, _gethostbyname_ex)


def _patch_shutil(g, mod):
    # shutil.rmtree() works below directory fds the "open" event does
    # not show: the whole tree is asked about once, as a write.
    rmtree = getattr(mod, "rmtree", None)
    if rmtree is None:
        return          # not the standard library's (a script's own)

    def _as_user(func):
        """func (the script's error handler) asked about again."""
        def call(*a, **k):
            region = _runtime()
            state = region._release_save()
            try:
                return func(*a, **k)
            finally:
                region._acquire_restore(state)
        return call

    def _rmtree(path, *args, **kwargs):
        g.path(FS_WRITE, path, True, kwargs.get("dir_fd"))
        args = list(args)
        if len(args) > 1 and callable(args[1]):
            args[1] = _as_user(args[1])
        for k in ("onerror", "onexc"):
            if callable(kwargs.get(k)):
                kwargs[k] = _as_user(kwargs[k])
        with _runtime():
            return rmtree(path, *args, **kwargs)

    if hasattr(rmtree, "avoids_symlink_attacks"):
        _rmtree.avoids_symlink_attacks = rmtree.avoids_symlink_attacks
    mod.rmtree = _wrap(rmtree, _rmtree)


# The modules that the runtime imported up-front (json, socket, signal,
# shutil, linecache and tokenize, and what they import, in Python 3.11)
# before it kept its start-up to C modules.  When one is imported first,
# it still loads as the runtime's own import would have: the files it
# reads from the standard library are not asked about, so that a policy
# denying the standard library denies the script no more than before.
_OWN_MODULES = frozenset((
    "_bz2", "_compression", "_lzma", "bz2", "collections",
    "collections.abc", "copyreg", "enum", "fnmatch", "functools", "json",
    "json.decoder", "json.encoder", "json.scanner", "keyword", "linecache",
    "lzma", "operator", "re", "re._casefix", "re._compiler",
    "re._constants", "re._parser", "reprlib", "selectors", "shutil",
    "signal", "socket", "token", "tokenize",
))


class _PatchingLoader:
    """Delegates to a module's loader, then patches the module (patch
    None: does not); own: it is one of _OWN_MODULES."""

    def __init__(self, loader, patch, own=False):
        self._loader = loader
        self._patch = patch
        self._own = own

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        if self._own:
            with _loading_own():
                self._loader.exec_module(module)
        else:
            self._loader.exec_module(module)
        # The module shows its own loader, as if imported plainly.
        spec = getattr(module, "__spec__", None)
        if getattr(spec, "loader", None) is self:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        if self._patch is not None:
            self._patch(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _PatchOnImport:
    """A meta path finder that patches some modules once they load (or
    load again: a fresh module object is patched too), and loads
    _OWN_MODULES as the runtime's own."""

    def __init__(self, patches):
        self.patches = patches

    def find_spec(self, name, path=None, target=None):
        patch = self.patches.get(name)
        own = name in _OWN_MODULES
        if patch is None and not own:
            return None
        if own:
            with _loading_own():
                spec = self._find(name, path, target)
        else:
            spec = self._find(name, path, target)
        if spec is not None and spec.loader is not None and \
                hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader, patch, own)
        return spec

    def _find(self, name, path, target):
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                return spec
        return None

    def invalidate_caches(self):
        pass


_on_import = None       # the _PatchOnImport in sys.meta_path, once needed


def _import_finder():
    global _on_import
    if _on_import is None:
        _on_import = _PatchOnImport({})
        sys.meta_path.insert(0, _on_import)
    return _on_import


def _when_imported(name, patch):
    """patch(module) now if the module is loaded, else when it is (the
    runtime does not import it itself: that would cost every run its
    start-up, and the script can reach its functions only by importing
    it)."""
    mod = sys.modules.get(name)
    if mod is not None:
        patch(mod)
        return
    patches = _import_finder().patches
    prev = patches.get(name)
    if prev is None:
        patches[name] = patch
    else:
        def both(mod):
            prev(mod)
            patch(mod)
        patches[name] = both


class _CheckedEnviron(os._Environ):
    """os.environ (and os.environb) asking ENV for each variable it
    shows: a variable that is not set is absent without asking, one that
    is set but not allowed raises PermissionError when read and is left
    out of iteration, len(), repr() and copies.  Setting and deleting
    ask through the os.putenv/os.unsetenv audit events."""

    def __init__(self, env, guard):
        super().__init__(env._data, env.encodekey, env.decodekey,
                         env.encodevalue, env.decodevalue)
        self._guard = guard

    def __getitem__(self, key):
        ekey = self.encodekey(key)
        try:
            value = self._data[ekey]
        except KeyError:
            raise KeyError(key) from None
        self._guard.require(ENV, os.fsdecode(ekey))
        return self.decodevalue(value)

    def __iter__(self):
        for ekey in list(self._data):
            if self._guard.allowed(ENV, os.fsdecode(ekey)):
                yield self.decodekey(ekey)

    def __len__(self):
        return sum(1 for _ in self)

    def __repr__(self):
        items = []
        for ekey, value in list(self._data.items()):
            if self._guard.allowed(ENV, os.fsdecode(ekey)):
                items.append("%r: %r" % (self.decodekey(ekey),
                                         self.decodevalue(value)))
        return "environ({%s})" % ", ".join(items)


def _install_hooks(w):
    """Make the runtime ask before the script does what a permission
    governs (see "Permission hooks" in the module docstring)."""
    g = _Guard(w)

    _patch_sys_apis(g, os)
    # A CPU count is what the standard library sizes its pools by
    # (ThreadPoolExecutor, hence asyncio's resolver): denied, it is
    # "undetermined" (None), as os.cpu_count() documents, not an error.
    os.cpu_count = _sys_api(g, os.cpu_count, ("cpus",),
                            denied=lambda: None)
    _import_finder()    # for _OWN_MODULES
    _when_imported("platform", lambda mod: _patch_platform(g, mod))
    _when_imported("socket", lambda mod: _patch_socket(g, mod))
    _when_imported("shutil", lambda mod: _patch_shutil(g, mod))

    # os.spawn*() fork, then exec in the child: ask in the parent, so
    # that a denial is an exception rather than a child exiting 127.
    spawnvef = getattr(os, "_spawnvef", None)
    if spawnvef is not None:
        path_funcs = (os.execvp, os.execvpe)

        def _spawnvef(mode, file, args, env, func):
            g.command(file, env=env, search=func in path_funcs)
            return spawnvef(mode, file, args, env, func)

        os._spawnvef = _wrap(spawnvef, _spawnvef)

    os.environ = _CheckedEnviron(os.environ, g)
    if getattr(os, "supports_bytes_environ", False):
        os.environb = _CheckedEnviron(os.environb, g)

    os.register_at_fork(before=w._fork_before,
                        after_in_parent=w._fork_parent,
                        after_in_child=w._fork_child)
    sys.addaudithook(_make_audit_hook(g, dict(_HANDLERS)))
    return g


# --- running the script ------------------------------------------------------

def _user_traceback(tb):
    """The traceback without the runtime's own frames (those running the
    script, and those of a permission hook that raised)."""
    mine = globals()
    kept = []
    while tb is not None:
        if tb.tb_frame.f_globals is not mine:
            kept.append(tb)
        tb = tb.tb_next
    out = None
    for t in reversed(kept):
        out = _TracebackType(out, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return out


def _report(exc):
    """Print an uncaught exception as python3 would; return its text."""
    with _runtime():
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
    """Let tracebacks and inspect show the script even if not on disk:
    its lines go into linecache's cache once linecache is imported (by
    the script, or by the runtime to report an exception)."""
    def register(linecache):
        with _runtime():
            import io
            import tokenize     # linecache's own import

        try:
            enc, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
            text = source.decode(enc)
        except (SyntaxError, LookupError, UnicodeDecodeError):
            return
        lines = text.splitlines(True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        linecache.cache[path] = (len(text), None, lines, path)

    if source.startswith(b"\xef\xbb\xbf") or \
            any(b"coding" in line for line in source.split(b"\n", 2)[:2]):
        # A BOM or an encoding declaration: the codec it names may have
        # to be imported, which is the runtime's own work, done now.
        import linecache
        register(linecache)
    else:
        _when_imported("linecache", register)


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
            source = binascii.a2b_base64(b64, strict_mode=True)
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
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    os.kill(os.getpid(), _signal.SIGINT)


def _run(w, path, argv, source):
    """Run the script as __main__; return its exit status."""
    global _sigint_exit
    import atexit
    import builtins

    main = _ModuleType("__main__")
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
        # Its listing (imports search it first) is read now, as the
        # runtime's own imports used to: the script's imports are asked
        # about as the files they open, not as a listing of its
        # directory.
        _frozen_importlib_external.PathFinder.find_spec(
            "podrunner_worker", [sys.path[0]])
    _register_source(path, source)
    atexit.register(_atexit_sigint)

    w.send_frame({"type": "state", "worker": "exec_start"})
    _install_hooks(w)
    event = None
    try:
        code = _compile(source, path)
        exec(code, main.__dict__)
        status = 0
    except SystemExit as e:
        status = _exit_code(e.code)
    except KeyboardInterrupt as e:
        event = e
        _sigint_exit = True
        status = 128 + _signal.SIGINT
    except BaseException as e:
        event = e
        status = 1
    if event is not None:
        text = _report(event)
        w.send_frame({"type": "state", "worker": "exception",
                      "exc_type": type(event).__name__, "traceback": text})
        del event
    return status


# --- persistent worker: podrunner serve ---------------------------------------
#
# After READY the first frame decides: "run" runs one script (above);
# "exec" makes this a persistent worker that runs submissions one after
# the other, each in the same __main__ namespace unless it asks for a
# fresh one:
#
#     {"type": "exec", "seq": N, "code": "...", "fresh": false}
#
# and answers each with
#
#     {"type": "state", "seq": N, "worker": "exec_start"}
#     {"type": "output", "stream": "stdout", "data": "..."}   (any number)
#     {"type": "state", "seq": N, "worker": "exception", "exc_type": ...,
#      "traceback": "..."}                                   (if one)
#     {"type": "state", "seq": N, "worker": "interrupted"}    (if SIGINT)
#     {"type": "state", "seq": N, "worker": "exec_end", "exit_code": N}
#
# sys.stdout and sys.stderr write output frames, so output and states
# arrive in the order they happened; what writes to fd 1 and 2 directly
# (a child process) still goes through the pipes.  SIGINT interrupts the
# running submission (KeyboardInterrupt in its code; never in the
# runtime's own, where it waits until the runtime returns to the code)
# and is ignored between submissions.  SystemExit ends the submission,
# not the worker.

_interrupt_pending = False
_submitting = False     # from exec_start to exec_end
_RUNTIME_GLOBALS = globals()
KEEP_SOURCES = 256


def _submission_frame(frame):
    """Is the innermost frame under a submission, with no runtime frame
    in between?  None: not under a submission at all."""
    while frame is not None:
        if frame.f_code is _exec_code.__code__:
            return True
        if frame.f_globals is _RUNTIME_GLOBALS:
            return False
        frame = frame.f_back
    return None


def _on_sigint(signum, frame):
    global _interrupt_pending
    where = _submission_frame(frame)
    if where:
        raise KeyboardInterrupt
    if where is False or _submitting:
        # In the runtime on the code's behalf, or before the code runs:
        # when it does.
        _interrupt_pending = True


def _deliver_interrupt():
    global _interrupt_pending
    _interrupt_pending = False
    if _submission_frame(sys._getframe(1)) is not None:
        raise KeyboardInterrupt from None


def _exec_code(code, namespace):
    # Its frame marks "running a submission" for _on_sigint.
    if _interrupt_pending:
        _deliver_interrupt()
    exec(code, namespace)


class _RingOutput:
    """The raw stream under a persistent worker's sys.stdout and
    sys.stderr: output frames in the ring."""

    def __init__(self, w, stream, fd):
        import codecs
        self._w = w
        self._stream = stream
        self._fd = fd
        self._decode = codecs.getincrementaldecoder("utf-8")("replace")
        # What fits a frame even if every character were escaped.
        self._chunk = max(1024, w.ring.max_frame // 16)
        self.closed = False

    def write(self, b):
        text = self._decode.decode(bytes(b))
        for i in range(0, len(text), self._chunk):
            self._w.send_frame({"type": "output", "stream": self._stream,
                                "data": text[i:i + self._chunk]})
        return len(b)

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def flush(self):
        pass

    def close(self):
        pass


def _ring_stdio(w):
    import io
    for name, fd in (("stdout", 1), ("stderr", 2)):
        old = getattr(sys, name)
        try:
            old.flush()
        except Exception:
            pass
        f = io.TextIOWrapper(_RingOutput(w, name, fd), encoding="utf-8",
                             errors="backslashreplace", line_buffering=True)
        setattr(sys, name, f)


def _new_main():
    import builtins
    main = _ModuleType("__main__")
    main.__dict__.update({"__builtins__": builtins, "__file__": None,
                          "__cached__": None})
    sys.modules["__main__"] = main
    return main


def _parse_exec(obj):
    seq = obj.get("seq")
    code = obj.get("code")
    fresh = obj.get("fresh", False)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq <= 0:
        raise ProtocolError("exec frame: \"seq\" must be a positive integer")
    if not isinstance(code, str):
        raise ProtocolError("exec frame: \"code\" must be a string")
    if not isinstance(fresh, bool):
        raise ProtocolError("exec frame: \"fresh\" must be true or false")
    return seq, code, fresh


def _serve(w, obj):
    """Run "exec" frames until STOP (or the control socket closes)."""
    global _interrupt_pending, _submitting
    w.persistent = True
    w.running = True
    main = _new_main()
    sys.argv = [""]
    if not sys.flags.safe_path and sys.path:
        sys.path[0] = ""
    _ring_stdio(w)
    # Now, before the hooks: tracebacks show the submissions' lines from
    # its cache (_register_source), the last KEEP_SOURCES of them.
    import linecache
    hooks = False
    while True:
        if obj is None:
            obj = w.wait_run()
        if obj.get("type") != "exec":
            w.send_frame({"type": "error",
                          "data": "a persistent worker runs exec frames"})
            obj = None
            continue
        seq, code, fresh = _parse_exec(obj)
        obj = None
        if fresh:
            main = _new_main()
        name = "<submission %d>" % seq
        # Tracebacks show its lines from linecache's cache.
        lines = code.splitlines(True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        linecache.cache[name] = (len(code), None, lines, name)
        linecache.cache.pop("<submission %d>" % (seq - KEEP_SOURCES), None)
        _interrupt_pending = False
        if _signal.getsignal(_signal.SIGINT) is not _on_sigint:
            _signal.signal(_signal.SIGINT, _on_sigint)
        _submitting = True
        w.send_frame({"type": "state", "seq": seq, "worker": "exec_start"})
        if not hooks:
            _install_hooks(w)
            hooks = True
        status, event, interrupted = 0, None, False
        try:
            _exec_code(_compile(code, name), main.__dict__)
        except SystemExit as e:
            status = _exit_code(e.code)
        except KeyboardInterrupt as e:
            event, interrupted = e, True
            status = 128 + _signal.SIGINT
        except BaseException as e:
            event, status = e, 1
        _submitting = False
        _interrupt_pending = False
        _flush_stdio()
        if interrupted:
            text = _report(event)
            w.send_frame({"type": "state", "seq": seq,
                          "worker": "interrupted", "traceback": text})
        elif event is not None:
            text = _report(event)
            w.send_frame({"type": "state", "seq": seq,
                          "worker": "exception",
                          "exc_type": type(event).__name__,
                          "traceback": text})
        event = None
        _flush_stdio()
        w.send_frame({"type": "state", "seq": seq, "worker": "exec_end",
                      "exit_code": status})


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
        import ctypes.util	# only here: it imports subprocess
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

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        sock.connect(sock_path)
        sock.sendall(READY)
    except OSError as e:
        _die("connecting to %s: %s" % (sock_path, e.strerror or e))

    _worker = w = _Worker(ring, sock)
    sys.modules.setdefault("podrunner_worker", sys.modules[__name__])
    try:
        first = w.wait_run()
        if first.get("type") == "exec":
            _serve(w, first)
        path, argv, source = _parse_run(first)
    except KeyboardInterrupt:
        # ^C before the script started: die of it quietly.
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
        os.kill(os.getpid(), _signal.SIGINT)
        os._exit(128 + _signal.SIGINT)
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
            end["signal"] = int(_signal.SIGINT)
        w.send_frame(end)
    except ProtocolError as e:
        _die(e)
    # sys.exit, not os._exit: atexit handlers and thread joins still run.
    sys.exit(status)


if __name__ == "__main__":
    main(sys.argv[1:])
