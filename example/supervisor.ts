/**
 * Supervisor: podrunner for Bun programs, with the seeds' API.
 *
 *     import { Supervisor } from "./supervisor";
 *
 *     const supervisor = new Supervisor({
 *       shmSize: 1024 * 1024,
 *       workerType: "python",
 *       policyPath: "etc/default.json",
 *       sandboxEnabled: true,
 *     });
 *     supervisor.onEvent((event) => {
 *       if (event.type === "output") console.log("Output:", event.data);
 *     });
 *     await supervisor.start();
 *     supervisor.sendCode("print('hello')");
 *     await supervisor.stop();
 *
 * A Supervisor runs `podrunner serve` as a child process (Bun.spawn) and
 * speaks its JSON-lines protocol (podrunner(1), SERVE): requests down
 * its standard input, one JSON object a line; events up its standard
 * output, one a line, which are the events given to onEvent callbacks,
 * as they came:
 *
 *     { type: "policy-loaded", data: {...the normalised policy...} }
 *     { type: "ready" }
 *     { type: "state", data: { worker: "exec_start" }, id: 1 }
 *     { type: "output", stream: "stdout", data: "hello\n", id: 1 }
 *     { type: "state", data: { worker: "exception", exc_type, traceback }, id }
 *     { type: "state", data: { worker: "interrupted" }, id }
 *     { type: "state", data: { worker: "exec_end", exit_code: 0 }, id: 1 }
 *     { type: "memory", data: { current, peak, limit }, id: 1 }
 *     { type: "error", data: "request line 3: ..." }
 *     { type: "syscalls", data: {...} }
 *     { type: "exit", data: { code: 0 } }            (the last)
 *
 * One Supervisor is one pod and one persistent worker: submissions run
 * one after the other in the order they were sent, and keep their
 * globals; one sent with { fresh: true } starts a new, empty namespace,
 * which those after it share.  podrunner needs root: so
 * does the Bun program.  The library holds no privilege; podrunner
 * drops its own for everything that touches the untrusted code.
 *
 * The child dies with us: it runs under setpriv --pdeathsig TERM (on
 * which podrunner serve stops at once, ends the pod and cleans up), as
 * libpodrunner's child does with PR_SET_PDEATHSIG; the end of file on
 * its standard input when we end is a stop too, but one that lets the
 * running submission finish, which an endless loop never does.
 *
 * libpodrunner (libpodrunner/, libpodrunner(3)) is the same for C.
 */
import { existsSync, writeFileSync } from "node:fs";
import type { Subprocess } from "bun";

export type WorkerType = "python" | "bun";

export interface SupervisorOptions {
  /** A policy document (--policy). */
  policyPath?: string;
  /** Where the normalised policy is written when podrunner loads it. */
  activePolicyPath?: string;
  /** Where facts about it are written (time, source, podrunner's pid). */
  activePolicyMetaPath?: string;
  /** The data-plane segment in bytes (default 1 MiB; --shm-size). */
  shmSize?: number;
  /** "python" (default) or "bun" (--worker). */
  workerType?: WorkerType;
  /** Kernel isolation (default true; false is --no-sandbox). */
  sandboxEnabled?: boolean;

  /* Beyond the seeds. */
  /** The podrunner binary (default $PODRUNNER, the tree's ./podrunner,
   *  the installed one). */
  podrunner?: string;
  /** Memory limit in bytes (--memory). */
  memory?: number;
  /** CPUs, 0.5 is half of one (--cpus). */
  cpus?: number;
  /** Process limit (--pids). */
  pids?: number;
  /** Each submission's limit, in ms (--timeout): one that runs longer
   *  has its pod killed (exit 124). */
  timeoutMs?: number;
  /** More options for podrunner serve ("--allow-read=/data", "-v"). */
  flags?: string[];
  /** podrunner's environment (default ours); it reads POD_* there. */
  env?: Record<string, string | undefined>;
  /** How long start() waits for the worker (default 60 s). */
  startTimeoutMs?: number;
  /** Each line podrunner writes on its standard error (default: ours). */
  onStderr?: (line: string) => void;
  /** podrunner dies with this process (default true; needs setpriv). */
  dieWithParent?: boolean;
}

export interface SupervisorEvent {
  type: string;
  data?: any;
  id?: number;
  stream?: "stdout" | "stderr";
  [key: string]: unknown;
}

export type EventCallback = (event: SupervisorEvent) => void;

/** What execute() resolves to. */
export interface ExecuteResult {
  id: number;
  stdout: string;
  stderr: string;
  exitCode: number;
  exception?: { excType: string; traceback: string };
  interrupted: boolean;
}

const INSTALLED = "/usr/local/bin/podrunner";
const SETPRIV = "/usr/bin/setpriv";
const TERM_GRACE_MS = 2000;

/** The podrunner binary: the options', $PODRUNNER, the tree's, the
 *  installed one, or podrunner from PATH. */
function findPodrunner(opt?: string): string {
  if (opt) return opt;
  if (process.env.PODRUNNER) return process.env.PODRUNNER;
  const tree = new URL("../podrunner", import.meta.url).pathname;
  if (existsSync(tree)) return tree;
  if (existsSync(INSTALLED)) return INSTALLED;
  return "podrunner";
}

export class Supervisor {
  readonly options: SupervisorOptions;
  #listeners: { cb: EventCallback }[] = [];
  #proc?: Subprocess<"pipe", "pipe", "pipe">;
  #nextId = 0;
  #stopping = false;
  #ready = false;
  #status: number | null = null;
  #lastDiag = "";
  #readyWait?: { resolve: () => void; reject: (e: Error) => void };
  #ends = new Map<number, { resolve: (r: ExecuteResult) => void; reject: (e: Error) => void }>();
  #results = new Map<number, ExecuteResult>();
  #finished?: Promise<number>;
  #started = 0;
  #policySource = "defaults";

  constructor(options: SupervisorOptions = {}) {
    this.options = {
      shmSize: 1024 * 1024,
      workerType: "python",
      sandboxEnabled: true,
      ...options,
    };
  }

  /** Every event goes to cb; the function returned unsubscribes it. */
  onEvent(cb: EventCallback): () => void {
    const entry = { cb };
    this.#listeners.push(entry);
    return () => {
      this.#listeners = this.#listeners.filter((e) => e !== entry);
    };
  }

  /** podrunner serve's pid, once started. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** podrunner's exit status, once it has exited; else null. */
  get exitCode(): number | null {
    return this.#status;
  }

  /**
   * Spawn podrunner serve and resolve when the worker is ready; reject
   * with podrunner's reason if it exits first.  config, a policy
   * document (either shape podrunner reads), overrides policyPath: it
   * goes to podrunner as POD_POLICY_JSON.
   */
  async start(config?: object): Promise<void> {
    if (this.#proc) throw new Error("Supervisor: started already");
    const o = this.options;
    const cmd = [findPodrunner(o.podrunner), "serve"];
    cmd.push("--worker", o.workerType ?? "python");
    if (o.shmSize) cmd.push("--shm-size", String(o.shmSize));
    if (o.memory) cmd.push("--memory", String(o.memory));
    if (o.cpus) cmd.push("--cpus", o.cpus.toFixed(2));
    if (o.pids) cmd.push("--pids", String(o.pids));
    if (o.timeoutMs) cmd.push("--timeout", `${o.timeoutMs}ms`);
    if (o.sandboxEnabled === false) cmd.push("--no-sandbox");
    const env: Record<string, string | undefined> = { ...(o.env ?? process.env) };
    if (config !== undefined) {
      // One document: the override, not the file or an inherited one.
      env.POD_POLICY_JSON = Buffer.from(JSON.stringify(config)).toString("base64");
      this.#policySource = "config";
    } else if (o.policyPath) {
      cmd.push("--policy", o.policyPath);
      if (!o.env) delete env.POD_POLICY_JSON;
      this.#policySource = o.policyPath;
    }
    cmd.push(...(o.flags ?? []));
    // PR_SET_PDEATHSIG, which Bun.spawn cannot set: setpriv sets it and
    // executes podrunner (same pid).
    if (o.dieWithParent !== false && existsSync(SETPRIV))
      cmd.unshift(SETPRIV, "--pdeathsig", "TERM", "--");

    const ready = new Promise<void>((resolve, reject) => {
      this.#readyWait = { resolve, reject };
    });
    // Its failure after a timeout has been reported is no news.
    ready.catch(() => {});
    const proc = Bun.spawn({
      cmd,
      env,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.#proc = proc;
    const out = this.#readLines(proc.stdout, (l) => this.#onLine(l));
    const err = this.#readLines(proc.stderr, (l) => this.#onStderr(l));
    this.#finished = this.#reap(proc, out, err);
    this.#write({ op: "start" });

    const limit = o.startTimeoutMs ?? 60_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#kill();
        reject(new Error(`podrunner serve: the worker was not ready within ${limit} ms (killed)`));
      }, limit);
    });
    try {
      await Promise.race([ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Queue code for the worker; returns the submission's id. */
  sendCode(code: string, opts: { fresh?: boolean } = {}): number {
    if (typeof code !== "string") throw new TypeError("sendCode: code is not a string");
    const id = ++this.#nextId;
    this.#write({ op: "send", code, id, fresh: opts.fresh === true });
    return id;
  }

  /** Interrupt the running submission (KeyboardInterrupt in Python). */
  interrupt(): void {
    this.#write({ op: "interrupt" });
  }

  /**
   * Send code and resolve with what it printed and how it ended (after
   * its exec_end); rejects if podrunner refuses it or exits first.
   */
  execute(code: string, opts: { fresh?: boolean } = {}): Promise<ExecuteResult> {
    const id = this.sendCode(code, opts);
    this.#results.set(id, { id, stdout: "", stderr: "", exitCode: -1, interrupted: false });
    return new Promise((resolve, reject) => {
      this.#ends.set(id, { resolve, reject });
      this.#finished?.then((status) => {
        if (this.#ends.delete(id))
          reject(new Error(`podrunner serve exited with status ${status} before submission ${id} ended${this.#diag()}`));
      });
    });
  }

  /**
   * Stop the worker and the pod; podrunner serve runs what was sent
   * first (as in the seeds: sendCode(), then stop(), runs the code;
   * interrupt() to hurry).  Resolves with podrunner's exit status (0
   * after a clean stop) once every event was delivered.  After
   * timeoutMs it is stopped at once (SIGTERM), then killed (SIGKILL).
   */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    const proc = this.#proc;
    if (!proc || !this.#finished) return null;
    if (this.#status !== null) return this.#status;
    if (!this.#stopping) {
      this.#stopping = true;
      try {
        proc.stdin.write(JSON.stringify({ op: "stop" }) + "\n");
        proc.stdin.end();
      } catch {
        // It has exited: #finished says how.
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#kill();
        resolve();
      }, timeoutMs);
    });
    await Promise.race([this.#finished, killed]);
    clearTimeout(timer);
    return await this.#finished;
  }

  #write(req: object): void {
    const proc = this.#proc;
    if (!proc) throw new Error("Supervisor: not started");
    if (this.#status !== null) throw new Error(`podrunner serve has exited with status ${this.#status}`);
    if (this.#stopping) throw new Error("Supervisor: stopping");
    // JSON.stringify escapes newlines: one request, one line.
    proc.stdin.write(JSON.stringify(req) + "\n");
    const f = proc.stdin.flush();
    if (f instanceof Promise) f.catch(() => {});
  }

  #kill(): void {
    const proc = this.#proc;
    if (!proc || this.#status !== null) return;
    try {
      proc.stdin.end();
    } catch {}
    proc.kill("SIGTERM");
    setTimeout(() => {
      if (this.#status === null) proc.kill("SIGKILL");
    }, TERM_GRACE_MS).unref();
  }

  /** Split a stream into lines (the last one even without a newline). */
  async #readLines(stream: ReadableStream<Uint8Array>, each: (line: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      let start = 0;
      let nl: number;
      while ((nl = buf.indexOf("\n", start)) !== -1) {
        each(buf.slice(start, nl));
        start = nl + 1;
      }
      buf = buf.slice(start);
    }
    buf += decoder.decode();
    if (buf !== "") each(buf);
  }

  /** Wait for the child, then for its last lines; settle the rest. */
  async #reap(proc: Subprocess, out: Promise<void>, err: Promise<void>): Promise<number> {
    const status = await proc.exited;
    // Everything it wrote is in the pipes: read it (a process of its
    // that kept them open must not hold us up).
    await Promise.race([Promise.all([out, err]), Bun.sleep(1000)]);
    this.#status = status;
    if (this.#readyWait && !this.#ready)
      this.#readyWait.reject(new Error(`podrunner serve exited with status ${status} before the worker was ready${this.#diag()}`));
    return status;
  }

  #diag(): string {
    return this.#lastDiag ? `: ${this.#lastDiag}` : "";
  }

  #onStderr(line: string): void {
    if (line.startsWith("podrunner: ") && !line.startsWith("podrunner: warning:")) this.#lastDiag = line;
    if (this.options.onStderr) this.options.onStderr(line);
    else process.stderr.write(line + "\n");
  }

  #onLine(line: string): void {
    let ev: SupervisorEvent;
    try {
      ev = JSON.parse(line);
      if (typeof ev !== "object" || ev === null || Array.isArray(ev) || typeof ev.type !== "string")
        throw new Error('not an object with a string "type"');
    } catch (e) {
      ev = { type: "error", data: `podrunner sent a line that is not an event (${(e as Error).message}): ${line.slice(0, 200)}` };
    }
    this.#track(ev);
    // A snapshot: a callback may unsubscribe itself or others.
    for (const { cb } of [...this.#listeners]) {
      try {
        cb(ev);
      } catch (e) {
        console.error("Supervisor: an event callback threw:", e);
      }
    }
  }

  #track(ev: SupervisorEvent): void {
    if (ev.type === "state" && ev.data?.worker === "exec_start" && typeof ev.id === "number")
      this.#started = Math.max(this.#started, ev.id);
    if (ev.type === "ready") {
      this.#ready = true;
      this.#readyWait?.resolve();
    } else if (ev.type === "policy-loaded") {
      this.#writeActivePolicy(ev.data);
    } else if (typeof ev.id === "number" && this.#results.has(ev.id)) {
      const r = this.#results.get(ev.id)!;
      if (ev.type === "output") {
        if (ev.stream === "stderr") r.stderr += ev.data ?? "";
        else r.stdout += ev.data ?? "";
      } else if (ev.type === "state" && ev.data?.worker === "exception") {
        r.exception = { excType: ev.data.exc_type, traceback: ev.data.traceback };
      } else if (ev.type === "state" && ev.data?.worker === "interrupted") {
        r.interrupted = true;
      } else if (ev.type === "state" && ev.data?.worker === "exec_end") {
        r.exitCode = ev.data.exit_code;
        this.#results.delete(ev.id);
        const end = this.#ends.get(ev.id);
        this.#ends.delete(ev.id);
        end?.resolve(r);
      } else if (ev.type === "error" && ev.id > this.#started) {
        // Refused (too large, stopping...): it will not run.  (One that
        // has started may report an error; its exec_end still comes.)
        this.#results.delete(ev.id);
        const end = this.#ends.get(ev.id);
        this.#ends.delete(ev.id);
        end?.reject(new Error(`submission ${ev.id} refused: ${ev.data}`));
      }
    }
  }

  #writeActivePolicy(policy: unknown): void {
    const o = this.options;
    try {
      if (o.activePolicyPath) writeFileSync(o.activePolicyPath, JSON.stringify(policy, null, 2) + "\n");
      if (o.activePolicyMetaPath)
        writeFileSync(
          o.activePolicyMetaPath,
          JSON.stringify(
            {
              loadedAt: new Date().toISOString(),
              source: this.#policySource,
              workerType: o.workerType,
              sandboxEnabled: o.sandboxEnabled !== false,
              podrunnerPid: this.#proc?.pid,
            },
            null,
            2,
          ) + "\n",
        );
    } catch (e) {
      console.error("Supervisor: writing the active policy:", e);
    }
  }
}
