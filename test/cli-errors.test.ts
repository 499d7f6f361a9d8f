// Bad input: one line on stderr, a non-zero exit, never a stack trace; the target keeps running.
import {spawnSync} from 'node:child_process';
import {afterEach, describe, expect, it} from 'vitest';
import {ptraceScope} from '../src/gdb/target.js';
import {advances, noThreadStopped, startTestDemo, type TestDemo} from './helpers/demo.js';

const CLI = new URL('../dist/src/cli.js', import.meta.url).pathname;

function run(args: string[], options: {env?: NodeJS.ProcessEnv; prefix?: string[]} = {}) {
	const [cmd, ...pre] = options.prefix ?? [];
	const r = cmd
		? spawnSync(cmd, [...pre, process.execPath, CLI, ...args], {encoding: 'utf8', env: options.env, timeout: 30_000})
		: spawnSync(process.execPath, [CLI, ...args], {encoding: 'utf8', env: options.env, timeout: 30_000});
	return {code: r.status, stdout: r.stdout, stderr: r.stderr};
}

function expectOneLineError(r: {code: number | null; stderr: string}, pattern: RegExp) {
	expect(r.code).not.toBe(0);
	expect(r.code).not.toBeNull();
	const lines = r.stderr.trim().split('\n');
	expect(lines).toHaveLength(1);
	expect(lines[0]).toMatch(/^pmptop: /);
	expect(lines[0]).toMatch(pattern);
	expect(r.stderr).not.toMatch(/\n\s+at /);
}

let demo: TestDemo | undefined;
afterEach(async () => {
	await demo?.cleanup();
	demo = undefined;
});

describe('pmptop bad input', () => {
	it('an unknown PID', () => {
		expectOneLineError(run(['--pid', '4194000', '--duration', '1']), /no process with PID 4194000/);
	});

	it('invalid flags', () => {
		expectOneLineError(run(['--pid', 'abc']), /--pid/);
		expectOneLineError(run(['--pid', '1', '--interval', '0']), /--interval must be between/);
		expectOneLineError(run(['--pid', '1', '--refresh', '50']), /--refresh must be between 100 and 60000 ms/);
		expectOneLineError(run(['--pid', '1', '--backend', 'perf']), /--backend must be mi or batch/);
		expectOneLineError(run(['--pid', '1', '--format', 'xml', '--duration', '1']), /--format must be text or json/);
		expectOneLineError(run(['--match', 'no-such-vm-for-pmptop-tests']), /no QEMU process (found|matches "no-such-vm-for-pmptop-tests")/);
		expectOneLineError(run(['--pid', '1', '--demo']), /exclude each other/);
		expectOneLineError(run(['--pid', '1', '--frobnicate']), /frobnicate|Unknown flag/i);
		expectOneLineError(run(['--demo', 'vmm']), /unexpected argument "vmm"/);
		expectOneLineError(run(['--pid', '1', 'vm']), /unexpected argument "vm"/);
		expectOneLineError(run(['--demo', 'vm', 'extra']), /unexpected argument "extra"/);
		expectOneLineError(run(['--demo', '--msize', '8192']), /--msize and --named-threads shape the demo VM/);
		expectOneLineError(run(['--demo', 'vm', '--msize', '100']), /--msize must be a whole number of bytes, at least 512/);
		expectOneLineError(run(['--demo', 'vm', '--vcpus', '4']), /shape the demo target, not the demo VM/);
		expectOneLineError(run(['--pid', '1', '--non-stop', '--backend', 'batch']), /--non-stop works with the mi backend only/);
		expectOneLineError(run(['--pid', '1', '--non-stop', '--python']), /not with --python/);
		expectOneLineError(run(['--pid', '1', '--gdb-rt', '--backend', 'batch']), /--gdb-rt works with the mi backend only/);
	});

	it('gdb missing from PATH', () => {
		expectOneLineError(run(['--pid', String(process.pid), '--duration', '1'], {env: {...process.env, PATH: '/nonexistent'}}), /gdb not found/);
	});

	it('not permitted to ptrace: says what to do, and the target runs on', async () => {
		demo = await startTestDemo();
		// The demo runs as root; pmptop as nobody may not trace it.
		const r = run(['--pid', String(demo.pid), '--duration', '1'], {prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']});
		expectOneLineError(r, /not permitted to ptrace PID \d+.*(root|CAP_SYS_PTRACE)/);
		expect(noThreadStopped(demo.pid)).toBe(true);
		expect(await advances(demo)).toBe(true);
	});

	it('--gdb-rt where real-time priority is not permitted: one line, and the demo it started is gone', () => {
		// As nobody, pmptop starts its own demo (nobody's too, so gdb may trace it) but may not use SCHED_FIFO.
		const r = run(['--demo', '--gdb-rt', '--duration', '2'], {prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']});
		// Under Yama ptrace_scope >= 1 the attach is refused before the priority is tried.
		if ((ptraceScope() ?? 0) >= 1) expectOneLineError(r, /not permitted to ptrace/);
		else expectOneLineError(r, /--gdb-rt: not permitted to use real-time priority \(needs root or CAP_SYS_NICE\); run without --gdb-rt/);
		expect(spawnSync('pgrep', ['-u', '65534', '-x', 'qemu-demo']).status, 'a qemu-demo of nobody is left').toBe(1);
	});

	it('a process already traced by another debugger', async () => {
		demo = await startTestDemo();
		const r1 = spawnSync('gdb', ['-nx', '-batch', '-iex', 'set debuginfod enabled off', '-ex', 'info threads', '-p', String(demo.pid)], {encoding: 'utf8'});
		expect(r1.status).toBe(0);
		// Hold it with a second gdb in the background for the duration of the check.
		const {spawn} = await import('node:child_process');
		const holder = spawn('gdb', ['-nx', '-q', '-iex', 'set debuginfod enabled off', '-ex', 'continue', '-p', String(demo.pid)], {stdio: ['pipe', 'ignore', 'ignore'], detached: true});
		try {
			const {waitUntil, tracerPid} = await import('./helpers/demo.js');
			expect(await waitUntil(() => tracerPid(demo!.pid) > 0, 30_000)).toBe(true);
			expectOneLineError(run(['--pid', String(demo.pid), '--duration', '1']), /already traced by PID \d+ \(gdb\)/);
		} finally {
			process.kill(-holder.pid!, 'SIGKILL');
			process.kill(demo.pid, 'SIGCONT');
		}
	}, 90_000);
});

describe('pmptop headless', () => {
	it('--duration --format json prints threads with top frames and exits 0', async () => {
		demo = await startTestDemo();
		const r = run(['--pid', String(demo.pid), '--duration', '2', '--interval', '50', '--max-overhead', '0', '--format', 'json']);
		expect(r.code).toBe(0);
		const report = JSON.parse(r.stdout);
		expect(report.pid).toBe(demo.pid);
		expect(report.samples).toBeGreaterThan(5);
		const cpu0 = report.threads.find((t: {name: string}) => t.name === 'CPU 0/KVM');
		expect(cpu0.tid).toBeGreaterThan(0);
		expect(cpu0.frames.map((f: {func: string}) => f.func)).toContain('vcpu_run');
		for (const f of cpu0.frames) expect(Object.keys(f).sort()).toEqual(['func', 'own', 'ownShare', 'total', 'totalShare', 'where']);
		expect(noThreadStopped(demo.pid)).toBe(true);
	});

	it('text output when stdout is not a terminal', async () => {
		demo = await startTestDemo();
		const r = run(['--pid', String(demo.pid), '--duration', '1', '--interval', '50']);
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/^pmptop report for PID \d+/);
		expect(r.stdout).toMatch(/thread CPU 0\/KVM \(TID \d+\)/);
	});
});
