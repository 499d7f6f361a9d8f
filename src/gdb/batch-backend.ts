// The classic poor man's profiler as a backend: one `gdb -batch ... thread apply all bt -p PID` per sample.
// It is the reference the benchmark compares the persistent MI backend against, and a fallback.

import {spawn} from 'node:child_process';
import {performance} from 'node:perf_hooks';
import {AttachError, GdbTimeoutError, TargetExitedError} from '../errors.js';
import type {Sample} from '../profile/model.js';
import type {Backend} from '../sampler.js';
import {parseBatchBacktrace} from './batch-parse.js';
import {continueTarget, describeAttachFailure, processExists} from './target.js';

export interface BatchBackendOptions {
	pid: number;
	gdbPath?: string;
	/** A gdb run longer than this is killed (and the target resumed). @default 10000 */
	timeoutMs?: number;
}

/** Run one classic PMP gdb call and return its stdout, stderr and wall time. */
export function runBatchGdb(pid: number, gdbPath = 'gdb', timeoutMs = 10_000): Promise<{stdout: string; stderr: string; ms: number; timedOut: boolean}> {
	return new Promise((resolve, reject) => {
		const t0 = performance.now();
		// Own process group: a terminal Ctrl-C must not reach gdb while it holds the target stopped.
		const child = spawn(gdbPath, ['-nx', '-batch', '-iex', 'set debuginfod enabled off', '-ex', 'set pagination 0', '-ex', 'thread apply all bt', '-p', String(pid)], {
			stdio: ['ignore', 'pipe', 'pipe'],
			detached: true,
			env: {...process.env, LC_ALL: 'C.UTF-8', DEBUGINFOD_URLS: ''},
		});
		let stdout = '';
		let stderr = '';
		let timedOut = false;
		child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
		child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
		const timer = setTimeout(() => {
			timedOut = true;
			child.kill('SIGKILL');
		}, timeoutMs);
		child.on('error', error => {
			clearTimeout(timer);
			reject(error);
		});
		child.on('close', () => {
			clearTimeout(timer);
			// The classic PMP can leave the target job-stopped (DOMAIN.md section 8): always wake it.
			continueTarget(pid);
			resolve({stdout, stderr, ms: performance.now() - t0, timedOut});
		});
	});
}

/** The batch backend. `stopMs` is the gdb call's wall time: the target is stopped for most of it. */
export class BatchBackend implements Backend {
	readonly name = 'batch';

	constructor(readonly options: BatchBackendOptions) {}

	async start(): Promise<void> {
		const {pid} = this.options;
		if (!processExists(pid)) throw new AttachError(`no process with PID ${pid}`);
		const r = await runBatchGdb(pid, this.options.gdbPath, this.options.timeoutMs).catch((error: NodeJS.ErrnoException) => {
			throw new AttachError(error.code === 'ENOENT' ? 'gdb is not installed (install it: apt-get install gdb)' : String(error.message));
		});
		const failure = /ptrace: (.*)|Could not attach to process.*|(Operation not permitted)/.exec(r.stderr + r.stdout);
		if (failure) throw new AttachError(describeAttachFailure(pid, failure[0]));
	}

	async sample(): Promise<Sample> {
		const {pid} = this.options;
		if (!processExists(pid)) throw new TargetExitedError(`process ${pid} has exited`);
		const atMs = Date.now();
		const r = await runBatchGdb(pid, this.options.gdbPath, this.options.timeoutMs);
		if (r.timedOut) throw new GdbTimeoutError('gdb -batch', this.options.timeoutMs ?? 10_000);
		const threads = parseBatchBacktrace(r.stdout);
		if (threads.length === 0 && !processExists(pid)) throw new TargetExitedError(`process ${pid} has exited`);
		const errors = threads.length === 0 ? [{message: (r.stderr.trim().split('\n').pop() ?? 'no threads in gdb output')}] : [];
		return {atMs, stopMs: r.ms, threads, errors};
	}

	async stop(): Promise<void> {
		continueTarget(this.options.pid);
	}
}
