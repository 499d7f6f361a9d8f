#!/usr/bin/env node
// The composition root: flags -> config, backend + sampler + store, then the Ink screen or headless output.
// The only file that knows both the data side and the screen; the only one that exits. It always detaches
// gdb before exiting, whatever ends the session.

import {accessSync, constants} from 'node:fs';
import {delimiter, join} from 'node:path';
import {render} from 'ink';
import meow from 'meow';
import App from '../components/App.js';
import {Store, windowLabel} from './app/store.js';
import {dutyCycle} from './app/stats.js';
import {ConfigError, toConfig, type Config} from './config.js';
import {startDemo, type DemoProcess} from './demo.js';
import {ProfilerError} from './errors.js';
import {buildReport, reportToJson, reportToText} from './export/report.js';
import {BatchBackend} from './gdb/batch-backend.js';
import {MiBackend} from './gdb/mi-backend.js';
import {commandLine, continueTarget, processExists} from './gdb/target.js';
import {Profile} from './profile/aggregate.js';
import {Sampler, type Backend} from './sampler.js';

const cli = meow(`
	Usage
	  $ pmptop --pid PID [options]     profile a running process (a QEMU VM first of all)
	  $ pmptop --demo [options]        profile the bundled demo target (built with gcc on first use)

	Options
	  --pid PID            process to attach to (you need ptrace rights: same user, or root)
	  --demo               start the bundled QEMU-shaped demo target and profile it
	  --interval MS        time between samples (default 200)
	  --top N              frames per thread in headless output (default 20)
	  --backend mi|batch   mi: one persistent gdb (default); batch: the classic gdb -batch per sample
	  --duration S         headless: sample for S seconds, print the hot lists, exit
	  --format text|json   headless output format (default text)
	  --max-depth N        frames read per thread (default 64)
	  --sample-timeout MS  a sample stopped longer than this is abandoned, gdb restarted (default 2000)
	  --gdb PATH           gdb executable (default: gdb on PATH)
	  --no-python          read frames with MI commands even when gdb has Python
	  --vcpus N, --workers N, --unnamed   demo target shape (with --demo)

	Without a terminal on stdout pmptop runs headless (10 s unless --duration is given).
	Keys: press ? in the live screen.
`, {
	importMeta: import.meta,
	flags: {
		pid: {type: 'number'},
		demo: {type: 'boolean'},
		interval: {type: 'number'},
		top: {type: 'number'},
		backend: {type: 'string'},
		duration: {type: 'number'},
		format: {type: 'string'},
		maxDepth: {type: 'number'},
		sampleTimeout: {type: 'number'},
		gdb: {type: 'string'},
		python: {type: 'boolean', default: true},
		vcpus: {type: 'number'},
		workers: {type: 'number'},
		unnamed: {type: 'boolean'},
	},
	allowUnknownFlags: true,
});

/** Print one line and exit; never a stack trace. */
function fail(message: string, code = 2): never {
	process.stderr.write(`pmptop: ${message}\n`);
	process.exit(code);
}

/** True when an executable named `command` is on PATH (or at that path). */
function onPath(command: string): boolean {
	const candidates = command.includes('/') ? [command] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map(d => join(d, command));
	return candidates.some(path => {
		try {
			accessSync(path, constants.X_OK);
			return true;
		} catch {
			return false;
		}
	});
}

function createBackend(config: Config, pid: number): Backend {
	return config.backend === 'batch'
		? new BatchBackend({pid, gdbPath: config.gdb})
		: new MiBackend({pid, gdbPath: config.gdb, maxDepth: config.maxDepth, sampleTimeoutMs: config.sampleTimeoutMs, noPython: !config.python});
}

async function main(): Promise<void> {
	let config: Config;
	try {
		config = toConfig(cli.flags, process.stdout.isTTY === true);
	} catch (error) {
		if (error instanceof ConfigError) fail(`${error.message} (see pmptop --help)`);
		throw error;
	}
	const known = new Set(['pid', 'demo', 'interval', 'top', 'backend', 'duration', 'format', 'maxDepth', 'sampleTimeout', 'gdb', 'python', 'vcpus', 'workers', 'unnamed', 'help', 'version']);
	const unknown = Object.keys(cli.unnormalizedFlags).find(name => !known.has(name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())));
	if (unknown) fail(`unknown flag --${unknown} (see pmptop --help)`);
	if (cli.input.length > 0) fail(`unexpected argument "${cli.input[0]}" (see pmptop --help)`);
	if (!onPath(config.gdb)) fail(`gdb not found${config.gdb === 'gdb' ? ' on PATH' : ` at ${config.gdb}`}: install it (Debian: apt-get install gdb)`);

	let demo: DemoProcess | undefined;
	if (config.demo) {
		try {
			demo = await startDemo(config.demoArgs);
		} catch (error) {
			fail(error instanceof Error ? error.message : String(error), 1);
		}
	}
	const pid = demo?.pid ?? config.pid!;
	if (!processExists(pid)) fail(`no process with PID ${pid}`, 1);

	const profile = new Profile();
	const command = commandLine(pid) || `PID ${pid}`;
	let backendName: string = config.backend;
	const sampler = new Sampler({
		pid,
		intervalMs: config.intervalMs,
		createBackend: () => {
			const b = createBackend(config, pid);
			return b;
		},
	});

	// Every way out goes through here: stop sampling, detach, wake the target, stop our own demo.
	let finishing: Promise<void> | undefined;
	const finish = (code: number, message?: string): Promise<void> => {
		finishing ??= (async () => {
			await sampler.stop().catch(() => {});
			continueTarget(pid);
			await demo?.kill();
			if (message) process.stderr.write(`pmptop: ${message}\n`);
			process.exitCode = code;
		})();
		return finishing;
	};
	process.on('uncaughtException', error => void finish(1, `internal error: ${error.message}`).then(() => process.exit(1)));
	process.on('unhandledRejection', error => void finish(1, `internal error: ${error instanceof Error ? error.message : String(error)}`).then(() => process.exit(1)));

	try {
		await sampler.start();
	} catch (error) {
		await demo?.kill();
		continueTarget(pid);
		fail(error instanceof ProfilerError ? error.message : String(error), 1);
	}

	if (config.headless) {
		await runHeadless(config, pid, command, sampler, profile, finish);
		return;
	}

	const store = new Store({
		info: {pid, command, backend: backendName, notes: demo ? ['demo target: pmptop started it and stops it on quit'] : []},
		intervalMs: config.intervalMs,
		profile,
		effects: {
			quit: () => void finish(0).then(() => {
				ink.unmount();
				process.exit(process.exitCode ?? 0);
			}),
			setIntervalMs: ms => sampler.setIntervalMs(ms),
			snapshot: () => store.setStatus('snapshots are not available yet', 'warn'),
		},
	});
	sampler.on('sample', sample => store.ingest(sample));
	sampler.on('status', status => store.setSamplerStatus(status));
	store.setSamplerStatus(sampler.status);
	store.setSize(process.stdout.columns ?? 100, process.stdout.rows ?? 30);
	process.stdout.on('resize', () => store.setSize(process.stdout.columns ?? 100, process.stdout.rows ?? 30));
	const stopOnSignal = (signal: string) => () => void finish(0).then(() => {
		ink.unmount();
		process.exit(signal === 'SIGTERM' || signal === 'SIGHUP' ? 0 : 130);
	});
	for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.on(signal, stopOnSignal(signal));
	const ink = render(<App store={store} />, {exitOnCtrlC: false, maxFps: 10, patchConsole: true});
	await ink.waitUntilExit();
	await finish(0);
}

async function runHeadless(config: Config, pid: number, command: string, sampler: Sampler, profile: Profile, finish: (code: number, message?: string) => Promise<void>): Promise<void> {
	const stops: number[] = [];
	let targetEnded = false;
	sampler.on('sample', sample => {
		profile.ingest(sample);
		if (Number.isFinite(sample.stopMs)) stops.push(sample.stopMs);
	});
	sampler.on('status', status => {
		if (status.state === 'target-exited') targetEnded = true;
		if (status.state === 'restarting' && status.message) process.stderr.write(`pmptop: ${status.message}\n`);
	});
	const durationMs = (config.durationS ?? 10) * 1000;
	await new Promise<void>(resolve => {
		const timer = setTimeout(resolve, durationMs);
		const early = () => {
			clearTimeout(timer);
			resolve();
		};
		for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.once(signal, early);
		sampler.on('status', status => status.state === 'target-exited' && early());
	});
	await finish(0);
	stops.sort((a, b) => a - b);
	const q = (x: number) => (stops.length ? stops[Math.min(stops.length - 1, Math.floor(x * stops.length))]! : NaN);
	const report = buildReport(profile, {
		pid,
		command,
		backend: config.backend,
		window: 'all',
		windowLabel: windowLabel('all'),
		intervalMs: config.intervalMs,
		top: config.top,
		stop: {lastMs: stops.at(-1) ?? NaN, medianMs: q(0.5), p95Ms: q(0.95), dutyPct: dutyCycle(q(0.5), config.intervalMs) * 100},
		takenAtMs: Date.now(),
	});
	process.stdout.write(config.format === 'json' ? reportToJson(report) : reportToText(report));
	if (targetEnded) process.stderr.write(`pmptop: process ${pid} exited during sampling\n`);
}

main().catch(error => fail(error instanceof Error ? error.message : String(error), 1));
