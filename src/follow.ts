// Following a VM test across VM restarts: when the target exits, wait for the next process that matches it and
// attach to that one, as one continuous source of samples.

import {EventEmitter} from 'node:events';
import {readdirSync, readFileSync, readlinkSync} from 'node:fs';
import {listQemuProcesses, matchQemu, parseVmName} from './discover.js';
import {processExists} from './gdb/target.js';
import {parseCmdline} from './procio/parse.js';
import type {Source, LiveSource} from './runtime.js';
import type {SamplerStatus} from './sampler.js';

/** What identifies "the same VM" for following: a --match text, or the executable plus the VM name. */
export interface FollowKey {
	match?: string;
	exe?: string;
	vmName?: string;
}

/** The follow key of a running process (its executable and `-name`). */
export function followKeyOf(pid: number, match?: string, procRoot = '/proc'): FollowKey {
	if (match) return {match};
	return {exe: exeOf(pid, procRoot), vmName: vmNameOf(pid, procRoot)};
}

/** A process's executable (a binary replaced on disk still counts as itself), undefined when unreadable. */
function exeOf(pid: number, procRoot: string): string | undefined {
	try {
		return readlinkSync(`${procRoot}/${pid}/exe`).replace(/ \(deleted\)$/, '');
	} catch {
		return undefined;
	}
}

/** The `-name` of a process's command line, undefined when it has none or is gone. */
function vmNameOf(pid: number, procRoot: string): string | undefined {
	try {
		return parseVmName(parseCmdline(readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8'))).name;
	} catch {
		return undefined;
	}
}

/** Processes (other than `exclude`) that match a follow key, lowest PID first. */
export function findFollowers(key: FollowKey, exclude: ReadonlySet<number>, procRoot = '/proc'): number[] {
	if (key.match) return matchQemu(listQemuProcesses({procRoot}), key.match).map(p => p.pid).filter(pid => !exclude.has(pid));
	if (!key.exe) return [];
	const found: number[] = [];
	for (const entry of readdirSync(procRoot)) {
		const pid = Number(entry);
		if (!Number.isInteger(pid) || pid === process.pid || exclude.has(pid)) continue;
		try {
			if (exeOf(pid, procRoot) !== key.exe) continue;
			if (!processExists(pid, procRoot)) continue;
			if (key.vmName !== undefined && vmNameOf(pid, procRoot) !== key.vmName) continue;
			found.push(pid);
		} catch {}
	}
	return found.sort((a, b) => a - b);
}

/**
A source that outlives its targets: events of the current live source pass through; when the target exits it
reports so (`status` target-exited) and, with `follow`, waits for the next matching process and attaches to it,
announcing it with a `target` event ({pid}).
*/
export class FollowingSource extends EventEmitter implements Source {
	private current: LiveSource;
	private stopped = false;
	private waiting: Promise<void> | undefined;
	private timer: NodeJS.Timeout | undefined;
	private intervalMs: number | undefined;
	readonly seen = new Set<number>();
	pid: number;

	constructor(
		first: LiveSource,
		private readonly make: (pid: number) => LiveSource,
		private readonly key: FollowKey,
		private readonly follow: boolean,
		private readonly pollMs = 1000,
	) {
		super();
		this.current = first;
		this.pid = first.pid;
		this.seen.add(first.pid);
		this.wire(first);
	}

	get status(): SamplerStatus {
		return this.current.status;
	}

	async start(): Promise<void> {
		await this.current.start();
	}

	async stop(): Promise<void> {
		this.stopped = true;
		if (this.timer) clearTimeout(this.timer);
		await this.current.stop();
		await this.waiting;
	}

	setIntervalMs(ms: number): void {
		this.intervalMs = ms;
		this.current.setIntervalMs(ms);
	}

	private wire(source: LiveSource): void {
		source.on('sample', s => source === this.current && this.emit('sample', s));
		source.on('io', r => source === this.current && this.emit('io', r));
		source.on('interval', ms => source === this.current && this.emit('interval', ms));
		source.on('status', (status: SamplerStatus) => {
			if (source !== this.current) return;
			this.emit('status', status);
			if (status.state === 'target-exited' && this.follow && !this.stopped) this.waiting ??= this.waitForNext();
		});
	}

	private async waitForNext(): Promise<void> {
		const old = this.current;
		await old.stop().catch(() => {});
		const what = this.key.match ? `a QEMU matching "${this.key.match}"` : this.key.vmName ? `the next VM named ${this.key.vmName}` : `the next ${this.key.exe ?? 'process'}`;
		this.emit('status', {state: 'target-exited', message: `process ${old.pid} exited at ${new Date().toTimeString().slice(0, 8)}; --follow: waiting for ${what}`});
		// A process that could not be attached to is tried again while it runs (a VM still starting, a gdb that died
		// during the attach: seen under load), after 1, 2, 4... at most 10 s; meanwhile other matches go first.
		const retries = new Map<number, {at: number; failures: number}>();
		while (!this.stopped) {
			const now = Date.now();
			const next = findFollowers(this.key, this.seen).find(pid => (retries.get(pid)?.at ?? 0) <= now);
			if (next !== undefined) {
				const source = this.make(next);
				if (this.intervalMs !== undefined) source.setIntervalMs(this.intervalMs);
				this.current = source;
				this.pid = next;
				this.wire(source);
				try {
					await source.start();
					this.seen.add(next);
					this.emit('target', {pid: next});
					this.emit('status', {state: 'sampling', message: `--follow: attached to PID ${next}`});
					this.waiting = undefined;
					return;
				} catch (error) {
					const failures = (retries.get(next)?.failures ?? 0) + 1;
					const waitMs = Math.min(10_000, 1000 * 2 ** (failures - 1));
					retries.set(next, {at: Date.now() + waitMs, failures});
					this.emit('status', {state: 'restarting', message: `--follow: cannot attach to PID ${next}: ${error instanceof Error ? error.message : String(error)}; trying again in ${waitMs / 1000} s`});
					continue;
				}
			}
			await new Promise<void>(resolve => {
				this.timer = setTimeout(resolve, this.pollMs);
			});
		}
		this.waiting = undefined;
	}
}
