#!/usr/bin/python3
"""make bench: the eBPF audit's cost (issue 7), against the same work
without it, measured in the same run.

The work is bench_audit_loop: BENCH_AUDIT_N (default 1,000,000) openat +
close of one file, timed by the loop itself (a pod's start is not
counted): the CPU time it used (user and kernel: where the audit's
programs run), which machine noise disturbs less than the wall clock
(printed too).

  1. pod: the loop as a pod's worker (--worker exec, --cpus for every
     CPU so that the pod's quota is not what is measured), with a policy
     that enables the audit and with one that disables it; the ratio of
     the medians, and the records lost (from the pod's "syscalls"
     event).  Target: at most 1.25x, none lost.
  2. host: the same loop as an unrelated host process, (a) with no
     podrunner running, (b) while an audited pod exists (it sleeps: the
     programs are attached and filter every syscall of the host), (c)
     while an audited pod runs the loop too, (d) while a pod without the
     audit runs it.  Target: (b)/(a) at most 1.12x: the filter is early
     and in the kernel.  (c)/(d) is printed too; on a small machine it
     also counts auditd's share of the CPUs.  And (e) the floor: the
     loop while an empty program is on the same tracepoint
     (bench_bpf_floor), which no filter inside a program can go below:
     while any program is there, every syscall of the machine takes the
     kernel's slow path and a BPF dispatch.
  3. burst: BENCH_AUDIT_BURST (default 100,000) opens within one second
     in an audited pod, at the default ring size: the records lost.
     Target: none.

Each measurement is repeated BENCH_REPEAT times (default 5), interleaved
so that machine noise hits each alike; the ratios are of the least CPU
time of each (noise only ever adds time: the least is the closest to
the cost itself), medians are printed too.  Prints numbers and ratios;
asserts nothing about time.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PODRUNNER = os.environ.get("PODRUNNER_BIN") or os.path.join(ROOT, "podrunner")
LOOP = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(
    ROOT, "build", "regress", "bench", "bench_audit_loop")
FLOOR = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else os.path.join(
    ROOT, "build", "regress", "bench", "bench_bpf_floor")
N = int(os.environ.get("BENCH_AUDIT_N", "1000000"))
BURST = int(os.environ.get("BENCH_AUDIT_BURST", "100000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
CPUS = os.cpu_count() or 1


def pod_cmd(policy, *args):
    return [PODRUNNER, "run", "-v", "--worker", "exec",
            "--allow-run=" + LOOP, "--cpus", str(CPUS), "--policy", policy,
            LOOP, *map(str, args)]


def syscalls_event(stderr):
    """The pod's "syscalls" event, or None (audit off)."""
    for line in stderr.splitlines():
        m = re.match(r"podrunner: event: (\{.*\})$", line)
        if m:
            ev = json.loads(m.group(1))
            if ev.get("type") == "syscalls":
                return ev
    return None


def run_pod(policy, *args):
    p = subprocess.run(pod_cmd(policy, *args), capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        sys.exit("bench_audit: the pod failed (%d):\n%s" % (p.returncode,
                                                            p.stderr[-2000:]))
    wall, cpu = map(float, p.stdout.split()[-2:])
    return (cpu, wall), syscalls_event(p.stderr)


def run_host(path, n, under=()):
    p = subprocess.run([*under, LOOP, "open", str(n), path],
                       capture_output=True, text=True, check=True)
    wall, cpu = map(float, p.stdout.split()[-2:])
    return (cpu, wall)


class Background:
    """A pod left running while the host loop runs."""

    def __init__(self, policy, *args):
        self.p = subprocess.Popen(pod_cmd(policy, *args),
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        # Started: the worker runs (and is in the audit's map).
        buf = ""
        deadline = time.monotonic() + 30
        while "worker started" not in buf:
            line = self.p.stderr.readline()
            if not line or time.monotonic() > deadline:
                self.p.kill()
                sys.exit("bench_audit: the background pod did not start:\n"
                         + buf)
            buf += line

    def stop(self, kill=False):
        if kill:
            self.p.terminate()
        self.p.communicate(timeout=600)


def main():
    for prog in (LOOP, FLOOR):
        if not os.access(prog, os.X_OK):
            sys.exit("bench_audit: %s not built (make bench)" % prog)
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        on = os.path.join(d, "on.json")
        off = os.path.join(d, "off.json")
        with open(on, "w") as f:
            json.dump({"version": 1, "audit": {"enabled": True}}, f)
        with open(off, "w") as f:
            json.dump({"version": 1, "audit": {"enabled": False}}, f)
        os.chmod(on, 0o644)
        os.chmod(off, 0o644)
        hostfile = os.path.join(d, "x")

        pod = {"off": [], "on": []}
        lost = []
        host = {"a": [], "b": [], "c": [], "d": [], "e": []}
        run_pod(off, "open", 1000, "/tmp/x")	# warm caches
        run_host(hostfile, 1000)
        for _ in range(REPEAT):
            # 1. the pod's own loop
            t, _ = run_pod(off, "open", N, "/tmp/x")
            pod["off"].append(t)
            t, ev = run_pod(on, "open", N, "/tmp/x")
            pod["on"].append(t)
            lost.append(ev["lost"] if ev else -1)
            # 2. an unrelated host process
            host["a"].append(run_host(hostfile, N))
            host["e"].append(run_host(hostfile, N, under=(FLOOR,)))
            bg = Background(on, "sleep", 600)
            host["b"].append(run_host(hostfile, N))
            bg.stop(kill=True)
            # both loops at once: the pod's twice as long, so that it
            # runs for all of the host's
            bg = Background(on, "open", 2 * N, "/tmp/x")
            host["c"].append(run_host(hostfile, N))
            bg.stop()
            bg = Background(off, "open", 2 * N, "/tmp/x")
            host["d"].append(run_host(hostfile, N))
            bg.stop()
        # 3. a burst at the default ring size
        burst_lost = []
        for _ in range(REPEAT):
            _, ev = run_pod(on, "burst", BURST, "/tmp/x")
            burst_lost.append(ev["lost"] if ev else -1)

    def least(v):
        return min(x[0] for x in v)

    def med(v):
        return statistics.median(x[0] for x in v)

    def row(name, v, base=None, what=""):
        line = "  %-33s %6.3f s  (median %6.3f)" % (name, least(v), med(v))
        if base is not None:
            line += "  %.2fx%s" % (least(v) / least(base), what)
        print(line)

    print("eBPF audit: %d openat+close, %d runs each: CPU seconds of the "
          "loop, least (median), %d CPUs" % (N, REPEAT, CPUS))
    row("pod loop, audit off", pod["off"])
    row("pod loop, audit on", pod["on"], pod["off"])
    print("    records lost: %s" % lost)
    r = least(pod["on"]) / least(pod["off"])
    print("  target: pod loop <= 1.25x with none lost: %s" %
          ("met" if r <= 1.25 and all(x == 0 for x in lost) else "NOT met"))
    row("host loop, no podrunner", host["a"])
    row("host loop, empty program (floor)", host["e"], host["a"])
    row("host loop, audited pod idle", host["b"], host["a"])
    row("host loop, unaudited pod busy", host["d"])
    row("host loop, audited pod busy", host["c"], host["d"],
        " of unaudited busy")
    rb = least(host["b"]) / least(host["a"])
    rf = least(host["e"]) / least(host["a"])
    print("  target: host loop <= 1.12x: %s; the floor, any program on "
          "sys_exit: %.2fx, the audit's filter over it: %.2fx" %
          ("met" if rb <= 1.12 else "NOT met (%.2fx)" % rb, rf,
           least(host["b"]) / least(host["e"])))
    print("  burst of %d opens in 1 s, default ring: lost %s (target: 0)" %
          (BURST, burst_lost))


if __name__ == "__main__":
    main()
