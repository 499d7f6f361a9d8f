// The sampling loop: one backend, one sample at a time, at an interval; failures become events, not exceptions.
// It never overlaps samples, never prints, and restarts a backend whose gdb died, with back-off.

import {EventEmitter} from 'node:events';
import {performance} from 'node:perf_hooks';
import {AttachError, GdbExitedError, GdbTimeoutError, ProfilerError, TargetExitedError} from './errors.js';
import type {Sample} from './profile/model.js';
import {processExists} from './gdb/target.js';

/** Callbacks a backend may use to report what happens between samples. */
export interface BackendEvents {
	onGdbExit?: () => void;
	onTargetExit?: () => void;
}

/** A way to take samples of one process. */
export interface Backend {
	readonly name: string;
	/** Attach; throws AttachError with a one-line explanation. */
	start(events?: BackendEvents): Promise<void>;
	/** One sample of every thread; the target runs again when this settles. */
	sample(): Promise<Sample>;
	/**
	Detach and leave the target running. `final`: nothing will attach to this target again from this process
	(pmptop is quitting), so a gdb that has detached need not be waited for.
	*/
	stop(options?: {final?: boolean}): Promise<void>;
}

/** What the sampler is doing, for the header. */
export type SamplerState = 'attaching' | 'sampling' | 'restarting' | 'target-exited' | 'stopped' | 'failed';

export interface SamplerStatus {
	state: SamplerState;
	message?: string;
}

export interface SamplerOptions {
	intervalMs: number;
	/** Make a fresh backend (first attach and every restart). */
	createBackend: () => Backend;
	/**
	Budget for the share of time the target may be stopped (median stop / interval). Above it the sampler
	lengthens the interval by itself; back under half of it, it returns toward the requested interval.
	@default 0.05
	*/
	maxOverhead?: number;
	/** Longest back-off between restarts. @default 10000 */
	maxBackoffMs?: number;
	pid: number;
}

/**
Runs `backend.sample()` every `intervalMs` (measured start to start; a late sample is not made up for).
Events: `sample` (Sample), `status` (SamplerStatus), `error` is never emitted.
*/
export class Sampler extends EventEmitter {
	/** The interval in force (may be longer than requested: see maxOverhead). */
	intervalMs: number;
	/** The interval the user asked for. */
	requestedIntervalMs: number;
	private readonly recentStops: number[] = [];
	private backend: Backend | undefined;
	/** A backend still attaching: stop() must be able to end it, not wait for it. */
	private starting: Backend | undefined;
	private running = false;
	private timer: NodeJS.Timeout | undefined;
	private wake: (() => void) | undefined;
	private loopDone: Promise<void> | undefined;
	private backoffMs = 500;
	status: SamplerStatus = {state: 'attaching'};

	constructor(readonly options: SamplerOptions) {
		super();
		this.intervalMs = options.intervalMs;
		this.requestedIntervalMs = options.intervalMs;
	}

	/** Attach and sample until `stop()`. Rejects only when the first attach fails (AttachError). */
	async start(): Promise<void> {
		this.running = true;
		this.setStatus({state: 'attaching'});
		await this.attach();
		this.loopDone = this.loop();
	}

	/** Change the interval; takes effect at the next wait. */
	setIntervalMs(ms: number): void {
		this.intervalMs = ms;
		this.requestedIntervalMs = ms;
		this.recentStops.length = 0;
	}

	/** Stop sampling, detach, and leave the target running. */
	async stop(): Promise<void> {
		this.running = false;
		if (this.timer) clearTimeout(this.timer);
		this.wake?.();
		// An attach in progress (symbols of a big QEMU, a slow machine) is cut short rather than waited for.
		await this.starting?.stop().catch(() => {});
		await this.loopDone;
		await this.backend?.stop({final: true});
		this.backend = undefined;
		if (this.status.state !== 'target-exited') this.setStatus({state: 'stopped'});
	}

	private async attach(): Promise<void> {
		const backend = this.options.createBackend();
		this.starting = backend;
		try {
			await backend.start({
				// gdb's word is checked against /proc: only a process that is really gone has exited.
				onTargetExit: () => {
					if (!processExists(this.options.pid)) this.setStatus({state: 'target-exited', message: `process ${this.options.pid} exited`});
				},
			});
		} finally {
			this.starting = undefined;
		}
		if (!this.running && this.loopDone) {
			await backend.stop();
			return;
		}
		this.backend = backend;
		this.backoffMs = 500;
		this.setStatus({state: 'sampling'});
	}

	private async loop(): Promise<void> {
		let next = performance.now();
		while (this.running) {
			if (this.status.state === 'target-exited') {
				// The target is gone: let gdb go too, now rather than at quit.
				await this.backend?.stop().catch(() => {});
				this.backend = undefined;
				break;
			}
			const started = performance.now();
			try {
				if (!this.backend) await this.attach();
				const sample = await this.backend!.sample();
				if (!this.running) break;
				this.emit('sample', sample);
				this.guardCost(sample.stopMs);
			} catch (error) {
				if (!this.running) break;
				if (!processExists(this.options.pid)) {
					await this.backend?.stop().catch(() => {});
					this.backend = undefined;
					this.setStatus({state: 'target-exited', message: `process ${this.options.pid} exited`});
					break;
				}
				await this.recover(error);
				continue;
			}
			// Jittered by +-50% (py-spy draws its intervals at random for the same reason): a fixed period can alias
			// with a periodic target and over-sample one phase of it.
			const step = this.intervalMs * (0.5 + Math.random());
			next = Math.max(started + step, next + step);
			// A sample that overran its slot: start the next one a full interval after now, not in a burst.
			if (next < performance.now()) next = performance.now() + this.intervalMs;
			await this.sleep(next - performance.now());
		}
	}

	// The cost guard: keep the target's stopped share of time under the budget by sampling less often.
	private guardCost(stopMs: number): void {
		const budget = this.options.maxOverhead ?? 0.05;
		if (!Number.isFinite(stopMs) || budget <= 0) return;
		this.recentStops.push(stopMs);
		if (this.recentStops.length > 10) this.recentStops.shift();
		if (this.recentStops.length < 5) return;
		const median = [...this.recentStops].sort((a, b) => a - b)[Math.floor(this.recentStops.length / 2)]!;
		const wanted = Math.max(this.requestedIntervalMs, Math.min(60_000, Math.ceil(median / budget / 10) * 10));
		// Raise at once; come back down only when clearly cheaper again (hysteresis).
		if (wanted > this.intervalMs || wanted < this.intervalMs / 2 || (wanted === this.requestedIntervalMs && this.intervalMs !== wanted && median / wanted <= budget / 2)) {
			const raised = wanted > this.intervalMs;
			this.intervalMs = wanted;
			this.recentStops.length = 0;
			this.emit('interval', wanted);
			if (raised) this.setStatus({state: 'sampling', message: `overhead guard: a sample stops the target ${median.toFixed(1)} ms, so sampling every ${wanted} ms to stay under ${(budget * 100).toFixed(0)}% (--max-overhead)`});
		}
	}

	// gdb died, hung or refused: the backend already resumed the target; start again after a back-off.
	private async recover(error: unknown): Promise<void> {
		const what = error instanceof TargetExitedError ? `gdb reported the end of process ${this.options.pid}, but it still runs; gdb restarted`
			: error instanceof GdbTimeoutError ? `a sample took too long (${error.message}); gdb killed, target resumed`
			: error instanceof GdbExitedError ? `gdb ended (${error.message}); target resumed`
			: error instanceof AttachError ? error.message
			: error instanceof ProfilerError ? error.message
			: String(error);
		await this.backend?.stop().catch(() => {});
		this.backend = undefined;
		this.setStatus({state: 'restarting', message: `${what}; reattaching in ${(this.backoffMs / 1000).toFixed(1)} s`});
		await this.sleep(this.backoffMs);
		this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 10_000);
	}

	private sleep(ms: number): Promise<void> {
		if (ms <= 0 || !this.running) return Promise.resolve();
		return new Promise(resolve => {
			this.wake = resolve;
			this.timer = setTimeout(resolve, ms);
		});
	}

	private setStatus(status: SamplerStatus): void {
		// The end of the target is reported once, however many paths notice it.
		if (status.state === 'target-exited' && this.status.state === 'target-exited') return;
		this.status = status;
		this.emit('status', status);
	}
}
