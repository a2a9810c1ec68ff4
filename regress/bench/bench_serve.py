#!/usr/bin/python3
"""make bench: a warm persistent worker (podrunner serve) against a cold
`podrunner run`, and what a pod costs the supervisor side in memory.

- send_code("pass") to exec_end: the time from writing the request line
  to reading the exec_end event, on one Python worker under the full
  sandbox (audit included), N times; median and p99.  Target: median
  under 300 us.  The comparison, measured in the same run: a cold
  `podrunner run` of a script holding `pass`, start to exit.
- Memory: the relay's PSS (shared library pages divided among the
  processes mapping them), and the daemons' (policyd, proxy, auditd,
  sandbox: one pod per podrunner instance), beyond the shm segment; the
  audit's BPF ring buffer is reported apart.  Target: under 4 MiB.

Prints, asserts nothing about time.  Extra arguments go to
`podrunner serve` (e.g. --no-sandbox).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PODRUNNER = os.path.join(ROOT, "podrunner")
N = int(os.environ.get("BENCH_N", "2000"))
COLD = int(os.environ.get("BENCH_COLD", "20"))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def children(pid):
    out = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return out
    for k in kids:
        out.append(k)
        out.extend(children(k))
    return out


def title(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def pss_kib(pid):
    """Proportional set size (shared pages divided among the processes
    that map them), without the pod's shm segment and BPF maps (the
    audit's ring buffer: kernel memory sized for bursts, counted apart).
    Returns (pss, bpf maps)."""
    pss = bpf = 0
    name = ""
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                name = parts[5] if len(parts) > 5 else ""
            elif first == "Pss:":
                kib = int(line.split()[1])
                if "bpf-map" in name or "bpf_ringbuf" in name:
                    bpf += kib
                elif name.startswith("/dev/shm/"):
                    pass
                else:
                    pss += kib
    return pss, bpf


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])   # utime, stime
        except OSError:
            pass
    return total


def main():
    flags = sys.argv[1:]
    p = subprocess.Popen([PODRUNNER, "serve", "--cpus=2", *flags],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         bufsize=0)

    def send(obj):
        p.stdin.write((json.dumps(obj) + "\n").encode())

    def until(pred):
        while True:
            line = p.stdout.readline()
            if not line:
                sys.exit("podrunner serve ended early")
            ev = json.loads(line)
            if pred(ev):
                return ev

    send({"op": "start"})
    until(lambda e: e["type"] == "ready")
    for i in range(50):        # warm: hooks installed, caches filled
        send({"op": "send", "code": "pass", "id": i})
        until(lambda e: e["type"] == "state" and
              e["data"]["worker"] == "exec_end")
    warm = []
    for i in range(N):
        t = time.perf_counter()
        send({"op": "send", "code": "pass", "id": i})
        until(lambda e: e["type"] == "state" and
              e["data"]["worker"] == "exec_end")
        warm.append(time.perf_counter() - t)

    # Memory while the pod is up and idle.
    time.sleep(0.2)
    everyone = [p.pid] + children(p.pid)
    procs = {pid: title(pid) for pid in children(p.pid)}
    # An idle pod: the CPU all its processes use in 2 s.
    hz = os.sysconf("SC_CLK_TCK")
    t0 = cpu_ticks(everyone)
    time.sleep(2)
    idle_ms = (cpu_ticks(everyone) - t0) * 1000 / hz
    relay = [pid for pid, t in procs.items() if "relay" in t]
    daemons = [pid for pid, t in procs.items()
               if any(d in t for d in ("policyd", "proxy", "auditd",
                                       "sandbox"))]
    relay_kib = sum(pss_kib(pid)[0] for pid in relay)
    daemons_kib = sum(pss_kib(pid)[0] for pid in daemons)
    bpf_kib = sum(pss_kib(pid)[1] for pid in daemons)
    send({"op": "stop"})
    until(lambda e: e["type"] == "exit")
    p.wait()

    with tempfile.NamedTemporaryFile("w", suffix=".py", dir="/tmp",
                                     delete=False) as f:
        f.write("pass\n")
        script = f.name
    os.chmod(script, 0o644)
    cold = []
    try:
        for _ in range(COLD):
            t = time.perf_counter()
            subprocess.run([PODRUNNER, "run", *flags, script], check=True,
                           stdout=subprocess.DEVNULL)
            cold.append(time.perf_counter() - t)
    finally:
        os.unlink(script)

    wmed = statistics.median(warm) * 1e6
    cmed = statistics.median(cold) * 1e6
    print("serve: warm send_code('pass') -> exec_end, %d submissions: "
          "median %.0f us, p99 %.0f us (target < 300 us: %s)" %
          (N, wmed, pct(warm, 0.99) * 1e6,
           "met" if wmed < 300 else "NOT met"))
    print("serve: cold `podrunner run` of the same code, %d runs: median "
          "%.1f ms; warm is %.0fx faster" % (COLD, cmed / 1000, cmed / wmed))
    total = relay_kib + daemons_kib
    print("serve: supervisor side per pod (PSS, beyond the shm segment): "
          "relay %.1f MiB + daemons (policyd, proxy, auditd, sandbox) "
          "%.1f MiB = %.1f MiB (target < 4 MiB: %s)" %
          (relay_kib / 1024, daemons_kib / 1024, total / 1024,
           "met" if total < 4096 else "NOT met"))
    print("serve: idle pod (podrunner, daemons, relay, pod init, worker): "
          "%.0f ms of CPU in 2 s (target: none measurable: %s)" %
          (idle_ms, "met" if idle_ms <= 10 else "NOT met"))
    print("serve: besides, the audit's BPF ring buffer mapped by auditd: "
          "%.1f MiB (sized for a burst of 100,000 records; one per "
          "podrunner instance)" % (bpf_kib / 1024))


if __name__ == "__main__":
    main()
