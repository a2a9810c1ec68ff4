"""
Containment: hostile scripts under the default (deny-all) policy.

The Python runtime's audit hooks are the friendly layer; what is tested
here is what holds when a script goes around them.  Every hostile script
is PROBE below: it loads the C library through ctypes (the one grant it
gets, --allow-ffi=libc, see FFI) and from there makes raw calls the
hooks never see.  Each of its arguments is one operation, "op:arg"; for
each it prints a line "op:arg => result", the result being "ok ..." or
the errno's name.  A case is the operations and the result each must
give (a set where the kernel may answer with one of several refusals),
run through conftest's run_case.

One test per kernel layer shows that the layer itself enforces, with
the others out of the way (the reason is in each test's docstring).
Each of those was seen to fail with its layer switched off in a scratch
build; to repeat that, build a copy of the tree with the layer removed
and run this file with PODRUNNER_BIN=/path/to/that/podrunner:

  landlock  skip pod_landlock_apply() in sandbox/podinit.c
  seccomp   skip pod_seccomp_install() in sandbox/podinit.c
  net ns    drop CLONE_NEWNET from the clone in sandbox/relay.c
  pid ns    drop CLONE_NEWPID from the clone in sandbox/relay.c

After every test, on top of conftest's leftovers check (processes, shm
segments, control directories): no mount and no cgroup directory of
any pod the test ran is left on the host.

PROBE refuses its dangerous operations when it finds itself running as
root: it is meant for a pod, never for the host.
"""

import ast
import os
import platform
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import (EXIT_TIMEOUT, LEFTOVER_GRACE, ROOT, SHM_DIR, RUN_DIR,
                      Case, Pod, cases_by_name, proc_alive, proc_stat,
                      run_case, write_script)

if platform.machine() != "x86_64":
    pytest.skip("PROBE's system call numbers are x86_64's",
                allow_module_level=True)

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
FFI = f"--allow-ffi={LIBC}"

# Names that are this run's own: nothing on the host has them before.
TAG = uuid.uuid4().hex[:12]
# The pytest process: a host pid for the pod to try to reach.
HOST_PID = os.getpid()
# What a pod writes when a creat/write operation succeeds.
PWNED = b"written by a pod\n"
WORKER_UID_BASE = 3000000

# Host directories the grants point at (made by the `tree` fixture):
# under /tmp (whole of the pod's /tmp is granted to landlock, so only
# the mount namespace can hide a sibling there) and under /var/tmp.
TMP_TREE = Path(f"/tmp/podrunner-containment-{TAG}")
VAR_TREE = Path(f"/var/tmp/podrunner-containment-{TAG}")
GRANTED = TMP_TREE / "granted"          # 0755, file 0644: granted read
SIBLING = TMP_TREE / "sibling"          # 0755, file 0644: not granted
RDIR = VAR_TREE / "rdir"                # root 0700, file 0600: read
WDIR = VAR_TREE / "wdir"                # root 0700: granted write
CONTENT = f"granted content {TAG}\n"

# Paths on the host that a pod may try to create; none may exist after.
ESCAPES = [Path(p) for p in (
    f"/pwned-{TAG}", f"/etc/pwned-{TAG}", f"/usr/lib/python3/pwned-{TAG}",
    f"/dev/pwned-{TAG}", f"/dev/shm/pwned-{TAG}", f"/tmp/pwned-{TAG}",
    f"/var/tmp/pwned-{TAG}", f"/root/pwned-{TAG}", f"/run/pwned-{TAG}",
    f"/run/podrunner/pwned-{TAG}", f"/proc/pwned-{TAG}",
    str(ROOT / f"pwned-{TAG}"))]


# --- the hostile script ------------------------------------------------------

PROBE = r'''
import ctypes, errno, os, struct, sys

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
O_WRONLY, O_CREAT, O_EXCL, O_APPEND = 0o1, 0o100, 0o200, 0o2000
O_DIRECTORY, O_NONBLOCK, O_CLOEXEC = 0o200000, 0o4000, 0o2000000
PWNED = b"written by a pod\n"


def err():
    e = ctypes.get_errno()
    return errno.errorcode.get(e, str(e))


def res(rv, detail=None):
    if rv < 0:
        return err()
    return "ok" if detail is None else "ok " + str(detail)


def raw_open(path, flags, mode=0o644):
    ctypes.set_errno(0)
    return libc.open(path.encode(), flags | O_CLOEXEC, mode)


def raw_read_fd(fd):
    out, buf = b"", ctypes.create_string_buffer(65536)
    while True:
        n = libc.read(fd, buf, 65536)
        if n <= 0:
            return out if n == 0 else None
        out += buf.raw[:n]


def raw_read(path):
    fd = raw_open(path, 0)
    if fd < 0:
        return None
    data = raw_read_fd(fd)
    libc.close(fd)
    return data


def raw_listdir(path):
    fd = raw_open(path, O_DIRECTORY)
    if fd < 0:
        return None
    names, buf = [], ctypes.create_string_buffer(65536)
    while True:
        n = libc.syscall(217, fd, buf, 65536)          # getdents64
        if n <= 0:
            break
        off = 0
        while off < n:
            reclen = struct.unpack_from("H", buf.raw, off + 16)[0]
            name = buf.raw[off + 19:off + reclen].split(b"\0")[0].decode()
            if name not in (".", ".."):
                names.append(name)
            off += reclen
    libc.close(fd)
    return sorted(names)


def raw_sys(nr, *args):
    ctypes.set_errno(0)
    return libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a)
                        if isinstance(a, int) else a for a in args])


def hostname():
    buf = ctypes.create_string_buffer(256)
    libc.gethostname(buf, 256)
    return buf.value.decode()


def sockaddr(family, host, port):
    if family == 2:
        return struct.pack("<H", 2) + struct.pack("!H", port) + \
            bytes(map(int, host.split("."))) + b"\0" * 8
    raw = ctypes.create_string_buffer(16)
    libc.inet_pton(10, host.encode(), raw)
    return struct.pack("<H", 10) + struct.pack("!HI", port, 0) + \
        raw.raw + b"\0" * 4


# --- operations: each returns its result as a string -------------------

def op_open(p):
    fd = raw_open(p, 0)
    r = res(fd)
    if fd >= 0:
        libc.close(fd)
    return r


def op_opendir(p):
    fd = raw_open(p, O_DIRECTORY)
    r = res(fd)
    if fd >= 0:
        libc.close(fd)
    return r


def op_read(p):
    data = raw_read(p)
    return err() if data is None else "ok " + repr(data)


def op_ls(p):
    names = raw_listdir(p)
    return err() if names is None else "ok " + ",".join(names)


def op_pids(p):
    names = raw_listdir(p)
    return err() if names is None else \
        "ok " + ",".join(n for n in names if n.isdigit())


def op_stat(p):
    buf = ctypes.create_string_buffer(256)
    ctypes.set_errno(0)
    if libc.stat(p.encode(), buf) < 0:
        return err()
    mode, uid, gid = struct.unpack_from("III", buf.raw, 24)
    return "ok mode=%o uid=%d gid=%d" % (mode, uid, gid)


def op_creat(p):
    fd = raw_open(p, O_WRONLY | O_CREAT | O_EXCL)
    if fd < 0:
        return err()
    n = libc.write(fd, PWNED, len(PWNED))
    libc.close(fd)
    return res(n)


def op_write(p):
    fd = raw_open(p, O_WRONLY | O_APPEND)
    if fd < 0:
        return err()
    n = libc.write(fd, PWNED, len(PWNED))
    libc.close(fd)
    return res(n)


def syscalls():
    uts = raw_open("/proc/self/ns/uts", 0)
    ring = ctypes.create_string_buffer(120)                 # io_uring_params
    perf = ctypes.create_string_buffer(128)                 # perf_event_attr
    struct.pack_into("IIQ", perf, 0, 1, 128, 0)     # SOFTWARE, CPU_CLOCK
    bpfa = ctypes.create_string_buffer(128)                 # bpf_attr
    struct.pack_into("IIII", bpfa, 0, 2, 4, 4, 1)   # ARRAY, 4, 4, 1
    handle = ctypes.create_string_buffer(136)               # file_handle
    struct.pack_into("Ii", handle, 0, 128, 0)
    return {
        "mount": (165, b"none", b"/tmp", b"tmpfs", 0, 0),
        "umount2": (166, b"/proc", 2),                      # MNT_DETACH
        "pivot_root": (155, b"/tmp", b"/tmp"),
        "chroot": (161, b"/tmp"),
        "fsopen": (430, b"tmpfs", 0),
        "open_tree": (428, -100, b"/tmp", 1),           # OPEN_TREE_CLONE
        "unshare(CLONE_NEWNS)": (272, 0x00020000),
        "unshare(CLONE_NEWUSER)": (272, 0x10000000),
        "unshare(CLONE_NEWNET)": (272, 0x40000000),
        "setns": (308, uts, 0),
        "ptrace(PTRACE_ATTACH,1)": (101, 16, 1, 0, 0),
        "ptrace(PTRACE_TRACEME)": (101, 0, 0, 0, 0),
        "process_vm_readv": (310, 1, 0, 0, 0, 0, 0),
        "bpf(BPF_MAP_CREATE)": (321, 0, bpfa, 128),
        "io_uring_setup": (425, 4, ring),
        "keyctl(KEYCTL_GET_KEYRING_ID)": (250, 0, -3, 1),
        "add_key": (248, b"user", b"podrunner", b"x", 1, -3),
        "perf_event_open": (298, perf, 0, -1, -1, 0),
        "userfaultfd": (323, 0),
        "open_by_handle_at": (304, -100, handle, 0),
        "init_module": (175, 0, 0, b""),
        "kexec_load": (246, 0, 0, 0, 0),
        "personality(PER_LINUX32)": (135, 0x0008),
        "clone3": (435, 0, 0),
    }


def op_sys(name):
    nr, *args = syscalls()[name]
    rv = raw_sys(nr, *args)
    r = res(rv)
    if name.startswith("personality") and rv >= 0:
        raw_sys(135, 0)                     # back to PER_LINUX
    return r


SOCKETS = {
    "raw(AF_INET)": (2, 3, 1),                      # SOCK_RAW, ICMP
    "raw(AF_INET6)": (10, 3, 58),                   # SOCK_RAW, ICMPV6
    "packet(AF_PACKET)": (17, 3, 0x0300),           # SOCK_RAW, ETH_P_ALL
    "packet(AF_INET,SOCK_PACKET)": (2, 10, 0x0300),
    "netlink(NETLINK_ROUTE)": (16, 3, 0),
    "vsock": (40, 1, 0),
    "mptcp(AF_INET,IPPROTO_MPTCP)": (2, 1, 262),
    "tcp(AF_INET)": (2, 1, 0),
    "unix": (1, 1, 0),
}


def op_socket(name):
    ctypes.set_errno(0)
    fd = libc.socket(*SOCKETS[name])
    r = res(fd)
    if fd >= 0:
        libc.close(fd)
    return r


def op_connect(arg):
    proto, rest = arg.split(":", 1)
    host, port = rest.rsplit(":", 1)
    family = 10 if ":" in host else 2
    kind = {"tcp": 1, "udp": 2}[proto] | O_NONBLOCK     # SOCK_NONBLOCK
    ctypes.set_errno(0)
    s = libc.socket(family, kind, 0)
    if s < 0:
        return "socket " + err()
    sa = sockaddr(family, host, int(port))
    ctypes.set_errno(0)
    r = res(libc.connect(s, sa, len(sa)))
    libc.close(s)
    return r


def op_kill(pid):
    ctypes.set_errno(0)
    return res(libc.kill(int(pid), 0))


def op_getpid(_):
    return "ok %d" % libc.getpid()


def op_getuid(_):
    return "ok %d" % libc.getuid()


def op_hostname(_):
    return "ok " + hostname()


def op_netdev(_):
    data = raw_read("/proc/net/dev")
    if data is None:
        return err()
    names = [l.split(":")[0].strip() for l in data.decode().splitlines()[2:]]
    return "ok " + ",".join(sorted(names))


def op_ifconf(_):
    s = libc.socket(2, 2, 0)
    if s < 0:
        return "socket " + err()
    reqs = ctypes.create_string_buffer(40 * 64)             # ifreq: 40 bytes
    ifc = ctypes.create_string_buffer(struct.pack("i4xQ", len(reqs),
                                      ctypes.addressof(reqs)))
    ctypes.set_errno(0)
    rv = libc.ioctl(s, ctypes.c_ulong(0x8912), ifc)         # SIOCGIFCONF
    libc.close(s)
    if rv < 0:
        return err()
    n = struct.unpack_from("i", ifc.raw)[0]
    names = [reqs.raw[i:i + 16].split(b"\0")[0].decode() + ":" +
             ".".join(str(b) for b in reqs.raw[i + 20:i + 24])
             for i in range(0, n, 40)]
    return "ok " + ",".join(sorted(names))


def op_fill(p):
    fd = raw_open(p, O_WRONLY | O_CREAT | O_EXCL)
    if fd < 0:
        return "open " + err()
    chunk, total = b"\0" * 65536, 0
    while True:
        ctypes.set_errno(0)
        n = libc.write(fd, chunk, len(chunk))
        if n <= 0:
            break
        total += n
    r = "%s %d" % (err() if n < 0 else "eof", total)
    libc.close(fd)
    return r


def op_forkbomb(_):
    n = 0
    while True:
        ctypes.set_errno(0)
        pid = libc.fork()
        if pid == 0:
            libc.fork()         # every child tries once more: a bomb
            libc.pause()
            libc._exit(0)
        if pid < 0:
            return "%s after %d" % (err(), n)
        n += 1


def op_membomb(_):
    hog = []
    while True:
        hog.append(b"\1" * (1 << 20))       # touched, not just reserved


def op_spin(_):
    while True:
        pass


def op_block(_):
    raw_read_fd(0)                          # until the test closes stdin
    return "ok"


DANGEROUS = {"creat", "write", "sys", "socket", "connect", "fill",
             "forkbomb", "membomb", "spin", "kill"}

print("pod => ok " + hostname(), flush=True)
for arg in sys.argv[1:]:
    op, _, val = arg.partition(":")
    if op in DANGEROUS and libc.getuid() == 0:
        print("%s => REFUSED: running as root, not in a pod" % arg)
        continue
    print("%s => %s" % (arg, globals()["op_" + op](val)), flush=True)
'''


def results(r):
    """PROBE's report: {operation: result}."""
    out = {}
    for line in r.out.splitlines():
        op, sep, val = line.partition(" => ")
        if sep:
            out[op] = val
    return out


def expect(checks, then=None):
    """
    A Case check: every operation's result is the wanted one (a string
    must match exactly or be the "ok ..." prefix "ok"; a set: one of).
    """
    def check(r, path):
        got = results(r)
        bad = []
        for op, want in checks:
            val = got.get(op)
            wants = want if isinstance(want, (set, frozenset)) else {want}
            if val is None or not any(
                    val == w or (w == "ok" and val.startswith("ok "))
                    for w in wants):
                bad.append(f"{op}: got {val!r}, want {want!r}")
        assert not bad, "\n  ".join(["unexpected results:"] + bad) + \
            "\n" + r.describe()
        if then is not None:
            then(r, path, got)
    return check


def probe(name, checks, flags=(), then=None, ops=(), **kw):
    """
    A Case running PROBE with each checked operation as an argument,
    then the unchecked ops (whose effect the case checks otherwise).
    """
    return Case(name, PROBE, args=[*(op for op, _ in checks), *ops],
                flags=[FFI, *flags], check=expect(checks, then), **kw)


def run(case):
    return run_case(case)


def run_podrunner(*args, **kw):
    """conftest's podrunner(), as patched by _under_test."""
    return run_case.__globals__["podrunner"](*args, **kw)


# --- fixtures: the binary under test, pods' leftovers, the host tree ---------

_seen_pods = set()


def _pod_ids(text):
    return set(re.findall(r"^pod => ok pod-([A-Za-z0-9_-]+)$", text, re.M))


@pytest.fixture(autouse=True)
def _under_test(monkeypatch):
    """
    PODRUNNER_BIN (a scratch build with a layer off) replaces the
    binary, and every podrunner run here has its pod id recorded (from
    PROBE's first line) for the leftovers check below.
    """
    g = run_case.__globals__
    if os.environ.get("PODRUNNER_BIN"):
        monkeypatch.setitem(g, "PODRUNNER",
                            Path(os.environ["PODRUNNER_BIN"]).absolute())
    orig = g["podrunner"]

    def recording(*args, **kw):
        r = orig(*args, **kw)
        _seen_pods.update(_pod_ids(r.out))
        return r
    monkeypatch.setitem(g, "podrunner", recording)
    yield


def host_mounts():
    with open("/proc/self/mountinfo") as f:
        return {l for l in f.read().splitlines() if "podrunner" in l}


def pod_cgroups(podid=None):
    """Pod cgroup directories, <hierarchy>/**/podrunner/<podid>."""
    found = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        if os.path.basename(top) == "podrunner":
            found += [os.path.join(top, d) for d in dirs
                      if podid is None or d == podid]
            dirs[:] = []
    return found


def pod_leftovers(podid, mounts_before=frozenset()):
    """What is left on the host of pod podid (empty: nothing)."""
    left = pod_cgroups(podid)
    left += [f"mount: {l}" for l in host_mounts() - set(mounts_before)
             if podid in l]
    left += [str(p) for p in (RUN_DIR / podid,) if p.exists()]
    left += [str(SHM_DIR / n) for n in os.listdir(SHM_DIR)
             if n.startswith(f"podrunner.{podid}")]
    return left


@pytest.fixture(autouse=True)
def no_pod_leftovers(_under_test):
    """
    After every test: no cgroup directory, mount, control directory or
    segment of a pod it ran is left.  Fails if podrunner leaves any
    (e.g. a cgroup not removed after a memory-limit kill, or a mount
    propagated to the host's namespace).
    """
    _seen_pods.clear()
    mounts = host_mounts()
    yield
    script_dir = str(run_case.__globals__["_script_dir"])
    deadline = time.monotonic() + LEFTOVER_GRACE
    while True:
        left = {p: pod_leftovers(p, mounts) for p in sorted(_seen_pods)}
        left = {p: l for p, l in left.items() if l}
        # Another podrunner's tests may mount things of their own: only
        # what names this test's pods, scripts or trees counts.
        new_mounts = {l for l in host_mounts() - mounts
                      if TAG in l or script_dir in l or
                      any(p in l for p in _seen_pods)}
        if (not left and not new_mounts) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, f"pods left behind: {left}"
    # Pods are in their own mount namespaces: the host's never sees one.
    assert not new_mounts, f"podrunner mounts on the host: {new_mounts}"


@pytest.fixture(scope="module", autouse=True)
def tree():
    """The host directories the cases grant or must not reach."""
    for d in (TMP_TREE, VAR_TREE):
        d.mkdir(mode=0o755)
        os.chmod(d, 0o755)
    for d, mode, fmode in ((GRANTED, 0o755, 0o644), (SIBLING, 0o755, 0o644),
                           (RDIR, 0o700, 0o600), (WDIR, 0o700, None)):
        d.mkdir()
        os.chmod(d, mode)
        if fmode is not None:
            (d / "file").write_text(CONTENT)
            os.chmod(d / "file", fmode)
    yield
    shutil.rmtree(TMP_TREE, ignore_errors=True)
    shutil.rmtree(VAR_TREE, ignore_errors=True)
    for p in ESCAPES:       # left only by a failing test, which said so
        if p.is_file():
            p.unlink()


# --- host files, host processes, host secrets --------------------------------

HOST_FILES = [
    # Fails if any host file that is not the runtime's shows through:
    # the pod's root is a fresh tmpfs, nothing but grants bound in.
    ("open:/etc/shadow", "ENOENT"),
    ("open:/etc/passwd", "ENOENT"),
    ("open:/etc/hostname", "ENOENT"),
    # The CA certificates are the runtime's; the private keys are not.
    ("opendir:/etc/ssl/private", "ENOENT"),
    ("open:/usr/lib/ssl/private", "ENOENT"),
    ("opendir:/root", "ENOENT"),
    ("opendir:/home", "ENOENT"),
    ("opendir:/var", "ENOENT"),
    ("opendir:/work", "ENOENT"),
    (f"open:{ROOT}/Makefile", "ENOENT"),
    (f"open:{ROOT}/sandbox/podinit.c", "ENOENT"),
    ("open:/run/podrunner/uids.lock", "ENOENT"),
    ("opendir:/sys/fs/cgroup", "ENOENT"),
    (f"open:{VAR_TREE}/rdir/file", "ENOENT"),
    # Through /proc: pid 1 (pod init) is hidden, and self's root is the
    # pod's.
    ("open:/proc/1/environ", "ENOENT"),
    ("open:/proc/1/root/etc/shadow", "ENOENT"),
    ("open:/proc/self/root/etc/shadow", "ENOENT"),
]

HOST_WRITES = [
    # Fails if a write outside a grant succeeds where the host would
    # see it; the pod's own tmpfs /tmp and /dev/shm take writes, which
    # the check below finds are not on the host.  /etc does not exist
    # in a pod at all.
    (f"creat:/pwned-{TAG}", "EROFS"),
    (f"creat:/etc/pwned-{TAG}", {"ENOENT", "EROFS"}),
    (f"creat:/etc/ssl/certs/pwned-{TAG}", "EROFS"),
    (f"creat:/usr/lib/python3/pwned-{TAG}", "EROFS"),
    (f"creat:/dev/pwned-{TAG}", {"EACCES", "EROFS"}),
    (f"creat:/dev/shm/pwned-{TAG}", "ok"),
    (f"creat:/var/tmp/pwned-{TAG}", "ENOENT"),
    (f"creat:/root/pwned-{TAG}", "ENOENT"),
    (f"creat:/run/pwned-{TAG}", {"EROFS", "EACCES"}),
    (f"creat:/run/podrunner/pwned-{TAG}", {"EROFS", "EACCES"}),
    (f"creat:/proc/pwned-{TAG}", {"ENOENT", "EACCES"}),
    (f"creat:{ROOT}/pwned-{TAG}", "ENOENT"),
    (f"creat:{GRANTED}/pwned-{TAG}", {"EROFS", "EACCES"}),
    (f"write:{GRANTED}/file", {"EROFS", "EACCES"}),
    (f"creat:/tmp/pwned-{TAG}", "ok"),
]


def _no_host_writes(r, path, got):
    # Fails if anything the pod wrote reached the host.
    made = [str(p) for p in ESCAPES if os.path.lexists(p)]
    made += [str(p) for p in GRANTED.iterdir() if p.name != "file"]
    assert not made, f"the pod wrote on the host: {made}\n{r.describe()}"
    assert (GRANTED / "file").read_text() == CONTENT, r.describe()
    # The entry script, bound read-only, is unchanged.
    assert PWNED not in Path(path).read_bytes(), r.describe()


def _entry_readonly(r, path, got):
    # The script itself is bound read-only; writing it must fail.
    assert PWNED not in Path(path).read_bytes(), r.describe()


HOSTILE = [
    probe("host-files", HOST_FILES),
    probe("host-writes", HOST_WRITES, flags=[f"--allow-read={GRANTED}"],
          then=_no_host_writes),
    # Fails if the pod sees or can signal host processes: its /proc
    # shows its own pid only (pod init, pid 1, is hidden), the host's
    # pids do not exist there, and pod init refuses signals.
    probe("host-processes", [
        ("pids:/proc", "ok 2"),
        (f"kill:{HOST_PID}", "ESRCH"),
        ("kill:1", "EPERM"),
        ("kill:-1", "ESRCH"),
        ("opendir:/proc/1", "ENOENT"),
    ]),
]


@cases_by_name(HOSTILE)
def test_hostile(case):
    run(case)


def test_entry_is_readonly():
    """Fails if the worker can rewrite its own entry script on the host."""
    path = write_script(PROBE)
    r = run_podrunner("run", FFI, path, f"write:{path}")
    assert r.status == 0, r.describe()
    assert results(r).get(f"write:{path}") in ("EROFS", "EACCES"), \
        r.describe()
    assert PWNED not in path.read_bytes(), r.describe()


SECRETS = {"POD_SECRET": f"pod-secret-{TAG}", "POD_ID": "host-pod-id",
           "PODRUNNER_TOKEN": f"pod-secret-{TAG}",
           "AWS_SECRET_ACCESS_KEY": f"host-secret-{TAG}",
           "SSH_AUTH_SOCK": f"/tmp/ssh-{TAG}/agent",
           "HOME": "/root", "USER": "root"}


def _environ_clean(r, path, got):
    env = ast.literal_eval(got["read:/proc/self/environ"][3:])
    names = [v.split(b"=", 1)[0].decode() for v in env.split(b"\0") if v]
    # Fails if a POD_* variable, or any of podrunner's environment that
    # was not granted, reaches the worker.
    assert not [n for n in names if n.startswith("POD_")], names
    assert not set(names) & set(SECRETS), names
    assert TAG.encode() not in env, env
    assert "PATH" in names, names        # sanity: this is the environment


def _hostname(r, path, got):
    # Fails if the pod shares the host's UTS namespace.
    name = got["hostname:"][3:]
    assert re.fullmatch(r"pod-[A-Za-z0-9_-]+", name), name
    assert name != socket.gethostname(), name


def _no_secret_on_stdout(r, path):
    # Fails if a POD_* name or any secret's name or value is printed.
    leaked = [n for n in SECRETS if n in r.out] + \
        (["POD_"] if "POD_" in r.out else []) + \
        ([TAG] if TAG in r.out else [])
    assert not leaked, f"{leaked} reached the worker\n{r.describe()}"


ENV_CASES = [
    probe("environ-raw", [("read:/proc/self/environ", "ok"),
                          ("hostname:", "ok")],
          env=SECRETS, then=lambda r, p, g: (_environ_clean(r, p, g),
                                             _hostname(r, p, g))),
    # The same through the runtime's open(), which the hooks let through
    # for /proc once granted: the kernel still shows the scrubbed list.
    Case("environ-open", "import os\n"
         "print('pod => ok ' + open('/proc/sys/kernel/hostname').read())\n"
         "print(open('/proc/self/environ', 'rb').read().split(b'\\0'))\n"
         "print(sorted(os.environ))\n",
         flags=["--allow-read=/proc"], env=SECRETS,
         stdout_has=["PYTHONUNBUFFERED"], check=_no_secret_on_stdout),
]


@cases_by_name(ENV_CASES)
def test_environment(case):
    run(case)


# --- system calls and sockets ----------------------------------------------

SYSCALLS = [
    # Fails if any of these reaches the kernel's code for it: seccomp
    # answers EPERM (the worker has no capabilities either, so several
    # would be refused anyway; see test_layer_seccomp for those only
    # seccomp stops).  clone3 answers ENOSYS so that glibc falls back
    # to clone, whose flags seccomp can read.
    ("sys:mount", "EPERM"),
    ("sys:umount2", "EPERM"),
    ("sys:pivot_root", "EPERM"),
    ("sys:chroot", "EPERM"),
    ("sys:fsopen", "EPERM"),
    ("sys:open_tree", "EPERM"),
    ("sys:unshare(CLONE_NEWNS)", "EPERM"),
    ("sys:unshare(CLONE_NEWNET)", "EPERM"),
    ("sys:setns", "EPERM"),
    ("sys:ptrace(PTRACE_TRACEME)", "EPERM"),
    ("sys:ptrace(PTRACE_ATTACH,1)", "EPERM"),
    ("sys:process_vm_readv", "EPERM"),
    ("sys:bpf(BPF_MAP_CREATE)", "EPERM"),
    ("sys:io_uring_setup", "EPERM"),
    ("sys:keyctl(KEYCTL_GET_KEYRING_ID)", "EPERM"),
    ("sys:add_key", "EPERM"),
    ("sys:perf_event_open", "EPERM"),
    ("sys:userfaultfd", "EPERM"),
    ("sys:open_by_handle_at", "EPERM"),
    ("sys:init_module", "EPERM"),
    ("sys:kexec_load", "EPERM"),
    ("sys:clone3", "ENOSYS"),
]

SOCKETS = [
    # Fails if the worker can forge or sniff packets, or reconfigure
    # the network: raw and packet sockets, netlink.
    ("socket:raw(AF_INET)", "EPERM"),
    ("socket:raw(AF_INET6)", "EPERM"),
    ("socket:packet(AF_PACKET)", "EPERM"),
    ("socket:packet(AF_INET,SOCK_PACKET)", "EPERM"),
    ("socket:netlink(NETLINK_ROUTE)", "EPERM"),
    # What a worker needs stays: TCP and Unix sockets.
    ("socket:tcp(AF_INET)", "ok"),
    ("socket:unix", "ok"),
]

NETWORK = [
    # Fails if anything routes out of the pod.  TCP goes to port 8080,
    # the one landlock lets the worker connect to (another port is
    # refused by landlock first, EACCES, before any route is looked
    # up); UDP is not landlock's.  Non-blocking: a route would give
    # EINPROGRESS at once.
    ("connect:udp:1.1.1.1:53", "ENETUNREACH"),
    ("connect:tcp:1.1.1.1:8080", "ENETUNREACH"),
    ("connect:tcp:1.1.1.1:53", {"EACCES", "ENETUNREACH"}),
    ("connect:udp:2606:4700:4700::1111:53", "ENETUNREACH"),
    ("connect:tcp:169.254.169.254:8080", "ENETUNREACH"),
    # Fails if the pod has an interface other than loopback, or other
    # addresses than its own, the proxy's and the worker's.
    ("netdev:", "ok lo"),
    ("ifconf:", "ok lo:127.0.0.1,lo:169.254.1.1,lo:169.254.1.2"),
]

KERNEL_CASES = [
    probe("syscalls", SYSCALLS),
    probe("sockets", SOCKETS),
    probe("network", NETWORK),
]


@cases_by_name(KERNEL_CASES)
def test_kernel(case):
    run(case)


def test_shell_worker_contained():
    """
    The exec worker has no hooks at all: a shell script with cat, ls
    and touch granted meets the kernel layers alone.  Fails if a host
    file can be read, the root listed or written, or a file created
    outside the pod.
    """
    r = run(Case(
        "shell", "#!/bin/sh\n"
        "echo \"pod => ok $(cat /proc/sys/kernel/hostname)\"\n"
        "cat /etc/shadow 2>&1; echo \"cat=$?\"\n"
        f"cat {ROOT}/Makefile 2>&1; echo \"cat2=$?\"\n"
        "ls / 2>&1; echo \"ls=$?\"\n"
        f"touch /pwned-{TAG} /etc/pwned-{TAG} 2>&1; echo \"touch=$?\"\n"
        "echo x 2>&1 > /dev/shm/x; echo \"redir=$?\"\n"
        "hostname 2>&1; echo \"hostname=$?\"\n"
        "echo \"pid=$$\"\n",
        suffix=".sh", mode=0o755,
        flags=["--allow-run=cat", "--allow-run=ls", "--allow-run=touch"],
        stdout_has=["No such file or directory\ncat=1\n",
                    f"{ROOT}/Makefile: No such file or directory\ncat2=1\n",
                    "Permission denied\nls=2\n", "touch=1\n", "pid=2\n"]))
    # hostname was not granted: the command does not exist in the pod.
    assert "hostname=127" in r.out, r.describe()
    assert not [p for p in ESCAPES if os.path.lexists(p)], r.describe()


# --- limits ------------------------------------------------------------------

def _tmp_full(r, path, got):
    # Fails if the pod's /tmp holds more than its size (1 MiB).
    err, total = got["fill:/tmp/fill"].split()
    assert err == "ENOSPC", r.describe()
    assert 0 < int(total) <= 1 << 20, r.describe()


LIMIT_CASES = [
    # Fails if forking goes on (no pids limit) or podrunner does not say
    # why the pod stopped.  The message comes from the cgroup's pids
    # events, not from an rlimit.
    probe("fork-bomb", [("forkbomb:", {"EAGAIN after %d" % n
                                       for n in range(17)})],
          flags=["--pids=16"],
          stderr_has=["podrunner: worker stopped: pids limit 16 reached"]),
    # Fails if the memory bomb is not killed by the cgroup (a
    # MemoryError would be status 1: an rlimit, not the cgroup).
    probe("memory-bomb", [], ops=["membomb:"], flags=["--memory=64mb"],
          status=128 + 9,
          stderr_has=["podrunner: worker killed: memory limit 64 MiB "
                      "reached"]),
    # Fails if a CPU spin outlives its wall-clock timeout.
    probe("cpu-spin", [], ops=["spin:"], flags=["--timeout=1s"],
          status=EXIT_TIMEOUT,
          stderr_has=["podrunner: worker killed: timeout after 1s"]),
    # Fails if the pod's /tmp takes more than --tmpfs-size.
    probe("tmp-fill", [], ops=["fill:/tmp/fill"], flags=["--tmpfs-size=1mb"],
          then=_tmp_full),
]


@cases_by_name(LIMIT_CASES)
def test_limits(case):
    run(case)


# --- each kernel layer on its own ------------------------------------------

def test_layer_landlock():
    """
    The pod's /dev is a tmpfs (root's, mode 0755: any uid may list it)
    with device nodes bound in; landlock grants the nodes, not /dev
    itself.  So opening /dev as a directory passes the mount layer
    (it exists), permissions (0755) and seccomp (open is allowed), and
    only landlock refuses: EACCES.  The same for the pod's tmpfs root.
    Signals: pod init runs as the worker's own uid (kill's permission
    check passes), yet kill(1, 0) is refused by landlock's signal
    scope.  Fails with landlock off (seen: all three succeed).
    """
    run(probe("landlock", [
        ("stat:/dev", "ok mode=40755 uid=0 gid=0"),
        ("opendir:/dev", "EACCES"),
        ("open:/dev/null", "ok"),
        ("stat:/", "ok mode=40755 uid=0 gid=0"),
        ("opendir:/", "EACCES"),
        ("kill:1", "EPERM"),
    ]))


def test_layer_seccomp():
    """
    Calls the kernel grants any unprivileged process, that only the
    seccomp profile refuses: personality(PER_LINUX32), an MPTCP socket
    (net.mptcp.enabled is 1 in the pod, read below), a new user
    namespace (user.max_user_namespaces is not 0), netlink and vsock
    sockets.  Landlock has no say over any of them.  Fails with seccomp
    off (seen: all five succeed).
    """
    def enabled(r, path, got):
        # The kernel would allow them: else this test could not fail.
        assert got["read:/proc/sys/net/mptcp/enabled"] == "ok b'1\\n'", \
            r.describe()
        assert got["read:/proc/sys/user/max_user_namespaces"] != \
            "ok b'0\\n'", r.describe()
    run(probe("seccomp", [
        ("read:/proc/sys/net/mptcp/enabled", "ok"),
        ("read:/proc/sys/user/max_user_namespaces", "ok"),
        ("sys:personality(PER_LINUX32)", "EPERM"),
        ("socket:mptcp(AF_INET,IPPROTO_MPTCP)", "EPERM"),
        ("socket:netlink(NETLINK_ROUTE)", "EPERM"),
        ("socket:vsock", "EPERM"),
        ("sys:unshare(CLONE_NEWUSER)", "EPERM"),
    ], then=enabled))


def test_layer_mount_namespace():
    """
    Two sibling directories on the host, both world-readable, one
    granted.  Landlock grants the whole of the pod's /tmp, where they
    are, so only the mount namespace can make the other one not exist.
    The same for the other scripts beside the entry in its directory.
    Fails if the ungranted sibling shows through.
    """
    def only_entry(r, path, got):
        path = Path(path)
        assert got[f"ls:{path.parent}"] == f"ok {path.name}", r.describe()
    case = probe("mount-ns", [
        (f"read:{GRANTED}/file", "ok " + repr(CONTENT.encode())),
        (f"ls:{TMP_TREE}", "ok granted"),
        (f"opendir:{SIBLING}", "ENOENT"),
        (f"open:{SIBLING}/file", "ENOENT"),
    ], flags=[f"--allow-read={GRANTED}"], then=only_entry)
    write_script("print('another script')\n")     # a sibling of the entry
    path = write_script(PROBE)
    case.entry = str(path)
    case.args = [*case.args, f"ls:{path.parent}"]
    run(case)


def _host_routes_out():
    with open("/proc/net/route") as f:
        return any(l.split()[1] == "00000000" for l in f.read().splitlines()[1:])


def test_layer_network_namespace():
    """
    The host has a default route, so from its namespace a non-blocking
    connect to 1.1.1.1 gets EINPROGRESS; port 8080 is the one TCP port
    landlock allows, seccomp allows AF_INET streams.  Only the pod's
    network namespace, loopback alone, answers ENETUNREACH.  Fails with
    CLONE_NEWNET off (seen: EINPROGRESS, and eth0 listed).
    """
    if not _host_routes_out():
        pytest.skip("the host has no default route: this could not fail")
    run(probe("net-ns", [
        ("connect:tcp:1.1.1.1:8080", "ENETUNREACH"),
        ("connect:udp:1.1.1.1:53", "ENETUNREACH"),
        ("netdev:", "ok lo"),
    ]))


# RTM_GETLINK of the loopback (ifindex 1): its IFLA_GSO_MAX_SIZE (41)
# and IFLA_GSO_IPV4_MAX_SIZE (63, Linux 6.3), as "name value" lines.
LINK_GSO = r"""
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
ifi = struct.pack("BxHiII", socket.AF_UNSPEC, 0, 1, 0, 0)
s.send(struct.pack("IHHII", 16 + len(ifi), 18, 1, 1, 0) + ifi)  # GETLINK
msg = s.recv(65536)
length, kind = struct.unpack_from("IH", msg)
assert kind == 16, kind                                      # NEWLINK
off = 16 + 16
while off + 4 <= length:
    alen, atype = struct.unpack_from("HH", msg, off)
    name = {41: "gso_max_size", 63: "gso_ipv4_max_size"}.get(atype)
    if name:
        print(name, struct.unpack_from("I", msg, off + 4)[0])
    off += (alen + 3) & ~3
"""


def test_pod_loopback_big_tcp():
    """
    The pod's loopback carries segments of up to 512 KiB (BIG TCP,
    sandbox/podnet.c), not the 64 KiB a new namespace starts with:
    every byte of a tunnel crosses it between the worker and the proxy.
    Asked of the kernel from inside the pod's network namespace.  Fails
    without lo_big_tcp() (seen: 65536 for both).
    """
    path = write_script("import sys\nprint('ready', flush=True)\n"
                        "sys.stdin.read()\n")
    with Pod(path) as pod:
        pod.wait_output(b"ready")
        r = subprocess.run(
            ["nsenter", f"--target={pod.worker()}", "--net", "--",
             "/usr/bin/python3", "-c", LINK_GSO],
            capture_output=True, text=True, timeout=30)
        pod.close_stdin()
        pod.wait()
    assert r.returncode == 0, r.stderr
    got = dict(line.split() for line in r.stdout.splitlines())
    if "gso_ipv4_max_size" not in got:
        pytest.skip("no IPv4 BIG TCP before Linux 6.3")
    assert got == {"gso_max_size": "524280",
                   "gso_ipv4_max_size": "524280"}, got


def test_layer_pid_namespace():
    """
    The worker is pid 2 (pod init is 1), its /proc lists no other pid
    and a host pid (this pytest process's) does not exist there.  The
    mount layer gives the pod a fresh /proc, landlock would answer EPERM
    and permissions EPERM too: ESRCH is the pid namespace's answer.
    Fails with CLONE_NEWPID off (seen: getpid() a host pid, /proc
    listing it, kill of the host pid EPERM instead of ESRCH).
    """
    run(probe("pid-ns", [
        ("getpid:", "ok 2"),
        (f"kill:{HOST_PID}", "ESRCH"),
        ("pids:/proc", "ok 2"),
    ]))


def test_layer_cgroup():
    """
    The cgroup limits on their own are test_limits' fork and memory
    bombs (their messages come from the cgroup's events, and an rlimit
    would fail differently: MemoryError, no "pids limit" line).  Here:
    the pod is in a cgroup namespace rooted at its own cgroup, as
    sandbox/podcgroup.h promises ("so that the pod sees its own cgroup
    as /").  Fails if the worker sees any cgroup path above its own,
    e.g. /podrunner/<podid> when the namespace is made (clone with
    CLONE_NEWCGROUP) before pod init is attached to the pod's cgroup.
    """
    def own_root(r, path, got):
        lines = ast.literal_eval(got["read:/proc/self/cgroup"][3:])
        for line in lines.decode().splitlines():
            assert line.split(":", 2)[2] == "/", r.describe()
    run(probe("cgroup-ns", [("read:/proc/self/cgroup", "ok")],
              then=own_root))


# --- identity and grants -------------------------------------------------------

def test_worker_uid():
    """Fails if the worker runs as root or below the pod uid range."""
    r = run(probe("uid", [("getuid:", "ok")]))
    uid = int(results(r)["getuid:"].split()[1])
    assert uid >= WORKER_UID_BASE, r.describe()


def test_granted_read():
    """
    A root-owned 0700 directory holding a 0600 file, granted read: the
    worker (uid 3000000+N) reads it through the idmapped bind.  Fails if
    the grant does not show the file, or shows it writable.
    """
    run(probe("read-grant", [
        (f"read:{RDIR}/file", "ok " + repr(CONTENT.encode())),
        (f"write:{RDIR}/file", {"EROFS", "EACCES"}),
        (f"creat:{RDIR}/new-{TAG}", {"EROFS", "EACCES"}),
    ], flags=[f"--allow-read={RDIR}"]))
    assert (RDIR / "file").read_text() == CONTENT
    assert not (RDIR / f"new-{TAG}").exists()


def test_granted_write():
    """
    A root-owned 0700 directory granted write: the worker, uid
    3000000+N, creates a file there; on the host it persists, owned by
    root, the invoking user (idmapped mount), and in the pod it is the
    worker's.  Fails if the write is refused (no idmap: the worker is
    not root), lost (written to a pod-private tmpfs) or owned on the
    host by the worker's uid.
    """
    out = WDIR / f"out-{TAG}"
    st = os.stat(WDIR)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700)
    r = run(probe("write-grant", [
        ("getuid:", "ok"),
        (f"creat:{out}", "ok"),
        (f"stat:{out}", "ok"),
    ], flags=[f"--allow-write={WDIR}"]))
    got = results(r)
    uid = int(got["getuid:"].split()[1])
    assert uid >= WORKER_UID_BASE, r.describe()
    assert f"uid={uid} " in got[f"stat:{out}"], r.describe()
    hst = os.stat(out)
    assert (hst.st_uid, hst.st_gid) == (0, 0), \
        f"{out} owned by {hst.st_uid}:{hst.st_gid}\n{r.describe()}"
    assert out.read_bytes() == PWNED


def test_entry_0600_root_owned():
    """Fails if a 0600 root-owned entry (the invoking user's) can not run."""
    path = write_script("print('ran')\n", mode=0o600)
    st = os.stat(path)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)
    run(Case("entry-0600", entry=str(path), stdout=b"ran\n"))


def test_no_sandbox_contrast():
    """
    With --no-sandbox the same raw read of a host file succeeds: what
    keeps it out otherwise is the sandbox, not the runtime.  Fails if
    the read fails here (then test_hostile proves nothing) or if the
    flag does not warn.
    """
    r = run(probe("no-sandbox", [("read:/etc/hostname", "ok"),
                                 (f"open:{ROOT}/Makefile", "ok")],
                  flags=["--no-sandbox"],
                  stderr_has=["podrunner: warning: --no-sandbox"]))
    with open("/etc/hostname", "rb") as f:
        assert results(r)["read:/etc/hostname"] == "ok " + repr(f.read())


# --- clean-up --------------------------------------------------------------------

def test_cleanup_after_sigkill():
    """
    podrunner SIGKILLed while its pod runs: every process of the pod
    goes at once (pod init's lifeline), and what the dead podrunner
    could not remove (its cgroups) is removed by the next start.  Fails
    if a pod process survives or the next run leaves the stale cgroup.
    """
    path = write_script(PROBE)
    with Pod(path, args=["block:"], flags=[FFI]) as pod:
        pod.wait_output(b"pod => ok pod-")
        podid = _pod_ids(pod.stdout.decode()).pop()
        _seen_pods.add(podid)
        members = [pid for pid, title in pod.tree().items()]
        assert members, pod.tree()
        members = [(pid, proc_stat(pid)[2]) for pid in members
                   if proc_stat(pid) is not None]
        os.kill(pod.pid, signal.SIGKILL)
        pod.wait()
    deadline = time.monotonic() + LEFTOVER_GRACE
    while [m for m in members if proc_alive(*m)] and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [m for m in members if proc_alive(*m)]
    assert not alive, f"pod processes survived podrunner: {alive}"
    # The next podrunner start collects the dead one's cgroups.
    run(probe("next-start", [("getpid:", "ok 2")]))
    deadline = time.monotonic() + LEFTOVER_GRACE
    while pod_leftovers(podid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pod_leftovers(podid), pod_leftovers(podid)
