"""
Lifecycle: a daemon dying, signals to podrunner, and many runs in a row.
After each, nothing may be left (the leftovers fixture checks processes,
/dev/shm/podrunner.* and /run/podrunner after every test, and these tests
check the very worker they saw as well).
"""

import os
import shutil
import signal
import time

import pytest

import conftest
from conftest import (EXIT_FAILURE, LEFTOVER_GRACE, RUN_DIR, SHM_DIR, Pod,
                      assert_clean, leftovers, podrunner, proc_alive,
                      proc_cmdline, proc_stat, proc_title, remove_leftovers,
                      write_script)


def _current_baseline():
    return conftest._baseline

BLOCK = ('import sys\nprint("ready", flush=True)\nsys.stdin.read()\n'
         'print("done")\n')


def _gone(ident):
    """True once the process is gone (or a zombie), within the grace."""
    deadline = time.monotonic() + LEFTOVER_GRACE
    while proc_alive(*ident) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not proc_alive(*ident)


def _identity(pid):
    st = proc_stat(pid)
    assert st is not None, pid
    return pid, st[2]


# --- a daemon dies ------------------------------------------------------------------

# (title of the process to kill, word the message must contain)
VICTIMS = [
    ("policyd", "policyd"),
    ("proxy", "proxy"),
    ("auditd", "auditd"),
    ("sandbox", "sandbox"),
    ("relay", "relay"),
]


@pytest.mark.parametrize("title,word", VICTIMS, ids=[v[0] for v in VICTIMS])
def test_daemon_killed(title, word):
    """
    SIGKILL to one daemon while a script blocks on stdin: podrunner exits
    125 with a line naming the dead process, and the worker is gone even
    though its stdin is still open.  Fails if podrunner ignores the death
    (hangs until the hang guard), exits 0, blames nobody, or leaves the
    worker (or anything else) behind.
    """
    path = write_script(BLOCK)
    with Pod(path) as pod:
        pod.wait_output(b"ready\n")
        victims = pod.find(f"podrunner: {title}", timeout=2)
        assert len(victims) == 1, pod.tree()
        worker = _identity(pod.worker())
        os.kill(victims[0], signal.SIGKILL)
        # stdin stays open: the worker must be killed, not run out of input.
        status = pod.wait()
        ctx = pod.describe()
        assert status == EXIT_FAILURE, ctx
        lines = [l for l in pod.stderr.splitlines()
                 if l.startswith("podrunner: ") and
                 not l.startswith("podrunner: warning:")]
        assert any(word in l for l in lines), \
            f"no line naming {word}\n{ctx}"
        assert b"done" not in pod.stdout, ctx
        # The very worker we saw is gone (or at most a zombie).
        assert_clean(what=f"after {title} was killed")
        assert _gone(worker), f"worker {worker[0]} survived"


def test_process_names():
    """
    Each daemon, the relay and pod init carry their role in their name
    (/proc/PID/comm, what ps, top and perf show), not the "exe" of their
    exec of /proc/self/exe.  Fails if the names are not set.
    """
    path = write_script(BLOCK)
    with Pod(path) as pod:
        pod.wait_output(b"ready\n")
        for title in ("policyd", "proxy", "auditd", "sandbox", "relay",
                      "pod init"):
            pids = pod.find(f"podrunner: {title}", timeout=2)
            assert len(pids) == 1, pod.tree()
            with open(f"/proc/{pids[0]}/comm") as f:
                comm = f.read().strip()
            want = "pod-init" if title == "pod init" else f"pod-{title}"
            assert comm == want, (title, comm, pod.tree())
        pod.close_stdin()
        assert pod.wait() == 0, pod.describe()


# --- signals to podrunner ----------------------------------------------------------------

# (signal, script prelude, status, stdout, stderr substrings)
SIGNALS = [
    ("SIGTERM", "", 128 + 15, b"ready\n", []),
    ("SIGINT", "signal.signal(signal.SIGINT, signal.SIG_DFL)\n", 128 + 2,
     b"ready\n", []),
    # Python's own SIGINT handling: KeyboardInterrupt, then death by
    # SIGINT, as when the script runs outside podrunner.
    ("SIGINT", "", 128 + 2, b"ready\n", ["KeyboardInterrupt"]),
    # The worker gets the signal itself: its handler runs and decides.
    ("SIGTERM",
     "def h(n, f):\n    print('caught', n, flush=True)\n    sys.exit(7)\n"
     "signal.signal(signal.SIGTERM, h)\n", 7, b"ready\ncaught 15\n", []),
    ("SIGINT",
     "def h(n, f):\n    print('caught', n, flush=True)\n    sys.exit(0)\n"
     "signal.signal(signal.SIGINT, h)\n", 0, b"ready\ncaught 2\n", []),
]


@pytest.mark.parametrize(
    "sig,prelude,status,stdout,stderr_has", SIGNALS,
    ids=[f"{s[0]}-{i}" for i, s in enumerate(SIGNALS)])
def test_signal_to_podrunner(sig, prelude, status, stdout, stderr_has):
    """
    The signal reaches the worker; podrunner's status is the worker's
    (128+N if it died of it), output so far is delivered, nothing is
    left.  Fails if podrunner dies of the signal itself without stopping
    the worker, reports 125, or loses the handler's output.
    """
    path = write_script("import signal, sys\n" + prelude + BLOCK)
    with Pod(path) as pod:
        pod.wait_output(b"ready\n")
        worker = _identity(pod.worker())
        os.kill(pod.pid, getattr(signal, sig))
        got = pod.wait()
        ctx = pod.describe()
        assert got == status, f"status {got}, want {status}\n{ctx}"
        assert pod.stdout == stdout, ctx
        for s in stderr_has:
            assert s in pod.stderr, ctx
        assert_clean(what=f"after {sig}")
        assert _gone(worker), f"worker {worker[0]} survived"


def test_sigterm_before_worker_ready():
    """
    SIGTERM right after start (the daemons may still be starting): podrunner
    still exits (any status) and leaves nothing.  Fails on a hang or a
    leftover from a half-built pod.
    """
    path = write_script(BLOCK)
    with Pod(path) as pod:
        # Wait until at least one child exists, but not for the worker.
        pod.find("podrunner: ")
        os.kill(pod.pid, signal.SIGTERM)
        pod.wait()
    assert_clean(what="after an early SIGTERM")


# --- error paths leave nothing behind -------------------------------------------------

def test_setup_failure_leaves_nothing():
    """A status-125 failure after the daemons started leaves nothing."""
    # The relay refuses an entry too large for the data plane, after
    # the daemons, the pod's directory, socket and segment exist.
    r = podrunner("run", "--shm-size=8k",
                  write_script("x = 1\n" * 30000))
    assert r.status == EXIT_FAILURE, r.describe()
    assert_clean(what="after a failed start")


# --- many runs -------------------------------------------------------------------------

RUNS = 200


def test_many_runs_leave_nothing():
    """
    200 runs in a row of a trivial script: each prints its greeting and
    exits 0, and after every run nothing is left (no process, segment or
    control directory piles up).
    """
    path = write_script('import sys\nprint("hello", sys.argv[1])\n')
    for i in range(RUNS):
        r = podrunner("run", path, str(i))
        assert r.status == 0 and r.stdout == b"hello %d\n" % i, \
            f"run {i}:\n{r.describe()}"
        if i % 20 == 19 or i == RUNS - 1:
            assert_clean(what=f"after run {i}")


# --- the parent itself is killed -------------------------------------------------------

def test_parent_sigkilled_takes_everything_with_it():
    """
    SIGKILL to podrunner itself (nothing can clean up): every child dies
    with its parent (PR_SET_PDEATHSIG, DESIGN.md) and the worker must
    not run on unsupervised.  Fails if a daemon or the worker survives.
    The pod's shm segment and control directory cannot be removed by a
    dead parent; this test removes them itself (after noting them) so
    that only processes are judged here.
    """
    path = write_script('import time\nprint("ready", flush=True)\n'
                        'while True:\n    time.sleep(1)\n')
    with Pod(path) as pod:
        pod.wait_output(b"ready\n")
        tree = {pid: _identity(pid) for pid in pod.tree()}
        worker = _identity(pod.worker())
        podid = proc_cmdline(worker[0])[-2].lstrip("/")[len("podrunner."):]
        os.kill(pod.pid, signal.SIGKILL)
        pod.wait()
        # Children die asynchronously (PR_SET_PDEATHSIG): give them the
        # same grace as the leftovers check before judging.
        deadline = time.monotonic() + LEFTOVER_GRACE
        while time.monotonic() < deadline and any(
                proc_alive(*ident) for ident in tree.values()):
            time.sleep(0.1)
        alive = {pid: proc_title(pid) for pid, ident in tree.items()
                 if proc_alive(*ident)}
        lines, items = leftovers(_current_baseline())
        survivors = [l for l in lines if l.startswith("proc:")]
        remove_leftovers(items)
        seen = set(tree.values())
        for kind, key, _ in items:
            # Only processes we saw in this pod's tree.
            if kind == "proc" and key in seen and proc_alive(*key):
                os.kill(key[0], signal.SIGKILL)
        seg = SHM_DIR / f"podrunner.{podid}"
        if seg.exists():
            seg.unlink()
        shutil.rmtree(RUN_DIR / podid, ignore_errors=True)
        for pid, ident in tree.items():
            if pid in alive and proc_alive(*ident):
                os.kill(pid, signal.SIGKILL)
        assert not survivors, \
            "survived podrunner's SIGKILL:\n  " + "\n  ".join(survivors)
        assert not alive, f"survived podrunner's SIGKILL: {alive}"
