"""
The Bun worker (worker/bun/podrunner_worker.ts), through podrunner under
the full sandbox: the conformance scenarios the Python worker passes
(hello, arguments, exit statuses, stdin, large output, the permission
hooks' denials in Deno's words, a grant letting an operation through,
the scrubbed environment), and the protocol's events.

Bun is the one `make deps` (or `make`) put in deps/bun: these tests fail,
never skip, when it is missing.
"""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import (EXIT_FAILURE, ROOT, Case, cases_by_name,
                      run_case, write_script)

BUN = ROOT / "deps" / "bun" / "bin" / "bun"


@pytest.fixture(scope="module", autouse=True)
def _bun_installed():
    if not os.access(BUN, os.X_OK):
        pytest.fail(f"{BUN} missing: run make deps (or make)",
                    pytrace=False)


def ts(name, source, **kw):
    kw.setdefault("suffix", ".ts")
    return Case(name, source, **kw)


ARGS = ["a", "b c", "  two  spaces ", "ü → ✓ 日本", "", "--allow-net", "-d",
        "$HOME", "*", "'quoted'", 'dq"', "a\tb", "line\nbreak"]


def _argv1_is_script(r, path):
    assert r.out.splitlines()[0] == str(path), r.describe()


CASES = [
    ts("hello", 'console.log("hello, world");\n', stdout=b"hello, world\n",
       stderr_exact=""),
    ts("hello-js", 'console.log("from js");\n', suffix=".js",
       stdout=b"from js\n", stderr_exact=""),
    ts("hello-mjs", 'console.log("from mjs");\n', suffix=".mjs",
       stdout=b"from mjs\n", stderr_exact=""),
    ts("hello-forced", 'console.log("forced");\n', suffix=".txt",
       flags=["--worker=bun"], stdout=b"forced\n", stderr_exact=""),
    # A grant of the host's /usr binds it read-only over the pod's:
    # bun's own place in the pod is not below it.
    ts("usr-granted", 'console.log("with /usr");\n',
       flags=["--allow-read=/usr"], stdout=b"with /usr\n"),
    ts("typescript", "const n: number = 6 * 7;\n"
       "interface P { x: number }\nconst p: P = { x: n };\n"
       "console.log(p.x);\n", stdout=b"42\n"),
    ts("no-output", "", stdout=b"", stderr_exact=""),
    ts("stderr", 'console.error("to err");\nconsole.log("to out");\n',
       stdout=b"to out\n", stderr_exact="to err\n"),
    ts("no-newline", 'process.stdout.write("partial");\n',
       stdout=b"partial"),
    ts("args", "console.log(process.argv[1]);\n"
       "console.log(JSON.stringify(process.argv.slice(2)));\n"
       "console.log(JSON.stringify(Bun.argv.slice(2)));\n",
       args=ARGS, stdout_has=[json.dumps(ARGS, ensure_ascii=False,
                                         separators=(",", ":"))],
       check=_argv1_is_script),
    ts("main-module", "console.log(import.meta.main, "
       "Bun.main === import.meta.path);\n", stdout=b"true true\n"),
    ts("top-level-await", "await Bun.sleep(10);\nconsole.log('waited');\n",
       stdout=b"waited\n"),
    ts("exit-0", "process.exit(0);\n", status=0, stdout=b""),
    ts("exit-3", 'console.log("before");\nprocess.exit(3);\n', status=3,
       stdout=b"before\n"),
    ts("exit-code-5", "process.exitCode = 5;\n", status=5),
    ts("exit-255", "process.exit(255);\n", status=255),
    ts("exception", 'function f() {\n  throw new Error("boom");\n}\n'
       'console.log("start");\nf();\n', status=1, stdout=b"start\n",
       stderr_has=["error: boom", ":2:"]),
    ts("async-exception", "setTimeout(() => { throw new TypeError('late'); "
       "}, 5);\n", status=1, stderr_has=["TypeError: late"]),
    ts("unhandled-rejection", "Promise.reject(new RangeError('nope'));\n",
       status=1, stderr_has=["RangeError: nope"]),
    ts("syntax-error", "const = ;\n", status=1, stderr_has=["error"]),
    ts("sigterm-self", 'console.log("bye");\n'
       'process.kill(process.pid, "SIGTERM");\n'
       "await Bun.sleep(5000);\n", status=128 + 15, stdout=b"bye\n"),
    ts("timeout", "while (true) {}\n", flags=["--timeout=1s"], status=124,
       stderr_has=["podrunner: worker killed: timeout after 1s"]),
    ts("memory-limit", "const a = [];\n"
       "while (true) a.push(Buffer.alloc(1 << 20, 1));\n", status=137,
       stderr_has=["podrunner: worker killed: memory limit 64 MiB reached"]),
    ts("small-memory", 'console.log("fits");\n', flags=["--memory=16mb"],
       stdout=b"fits\n"),
    ts("unicode-output", 'console.log("ü → ✓ 日本");\n',
       stdout="ü → ✓ 日本\n".encode()),
    ts("binary-output", "const b = new Uint8Array(1024);\n"
       "for (let i = 0; i < 1024; i++) b[i] = i & 255;\n"
       "process.stdout.write(b);\n", stdout=bytes(range(256)) * 4),
]


@cases_by_name(CASES)
def test_bun(case):
    run_case(case)


# --- stdin --------------------------------------------------------------------

ECHO = ("const data = await Bun.stdin.bytes();\n"
        "process.stdout.write(data);\n")
ECHO_NODE = ("const chunks = [];\n"
             "for await (const c of process.stdin) chunks.push(c);\n"
             "process.stdout.write(Buffer.concat(chunks));\n")
COUNT = ('import { createHash } from "node:crypto";\n'
         "const data = await Bun.stdin.bytes();\n"
         "console.log(data.length, "
         'createHash("sha256").update(data).digest("hex"));\n')
BINARY = bytes(range(256)) * 4096          # 1 MiB
BIG = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(131072))

STDIN_CASES = [
    ts("stdin-text", ECHO, stdin=b"hello\nworld\n",
       stdout=b"hello\nworld\n"),
    ts("stdin-node", ECHO_NODE, stdin=b"one\ntwo\n", stdout=b"one\ntwo\n"),
    ts("stdin-empty", COUNT, stdin=b"",
       stdout=b"0 " + hashlib.sha256(b"").hexdigest().encode() + b"\n"),
    ts("stdin-binary", ECHO, stdin=BINARY, stdout=BINARY),
    ts("stdin-4mib", COUNT, stdin=BIG, stdout=b"%d %s\n" % (
        len(BIG), hashlib.sha256(BIG).hexdigest().encode())),
    ts("stdin-lines", "let n = 0;\n"
       "for await (const line of console) if (line) n++;\n"
       "console.log(n);\n",
       stdin=b"".join(b"line %d\n" % i for i in range(1000)),
       stdout=b"1000\n"),
]


@cases_by_name(STDIN_CASES)
def test_stdin(case):
    run_case(case)


# --- large output ---------------------------------------------------------------

MIB10 = 10 << 20
GEN = ('import { createHash } from "node:crypto";\n'
       "const out = process.argv[2] === 'stdout' ? process.stdout : "
       "process.stderr;\n"
       "for (let i = 0; i < %d; i++) {\n"
       "  const d = createHash('sha256').update(String(i)).digest();\n"
       "  const b = Buffer.alloc(32 * 64);\n"
       "  for (let j = 0; j < 64; j++) d.copy(b, j * 32);\n"
       "  if (!out.write(b)) await new Promise(r => out.once('drain', r));\n"
       "}\n" % (MIB10 // (32 * 64)))
EXPECT = b"".join(hashlib.sha256(b"%d" % i).digest() * 64
                  for i in range(MIB10 // (32 * 64)))


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_10mib_whole_and_in_order(stream):
    r = run_case(ts(f"big-{stream}", GEN, args=[stream], timeout=120))
    got = r.stdout if stream == "stdout" else r.stderr.encode(
        "utf-8", "surrogateescape")
    if stream == "stderr":
        # Compared as bytes: read stderr raw.
        path = write_script(GEN, ".ts")
        import subprocess
        from conftest import PODRUNNER, base_env
        p = subprocess.run([str(PODRUNNER), "run", str(path), "stderr"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           env=base_env(), timeout=120,
                           start_new_session=True)
        assert p.returncode == 0, p.stderr[-2000:]
        got = p.stderr
        while got.startswith(b"podrunner: warning:"):
            got = got[got.index(b"\n") + 1:]
    assert len(got) == len(EXPECT) and got == EXPECT, (
        f"{stream}: {len(got)} bytes, want {len(EXPECT)}")


def test_output_interleaved_in_order():
    """Lines alternating between stdout and stderr each arrive whole and
    in order on their own stream."""
    n = 20000
    src = ("const pad = 'x'.repeat(86);\n"
           "for (let i = 0; i < %d; i++) {\n"
           "  console.log(`out ${String(i).padStart(8, '0')} ${pad}`);\n"
           "  console.error(`err ${String(i).padStart(8, '0')} ${pad}`);\n"
           "}\n" % n)
    r = run_case(ts("interleaved", src, timeout=120))
    pad = "x" * 86
    assert r.out.splitlines() == [f"out {i:08d} {pad}" for i in range(n)]
    assert r.err_lines == [f"err {i:08d} {pad}" for i in range(n)]


# --- events ---------------------------------------------------------------------

def _events(r):
    out = []
    for line in r.stderr.splitlines():
        i = line.find("event: {")
        if i >= 0:
            ev = json.loads(line[i + len("event: "):])
            if ev.get("type") == "state":
                out.append(ev)
    return out


def test_events():
    r = run_case(ts("events-ok", "console.log('fine');\nprocess.exit(4);\n",
                    flags=["-d", "-v"], status=4))
    ev = _events(r)
    assert [e["worker"] for e in ev] == ["exec_start", "exec_end"], \
        r.describe()
    assert ev[-1]["exit_code"] == 4
    r = run_case(ts("events-exc", "throw new SyntaxError('bad');\n",
                    flags=["-d", "-v"], status=1))
    ev = _events(r)
    assert [e["worker"] for e in ev] == ["exec_start", "exception",
                                         "exec_end"], r.describe()
    assert ev[1]["exc_type"] == "SyntaxError"
    assert "bad" in ev[1]["traceback"]
    assert ev[2]["exit_code"] == 1


# --- the environment ----------------------------------------------------------

ENV_DUMP = ("console.log(JSON.stringify(Object.keys(process.env).sort()));\n"
            "console.log(JSON.stringify(Object.keys(Bun.env).sort()));\n")
POD_VARS = ["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "PATH",
            "all_proxy", "http_proxy", "https_proxy", "no_proxy"]


def test_env_scrubbed():
    """Only PATH and the proxy variables: never a POD_* variable, nor
    the runtime's own PODSHM_LIB, nor what the host has."""
    r = run_case(ts("env", ENV_DUMP, env={
        "POD_ALLOW_ENV": "FOO", "POD_SECRET": "x", "FOO": "foo",
        "HOME": "/root", "SECRET_TOKEN": "t"}))
    lines = r.out.splitlines()
    assert json.loads(lines[0]) == sorted(POD_VARS + ["FOO"]), r.describe()
    assert json.loads(lines[1]) == sorted(POD_VARS + ["FOO"]), r.describe()
    r = run_case(ts("env-none", ENV_DUMP + "console.log(process.env.FOO, "
                    "process.env.PODSHM_LIB, process.env.HOME);\n",
                    env={"FOO": "foo"}))
    lines = r.out.splitlines()
    assert json.loads(lines[0]) == POD_VARS, r.describe()
    assert lines[2] == "undefined undefined undefined"
    assert "POD_" not in r.out


def test_children_get_the_scrubbed_environment():
    src = ('const p = Bun.spawnSync(["/usr/bin/env"]);\n'
           "process.stdout.write(p.stdout);\n")
    r = run_case(ts("env-child", src, flags=["--allow-run=/usr/bin/env",
                                             "--deny-env=HTTP_PROXY"]))
    names = sorted(l.split("=", 1)[0] for l in r.out.splitlines())
    assert names == sorted(set(POD_VARS) - {"HTTP_PROXY"}), r.describe()


# --- the hooks: denials in Deno's words -----------------------------------------

PRELUDE = """\
async function attempt(label: string, fn: () => any) {
  try {
    const r = await fn();
    console.log(label, "ok:", r);
  } catch (e: any) {
    if (e?.name === "PermissionError")
      console.log(label, "denied:", e.message, e.code);
    else
      console.log(label, "error:", e?.code ?? e?.name ?? e);
  }
}
"""


def msg(kind, target):
    return (f'Requires {kind} access to "{target}", run again with '
            f'--allow-{kind}={target}')


def denied(label, kind, target):
    return f"{label} denied: {msg(kind, target)} EACCES\n"


def ok(label, value):
    return f"{label} ok: {value}\n"


def run(name, body, flags=(), expect="", **kw):
    """Run PRELUDE + body; stdout must be exactly expect (None: any)."""
    return run_case(ts(name, PRELUDE + body, flags=list(flags),
                       stdout=None if expect is None else expect.encode(),
                       **kw))


@pytest.fixture
def tree():
    d = Path(tempfile.mkdtemp(prefix="podrunner-bun-", dir="/var/tmp"))
    (d / "out").mkdir()
    (d / "pub.txt").write_text("public\n")
    os.chmod(d, 0o755)
    os.chmod(d / "out", 0o777)
    os.chmod(d / "pub.txt", 0o644)
    yield str(os.path.realpath(d))
    shutil.rmtree(d, ignore_errors=True)


def test_read(tree):
    pub = f"{tree}/pub.txt"
    body = f"""\
import fs from "node:fs";
import {{ readFile }} from "node:fs/promises";
await attempt("sync", () => fs.readFileSync({pub!r}, "utf8").trim());
await attempt("promise", async () => (await readFile({pub!r}, "utf8")).trim());
await attempt("callback", () => new Promise((res, rej) =>
  fs.readFile({pub!r}, "utf8", (e, d) => e ? rej(e) : res(d.trim()))));
await attempt("bun-file", async () => (await Bun.file({pub!r}).text()).trim());
await attempt("listdir", () => fs.readdirSync({tree!r}).sort().join(","));
"""
    run("read-none", body, expect=denied("sync", "read", pub) +
        denied("promise", "read", pub) + denied("callback", "read", pub) +
        denied("bun-file", "read", pub) + denied("listdir", "read", tree))
    run("read-allow", body, [f"--allow-read={tree}"],
        expect=ok("sync", "public") + ok("promise", "public") +
        ok("callback", "public") + ok("bun-file", "public") +
        ok("listdir", "out,pub.txt"))
    run("read-deny", body, [f"--allow-read={tree}", f"--deny-read={pub}"],
        expect=denied("sync", "read", pub) + denied("promise", "read", pub) +
        denied("callback", "read", pub) + denied("bun-file", "read", pub) +
        ok("listdir", "out,pub.txt"))


def test_uncaught_denial():
    r = run_case(ts("uncaught", 'import { readFileSync } from "node:fs";\n'
                    'console.log("before");\n'
                    'readFileSync("/etc/passwd");\n'
                    'console.log("not reached");\n',
                    status=1, stdout=b"before\n",
                    stderr_has=["PermissionError: " +
                                msg("read", "/etc/passwd")]))
    assert "podrunner_worker" not in r.stderr, r.describe()


def test_write(tree):
    out = f"{tree}/out"
    body = f"""\
import fs from "node:fs";
await attempt("sync", () => fs.writeFileSync({out + '/a.txt'!r}, "x"));
await attempt("bun-write", () => Bun.write({out + '/b.txt'!r}, "y"));
await attempt("open-w", () => fs.closeSync(fs.openSync({out + '/c.txt'!r}, "w")));
await attempt("mkdir", () => fs.mkdirSync({out + '/d'!r}));
await attempt("unlink", () => fs.unlinkSync({out + '/nothing'!r}));
"""
    run("write-none", body, expect=denied("sync", "write", out + "/a.txt") +
        denied("bun-write", "write", out + "/b.txt") +
        denied("open-w", "write", out + "/c.txt") +
        denied("mkdir", "write", out + "/d") +
        denied("unlink", "write", out + "/nothing"))
    run("write-allow", body, [f"--allow-write={out}"],
        expect=ok("sync", "undefined") + ok("bun-write", 1) +
        ok("open-w", "undefined") + ok("mkdir", "undefined") +
        "unlink error: ENOENT\n")
    assert open(f"{out}/a.txt").read() == "x"
    assert open(f"{out}/b.txt").read() == "y"


PORT = 40123


def test_net():
    body = f"""\
import net from "node:net";
import http from "node:http";
import dns from "node:dns/promises";
await attempt("fetch", () => fetch("http://example.com/").then(r => r.status));
await attempt("fetch-port", () => fetch("https://Example.COM:8443/x"));
await attempt("net", () => new Promise((res, rej) => {{
  const s = net.connect({{ host: "127.0.0.1", port: {PORT} }});
  s.on("connect", () => {{ s.destroy(); res("connected"); }});
  s.on("error", rej);
}}));
await attempt("http", () => new Promise((res, rej) => {{
  const r = http.get("http://127.0.0.1:{PORT}/", res);
  r.on("error", rej);
}}));
await attempt("bun-connect", () => Bun.connect({{ hostname: "127.0.0.1",
  port: {PORT}, socket: {{ data() {{}} }} }}));
await attempt("dns", () => dns.lookup("localhost"));
await attempt("v6", () => new Promise((res, rej) => {{
  const s = net.connect({{ host: "::1", port: {PORT} }});
  s.on("error", rej);
}}));
"""
    loc = f"127.0.0.1:{PORT}"
    run("net-none", body, expect=(
        denied("fetch", "net", "example.com:80") +
        denied("fetch-port", "net", "example.com:8443") +
        denied("net", "net", loc) + denied("http", "net", loc) +
        denied("bun-connect", "net", loc) +
        denied("dns", "net", "localhost") +
        denied("v6", "net", f"[::1]:{PORT}")))
    # Allowed: past the hook, refused by the pod (no listener there).
    r = run("net-allow", body, [f"--allow-net={loc},[::1]:{PORT},localhost"],
            expect=None)
    for label in ("net", "http", "bun-connect", "dns", "v6"):
        assert f"\n{label} error:" in r.out, r.describe()


def test_fetch_through_the_proxy():
    """An allowed host is asked about by the hook, then the proxy: a
    host no DNS knows gets the proxy's answer, not the hook's denial."""
    body = ('await attempt("fetch", () => fetch('
            '"http://no-such-host.invalid/").then(r => r.status));\n')
    r = run("proxy", body, ["--allow-net=no-such-host.invalid"],
            expect=None)
    assert "fetch ok: 50" in r.out or "fetch error" in r.out, r.describe()
    assert "denied" not in r.out


def test_run():
    body = """\
import { execSync, spawnSync } from "node:child_process";
await attempt("bun-spawn", () => Bun.spawnSync(["true"]).exitCode);
await attempt("bun-spawn-path", () => Bun.spawnSync(["/bin/true"]).exitCode);
await attempt("cp-spawn", () => spawnSync("true").status);
await attempt("cp-exec", () => execSync("exit 0").length);
// Bun's shell opens the working directory: the pod's / is not readable.
process.chdir("/tmp");
await attempt("shell", () => Bun.$`true`.quiet().then(r => r.exitCode));
"""
    run("run-none", body, expect=(
        denied("bun-spawn", "run", "true") +
        denied("bun-spawn-path", "run", "/bin/true") +
        denied("cp-spawn", "run", "true") +
        denied("cp-exec", "run", "/bin/sh") + denied("shell", "run", "sh")))
    run("run-allow", body, ["--allow-run=true,sh"], expect=(
        ok("bun-spawn", 0) + ok("bun-spawn-path", 0) + ok("cp-spawn", 0) +
        ok("cp-exec", 0) + ok("shell", 0)))
    run("run-deny", body, ["--allow-run=true,sh", "--deny-run=" +
                           os.path.realpath("/bin/true")], expect=(
        denied("bun-spawn", "run", "true") +
        denied("bun-spawn-path", "run", "/bin/true") +
        denied("cp-spawn", "run", "true") +
        ok("cp-exec", 0) + ok("shell", 0)))


def test_env():
    body = """\
await attempt("path", () => process.env.PATH !== undefined);
await attempt("path-listed", () => Object.keys(process.env).includes("PATH"));
await attempt("bun-env", () => Bun.env.PATH !== undefined);
await attempt("foo", () => process.env.FOO);
await attempt("set", () => { process.env.NEWVAR = "x"; return process.env.NEWVAR; });
await attempt("missing", () => process.env.NO_SUCH_VARIABLE_AT_ALL);
"""
    run("env-none", body, env={"FOO": "foo-value"}, expect=(
        ok("path", "true") + ok("path-listed", "true") +
        ok("bun-env", "true") + ok("foo", "undefined") +
        denied("set", "env", "NEWVAR") + ok("missing", "undefined")))
    run("env-allow", body, ["--allow-env=FOO,NEWVAR"],
        env={"FOO": "foo-value"}, expect=(
            ok("path", "true") + ok("path-listed", "true") +
            ok("bun-env", "true") + ok("foo", "foo-value") +
            ok("set", "x") + ok("missing", "undefined")))
    run("env-deny", body, ["--allow-env", "--deny-env=PATH,NEWVAR"],
        env={"FOO": "foo-value"}, expect=(
            denied("path", "env", "PATH") + ok("path-listed", "false") +
            ok("bun-env", "false") + ok("foo", "foo-value") +
            denied("set", "env", "NEWVAR") + ok("missing", "undefined")))


def _libc_path():
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            if len(fields) == 6 and \
                    os.path.basename(fields[5].strip()) == "libc.so.6":
                return os.path.realpath(fields[5].strip())
    pytest.fail("libc.so.6 not mapped", pytrace=False)


def test_ffi():
    libc = _libc_path()
    body = """\
import { dlopen } from "bun:ffi";
await attempt("libc", () => typeof dlopen("libc.so.6",
  { getpid: { args: [], returns: "i32" } }).symbols.getpid());
"""
    run("ffi-none", body, expect=denied("libc", "ffi", libc))
    run("ffi-allow", body, ["--allow-ffi"], expect=ok("libc", "number"))
    run("ffi-deny", body, ["--allow-ffi", f"--deny-ffi={libc}"],
        expect=denied("libc", "ffi", libc))


def test_sys():
    body = """\
import os from "node:os";
await attempt("hostname", () => os.hostname().startsWith("pod-"));
await attempt("uid", () => typeof process.getuid());
await attempt("loadavg", () => os.loadavg().length);
"""
    run("sys-none", body, expect=denied("hostname", "sys", "hostname") +
        denied("uid", "sys", "uid") + denied("loadavg", "sys", "loadavg"))
    run("sys-allow", body, ["--allow-sys"], expect=ok("hostname", "true") +
        ok("uid", "number") + ok("loadavg", 3))


def test_cache(tree):
    """1000 reads of an allowed file and 1000 of a denied one cost one
    request each (policyd logs each decision it makes at -d -vv)."""
    pub = f"{tree}/pub.txt"
    body = f"""\
import fs from "node:fs";
let n = 0, d = 0;
for (let i = 0; i < 1000; i++) {{
  fs.readFileSync({pub!r});
  n++;
  try {{ fs.readFileSync("/etc/passwd"); }} catch {{ d++; }}
}}
console.log(n, d);
"""
    r = run_case(ts("cache", body, flags=["-d", "-vv",
                                          f"--allow-read={tree}"],
                    stdout=b"1000 1000\n"))
    asked = [l for l in r.stderr.splitlines() if "podrunner[policyd]" in l
             and ("/etc/passwd" in l or pub in l)]
    assert len(asked) == 2, "\n".join(asked)


def test_bun_missing_is_reported(tmp_path):
    """No bun where podrunner looks: a clear error, status 125."""
    # Simulated with a tree of our own: a copy of the binary alone.
    tree = Path(tempfile.mkdtemp(prefix="podrunner-nobun-"))
    try:
        (tree / "build").mkdir()
        shutil.copy2(ROOT / "build" / "podrunner", tree / "build" /
                     "podrunner")
        path = write_script('console.log("x");\n', ".ts")
        import subprocess
        from conftest import base_env
        p = subprocess.run([str(tree / "build" / "podrunner"), "run",
                            str(path)], capture_output=True, text=True,
                           env=base_env(), timeout=60,
                           start_new_session=True)
        assert p.returncode == EXIT_FAILURE, p.stderr
        assert "bun runtime is not installed" in p.stderr, p.stderr
    finally:
        shutil.rmtree(tree)


# --- the protocol, with the test as the supervisor --------------------------
#
# As test_worker_python.py does for the Python runtime: the test creates
# the rings and the control socket and starts the runtime with our bun.

import subprocess  # noqa: E402

import test_worker_python as twp  # noqa: E402

RUNTIME_JS = ROOT / "build" / "bun" / "podrunner_worker.js"
RUNTIME_TS = ROOT / "worker" / "bun" / "podrunner_worker.ts"


class BunSupervisor(twp.Supervisor):
    def start(self, args=None, env=None, stdin=b""):
        env = dict(env if env is not None else {"PODSHM_LIB": twp.LIB})
        if args is None:
            args = [self.sock_path, self.name, str(self.size)]
        runtime = RUNTIME_JS if RUNTIME_JS.exists() else RUNTIME_TS
        self.proc = subprocess.Popen(
            [str(BUN), "--no-install", str(runtime)] + args, env=env,
            cwd=self.tmpdir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        if stdin is not None:
            self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self.proc.stdin = None

    def run_ts(self, source, argv=(), decide=None):
        path = os.path.join(self.tmpdir, "entry.ts")
        with open(path, "w") as f:
            f.write(source)
        return self.run(source, argv=argv, path=path, decide=decide)


@pytest.fixture(scope="module")
def lib():
    return _lib()


def _lib():
    return twp.load_podshm()


@pytest.fixture
def sup(lib):
    tmpdir = tempfile.mkdtemp(prefix="pb-")
    s = BunSupervisor(lib, tmpdir)
    yield s
    s.close()
    shutil.rmtree(tmpdir)


def test_protocol_run_and_events(sup):
    sup.start(stdin=b"in\n")
    sup.accept()
    end = sup.run_ts("console.log('hi', process.argv.slice(2));\n"
                     "console.log(await Bun.stdin.text());\n"
                     "console.log(process.env.PODSHM_LIB);\n",
                     argv=["x"])
    status, out, err = sup.finish()
    assert (status, err) == (0, ""), err
    assert out == "hi [ \"x\" ]\nin\n\nundefined\n"
    assert end == {"type": "state", "worker": "exec_end", "exit_code": 0}
    assert sup.events() == ["exec_start", "exec_end"]


def test_protocol_exception(sup):
    sup.start()
    sup.accept()
    end = sup.run_ts("console.log('before');\nthrow new TypeError('boom');\n")
    status, out, err = sup.finish()
    assert status == 1 and end["exit_code"] == 1
    assert out == "before\n"
    assert sup.events() == ["exec_start", "exception", "exec_end"]
    exc = [f for f in sup.frames if f.get("worker") == "exception"][0]
    assert exc["exc_type"] == "TypeError"
    assert "TypeError: boom" in exc["traceback"]
    assert exc["traceback"] in err


def test_protocol_requests(sup):
    """A hook asks with the type and the resolved target; the answer is
    the supervisor's."""
    sup.start()
    sup.accept()
    src = ('import fs from "node:fs";\n'
           'try { fs.readFileSync("/etc/../etc/hostname"); '
           'console.log("read ok"); } catch (e) { console.log(e.message); }\n'
           'try { fs.writeFileSync("/tmp/x", ""); } '
           'catch (e) { console.log(e.message); }\n')
    sup.run_ts(src, decide=lambda t, p: 1 if t == 1 else 0)
    status, out, err = sup.finish()
    assert status == 0, err
    assert out == "read ok\n" + msg("write", "/tmp/x") + "\n"
    asked = [(t, p) for t, _, p in sup.requests]
    assert (1, b"/etc/hostname") in asked and (2, b"/tmp/x") in asked
    ids = [i for _, i, _ in sup.requests]
    assert 0 not in ids and len(set(ids)) == len(ids)


def test_protocol_unknown_frames(sup):
    sup.start()
    sup.accept()
    sup.send_frame({"type": "bogus"})
    sup.send_frame(b"\xff not json")
    sup.send_frame(b"[1, 2]")
    errs = []
    while len(errs) < 3:
        assert sup.conn.recv(64) == twp.DATA
        errs += sup.recv_frames()
    assert errs == [
        {"type": "error", "data": "unknown frame type 'bogus'"},
        {"type": "error", "data": "frame is not UTF-8 JSON"},
        {"type": "error", "data": "frame is not a JSON object"},
    ]
    sup.run_ts("console.log('still fine');\n")
    assert sup.finish() == (0, "still fine\n", "")


def test_protocol_stop_before_run(sup):
    sup.start()
    sup.accept()
    sup.conn.send(twp.STOP)
    assert sup.finish() == (0, "", "")


def expect_70(sup, what):
    status, out, err = sup.finish()
    assert status == twp.EX_SOFTWARE, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("podrunner-worker: "), err
    assert what in lines[0], err


@pytest.mark.parametrize("how,what", [
    ("args", "usage"), ("size", "shm_size"), ("segment", "No such file"),
    ("wrong-size", "Invalid argument"), ("lib", "loading /nonexistent"),
    ("connect", "connecting to"),
])
def test_protocol_setup_failures(sup, how, what):
    a = [sup.sock_path, sup.name, str(twp.SHM_SIZE)]
    env = None
    if how == "args":
        a = ["only-one"]
    elif how == "size":
        a[2] = "lots"
    elif how == "segment":
        a[1] = "/podrunner-test-missing"
    elif how == "wrong-size":
        a[2] = str(twp.SHM_SIZE * 2)
    elif how == "lib":
        env = {"PODSHM_LIB": "/nonexistent/libpodshm.so.1"}
    elif how == "connect":
        a[0] += ".nope"
    sup.start(args=a, env=env)
    expect_70(sup, what)


def test_protocol_socket_closed(sup):
    sup.start()
    sup.accept()
    sup.conn.close()
    sup.conn = None
    expect_70(sup, "closed")


def test_protocol_malformed_message(sup):
    sup.start()
    sup.accept()
    sup.conn.send(b"\x10\x00\x00")
    expect_70(sup, "control message of 3 bytes")


def test_protocol_malformed_run_frame(sup):
    sup.start()
    sup.accept()
    sup.send_frame({"type": "run", "path": "relative.ts", "source_b64": ""})
    expect_70(sup, "absolute path")
    assert sup.recv_frames()[0]["type"] == "error"


def test_protocol_corrupt_ring(sup):
    sup.start()
    sup.accept()
    twp.corrupt_head(sup)
    expect_70(sup, "ring is corrupt")
