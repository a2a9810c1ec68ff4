"""
The eBPF syscall audit (issue 7), seen from outside: a worker opens,
connects, binds and executes known things, and exactly those records are
found, with the pod's id and the kernel's results,

  (a) in a real syslog daemon: rsyslogd (Debian's package), started here
      with its own configuration and its own socket.  podrunner logs to
      /dev/log; it runs in a private mount namespace (unshare --mount
      --propagation private) where /dev is a tmpfs holding binds of the
      host's /dev entries and a /dev/log that leads to the test's socket,
      so the host's /dev is untouched;
  (b) in the --audit-log file, one JSON object a line;

and none of a host process that does the same syscalls at the same time.
Also: audit.required with BPF unavailable (CAP_BPF and CAP_PERFMON out of
the bounding set with setpriv), or with --no-sandbox, refuses to start
(125, the worker never runs); without audit.required a warning, once,
and the worker runs; the
audit disabled writes no record; a ring made to overflow (auditd stopped
with SIGSTOP) reports the records lost, and what was written plus what
was lost is what happened; the policy's audit.events adds syscalls.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import (EXIT_FAILURE, PODRUNNER, TIMEOUT, WARNING_PREFIX, Pod,
                      Result, _can_run, _register, base_env, podrunner,
                      write_script)

WORKER_UID_MIN = 3000000

# /dev for podrunner in its own mount namespace: the host's entries bound
# into a tmpfs, and /dev/log leading to the test's syslog socket.
DEV_SETUP = r'''set -e
T=$1; S=$2; shift 2
mkdir -p "$T/hostdev"
mount --rbind /dev "$T/hostdev"
mount -t tmpfs -o mode=0755,size=64k podrunner-test-dev /dev
for f in "$T"/hostdev/* "$T"/hostdev/.[!.]*; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	n=${f##*/}
	if [ -L "$f" ]; then
		cp -P "$f" "/dev/$n"
	elif [ -d "$f" ]; then
		mkdir "/dev/$n"
		mount --rbind "$f" "/dev/$n"
	else
		touch "/dev/$n"
		mount --bind "$f" "/dev/$n"
	fi
done
ln -s "$S" /dev/log
exec "$@"
'''

RSYSLOG_CONF = '''
global(workDirectory="{dir}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{sock}" RateLimit.Interval="0")
template(name="line" type="string"
         string="%syslogfacility-text% %syslogtag%%msg%\\n")
*.* action(type="omfile" file="{out}" template="line")
'''


@pytest.fixture
def syslog():
    """rsyslogd with its own socket; yields an object with .lines()."""
    if shutil.which("rsyslogd") is None:
        pytest.fail("rsyslogd is not installed (make deps)", pytrace=False)
    d = tempfile.mkdtemp(prefix="podrunner-audit-syslog-", dir="/tmp")
    os.chmod(d, 0o755)

    class S:
        dir = d
        sock = os.path.join(d, "log.sock")
        out = os.path.join(d, "messages")

        def lines(self):
            try:
                with open(self.out, errors="replace") as f:
                    return f.read().splitlines()
            except FileNotFoundError:
                return []

        def audit(self):
            """The audit lines: (facility, message after the tag)."""
            out = []
            for l in self.lines():
                m = re.match(r"(\S+) podrunner-audit\[\d+\]: ?(.*)$", l)
                if m:
                    out.append((m.group(1), m.group(2)))
            return out

    s = S()
    conf = os.path.join(d, "rsyslog.conf")
    with open(conf, "w") as f:
        f.write(RSYSLOG_CONF.format(dir=d, sock=s.sock, out=s.out))
    p = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i",
                          os.path.join(d, "rsyslogd.pid")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not os.path.exists(s.sock):
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            pytest.fail("rsyslogd did not start: " +
                        p.stderr.read().decode(errors="replace"),
                        pytrace=False)
        time.sleep(0.02)
    os.chmod(s.sock, 0o666)
    s.proc = p
    yield s
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    shutil.rmtree(d, ignore_errors=True)


def run_logged(syslog, *args, timeout=TIMEOUT, prefix=()):
    """podrunner run, its /dev/log the test's rsyslogd; a Result."""
    _can_run()
    setup = os.path.join(syslog.dir, "devsetup.sh")
    with open(setup, "w") as f:
        f.write(DEV_SETUP)
    cmd = [*prefix, "unshare", "--mount", "--propagation", "private", "sh",
           setup, syslog.dir, syslog.sock, str(PODRUNNER), "run", *map(str,
                                                                     args)]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=base_env(), start_new_session=True)
    _register(p.pid)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"podrunner hung: {cmd}\n{err[-2000:]!r}", pytrace=False)
    return Result(cmd, p.returncode, out, err.decode("utf-8", "replace"))


def wait_syslog(syslog, pred, timeout=10):
    """rsyslogd writes asynchronously: wait until pred(lines) holds."""
    deadline = time.monotonic() + timeout
    while True:
        got = syslog.audit()
        if pred(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def json_records(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def kv(line):
    """A syslog line's key=value fields (values maybe quoted)."""
    out = {}
    for m in re.finditer(r'(\w+)=("((?:[^"\\]|\\.)*)"|\S*)', line):
        out[m.group(1)] = m.group(3) if m.group(3) is not None else \
            m.group(2)
    return out


def policy_file(tmp, doc):
    p = os.path.join(tmp, "policy-%s.json" % uuid.uuid4().hex[:8])
    with open(p, "w") as f:
        json.dump(doc, f)
    os.chmod(p, 0o644)
    return p


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="podrunner-audit-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


class HostProbe(threading.Thread):
    """A host process doing the worker's syscalls while it runs."""

    def __init__(self, tag):
        super().__init__(daemon=True)
        self.path = "/tmp/audit-host-%s" % tag
        self.stop = threading.Event()
        self.count = 0

    def run(self):
        while not self.stop.is_set():
            try:
                with open(self.path, "w") as f:
                    f.write("x")
                s = __import__("socket").socket()
                try:
                    s.connect(("127.0.0.1", 9))
                except OSError:
                    pass
                s.close()
            except OSError:
                pass
            self.count += 1

    def finish(self):
        self.stop.set()
        self.join(10)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


WORKER = r'''
import os, socket, subprocess, sys
tag = sys.argv[1]
with open("/tmp/audit-probe-%s" % tag, "w") as f:
    f.write("x")
try:
    open("/tmp/audit-missing-%s" % tag)
except OSError as e:
    print("missing", e.errno)
socket.create_connection(("169.254.1.1", 8080)).close()
try:
    socket.create_connection(("169.254.1.1", 9), timeout=5)
except OSError as e:
    print("refused", e.errno)
b = socket.socket()
try:
    b.bind(("127.0.0.1", 0))
except OSError as e:
    print("bind", e.errno)
b.close()
subprocess.run(["/usr/bin/true", "audit-arg-%s" % tag, "two words"],
               check=True)
try:
    subprocess.run(["/usr/bin/audit-none-%s" % tag, "x"])
except OSError as e:
    print("noexec", e.errno)
import urllib.request
try:
    urllib.request.urlopen("http://audit-%s.example/" % tag, timeout=10)
except Exception as e:
    print("proxy", e)
print("done")
'''

FLAGS = ["--allow-net=169.254.1.1:9,127.0.0.1", "--allow-run=/usr/bin/true"]


def test_records_in_syslog_and_json(syslog, tmp):
    """
    Each known syscall of the worker is in both outputs with its
    result; every record is the pod's; nothing of the host process that
    did the same at the same time.
    """
    tag = uuid.uuid4().hex[:12]
    log = os.path.join(tmp, "audit.json")
    host = HostProbe(tag)
    host.start()
    try:
        r = run_logged(syslog, *FLAGS, "--allow-run=/usr/bin/audit-none-" +
                       tag, "--audit-log", log, write_script(WORKER), tag)
    finally:
        host.finish()
    assert r.status == 0 and "done" in r.out, r.describe()
    assert host.count > 0, "the host probe never ran"
    # (landlock says that the missing command is not granted)
    assert not [l for l in r.stderr.splitlines()
                if l.startswith(WARNING_PREFIX) and "landlock" not in l], \
        r.describe()

    # (b) the JSON lines
    recs = json_records(log)
    pods = {x["pod"] for x in recs}
    assert len(pods) == 1 and re.fullmatch(r"[0-9a-f]{16}", pods.pop()), \
        f"records of more than one pod, or no pod id: {recs[:3]}"
    podid = recs[0]["pod"]
    for x in recs:
        if x.get("type") == "net":
            continue
        for k in ("ts", "pod", "pid", "uid", "comm", "syscall", "ret"):
            assert k in x, f"{k} missing in {x}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z",
                            x["ts"]), x
        assert "audit-host-" not in json.dumps(x), \
            f"a record of the host process: {x}"
    worker = [x for x in recs if x.get("uid", 0) >= WORKER_UID_MIN]

    def one(pred, what):
        got = [x for x in worker if pred(x)]
        assert len(got) == 1, f"{what}: {len(got)} records:\n" + \
            "\n".join(map(json.dumps, got or worker[-30:]))
        return got[0]

    x = one(lambda x: x.get("path") == "/tmp/audit-probe-" + tag, "open")
    assert x["syscall"] == "openat" and x["ret"] >= 0 and \
        x["flags"].startswith("O_WRONLY|O_CREAT|O_TRUNC"), x
    x = one(lambda x: x.get("path") == "/tmp/audit-missing-" + tag,
            "missing")
    assert x["ret"] == -2 and x["err"] == "ENOENT", x
    # The first connect to the proxy (urllib's comes after, non-blocking).
    x = [x for x in worker if x.get("addr") == "169.254.1.1:8080"][0]
    assert x["syscall"] == "connect" and x["ret"] == 0, x
    x = one(lambda x: x.get("addr") == "169.254.1.1:9", "refused connect")
    assert x["ret"] < 0, x
    x = one(lambda x: x["syscall"] == "bind" and
            x.get("addr", "").startswith("127.0.0.1:"), "bind")
    x = one(lambda x: x["syscall"] == "execve" and
            "audit-arg-" + tag in x.get("argv", []), "exec")
    assert x["path"] == "/usr/bin/true" and x["argv"] == [
        "/usr/bin/true", "audit-arg-" + tag, "two words"] and x["ret"] == 0, x
    # An exec that fails: its arguments from the caller's memory.
    x = one(lambda x: x["syscall"] == "execve" and
            x.get("path") == "/usr/bin/audit-none-" + tag, "failed exec")
    assert x["argv"] == ["/usr/bin/audit-none-" + tag, "x"] and \
        x["ret"] < 0, x

    # the proxy's decision joins the trail, with the same pod id
    net = [x for x in recs if x.get("type") == "net"]
    assert len(net) == 1 and net[0]["host"] == "audit-%s.example" % tag \
        and net[0]["decision"] == "deny" and net[0]["pod"] == podid, net

    # (a) syslog: the same records, authpriv, tagged podrunner-audit
    want = len(recs)
    lines = wait_syslog(syslog, lambda g: len(g) >= want)
    assert len(lines) == want, \
        f"{len(lines)} syslog lines for {want} JSON records:\n" + \
        "\n".join(l for _, l in lines[-20:])
    assert {f for f, _ in lines} == {"authpriv"}, lines[:3]
    fields = [kv(l) for _, l in lines]
    for f in fields:
        if f.get("type") == "net":
            assert f["pod"] == podid and f["decision"] == "deny", f
            continue
        assert f["pod"] == podid and "syscall" in f and "ret" in f and \
            "pid" in f and "uid" in f and "comm" in f, f
    text = "\n".join(l for _, l in lines)
    assert "audit-host-" not in text
    assert re.search(r"pod=%s pid=\d+ uid=\d+ comm=python3 syscall=openat "
                     r"path=/tmp/audit-probe-%s flags=O_WRONLY\|O_CREAT"
                     r"\|O_TRUNC\S* mode=\d+ ret=\d+$" % (podid, tag), text,
                     re.M), text[-3000:]
    assert re.search(r"syscall=openat path=/tmp/audit-missing-%s "
                     r"flags=\S+ ret=-2 err=ENOENT$" % tag, text, re.M)
    assert re.search(r"syscall=connect addr=169\.254\.1\.1:8080 fd=\d+ "
                     r"ret=0$", text, re.M)
    assert re.search(r'syscall=execve path=/usr/bin/true argv="/usr/bin/'
                     r'true audit-arg-%s two\\x20words" ret=0$' % tag, text,
                     re.M), text[-3000:]


def test_audit_disabled_no_records(syslog, tmp):
    log = os.path.join(tmp, "audit.json")
    pol = policy_file(tmp, {"version": 1, "audit": {"enabled": False}})
    tag = uuid.uuid4().hex[:12]
    r = run_logged(syslog, *FLAGS, "--policy", pol, "--audit-log", log,
                   write_script(WORKER), tag)
    assert r.status == 0 and "done" in r.out, r.describe()
    assert os.path.getsize(log) == 0
    # Nothing comes later either.
    time.sleep(0.3)
    assert syslog.audit() == []
    assert WARNING_PREFIX not in r.stderr, r.describe()


NOBPF = ["setpriv", "--bounding-set=-bpf,-perfmon"]


def test_required_without_bpf_refuses(syslog, tmp):
    """No CAP_BPF/CAP_PERFMON: audit.required refuses; nothing ran."""
    pol = policy_file(tmp, {"version": 1, "audit": {"enabled": True,
                                                    "required": True}})
    r = run_logged(syslog, "--policy", pol,
                   write_script('print("the worker ran")\n'),
                   prefix=NOBPF)
    assert r.status == EXIT_FAILURE, r.describe()
    assert "the worker ran" not in r.out, r.describe()
    assert re.search(r"^podrunner: .*audit\.required.*unavailable.*"
                     r"CAP_BPF", r.stderr, re.M), r.describe()


def test_required_without_sandbox_refuses(tmp):
    """--no-sandbox: no cgroup of the pod's own, nothing to audit by."""
    pol = policy_file(tmp, {"version": 1, "audit": {"enabled": True,
                                                    "required": True}})
    r = podrunner("run", "--no-sandbox", "--policy", pol,
                  write_script('print("the worker ran")\n'))
    assert r.status == EXIT_FAILURE, r.describe()
    assert "the worker ran" not in r.out, r.describe()
    assert re.search(r"^podrunner: .*audit\.required.*--no-sandbox",
                     r.stderr, re.M), r.describe()


def test_unavailable_warns_once(syslog, tmp):
    r = run_logged(syslog, write_script('print("the worker ran")\n'),
                   prefix=NOBPF)
    assert r.status == 0 and "the worker ran" in r.out, r.describe()
    warn = [l for l in r.stderr.splitlines() if "audit" in l]
    assert len(warn) == 1 and warn[0].startswith(
        WARNING_PREFIX + " audit: ") and "CAP_BPF" in warn[0], r.describe()


def test_lost_records_counted(tmp):
    """
    auditd stopped, the worker overflows the ring: the run says how many
    records were lost, the "syscalls" event says the same, and the
    records written plus the lost are at least what the worker did.
    """
    n = 400000
    log = os.path.join(tmp, "audit.json")
    src = ('import os, sys\n'
           'sys.stdin.readline()\n'
           'p = "/tmp/flood"\n'
           'os.close(os.open(p, os.O_WRONLY | os.O_CREAT, 0o600))\n'
           'for i in range(%d):\n'
           '    os.close(os.open(p, os.O_RDONLY))\n'
           'print("flooded", flush=True)\n' % n)
    with Pod(write_script(src), flags=["-v", "--audit-log", log,
                                       "--cpus=2"]) as pod:
        auditd = pod.find("podrunner: auditd")
        assert len(auditd) == 1, pod.tree()
        os.kill(auditd[0], signal.SIGSTOP)
        try:
            pod.write(b"go\n")
            pod.wait_output(b"flooded", timeout=120)
        finally:
            os.kill(auditd[0], signal.SIGCONT)
        pod.close_stdin()
        assert pod.wait(120) == 0, pod.describe()
        err = pod.stderr
    m = re.search(r"^podrunner: warning: audit: (\d+) records lost",
                  err, re.M)
    assert m, err[-3000:]
    lost = int(m.group(1))
    ev = [json.loads(x) for x in re.findall(
        r"^podrunner: event: (\{\"type\":\"syscalls\".*\})$", err, re.M)]
    assert len(ev) == 1 and ev[0]["lost"] == lost, err[-3000:]
    recs = json_records(log)
    assert ev[0]["records"] == len(recs)
    opens = [x for x in recs if x.get("path") == "/tmp/flood"]
    assert lost > 0 and len(opens) + lost >= n, (len(opens), lost)


EXEC_LIMITS = r'''
import subprocess, sys
tag = sys.argv[1]
def fail(name, *args):
    try:
        subprocess.run(["/usr/bin/audit-%s-%s" % (name, tag), *args])
    except OSError:
        pass
fail("many", *["a%d" % i for i in range(10)])
fail("eight", *["e%d" % i for i in range(7)])
fail("long", "y" * 300, "z")
fail("short", "p", "q")
subprocess.run(["/usr/bin/true", tag, *["t%d" % i for i in range(20)]],
               check=True)
subprocess.run(["/usr/bin/true", tag + "-big", *["b" * 300] * 5], check=True)
print("done")
'''


def test_exec_argv_limits(tmp):
    """
    What an exec's record keeps of its arguments, and says when it cut
    them short: a failed exec's (from the caller's memory) at most 8
    arguments of at most 255 bytes, a successful one's (from the new
    image) at most 1024 bytes; nothing is marked cut that was whole.
    """
    tag = uuid.uuid4().hex[:12]
    log = os.path.join(tmp, "audit.json")
    names = ("many", "eight", "long", "short")
    r = podrunner("run", "--allow-run=/usr/bin/true", *[
        "--allow-run=/usr/bin/audit-%s-%s" % (n, tag) for n in names],
        "--audit-log", log, write_script(EXEC_LIMITS), tag)
    assert r.status == 0 and "done" in r.out, r.describe()
    execs = [x for x in json_records(log) if x.get("syscall") == "execve"
             and x["uid"] >= WORKER_UID_MIN]

    def one(pred, what):
        got = [x for x in execs if pred(x)]
        assert len(got) == 1, f"{what}: {len(got)} records:\n" + \
            "\n".join(map(json.dumps, got or execs))
        return got[0]

    def failed(name):
        path = "/usr/bin/audit-%s-%s" % (name, tag)
        x = one(lambda x: x.get("path") == path, name)
        assert x["ret"] < 0 and x["argv"][0] == path, x
        return x

    x = failed("many")
    assert x["argv"][1:] == ["a%d" % i for i in range(7)] and \
        x.get("argv_truncated") is True, x
    x = failed("eight")
    assert x["argv"][1:] == ["e%d" % i for i in range(7)] and \
        "argv_truncated" not in x, x
    x = failed("long")
    assert x["argv"][1:] == ["y" * 255, "z"] and \
        x.get("argv_truncated") is True, x
    x = failed("short")
    assert x["argv"][1:] == ["p", "q"] and "argv_truncated" not in x, x

    x = one(lambda x: x["ret"] == 0 and x["argv"][1:2] == [tag], "true")
    assert x["argv"] == ["/usr/bin/true", tag, *["t%d" % i
                         for i in range(20)]] and \
        "argv_truncated" not in x, x
    x = one(lambda x: x["ret"] == 0 and x["argv"][1:2] == [tag + "-big"],
            "true, big")
    assert x.get("argv_truncated") is True and \
        len("\0".join(x["argv"])) < 1024 + 300 and \
        x["argv"][2] == "b" * 300, x


def test_audit_events_adds_syscalls(tmp):
    log = os.path.join(tmp, "audit.json")
    pol = policy_file(tmp, {"version": 1, "audit": {
        "enabled": True, "events": ["openat", "getppid"]}})
    r = podrunner("run", "--policy", pol, "--audit-log", log, write_script(
        'import os\nfor i in range(3):\n    os.getppid()\n'))
    assert r.status == 0, r.describe()
    recs = [x for x in json_records(log) if x["syscall"] == "getppid" and
            x["uid"] >= WORKER_UID_MIN]
    assert len(recs) >= 3 and all(x["ret"] >= 0 for x in recs), recs
    assert "path" not in recs[0] and "addr" not in recs[0]


def test_audit_events_unknown_syscall(tmp):
    pol = policy_file(tmp, {"version": 1, "audit": {
        "events": ["no_such_syscall"]}})
    r = podrunner("run", "--policy", pol, write_script('print("ran")\n'))
    assert r.status == EXIT_FAILURE and "ran" not in r.out, r.describe()
    assert "no_such_syscall" in r.stderr, r.describe()


def test_audit_log_bad_path(tmp):
    r = podrunner("run", "--audit-log", os.path.join(tmp, "no/such/dir/x"),
                  write_script('print("ran")\n'))
    assert r.status == EXIT_FAILURE and "ran" not in r.out, r.describe()
    assert "--audit-log" in r.stderr, r.describe()


def test_check_reports_bpf():
    r = podrunner("check", "--json")
    assert r.status in (0, 1), r.describe()
    doc = json.loads(r.out)
    assert doc["bpf"]["ok"] is True, doc["bpf"]
