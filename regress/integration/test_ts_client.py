"""
The TypeScript client for Bun, example/supervisor.ts (the seeds'
Supervisor over `podrunner serve`), and example/lambda.ts, the seeds'
executeUntrustedCode, run by the tree's Bun against the real
./podrunner.

The seeds' two examples as they are written (the basic one prints
"Worker ready" and "Output: hello"; the lambda prints its JSON); a
persistent session of 100 submissions with globals, a fresh namespace,
an exception then recovery, an interrupt of `while True: pass`,
unsubscribing, execute(); start failures with podrunner's reason; the
active policy files; and nothing left behind after stop, or after the
Bun program is killed (the leftovers fixture).  The same session also
runs against fake_serve.py, the scripted stand-in, with lines that are
not events and a podrunner that dies.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (PODRUNNER, ROOT, TIMEOUT, _can_run, _register,
                      base_env, write_script)
from test_libpodrunner import register_session

BUN = ROOT / "deps" / "bun" / "bin" / "bun"
SUPERVISOR = ROOT / "example" / "supervisor.ts"
LAMBDA = ROOT / "example" / "lambda.ts"
FAKE = Path(__file__).resolve().with_name("fake_serve.py")


@pytest.fixture(scope="module", autouse=True)
def _built():
    if not os.access(BUN, os.X_OK):
        pytest.fail(f"{BUN} missing: run make deps", pytrace=False)


def bun(path, *args, env=None, timeout=TIMEOUT, cwd=ROOT, real=True):
    """Run a TypeScript file with the tree's Bun; (status, out, err)."""
    if real:
        _can_run()
    e = {"PODRUNNER": str(PODRUNNER if real else FAKE)}
    e.update(env or {})
    p = subprocess.Popen([str(BUN), str(path), *map(str, args)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=base_env(e), cwd=cwd,
                         start_new_session=True)
    _register(p.pid)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"bun {path} hung for {timeout}s\nstdout: {out[-3000:]!r}"
                    f"\nstderr: {err[-3000:]!r}", pytrace=False)
    register_session(p.pid)
    return p.returncode, out.decode(), err.decode()


def ts(source):
    """A TypeScript program importing the Supervisor; its path."""
    head = f'import {{ Supervisor }} from "{SUPERVISOR}";\n'
    return write_script(head + source, suffix=".ts")


# --- the seeds' examples -------------------------------------------------------

BASIC = """
const supervisor = new Supervisor({
  shmSize: 1024 * 1024,  // 1MB shared memory
  workerType: "python",   // or "bun"
  policyPath: "etc/default.json",
  sandboxEnabled: true,
});

supervisor.onEvent((event) => {
  if (event.type === "ready") {
    console.log("Worker ready");
  }
  if (event.type === "output") {
    console.log("Output:", event.data);
  }
  if (event.type === "error") {
    console.error("Error:", event.data);
  }
});

await supervisor.start();
supervisor.sendCode("print('hello')");
await supervisor.stop();
"""


def test_seeds_basic_example():
    """The seeds' Basic Example, as written (etc/ for src/policies/)."""
    status, out, err = bun(ts(BASIC))
    ctx = f"status {status}\nstdout:\n{out}\nstderr:\n{err}"
    assert status == 0, ctx
    assert out.startswith("Worker ready\n"), ctx
    # Output events as they came: "hello\n" in one or more chunks.
    chunks = [l[len("Output: "):] for l in out.splitlines()[1:]]
    assert "".join(chunks).replace("\n", "") == "hello" or \
        "".join(c + "\n" for c in chunks).startswith("hello"), ctx
    assert "Error:" not in err, ctx


def test_seeds_lambda_example():
    status, out, err = bun(LAMBDA)
    ctx = f"status {status}\nstdout:\n{out}\nstderr:\n{err}"
    assert status == 0, ctx
    assert out == '{"message": "hello world"}\n\n', ctx


# --- a persistent session ----------------------------------------------------------

SESSION = """
const s = new Supervisor({ workerType: "python", policyPath: "etc/default.json",
                          sandboxEnabled: SANDBOX });
const events: any[] = [];
s.onEvent((e) => events.push(e));
let seen = 0;
const off = s.onEvent(() => seen++);
await s.start();
const report: any = { ready: s.ready, pid: s.pid };

// 100 submissions in order, a global kept across them.
s.sendCode("n = 0");
let last = 0;
for (let i = 0; i < 100; i++) last = s.sendCode("n += 1\\nprint(n)");
const r100 = await s.execute("print(n)");
report.count = r100.stdout;
report.outputs = events.filter((e) => e.type === "output" && e.id >= 2 && e.id <= last)
  .map((e) => e.data).join("");
report.ids = [...new Set(events.filter((e) => e.type === "state" &&
  e.data.worker === "exec_start").map((e) => e.id))];

// Unsubscribed: the second listener hears nothing more.
off();
const before = seen;

// A fresh namespace, which the next submissions keep.
report.fresh = (await s.execute("print('n' in globals())", { fresh: true })).stdout;
report.fresh2 = (await s.execute("print('n' in globals())\\nn = 100")).stdout;

// An exception, then recovery.
const exc = await s.execute("raise ValueError('boom')");
report.exc = { code: exc.exitCode, type: exc.exception?.excType,
               tb: exc.exception?.traceback.includes("ValueError: boom") };
report.after = (await s.execute("print('still', n)")).stdout;

// Interrupt a busy loop once it runs.
const busy = s.sendCode("while True: pass");
await new Promise<void>((resolve) => {
  const un = s.onEvent((e) => {
    if (e.type === "state" && e.id === busy && e.data.worker === "exec_start") {
      un();
      resolve();
    }
  });
});
// At once: an interrupt that comes before the code runs is kept for it.
s.interrupt();
await new Promise<void>((resolve) => {
  const un = s.onEvent((e) => {
    if (e.type === "state" && e.id === busy && e.data.worker === "exec_end") {
      report.interrupted = e.data.exit_code;
      un();
      resolve();
    }
  });
});
report.states = events.filter((e) => e.id === busy && e.type === "state")
  .map((e) => e.data.worker);
report.again = (await s.execute("print(n * 2)")).stdout;
report.memory = events.filter((e) => e.type === "memory").length;
report.unsubscribed = seen === before;
report.stop = await s.stop();
report.exitEvent = events[events.length - 1];
report.exitCode = s.exitCode;
console.log(JSON.stringify(report));
"""


def session(real=True, sandbox=True, env=None):
    src = SESSION.replace("SANDBOX", "true" if sandbox else "false")
    status, out, err = bun(ts(src), real=real, env=env)
    ctx = f"status {status}\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
    assert status == 0, ctx
    return json.loads(out.splitlines()[-1]), ctx


def check_session(rep, ctx):
    assert rep["ready"] is True and rep["pid"] > 0, ctx
    assert rep["count"] == "100\n", ctx
    assert rep["outputs"] == "".join(f"{i}\n" for i in range(1, 101)), ctx
    assert rep["ids"][:102] == list(range(1, 103)), ctx
    assert rep["fresh"] == rep["fresh2"] == "False\n", ctx
    assert rep["exc"] == {"code": 1, "type": "ValueError", "tb": True}, ctx
    assert rep["after"] == "still 100\n", ctx
    assert rep["interrupted"] == 130, ctx
    assert "interrupted" in rep["states"], ctx
    assert rep["again"] == "200\n", ctx
    assert rep["memory"] >= 100, ctx
    assert rep["unsubscribed"] is True, ctx
    assert rep["stop"] == 0 and rep["exitCode"] == 0, ctx
    assert rep["exitEvent"] == {"type": "exit", "data": {"code": 0}}, ctx


def test_persistent_session():
    check_session(*session())


def test_persistent_session_against_the_stand_in():
    check_session(*session(real=False))


# --- failures ------------------------------------------------------------------------

FAILING_START = """
const s = new Supervisor({ flags: FLAGS });
try {
  await s.start();
  console.log("started");
} catch (e) {
  console.log("rejected: " + (e as Error).message);
}
console.log("stop " + await s.stop());
"""


def test_start_failure_says_why():
    src = FAILING_START.replace("FLAGS", '["--memory=10xb"]')
    status, out, err = bun(ts(src))
    ctx = f"status {status}\nstdout:\n{out}\nstderr:\n{err}"
    assert status == 0, ctx
    lines = out.splitlines()
    assert lines[0].startswith("rejected: podrunner serve exited with "
                               "status 125 before the worker was ready: "
                               "podrunner: "), ctx
    assert "--memory" in lines[0], ctx
    assert lines[1] == "stop 125", ctx
    # podrunner's own lines go to our stderr.
    assert "podrunner: " in err, ctx


def test_stand_in_dies_and_garbage():
    src = """
const s = new Supervisor({ onStderr: () => {} });
const errors: string[] = [];
s.onEvent((e) => { if (e.type === "error") errors.push(e.data); });
await s.start();
console.log(JSON.stringify(errors));
try {
  await s.execute("print(1)");
} catch (e) {
  console.log("rejected: " + (e as Error).message);
}
try {
  s.sendCode("print(2)");
} catch (e) {
  console.log("thrown: " + (e as Error).message);
}
console.log("stop " + await s.stop());
"""
    status, out, err = bun(ts(src), real=False, env={"FAKE_SERVE": "garbage"})
    ctx = f"status {status}\nstdout:\n{out}\nstderr:\n{err}"
    assert status == 0, ctx
    errors = json.loads(out.splitlines()[0])
    assert len(errors) == 2 and all(
        e.startswith("podrunner sent a line that is not an event")
        for e in errors), ctx
    status, out, err = bun(ts(src), real=False, env={"FAKE_SERVE": "die"})
    ctx = f"status {status}\nstdout:\n{out}\nstderr:\n{err}"
    assert status == 0, ctx
    lines = out.splitlines()
    assert lines[1] == ("rejected: podrunner serve exited with status 3 "
                        "before submission 1 ended"), ctx
    assert lines[2] == "thrown: podrunner serve has exited with status 3", ctx
    assert lines[3] == "stop 3", ctx


def test_refused_submission():
    """Code too large for the data plane: execute() rejects, with
    podrunner's reason; the worker goes on."""
    src = """
const s = new Supervisor();
await s.start();
try {
  await s.execute("s = '" + "a".repeat(1 << 20) + "'");
} catch (e) {
  console.log("rejected: " + (e as Error).message);
}
console.log((await s.execute("print('next')")).stdout.trim());
console.log("stop " + await s.stop());
"""
    status, out, err = bun(ts(src))
    ctx = f"status {status}\nstdout:\n{out}\nstderr:\n{err}"
    assert status == 0, ctx
    lines = out.splitlines()
    assert lines[0].startswith("rejected: submission 1 refused: ") and \
        "does not fit the data plane" in lines[0], ctx
    assert lines[1:] == ["next", "stop 0"], ctx


def test_active_policy_files(tmp_path):
    active = tmp_path / "active.json"
    meta = tmp_path / "meta.json"
    src = f"""
const s = new Supervisor({{ policyPath: "etc/lambda.json",
  activePolicyPath: "{active}", activePolicyMetaPath: "{meta}" }});
await s.start();
console.log("stop " + await s.stop());
"""
    status, out, err = bun(ts(src))
    ctx = f"status {status}\nstdout:\n{out}\nstderr:\n{err}"
    assert (status, out) == (0, "stop 0\n"), ctx
    pol = json.loads(active.read_text())
    assert "/tmp" in json.dumps(pol), pol
    m = json.loads(meta.read_text())
    assert m["source"] == "etc/lambda.json" and m["workerType"] == "python"
    assert m["sandboxEnabled"] is True and m["podrunnerPid"] > 0


def test_config_override():
    """start(config): the document given as POD_POLICY_JSON."""
    secret = write_script("shh\n", suffix=".txt")
    src = f"""
const s = new Supervisor({{ policyPath: "etc/lambda.json" }});
await s.start({{ version: 1, rules: {{ fs: {{ allow: ["{secret}"], mode: "read" }} }} }});
const r = await s.execute("print(open('{secret}').read(), end='')");
console.log(JSON.stringify([r.stdout, r.exitCode]));
console.log("stop " + await s.stop());
"""
    status, out, err = bun(ts(src))
    ctx = f"status {status}\nstdout:\n{out}\nstderr:\n{err}"
    assert status == 0, ctx
    assert out.splitlines() == ['["shh\\n",0]', "stop 0"], ctx


def test_bun_program_killed():
    """SIGKILL to the Bun program mid-submission: the pod goes too."""
    _can_run()
    path = ts("""
const s = new Supervisor();
s.onEvent((e) => {
  if (e.type === "state" && e.data.worker === "exec_start")
    console.log("running");
});
await s.start();
s.sendCode("while True: pass");
await new Promise(() => {});
""")
    p = subprocess.Popen([str(BUN), str(path)], stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL,
                         env=base_env({"PODRUNNER": str(PODRUNNER)}),
                         cwd=ROOT, start_new_session=True)
    _register(p.pid)
    deadline = time.monotonic() + TIMEOUT
    line = b""
    while line != b"running\n" and time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
    assert line == b"running\n", line
    p.kill()
    p.wait()
    register_session(p.pid)
    p.stdout.close()
    # The leftovers fixture waits for podrunner and the pod to go.
