// The composition root (loaded by cli.tsx): flags -> config, source (live gdb + /proc, or a recording) -> analysis -> store, then the
// Ink screen or headless output. The only file that knows both the data side and the screen, and the only one
// that exits. Every way out goes through `finish`, which detaches gdb and wakes the target before exiting.

import {EventEmitter} from 'node:events';
import {render} from 'ink';
import meow from 'meow';
import App from '../components/App.js';
import {IoPanel} from '../components/IoPanel.js';
import {Store, windowLabel} from './app/store.js';
import {StopStats} from './app/stats.js';
import {ConfigError, toConfig, type Config} from './config.js';
import {startDemo, startVmDemo, type DemoProcess} from './demo.js';
import {ProfilerError} from './errors.js';
import {buildReport, reportToJson, reportToText, type Report} from './export/report.js';
import {renderSnapshot} from './export/snapshot.js';
import {snapshotBaseName, snapshotDirProblem, writeSnapshot} from './export/write.js';
import type {WindowSpec} from './profile/aggregate.js';
import type {Profile} from './profile/aggregate.js';
import {BatchBackend} from './gdb/batch-backend.js';
import {MiBackend} from './gdb/mi-backend.js';
import {commandLine, continueTarget, processExists} from './gdb/target.js';
import {Analysis} from './profile/analysis.js';
import type {Sample} from './profile/model.js';
import {connect, IoSide, LiveSource, readRecording, Recorder, ReplaySource, type Source} from './runtime.js';
import {Sampler, type Backend} from './sampler.js';
import {chooseTarget, formatQemuList, listQemuProcesses, targetNotes, type QemuProcess} from './discover.js';
import {findOnPath, innerToOuterTids, namespacePid, nsenterPrefix, nsenterProblems} from './namespaces.js';
import {FollowingSource, followKeyOf} from './follow.js';
import {Picker} from '../components/Picker.js';

const cli = meow(`
	Usage
	  $ pmptop [options]               find the running QEMU process (a picker when there are several)
	  $ pmptop --pid PID [options]     profile a running process (a QEMU VM first of all)
	  $ pmptop --demo [options]        profile the bundled demo target (built with gcc on first use)
	  $ pmptop --demo vm [options]     boot the real QEMU 9p VM of demo/vm/ (cached after the first run) and profile it
	  $ pmptop --replay FILE           play a recording made with --record, without gdb or the target

	Options
	  --pid PID            process to attach to (you need ptrace rights: same user, or root)
	  --list               list running QEMU processes (PID, VM name, uptime, threads, 9p tags) and exit
	  --match TEXT         choose the QEMU process by VM name or command-line substring
	  --follow             when the target exits, wait for the next matching process and attach to it
	  --nsenter            run gdb inside the target's PID and mount namespaces (a VM in a build sandbox)
	  --demo               start the bundled QEMU-shaped demo target and profile it
	  --interval MS        time between samples (default 200)
	  --refresh MS         time between screen redraws for new samples (default 1000; keys redraw at once)
	  --top N              frames per thread in headless output and snapshots (default 20)
	  --backend mi|batch   mi: one persistent gdb (default); batch: the classic gdb -batch per sample
	  --duration S         headless: sample for S seconds, print the hot lists, exit
	  --format text|json   headless output format (default text)
	  --output DIR         where snapshots go (key s; headless: also written at the end); default .
	  --record FILE        stream every sample and I/O reading to FILE (JSON lines) while running
	  --replay FILE        play a recording in the same screen (--speed N, 0 = as fast as possible)
	  --max-overhead PCT   keep the target stopped at most this share of the time by sampling less often (default 5; 0 = off)
	  --max-depth N        frames read per thread (default 64)
	  --sample-timeout MS  a sample stopped longer than this is abandoned, gdb restarted (default 5000)
	  --gdb PATH           gdb executable (default: gdb on PATH)
	  --python             read all frames with one gdb Python command instead of -stack-list-frames per thread
	  --non-stop           gdb's non-stop mode: stop and read one thread at a time (shorter stalls, threads not
	                       captured at the same instant)
	  --gdb-rt             run gdb at real-time priority (SCHED_FIFO 1; root or CAP_SYS_NICE), so that busy
	                       target threads cannot delay gdb while the target is stopped: a shorter, steadier stop
	  --vcpus N, --workers N, --unnamed   demo target shape (with --demo)
	  --msize N, --named-threads          demo VM shape (with --demo vm): 9p msize (default 8192), QEMU thread names

	Without a terminal on stdout pmptop runs headless (10 s unless --duration is given).
	Keys: press ? in the live screen.
`, {
	importMeta: import.meta,
	flags: {
		pid: {type: 'number'},
		demo: {type: 'boolean'},
		list: {type: 'boolean'},
		match: {type: 'string'},
		nsenter: {type: 'boolean'},
		follow: {type: 'boolean'},
		interval: {type: 'number'},
		refresh: {type: 'number'},
		top: {type: 'number'},
		backend: {type: 'string'},
		duration: {type: 'number'},
		format: {type: 'string'},
		output: {type: 'string'},
		record: {type: 'string'},
		replay: {type: 'string'},
		speed: {type: 'number'},
		maxDepth: {type: 'number'},
		maxOverhead: {type: 'number'},
		sampleTimeout: {type: 'number'},
		gdb: {type: 'string'},
		python: {type: 'boolean', default: false},
		vcpus: {type: 'number'},
		workers: {type: 'number'},
		unnamed: {type: 'boolean'},
		msize: {type: 'number'},
		namedThreads: {type: 'boolean'},
		nonStop: {type: 'boolean'},
		gdbRt: {type: 'boolean'},
	},
	allowUnknownFlags: true,
});

const KNOWN_FLAGS = new Set(['list', 'match', 'nsenter', 'follow', 'maxOverhead', 'output', 'pid', 'demo', 'interval', 'refresh', 'top', 'backend', 'duration', 'format', 'record', 'replay', 'speed', 'maxDepth', 'sampleTimeout', 'gdb', 'python', 'vcpus', 'workers', 'unnamed', 'msize', 'namedThreads', 'nonStop', 'gdbRt', 'help', 'version']);

// SIGINT, SIGTERM and SIGHUP are caught from the first moment, so that one arriving while gdb attaches still
// leads through a clean detach (headless: an early end with the report; live: quit).
const signals = new EventEmitter();
let caughtSignal: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
	process.on(signal, () => {
		caughtSignal ??= signal;
		signals.emit('signal', signal);
	});
}

/** Call `handler` for the first signal, whether it already came or comes later. */
function onSignal(handler: (signal: NodeJS.Signals) => void): void {
	if (caughtSignal) handler(caughtSignal);
	else signals.once('signal', handler);
}

/** Print one line and exit; never a stack trace. */
function fail(message: string, code = 2): never {
	process.stderr.write(`pmptop: ${message}\n`);
	process.exit(code);
}

/** True when an executable named `command` is on PATH (or at that path). */
function onPath(command: string): boolean {
	return findOnPath(command) !== undefined;
}

/** The backend as the header, reports and recordings name it. */
function backendLabel(config: Config): string {
	if (config.backend !== 'mi') return config.backend;
	return ['mi', config.nonStop ? 'non-stop' : '', config.gdbRt ? 'rt' : ''].filter(Boolean).join(' ');
}

function createBackend(config: Config, pid: number): Backend {
	if (config.backend === 'batch') return new BatchBackend({pid, gdbPath: config.gdb});
	const nsenter = config.nsenter ? nsenterOptions(pid) : {};
	return new MiBackend({pid, gdbPath: config.gdb, maxDepth: config.maxDepth, sampleTimeoutMs: config.sampleTimeoutMs, python: config.python, nonStop: config.nonStop, realtime: config.gdbRt, ...nsenter});
}

/** gdb inside the target's namespaces: a prefix, the PID it has there, and its thread ids mapped back to ours. */
function nsenterOptions(pid: number): {prefix: string[]; attachPid: number; mapTid: (tid: number) => number} {
	let map = innerToOuterTids(pid);
	return {
		prefix: nsenterPrefix(pid),
		attachPid: namespacePid(pid),
		mapTid: tid => {
			if (!map.has(tid)) map = innerToOuterTids(pid);
			return map.get(tid) ?? tid;
		},
	};
}

/** A live source for one PID: its sampler and its /proc reader. */
function liveSource(config: Config, pid: number, analysis: Analysis): LiveSource {
	const sampler = new Sampler({pid, intervalMs: config.intervalMs, maxOverhead: config.maxOverhead, createBackend: () => createBackend(config, pid)});
	return new LiveSource(sampler, pid, () => analysis.workerTids());
}

/** No --pid: find the QEMU process, with a picker when there are several and a terminal to ask on. */
async function pickTarget(config: Config): Promise<number> {
	const list = listQemuProcesses();
	const choice = chooseTarget(list, {match: config.match, interactive: process.stdout.isTTY === true && process.stdin.isTTY === true && !config.headless});
	if (choice.kind === 'attach') return choice.process.pid;
	if (choice.kind === 'none' || choice.kind === 'ambiguous') fail(choice.message, 1);
	return new Promise<number>(resolve => {
		const ink = render(<Picker processes={choice.processes as QemuProcess[]} width={process.stdout.columns ?? 100} onChoose={pid => {
			ink.unmount();
			resolve(pid);
		}} onCancel={() => {
			ink.unmount();
			process.exit(0);
		}} />, {exitOnCtrlC: false});
	});
}

/** Everything a run needs, built from the config. */
interface Run {
	config: Config;
	pid: number;
	command: string;
	backendName: string;
	source: Source;
	analysis: Analysis;
	io: IoSide;
	recorder?: Recorder;
	demo?: DemoProcess;
	replay: boolean;
	notes: string[];
	/** The clock the I/O figures are judged against (a replay's own time). */
	ioNow: () => number;
}

async function prepare(config: Config): Promise<Run> {
	const analysis = new Analysis();
	const io = new IoSide();
	if (config.replay) {
		let recording;
		try {
			recording = readRecording(config.replay);
		} catch (error) {
			fail(error instanceof Error ? error.message : String(error), 1);
		}
		const {meta, events} = recording;
		io.shares = meta.shares;
		const source = new ReplaySource(events, config.speed);
		// The recording's own interval: duty cycles and the header describe the recorded session.
		return {config: {...config, intervalMs: meta.intervalMs}, pid: meta.pid, command: meta.command, backendName: `replay of ${meta.backend}`, source, analysis, io, replay: true, notes: [`replaying ${config.replay}`], ioNow: () => io.state.lastAtMs ?? 0};
	}
	if (!onPath(config.gdb)) fail(`gdb not found${config.gdb === 'gdb' ? ' on PATH' : ` at ${config.gdb}`}: install it (Debian: apt-get install gdb)`);
	let demo: DemoProcess | undefined;
	if (config.demo) {
		try {
			demo = config.demoVm ? await startVmDemo(config.demoVm) : await startDemo(config.demoArgs);
		} catch (error) {
			fail(error instanceof Error ? error.message : String(error), 1);
		}
		// Interrupted while the VM booted (vm.mjs runs in its own process group and finished its start).
		if (caughtSignal) {
			await demo?.kill();
			fail(`${caughtSignal} while the demo started: it is stopped again`, 130);
		}
	}
	const pid = demo?.pid ?? config.pid ?? (await pickTarget(config));
	if (!processExists(pid)) {
		await demo?.kill();
		fail(`no process with PID ${pid}`, 1);
	}
	if (config.nsenter) {
		const problems = nsenterProblems(pid, {gdb: config.gdb});
		if (problems.length > 0) fail(problems[0]!, 1);
	}
	const command = commandLine(pid) || `PID ${pid}`;
	const source = new FollowingSource(liveSource(config, pid, analysis), next => liveSource(config, next, analysis), followKeyOf(pid, config.match), config.follow);
	await io.loadShares(pid);
	let recorder: Recorder | undefined;
	if (config.record) {
		try {
			recorder = new Recorder(config.record, {type: 'meta', version: 1, pid, command, backend: backendLabel(config), intervalMs: config.intervalMs, startedAtMs: Date.now(), shares: io.shares});
		} catch (error) {
			await demo?.kill();
			fail(error instanceof Error ? error.message : String(error), 1);
		}
	}
	const demoNote = config.demoVm ? `demo VM (msize ${config.demoVm.msize ?? 8192}): pmptop started it and stops it on quit` : 'demo target: pmptop started it and stops it on quit';
	const notes = [...(demo ? [demoNote] : []), ...targetNotes(pid, {nsenter: config.nsenter, demo: demo !== undefined})];
	if (config.nonStop) notes.push('non-stop: one thread stopped at a time; the stop shown is the longest any thread was held');
	return {config, pid, command, backendName: backendLabel(config), source, analysis, io, recorder, demo, replay: false, notes, ioNow: Date.now};
}

async function main(): Promise<void> {
	let config: Config;
	try {
		config = toConfig({...cli.flags, demoKind: cli.flags.demo ? cli.input[0] : undefined}, process.stdout.isTTY === true);
	} catch (error) {
		if (error instanceof ConfigError) fail(`${error.message} (see pmptop --help)`);
		throw error;
	}
	const unknown = Object.keys(cli.unnormalizedFlags).find(name => !KNOWN_FLAGS.has(name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())));
	if (unknown) fail(`unknown flag --${unknown} (see pmptop --help)`);
	const extra = cli.input.slice(config.demoVm ? 1 : 0);
	if (extra.length > 0) fail(`unexpected argument "${extra[0]}" (see pmptop --help)`);

	if (config.list) {
		process.stdout.write(formatQemuList(listQemuProcesses()) + '\n');
		return;
	}
	const outputProblem = config.output !== undefined ? snapshotDirProblem(config.output) : undefined;
	if (outputProblem && config.headless) fail(outputProblem, 1);
	const run = await prepare(config);
	if (outputProblem) run.notes.push(outputProblem);
	const {source, pid} = run;

	let finishing: Promise<void> | undefined;
	const finish = (code: number, message?: string): Promise<void> => {
		finishing ??= (async () => {
			await source.stop().catch(() => {});
			if (!run.replay) continueTarget(pid);
			run.recorder?.close();
			await run.demo?.kill();
			if (message) process.stderr.write(`pmptop: ${message}\n`);
			process.exitCode = code;
		})();
		return finishing;
	};
	process.on('uncaughtException', error => void finish(1, `internal error: ${error.message}`).then(() => process.exit(1)));
	process.on('unhandledRejection', error => void finish(1, `internal error: ${error instanceof Error ? error.message : String(error)}`).then(() => process.exit(1)));

	if (config.headless) {
		await runHeadless(run, finish);
		// Exit now that the report is out: a handle left open (a pipe of a gdb that is already gone) must not keep
		// pmptop, and with it the wrapper's watcher, alive.
		process.exit(process.exitCode ?? 0);
	}
	await runLive(run, finish);
}

async function runLive(run: Run, finish: (code: number, message?: string) => Promise<void>): Promise<void> {
	const {config, source} = run;
	let ink: ReturnType<typeof render> | undefined;
	const exit = (code: number) => void finish(code).then(() => {
		ink?.unmount();
		process.exit(process.exitCode ?? code);
	});
	const store: Store = new Store({
		info: {pid: run.pid, command: run.command, backend: run.backendName, notes: run.notes, replay: run.replay},
		intervalMs: config.intervalMs,
		refreshMs: config.refreshMs,
		analysis: run.analysis,
		readRateOf: tid => run.io.readRateOf(tid),
		effects: {
			quit: () => exit(0),
			setIntervalMs: ms => source.setIntervalMs(ms),
			snapshot: () => {
				const window = store.window;
				const report = buildReport(store.shown, {
					...reportBasics(run),
					window,
					windowLabel: windowLabel(window),
					intervalMs: store.intervalMs,
					hideIdle: store.ui.hideIdle,
					sortBy: store.ui.sortBy,
					stop: store.stops.summary(store.intervalMs),
					mark: store.ui.mark,
				});
				store.setStatus('writing snapshot...');
				writeSnapshotFiles(run, store.shown, window, report, store.ui.hideIdle).then(
					paths => store.setStatus(`snapshot: ${paths[0]!.replace(/\.txt$/, '')}.{txt,folded,speedscope.json}`),
					(error: Error) => store.setStatus(error.message, 'error'),
				);
			},
		},
	});
	connect(source, (s: Sample) => store.ingest(s), r => {
		run.io.ingest(r);
		store.setExtra('io', run.io.view(run.ioNow()));
	}, run.recorder);
	source.on('status', status => store.setSamplerStatus(status));
	source.on('interval', (ms: number) => store.setIntervalMs(ms));
	onTargetEvents(run, {
		changed: (pid, command) => {
			store.setInfo({pid, command, notes: [...run.notes]});
			store.setStatus(`--follow: now profiling PID ${pid}; the earlier run's threads stay listed as exited`, 'warn');
		},
		exited: () => {
			if (run.config.output === undefined) return;
			store.dispatch({type: 'snapshot'});
		},
	});
	const resize = () => store.setSize(process.stdout.columns ?? 100, process.stdout.rows ?? 30);
	resize();
	process.stdout.on('resize', resize);
	onSignal(signal => exit(signal === 'SIGINT' ? 130 : 0));
	try {
		await source.start();
	} catch (error) {
		await finish(1);
		fail(error instanceof ProfilerError ? error.message : String(error), 1);
	}
	store.setSamplerStatus(source.status);
	const panel = ({view, width}: {view: {extra: Record<string, unknown>}; width: number}) => {
		const ioView = view.extra.io as Parameters<typeof IoPanel>[0]['view'] | undefined;
		return ioView ? <IoPanel view={ioView} width={width} /> : null;
	};
	ink = render(<App store={store} sidePanel={panel} />, {exitOnCtrlC: false, maxFps: 10, patchConsole: true});
	await ink.waitUntilExit();
	await finish(0);
}

async function runHeadless(run: Run, finish: (code: number, message?: string) => Promise<void>): Promise<void> {
	const {config, source, analysis} = run;
	// Every stop of the run (a report covers the whole run), not only the recent ones the screen keeps.
	const stops = new StopStats(1_000_000);
	let ended: string | undefined;
	let intervalMs = config.intervalMs;
	source.on('interval', (ms: number) => (intervalMs = ms));
	connect(source, (s: Sample) => {
		analysis.ingest(s);
		stops.add(s.stopMs);
	}, r => run.io.ingest(r), run.recorder);
	onTargetEvents(run, {
		changed: pid => process.stderr.write(`pmptop: --follow: now profiling PID ${pid}\n`),
		exited: () => {},
	});
	source.on('status', status => {
		if (status.state === 'target-exited') ended = `process ${run.pid} exited during sampling`;
		if (status.state === 'restarting' && status.message) process.stderr.write(`pmptop: ${status.message}\n`);
	});
	try {
		await source.start();
	} catch (error) {
		await finish(1);
		fail(error instanceof ProfilerError ? error.message : String(error), 1);
	}
	const durationMs = (config.durationS ?? (run.replay ? Infinity : 10)) * 1000;
	await new Promise<void>(resolve => {
		const timer = Number.isFinite(durationMs) ? setTimeout(resolve, durationMs) : undefined;
		const early = () => {
			if (timer) clearTimeout(timer);
			resolve();
		};
		onSignal(early);
		// With --follow a target's end is not the end of the run: only the duration (or a signal) is.
		const over = (state: string) => (state === 'target-exited' && !config.follow) || state === 'stopped';
		source.on('status', status => over(status.state) && early());
		// A fast replay may already be over.
		if (over(source.status.state)) early();
	});
	await finish(0);
	const report = buildReport(analysis.profile, {
		...reportBasics(run),
		window: 'all',
		windowLabel: windowLabel('all'),
		intervalMs,
		stop: stops.summary(intervalMs),
	});
	process.stdout.write(config.format === 'json' ? reportToJson(report) : reportToText(report));
	if (ended) process.stderr.write(`pmptop: ${ended}\n`);
	if (config.output !== undefined) {
		try {
			const paths = await writeSnapshotFiles(run, analysis.profile, 'all', report, false);
			process.stderr.write(`pmptop: snapshot written: ${paths.join(' ')}\n`);
		} catch (error) {
			fail(error instanceof Error ? error.message : String(error), 1);
		}
	}
}

/** React to the live target changing (--follow) or ending; keeps the run's facts current. */
function onTargetEvents(run: Run, on: {changed: (pid: number, command: string) => void; exited: () => void}): void {
	run.source.on('status', status => {
		if (status.state === 'target-exited' && !status.message?.includes('--follow: waiting')) on.exited();
	});
	run.source.on('target', ({pid}: {pid: number}) => {
		run.pid = pid;
		run.command = commandLine(pid) || `PID ${pid}`;
		run.io = new IoSide();
		void run.io.loadShares(pid);
		run.notes = targetNotes(pid, {nsenter: run.config.nsenter});
		on.changed(pid, run.command);
	});
}

/** The parts of a report every caller shares. */
function reportBasics(run: Run) {
	return {
		pid: run.pid,
		command: run.command,
		backend: run.backendName,
		top: run.config.top,
		roleOf: run.analysis.roleOf,
		takenAtMs: Date.now(),
		io: run.io.hasData ? run.io.report(run.ioNow()) : undefined,
		ninepOps: run.analysis.ninepMix(),
	};
}

/** Render and write the three snapshot files; resolves with their paths, rejects with a one-line error. */
async function writeSnapshotFiles(run: Run, profile: Profile, window: WindowSpec, report: Report, hideIdle: boolean): Promise<string[]> {
	const files = renderSnapshot({profile, window, threads: 'all', report, version: cli.pkg.version ?? '0', hideIdle});
	const {paths} = await writeSnapshot(run.config.output ?? '.', snapshotBaseName(run.pid), files);
	return paths;
}

main().catch(error => fail(error instanceof Error ? error.message : String(error), 1));
