"""
Black-box tests of the podrunner binary: shared driver and checks.

Tests read like relayd's regress: a case is mostly data (the script, its
arguments, stdin, environment and flags, what must come out and what
status), and the driver here runs it.  Every test is followed by the
leftovers check: no podrunner process, worker, shm segment or control
directory may survive a run.

Run as root (make check-integration); tests run serially.  No assertion
is timed: the timeouts below only turn a hang into a failure.
"""

import dataclasses
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import pytest

ROOT = Path(__file__).resolve().parents[2]
PODRUNNER = ROOT / "podrunner"
PYTHON_WORKER_NAME = "podrunner_worker.py"
DAEMON_USER = "_podrunner"

# Generous: a hang fails the test instead of blocking the run forever.
TIMEOUT = 60
# After podrunner has exited, its children may take a moment to be gone
# (PR_SET_PDEATHSIG is asynchronous); poll this long before calling
# something a leftover.
LEFTOVER_GRACE = 5.0

SHM_DIR = Path("/dev/shm")
RUN_DIR = Path("/run/podrunner")
RUN_DIR_KEEP = {"uids.lock"}

EXIT_TIMEOUT = 124
EXIT_FAILURE = 125
EXIT_NOEXEC = 126
EXIT_NOENT = 127

WARNING_PREFIX = "podrunner: warning:"

# Every podrunner we started (pid, starttime): a live podrunner that is
# not ours belongs to someone else working on this machine and is left
# alone by the leftovers check.
_started = set()
# The same, for the current test only: session ids of podrunners we
# started in this test (pids do not wrap around within one test, so a
# session id here is certainly ours).
_started_test = set()


def _register(pid):
    st = proc_stat(pid)
    if st is not None:
        _started.add((pid, st[2]))
    _started_test.add(pid)

# The directory holding the scripts the tests write (world-readable so
# that an unprivileged worker can read them).
_script_dir = None


# --- /proc -----------------------------------------------------------------

def proc_pids():
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def proc_stat(pid):
    """(state, ppid, starttime) or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may hold spaces and parentheses: split after the last ')'.
    rest = data[data.rfind(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def proc_session(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(data[data.rfind(")") + 2:].split()[3])


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [a.decode("utf-8", "replace") for a in data.rstrip(b"\0").split(b"\0")
            if a != b""] if data else []


def proc_title(pid):
    """The command line as one string (setproctitle'd titles included)."""
    return " ".join(proc_cmdline(pid)).strip()


def proc_exe(pid):
    try:
        link = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    if link.endswith(" (deleted)"):
        link = link[: -len(" (deleted)")]
    return link


def proc_status(pid):
    """/proc/PID/status as a dict of strings."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, val = line.partition(":")
            out[key] = val.strip()
    return out


def proc_alive(pid, starttime):
    st = proc_stat(pid)
    return st is not None and st[2] == starttime and st[0] != "Z"


def children_map():
    kids = {}
    for pid in proc_pids():
        st = proc_stat(pid)
        if st is not None:
            kids.setdefault(st[1], []).append(pid)
    return kids


def descendants(root):
    """All live descendants of root (not root itself), found by ppid."""
    kids = children_map()
    out, todo = [], list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


# --- what counts as ours ----------------------------------------------------

def _binaries():
    bins = set()
    for p in (PODRUNNER, ROOT / "build" / "podrunner",
              ROOT / "build-san" / "podrunner"):
        try:
            bins.add(str(p.resolve()))
        except OSError:
            pass
    return bins


def is_podrunner_proc(pid):
    """The binary, under any title: exe, argv[0] or a 'podrunner...' title."""
    exe = proc_exe(pid)
    if exe is not None and (exe in _binaries() or
                            os.path.basename(exe) == "podrunner"):
        return True
    argv = proc_cmdline(pid)
    if not argv:
        return False
    return (argv[0].startswith("podrunner") or
            os.path.basename(argv[0].split(" ")[0]) == "podrunner")


def is_parent_proc(pid):
    """A 'podrunner run/init-policy' parent, not a titled child."""
    return is_podrunner_proc(pid) and not proc_title(pid).startswith(
        "podrunner:")


def is_worker_proc(pid):
    title = proc_title(pid)
    return PYTHON_WORKER_NAME in title or (
        _script_dir is not None and str(_script_dir) in title)


def _excluded_pids():
    """This test process and its ancestors."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        st = proc_stat(pid)
        if st is None:
            break
        pid = st[1]
    return pids


def snapshot():
    """Everything that may be a leftover, as a set of (kind, key, detail)."""
    items = set()
    excluded = _excluded_pids()
    for pid in proc_pids():
        if pid in excluded:
            continue
        st = proc_stat(pid)
        if st is None or st[0] == "Z":
            continue
        # Anything still in the session of a podrunner this test
        # started is a descendant that outlived it, whatever it runs
        # (a worker's child may exec anything).
        if is_podrunner_proc(pid) or is_worker_proc(pid) or \
                proc_session(pid) in _started_test:
            items.add(("proc", (pid, st[2]), proc_title(pid)))
    try:
        for name in os.listdir(SHM_DIR):
            if name.startswith("podrunner."):
                items.add(("shm", name, str(SHM_DIR / name)))
    except FileNotFoundError:
        pass
    try:
        for name in os.listdir(RUN_DIR):
            if name not in RUN_DIR_KEEP:
                items.add(("run", name, str(RUN_DIR / name)))
    except FileNotFoundError:
        pass
    return items


def _foreign(items):
    """
    Items that belong to a podrunner someone else is running right now
    (a live parent we did not start): its process tree, and the shm
    segments and control directories named in that tree's command lines,
    mappings and open files.
    """
    roots = []
    for kind, key, _ in items:
        if kind == "proc" and key not in _started and is_parent_proc(key[0]):
            roots.append(key[0])
    if not roots:
        return set()
    tree = set(roots)
    for r in roots:
        tree.update(descendants(r))
    refs = []
    for pid in tree:
        refs.append(proc_title(pid))
        try:
            with open(f"/proc/{pid}/maps") as f:
                refs.append(f.read())
        except OSError:
            pass
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    refs.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    pass
        except OSError:
            pass
    blob = "\n".join(refs)
    ids = set(re.findall(r"podrunner\.([A-Za-z0-9_-]+)", blob))
    ids.update(re.findall(r"/run/podrunner/([^/\s]+)", blob))
    out = set()
    for item in items:
        kind, key, _ = item
        if kind == "proc" and key[0] in tree:
            out.add(item)
        elif kind == "shm" and key.split(".", 1)[-1] in ids:
            out.add(item)
        elif kind == "run" and key in ids:
            out.add(item)
    return out


def leftovers(baseline=frozenset(), grace=LEFTOVER_GRACE):
    """
    What a run left behind that was not there at baseline, after giving
    dying children up to `grace` seconds.  Returns a sorted list of
    human-readable lines (empty: clean).
    """
    deadline = time.monotonic() + grace
    while True:
        items = snapshot() - set(baseline)
        items -= _foreign(items)
        if not items or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return sorted(f"{kind}: {detail}" + (f" (pid {key[0]})" if kind == "proc"
                                         else "")
                  for kind, key, detail in items), items


def remove_leftovers(items):
    """
    Kill leftover processes that are certainly ours: those still in the
    session of a podrunner we started (start_new_session makes its pid
    the session id).  Anything else, and shm segments and control
    directories, stay where they are as evidence; the baseline keeps
    them from failing later tests.
    """
    for kind, key, _ in items:
        if kind == "proc" and proc_session(key[0]) in _started_test and \
                proc_alive(*key):
            try:
                os.kill(key[0], signal.SIGKILL)
            except ProcessLookupError:
                pass


# What existed when the current test started (set by the fixture).
_baseline = frozenset()


def assert_clean(baseline=None, what="after the run"):
    if baseline is None:
        baseline = _baseline
    lines, items = leftovers(baseline)
    if lines:
        remove_leftovers(items)
        pytest.fail(f"left behind {what}:\n  " + "\n  ".join(lines),
                    pytrace=False)


# --- fixtures ----------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def _session():
    global _script_dir
    _script_dir = Path(tempfile.mkdtemp(prefix="podrunner-regress-",
                                        dir="/tmp"))
    os.chmod(_script_dir, 0o755)
    yield
    shutil.rmtree(_script_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_leftovers():
    """After every test: nothing podrunner started may survive it."""
    global _baseline
    _started_test.clear()
    _baseline = baseline = frozenset(snapshot())
    yield
    assert_clean(baseline, "by this test")


@pytest.fixture
def script_dir():
    return _script_dir


@pytest.fixture(scope="session")
def daemon_uid():
    try:
        return pwd.getpwnam(DAEMON_USER).pw_uid
    except KeyError:
        pytest.fail(f"user {DAEMON_USER} does not exist (make deps)",
                    pytrace=False)


# --- running podrunner -----------------------------------------------------------

_counter = 0


def write_script(source, suffix=".py", mode=0o644, name=None, data=None):
    """Write a script under the world-readable script dir; return its path."""
    global _counter
    _counter += 1
    if name is None:
        name = f"s{_counter:04d}{suffix}"
    path = _script_dir / name
    if data is None:
        data = source.encode()
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def base_env(extra=None):
    """A small, known environment for podrunner itself."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                   "/sbin:/bin",
           "LANG": "C.UTF-8"}
    if extra:
        env.update(extra)
    return env


@dataclasses.dataclass
class Result:
    cmd: list
    status: int
    stdout: bytes
    stderr: str

    @property
    def out(self):
        return self.stdout.decode("utf-8", "replace")

    @property
    def err_lines(self):
        """stderr lines other than podrunner's own warnings."""
        return [l for l in self.stderr.splitlines()
                if not l.startswith(WARNING_PREFIX)]

    def describe(self):
        err = self.stderr if len(self.stderr) < 4000 else (
            self.stderr[:2000] + "\n...\n" + self.stderr[-2000:])
        out = self.stdout if len(self.stdout) < 2000 else (
            self.stdout[:1000] + b"..." + self.stdout[-1000:])
        return (f"command: {' '.join(map(repr, self.cmd))}\n"
                f"status:  {self.status}\nstdout:  {out!r}\n"
                f"stderr:\n{err}")


def _can_run():
    if os.geteuid() != 0:
        pytest.fail("the integration tests run as root", pytrace=False)
    if not PODRUNNER.exists():
        pytest.fail(f"{PODRUNNER} not built (run make)", pytrace=False)


def podrunner(*args, input=b"", env=None, timeout=TIMEOUT, cwd=None):
    """Run podrunner with args; return a Result.  A hang fails the test."""
    _can_run()
    cmd = [str(PODRUNNER), *map(str, args)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=base_env(env),
                         cwd=cwd, start_new_session=True)
    _register(p.pid)
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"podrunner hung for {timeout}s: {' '.join(cmd)}\n"
                    f"stdout: {out[-2000:]!r}\nstderr: "
                    f"{err[-2000:].decode('utf-8', 'replace')}",
                    pytrace=False)
    return Result(cmd, p.returncode, out, err.decode("utf-8", "replace"))


class Pod:
    """
    A podrunner left running: stdin is a pipe we hold, stdout and stderr
    go to files we can poll.  For tests that look at the live process
    tree, signal it or kill parts of it.
    """

    def __init__(self, entry, args=(), flags=(), env=None):
        _can_run()
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        self.cmd = [str(PODRUNNER), "run", *map(str, flags), str(entry),
                    *map(str, args)]
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE,
                                     stdout=self.out, stderr=self.err,
                                     env=base_env(env),
                                     start_new_session=True)
        self.pid = self.proc.pid
        _register(self.pid)

    def _read(self, f):
        # pread: the file's offset is podrunner's too (its stdout is
        # this open file); moving it would make podrunner write over
        # what it wrote ("ready\n" read back as "\neady").
        fd = f.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0)

    @property
    def stdout(self):
        return self._read(self.out)

    @property
    def stderr(self):
        return self._read(self.err).decode("utf-8", "replace")

    def describe(self):
        return (f"command: {' '.join(self.cmd)}\nstatus: "
                f"{self.proc.returncode}\nstdout: {self.stdout[-2000:]!r}\n"
                f"stderr:\n{self.stderr[-4000:]}")

    def wait_output(self, needle, stream="stdout", timeout=TIMEOUT):
        """Wait until needle (bytes) appears on stdout (or stderr)."""
        f = self.out if stream == "stdout" else self.err
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self._read(f):
                return
            if self.proc.poll() is not None:
                if needle in self._read(f):
                    return
                self.kill()
                pytest.fail(f"podrunner exited before printing {needle!r}:"
                            f"\n{self.describe()}", pytrace=False)
            time.sleep(0.02)
        self.kill()
        pytest.fail(f"no {needle!r} on {stream} within {timeout}s:\n"
                    f"{self.describe()}", pytrace=False)

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def wait(self, timeout=TIMEOUT):
        """Wait for podrunner to exit (stdin stays as it is)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"podrunner did not exit within {timeout}s:\n"
                        f"{self.describe()}", pytrace=False)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def tree(self):
        """{pid: title} of the live descendants of podrunner."""
        return {pid: proc_title(pid) for pid in descendants(self.pid)}

    def find(self, prefix, timeout=TIMEOUT):
        """Pids of descendants whose title starts with prefix (waits)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [pid for pid, t in self.tree().items()
                     if t.startswith(prefix)]
            if found or time.monotonic() >= deadline:
                return found
            if self.proc.poll() is not None:
                return found
            time.sleep(0.05)

    def worker(self):
        """The python worker's pid (a descendant running the runtime)."""
        found = [pid for pid, t in self.tree().items()
                 if PYTHON_WORKER_NAME in t and not t.startswith("podrunner")]
        assert len(found) == 1, (f"expected one python worker, found "
                                 f"{found}:\n{self.tree()}")
        return found[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        self.close_stdin()
        self.out.close()
        self.err.close()


# --- the case driver -------------------------------------------------------------

@dataclasses.dataclass
class Case:
    """One run of podrunner, as data."""
    name: str
    source: str = ""                 # the script (written to a file)
    args: Sequence[str] = ()         # after the entry: the script's
    flags: Sequence[str] = ()        # before the entry: podrunner's
    stdin: bytes = b""
    env: Optional[dict] = None       # podrunner's environment (added)
    status: int = 0
    stdout: Optional[bytes] = None   # exact stdout, if given
    stdout_has: Sequence[str] = ()   # substrings of stdout
    stderr_has: Sequence[str] = ()   # substrings of stderr
    stderr_exact: Optional[str] = None  # stderr minus podrunner warnings
    suffix: str = ".py"
    mode: int = 0o644
    data: Optional[bytes] = None     # raw file content instead of source
    entry: Optional[str] = None      # run this path instead of the script
    check: Optional[Callable] = None  # check(result, script_path)
    timeout: int = TIMEOUT

    def __str__(self):
        return self.name


def run_case(case):
    if case.entry is not None:
        path = case.entry
    else:
        path = write_script(case.source, case.suffix, case.mode,
                            data=case.data)
    r = podrunner("run", *case.flags, path, *case.args, input=case.stdin,
                  env=case.env, timeout=case.timeout)
    ctx = r.describe()
    assert r.status == case.status, f"exit status {r.status}, want " \
        f"{case.status}\n{ctx}"
    if case.stdout is not None:
        assert r.stdout == case.stdout, f"stdout differs, want " \
            f"{case.stdout!r}\n{ctx}"
    for s in case.stdout_has:
        assert s in r.out, f"{s!r} not on stdout\n{ctx}"
    for s in case.stderr_has:
        assert s in r.stderr, f"{s!r} not on stderr\n{ctx}"
    if case.stderr_exact is not None:
        got = "".join(l + "\n" for l in r.err_lines)
        assert got == case.stderr_exact, f"stderr (warnings removed) is " \
            f"{got!r}, want {case.stderr_exact!r}\n{ctx}"
    if case.status == EXIT_FAILURE:
        assert any(l.startswith("podrunner: ") for l in r.err_lines), \
            f"status 125 without a 'podrunner: ' line\n{ctx}"
    if case.check is not None:
        case.check(r, path)
    return r


def cases_by_name(cases):
    return pytest.mark.parametrize("case", cases, ids=[c.name for c in cases])
