/**
 * podrunner Bun worker runtime.
 *
 * Run by the pod's bun (the one `make deps` installs, never one from
 * PATH) as
 *
 *     bun --no-install podrunner_worker.js <socket_path> <shm_name> <shm_size>
 *
 * (make bundles this file into build/bun/podrunner_worker.js; bun runs
 * the .ts as well), it runs one user script (TypeScript or JavaScript)
 * as the main module, the way `bun entry.ts args...` would.
 *
 * The protocol is the one worker/python/podrunner_worker.py documents
 * in its docstring, spoken the same way: PODSHM_LIB names libpodshm,
 * which this runtime loads through bun:ffi (and removes from the
 * environment before the script runs); the control socket is a Unix
 * SOCK_SEQPACKET socket, made, connected and read through the C
 * library's socket, connect, send and recv (bun:ffi again: Bun's own
 * sockets do not do SEQPACKET); READY, the "run" frame, the state
 * events exec_start, exception and exec_end, error frames for what it
 * does not understand, DATA and STOP, permission requests FS_READ=1
 * ... SYS=8 and their answers; exit status 70 with one line
 * "podrunner-worker: <reason>" on stderr for a protocol or set-up
 * failure.  Where Bun differs from Python:
 *
 * - The script is imported from its path (the pod has it there,
 *   read-only), so bun transpiles it, import.meta.main is true and its
 *   relative imports resolve as usual; only when the path cannot be
 *   read is the frame's source written to the pod's /tmp and run from
 *   there.  process.argv is [bun, path, args...] and Bun.main is path.
 * - The script is done when the process exits (its event loop is
 *   empty, or process.exit): exec_end is sent from the "exit" event,
 *   with the status bun exits with.  An uncaught exception or unhandled
 *   rejection is printed on stderr as Bun.inspect shows it, sent as the
 *   "exception" event (exc_type, traceback) and ends the script with
 *   status 1, as bun would.
 * - STOP: stdout and stderr are written synchronously by bun; the
 *   runtime exits at once with status 0 (_exit: no events, no "exit"
 *   handlers).
 *
 * Permission hooks
 * ----------------
 * Before the script runs, the runtime wraps Bun's and Node's APIs that
 * a permission governs; from then on they ask the supervisor first and
 * a denial throws (a promise API: rejects; a callback API: calls back
 * with) a PermissionError (code "EACCES", errno -13) with Deno's
 * message:
 *
 *     Requires read access to "/etc/passwd", run again with
 *     --allow-read=/etc/passwd
 *
 * Answers are cached per (type, target) for the life of the process.
 * Targets have the forms the Python runtime's docstring gives (paths
 * absolute with symlinks resolved; "host:port"; a program's real path,
 * or the name when PATH does not find it; a variable name; a library's
 * path; Deno's sys names).  What is asked:
 *
 *   node:fs, node:fs/promises (sync, callback and promise forms)
 *       FS_READ   readFile, open/openSync/promises.open (read flags),
 *                 createReadStream, copyFile/cp (source), access? no
 *       LISTDIR   readdir, opendir
 *       FS_WRITE  writeFile, appendFile, open (w, a, x or + flags,
 *                 O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND),
 *                 createWriteStream, mkdir, mkdtemp, rm, rmdir, unlink,
 *                 rename (both), link, symlink (the link), chmod,
 *                 chown, lchown, utimes, lutimes, truncate, copyFile
 *                 and cp (destination)
 *   Bun.file(path)   FS_READ when its contents are read (text, json,
 *                 arrayBuffer, bytes, stream, slice of it...), FS_WRITE
 *                 for writer() and delete()
 *   Bun.write(dest, data)   FS_WRITE of dest (FS_READ of data when it
 *                 is a file)
 *   fetch(url), WebSocket   NET_CONNECT "host:port" (default port of
 *                 the scheme); a file: URL is FS_READ; a "unix" socket
 *                 is FS_WRITE of its path
 *   node:net, node:tls (Socket.connect, connect), Bun.connect
 *                 NET_CONNECT "host:port", a Unix socket FS_WRITE
 *   node:http, node:https (request, get)   NET_CONNECT "host:port"
 *   listening: Bun.listen, Bun.serve, net.Server.listen, Bun.udpSocket
 *                 NET_CONNECT of the address bound (as Python's bind)
 *   node:dns (lookup, resolve*, promises), Bun.dns.lookup
 *                 NET_CONNECT of the host alone
 *   Bun.spawn, Bun.spawnSync, node:child_process (spawn, exec,
 *   execFile, fork and their Sync forms)
 *                 EXEC of the program: its real path, or the name PATH
 *                 does not find; a rule for the name it was called by
 *                 also counts.  A shell command (exec, shell: true) is
 *                 the shell's (/bin/sh).  Without an env option the
 *                 child gets the environment the script sees (below).
 *   Bun.$        EXEC "sh": Bun's shell runs its commands and built-ins
 *                 (cat, rm, ls...) itself, out of the hooks' sight
 *   process.env  a checking proxy: reading a variable that is set but
 *                 denied throws; iteration, keys, copies and spreads
 *                 show only allowed variables; setting and deleting
 *                 ask ENV
 *   Bun.env, import.meta.env   cannot be replaced: before the script
 *                 starts, every variable set is asked about and the
 *                 denied ones are removed from them (read, they are
 *                 undefined)
 *   bun:ffi      dlopen: FFI of the library's path (a name: where the
 *                 process has it mapped, else LD_LIBRARY_PATH and the
 *                 default directories); cc: FFI of the C source;
 *                 linkSymbols, CFunction: FFI of the bun binary (they
 *                 call into the process itself)
 *   bun:sqlite   Database: FS_READ (readonly) or FS_WRITE of the file
 *   node:os      hostname (hostname), release/version (osRelease),
 *                 uptime (osUptime), loadavg, networkInterfaces,
 *                 totalmem/freemem (systemMemoryInfo), cpus, homedir,
 *                 userInfo (username), getPriority, setPriority
 *   process      getuid/geteuid (uid), getgid/getgroups (gid),
 *                 getegid (getegid); fs.statfs (statfs)
 *
 * The hooks are the friendly layer, not a boundary: they give denials
 * a message and let warn and monitor decisions be logged; the kernel
 * layers (mounts, landlock, seccomp, the network namespace and the
 * proxy) are what enforce.  What they cannot see:
 * - what Bun does natively: module loading (import, require: the
 *   kernel layers decide what exists), Bun.$'s built-ins once the
 *   shell is allowed, Bun.build, Bun.Transpiler, Bun.Glob's scans,
 *   Bun.mmap, fs.watch, fs.stat/exists/access and other metadata calls,
 *   operations on file descriptors already open;
 * - Worker threads (new Worker, node:worker_threads): they run without
 *   the hooks;
 * - UDP sends (Bun.udpSocket's send, node:dgram) to an address other
 *   than the one asked about when the socket was made;
 * - bun:ffi's read, ptr and toArrayBuffer: memory of the process
 *   itself; and anything that reaches the originals (through a library
 *   loaded before the hooks, or Bun internals that do not go through
 *   the wrapped objects).
 */

const { dlopen: ffiDlopen, FFIType, ptr: ffiPtr, read: ffiRead,
    toArrayBuffer: ffiToArrayBuffer } = require("bun:ffi");

const EX_SOFTWARE = 70;
const PODSHM_WORKER = 0;

// Requests, worker -> supervisor.
export const FS_READ = 1;
export const FS_WRITE = 2;
export const NET_CONNECT = 3;
export const EXEC = 4;
export const LISTDIR = 5;
export const ENV = 6;
export const FFI = 7;
export const SYS = 8;

const DENY = 0;
const ALLOW = 1;
const WARN = 2;
const NOTE_DATA = 0x10;
const NOTE_STOP = 0x11;

const READY = "READY\n";
const SEND_TIMEOUT_MS = 2000;
const TARGET_MAX = 4096;
const RID_SPAN = 0x7fffffff;
const CACHE_MAX = 65536;
const MAX_IN_FLIGHT = 8;	// requests at once (the socket queues 10)

const EAGAIN = 11;
const EINTR = 4;
const EPROTO = 71;

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;

class ProtocolError extends Error {}

// --- the C library and libpodshm, through bun:ffi ---------------------------

const { i32, u32, u64, ptr: P, cstring, void: VOID } = FFIType;
const libc = ffiDlopen("libc.so.6", {
	socket: { args: [i32, i32, i32], returns: i32 },
	connect: { args: [i32, P, u32], returns: i32 },
	send: { args: [i32, P, u64, i32], returns: FFIType.i64 },
	recv: { args: [i32, P, u64, i32], returns: FFIType.i64 },
	write: { args: [i32, P, u64], returns: FFIType.i64 },
	unsetenv: { args: [P], returns: i32 },
	strerror: { args: [i32], returns: cstring },
	__errno_location: { args: [], returns: P },
	_exit: { args: [i32], returns: VOID },
}).symbols;

// errno of this (the only JS) thread.
const errnoCell = new Int32Array(ffiToArrayBuffer(libc.__errno_location(), 0, 4));

function strerror(e: number): string {
	return String(libc.strerror(e));
}

function cstr(s: string): Buffer {
	return Buffer.from(s + "\0", "utf8");
}

function rawWrite(fd: number, text: string): void {
	const b = Buffer.from(text, "utf8");
	let off = 0;
	while (off < b.length) {
		const n = Number(libc.write(fd, ffiPtr(b, off), b.length - off));
		if (n <= 0) {
			if (n < 0 && errnoCell[0] === EINTR)
				continue;
			return;
		}
		off += n;
	}
}

function die(reason: unknown): never {
	const msg = reason instanceof Error ? reason.message : String(reason);
	rawWrite(2, `podrunner-worker: ${msg}\n`);
	libc._exit(EX_SOFTWARE);
	throw new Error("unreachable");
}

function warn(msg: string): void {
	rawWrite(2, `podrunner-worker: warning: ${msg}\n`);
}

class Ring {
	private lib: any;
	private shm: number;
	maxFrame: number;

	constructor(libpath: string, name: string, size: number) {
		let lib;
		try {
			lib = ffiDlopen(libpath, {
				podshm_open: { args: [P, u64, i32], returns: P },
				podshm_max_frame: { args: [P], returns: u64 },
				podshm_send: { args: [P, P, u64], returns: i32 },
				podshm_recv: { args: [P, P, u64], returns: FFIType.i64 },
				podshm_peek_len: { args: [P], returns: FFIType.i64 },
			}).symbols;
		} catch (e: any) {
			die(`loading ${libpath}: ${e?.message ?? e}`);
		}
		this.lib = lib;
		errnoCell[0] = 0;
		const shm = lib.podshm_open(cstr(name), size, PODSHM_WORKER);
		if (!shm) {
			const e = errnoCell[0];
			die(`opening shared memory ${name} (${size} bytes): ${strerror(e)}`);
		}
		this.shm = shm;
		this.maxFrame = Number(lib.podshm_max_frame(shm));
	}

	/** true if sent, false if the ring is full; throws otherwise. */
	send(data: Uint8Array): boolean {
		errnoCell[0] = 0;
		const buf = data.length ? data : new Uint8Array(1);
		if (this.lib.podshm_send(this.shm, ffiPtr(buf), data.length) === 0)
			return true;
		const e = errnoCell[0];
		if (e === EAGAIN)
			return false;
		if (e === EPROTO)
			throw new ProtocolError("worker->supervisor ring is corrupt");
		throw new ProtocolError(`writing the ring: ${strerror(e)}`);
	}

	/** The next frame, or null if the ring is empty. */
	recv(): Buffer | null {
		errnoCell[0] = 0;
		let n = Number(this.lib.podshm_peek_len(this.shm));
		if (n >= 0) {
			const buf = Buffer.alloc(Math.max(n, 1));
			errnoCell[0] = 0;
			n = Number(this.lib.podshm_recv(this.shm, ffiPtr(buf), buf.length));
			if (n >= 0)
				return buf.subarray(0, n);
		}
		const e = errnoCell[0];
		if (e === EAGAIN)
			return null;
		if (e === EPROTO)
			throw new ProtocolError("supervisor->worker ring is corrupt " +
			    "(bad index or frame length)");
		throw new ProtocolError(`reading the ring: ${strerror(e)}`);
	}
}

// --- the control socket ------------------------------------------------------

class Control {
	fd: number;
	private msg = Buffer.alloc(64);

	constructor(path: string) {
		const fd = libc.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die(`socket: ${strerror(errnoCell[0])}`);
		const p = Buffer.from(path, "utf8");
		if (p.length >= 108)
			die(`connecting to ${path}: path too long`);
		const sun = Buffer.alloc(110);
		sun.writeUInt16LE(AF_UNIX, 0);
		p.copy(sun, 2);
		for (;;) {
			errnoCell[0] = 0;
			if (libc.connect(fd, ffiPtr(sun), 2 + p.length + 1) === 0)
				break;
			if (errnoCell[0] !== EINTR)
				die(`connecting to ${path}: ${strerror(errnoCell[0])}`);
		}
		this.fd = fd;
	}

	/** Send one message; false (errno in .err) if it could not. */
	send(data: Uint8Array, flags = 0): boolean {
		for (;;) {
			errnoCell[0] = 0;
			const n = Number(libc.send(this.fd, ffiPtr(data), data.length,
			    flags | MSG_NOSIGNAL));
			if (n === data.length)
				return true;
			const e = errnoCell[0];
			if (n < 0 && e === EINTR)
				continue;
			this.err = n < 0 ? e : 0;
			return false;
		}
	}

	err = 0;

	/** One message from the supervisor: [code, req_id]. */
	recv(): [number, number] {
		let n;
		for (;;) {
			errnoCell[0] = 0;
			n = Number(libc.recv(this.fd, ffiPtr(this.msg), this.msg.length, 0));
			if (n >= 0 || errnoCell[0] !== EINTR)
				break;
		}
		if (n < 0)
			throw new ProtocolError(`control socket: ${strerror(errnoCell[0])}`);
		if (n === 0)
			throw new ProtocolError("control socket closed by the supervisor");
		if (n !== 5)
			throw new ProtocolError(`control message of ${n} bytes, want 5`);
		const code = this.msg[0], rid = this.msg.readUInt32LE(1);
		if (code === DENY || code === ALLOW || code === WARN)
			return [code, rid];
		if ((code === NOTE_DATA || code === NOTE_STOP) && rid === 0)
			return [code, rid];
		throw new ProtocolError(`control message with code 0x${
		    code.toString(16).padStart(2, "0")}`);
	}
}

// --- protocol state ------------------------------------------------------------

const encoder = new TextEncoder();

class Worker {
	ring: Ring;
	ctl: Control;
	running = false;
	inbox: any[] = [];
	private nextId = 0;

	constructor(ring: Ring, ctl: Control) {
		this.ring = ring;
		this.ctl = ctl;
	}

	dispatchNote(code: number): void {
		if (code === NOTE_STOP)
			libc._exit(0);
		this.drain();
	}

	notifyData(): boolean {
		const note = Buffer.from([NOTE_DATA, 0, 0, 0, 0]);
		const deadline = Date.now() + SEND_TIMEOUT_MS;
		for (;;) {
			if (this.ctl.send(note, MSG_DONTWAIT))
				return true;
			if (this.ctl.err === EAGAIN) {
				if (Date.now() > deadline) {
					warn("control socket full, DATA notification dropped");
					return false;
				}
				Bun.sleepSync(1);
				continue;
			}
			if (!this.running)
				throw new ProtocolError(`control socket: ${strerror(this.ctl.err)}`);
			warn(`control socket: ${strerror(this.ctl.err)}`);
			return false;
		}
	}

	sendFrame(obj: any): boolean {
		let data = encoder.encode(JSON.stringify(obj));
		if (data.length > this.ring.maxFrame) {
			const size = data.length;
			const shrunk = this.shrink(obj);
			if (shrunk === null) {
				warn(`frame of ${size} bytes does not fit the ring, dropped`);
				return false;
			}
			data = shrunk;
		}
		const deadline = Date.now() + SEND_TIMEOUT_MS;
		while (!this.ring.send(data)) {
			if (Date.now() > deadline) {
				warn(`ring full for ${SEND_TIMEOUT_MS / 1000} s, ${obj.type} frame dropped`);
				return false;
			}
			Bun.sleepSync(1);
		}
		return this.notifyData();
	}

	/** Cut the longest string member, keeping its end, until it fits. */
	private shrink(obj: any): Uint8Array | null {
		obj = { ...obj };
		const keys = Object.keys(obj).filter((k) => typeof obj[k] === "string");
		if (keys.length === 0)
			return null;
		const key = keys.reduce((a, b) => obj[a].length >= obj[b].length ? a : b);
		obj.truncated = true;
		let text: string = obj[key];
		while (text) {
			text = text.length > 64 ? text.slice(Math.floor(text.length / 2)) : "";
			obj[key] = "..." + text;
			const data = encoder.encode(JSON.stringify(obj));
			if (data.length <= this.ring.maxFrame)
				return data;
		}
		return null;
	}

	drain(): void {
		for (;;) {
			const raw = this.ring.recv();
			if (raw === null)
				return;
			let obj;
			try {
				obj = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
			} catch {
				this.sendFrame({ type: "error", data: "frame is not UTF-8 JSON" });
				continue;
			}
			if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
				this.sendFrame({ type: "error", data: "frame is not a JSON object" });
				continue;
			}
			if (obj.type === "run" && !this.running)
				this.inbox.push(obj);
			else if (obj.type === "run")
				this.sendFrame({ type: "error", data: "a script is already running" });
			else
				this.sendFrame({ type: "error", data:
				    `unknown frame type ${pyRepr(obj.type)}` });
		}
	}

	waitRun(): any {
		while (this.inbox.length === 0) {
			const [code, rid] = this.ctl.recv();
			if ((code === NOTE_DATA || code === NOTE_STOP) && rid === 0)
				this.dispatchNote(code);
			else
				throw new ProtocolError(`decision for request ${rid}, none asked`);
		}
		return this.inbox.shift();
	}

	/** Ask the supervisor; DENY, ALLOW or WARN. */
	check(rtype: number, payload: Buffer): number {
		return this.checkMany([[rtype, payload]])[0];
	}

	/** Several questions at once, MAX_IN_FLIGHT in flight at most: one
	 * round trip's wait instead of one each.  The answers, in order. */
	checkMany(qs: [number, Buffer][]): number[] {
		const answers: number[] = new Array(qs.length);
		const pending = new Map<number, number>();	// rid -> index
		let next = 0;
		while (next < qs.length || pending.size > 0) {
			while (next < qs.length && pending.size < MAX_IN_FLIGHT) {
				const [rtype, payload] = qs[next];
				const rid = (this.nextId++ % RID_SPAN) + 1;
				const msg = Buffer.alloc(5 + payload.length);
				msg[0] = rtype;
				msg.writeUInt32LE(rid, 1);
				payload.copy(msg, 5);
				if (!this.ctl.send(msg))
					throw new ProtocolError("control socket: " +
					    strerror(this.ctl.err));
				pending.set(rid, next++);
			}
			const [code, got] = this.ctl.recv();
			if ((code === NOTE_DATA || code === NOTE_STOP) && got === 0) {
				this.dispatchNote(code);
			} else if (pending.has(got)) {
				answers[pending.get(got)!] = code;
				pending.delete(got);
			}
			// Anything else answers nothing we wait for: dropped.
		}
		return answers;
	}
}

/** Python's repr() of a JSON value, for error texts shared with it. */
function pyRepr(v: any): string {
	if (v === undefined || v === null)
		return "None";
	if (typeof v === "string")
		return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
	if (typeof v === "boolean")
		return v ? "True" : "False";
	return JSON.stringify(v);
}

// --- permission hooks ------------------------------------------------------------

const KIND_WORD: Record<number, string> = {
	[FS_READ]: "read", [FS_WRITE]: "write", [NET_CONNECT]: "net",
	[EXEC]: "run", [LISTDIR]: "read", [ENV]: "env", [FFI]: "ffi",
	[SYS]: "sys",
};

export class PermissionError extends Error {
	code = "EACCES";
	errno = -13;
	constructor(message: string) {
		super(message);
		this.name = "PermissionError";
	}
}

function denial(rtype: number, target: string, from?: Function): PermissionError {
	const word = KIND_WORD[rtype];
	const e = new PermissionError(`Requires ${word} access to "${target}", ` +
	    `run again with --allow-${word}=${target}`);
	// The script's stack: the hook's own frames left out.
	if (from && typeof (Error as any).captureStackTrace === "function")
		(Error as any).captureStackTrace(e, from);
	return e;
}

// Originals the hooks use themselves, taken before anything is wrapped.
const nodeFs = require("node:fs");
const nodePath = require("node:path");
const nodeOs = require("node:os");
const realpathSync: (p: string) => string = nodeFs.realpathSync.native ??
    nodeFs.realpathSync;
const readFileSyncOrig = nodeFs.readFileSync;
const statSyncOrig = nodeFs.statSync;
const accessSyncOrig = nodeFs.accessSync;
const whichOrig = Bun.which;
const processCwd = process.cwd.bind(process);

class Guard {
	worker: Worker;
	cache = new Map<string, boolean>();

	constructor(w: Worker) {
		this.worker = w;
	}

	allowed(rtype: number, target: string): boolean {
		const key = `${rtype}\0${target}`;
		let ok = this.cache.get(key);
		if (ok === undefined) {
			const payload = Buffer.from(target, "utf8");
			if (payload.length === 0 || payload.length > TARGET_MAX ||
			    payload.includes(0))
				return false;	// cannot be asked: never allowed
			try {
				ok = this.worker.check(rtype, payload) !== DENY;
			} catch (e) {
				die(e);
			}
			if (this.cache.size >= CACHE_MAX)
				this.cache.clear();
			this.cache.set(key, ok);
		}
		return ok;
	}

	/** Ask about several targets of one type at once (answers cached). */
	prefetch(rtype: number, targets: string[]): void {
		const todo = targets.filter((t) => {
			const b = Buffer.byteLength(t);
			return !this.cache.has(`${rtype}\0${t}`) && b > 0 &&
			    b <= TARGET_MAX && !t.includes("\0");
		});
		if (todo.length === 0)
			return;
		let got: number[];
		try {
			got = this.worker.checkMany(todo.map((t) =>
			    [rtype, Buffer.from(t, "utf8")]));
		} catch (e) {
			die(e);
		}
		if (this.cache.size + todo.length >= CACHE_MAX)
			this.cache.clear();
		todo.forEach((t, i) => this.cache.set(`${rtype}\0${t}`,
		    got[i] !== DENY));
	}

	require(rtype: number, target: string, shown?: string, from?: Function): void {
		if (!this.allowed(rtype, target))
			throw denial(rtype, shown ?? target, from ?? this.require);
	}
}

let guard: Guard;

// --- targets -----------------------------------------------------------------------

/** A path argument as a string; null for an fd, undefined, or not a path. */
function fsPath(p: any): string | null {
	if (p === undefined || p === null || typeof p === "number")
		return null;
	if (typeof p === "string")
		return p;
	if (p instanceof URL)
		return p.protocol === "file:" ? Bun.fileURLToPath(p) : null;
	if (p instanceof Uint8Array)
		return Buffer.from(p).toString("utf8");
	return null;
}

function absolute(p: string, cwd?: string): string {
	if (nodePath.isAbsolute(p))
		return nodePath.normalize(p);
	let base: string;
	try {
		base = cwd ? absolute(String(cwd)) : processCwd();
	} catch {
		base = "/";
	}
	return nodePath.resolve(base, p);
}

/** os.path.realpath: the part that exists resolved, the rest appended. */
function realpath(p: string): string {
	try {
		return realpathSync(p);
	} catch {
		const dir = nodePath.dirname(p);
		if (dir === p)
			return p;
		return nodePath.join(realpath(dir), nodePath.basename(p));
	}
}

/** A file target: absolute, symlinks resolved (follow false: not the last
 * component, which unlink, rename, symlink... act on). */
function resolvePath(p: string, follow = true): string {
	p = absolute(p);
	if (follow)
		return realpath(p);
	const tail = nodePath.basename(p);
	if (!tail)
		return realpath(p);
	return nodePath.join(realpath(nodePath.dirname(p)), tail);
}

function askPath(rtype: number, p: any, follow = true, from?: Function): void {
	const s = fsPath(p);
	if (s !== null)
		guard.require(rtype, resolvePath(s, follow), undefined, from);
}

/** A host as policyd matches it: lower case, IPv6 short, no brackets. */
function normHost(host: any): string {
	let h = String(host ?? "").trim().toLowerCase();
	if (h.startsWith("[") && h.endsWith("]"))
		h = h.slice(1, -1);
	if (h === "")
		return "0.0.0.0";
	if (h.includes(":")) {
		h = h.split("%")[0];
		try {
			// URL's own IPv6 serialiser gives the short form.
			h = new URL(`http://[${h}]/`).hostname.slice(1, -1);
		} catch {}
		return h;
	}
	try {
		if (!/^[\x00-\x7f]*$/.test(h))
			h = new URL(`http://${h}/`).hostname;
	} catch {}
	return h;
}

function netTarget(host: any, port: any): string {
	let h = normHost(host);
	const n = Number(port);
	if (h.includes(":"))
		h = `[${h}]`;
	return Number.isInteger(n) && n > 0 && n < 65536 ? `${h}:${n}` : h;
}

function askNet(host: any, port: any, from?: Function): void {
	guard.require(NET_CONNECT, netTarget(host, port), undefined, from);
}

const DEFAULT_PORT: Record<string, number> = {
	"http:": 80, "https:": 443, "ws:": 80, "wss:": 443,
};

function askUrl(u: URL, from?: Function): void {
	if (u.protocol === "file:") {
		guard.require(FS_READ, resolvePath(Bun.fileURLToPath(u)), undefined, from);
		return;
	}
	if (!(u.protocol in DEFAULT_PORT))
		return;		// data:, blob: and the like: nothing to reach
	askNet(u.hostname, u.port || DEFAULT_PORT[u.protocol], from);
}

/** A program: its real path (a name: the file PATH finds), and the name
 * it is called by when that differs (python3 -> python3.11). */
function askProgram(prog: any, opts: any, from?: Function): void {
	const p = fsPath(prog);
	if (p === null || p === "")
		return;
	const cwd = opts?.cwd !== undefined ? String(opts.cwd) : undefined;
	if (p.includes("/")) {
		const abs = absolute(p, cwd);
		askExecutable(abs, abs, from);
		return;
	}
	const env = opts?.env;
	const PATH = env && typeof env === "object" && "PATH" in env ?
	    String(env.PATH) : process.env.PATH;
	let found: string | null = null;
	try {
		found = whichOrig(p, { PATH: PATH ?? "/usr/local/bin:/usr/bin:/bin",
		    cwd: cwd ?? processCwd() });
	} catch {}
	if (found === null)
		guard.require(EXEC, p, undefined, from);
	else
		askExecutable(found, p, from);
}

function askExecutable(path: string, shown: string, from?: Function): void {
	const real = realpath(path);
	if (guard.allowed(EXEC, real))
		return;
	const norm = nodePath.normalize(path);
	if (nodePath.basename(norm) !== nodePath.basename(real) &&
	    guard.allowed(EXEC, norm))
		return;
	throw denial(EXEC, shown, from);
}

/** The absolute path dlopen(name) loads, when it can be told. */
function libraryPath(name: string): string {
	if (name.includes("/"))
		return realpath(absolute(name));
	let maps = "";
	try {
		maps = String(readFileSyncOrig("/proc/self/maps", "utf8"));
	} catch {}
	for (const line of maps.split("\n")) {
		const i = line.indexOf("/");
		if (i > 0) {
			const file = line.slice(i);
			if (nodePath.basename(file) === name)
				return realpath(file);
		}
	}
	const dirs = (process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean);
	dirs.push("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	    "/lib64", "/usr/lib64", "/lib", "/usr/lib");
	for (const d of dirs) {
		const cand = nodePath.join(d, name);
		try {
			if (statSyncOrig(cand).isFile())
				return realpath(cand);
		} catch {}
	}
	return name;
}

// --- wrapping ----------------------------------------------------------------------

type Asker = (args: any[], from: Function) => void;

function setFn(obj: any, name: string, fn: Function): void {
	try {
		Object.defineProperty(fn, "name", { value: name });
	} catch {}
	try {
		obj[name] = fn;
	} catch {}
	if (obj[name] !== fn) {
		try {
			Object.defineProperty(obj, name, { value: fn, writable: true,
			    configurable: true, enumerable: true });
		} catch {}
	}
}

/** A synchronous function that asks first (a denial throws). */
function wrapSync(obj: any, name: string, ask: Asker): void {
	const orig = obj?.[name];
	if (typeof orig !== "function")
		return;
	const w = function (this: any, ...args: any[]) {
		ask(args, w);
		return orig.apply(this, args);
	};
	setFn(obj, name, w);
}

/** A function returning a promise: a denial rejects it. */
function wrapPromise(obj: any, name: string, ask: Asker): void {
	const orig = obj?.[name];
	if (typeof orig !== "function")
		return;
	const w = function (this: any, ...args: any[]) {
		try {
			ask(args, w);
		} catch (e) {
			return Promise.reject(e);
		}
		return orig.apply(this, args);
	};
	setFn(obj, name, w);
}

/** A Node callback API: a denial is passed to the callback. */
function wrapCallback(obj: any, name: string, ask: Asker): void {
	const orig = obj?.[name];
	if (typeof orig !== "function")
		return;
	const w = function (this: any, ...args: any[]) {
		try {
			ask(args, w);
		} catch (e) {
			const cb = args[args.length - 1];
			if (typeof cb !== "function")
				throw e;
			process.nextTick(cb, e);
			return undefined;
		}
		return orig.apply(this, args);
	};
	setFn(obj, name, w);
}

/** The fs family in its three forms: fs.x (callback), fs.xSync,
 * fs.promises.x. */
function wrapFs(fs: any, name: string, ask: Asker): void {
	wrapCallback(fs, name, ask);
	wrapSync(fs, name + "Sync", ask);
	wrapPromise(fs.promises, name, ask);
}

const O_WRITE = (() => {
	const c = nodeFs.constants;
	return c.O_WRONLY | c.O_RDWR | c.O_CREAT | c.O_TRUNC | c.O_APPEND;
})();

function openKind(flags: any): number {
	if (flags === undefined || flags === null)
		return FS_READ;
	if (typeof flags === "number")
		return flags & O_WRITE ? FS_WRITE : FS_READ;
	return /[wax+]/.test(String(flags)) ? FS_WRITE : FS_READ;
}

function flagOf(opts: any, dflt: string): any {
	if (opts && typeof opts === "object" && "flag" in opts)
		return opts.flag;
	return dflt;
}

function installFs(): void {
	const fs = nodeFs;
	const path0 = (rtype: number, follow = true): Asker =>
	    (a, f) => askPath(rtype, a[0], follow, f);
	wrapFs(fs, "readFile", (a, f) => askPath(openKind(flagOf(a[1], "r")), a[0], true, f));
	wrapFs(fs, "writeFile", (a, f) => askPath(openKind(flagOf(a[2], "w")), a[0], true, f));
	wrapFs(fs, "appendFile", (a, f) => askPath(FS_WRITE, a[0], true, f));
	wrapFs(fs, "open", (a, f) => askPath(openKind(a[1]), a[0], true, f));
	wrapFs(fs, "readdir", path0(LISTDIR));
	wrapFs(fs, "opendir", path0(LISTDIR));
	wrapFs(fs, "mkdir", path0(FS_WRITE, false));
	wrapFs(fs, "mkdtemp", (a, f) => askPath(FS_WRITE, String(a[0] ?? "") + "XXXXXX", false, f));
	wrapFs(fs, "rm", path0(FS_WRITE, false));
	wrapFs(fs, "rmdir", path0(FS_WRITE, false));
	wrapFs(fs, "unlink", path0(FS_WRITE, false));
	wrapFs(fs, "rename", (a, f) => {
		askPath(FS_WRITE, a[0], false, f);
		askPath(FS_WRITE, a[1], false, f);
	});
	wrapFs(fs, "link", (a, f) => {
		askPath(FS_WRITE, a[0], true, f);
		askPath(FS_WRITE, a[1], false, f);
	});
	wrapFs(fs, "symlink", (a, f) => askPath(FS_WRITE, a[1], false, f));
	for (const n of ["chmod", "chown", "utimes", "truncate"])
		wrapFs(fs, n, path0(FS_WRITE));
	for (const n of ["lchmod", "lchown", "lutimes"])
		wrapFs(fs, n, path0(FS_WRITE, false));
	for (const n of ["copyFile", "cp"])
		wrapFs(fs, n, (a, f) => {
			askPath(FS_READ, a[0], true, f);
			askPath(FS_WRITE, a[1], true, f);
		});
	wrapFs(fs, "statfs", (a, f) => guard.require(SYS, "statfs", undefined, f));
	wrapSync(fs, "createReadStream", (a, f) => askPath(FS_READ, a[0], true, f));
	wrapSync(fs, "createWriteStream", (a, f) =>
	    askPath(openKind(flagOf(a[1], "w")), a[0], true, f));
}

// Blobs read from a file: Bun.file(path) and the slices of one.
const filePaths = new WeakMap<object, string>();

function installBunFile(): void {
	const origFile = Bun.file;
	const wrapped = function (this: any, ...args: any[]) {
		const f = origFile.apply(Bun, args);
		const p = fsPath(args[0]);
		if (p !== null)
			filePaths.set(f, resolvePath(p));
		return f;
	};
	setFn(Bun, "file", wrapped);

	const proto = Object.getPrototypeOf(origFile("/"));
	const readers = ["text", "json", "arrayBuffer", "bytes", "formData",
	    "stream", "blob"];
	for (const n of readers) {
		const orig = proto[n];
		if (typeof orig !== "function")
			continue;
		const w = function (this: any, ...args: any[]) {
			const p = filePaths.get(this);
			if (p !== undefined) {
				try {
					guard.require(FS_READ, p, undefined, w);
				} catch (e) {
					if (n === "stream")
						throw e;
					return Promise.reject(e);
				}
			}
			return orig.apply(this, args);
		};
		setFn(proto, n, w);
	}
	const slice = proto.slice;
	if (typeof slice === "function")
		setFn(proto, "slice", function (this: any, ...args: any[]) {
			const s = slice.apply(this, args);
			const p = filePaths.get(this);
			if (p !== undefined)
				filePaths.set(s, p);
			return s;
		});
	for (const n of ["writer", "delete", "unlink", "write"]) {
		const orig = proto[n];
		if (typeof orig !== "function")
			continue;
		const sync = n === "writer";
		const w = function (this: any, ...args: any[]) {
			const p = filePaths.get(this);
			if (p !== undefined) {
				try {
					guard.require(FS_WRITE, p, undefined, w);
				} catch (e) {
					if (sync)
						throw e;
					return Promise.reject(e);
				}
			}
			return orig.apply(this, args);
		};
		setFn(proto, n, w);
	}

	wrapPromise(Bun, "write", (a, f) => {
		const dest = a[0];
		const p = filePaths.get(dest) ?? (typeof dest === "object" &&
		    dest !== null && !(dest instanceof URL) ? null : fsPath(dest));
		if (p !== null && p !== undefined)
			guard.require(FS_WRITE, filePaths.has(dest) ? p :
			    resolvePath(p), undefined, f);
		const src = a[1];
		if (src && typeof src === "object" && filePaths.has(src))
			guard.require(FS_READ, filePaths.get(src)!, undefined, f);
	});
}

function installNet(): void {
	// fetch and WebSocket
	wrapPromise(globalThis, "fetch", (a, f) => {
		const input = a[0], init = a[1];
		let url: URL;
		try {
			url = new URL(typeof input === "object" && input !== null &&
			    "url" in input ? input.url : String(input));
		} catch {
			return;		// fetch itself rejects it
		}
		if (init && typeof init === "object" && init.unix)
			guard.require(FS_WRITE, resolvePath(String(init.unix)), undefined, f);
		else
			askUrl(url, f);
	});
	Object.assign(globalThis.fetch, { preconnect: (fetch as any).preconnect });
	const WS = (globalThis as any).WebSocket;
	if (typeof WS === "function") {
		const Hooked = new Proxy(WS, {
			construct(target, args, nt) {
				try {
					askUrl(new URL(String(args[0])), Hooked);
				} catch (e) {
					if (e instanceof PermissionError)
						throw e;
				}
				return Reflect.construct(target, args, nt);
			},
		});
		(globalThis as any).WebSocket = Hooked;
	}

	// Bun's own sockets
	const askSockOpts = (o: any, f: Function, dflt = "localhost") => {
		if (!o || typeof o !== "object")
			return;
		if (o.unix != null)
			guard.require(FS_WRITE, resolvePath(String(o.unix)), undefined, f);
		else
			askNet(o.hostname ?? dflt, o.port, f);
	};
	wrapPromise(Bun, "connect", (a, f) => askSockOpts(a[0], f));
	wrapSync(Bun, "listen", (a, f) => askSockOpts(a[0], f, "0.0.0.0"));
	wrapSync(Bun, "serve", (a, f) => {
		const o = a[0] ?? {};
		if (o.unix != null)
			guard.require(FS_WRITE, resolvePath(String(o.unix)), undefined, f);
		else
			askNet(o.hostname ?? "0.0.0.0", o.port ?? 3000, f);
	});
	wrapPromise(Bun, "udpSocket", (a, f) => {
		const o = a[0] ?? {};
		askNet(o.hostname ?? "0.0.0.0", o.port ?? 0, f);
		if (o.connect)
			askNet(o.connect.hostname, o.connect.port, f);
	});

	// node:net and node:tls
	const net = require("node:net");
	const connectArgs = (a: any[], f: Function) => {
		let o = a[0];
		if (Array.isArray(o))
			o = o[0];	// the internal normalised form
		if (o && typeof o === "object") {
			if (o.path != null)
				guard.require(FS_WRITE, resolvePath(String(o.path)), undefined, f);
			else
				askNet(o.host ?? o.hostname ?? "localhost", o.port, f);
		} else if (typeof o === "string" && !/^\d+$/.test(o)) {
			guard.require(FS_WRITE, resolvePath(o), undefined, f);
		} else if (o !== undefined) {
			askNet(typeof a[1] === "string" ? a[1] : "localhost", o, f);
		}
	};
	wrapSync(net.Socket?.prototype, "connect", connectArgs);
	wrapSync(net, "connect", connectArgs);
	wrapSync(net, "createConnection", connectArgs);
	wrapSync(net.Server?.prototype, "listen", (a, f) => {
		const o = a[0];
		if (o && typeof o === "object" && !("fd" in o) && !("_handle" in o)) {
			if (o.path != null)
				guard.require(FS_WRITE, resolvePath(String(o.path)), undefined, f);
			else
				askNet(o.host ?? "0.0.0.0", o.port ?? 0, f);
		} else if (typeof o === "string" && !/^\d+$/.test(o)) {
			guard.require(FS_WRITE, resolvePath(o), undefined, f);
		} else if (typeof o === "number" || typeof o === "string") {
			askNet(typeof a[1] === "string" ? a[1] : "0.0.0.0", o, f);
		}
	});
	const tls = require("node:tls");
	wrapSync(tls, "connect", (a, f) => {
		const o = a[0];
		if (o && typeof o === "object")
			askNet(o.host ?? o.servername ?? "localhost", o.port, f);
		else if (o !== undefined)
			askNet(typeof a[1] === "string" ? a[1] : "localhost", o, f);
	});

	// node:http and node:https
	for (const [mod, scheme] of [["node:http", "http:"], ["node:https", "https:"]]) {
		const http = require(mod);
		const ask: Asker = (a, f) => {
			let o = a[0];
			if (typeof o === "string" || o instanceof URL) {
				let u: URL;
				try {
					u = new URL(String(o));
				} catch {
					return;
				}
				askUrl(u, f);
				return;
			}
			if (!o || typeof o !== "object")
				o = typeof a[1] === "object" ? a[1] : {};
			if (o.socketPath != null) {
				guard.require(FS_WRITE, resolvePath(String(o.socketPath)), undefined, f);
				return;
			}
			let host = o.hostname ?? o.host ?? "localhost";
			let port = o.port;
			const m = /^(.*):(\d+)$/.exec(String(host));
			if (o.hostname === undefined && m && !String(host).includes("]")) {
				host = m[1];
				port = port ?? m[2];
			}
			askNet(host, port ?? (o.protocol === "https:" ? 443 :
			    o.protocol === "http:" ? 80 : DEFAULT_PORT[scheme]), f);
		};
		wrapSync(http, "request", ask);
		wrapSync(http, "get", ask);
	}

	// name resolution: the host alone
	const dns = require("node:dns");
	const lookups = ["lookup", "resolve", "resolve4", "resolve6", "resolveAny",
	    "resolveCname", "resolveMx", "resolveNs", "resolveTxt", "resolveSrv",
	    "resolvePtr", "resolveNaptr", "resolveSoa", "reverse", "lookupService"];
	for (const n of lookups) {
		const ask: Asker = (a, f) => n === "lookupService" ?
		    askNet(a[0], a[1], f) : askNet(a[0], 0, f);
		wrapCallback(dns, n, ask);
		wrapPromise(dns.promises, n, ask);
	}
	if (Bun.dns)
		wrapPromise(Bun.dns, "lookup", (a, f) => askNet(a[0], 0, f));
}

function installProcess(): void {
	// Bun.spawn / spawnSync: the first form is (cmd[], opts), the second
	// ({ cmd, ...opts }).
	const askSpawn: Asker = (a, f) => {
		const o = Array.isArray(a[0]) ? a[1] : a[0];
		const cmd = Array.isArray(a[0]) ? a[0] : a[0]?.cmd;
		if (Array.isArray(cmd) && cmd.length > 0)
			askProgram(cmd[0], o, f);
	};
	for (const n of ["spawn", "spawnSync"]) {
		const orig = (Bun as any)[n];
		const w = function (this: any, ...args: any[]) {
			askSpawn(args, w);
			// No env given: the environment the script sees, not
			// bun's own copy of the process's.
			if (Array.isArray(args[0])) {
				if (!args[1] || typeof args[1] !== "object")
					args[1] = {};
				if (!("env" in args[1]))
					args[1] = { ...args[1], env: { ...process.env } };
			} else if (args[0] && typeof args[0] === "object" &&
			    !("env" in args[0])) {
				args[0] = { ...args[0], env: { ...process.env } };
			}
			return orig.apply(Bun, args);
		};
		setFn(Bun, n, w);
	}
	// Bun's shell runs its built-ins and commands natively.
	const shell = (Bun as any).$;
	if (typeof shell === "function") {
		const hooked = new Proxy(shell, {
			apply(target, self, args) {
				askExecutable("/bin/sh", "sh", hooked);
				return Reflect.apply(target, self, args);
			},
		});
		(Bun as any).$ = hooked;
	}

	const cp = require("node:child_process");
	const shellOf = (o: any) => typeof o?.shell === "string" ? o.shell : "/bin/sh";
	// spawn(cmd, args?, opts?), execFile(file, args?, opts?, cb?)
	const askFile: Asker = (a, f) => {
		const o = Array.isArray(a[1]) ? a[2] : a[1];
		if (o && typeof o === "object" && o.shell)
			askProgram(shellOf(o), o, f);
		else
			askProgram(a[0], o, f);
	};
	// exec(command, opts?, cb?): always a shell
	const askShell: Asker = (a, f) => {
		const o = typeof a[1] === "object" ? a[1] : undefined;
		askProgram(shellOf(o), o, f);
	};
	wrapSync(cp, "spawn", askFile);
	wrapSync(cp, "spawnSync", askFile);
	wrapSync(cp, "execFileSync", askFile);
	wrapCallback(cp, "execFile", askFile);
	wrapSync(cp, "execSync", askShell);
	wrapCallback(cp, "exec", askShell);
	wrapSync(cp, "fork", (a, f) => {
		const o = Array.isArray(a[1]) ? a[2] : a[1];
		askProgram(o?.execPath ?? process.execPath, o, f);
	});
}

function installFfi(): void {
	const ffi = require("bun:ffi");
	const self = () => realpath(process.execPath);
	wrapSync(ffi, "dlopen", (a, f) => {
		const p = fsPath(a[0]) ?? (a[0] === undefined || a[0] === null ?
		    null : String(a[0]));
		guard.require(FFI, p === null || p === "" ? self() : libraryPath(p),
		    undefined, f);
	});
	wrapSync(ffi, "cc", (a, f) => {
		const src = fsPath(a[0]?.source);
		guard.require(FFI, src !== null ? resolvePath(src) : self(), undefined, f);
	});
	wrapSync(ffi, "linkSymbols", (a, f) => guard.require(FFI, self(), undefined, f));
	const CF = ffi.CFunction;
	if (typeof CF === "function")
		setFn(ffi, "CFunction", function (this: any, ...args: any[]) {
			guard.require(FFI, self(), undefined, CF);
			return CF.apply(this, args);
		});

	let sqlite: any;
	try {
		sqlite = require("bun:sqlite");
	} catch {
		return;
	}
	const DB = sqlite.Database;
	if (typeof DB === "function") {
		const Hooked = new Proxy(DB, {
			construct(target, args, nt) {
				const p = fsPath(args[0]);
				if (p !== null && p !== "" && p !== ":memory:") {
					const o = args[1];
					const ro = o === 1 /* SQLITE_OPEN_READONLY */ ||
					    (o && typeof o === "object" && o.readonly);
					guard.require(ro ? FS_READ : FS_WRITE, resolvePath(p),
					    undefined, Hooked);
				}
				return Reflect.construct(target, args, nt);
			},
		});
		setFn(sqlite, "Database", Hooked);
		if (sqlite.default && sqlite.default.Database === DB)
			setFn(sqlite.default, "Database", Hooked);
	}
}

const SYS_APIS: [any, string, string[]][] = [
	[nodeOs, "hostname", ["hostname"]],
	[nodeOs, "release", ["osRelease"]],
	[nodeOs, "version", ["osRelease"]],
	[nodeOs, "uptime", ["osUptime"]],
	[nodeOs, "loadavg", ["loadavg"]],
	[nodeOs, "networkInterfaces", ["networkInterfaces"]],
	[nodeOs, "totalmem", ["systemMemoryInfo"]],
	[nodeOs, "freemem", ["systemMemoryInfo"]],
	[nodeOs, "cpus", ["cpus"]],
	[nodeOs, "homedir", ["homedir"]],
	[nodeOs, "userInfo", ["username"]],
	[nodeOs, "getPriority", ["getPriority"]],
	[nodeOs, "setPriority", ["setPriority"]],
	[process, "getuid", ["uid"]],
	[process, "geteuid", ["uid"]],
	[process, "getgid", ["gid"]],
	[process, "getgroups", ["gid"]],
	[process, "getegid", ["getegid"]],
];

function installSys(): void {
	for (const [obj, name, names] of SYS_APIS)
		wrapSync(obj, name, (a, f) => {
			for (const n of names)
				guard.require(SYS, n, undefined, f);
		});
	// node:os's default export is the module object; os/promises none.
}

/** process.env: a checking proxy.  Bun.env (the same object bun made,
 * which cannot be replaced) loses the variables that are denied. */
function installEnv(): void {
	const raw: any = process.env;
	const denied = new Set<string>();
	guard.prefetch(ENV, Object.keys(raw).filter((k) => raw[k] !== undefined));
	for (const k of Object.keys(raw)) {
		if (raw[k] === undefined)
			continue;
		if (!guard.allowed(ENV, k)) {
			denied.add(k);
			delete raw[k];
		}
	}
	const env = new Proxy(raw, {
		get(t, k, r) {
			if (typeof k === "string" && denied.has(k))
				throw denial(ENV, k, env_get);
			return Reflect.get(t, k, r);
		},
		has(t, k) {
			return Reflect.has(t, k);
		},
		set(t, k, v) {
			if (typeof k === "string") {
				guard.require(ENV, k, undefined, env_set);
				denied.delete(k);
			}
			return Reflect.set(t, k, v);
		},
		deleteProperty(t, k) {
			if (typeof k === "string") {
				guard.require(ENV, k, undefined, env_del);
				denied.delete(k);
			}
			return Reflect.deleteProperty(t, k);
		},
		defineProperty(t, k, d) {
			if (typeof k === "string") {
				guard.require(ENV, k, undefined, env_def);
				denied.delete(k);
			}
			return Reflect.defineProperty(t, k, d);
		},
	});
	// Stack frames to hide: the traps themselves.
	function env_get() {}
	function env_set() {}
	function env_del() {}
	function env_def() {}
	try {
		Object.defineProperty(process, "env", { value: env, writable: true,
		    configurable: true, enumerable: true });
	} catch {
		warn("process.env cannot be replaced: its reads are not asked about");
	}
}

function installHooks(w: Worker): void {
	guard = new Guard(w);
	installEnv();
	installFs();
	installBunFile();
	installNet();
	installProcess();
	installFfi();
	installSys();
}

// --- running the script ----------------------------------------------------------

function parseRun(obj: any): { path: string; argv: string[]; source: Buffer | null } {
	const path = obj.path;
	if (typeof path !== "string" || !nodePath.isAbsolute(path))
		throw new ProtocolError('run frame: "path" must be an absolute path');
	const argv = obj.argv ?? [path];
	if (!Array.isArray(argv) || argv.length === 0 ||
	    !argv.every((a: any) => typeof a === "string"))
		throw new ProtocolError('run frame: "argv" must be a non-empty list ' +
		    "of strings");
	const b64 = obj.source_b64;
	let source: Buffer | null = null;
	if (typeof b64 === "string") {
		if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0)
			throw new ProtocolError('run frame: "source_b64" is not base64');
		source = Buffer.from(b64, "base64");
	} else if (b64 !== undefined) {
		throw new ProtocolError('run frame: "source_b64" must be a string');
	}
	return { path, argv, source };
}

/** Where bun can import the script from: its path, or a private copy of
 * the frame's source when the path cannot be read. */
function entryFile(path: string, source: Buffer | null): string {
	try {
		accessSyncOrig(path, nodeFs.constants.R_OK);
		return path;
	} catch (e: any) {
		if (source === null)
			throw new ProtocolError(`run frame: no source_b64 and ${path}: ` +
			    `${e?.code ?? e}`);
	}
	const dir = nodeFs.mkdtempSync(nodePath.join(nodeOs.tmpdir(), "podrunner-entry-"));
	const copy = nodePath.join(dir, nodePath.basename(path));
	nodeFs.writeFileSync(copy, source, { mode: 0o400 });
	return copy;
}

let reported = false;

function report(w: Worker, err: unknown): void {
	if (reported)
		return;
	reported = true;
	let text: string;
	try {
		text = Bun.inspect(err, { colors: false });
	} catch {
		text = String(err);
	}
	if (!text.endsWith("\n"))
		text += "\n";
	rawWrite(2, text);
	const excType = err instanceof Error ? err.name ||
	    err.constructor?.name || "Error" : typeof err;
	try {
		w.sendFrame({ type: "state", worker: "exception", exc_type: excType,
		    traceback: text });
	} catch (e) {
		if (e instanceof ProtocolError)
			die(e);
	}
}

async function runScript(w: Worker, path: string, argv: string[],
    source: Buffer | null): Promise<void> {
	const file = entryFile(path, source);
	process.argv = [process.execPath, path, ...argv.slice(1)];
	Bun.main = file;

	let ended = false;
	process.on("exit", (code) => {
		if (ended)
			return;
		ended = true;
		try {
			w.sendFrame({ type: "state", worker: "exec_end",
			    exit_code: code & 0xff });
		} catch (e) {
			die(e);
		}
	});
	const fatal = (err: unknown) => {
		report(w, err);
		process.exit(1);
	};
	process.on("uncaughtException", fatal);
	process.on("unhandledRejection", fatal);

	w.sendFrame({ type: "state", worker: "exec_start" });
	installHooks(w);
	try {
		// --worker=bun with another suffix (or none): still a script,
		// not a text or file module.
		if (/\.[cm]?[jt]sx?$/.test(file))
			await import(file);
		else
			await import(file, { with: { type: "ts" } });
	} catch (err) {
		fatal(err);
	}
}

async function main(args: string[]): Promise<void> {
	const libpath = process.env.PODSHM_LIB;
	delete process.env.PODSHM_LIB;
	libc.unsetenv(cstr("PODSHM_LIB"));
	if (args.length !== 3)
		die("usage: podrunner_worker.ts socket_path shm_name shm_size");
	const [sockPath, shmName, sizeArg] = args;
	if (!/^[0-9]+$/.test(sizeArg) || Number(sizeArg) <= 0 ||
	    !Number.isSafeInteger(Number(sizeArg)))
		die(`shm_size '${sizeArg}' is not a positive decimal number`);
	if (!libpath)
		die("libpodshm not found (set PODSHM_LIB)");
	const ring = new Ring(libpath, shmName, Number(sizeArg));
	const ctl = new Control(sockPath);
	if (!ctl.send(Buffer.from(READY)))
		die(`connecting to ${sockPath}: ${strerror(ctl.err)}`);

	const w = new Worker(ring, ctl);
	let run;
	try {
		run = parseRun(w.waitRun());
	} catch (e) {
		if (!(e instanceof ProtocolError))
			throw e;
		try {
			w.sendFrame({ type: "error", data: e.message });
		} catch {}
		die(e);
	}
	w.running = true;
	try {
		await runScript(w, run.path, run.argv, run.source);
	} catch (e) {
		if (e instanceof ProtocolError)
			die(e);
		throw e;
	}
}

await main(process.argv.slice(2));
