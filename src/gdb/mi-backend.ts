// The persistent-gdb backend: attach once, then per sample stop the target, read every thread's frames, continue.
//
// How the target is stopped, and why: gdb's own all-stop interrupt (`-exec-interrupt`) sends SIGINT to the target,
// and when gdb dies between sending it and taking it back the target receives SIGINT and dies (measured: 8 of 100
// random gdb kills). So pmptop stops the target itself with SIGSTOP: gdb sees a SIGSTOP signal-stop, stops the
// other threads (all-stop), and `nopass` makes it swallow the signal on continue. If gdb dies at any moment the
// worst leftover is a job-stopped target, which the wrapper's SIGCONT (session.ts) cures.
// The stop is a silent catchpoint (`catch signal SIGSTOP`), not `handle SIGSTOP stop print`: a printed stop is
// about 300 bytes of console text, which gdb writes one byte per write() while the target is stopped, and which
// fills the socket to pmptop when pmptop is slow to read (gdb then blocks with the target stopped).

import {readlinkSync, writeFileSync} from 'node:fs';
import {setPriority} from 'node:os';
import {performance} from 'node:perf_hooks';
import {AttachError, GdbError, GdbExitedError, GdbTimeoutError, ProfilerError, TargetExitedError} from '../errors.js';

export {TargetExitedError};
import type {Frame, Sample, SampleError, ThreadStack} from '../profile/model.js';
import type {Backend, BackendEvents} from '../sampler.js';
import {miList, miString, type MiAsyncRecord, type MiTuple, type MiValue} from './mi-parse.js';
import {PYTHON_COMMAND, PYTHON_SOURCE} from './python-sampler.js';
import {describeGdbEnd, GdbSession} from './session.js';
import {parseComm} from '../procio/parse.js';
import {readSmallProcFile} from '../procio/read.js';
import {anyThreadIn, continueTarget, continueTargetRepeatedly, describeAttachFailure, processExists} from './target.js';

export interface MiBackendOptions {
	pid: number;
	gdbPath?: string;
	/** Frames read per thread at most. @default 64 */
	maxDepth?: number;
	/** How long one sample may keep the target stopped before it is abandoned. @default 5000 */
	sampleTimeoutMs?: number;
	/** Read all frames with one gdb Python command (when gdb has Python) instead of one -stack-list-frames per thread. */
	python?: boolean;
	/** Run gdb under this prefix, e.g. nsenter. */
	prefix?: string[];
	/** The PID gdb attaches to when it runs in the target's PID namespace (its PID there); default `pid`. */
	attachPid?: number;
	/** Map a thread id as gdb reports it (namespace-local under nsenter) to the host TID. */
	mapTid?: (tid: number) => number;
	/**
	gdb's non-stop mode: each sample stops, reads and resumes one thread at a time (gdb stops a thread with a
	SIGSTOP of its own, never SIGINT), so the other threads run on; the threads are not caught at the same instant.
	*/
	nonStop?: boolean;
	/**
	Run gdb at real-time priority (SCHED_FIFO 1), set from gdb's Python after the attach (symbols load at normal
	priority). While the target is stopped only gdb works, but on a machine whose cores the target's spinning
	threads fill, a normal-priority gdb waits for a core at every step of the stop. Needs root or CAP_SYS_NICE.
	*/
	realtime?: boolean;
}

type State = 'new' | 'attaching' | 'running' | 'sampling' | 'detaching' | 'closed';

/** The MI backend. One instance is one gdb session; after a failure the sampler makes a new one. */
export class MiBackend implements Backend {
	readonly name = 'mi';
	private session: GdbSession | undefined;
	private state: State = 'new';
	private python = false;
	// gdb has Python: it then prints CLOCK_MONOTONIC, so a sample's stop is timed by gdb, not by when pmptop got
	// around to reading the answer, and it can take real-time priority (--gdb-rt).
	private gdbPython = false;
	private exe = '';
	private targetExited = false;
	private events: BackendEvents | undefined;
	// gdb's thread list ({id, LWP, name}), asked for again only after gdb reports a thread created or exited.
	private threadList: ThreadEntry[] | undefined;
	// Non-stop: who waits for which thread's *stopped, and the thread being read now.
	private readonly stopWaiters = new Map<string, (r: MiAsyncRecord | undefined) => void>();
	// All-stop: the sample has sent -exec-continue; a stop reported from then on is not ours and is resumed.
	private resuming = false;
	private reading: string | undefined;
	// Thread names as /proc has them, forgotten every second (so read at most once a second per thread).
	private names = new Map<number, string>();
	private namesAtMs = 0;
	readonly maxDepth: number;
	readonly sampleTimeoutMs: number;

	constructor(readonly options: MiBackendOptions) {
		this.maxDepth = options.maxDepth ?? 64;
		this.sampleTimeoutMs = options.sampleTimeoutMs ?? 5000;
	}

	/** The PID of the gdb process (for its CPU time and priority), once it runs. */
	get gdbPid(): number | undefined {
		return this.session?.findGdbPid();
	}

	/** Which frame reader is in use: `python` (one command) or `mi` (one command per thread). */
	get reader(): 'python' | 'mi' {
		return this.python ? 'python' : 'mi';
	}

	/** Attach to the target and leave it running. Throws AttachError with a one-line explanation. */
	async start(events?: BackendEvents): Promise<void> {
		this.events = events;
		const {pid} = this.options;
		if (!processExists(pid)) throw new AttachError(`no process with PID ${pid}`);
		try {
			this.exe = readlinkSync(`/proc/${pid}/exe`);
		} catch {
			this.exe = '';
		}
		this.state = 'attaching';
		const session = new GdbSession({gdbPath: this.options.gdbPath, continuePid: pid, prefix: this.options.prefix, miAsync: this.options.nonStop});
		this.session = session;
		const stderr: string[] = [];
		session.on('log', (text: string) => {
			stderr.push(text);
			if (stderr.length > 50) stderr.shift();
		});
		session.on('exec', (r: MiAsyncRecord) => this.onExec(r));
		session.on('notify', (r: MiAsyncRecord) => {
			if (r.asyncClass === 'thread-group-exited') this.onTargetExit();
			if (r.asyncClass === 'thread-created' || r.asyncClass === 'thread-exited') this.threadList = undefined;
			// Non-stop: a thread that exits after accepting an interrupt never reports its stop.
			if (r.asyncClass === 'thread-exited') {
				const id = miString(r.results, 'id');
				const waiter = id === undefined ? undefined : this.stopWaiters.get(id);
				if (waiter) {
					this.stopWaiters.delete(id!);
					waiter(undefined);
				}
			}
		});
		session.on('exit', () => {
			if (this.state !== 'detaching' && this.state !== 'closed') {
				// gdb is gone: the kernel detached it; make sure nothing is left stopped.
				continueTargetRepeatedly(pid);
				this.events?.onGdbExit?.();
			}
		});
		try {
			// The first command waits for gdb to start as well: as long as the attach may take (seen over 10 s in CI).
			if (this.options.nonStop) await session.command('-gdb-set non-stop on', 60_000);
			// Symbols of the executable load before the target is stopped: a shorter first stop.
			const attachPid = this.options.attachPid ?? pid;
			if (this.exe) await session.command(`-file-exec-and-symbols ${quote(`/proc/${attachPid}/exe`)}`, 60_000).catch(() => {});
			await session.command(`-target-attach ${attachPid}`, 60_000);
		} catch (error) {
			const message = error instanceof GdbError ? error.msg : error instanceof GdbExitedError ? missingGdbMessage(stderr, error, this.options.gdbPath) : String(error);
			await this.close();
			throw new AttachError(describeAttachFailure(pid, message, '/proc', {nsenter: this.options.prefix !== undefined, gdbPath: this.options.gdbPath}));
		}
		this.raisePriority();
		try {
			// Every signal the target gets passes straight through: a VM's SIGTERM, QEMU's SIGUSR1 vCPU kicks...
			await this.console('handle all nostop noprint pass');
			await this.console('handle SIGINT nostop noprint pass');
			// ...except our own stop signal, which gdb keeps (non-stop: gdb's own interrupts are the only stops).
			await this.console('handle SIGSTOP nostop noprint nopass');
			if (!this.options.nonStop) await this.silentStopOnSigstop();
			this.gdbPython = await this.console(`python import time as ${CLOCK}`).then(() => true, () => false);
			if (this.options.realtime) await this.setRealtime();
			await session.command('-gdb-set print frame-arguments none');
			await session.command('-gdb-set print entry-values no').catch(() => {});
			if (this.options.python) {
				const encoded = Buffer.from(PYTHON_SOURCE).toString('base64');
				this.python = await this.console(`python exec(__import__('base64').b64decode('${encoded}').decode())`)
					.then(() => true, () => false);
			}
			if (this.options.nonStop) {
				// Attaching stops every thread, one report each: let them all arrive before resuming them all.
				await this.waitAllStopped(10_000);
				await session.command('-exec-continue --all');
			} else {
				await session.command('-exec-continue');
			}
			this.state = 'running';
		} catch (error) {
			await this.close();
			throw error instanceof ProfilerError ? error : new AttachError(String(error));
		}
	}

	/**
	gdb's scheduling group at nice -10, and gdb itself, when permitted (root or CAP_SYS_NICE; otherwise nothing
	changes). While the target is stopped only gdb works, and on a machine whose cores the VM's vCPU threads fill, gdb
	waited for a core at each step: stops of 0.3-2 s in 7-11 samples of 150 here, with a 32-thread target in a session
	of its own, as a VM started by a test driver is. gdb runs in a session of its own too, and with autogroup scheduling
	(the Linux default) the CPU is shared between sessions' groups before processes: a renice of gdb alone changes
	nothing then, the group's nice does (3-5 such stops in 150). The process's nice counts where autogroup is off.
	*/
	private raisePriority(): void {
		const gdb = this.session?.findGdbPid();
		if (gdb === undefined) return;
		try {
			writeFileSync(`/proc/${gdb}/autogroup`, '-10');
		} catch {}
		try {
			setPriority(gdb, -10);
		} catch {}
	}

	/** gdb's main thread (the one that stops, reads and resumes the target) to SCHED_FIFO 1, or a one-line AttachError. */
	private async setRealtime(): Promise<void> {
		const python = 'import os\ntry:\n os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1)); print("rt ok")\nexcept OSError as e:\n print("rt", e.strerror)';
		if (!this.gdbPython) throw new AttachError('--gdb-rt: this gdb has no Python, which sets its priority; run without --gdb-rt');
		const said = await this.console(`python exec(${JSON.stringify(python)})`);
		const result = said.trim().replace(/^rt /, '');
		if (result === 'ok') return;
		throw new AttachError(/not permitted/i.test(result)
			? '--gdb-rt: not permitted to use real-time priority (needs root or CAP_SYS_NICE); run without --gdb-rt'
			: `--gdb-rt: gdb could not take real-time priority (${result}); run without --gdb-rt`);
	}

	/** All-stop: gdb stops on our SIGSTOP without printing anything; a printing stop when that cannot be set up. */
	private async silentStopOnSigstop(): Promise<void> {
		const created = await this.console('catch signal SIGSTOP').catch(() => '');
		const number = /Catchpoint (\d+)/.exec(created)?.[1];
		const silent = number !== undefined && (await this.session!.command(`-break-commands ${number} "silent"`).then(() => true, () => false));
		if (!silent) await this.console('handle SIGSTOP stop print nopass');
	}

	/** Take one sample: stop, read all threads, continue. The target runs again when this returns or throws. */
	async sample(): Promise<Sample> {
		const session = this.session;
		const {pid} = this.options;
		if (!session || this.state !== 'running') throw new GdbExitedError('gdb session is not running');
		if (this.targetExited) throw new TargetExitedError(`process ${pid} has exited`);
		this.state = 'sampling';
		const atMs = Date.now();
		const t0 = performance.now();
		try {
			const {stopMs, decode} = this.options.nonStop ? await this.stopEachThread(t0) : await this.stopAll(t0);
			// stop() may have begun meanwhile: it owns the state then.
			if (this.state === 'sampling') this.state = 'running';
			// The target runs again: now the answers become frames.
			const read = decode();
			const mapTid = this.options.mapTid;
			const mapped = mapTid ? read.threads.map(t => ({...t, tid: mapTid(t.tid)})) : read.threads;
			// Names as they are now (a thread names itself after gdb first listed it), read from /proc while the
			// target runs; gdb's name when the thread is gone.
			const threads = mapped.map(t => {
				const name = this.nameOf(t.tid, t.name);
				return name === t.name ? t : {...t, name};
			});
			const errors = mapTid ? read.errors.map(e => (e.tid === undefined ? e : {...e, tid: mapTid(e.tid)})) : read.errors;
			return {atMs, stopMs, threads, errors};
		} catch (error) {
			if (this.targetExited || !processExists(pid)) {
				this.targetExited = true;
				if (this.state === 'sampling') this.state = 'running';
				throw error instanceof TargetExitedError ? error : new TargetExitedError(`process ${pid} has exited`);
			}
			// Anything else mid-sample (timeout, gdb death): abandon this gdb, never leave the target stopped.
			await this.abandon();
			throw error;
		}
	}

	/**
	All-stop: stop the whole target with our SIGSTOP, read every thread, continue.

	gdb in MI's synchronous mode reads no command while the target runs, so when the thread list is known the
	whole sample is written before the stop: the frame requests and `-exec-continue` wait in gdb's input, and gdb
	reads, answers and resumes the moment the target has stopped, without waiting for pmptop to be scheduled
	between the steps (on a machine whose cores the target keeps busy each such wait can cost a time slice).
	*/
	private async stopAll(t0: number): Promise<{stopMs: number; decode: () => Decoded}> {
		const session = this.session!;
		const {pid} = this.options;
		const deadline = t0 + this.sampleTimeoutMs;
		// Queued ahead of the stop when the thread list is known; when the target turns out to have exited they fail,
		// and nobody waits for them.
		let queued: ReturnType<MiBackend['queueSample']> | undefined;
		const {stop, workedFrom: stopFrom} = await this.signalStop(this.sampleTimeoutMs, () => {
			if (this.threadList && !this.python) queued = this.queueSample(this.threadList, deadline);
		});
		// From here on a stop reported is not ours (a second signal that arrived late): onExec resumes it.
		this.resuming = true;
		try {
			if ((miString(stop.results, 'reason') ?? '').startsWith('exited')) {
				this.targetExited = true;
				throw new TargetExitedError(`process ${pid} has exited`);
			}
			if (this.python) {
				const decode = await this.readPython(deadline);
				await session.command('-exec-continue', remaining(deadline));
				return {stopMs: performance.now() - stopFrom, decode};
			}
			// Not queued (the first sample, or threads came or went): the same requests, sent now.
			const sent = queued ?? this.queueSample(await this.listThreads(deadline), deadline);
			const [decode, resumingAt] = await Promise.all([sent.decode, sent.resumingAt, sent.continued]);
			// gdb's clock says when it began to resume the target; pmptop's own reading may come much later (a busy
			// event loop). A clock that disagrees (another time namespace) is not used.
			const seen = performance.now() - stopFrom;
			const byGdb = resumingAt === undefined ? NaN : resumingAt - stopFrom;
			return {stopMs: byGdb >= 0 && byGdb <= seen ? byGdb : seen, decode};
		} finally {
			this.resuming = false;
		}
	}

	/**
	All-stop: stop the target with our SIGSTOP and wait for gdb to report it (a sample, and the stop before a
	detach). `beforeSignal` runs once gdb's report is awaited, just before the signal. A target that is gone throws
	TargetExitedError. gdb stops threads with SIGSTOP itself and may take ours for one of its own and swallow it,
	letting the thread run on (seen here in about 1 sample of 100, and in 1 quit of 10 right after a sample). So the
	signal goes again every 250 ms until gdb reports the stop. While no thread is in a tracing stop the target was
	not stopped at all: `workedFrom` is when the signal that worked was sent. A stop in progress (a thread in a
	tracing stop, gdb slow to stop the rest) gets a second before the next signal, since gdb may also hold a thread
	for reasons of its own. An extra stop that arrives later is resumed at once (onExec).
	*/
	private async signalStop(timeoutMs: number, beforeSignal?: () => void): Promise<{stop: MiAsyncRecord; workedFrom: number}> {
		const {pid} = this.options;
		const stopped = this.session!.waitFor(r => r.kind === 'exec' && r.asyncClass === 'stopped', timeoutMs);
		beforeSignal?.();
		let sentAt = performance.now();
		try {
			process.kill(pid, 'SIGSTOP');
		} catch {
			stopped.catch(() => {});
			this.targetExited = true;
			throw new TargetExitedError(`process ${pid} has exited`);
		}
		let workedFrom = sentAt;
		const resend = setInterval(() => {
			const stopping = anyThreadIn(pid, 't');
			if (stopping && performance.now() - sentAt < 1000) return;
			try {
				process.kill(pid, 'SIGSTOP');
				sentAt = performance.now();
				if (!stopping) workedFrom = sentAt;
			} catch {}
		}, 250);
		try {
			return {stop: await stopped, workedFrom};
		} finally {
			clearInterval(resend);
		}
	}

	/**
	Write a whole sample to gdb in one write: every thread's frame request, gdb's clock (when it has one), then
	`-exec-continue`. The promises settle as gdb answers; all of them are safe to leave unawaited.
	*/
	private queueSample(threads: ThreadEntry[], deadline: number): {decode: Promise<() => Decoded>; resumingAt: Promise<number | undefined>; continued: Promise<unknown>} {
		const session = this.session!;
		const [answers, clock, continued] = session.batch(() => [
			Promise.all(threads.map(({id, tid, name}) => this.framesOf(id, tid, name, deadline))),
			this.gdbPython ? session.command(`-interpreter-exec console "python print(${CLOCK}.monotonic_ns())"`, remaining(deadline)) : undefined,
			session.command('-exec-continue', remaining(deadline)),
		] as const);
		const decode = answers.then(a => () => decodeAnswers(a, this.exe));
		// CLOCK_MONOTONIC in ns, as a performance.now() time (Node's clock is CLOCK_MONOTONIC too).
		const resumingAt = clock ? clock.then(r => monotonicAsPerformance(r.console), () => undefined) : Promise.resolve(undefined);
		for (const p of [decode, resumingAt, continued]) p.catch(() => {});
		return {decode, resumingAt, continued};
	}

	/**
	Non-stop: for each thread in turn, interrupt it (gdb sends that one thread a SIGSTOP), read its frames and resume
	it; the others run meanwhile. The frame request, the resume and the next thread's interrupt go to gdb together,
	so each thread costs one round trip. The stop reported is the longest any one thread was held.
	*/
	private async stopEachThread(t0: number): Promise<{stopMs: number; decode: () => Decoded}> {
		const session = this.session!;
		const deadline = t0 + this.sampleTimeoutMs;
		const list = await this.listThreads(deadline);
		const answers: Answer[] = [];
		let longest = 0;
		let next = list.length > 0 ? this.interruptThread(list[0]!.id, deadline) : undefined;
		let sentAt = performance.now();
		for (let i = 0; i < list.length; i++) {
			const {id, tid, name} = list[i]!;
			const stop = await next!;
			const heldFrom = sentAt;
			const interruptNext = () => {
				if (i + 1 >= list.length) return;
				next = this.interruptThread(list[i + 1]!.id, deadline);
				// Awaited in the next round; a failure meanwhile must not count as unhandled.
				next.catch(() => {});
				sentAt = performance.now();
			};
			// The thread exited since the list was made.
			if (!stop) {
				interruptNext();
				continue;
			}
			if ((miString(stop.results, 'reason') ?? '').startsWith('exited')) {
				this.targetExited = true;
				throw new TargetExitedError(`process ${this.options.pid} has exited`);
			}
			this.reading = id;
			try {
				const [frames, resumed] = session.batch(() => {
					const sent = [this.framesOf(id, tid, name, deadline), session.command(`-exec-continue --thread ${id}`, remaining(deadline))] as const;
					interruptNext();
					return sent;
				});
				resumed.catch(() => {});
				answers.push(await frames);
				await resumed;
			} finally {
				this.reading = undefined;
			}
			longest = Math.max(longest, performance.now() - heldFrom);
		}
		return {stopMs: longest, decode: () => decodeAnswers(answers, this.exe)};
	}

	/** A thread's current name: /proc's comm (read again after a second); gdb's name when it cannot be read. */
	private nameOf(tid: number, fallback: string): string {
		const now = Date.now();
		if (now - this.namesAtMs >= 1000) {
			this.names = new Map();
			this.namesAtMs = now;
		}
		let name = this.names.get(tid);
		if (name === undefined) {
			const comm = readSmallProcFile(`/proc/${this.options.pid}/task/${tid}/comm`);
			name = comm.ok ? parseComm(comm.value) : fallback;
			this.names.set(tid, name);
		}
		return name;
	}

	/** Non-stop: ask gdb to stop one thread; its *stopped record, or undefined when gdb knows no such thread now. */
	private interruptThread(id: string, deadline: number): Promise<MiAsyncRecord | undefined> {
		return new Promise((resolve, reject) => {
			const ms = remaining(deadline);
			const timer = setTimeout(() => {
				this.stopWaiters.delete(id);
				reject(new GdbTimeoutError(`the stop of thread ${id}`, ms));
			}, ms);
			this.stopWaiters.set(id, r => {
				clearTimeout(timer);
				resolve(r);
			});
			this.session!.command(`-exec-interrupt --thread ${id}`, ms).catch((error: unknown) => {
				this.stopWaiters.delete(id);
				clearTimeout(timer);
				if (error instanceof GdbError) resolve(undefined);
				else reject(error);
			});
		});
	}

	/** Wait until gdb lists every thread as stopped (non-stop attach and detach). */
	private async waitAllStopped(timeoutMs: number): Promise<void> {
		const until = performance.now() + timeoutMs;
		while (performance.now() < until) {
			const info = await this.session!.command('-thread-info', remaining(until));
			if (miList(info.record.results, 'threads').every(t => miString(t, 'state') === 'stopped')) return;
			await sleep(10);
		}
		throw new GdbTimeoutError('-thread-info (all threads stopped)', timeoutMs);
	}

	/** Detach cleanly and let the target run on. Safe to call at any time, more than once. */
	async stop(options: {final?: boolean} = {}): Promise<void> {
		const session = this.session;
		if (!session || this.state === 'closed') return;
		if (this.state === 'attaching') {
			// Still attaching: end gdb (its pending commands fail, start() throws) and wake the target.
			await this.close();
			return;
		}
		// Wait for a sample in flight to finish (bounded by its own timeout).
		const until = performance.now() + this.sampleTimeoutMs + 500;
		while (this.state === 'sampling' && performance.now() < until) await sleep(25);
		this.state = 'detaching';
		let detached = false;
		if (!session.isExited && !this.targetExited) {
			try {
				// Stop first so detach never races a running target, then detach and exit.
				if (this.options.nonStop) {
					await session.command('-exec-interrupt --all', 2000);
					await this.waitAllStopped(2000);
				} else {
					await this.signalStop(2000);
				}
				await session.command('-target-detach', 3000);
				detached = true;
			} catch {}
		}
		// Once detached, gdb holds nothing of the target, and its exit can take seconds on a machine the target keeps
		// busy (seen here in about 1 quit of 10: gdb and its wrapper runnable but not run, or gdb's worker threads
		// lingering). When pmptop is quitting it does not wait for that: the wrapper ends gdb when pmptop is gone,
		// and its SIGCONT reaches a target no gdb of this process will attach to again. Otherwise (a restart) the
		// wait stays: the old wrapper's SIGCONT would discard the SIGSTOPs of the next attach.
		if (detached && options.final) {
			await this.close(200, false);
			return;
		}
		await this.close(detached ? 500 : 3000);
	}

	private async close(graceMs = 3000, killWhenSlow = true): Promise<void> {
		const session = this.session;
		this.state = 'detaching';
		if (session && !session.isExited) {
			session.command('-gdb-exit', 2000).catch(() => {});
			session.closeInput();
			if (!(await session.waitExit(graceMs)) && killWhenSlow) {
				session.killGdb();
				if (!(await session.waitExit(2000))) session.killAll();
			}
		}
		continueTarget(this.options.pid);
		this.state = 'closed';
	}

	/** Kill a gdb that misbehaved and make sure the target runs. */
	private async abandon(): Promise<void> {
		const session = this.session;
		this.state = 'detaching';
		if (session && !session.isExited) {
			session.killGdb();
			if (!(await session.waitExit(2000))) session.killAll();
		}
		continueTargetRepeatedly(this.options.pid);
		this.state = 'closed';
	}

	private onExec(r: MiAsyncRecord): void {
		if (r.asyncClass !== 'stopped') return;
		const reason = miString(r.results, 'reason') ?? '';
		if (reason.startsWith('exited')) {
			this.onTargetExit();
			// Non-stop: nobody waits for a thread of a process that is gone.
			for (const resolve of this.stopWaiters.values()) resolve(r);
			this.stopWaiters.clear();
			return;
		}
		if (this.options.nonStop) {
			const id = miString(r.results, 'thread-id');
			if (id === undefined) return;
			const waiter = this.stopWaiters.get(id);
			if (waiter) {
				this.stopWaiters.delete(id);
				waiter(r);
			} else if ((this.state === 'running' || this.state === 'sampling') && id !== this.reading) {
				// A thread stopped without being asked: let it run.
				this.session?.command(`-exec-continue --thread ${id}`).catch(() => {});
			}
			return;
		}
		// A stop we did not ask for (a second stop signal that arrived late): resume at once.
		if (this.state === 'running' || (this.state === 'sampling' && this.resuming)) this.session?.command('-exec-continue').catch(() => {});
	}

	private onTargetExit(): void {
		// gdb also reports the thread group as exited when we detach from it: that is not the target ending.
		if (this.targetExited || this.state === 'detaching' || this.state === 'closed') return;
		this.targetExited = true;
		this.events?.onTargetExit?.();
	}

	private async console(command: string): Promise<string> {
		const r = await this.session!.command(`-interpreter-exec console ${quote(command)}`);
		return r.console;
	}

	// readPython and queueSample only collect gdb's answers while the target is stopped; turning them into frames waits until it
	// runs again (see sample()): they return that decoding as a function.

	private async readPython(deadline: number): Promise<() => Decoded> {
		const r = await this.session!.command(`-interpreter-exec console ${quote(`${PYTHON_COMMAND} ${this.maxDepth}`)}`, remaining(deadline));
		return () => decodePythonSample(r.console, this.exe);
	}

	/**
	gdb's thread list. It costs a round trip and, in gdb, a /proc read and a frame per thread: it is asked for only
	when a thread came or went since the last time (gdb's notifications say so).
	*/
	private async listThreads(deadline: number): Promise<ThreadEntry[]> {
		if (!this.threadList) {
			const info = await this.session!.command('-thread-info', remaining(deadline));
			this.threadList = miList(info.record.results, 'threads').map(t => ({
				id: miString(t, 'id') ?? '',
				tid: lwpOf(miString(t, 'target-id') ?? ''),
				name: miString(t, 'name') ?? '',
			}));
		}
		return this.threadList;
	}

	/** One thread's raw frames (decoded later), or gdb's error for it. */
	private async framesOf(id: string, tid: number, name: string, deadline: number): Promise<Answer> {
		try {
			const r = await this.session!.command(`-stack-list-frames --thread ${id} 0 ${this.maxDepth - 1}`, remaining(deadline));
			return {tid, name, stack: miList(r.record.results, 'stack')};
		} catch (error) {
			if (!(error instanceof GdbError)) throw error;
			return {tid, name, error: error.msg};
		}
	}
}

interface ThreadEntry {
	id: string;
	tid: number;
	name: string;
}

interface Answer {
	tid: number;
	name: string;
	stack?: MiValue[];
	error?: string;
}

function decodeAnswers(answers: Answer[], exe: string): Decoded {
	const threads: ThreadStack[] = [];
	const errors: SampleError[] = [];
	for (const a of answers) {
		if (a.stack) threads.push({tid: a.tid, name: a.name, frames: a.stack.map(f => miFrame(f, exe))});
		else errors.push({tid: a.tid, message: a.error ?? 'no frames'});
	}
	return {threads, errors};
}

type Decoded = {threads: ThreadStack[]; errors: SampleError[]};

/** Decode the JSON line printed by the Python command into thread stacks (frames leaf first). */
export function decodePythonSample(text: string, exe: string): Decoded {
	const start = text.indexOf('[');
	const raw = JSON.parse(text.slice(start)) as Array<[number, string, Array<[string, string | null, number, string | null]> | null, string?]>;
	const threads: ThreadStack[] = [];
	const errors: SampleError[] = [];
	for (const [tid, name, frames, error] of raw) {
		if (!frames) {
			errors.push({tid, message: error ?? 'no frames'});
			continue;
		}
		threads.push({
			tid,
			name,
			frames: frames.map(([func, file, line, lib]) => normalizeFrame({func, file: file ?? undefined, line: line || undefined, lib: lib ?? undefined}, exe)),
		});
	}
	return {threads, errors};
}

/** One MI frame tuple (`{level,addr,func,file,fullname,line,from}`) as a Frame. */
export function miFrame(value: MiValue, exe: string): Frame {
	const t = value as MiTuple;
	const line = miString(t, 'line');
	return normalizeFrame({
		func: miString(t, 'func') ?? '??',
		file: miString(t, 'file'),
		line: line ? Number(line) : undefined,
		lib: miString(t, 'from'),
		addr: miString(t, 'addr'),
	}, exe);
}

// An unnamed frame with no library and no file is in the main executable: say so, as `?? (qemu-system-x86_64)`.
function normalizeFrame(frame: Frame, exe: string): Frame {
	if (frame.func === '??' && !frame.lib && !frame.file && exe) return {...frame, lib: exe};
	return frame;
}

/** The LWP (kernel TID) in a gdb target-id: `Thread 0x7f.. (LWP 17455)` or `LWP 17455`. */
export function lwpOf(targetId: string): number {
	const m = /LWP (\d+)/.exec(targetId) ?? /process (\d+)/.exec(targetId);
	return m ? Number(m[1]) : 0;
}

/** A CLOCK_MONOTONIC reading in ns (gdb's `time.monotonic_ns()`) as a performance.now() time, or undefined. */
export function monotonicAsPerformance(text: string): number | undefined {
	const m = /^\s*(\d+)\s*$/.exec(text);
	return m ? Number(BigInt(m[1]!) - process.hrtime.bigint()) / 1e6 + performance.now() : undefined;
}

// The name gdb's Python knows the time module by.
const CLOCK = '_pmptop_time';

function quote(text: string): string {
	return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function remaining(deadline: number): number {
	return Math.max(1, Math.round(deadline - performance.now()));
}

function sleep(ms: number): Promise<void> {
	return new Promise(resolve => setTimeout(resolve, ms));
}

function missingGdbMessage(stderr: string[], error: GdbExitedError, gdbPath = 'gdb'): string {
	const text = stderr.join('');
	if (/not found|No such file/.test(text)) return `${gdbPath} not found`;
	return text.trim().split('\n').pop() || `gdb exited during attach (${describeGdbEnd(error.code ?? null, error.signal ?? null)}), saying nothing`;
}
