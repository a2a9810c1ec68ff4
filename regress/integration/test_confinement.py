"""
The live process tree of a running pod and how each process is confined.

A script prints "ready" and blocks reading stdin (a pipe this test
holds); meanwhile the processes are found as descendants of the
podrunner pid (ppid walk over /proc/*/stat) and inspected through
/proc/PID/{status,root,cmdline,maps,fd}.  Each check says in a comment
what would make it fail.
"""

import os
import stat
import time

import pytest

from conftest import (PYTHON_WORKER_NAME, RUN_DIR, SHM_DIR, Pod, proc_cmdline,
                      proc_stat, proc_status, proc_title, write_script)

BLOCK = ('import sys\nprint("ready", flush=True)\nsys.stdin.read()\n'
         'print("done")\n')

DAEMONS = ["policyd", "proxy", "auditd"]      # children of the parent
TITLES = DAEMONS + ["sandbox", "relay"]


def caps(pid, which="CapEff"):
    return int(proc_status(pid)[which], 16)


def ids(pid, key):
    """Real, effective, saved and filesystem uid (or gid)."""
    return [int(x) for x in proc_status(pid)[key].split()]


class Running:
    """A blocked pod and the pids of its processes, by role."""

    def __init__(self, pod):
        self.pod = pod
        self.parent = pod.pid
        self.roles = {}
        for role in TITLES:
            # The worker printed "ready": the tree is complete by now.
            found = pod.find(f"podrunner: {role}", timeout=2)
            assert len(found) == 1, (f"want one '{role}' process, found "
                                     f"{found}\n{pod.tree()}")
            self.roles[role] = found[0]
        self.roles["worker"] = pod.worker()

    def __getitem__(self, role):
        return self.roles[role]


@pytest.fixture
def running():
    path = write_script(BLOCK)
    with Pod(path) as pod:
        pod.wait_output(b"ready\n")
        yield Running(pod)
        pod.close_stdin()
        status = pod.wait()
        assert status == 0, pod.describe()
        assert pod.stdout == b"ready\ndone\n", pod.describe()


def test_process_tree(running):
    """
    parent -> policyd, proxy, auditd, sandbox; sandbox -> relay;
    relay -> ... -> worker.  Fails if a daemon hangs off the wrong
    parent (e.g. the relay forked by the parent), or the worker is not
    under its relay.
    """
    ppid = {role: proc_stat(pid)[1] for role, pid in running.roles.items()}
    for role in DAEMONS + ["sandbox"]:
        assert ppid[role] == running.parent, (role, running.pod.tree())
    assert ppid["relay"] == running["sandbox"], running.pod.tree()
    # The worker descends from the relay (a pod init may sit between).
    pid = running["worker"]
    while pid not in (running["relay"], 1, 0):
        pid = proc_stat(pid)[1]
    assert pid == running["relay"], running.pod.tree()


def test_parent_is_root(running):
    # The parent keeps root; if it dropped, cleanup could not work.
    assert ids(running.parent, "Uid")[1] == 0


@pytest.mark.parametrize("role", DAEMONS + ["relay"])
def test_daemon_confined(running, role, daemon_uid):
    pid = running[role]
    st = proc_status(pid)
    ctx = f"{role} pid {pid}: {proc_title(pid)}\n{st}"
    # Fails if the daemon kept (or regained via a saved id) root, or
    # runs as any user other than _podrunner.
    assert ids(pid, "Uid") == [daemon_uid] * 4, ctx
    # Fails if any group id or a supplementary group is root's.
    assert 0 not in ids(pid, "Gid"), ctx
    assert "0" not in st.get("Groups", "").split(), ctx
    # Fails if it holds any capability, effective or permitted or ambient,
    # or could gain one at an exec (its bounding set is not empty).
    assert caps(pid, "CapEff") == 0, ctx
    assert caps(pid, "CapPrm") == 0, ctx
    assert caps(pid, "CapAmb") == 0, ctx
    assert caps(pid, "CapBnd") == 0, ctx
    # Fails without its own seccomp filter or without no_new_privs.
    assert st["Seccomp"] == "2", ctx
    assert st["NoNewPrivs"] == "1", ctx
    # Fails if it was not chrooted (still sees the host's /).
    root = os.readlink(f"/proc/{pid}/root")
    assert root != "/", ctx
    # Fails if the chroot is not empty, not root's, or writable by others
    # (STYLE.md: "an empty root-owned directory that no one else can
    # write").
    rst = os.stat(f"/proc/{pid}/root/")
    assert rst.st_uid == 0, f"{root} owned by {rst.st_uid}\n{ctx}"
    assert rst.st_mode & 0o022 == 0, f"{root} mode {oct(rst.st_mode)}"
    assert os.listdir(f"/proc/{pid}/root/") == [], f"{root} not empty"
    # Fails if the process is dumpable (PR_SET_DUMPABLE=0 makes its /proc
    # entries root's although it runs as _podrunner).
    assert os.stat(f"/proc/{pid}/status").st_uid == 0, \
        f"{role} is dumpable\n{ctx}"


def test_sandbox_confined(running):
    pid = running["sandbox"]
    st = proc_status(pid)
    ctx = f"sandbox pid {pid}: {proc_title(pid)}\n{st}"
    mine = caps(os.getpid(), "CapEff")
    eff = caps(pid, "CapEff")
    # Fails if it kept every capability root has (did not drop to what
    # spawning needs) or holds one this test does not.
    assert eff != mine, f"sandbox kept the full capability set\n{ctx}"
    assert eff & ~mine == 0, ctx
    # The bounding set is cut down to the same few.
    assert caps(pid, "CapBnd") == eff, \
        f"sandbox's bounding set is not what it keeps\n{ctx}"
    # Fails without seccomp filter or no_new_privs.
    assert st["Seccomp"] == "2", ctx
    assert st["NoNewPrivs"] == "1", ctx
    # Fails if not chrooted.
    assert os.readlink(f"/proc/{pid}/root") != "/", ctx


def test_worker_unprivileged(running, daemon_uid):
    pid = running["worker"]
    st = proc_status(pid)
    ctx = f"worker pid {pid}: {proc_title(pid)}\n{st}"
    uids = ids(pid, "Uid")
    # Fails if the worker runs as root or shares the daemons' user (it
    # could then signal or ptrace them).
    assert 0 not in uids, ctx
    assert daemon_uid not in uids, ctx
    assert 0 not in ids(pid, "Gid"), ctx
    assert "0" not in st.get("Groups", "").split(), ctx
    # Fails if it holds any capability, or could gain one at an exec.
    assert caps(pid, "CapEff") == 0, ctx
    assert caps(pid, "CapPrm") == 0, ctx
    assert caps(pid, "CapAmb") == 0, ctx
    assert caps(pid, "CapBnd") == 0, ctx


def test_worker_command_line(running):
    """
    `<runtime> <socket_path> <shm_name> <shm_size>` (DESIGN.md), with the
    runtime /usr/bin/python3 podrunner_worker.py.  Fails if the worker is
    started another way (e.g. the script path in place of the socket).
    """
    argv = proc_cmdline(running["worker"])
    assert os.path.basename(argv[0]).startswith("python3"), argv
    assert os.path.realpath(f"/proc/{running['worker']}/exe").startswith(
        "/usr/bin/python3"), argv
    # The runtime as built: compiled once (.pyc), or its source.
    assert os.path.basename(argv[-4]) in (PYTHON_WORKER_NAME,
                                          PYTHON_WORKER_NAME + "c"), argv
    sock, shm, size = argv[-3:]
    assert sock.endswith("/ctl.sock"), argv
    assert shm.lstrip("/").startswith("podrunner."), argv
    assert size == str(1 << 20), argv


def test_children_re_executed(running):
    """
    Each daemon is fork + exec of the binary (fresh ASLR): the binary is
    mapped at a different address than in the parent.  Fails for a
    plain fork, which inherits the parent's layout.  (A coincidence has
    a chance of about 2^-28 per child.)
    """
    def base(pid):
        exe = os.readlink(f"/proc/{pid}/exe").replace(" (deleted)", "")
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                if line.rstrip().endswith(exe):
                    return line.split("-", 1)[0]
        return None

    with open("/proc/sys/kernel/randomize_va_space") as f:
        if f.read().strip() == "0":
            pytest.skip("ASLR is disabled on this machine")
    parent = base(running.parent)
    assert parent is not None
    for role in DAEMONS + ["sandbox"]:
        b = base(running[role])
        assert b is not None, role
        assert b != parent, f"{role} shares the parent's layout (not re-executed)"


@pytest.mark.parametrize("role", DAEMONS + ["sandbox"])
def test_imsg_socket_on_fd3(running, role):
    # Fails if fd 3 of the child is not its (socket) channel to the parent.
    link = os.readlink(f"/proc/{running[role]}/fd/3")
    assert link.startswith("socket:"), f"{role} fd 3 is {link}"


def _pod_resources(pod, worker):
    argv = proc_cmdline(worker)
    sock, shm, size = argv[-3:]
    podid = shm.lstrip("/")[len("podrunner."):]
    return podid, int(size)


def _shm_mappings(pid, podid):
    """{(dev, inode): total length} of pid's mappings of the pod's segment."""
    out = {}
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 6 or not fields[5].startswith(
                    f"/dev/shm/podrunner.{podid}"):
                continue
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            key = (fields[3], fields[4])
            out[key] = out.get(key, 0) + hi - lo
    return out


def check_pod_resources(running_pod, relay, worker, want_size):
    """
    The data plane is one segment of --shm-size bytes shared by relay and
    worker; the control socket lives in a private 0700 directory.

    The brief this was written from says /dev/shm/podrunner.<podid> and
    /run/podrunner/<podid>/ctl.sock exist while the pod runs.  The
    implementation may instead remove both names as soon as the worker
    has attached (nothing can then be left behind or opened by anyone
    else).  Either state passes, a mixture does not (one seen while the
    names are being removed must end with both gone).  Fails if relay and
    worker do not map the same segment, its size is not --shm-size, the
    names stay half removed, or (while they exist) the directory is not
    0700, ctl.sock is not a socket, or the segment is open to others.
    """
    podid, size = _pod_resources(running_pod, worker)
    assert size == want_size, proc_cmdline(worker)
    wmap, rmap = _shm_mappings(worker, podid), _shm_mappings(relay, podid)
    assert len(wmap) == 1, f"worker maps {wmap} of pod {podid}"
    assert wmap == rmap, f"worker maps {wmap}, relay maps {rmap}"
    assert list(wmap.values()) == [size], f"mapped {wmap}, want {size}"
    seg = SHM_DIR / f"podrunner.{podid}"
    d = RUN_DIR / podid

    def names():
        return seg.exists(), os.path.lexists(d)

    # Removing them is a sequence (the segment, the directory's files,
    # the directory), which this may look at in its middle: a mixture
    # must end, within seconds, with both gone.
    def settled():
        deadline = time.monotonic() + 5
        now = names()
        while now[0] != now[1] and time.monotonic() < deadline:
            time.sleep(0.01)
            now = names()
        assert now[0] == now[1], (
            f"half removed: {seg} exists={now[0]}, {d} exists={now[1]}")
        return now[0]

    if not settled():
        return "unlinked"
    try:
        sst = seg.stat()
        dst = os.lstat(d)
        sock = os.lstat(d / "ctl.sock")
    except FileNotFoundError:
        # The removal began after we looked.
        assert not settled(), f"{seg} or {d} went, the other stayed"
        return "unlinked"
    assert sst.st_size == size, f"{seg}: {sst.st_size} bytes, want {size}"
    assert sst.st_mode & 0o007 == 0, f"{seg} mode {oct(sst.st_mode)}"
    assert stat.S_ISDIR(dst.st_mode), d
    assert stat.S_IMODE(dst.st_mode) == 0o700, f"{d} mode {oct(dst.st_mode)}"
    assert stat.S_ISSOCK(sock.st_mode), \
        f"{d}/ctl.sock is not a socket: {os.listdir(d)}"
    return "named"


def test_pod_resources(running):
    check_pod_resources(running.pod, running["relay"], running["worker"],
                        1 << 20)


def test_shm_size_flag():
    """--shm-size=64k gives a 64 KiB segment and says so to the worker."""
    path = write_script(BLOCK)
    with Pod(path, flags=["--shm-size=64k"]) as pod:
        pod.wait_output(b"ready\n")
        relay = pod.find("podrunner: relay", timeout=2)
        assert len(relay) == 1, pod.tree()
        check_pod_resources(pod, relay[0], pod.worker(), 65536)
        pod.close_stdin()
        assert pod.wait() == 0, pod.describe()


def test_concurrent_pods_are_separate(daemon_uid):
    """
    Two pods at once: each has its own worker uid, segment and control
    directory, and both finish.  Fails if pods share a worker uid (one
    worker could signal or trace the other) or resources.
    """
    path = write_script(BLOCK)
    with Pod(path) as a, Pod(path) as b:
        a.wait_output(b"ready\n")
        b.wait_output(b"ready\n")
        wa, wb = a.worker(), b.worker()
        ua, ub = ids(wa, "Uid")[1], ids(wb, "Uid")[1]
        assert ua != ub, f"both workers run as uid {ua}"
        assert daemon_uid not in (ua, ub)
        assert _pod_resources(a, wa)[0] != _pod_resources(b, wb)[0]
        for p in (a, b):
            p.close_stdin()
            assert p.wait() == 0, p.describe()
            assert p.stdout == b"ready\ndone\n", p.describe()
