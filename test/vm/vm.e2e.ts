// End to end against a real QEMU 9p VM (demo/vm/vm.mjs): boot it, wait for the guest's copy, run headless
// pmptop on it for 20 s, then check roles, the 9p workers' bytes per read and the msize hint, and that the VM
// runs on after pmptop detaches and powers itself off cleanly. Once with msize 8192 (small reads, hint) and
// once with 512000 (large reads, no hint); then `pmptop --demo vm`, which boots the VM itself and stops it. Run with `npm run test:vm` (vitest -c test/vm/vitest.config.ts).
// Needs root (apt-get, ptrace); installs qemu-system-x86 busybox-static kmod gdb when missing. The VM cache
// (kernel, initramfs, tree) is demo/vm/cache/ or $PMPTOP_VM_CACHE.

import {execFile, execFileSync} from 'node:child_process';
import {existsSync, readFileSync, readdirSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';

const run = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const vmScript = join(repo, 'demo/vm/vm.mjs');
const cli = join(repo, 'dist/src/cli.js');
const cache = process.env.PMPTOP_VM_CACHE ?? join(repo, 'demo/vm/cache');
const DURATION_S = 20;
// The guest starts whole copies of the tree until this long after the first began, then powers off: the copy
// outlasts pmptop's 20 s (plus attach) however fast this machine runs, and the VM ends soon after.
const COPY_SECONDS = 45;
// The hint's threshold (src/procio/hint.ts): at msize 8192 every 9p read is 4 KiB.
const SMALL_READ_MAX = 4608;

interface VmInfo {
	pid: number;
	console: string;
	stderr: string;
	exitFile: string;
	accel: string;
	msize: number;
	copies: number;
	namedThreads: boolean;
}

interface IoGroup {
	status: string;
	window: {rchar: number; syscr: number; bytesPerRead?: number};
	total: {rchar: number; syscr: number; bytesPerRead?: number};
}

interface Report {
	pid: number;
	samples: number;
	threads: Array<{tid: number; name: string; role?: string; samples: number; frames: Array<{func: string; where: string}>}>;
	io?: IoReport;
	extra?: {io?: IoReport};
}

interface IoReport {
	process: IoGroup;
	workers: IoGroup & {tids: number[]; identified: boolean};
	threads: Array<{tid: number; worker: boolean; bytesPerRead?: number}>;
	hint?: {text: string; bytesPerRead: number; reads: number};
}

const started: number[] = [];
const figures: Record<string, unknown> = {};
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');

function say(message: string): void {
	process.stderr.write(`[vm-e2e] ${message}\n`);
}

function procState(pid: number): string | undefined {
	try {
		return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
	} catch {
		return undefined;
	}
}

function taskStates(pid: number): string[] {
	try {
		return readdirSync(`/proc/${pid}/task`).map(tid => procState(Number(tid)) ?? '?');
	} catch {
		return [];
	}
}

function comms(pid: number): string[] {
	return readdirSync(`/proc/${pid}/task`).map(tid => {
		try {
			return readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
		} catch {
			return '';
		}
	}).filter(Boolean);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined, context: () => string): Promise<T> {
	const end = Date.now() + timeoutMs;
	for (;;) {
		const value = probe();
		if (value !== undefined) return value;
		if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n${context()}`);
		await sleep(500);
	}
}

function ensureGdb(): void {
	try {
		execFileSync('gdb', ['--version'], {stdio: 'ignore'});
	} catch {
		say('installing gdb');
		const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'};
		execFileSync('apt-get', ['update', '-q'], {stdio: 'inherit', env});
		execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'gdb'], {stdio: 'inherit', env});
	}
}

async function startVm(msize: number): Promise<VmInfo> {
	const t0 = Date.now();
	const {stdout, stderr} = await run(process.execPath, [vmScript, 'start', '--cache', cache, '--msize', String(msize), '--seconds', String(COPY_SECONDS), '--background', '--json', '--wait', 'copy', '--timeout', '240'], {maxBuffer: 16 << 20});
	const vm = JSON.parse(stdout.trim().split('\n').pop()!) as VmInfo;
	started.push(vm.pid);
	say(`msize ${msize}: QEMU PID ${vm.pid} (${vm.accel}) copying after ${((Date.now() - t0) / 1000).toFixed(1)} s\n${stderr.trim()}`);
	return vm;
}

async function profile(pid: number): Promise<Report> {
	const t0 = Date.now();
	const {stdout, stderr} = await run(process.execPath, [cli, '--pid', String(pid), '--duration', String(DURATION_S), '--format', 'json'], {maxBuffer: 64 << 20, timeout: (DURATION_S + 60) * 1000});
	say(`pmptop ran ${((Date.now() - t0) / 1000).toFixed(1)} s${stderr.trim() ? `; stderr: ${stderr.trim()}` : ''}`);
	return JSON.parse(stdout) as Report;
}

function ioOf(report: Report): IoReport {
	const io = report.io ?? report.extra?.io;
	expect(io, 'the JSON report has an io section (report.io or report.extra.io)').toBeDefined();
	return io!;
}

// One VM: boot, profile during the copy, check the VM outlives pmptop and ends by itself.
async function profileVm(msize: number) {
	const vm = await startVm(msize);
	expect(vm.namedThreads).toBe(false);
	expect(read(vm.console)).toMatch(/PMPTOP-VM: copy start 1/);
	// Unnamed threads, as on NixOS: every comm is the process name.
	expect(new Set(comms(vm.pid))).toEqual(new Set(['qemu-system-x86']));

	const report = await profile(vm.pid);
	// pmptop has detached: the VM must still run, no thread left stopped.
	expect(procState(vm.pid), 'QEMU still runs after pmptop exits').toMatch(/^[RSD]$/);
	await sleep(1000);
	const states = taskStates(vm.pid);
	expect(states.filter(s => s === 'T' || s === 't'), `thread states ${states.join('')}`).toEqual([]);
	const consoleAtDetach = read(vm.console);
	expect(consoleAtDetach, 'pmptop sampled during the copy: the guest had not finished').not.toMatch(/PMPTOP-VM: end /);

	// The guest finishes its copies and powers off; QEMU exits 0 on its own.
	const exit = await waitFor('QEMU to exit on its own', 300_000, () => {
		const text = read(vm.exitFile);
		return text ? (JSON.parse(text) as {code: number | null; signal: string | null}) : undefined;
	}, () => `console:\n${read(vm.console).slice(-2000)}`);
	const consoleText = read(vm.console);
	expect(exit).toMatchObject({code: 0, signal: null});
	const copies = consoleText.match(/PMPTOP-VM: copy done \d+ files/g) ?? [];
	expect(copies.length).toBeGreaterThanOrEqual(1);
	expect(consoleText).toMatch(new RegExp(`PMPTOP-VM: end ${copies.length} copies`));
	expect(consoleText).not.toMatch(/PMPTOP-VM: error/);
	const copyTimes = [...consoleText.matchAll(/copy done (\d+) files (\d+) bytes ([\d.]+) s/g)].map(m => Number(m[3]));
	return {vm, report, consoleText, copyTimes, qemuStderr: read(vm.stderr)};
}

function summarize(report: Report) {
	const threads = report.threads.filter(t => t.tid !== 0);
	const roles: Record<string, number> = {};
	for (const t of threads) roles[t.role ?? 'none'] = (roles[t.role ?? 'none'] ?? 0) + 1;
	return {threads, roles};
}

function checkRoles(report: Report, pid: number) {
	const {threads, roles} = summarize(report);
	const byRole = (role: string) => threads.filter(t => t.role === role);
	expect(threads.every(t => t.role !== undefined), 'every thread has a role').toBe(true);
	expect(byRole('main').map(t => t.tid), `roles ${JSON.stringify(roles)}`).toEqual([pid]);
	expect(byRole('vcpu'), `roles ${JSON.stringify(roles)}`).toHaveLength(2);
	expect(byRole('worker').length, `roles ${JSON.stringify(roles)}`).toBeGreaterThanOrEqual(1);
	// The vCPUs run TCG: their stacks pass through cpu_exec / tcg_cpus_exec / code_gen_buffer.
	const vcpuFuncs = new Set(byRole('vcpu').flatMap(t => t.frames.map(f => f.func)));
	expect([...vcpuFuncs].some(f => /^(cpu_exec|tcg_cpus_exec|code_gen_buffer)$/.test(f)), [...vcpuFuncs].join(', ')).toBe(true);
	return roles;
}

describe('pmptop on a real QEMU 9p VM (TCG, unnamed threads)', () => {
	beforeAll(async () => {
		ensureGdb();
		if (!existsSync(cli)) execFileSync('npm', ['run', 'build', '--silent'], {cwd: repo, stdio: 'inherit'});
		const t0 = Date.now();
		// Installs qemu-system-x86 busybox-static kmod when missing, fetches the kernel, builds initramfs and tree.
		const {stdout, stderr} = await run(process.execPath, [vmScript, 'prepare', '--cache', cache, '--json'], {maxBuffer: 16 << 20});
		say(`prepared in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${stdout.trim()}${stderr.trim() ? `\n${stderr.trim()}` : ''}`);
	});

	afterAll(async () => {
		for (const pid of started) {
			if (procState(pid) && procState(pid) !== 'Z') {
				say(`stopping leftover QEMU ${pid}`);
				await run(process.execPath, [vmScript, 'stop', String(pid), '--cache', cache]).catch(() => undefined);
			}
		}
		say(`figures: ${JSON.stringify(figures)}`);
	});

	test('msize 8192: roles from stacks, 4 KiB worker reads, the msize hint fires', async () => {
		const {vm, report, copyTimes, qemuStderr} = await profileVm(8192);
		expect(report.pid).toBe(vm.pid);
		expect(report.samples, 'samples in 20 s (the overhead guard slows sampling on a busy machine)').toBeGreaterThanOrEqual(10);
		const roles = checkRoles(report, vm.pid);
		const io = ioOf(report);
		expect(io.workers.identified).toBe(true);
		expect(io.workers.tids.length).toBeGreaterThanOrEqual(1);
		const bpr = io.workers.window.bytesPerRead;
		expect(io.workers.window.syscr, 'worker reads in the window').toBeGreaterThan(200);
		expect(bpr).toBeDefined();
		expect(bpr!).toBeLessThanOrEqual(SMALL_READ_MAX);
		expect(bpr!).toBeGreaterThan(1024);
		expect(io.hint, 'msize hint').toBeDefined();
		expect(io.hint!.text).toMatch(/msize/);
		// QEMU agrees: it warns about the small msize on stderr.
		expect(qemuStderr).toMatch(/9p: degraded performance/);
		figures.msize8192 = {workerBytesPerRead: Math.round(bpr!), workerReads: io.workers.window.syscr, processBytesPerRead: Math.round(io.process.window.bytesPerRead ?? 0), hint: io.hint!.text, roles, copyTimes, samples: report.samples};
		say(`msize 8192: ${JSON.stringify(figures.msize8192)}`);
	});

	test('msize 512000: large worker reads, no hint', async () => {
		const {vm, report, copyTimes, qemuStderr} = await profileVm(512_000);
		const roles = checkRoles(report, vm.pid);
		const io = ioOf(report);
		expect(io.workers.identified).toBe(true);
		const bpr = io.workers.window.bytesPerRead;
		expect(io.workers.window.syscr, 'worker reads in the window').toBeGreaterThan(200);
		expect(bpr).toBeDefined();
		expect(bpr!).toBeGreaterThan(SMALL_READ_MAX);
		expect(io.hint).toBeUndefined();
		expect(qemuStderr).not.toMatch(/9p: degraded performance/);
		const small = (figures.msize8192 as {workerBytesPerRead: number} | undefined)?.workerBytesPerRead;
		if (small !== undefined) expect(bpr!).toBeGreaterThan(2 * small);
		figures.msize512000 = {workerBytesPerRead: Math.round(bpr!), workerReads: io.workers.window.syscr, processBytesPerRead: Math.round(io.process.window.bytesPerRead ?? 0), roles, copyTimes, samples: report.samples};
		say(`msize 512000: ${JSON.stringify(figures.msize512000)}`);
	});

	test('pmptop --demo vm: boots the VM itself, profiles it, stops it at the end', async () => {
		const t0 = Date.now();
		const {stdout, stderr} = await run(process.execPath, [cli, '--demo', 'vm', '--duration', '8', '--format', 'json'], {maxBuffer: 64 << 20, timeout: 300_000, env: {...process.env, PMPTOP_VM_CACHE: cache}});
		const report = JSON.parse(stdout) as Report;
		say(`pmptop --demo vm ran ${((Date.now() - t0) / 1000).toFixed(1)} s, ${report.samples} samples`);
		started.push(report.pid);
		expect(stderr, 'vm.mjs reports its progress on stderr').toMatch(/vm: QEMU PID \d+/);
		checkRoles(report, report.pid);
		expect(ioOf(report).hint, 'msize 8192 by default: the hint fires').toBeDefined();
		// pmptop started the VM, so it stopped it when done.
		expect(await waitFor('the demo VM to be gone', 20_000, () => (procState(report.pid) === undefined || procState(report.pid) === 'Z' ? true : undefined), () => `state ${procState(report.pid)}`)).toBe(true);
	});
});
