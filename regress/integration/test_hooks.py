"""
The Python runtime's permission hooks (worker/python/podrunner_worker.py,
"Permission hooks"): before the script does what a permission governs,
the runtime asks policyd, and a denial raises PermissionError with
Deno's message.

Each test runs one kind of operation under no flag (denied, with the
exact message), under the flag that allows it, and under that flag plus
a narrower deny (denied again).  Every test fails if the hooks are not
installed: some run in it expects a message only the hooks produce (the
kernel layers refuse with a bare "[Errno 13] Permission denied", or hide
what is not granted).

Test data lives under /var/tmp: the pod's /tmp is its own (and granted
to the runtime), so the host's /tmp is not what a script in the pod sees.
Reading the standard library is allowed by the runtime layer of the
policy, so scripts may import.

Network: the pod has its own network namespace, where landlock lets TCP
reach only the proxy and there is no name service but /etc/hosts when it
is granted.  The network tests therefore look at the hook's decision
alone: its denial, or "passed the hook" (whatever the kernel then does).
"""

import os
import posixpath
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import Case, run_case

PRELUDE = """\
import os, sys
def attempt(label, fn):
    try:
        r = fn()
    except PermissionError as e:
        print(label, "denied:", e, "errno", e.errno)
    else:
        print(label, "ok:", r)
def hook(label, fn):
    # The hook's decision only: its denial, or anything else.
    try:
        fn()
    except PermissionError as e:
        if str(e).startswith("Requires "):
            print(label, "denied:", e, "errno", e.errno)
            return
    except OSError:
        pass
    print(label, "passed the hook")
"""

WORD = {"read": "read", "write": "write", "net": "net", "run": "run",
        "env": "env", "ffi": "ffi", "sys": "sys"}


def msg(kind, target):
    """Deno's words for a denial."""
    return (f'Requires {kind} access to "{target}", run again with '
            f'--allow-{kind}={target}')


def denied(label, kind, target):
    return f"{label} denied: {msg(kind, target)} errno 13\n"


def ok(label, value):
    return f"{label} ok: {value}\n"


def passed(label):
    return f"{label} passed the hook\n"


def run(name, body, flags=(), expect="", env=None, status=0, **kw):
    """Run PRELUDE + body; stdout must be exactly expect."""
    return run_case(Case(name, PRELUDE + body, flags=list(flags),
                         env=env, status=status,
                         stdout=expect.encode(), **kw))


@pytest.fixture
def tree():
    """
    A world-readable directory of files the worker (an unprivileged
    uid) can read, with a world-writable "out" directory in it:
        data/pub.txt  data/secret.txt  data/sub/inner.txt  data/out/
    """
    d = Path(tempfile.mkdtemp(prefix="podrunner-hooks-", dir="/var/tmp"))
    (d / "sub").mkdir()
    (d / "out").mkdir()
    (d / "pub.txt").write_text("public\n")
    (d / "secret.txt").write_text("secret\n")
    (d / "sub" / "inner.txt").write_text("inner\n")
    for p in (d, d / "sub"):
        os.chmod(p, 0o755)
    os.chmod(d / "out", 0o777)
    for p in (d / "pub.txt", d / "secret.txt", d / "sub" / "inner.txt"):
        os.chmod(p, 0o644)
    yield str(os.path.realpath(d))
    shutil.rmtree(d, ignore_errors=True)


def _libc_path():
    """The C library this machine's python3 maps (the worker's too)."""
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            if len(fields) == 6 and \
                    posixpath.basename(fields[5].strip()) == "libc.so.6":
                return os.path.realpath(fields[5].strip())
    pytest.fail("libc.so.6 not mapped by this python", pytrace=False)


# --- files -------------------------------------------------------------------

def test_read(tree):
    pub = f"{tree}/pub.txt"
    body = f"attempt('read', lambda: open({pub!r}).read().strip())\n"
    run("read-none", body, expect=denied("read", "read", pub))
    run("read-allow", body, [f"--allow-read={tree}"],
        expect=ok("read", "public"))
    run("read-deny", body, [f"--allow-read={tree}", f"--deny-read={pub}"],
        expect=denied("read", "read", pub))


def test_uncaught_denial(tree):
    """
    An uncaught denial is reported as python3 reports a PermissionError:
    status 1, the script's frames, the message, and none of the
    runtime's frames.
    """
    secret = f"{tree}/secret.txt"

    def check(r, _path):
        lines = r.err_lines
        assert lines[-1] == f"PermissionError: {msg('read', secret)}", \
            r.describe()
        assert lines[0] == "Traceback (most recent call last):", \
            r.describe()
        assert "podrunner_worker" not in r.stderr, r.describe()
        assert "open(" in r.stderr, r.describe()

    run_case(Case("uncaught", f"print('before')\nopen({secret!r})\n"
                  "print('after')\n", status=1, stdout=b"before\n",
                  check=check))


def test_open_read_vs_write(tree):
    """What a mode or flags ask for: 'w', 'a', 'x', '+' and O_WRONLY,
    O_RDWR, O_CREAT, O_TRUNC, O_APPEND ask for write; the rest read."""
    pub, new = f"{tree}/pub.txt", f"{tree}/new.txt"
    body = f"""\
import pathlib
pub, new = {pub!r}, {new!r}
attempt("r", lambda: open(pub).read().strip())
attempt("rb", lambda: open(pub, "rb").read().strip())
attempt("w", lambda: open(pub, "w"))
attempt("a", lambda: open(pub, "a"))
attempt("r+", lambda: open(pub, "r+"))
attempt("x", lambda: open(new, "x"))
attempt("O_RDONLY", lambda: os.close(os.open(pub, os.O_RDONLY)))
attempt("O_WRONLY", lambda: os.open(pub, os.O_WRONLY))
attempt("O_RDWR", lambda: os.open(pub, os.O_RDWR))
attempt("O_APPEND", lambda: os.open(pub, os.O_RDONLY | os.O_APPEND))
attempt("O_CREAT", lambda: os.open(new, os.O_RDONLY | os.O_CREAT))
attempt("path-read", lambda: pathlib.Path(pub).read_text().strip())
attempt("path-write", lambda: pathlib.Path(new).write_text("x"))
"""
    w = lambda label, path=pub: denied(label, "write", path)  # noqa: E731
    run("read-only", body, [f"--allow-read={tree}"], expect=(
        ok("r", "public") + ok("rb", "b'public'") + w("w") + w("a") +
        w("r+") + w("x", new) + ok("O_RDONLY", None) + w("O_WRONLY") +
        w("O_RDWR") + w("O_APPEND") + w("O_CREAT", new) +
        ok("path-read", "public") + w("path-write", new)))
    assert not os.path.exists(new) and \
        open(pub).read() == "public\n", "a denied write happened"

    # Writing does not imply reading (as in Deno).
    out = f"{tree}/out/w.txt"
    body = f"""\
out = {out!r}
attempt("write", lambda: open(out, "w").write("written"))
attempt("read-back", lambda: open(out).read())
"""
    run("write-only", body, [f"--allow-write={tree}/out"],
        expect=ok("write", 7) + denied("read-back", "read", out))
    with open(out) as f:
        assert f.read() == "written"
    run("write-none", body, expect=denied("write", "write", out) +
        denied("read-back", "read", out))
    blocked = f"{tree}/out/blocked.txt"
    run("write-deny", f"attempt('write', lambda: open({blocked!r}, 'w'))\n",
        [f"--allow-write={tree}", f"--deny-write={blocked}"],
        expect=denied("write", "write", blocked))
    assert not os.path.exists(blocked), "a denied open created the file"


def test_write_family(tree):
    """mkdir, rename, remove, rmdir, symlink, chmod, utime, truncate,
    shutil.copyfile (and read of its source) and shutil.rmtree ask for
    write (the last component of a path that is removed or renamed is
    not resolved)."""
    out = f"{tree}/out"
    body = f"""\
import shutil
out = {out!r}
attempt("mkdir", lambda: os.mkdir(out + "/d"))
attempt("create", lambda: open(out + "/d/f", "w").write("f"))
attempt("rename", lambda: os.rename(out + "/d/f", out + "/d/g"))
attempt("symlink", lambda: os.symlink({tree!r} + "/pub.txt", out + "/l"))
attempt("unlink-link", lambda: os.remove(out + "/l"))
attempt("chmod", lambda: os.chmod(out + "/d/g", 0o600))
attempt("utime", lambda: os.utime(out + "/d/g"))
attempt("truncate", lambda: os.truncate(out + "/d/g", 0))
attempt("copyfile", lambda: shutil.copyfile(out + "/d/g", out + "/d/h"))
attempt("remove", lambda: os.remove(out + "/d/h"))
attempt("rmtree", lambda: shutil.rmtree(out + "/d"))
attempt("gone", lambda: os.path.exists(out + "/d"))
"""
    labels = ["mkdir", "create", "rename", "symlink", "unlink-link",
              "chmod", "utime", "truncate", "copyfile", "remove",
              "rmtree"]
    run("write-family-allow", body, [f"--allow-write={out}",
                                     f"--allow-read={out}"],
        expect="".join(ok(label, 1 if label == "create" else
                          f"{out}/d/h" if label == "copyfile" else None)
                       for label in labels) + ok("gone", False))
    # The link in out/ is removed, not the file it points to.
    assert os.path.exists(f"{tree}/pub.txt")
    run("write-family-none", "out = %r\n"
        "attempt('mkdir', lambda: os.mkdir(out + '/d'))\n"
        "attempt('rmtree', lambda: __import__('shutil').rmtree(out))\n" %
        out, expect=denied("mkdir", "write", f"{out}/d") +
        denied("rmtree", "write", out))
    os.mkdir(f"{out}/keep")
    os.chmod(f"{out}/keep", 0o777)
    run("write-family-deny", "out = %r\n"
        "attempt('mkdir', lambda: os.mkdir(out + '/d'))\n"
        "attempt('rmdir-keep', lambda: os.rmdir(out + '/keep'))\n"
        "attempt('rename-keep', lambda: os.rename(out + '/keep', "
        "out + '/k2'))\n"
        "attempt('rmdir-d', lambda: os.rmdir(out + '/d'))\n" % out,
        [f"--allow-write={out}", f"--deny-write={out}/keep"],
        expect=ok("mkdir", None) + denied("rmdir-keep", "write",
                                          f"{out}/keep") +
        denied("rename-keep", "write", f"{out}/keep") + ok("rmdir-d", None))
    assert os.path.isdir(f"{out}/keep")


def test_listdir(tree):
    body = f"""\
d = {tree!r}
attempt("listdir", lambda: sorted(os.listdir(d)))
attempt("scandir", lambda: sorted(e.name for e in os.scandir(d)))
attempt("walk", lambda: [len(files) for _, _, files in os.walk(d)])
attempt("sub", lambda: os.listdir(d + "/sub"))
"""
    names = ["out", "pub.txt", "secret.txt", "sub"]
    run("listdir-none", body, expect=(
        denied("listdir", "read", tree) + denied("scandir", "read", tree) +
        denied("walk", "read", tree) +
        denied("sub", "read", f"{tree}/sub")))
    run("listdir-allow", body, [f"--allow-read={tree}"], expect=(
        ok("listdir", names) + ok("scandir", names) +
        ok("walk", [2, 0, 1]) + ok("sub", ["inner.txt"])))
    # os.walk skips a directory it may not list, as it skips one it
    # cannot read: only its top is an error.
    run("listdir-deny", body, [f"--allow-read={tree}",
                               f"--deny-read={tree}/sub"], expect=(
        ok("listdir", names) + ok("scandir", names) + ok("walk", [2, 0]) +
        denied("sub", "read", f"{tree}/sub")))


# --- network -----------------------------------------------------------------

PORT = 40123


def test_connect():
    target = f"127.0.0.1:{PORT}"
    body = f"""\
import socket
hook("connect", lambda: socket.socket().connect(("127.0.0.1", {PORT})))
hook("create_connection",
     lambda: socket.create_connection(("127.0.0.1", {PORT}), timeout=5))
hook("connect_ex", lambda: socket.socket().connect_ex(("127.0.0.1", {PORT})))
hook("bind", lambda: socket.socket().bind(("127.0.0.1", {PORT})))
hook("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
     .sendto(b"x", ("127.0.0.1", {PORT})))
hook("v6", lambda: socket.socket(socket.AF_INET6).connect(("::1", {PORT})))
"""
    labels = ["connect", "create_connection", "connect_ex", "bind", "udp"]
    v6 = f"[::1]:{PORT}"
    run("connect-none", body, expect="".join(
        denied(label, "net", target) for label in labels) +
        denied("v6", "net", v6))
    run("connect-allow", body, [f"--allow-net={target},{v6}"],
        expect="".join(passed(label) for label in labels) + passed("v6"))
    run("connect-deny", body, ["--allow-net=127.0.0.1,[::1]",
                               f"--deny-net={target},{v6}"],
        expect="".join(denied(label, "net", target) for label in labels) +
        denied("v6", "net", v6))


def test_connect_by_name():
    """A name that was allowed and resolved: the connect to its address
    is the connect to the name (Deno checks the name), any other address
    is asked about.  (/etc/hosts is the pod's only name service.)"""
    body = f"""\
import socket
hook("by-name", lambda: socket.create_connection(("localhost", {PORT}),
                                                 timeout=5))
hook("by-address", lambda: socket.socket().connect(("127.0.0.2", {PORT})))
"""
    run("name-allow", body, ["--allow-net=localhost",
                             "--allow-read=/etc/hosts"],
        expect=passed("by-name") +
        denied("by-address", "net", f"127.0.0.2:{PORT}"))
    run("name-none", body, ["--allow-read=/etc/hosts"],
        expect=denied("by-name", "net", f"localhost:{PORT}") +
        denied("by-address", "net", f"127.0.0.2:{PORT}"))


def test_getaddrinfo():
    """host:port, the host in lower case; without a port (None) the
    target is the host alone, which a rule with a port does not match."""
    body = """\
import socket
hook("port", lambda: socket.getaddrinfo("LocalHost", 80))
hook("no-port", lambda: socket.getaddrinfo("localhost", None))
hook("gethostbyname", lambda: socket.gethostbyname("localhost"))
"""
    run("gai-none", body, expect=denied("port", "net", "localhost:80") +
        denied("no-port", "net", "localhost") +
        denied("gethostbyname", "net", "localhost"))
    run("gai-allow", body, ["--allow-net=localhost"],
        expect=passed("port") + passed("no-port") + passed("gethostbyname"))
    run("gai-deny", body, ["--allow-net=localhost",
                           "--deny-net=localhost:80"],
        expect=denied("port", "net", "localhost:80") + passed("no-port") +
        passed("gethostbyname"))
    run("gai-port-only", body, ["--allow-net=localhost:80"],
        expect=passed("port") + denied("no-port", "net", "localhost") +
        denied("gethostbyname", "net", "localhost"))


# --- processes ---------------------------------------------------------------

def test_run():
    """A path is asked about by its real path (/bin/true is /usr/bin/true
    here), a name by the file PATH finds; --allow-run takes either."""
    body = """\
import subprocess
attempt("path", lambda: subprocess.run(["/bin/true"]).returncode)
attempt("name", lambda: subprocess.run(["true"]).returncode)
attempt("call", lambda: subprocess.call("true"))
"""
    real = os.path.realpath("/bin/true")
    assert os.path.basename(real) == "true", real
    run("run-none", body, expect=denied("path", "run", "/bin/true") +
        denied("name", "run", "true") + denied("call", "run", "true"))
    for flag in ("--allow-run=true", f"--allow-run={real}",
                 "--allow-run=/bin/true", "--allow-run"):
        run("run-allow", body, [flag],
            expect=ok("path", 0) + ok("name", 0) + ok("call", 0))
    run("run-deny", body, ["--allow-run=true", f"--deny-run={real}"],
        expect=denied("path", "run", "/bin/true") +
        denied("name", "run", "true") + denied("call", "run", "true"))
    run("run-other", body, ["--allow-run=false"],
        expect=denied("path", "run", "/bin/true") +
        denied("name", "run", "true") + denied("call", "run", "true"))


def test_run_other_ways():
    """os.system (as "sh"), the shell of subprocess, os.spawn*, os.exec*
    and os.posix_spawn* ask too; a forked child that execs is asked in
    the child, over the same control socket."""
    body = """\
def fork_exec():
    pid = os.fork()
    if pid == 0:
        try:
            os.execv("/bin/true", ["true"])
        except PermissionError as e:
            print("child denied:", e, flush=True)
        os._exit(3)
    return os.waitpid(pid, 0)[1] >> 8
attempt("system", lambda: os.system("exit 4") >> 8)
attempt("spawnvp", lambda: os.spawnvp(os.P_WAIT, "true", ["true"]))
attempt("posix_spawnp",
        lambda: os.waitpid(os.posix_spawnp("true", ["true"], {}), 0)[1])
attempt("fork-exec", fork_exec)
"""
    run("others-none", body, expect=denied("system", "run", "sh") +
        denied("spawnvp", "run", "true") +
        denied("posix_spawnp", "run", "true") +
        f"child denied: {msg('run', '/bin/true')}\n" + ok("fork-exec", 3))
    run("others-allow", body, ["--allow-run=sh,true"],
        expect=ok("system", 4) + ok("spawnvp", 0) + ok("posix_spawnp", 0) +
        ok("fork-exec", 0))


# --- environment -------------------------------------------------------------

def test_env():
    """
    A variable that is set and allowed reads as usual; one that is set
    but not allowed raises, and iteration and copies leave it out; one
    that is not set is absent without asking.  podrunner does not pass a
    variable that is not allowed, so the set-but-denied variable here is
    PATH (the runtime's own, always passed) under --deny-env=PATH.
    Setting a variable asks too.
    """
    body = """\
import posix
attempt("raw-path", lambda: b"PATH" in posix.environ)
attempt("foo", lambda: os.environ.get("FOO"))
attempt("foo-listed", lambda: "FOO" in list(os.environ))
attempt("path", lambda: os.environ["PATH"] != "")
attempt("getenv-path", lambda: os.getenv("PATH") is not None)
attempt("path-listed", lambda: "PATH" in dict(os.environ))
attempt("path-repr", lambda: "'PATH'" in repr(os.environ))
attempt("bytes-path", lambda: os.environb[b"PATH"] != b"")
attempt("set", lambda: os.environ.__setitem__("NEWVAR", "x"))
attempt("missing", lambda: os.environ.get("NO_SUCH_VARIABLE_AT_ALL"))
"""
    env = {"FOO": "foo-value"}
    path_denied = (denied("path", "env", "PATH") +
                   denied("getenv-path", "env", "PATH") +
                   ok("path-listed", False) + ok("path-repr", False) +
                   denied("bytes-path", "env", "PATH"))
    path_ok = (ok("path", True) + ok("getenv-path", True) +
               ok("path-listed", True) + ok("path-repr", True) +
               ok("bytes-path", True))
    run("env-none", body, env=env, expect=(
        ok("raw-path", True) + ok("foo", None) + ok("foo-listed", False) +
        path_ok + denied("set", "env", "NEWVAR") + ok("missing", None)))
    run("env-allow", body, ["--allow-env=FOO,NEWVAR"], env=env, expect=(
        ok("raw-path", True) + ok("foo", "foo-value") +
        ok("foo-listed", True) + path_ok + ok("set", None) +
        ok("missing", None)))
    run("env-deny", body, ["--allow-env", "--deny-env=PATH,NEWVAR"],
        env=env, expect=(
            ok("raw-path", True) + ok("foo", "foo-value") +
            ok("foo-listed", True) + path_denied +
            denied("set", "env", "NEWVAR") + ok("missing", None)))


# --- ffi and sys -------------------------------------------------------------

def test_ffi():
    libc = _libc_path()
    body = """\
import ctypes
attempt("libc", lambda: ctypes.CDLL("libc.so.6").getpid() == os.getpid())
"""
    run("ffi-none", body, expect=denied("libc", "ffi", libc))
    # The running program loads nothing: what ctypes.pythonapi already is.
    run("ffi-self", """\
import ctypes
attempt("self", lambda: ctypes.CDLL(None).getpid() == os.getpid())
attempt("pythonapi", lambda: ctypes.pythonapi.Py_IsInitialized())
""", expect=ok("self", True) + ok("pythonapi", 1))
    run("ffi-allow", body, ["--allow-ffi"], expect=ok("libc", True))
    run("ffi-allow-path", body, [f"--allow-ffi={libc}"],
        expect=ok("libc", True))
    run("ffi-deny", body, ["--allow-ffi", f"--deny-ffi={libc}"],
        expect=denied("libc", "ffi", libc))


def test_sys():
    body = """\
import socket, platform
attempt("hostname", lambda: socket.gethostname() != "")
attempt("node", lambda: platform.node() != "")
"""
    run("sys-none", body, expect=denied("hostname", "sys", "hostname") +
        denied("node", "sys", "hostname"))
    run("sys-allow", body, ["--allow-sys=hostname"],
        expect=ok("hostname", True) + ok("node", True))
    run("sys-deny", body, ["--allow-sys", "--deny-sys=hostname"],
        expect=denied("hostname", "sys", "hostname") +
        denied("node", "sys", "hostname"))


def test_sys_apis():
    """The other system information wrappers, by Deno's names.  A denied
    os.cpu_count() is None ("undetermined"), not an error: the standard
    library sizes its thread pools by it."""
    body = """\
attempt("uid", lambda: os.getuid() == os.geteuid() or True)
attempt("gid", lambda: isinstance(os.getgid(), int))
attempt("egid", lambda: isinstance(os.getegid(), int))
attempt("os", lambda: os.uname().sysname)
attempt("loadavg", lambda: len(os.getloadavg()))
attempt("statfs", lambda: os.statvfs("/").f_bsize > 0)
attempt("cpus", lambda: os.cpu_count() is None)
"""
    run("sys-apis-none", body, expect=(
        denied("uid", "sys", "uid") + denied("gid", "sys", "gid") +
        denied("egid", "sys", "getegid") + denied("os", "sys", "os") +
        denied("loadavg", "sys", "loadavg") +
        denied("statfs", "sys", "statfs") + ok("cpus", True)))
    run("sys-apis-allow", body, ["--allow-sys"], expect=(
        ok("uid", True) + ok("gid", True) + ok("egid", True) +
        ok("os", "Linux") + ok("loadavg", 3) + ok("statfs", True) +
        ok("cpus", False)))
    run("sys-apis-deny", body, ["--allow-sys", "--deny-sys=uid,cpus"],
        expect=(denied("uid", "sys", "uid") + ok("gid", True) +
                ok("egid", True) + ok("os", "Linux") + ok("loadavg", 3) +
                ok("statfs", True) + ok("cpus", True)))


# --- the cache, threads, forks -----------------------------------------------

def test_cache(tree):
    """
    1000 opens of an allowed file all work and 1000 of a denied one are
    all denied, at the cost of one request each (policyd logs every
    decision it makes at -d -vv: each target at most once).
    """
    pub, secret = f"{tree}/pub.txt", f"{tree}/secret.txt"
    body = f"""\
n_ok = n_denied = 0
for _ in range(1000):
    with open({pub!r}) as f:
        n_ok += f.read() == "public\\n"
for _ in range(1000):
    try:
        open({secret!r})
    except PermissionError as e:
        n_denied += str(e) == {msg('read', secret)!r}
print(n_ok, n_denied)
"""

    def check(r, _path):
        for target in (pub, secret):
            n = r.stderr.count(f' read "{target}"')
            assert n <= 1, f"{target} decided {n} times\n{r.describe()}"

    run_case(Case("cache", body, flags=["-d", "-vv", f"--allow-read={tree}",
                                        f"--deny-read={secret}"],
                  stdout=b"1000 1000\n", check=check))


def test_threads(tree):
    """Eight threads ask at once, for targets allowed and denied: every
    answer reaches the thread that asked, for its own target."""
    d = f"{tree}/many"
    os.mkdir(d)
    os.chmod(d, 0o755)
    for i in range(64):
        for name in (f"ok{i}", f"no{i}"):
            with open(f"{d}/{name}", "w") as f:
                f.write(name)
            os.chmod(f"{d}/{name}", 0o644)
    body = f"""\
import threading
d, wrong = {d!r}, []
def work(k):
    for i in range(k, 64, 8):
        for name, allowed in (("ok%d" % i, True), ("no%d" % i, False)):
            path = "%s/%s" % (d, name)
            try:
                got = open(path).read() == name
            except PermissionError as e:
                got = "denied"
                if ('"%s"' % path) not in str(e):
                    wrong.append(str(e))
            if got != (True if allowed else "denied"):
                wrong.append((name, got))
threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(wrong)
"""
    deny = ",".join(f"{d}/no{i}" for i in range(64))
    run_case(Case("threads", body, flags=[f"--allow-read={d}",
                                          f"--deny-read={deny}"],
                  stdout=b"[]\n"))


def test_forked_children_ask(tree):
    """Forked children ask over the control socket they share with the
    worker, while the worker asks too; each gets its own answers."""
    body = f"""\
import os
d = {tree!r}
pids = []
for k in range(4):
    pid = os.fork()
    if pid == 0:
        wrong = 0
        for i in range(50):
            try:
                open("%s/out/c%d-%d" % (d, k, i), "w").close()
                wrong += 1
            except PermissionError:
                pass
            try:
                os.listdir(d)
            except PermissionError:
                wrong += 1
        os._exit(wrong)
    pids.append(pid)
wrong = 0
for i in range(200):
    try:
        open("%s-elsewhere/f%d" % (d, i))
        wrong += 1
    except PermissionError:
        pass
    except FileNotFoundError:
        wrong += 1
print(wrong, [os.waitpid(p, 0)[1] >> 8 for p in pids])
"""
    run_case(Case("fork", body, flags=[f"--allow-read={tree}"],
                  stdout=b"0 [0, 0, 0, 0]\n"))


# --- the example -------------------------------------------------------------

def test_example_permissions():
    """example/permissions.py: denials under no flag, the same
    operations allowed with the flags its docstring gives; exit 0."""
    entry = str(os.path.join(os.path.dirname(__file__), "..", "..",
                             "example", "permissions.py"))
    entry = os.path.realpath(entry)
    run_case(Case("example-none", entry=entry, stdout=(
        f"read: denied: {msg('read', '/etc/passwd')}\n"
        f"sys: denied: {msg('sys', 'hostname')}\n"
        f"env: denied: {msg('env', 'GREETING')}\n").encode()))

    def check(r, _path):
        lines = r.out.splitlines()
        assert [line.split(":")[:2] for line in lines] == [
            ["read", " allowed"], ["sys", " allowed"], ["env", " allowed"]
        ], r.describe()
        assert lines[2] == "env: allowed: GREETING=hello", r.describe()

    run_case(Case("example-allow", entry=entry, check=check, flags=[
        "--allow-read=/etc/passwd", "--allow-sys=hostname",
        "--allow-env=GREETING"]))
