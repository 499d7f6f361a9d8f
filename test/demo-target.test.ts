// The bundled demo target (demo/target/qemu-demo.c) itself: thread names, progress output, options,
// and that its vCPU time split, measured by its own clock, is the one it claims.
import type {Progress} from './helpers/demo.js';
import {execFileSync, spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterEach, beforeAll, describe, expect, it} from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BINARY = join(ROOT, 'demo', 'target', 'bin', 'qemu-demo');
const PROGRESS_KEYS = ['pid', 't_ms', 'vcpu_rounds', 'compute_ns', 'mmio_ns', 'spins', 'reads', 'read_bytes'];
// Small file and short runs keep the whole file around 6 s.
const LIGHT = ['--file-size', '1M'];


interface Target {
	child: ChildProcess;
	pid: number;
	/** Complete stdout lines so far. */
	lines: string[];
	exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
	for (const child of children.splice(0)) {
		if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	}
	for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true});
});

beforeAll(() => {
	execFileSync(process.execPath, [join(ROOT, 'demo', 'build.mjs')], {stdio: ['ignore', 'ignore', 'pipe']});
}, 60_000);

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

async function waitFor<T>(get: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
	const end = Date.now() + timeoutMs;
	for (;;) {
		const value = get();
		if (value !== undefined) return value;
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await sleep(20);
	}
}

function tempDir(): string {
	const dir = mkdtempSync(join(tmpdir(), 'qemu-demo-test-'));
	dirs.push(dir);
	return dir;
}

/** Start the target and wait for its first stdout line, which must be the ready line. */
async function start(args: string[]): Promise<Target> {
	const child = spawn(BINARY, args, {stdio: ['ignore', 'pipe', 'pipe']});
	children.push(child);
	const lines: string[] = [];
	let partial = '';
	child.stdout!.setEncoding('utf8');
	child.stdout!.on('data', (chunk: string) => {
		const parts = (partial + chunk).split('\n');
		partial = parts.pop()!;
		lines.push(...parts);
	});
	child.stderr!.resume();
	const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>(resolve =>
		child.once('exit', (code, signal) => resolve({code, signal})),
	);
	await waitFor(() => (lines.length > 0 ? true : undefined), 5000, 'the ready line');
	expect(JSON.parse(lines[0]!)).toEqual({ready: true, pid: child.pid});
	return {child, pid: child.pid!, lines, exited};
}

/** comm of every thread, main thread first. */
function threadNames(pid: number): string[] {
	const tids = readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b);
	return tids.map(tid => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').replace(/\n$/, ''));
}

function readProgress(file: string): Progress | undefined {
	try {
		return JSON.parse(readFileSync(file, 'utf8')) as Progress;
	} catch {
		return undefined;
	}
}

const computeShare = (p: Progress) => p.compute_ns / (p.compute_ns + p.mmio_ns);

describe('demo target', () => {
	it('names its threads like QEMU with debug-threads=on, writes progress atomically, splits 70/30 by time', async () => {
		const dir = tempDir();
		const file = join(dir, 'progress.json');
		const t = await start([...LIGHT, '--progress', file]);
		expect(threadNames(t.pid)).toEqual(['qemu-demo', 'CPU 0/KVM', 'CPU 1/KVM', 'worker', 'worker', 'call_rcu']);

		// Written before the ready line, then rewritten every 200 ms with cumulative totals.
		const seen = [readProgress(file)!];
		expect(Object.keys(seen[0]!)).toEqual(PROGRESS_KEYS);
		expect(seen[0]!.pid).toBe(t.pid);
		await waitFor(() => {
			const p = readProgress(file);
			if (p && p.t_ms !== seen.at(-1)!.t_ms) seen.push(p);
			return seen.length >= 7 ? true : undefined;
		}, 5000, '6 rewrites of the progress file');
		const gaps = seen.slice(1).map((p, i) => p.t_ms - seen[i]!.t_ms).sort((a, b) => a - b);
		expect(gaps[3]).toBeGreaterThanOrEqual(150);
		expect(gaps[3]).toBeLessThan(400);
		const last = seen.at(-1)!;
		for (const key of ['vcpu_rounds', 'compute_ns', 'mmio_ns', 'spins', 'reads', 'read_bytes'] as const) {
			expect(last[key]).toBeGreaterThan(0);
			expect(seen.every((p, i) => i === 0 || p[key] >= seen[i - 1]![key])).toBe(true);
		}
		// 1 MiB is a multiple of the 4096-byte chunk: every pread is a full chunk.
		expect(last.read_bytes).toBe(last.reads * 4096);
		// Wall-clock time per vCPU (freezes left out): never more than the run time.
		expect(last.compute_ns + last.mmio_ns).toBeLessThanOrEqual(2 * (last.t_ms + 1) * 1e6);
		expect(computeShare(last)).toBeGreaterThan(0.65);
		expect(computeShare(last)).toBeLessThan(0.75);

		// SIGTERM ends it cleanly, and the temp file of the last rewrite is gone.
		t.child.kill('SIGTERM');
		expect(await t.exited).toEqual({code: 0, signal: null});
		expect(readdirSync(dir)).toEqual(['progress.json']);
		expect(readProgress(file)!.t_ms).toBeGreaterThanOrEqual(last.t_ms);
	}, 10_000);

	it('--split 30 is measured by time, whatever the loop speed', async () => {
		const file = join(tempDir(), 'progress.json');
		const t = await start(['--split', '30', '--vcpus', '1', '--workers', '0', '--progress', file]);
		expect(threadNames(t.pid)).toEqual(['qemu-demo', 'CPU 0/KVM', 'call_rcu']);
		const p = await waitFor(() => {
			const q = readProgress(file);
			return q && q.t_ms >= 1000 ? q : undefined;
		}, 4000, '1 s of progress');
		expect(p.reads).toBe(0);
		expect(computeShare(p)).toBeGreaterThan(0.25);
		expect(computeShare(p)).toBeLessThan(0.35);
	}, 10_000);

	it('--unnamed keeps the process name on every thread, as on a NixOS VM test', async () => {
		const t = await start([...LIGHT, '--unnamed', '--vcpus', '3', '--workers', '1']);
		expect(threadNames(t.pid)).toEqual(Array(6).fill('qemu-demo'));
	});

	it('--thread-name-escape adds an idle thread whose name holds control bytes', async () => {
		const t = await start([...LIGHT, '--thread-name-escape', '--workers', '1']);
		expect(threadNames(t.pid)).toEqual(['qemu-demo', 'CPU 0/KVM', 'CPU 1/KVM', 'worker', 'call_rcu', '\x1b[2Jevil\x07']);
		const unnamed = await start([...LIGHT, '--thread-name-escape', '--unnamed', '--workers', '1']);
		expect(threadNames(unnamed.pid)).toEqual([...Array(5).fill('qemu-demo'), '\x1b[2Jevil\x07']);
	});

	it('without --progress prints one JSON line per second, and --duration ends it with status 0', async () => {
		const t = await start([...LIGHT, '--duration', '1.3']);
		expect(await t.exited).toEqual({code: 0, signal: null});
		const progress = t.lines.slice(1).map(line => JSON.parse(line) as Progress);
		// One a second after the ready line (unless starting took over 0.3 s on a loaded machine), and one at exit.
		expect(progress.length).toBeGreaterThanOrEqual(1);
		expect(progress.length).toBeLessThanOrEqual(2);
		for (const p of progress) {
			expect(Object.keys(p)).toEqual(PROGRESS_KEYS);
			expect(p.pid).toBe(t.pid);
			expect(p.t_ms).toBeGreaterThanOrEqual(1000);
		}
		expect(progress.at(-1)!.t_ms).toBeGreaterThanOrEqual(1300);
		expect(progress.at(-1)!.vcpu_rounds).toBeGreaterThan(progress.length === 2 ? progress[0]!.vcpu_rounds : 0);
	});

	it('--help prints usage; bad options exit 2', () => {
		const help = spawnSync(BINARY, ['--help'], {encoding: 'utf8'});
		expect(help.status).toBe(0);
		for (const option of ['--vcpus', '--split', '--workers', '--file', '--chunk', '--read-delay-us', '--unnamed',
			'--thread-name-escape', '--progress', '--duration']) {
			expect(help.stdout).toContain(option);
		}
		for (const args of [['--split', '101'], ['--vcpus', 'x'], ['--bogus'], ['extra']]) {
			const r = spawnSync(BINARY, args, {encoding: 'utf8'});
			expect(r.status).toBe(2);
			expect(r.stdout).toBe('');
			expect(r.stderr.trim().split('\n')[0]).toMatch(/^qemu-demo: /);
		}
	});
});

const hasGdb = spawnSync('gdb', ['--version']).status === 0;

describe.skipIf(!hasGdb)('demo target under gdb', () => {
	it('shows QEMU\'s frames on every thread', async () => {
		const t = await start([...LIGHT, '--workers', '1']);
		// No executable argument: gdb reads /proc/PID/exe, right even if another test rebuilt the binary meanwhile.
		const out = execFileSync('gdb', ['-nx', '-batch', '-iex', 'set debuginfod enabled off', '-ex', 'set pagination 0',
			'-ex', 'thread apply all bt', '-p', String(t.pid)], {encoding: 'utf8', timeout: 8000, stdio: ['ignore', 'pipe', 'ignore']});
		// Thread name -> function names, leaf first.
		const stacks = new Map<string, string[]>();
		for (const block of out.split(/\nThread \d+ /).slice(1)) {
			const name = /"([^"]*)"\):/.exec(block)![1]!;
			stacks.set(name, [...block.matchAll(/^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(/gm)].map(m => m[1]!));
		}
		const after = (frames: string[], chain: string[]) => {
			const at = frames.indexOf(chain[0]!);
			return at >= 0 ? frames.slice(at, at + chain.length) : [];
		};
		for (const name of ['CPU 0/KVM', 'CPU 1/KVM']) {
			const frames = stacks.get(name)!;
			const top = frames.find(f => f === 'guest_compute' || f === 'guest_mmio')!;
			expect(after(frames, [top, 'vcpu_run', 'kvm_cpu_exec', 'kvm_vcpu_thread_fn', 'qemu_thread_start'])).toEqual(
				[top, 'vcpu_run', 'kvm_cpu_exec', 'kvm_vcpu_thread_fn', 'qemu_thread_start']);
		}
		// The main loop idles in ppoll; rarely it is caught reading its eventfd or writing progress.
		const main = stacks.get('qemu-demo')!;
		expect(main.slice(-4)).toEqual(['main_loop_wait', 'qemu_main_loop', 'qemu_default_main', 'main']);
		expect(['qemu_poll_ns', 'event_notifier_test_and_clear', 'qemu_clock_run_all_timers']).toContain(main.at(-5));
		expect(stacks.get('worker')).toContain('worker_thread');
		expect(after(stacks.get('call_rcu')!, ['qemu_event_wait', 'call_rcu_thread'])).toEqual(['qemu_event_wait', 'call_rcu_thread']);
	}, 10_000);
});
