// Command-line options: defaults and validation. Pure: flags in, a Config or a one-line error out.

export type BackendName = 'mi' | 'batch';
export type OutputFormat = 'text' | 'json';

export interface Config {
	pid?: number;
	demo: boolean;
	intervalMs: number;
	/** Least time between two redraws for new samples (keys redraw at once). */
	refreshMs: number;
	top: number;
	backend: BackendName;
	durationS?: number;
	format: OutputFormat;
	maxDepth: number;
	gdb: string;
	python: boolean;
	/** Stop time after which a sample is abandoned and gdb restarted. */
	sampleTimeoutMs: number;
	/** Arguments passed to the demo target. */
	demoArgs: string[];
	/** `--demo vm`: the real QEMU 9p VM of demo/vm/ instead of the demo target. */
	demoVm?: {msize?: number; namedThreads: boolean};
	/** gdb's non-stop mode: one thread stopped at a time instead of all at once. */
	nonStop: boolean;
	/** gdb at real-time priority (SCHED_FIFO 1): the target's busy threads cannot delay a sample's stop. */
	gdbRt: boolean;
	headless: boolean;
	/** Print the running QEMU processes and exit. */
	list: boolean;
	/** Choose the QEMU process by VM name or command-line text. */
	match?: string;
	/** Run gdb inside the target's PID and mount namespaces. */
	nsenter: boolean;
	/** When the target exits, wait for the next matching QEMU process and attach to it. */
	follow: boolean;
	/** Budget for the target's stopped share of time (0..1); 0 turns the guard off. */
	maxOverhead: number;
	/** Snapshot directory. */
	output?: string;
	record?: string;
	replay?: string;
	/** Replay speed: 1 = as recorded, 0 = as fast as possible. */
	speed: number;
}

/** The raw flags as meow parses them. */
export interface Flags {
	pid?: number;
	demo?: boolean;
	/** The word after --demo: `vm` for the real VM. */
	demoKind?: string;
	msize?: number;
	namedThreads?: boolean;
	nonStop?: boolean;
	gdbRt?: boolean;
	interval?: number;
	refresh?: number;
	top?: number;
	backend?: string;
	duration?: number;
	format?: string;
	maxDepth?: number;
	gdb?: string;
	python?: boolean;
	sampleTimeout?: number;
	vcpus?: number;
	workers?: number;
	unnamed?: boolean;
	output?: string;
	record?: string;
	replay?: string;
	speed?: number;
	maxOverhead?: number;
	list?: boolean;
	match?: string;
	nsenter?: boolean;
	follow?: boolean;
}

/** Thrown for invalid flags; the message is the one line the user sees. */
export class ConfigError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'ConfigError';
	}
}

export const DEFAULT_INTERVAL_MS = 200;
/** py-spy top redraws every second, htop every 1.5 s, perf top every 2 s; a redraw costs Ink 3-6 ms of CPU. */
export const DEFAULT_REFRESH_MS = 1000;

/** Validate flags into a Config. `stdoutIsTty` decides headless mode when no --duration is given. */
export function toConfig(flags: Flags, stdoutIsTty: boolean): Config {
	const intervalMs = flags.interval ?? DEFAULT_INTERVAL_MS;
	if (!Number.isFinite(intervalMs) || intervalMs < 10 || intervalMs > 60_000) throw new ConfigError(`--interval must be between 10 and 60000 ms (got ${flags.interval})`);
	const refreshMs = flags.refresh ?? DEFAULT_REFRESH_MS;
	if (!Number.isFinite(refreshMs) || refreshMs < 100 || refreshMs > 60_000) throw new ConfigError(`--refresh must be between 100 and 60000 ms (got ${flags.refresh})`);
	const top = flags.top ?? 20;
	if (!Number.isInteger(top) || top < 1 || top > 10_000) throw new ConfigError(`--top must be a whole number from 1 to 10000 (got ${flags.top})`);
	const backend = (flags.backend ?? 'mi') as BackendName;
	if (backend !== 'mi' && backend !== 'batch') throw new ConfigError(`--backend must be mi or batch (got ${flags.backend})`);
	const format = (flags.format ?? 'text') as OutputFormat;
	if (format !== 'text' && format !== 'json') throw new ConfigError(`--format must be text or json (got ${flags.format})`);
	if (flags.pid !== undefined && (!Number.isInteger(flags.pid) || flags.pid <= 0)) throw new ConfigError(`--pid must be a positive whole number (got ${flags.pid})`);
	const targets = [flags.pid !== undefined, flags.demo === true, flags.replay !== undefined].filter(Boolean).length;
	if (targets > 1) throw new ConfigError('--pid, --demo and --replay exclude each other');
	if (flags.match !== undefined && (flags.pid !== undefined || flags.demo || flags.replay !== undefined)) throw new ConfigError('--match chooses among running QEMU processes: it excludes --pid, --demo and --replay');
	if (flags.match === '') throw new ConfigError('--match needs a text (a VM name or part of a command line)');
	if (flags.nsenter && (flags.demo || flags.replay !== undefined)) throw new ConfigError('--nsenter is for a target in another PID namespace; not with --demo or --replay');
	if (flags.nsenter && flags.backend === 'batch') throw new ConfigError('--nsenter works with the mi backend only');
	if (flags.follow && flags.replay !== undefined) throw new ConfigError('--follow follows live QEMU processes; not with --replay');
	if (flags.replay !== undefined && flags.record !== undefined) throw new ConfigError('--record cannot be used with --replay');
	if (flags.speed !== undefined && (!Number.isFinite(flags.speed) || flags.speed < 0)) throw new ConfigError(`--speed must be 0 (as fast as possible) or a positive factor (got ${flags.speed})`);
	if (flags.maxOverhead !== undefined && (!Number.isFinite(flags.maxOverhead) || flags.maxOverhead < 0 || flags.maxOverhead > 100)) throw new ConfigError(`--max-overhead must be a percentage from 0 (off) to 100 (got ${flags.maxOverhead})`);
	if (flags.output === '') throw new ConfigError('--output needs a directory');
	if (flags.record === '' || flags.replay === '') throw new ConfigError('--record and --replay need a file name');
	if (flags.duration !== undefined && (!Number.isFinite(flags.duration) || flags.duration <= 0)) throw new ConfigError(`--duration must be a positive number of seconds (got ${flags.duration})`);
	const maxDepth = flags.maxDepth ?? 64;
	if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > 1000) throw new ConfigError(`--max-depth must be from 1 to 1000 (got ${flags.maxDepth})`);
	const sampleTimeoutMs = flags.sampleTimeout ?? 5000;
	if (!Number.isFinite(sampleTimeoutMs) || sampleTimeoutMs < 50) throw new ConfigError(`--sample-timeout must be at least 50 ms (got ${flags.sampleTimeout})`);
	if (flags.demoKind !== undefined && (!flags.demo || flags.demoKind !== 'vm')) throw new ConfigError(`unexpected argument "${flags.demoKind}"`);
	const vm = flags.demo === true && flags.demoKind === 'vm';
	if ((flags.msize !== undefined || flags.namedThreads) && !vm) throw new ConfigError('--msize and --named-threads shape the demo VM: use them with --demo vm');
	if (vm && (flags.vcpus !== undefined || flags.workers !== undefined || flags.unnamed)) throw new ConfigError('--vcpus, --workers and --unnamed shape the demo target, not the demo VM (--msize, --named-threads)');
	if (flags.msize !== undefined && (!Number.isInteger(flags.msize) || flags.msize < 512)) throw new ConfigError(`--msize must be a whole number of bytes, at least 512 (got ${flags.msize})`);
	if (flags.backend === 'batch') {
		for (const [flag, set] of [['--non-stop', flags.nonStop], ['--gdb-rt', flags.gdbRt]] as const) if (set) throw new ConfigError(`${flag} works with the mi backend only`);
	}
	if (flags.nonStop && flags.python) throw new ConfigError('--non-stop reads one thread at a time: not with --python');
	const demoArgs: string[] = [];
	if (flags.vcpus !== undefined) demoArgs.push('--vcpus', String(flags.vcpus));
	if (flags.workers !== undefined) demoArgs.push('--workers', String(flags.workers));
	if (flags.unnamed) demoArgs.push('--unnamed');
	return {
		pid: flags.pid,
		demo: flags.demo ?? false,
		intervalMs,
		refreshMs,
		top,
		backend,
		durationS: flags.duration,
		format,
		maxDepth,
		gdb: flags.gdb ?? 'gdb',
		python: flags.python ?? false,
		sampleTimeoutMs,
		demoArgs,
		demoVm: vm ? {msize: flags.msize, namedThreads: flags.namedThreads ?? false} : undefined,
		nonStop: flags.nonStop ?? false,
		gdbRt: flags.gdbRt ?? false,
		headless: flags.duration !== undefined || !stdoutIsTty,
		maxOverhead: (flags.maxOverhead ?? 5) / 100,
		list: flags.list ?? false,
		match: flags.match,
		nsenter: flags.nsenter ?? false,
		follow: flags.follow ?? false,
		output: flags.output,
		record: flags.record,
		replay: flags.replay,
		speed: flags.speed ?? (flags.duration !== undefined || !stdoutIsTty ? 0 : 1),
	};
}
