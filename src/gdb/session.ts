// One gdb child process speaking GDB/MI: line splitting, tokens, pending commands, notifications.
// The target's safety starts here: gdb runs in its own session (a terminal Ctrl-C never reaches it), and under a
// tiny shell wrapper that outlives pmptop and sends the target SIGCONT once gdb is gone, whatever killed it.

import {spawn, type ChildProcess} from 'node:child_process';
import {EventEmitter} from 'node:events';
import {readFileSync} from 'node:fs';
import {constants as osConstants} from 'node:os';
import {basename} from 'node:path';
import {GdbError, GdbExitedError, GdbTimeoutError, MiParseError} from '../errors.js';
import {chainTo} from '../namespaces.js';
import {parseMiLine, miString, type MiAsyncRecord, type MiResultRecord, type MiRecord} from './mi-parse.js';

/** What a finished command returns: its result record and the console text gdb printed while it ran. */
export interface CommandResult {
	record: MiResultRecord;
	console: string;
}

interface Pending {
	token: number;
	command: string;
	console: string[];
	resolve: (r: CommandResult) => void;
	reject: (e: Error) => void;
	/** performance.now() after which the command fails with GdbTimeoutError; Infinity for none. */
	deadline: number;
	timeoutMs: number;
}

export interface GdbSessionOptions {
	/** gdb executable. @default 'gdb' */
	gdbPath?: string;
	/** PID that the wrapper sends SIGCONT to after gdb exits; 0 for none. */
	continuePid: number;
	/** Arguments before gdb's own (e.g. `nsenter -t PID -p -m --`). */
	prefix?: string[];
	/** Extra `-iex` commands run before anything loads. */
	initCommands?: string[];
	/**
	MI's asynchronous mode: commands are read while the target runs (needed for `-exec-interrupt`, non-stop).
	Without it gdb reads no command until the target stops, so commands written while it runs wait for the stop.
	@default false
	*/
	miAsync?: boolean;
}

// sh -c script: run gdb, then wake the target whatever happened to gdb. `exec` is not used on purpose: the shell
// must survive gdb. Ignoring HUP/INT/TERM keeps it alive when pmptop's terminal goes away.
// fd 3 is a pipe whose other end only pmptop holds: a watcher reads it and, at EOF (pmptop gone, even by
// SIGKILL), kills gdb, because gdb does not always exit when its input closes (seen here: a gdb spinning at
// 100% CPU, still attached, after its MI input reached EOF). Then the target gets SIGCONT, repeatedly.
const WRAPPER = [
	'trap "" HUP INT TERM',
	// The shell's own stderr goes nowhere: it reports a killed gdb ("Killed") on stderr, and writing that to the
	// pipe of a dead pmptop would kill the wrapper with SIGPIPE before it wakes the target. gdb keeps the pipe.
	'exec 4<&0 5>&2 2>/dev/null',
	// gdb's output goes to pmptop through a pipe and a relay (cat), not straight into the socket pmptop reads: gdb
	// writes its notifications one byte per write(), a socket takes only about 250 writes that are not read yet,
	// and a pipe takes 64 KiB. So a sample never waits, with the target stopped, for pmptop to read (a redraw).
	// fd 7 is the pipe's write end (gdb's stdout), fd 8 its read end (cat's input); without mkfifo, no relay.
	// (Each exec on its own: dash undoes the redirections of an exec inside an && list.)
	'f=$(mktemp -u "${TMPDIR:-/tmp}/pmptop-gdb.XXXXXX")',
	'if [ -n "$f" ] && mkfifo -m 600 "$f"; then exec 6<>"$f"; exec 7>"$f"; exec 8<"$f"; exec 6<&-; rm -f "$f"; else exec 7>&1; exec 8</dev/null; fi',
	// In a subshell that outlives cat, so that cat is never mistaken for gdb (findGdbPid: not a shell).
	// The subshell must not hold the write end either: cat ends at EOF, when gdb is gone.
	'( exec 3<&- 4<&- 5>&- 7>&-; cat <&8 8<&-; exit 0 ) &',
	'"$@" <&4 >&7 2>&5 3<&- 4<&- 5>&- 7>&- 8<&- &',
	'gdb=$!',
	'exec 4<&- 5>&- 7>&- 8<&-',
	// The watcher: EOF on fd 3 (pmptop's end closed: a reader that then exits), or pmptop no longer alive (checked
	// 4 times a second, for when something else keeps the pipe open), and gdb is killed.
	'read _ignored <&3 2>/dev/null & reader=$!',
	'{ while kill -0 "$PMPTOP_PID" && kill -0 "$reader"; do sleep 0.25; done; kill -KILL "$gdb"; } 2>/dev/null &',
	'watcher=$!',
	'exec 3<&-',
	'wait "$gdb"; st=$?',
	'kill -KILL "$watcher" "$reader"',
	// A thread that was in a signal-stop for SIGSTOP when gdb died delivers that signal after the kernel detaches
	// it, possibly after a first SIGCONT: look again for a while and wake the target whenever a thread of it is
	// job-stopped (T). Only then: a SIGCONT also discards SIGSTOPs still pending, and those may be the stops of
	// the next gdb attached meanwhile (seen: a restarted gdb waiting for seconds for a stop that never came).
	// In the background, with no pipe of pmptop's, so that the wrapper exits now and pmptop learns of gdb's end.
	'stopped() { for f in /proc/"$PMPTOP_CONT_PID"/task/*/stat; do read -r l < "$f" || continue; s=${l##*\') \'}; [ "${s%% *}" = T ] && return 0; done; return 1; }',
	'if [ "$PMPTOP_CONT_PID" -gt 0 ]; then kill -CONT "$PMPTOP_CONT_PID"; ( for d in 0.02 0.03 0.05 0.05 0.05 0.1 0.1 0.1 0.2 0.3 0.5 0.5 1 1; do sleep $d; [ -d /proc/"$PMPTOP_CONT_PID" ] || break; if stopped; then kill -CONT "$PMPTOP_CONT_PID"; fi; done ) </dev/null >/dev/null 2>&1 & fi',
	'exit $st',
].join('\n');

/**
A gdb/MI child. Emits:
- `exec` (MiAsyncRecord): `*stopped`, `*running`;
- `notify` (MiAsyncRecord): `=thread-created`, `=thread-exited`, `=thread-group-exited`...;
- `log` (string): gdb's `&` log stream and stray non-MI lines;
- `exit` ({code, signal}): gdb (or its wrapper) ended.
Commands run one at a time in the order sent.
*/
export class GdbSession extends EventEmitter {
	readonly child: ChildProcess;
	private nextToken = 1;
	private buffer = '';
	private readonly pending = new Map<number, Pending>();
	private current: Pending | undefined;
	// One timer for every pending command's deadline (a sample sends 30-odd commands with the same deadline).
	private watchdog: NodeJS.Timeout | undefined;
	private watchdogAt = Infinity;
	private exited = false;
	private exitInfo: {code: number | null; signal: string | null} | undefined;
	private startError: Error | undefined;
	/** The gdb process's own PID (child of the wrapper), found from /proc once known. */
	gdbPid: number | undefined;
	// gdb's name in /proc/PID/comm: the executable's file name, cut to 15 bytes.
	private readonly gdbComm: string;

	constructor(options: GdbSessionOptions) {
		super();
		const gdb = options.gdbPath ?? 'gdb';
		this.gdbComm = basename(gdb).slice(0, 15);
		const args = [
			...(options.prefix ?? []),
			gdb,
			'--interpreter=mi3',
			'-nx',
			'-q',
			'-iex', 'set debuginfod enabled off',
			...(options.miAsync ? ['-iex', 'set mi-async on'] : []),
			'-iex', 'set pagination off',
			'-iex', 'set confirm off',
			'-iex', 'set width 0',
			...(options.initCommands ?? []).flatMap(c => ['-iex', c]),
		];
		this.child = spawn('/bin/sh', ['-c', WRAPPER, 'pmptop-gdb', ...args], {
			stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
			detached: true,
			env: {...process.env, PMPTOP_CONT_PID: String(options.continuePid), PMPTOP_PID: String(process.pid), LC_ALL: 'C.UTF-8', DEBUGINFOD_URLS: ''},
		});
		this.child.stdout!.setEncoding('utf8');
		this.child.stdout!.on('data', (chunk: string) => this.onData(chunk));
		this.child.stderr!.setEncoding('utf8');
		this.child.stderr!.on('data', (chunk: string) => this.emit('log', chunk));
		// A write after gdb died must not crash pmptop.
		this.child.stdin!.on('error', () => {});
		this.child.on('error', error => this.onExit(null, null, error));
		this.child.on('exit', (code, signal) => {
			// Nothing of this session may keep pmptop's event loop alive once gdb's wrapper is gone.
			for (const stream of this.child.stdio) if (stream && stream !== this.child.stdout && stream !== this.child.stderr) stream.destroy();
			this.onExit(code, signal);
		});
	}

	/** True once gdb (or its wrapper) has exited. */
	get isExited(): boolean {
		return this.exited;
	}

	/** PID of the wrapper shell; the process group id of gdb too. */
	get wrapperPid(): number | undefined {
		return this.child.pid;
	}

	/**
	Send one MI command (without token) and resolve with its result. `^error` rejects with GdbError,
	no answer within `timeoutMs` rejects with GdbTimeoutError (the command stays pending in gdb).
	*/
	command(command: string, timeoutMs = 10_000): Promise<CommandResult> {
		if (this.exited) return Promise.reject(this.exitedError());
		const token = this.nextToken++;
		return new Promise((resolve, reject) => {
			const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
			const p: Pending = {token, command, console: [], resolve, reject, deadline, timeoutMs};
			this.pending.set(token, p);
			if (deadline < this.watchdogAt) this.armWatchdog(deadline);
			this.current = p;
			this.child.stdin!.write(`${token}${command}\n`);
		});
	}

	/** Send the commands given to `command` inside `send` in one write (one syscall for gdb to read, not N). */
	batch<T>(send: () => T): T {
		const stdin = this.child.stdin!;
		stdin.cork();
		try {
			return send();
		} finally {
			stdin.uncork();
		}
	}

	/** Resolve with the next async record that satisfies `match`, or reject after `timeoutMs`. */
	waitFor(match: (r: MiAsyncRecord) => boolean, timeoutMs: number): Promise<MiAsyncRecord> {
		if (this.exited) return Promise.reject(this.exitedError());
		return new Promise((resolve, reject) => {
			const onRecord = (r: MiAsyncRecord) => {
				if (!match(r)) return;
				cleanup();
				resolve(r);
			};
			const onExit = () => {
				cleanup();
				reject(new GdbExitedError('gdb exited while waiting'));
			};
			const timer = setTimeout(() => {
				cleanup();
				reject(new GdbTimeoutError('wait for stop', timeoutMs));
			}, timeoutMs);
			const cleanup = () => {
				clearTimeout(timer);
				this.off('exec', onRecord);
				this.off('notify', onRecord);
				this.off('exit', onExit);
			};
			this.on('exec', onRecord);
			this.on('notify', onRecord);
			this.on('exit', onExit);
		});
	}

	/** Close gdb's input: gdb reads EOF, detaches from an attached target and exits. */
	closeInput(): void {
		this.child.stdin!.end();
	}

	/** SIGKILL gdb itself (not the wrapper, which then sends the target SIGCONT). */
	killGdb(): void {
		const pid = this.findGdbPid();
		if (pid) {
			try {
				process.kill(pid, 'SIGKILL');
			} catch {}
		}
	}

	/** SIGKILL the whole group: wrapper and gdb. Use only after the target has been taken care of. */
	killAll(): void {
		if (this.child.pid && !this.exited) {
			try {
				process.kill(-this.child.pid, 'SIGKILL');
			} catch {}
		}
	}

	/** Wait until gdb's wrapper has exited, at most `timeoutMs`. Resolves true when it did. */
	waitExit(timeoutMs: number): Promise<boolean> {
		if (this.exited) return Promise.resolve(true);
		return new Promise(resolve => {
			const timer = setTimeout(() => {
				this.off('exit', done);
				resolve(false);
			}, timeoutMs);
			const done = () => {
				clearTimeout(timer);
				resolve(true);
			};
			this.once('exit', done);
		});
	}

	/** The gdb child of the wrapper, from /proc: the wrapper's child that is not a forked shell, or under a prefix
	(nsenter forks gdb and waits) the end of that child's chain of only children. */
	findGdbPid(): number | undefined {
		if (this.gdbPid) return this.gdbPid;
		const wrapper = this.child.pid;
		if (!wrapper) return undefined;
		const shell = commOf(wrapper);
		const child = childrenOf(wrapper).find(pid => commOf(pid) !== shell);
		if (child === undefined) return undefined;
		// The first process named like gdb (a child of gdb was once taken for it); a gdb by another name (a script that
		// runs it): the end of the chain as it is now, not kept.
		const {pid, found} = chainTo(child, p => commOf(p) === this.gdbComm);
		if (found) this.gdbPid = pid;
		return pid;
	}

	// What a command sent to, or waiting on, a gdb that is gone fails with: how gdb ended, and its status.
	private exitedError(): GdbExitedError {
		const {code = null, signal = null} = this.exitInfo ?? {};
		const reason = this.startError ? `gdb could not start: ${this.startError.message}` : `gdb exited (${describeGdbEnd(code, signal)})`;
		return new GdbExitedError(reason, code, signal);
	}

	private armWatchdog(at: number): void {
		this.disarmWatchdog();
		this.watchdogAt = at;
		this.watchdog = setTimeout(() => this.expire(), Math.max(1, Math.ceil(at - performance.now())));
	}

	private disarmWatchdog(): void {
		if (this.watchdog) clearTimeout(this.watchdog);
		this.watchdog = undefined;
		this.watchdogAt = Infinity;
	}

	// Fail the commands whose deadline has passed; wait again for the earliest of the others.
	private expire(): void {
		this.disarmWatchdog();
		const now = performance.now();
		let next = Infinity;
		for (const p of [...this.pending.values()]) {
			if (p.deadline <= now) {
				this.pending.delete(p.token);
				if (this.current === p) this.current = undefined;
				p.reject(new GdbTimeoutError(p.command, p.timeoutMs));
			} else if (p.deadline < next) {
				next = p.deadline;
			}
		}
		if (next < Infinity) this.armWatchdog(next);
	}

	private onData(chunk: string): void {
		this.buffer += chunk;
		let nl: number;
		while ((nl = this.buffer.indexOf('\n')) >= 0) {
			const line = this.buffer.slice(0, nl);
			this.buffer = this.buffer.slice(nl + 1);
			if (line.length > 0) this.onLine(line);
		}
	}

	private onLine(line: string): void {
		let record: MiRecord;
		try {
			record = parseMiLine(line);
		} catch (error) {
			if (error instanceof MiParseError) {
				this.emit('log', line);
				return;
			}
			throw error;
		}
		switch (record.kind) {
			case 'result': {
				const p = record.token === undefined ? undefined : this.pending.get(record.token);
				if (!p) return;
				this.pending.delete(p.token);
				if (this.current === p) this.current = undefined;
				// Nothing left to time: the timer must not keep pmptop's event loop alive.
				if (this.pending.size === 0) this.disarmWatchdog();
				if (record.resultClass === 'error') {
					p.reject(new GdbError(p.command, miString(record.results, 'msg') ?? 'error'));
				} else {
					p.resolve({record, console: p.console.join('')});
				}
				return;
			}
			case 'console':
				if (this.current) this.current.console.push(record.text);
				return;
			case 'log':
				this.emit('log', record.text);
				return;
			case 'target':
				return;
			case 'prompt':
				return;
			case 'exec':
				this.emit('exec', record);
				return;
			case 'notify':
			case 'status':
				this.emit('notify', record);
				return;
		}
	}

	private onExit(code: number | null, signal: string | null, error?: Error): void {
		if (this.exited) return;
		this.exited = true;
		this.exitInfo = {code, signal};
		this.startError = error;
		for (const p of this.pending.values()) p.reject(this.exitedError());
		this.pending.clear();
		this.disarmWatchdog();
		this.current = undefined;
		this.emit('exit', this.exitInfo);
	}
}

/**
How gdb ended, from its wrapper's exit: the wrapper exits with gdb's status, 128 + N when signal N killed gdb.
`killed by SIGKILL`, `exit status 3`, `its wrapper killed by SIGTERM`.
*/
export function describeGdbEnd(code: number | null, signal: string | null): string {
	if (signal) return `its wrapper killed by ${signal}`;
	if (code === null) return 'no status';
	if (code > 128) {
		const name = Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0];
		return `killed by ${name ?? `signal ${code - 128}`}`;
	}
	return `exit status ${code}`;
}

function childrenOf(pid: number): number[] {
	try {
		return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
	} catch {
		return [];
	}
}

function commOf(pid: number): string {
	try {
		return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
	} catch {
		return '';
	}
}
