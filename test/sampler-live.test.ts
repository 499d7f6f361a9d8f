// The sampler against the live demo target, with real gdb.
import {existsSync, readFileSync} from 'node:fs';
import {afterEach, describe, expect, it} from 'vitest';
import {BatchBackend} from '../src/gdb/batch-backend.js';
import {MiBackend} from '../src/gdb/mi-backend.js';
import type {GdbSession} from '../src/gdb/session.js';
import {processExists} from '../src/gdb/target.js';
import {Profile} from '../src/profile/aggregate.js';
import {Sampler, type Backend} from '../src/sampler.js';
import {advances, noThreadStopped, startTestDemo, tracerPid, waitUntil, type TestDemo} from './helpers/demo.js';
import {writeScript} from './helpers/scripts.js';

let demo: TestDemo | undefined;
afterEach(async () => {
	await demo?.cleanup();
	demo = undefined;
});

const NAMES = ['qemu-demo', 'CPU 0/KVM', 'CPU 1/KVM', 'worker', 'call_rcu'];

async function sampleFor(createBackend: () => Backend, pid: number, until: (p: Profile) => boolean, timeoutMs: number): Promise<Profile> {
	const profile = new Profile();
	const sampler = new Sampler({pid, intervalMs: 50, createBackend, maxOverhead: 0});
	sampler.on('sample', s => profile.ingest(s));
	await sampler.start();
	await waitUntil(() => until(profile), timeoutMs);
	await sampler.stop();
	return profile;
}

const namesSeen = (p: Profile) => new Set(p.threads().map(s => s.name));
const vcpuFuncs = (p: Profile, name: string) => p.threads().filter(s => s.name === name).flatMap(s => p.top(s.key, {window: 'all'}).map(r => r.func));

describe.each([
	['mi commands', (pid: number) => new MiBackend({pid})],
	['mi + python', (pid: number) => new MiBackend({pid, python: true})],
	['mi non-stop', (pid: number) => new MiBackend({pid, nonStop: true})],
	['batch', (pid: number) => new BatchBackend({pid})],
])('%s backend on the demo target', (_label, make) => {
	it('finds every thread by name, the vCPUs\' functions, and leaves the target running', async () => {
		demo = await startTestDemo();
		const pid = demo.pid;
		const profile = await sampleFor(() => make(pid), pid, p => NAMES.every(n => namesSeen(p).has(n)) && p.samples >= 5, 40_000);
		for (const name of NAMES) expect(namesSeen(profile)).toContain(name);
		for (const name of ['CPU 0/KVM', 'CPU 1/KVM']) {
			expect(vcpuFuncs(profile, name)).toEqual(expect.arrayContaining(['vcpu_run', 'kvm_cpu_exec', 'kvm_vcpu_thread_fn']));
			expect(vcpuFuncs(profile, name).some(f => f === 'guest_compute' || f === 'guest_mmio')).toBe(true);
		}
		// Detached: no tracer, no thread stopped, and the target makes progress.
		expect(await waitUntil(() => tracerPid(pid) === 0 && noThreadStopped(pid), 2000)).toBe(true);
		expect(await advances(demo)).toBe(true);
	}, 60_000);
});

describe('MiBackend', () => {
	it('reports a stop time per sample and keeps the target stopped only briefly', async () => {
		demo = await startTestDemo();
		const b = new MiBackend({pid: demo.pid});
		await b.start();
		// Every line gdb writes while sampling parses as MI: a line that does not goes to the log, and costs an
		// exception per sample (gdb's breakpoint-modified notification after each stop did, before the parser took
		// its bare-value tuple).
		const unparsed: string[] = [];
		(b as unknown as {session: GdbSession}).session.on('log', (text: string) => {
			if (/^\d*[=*+^~@&]/.test(text)) unparsed.push(text);
		});
		try {
			const stops: number[] = [];
			for (let i = 0; i < 10; i++) {
				const s = await b.sample();
				expect(s.threads.length).toBeGreaterThanOrEqual(6);
				stops.push(s.stopMs);
				// Between samples the target runs.
				expect(await waitUntil(() => noThreadStopped(demo!.pid), 1000)).toBe(true);
			}
			expect(stops.every(ms => ms > 0 && ms < 2000)).toBe(true);
			expect(unparsed).toEqual([]);
		} finally {
			await b.stop();
		}
		expect(tracerPid(demo.pid)).toBe(0);
	}, 30_000);

	it('gdb resumes the target by itself: a sample is written to gdb whole, so a blocked event loop does not lengthen the stop', async () => {
		demo = await startTestDemo();
		const pid = demo.pid;
		const b = new MiBackend({pid});
		await b.start();
		try {
			// The first sample learns the thread list; from the second on the whole sample is queued in gdb.
			await b.sample();
			const before = demo.progress()!.vcpu_rounds;
			// sample() has sent the stop signal and written every request and the continue when it returns.
			const pending = b.sample();
			// pmptop's event loop blocked for 2 s (a long redraw, a GC pause): nobody reads gdb's answers.
			const until = Date.now() + 2000;
			while (Date.now() < until);
			const runningAfterBlock = noThreadStopped(pid);
			const after = demo.progress()!.vcpu_rounds;
			const s = await pending;
			expect(s.threads.length).toBeGreaterThanOrEqual(6);
			expect(runningAfterBlock, 'the target was still stopped after 2 s').toBe(true);
			expect(after, 'the demo made no progress while pmptop was blocked').toBeGreaterThan(before);
			// The stop is timed by gdb's clock, not by when pmptop read the answer 2 s later.
			expect(s.stopMs).toBeGreaterThan(0);
			expect(s.stopMs).toBeLessThan(1000);
		} finally {
			await b.stop();
		}
		expect(tracerPid(pid)).toBe(0);
	}, 30_000);

	it('realtime: gdb samples at SCHED_FIFO priority 1, and the target runs on after detach', async () => {
		demo = await startTestDemo();
		const b = new MiBackend({pid: demo.pid, realtime: true});
		await b.start();
		try {
			const gdb = b.gdbPid!;
			// /proc/PID/stat fields 40 and 41 (after the command name): rt_priority and policy (1 = SCHED_FIFO).
			const fields = readFileSync(`/proc/${gdb}/stat`, 'utf8').split(') ')[1]!.split(' ');
			expect({priority: fields[37], policy: fields[38]}).toEqual({priority: '1', policy: '1'});
			for (let i = 0; i < 5; i++) expect((await b.sample()).threads.length).toBeGreaterThanOrEqual(6);
		} finally {
			await b.stop();
		}
		expect(await waitUntil(() => tracerPid(demo!.pid) === 0 && noThreadStopped(demo!.pid), 2000)).toBe(true);
		expect(await advances(demo)).toBe(true);
	}, 30_000);

	it('gdb\'s scheduling group and gdb run at nice -10 when permitted (root here), the target\'s untouched', async () => {
		demo = await startTestDemo();
		// Kernels without autogroup scheduling have no /proc/PID/autogroup: only the nice then.
		const groups = existsSync('/proc/self/autogroup');
		const targetGroup = groups ? readFileSync(`/proc/${demo.pid}/autogroup`, 'utf8') : '';
		const b = new MiBackend({pid: demo.pid});
		await b.start();
		try {
			const gdb = b.gdbPid!;
			expect(readFileSync(`/proc/${gdb}/comm`, 'utf8').trim()).toBe('gdb');
			// Raising a priority needs CAP_SYS_NICE: without it nothing changes and nothing fails.
			const expected = process.getuid?.() === 0 ? '-10' : '0';
			if (groups) expect(readFileSync(`/proc/${gdb}/autogroup`, 'utf8')).toMatch(new RegExp(`nice ${expected}\\n?$`));
			// /proc/PID/stat field 19 (after the command name): nice.
			expect(readFileSync(`/proc/${gdb}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]).toBe(expected);
			if (groups) expect(readFileSync(`/proc/${demo.pid}/autogroup`, 'utf8')).toBe(targetGroup);
			expect((await b.sample()).threads.length).toBeGreaterThanOrEqual(6);
		} finally {
			await b.stop();
		}
	}, 30_000);

	it('a gdb that ends silently during the attach: the message says how it ended (an exit status, a signal)', async () => {
		for (const [body, said] of [['exit 3', 'exit status 3'], ['kill -KILL $$', 'killed by SIGKILL']] as const) {
			const script = writeScript('gdb', body);
			try {
				await expect(new MiBackend({pid: process.pid, gdbPath: script.path}).start()).rejects.toThrow(`gdb exited during attach (${said}), saying nothing`);
			} finally {
				script.remove();
			}
		}
	});

	it('a final stop does not wait for a detached gdb that is slow to exit; a restart\'s stop does', async () => {
		demo = await startTestDemo();
		// gdb that lingers 3 s at exit (a Python exit handler), as a busy machine made it do now and then.
		const slowGdb = writeScript('gdb', 'exec gdb -iex "python import atexit, time; atexit.register(time.sleep, 3)" "$@"');
		try {
			const timed = async (final: boolean): Promise<{ms: number; gdb: number}> => {
				const b = new MiBackend({pid: demo!.pid, gdbPath: slowGdb.path});
				await b.start();
				for (let i = 0; i < 3; i++) await b.sample();
				const gdb = b.gdbPid!;
				const t0 = performance.now();
				await b.stop({final});
				return {ms: performance.now() - t0, gdb};
			};
			const quit = await timed(true);
			// The stop and the detach themselves can take a second or two on a loaded machine; gdb's 3 s exit is not waited for.
			expect(quit.ms).toBeLessThan(2500);
			// Not waited for: that gdb is still in its exit handler, and the target, detached, runs on meanwhile.
			expect(processExists(quit.gdb)).toBe(true);
			expect(tracerPid(demo.pid)).toBe(0);
			expect(await advances(demo, 1000)).toBe(true);
			// pmptop would exit now and its wrapper's watcher end that gdb; this test process lives on, so it does.
			try {
				process.kill(quit.gdb, 'SIGKILL');
			} catch {}
			// Not final (a restart attaches again): the old gdb is waited for, or killed, before stop() returns.
			const restart = await timed(false);
			expect(restart.ms).toBeGreaterThan(400);
			expect(processExists(restart.gdb)).toBe(false);
			expect(tracerPid(demo.pid)).toBe(0);
		} finally {
			slowGdb.remove();
		}
	}, 40_000);

	it('passes signals through: a SIGTERM sent to the target while attached ends it', async () => {
		demo = await startTestDemo();
		const pid = demo.pid;
		const b = new MiBackend({pid});
		let exited = false;
		await b.start({onTargetExit: () => (exited = true)});
		await b.sample();
		const gone = new Promise<void>(resolve => demo!.child.once('exit', () => resolve()));
		process.kill(pid, 'SIGTERM');
		await gone;
		expect(await waitUntil(() => exited, 3000)).toBe(true);
		await expect(b.sample()).rejects.toThrow(/exited/);
		await b.stop();
	}, 30_000);

	it('explains an unknown PID in one line', async () => {
		await expect(new MiBackend({pid: 2 ** 22 + 12_345}).start()).rejects.toThrow(/^no process with PID \d+$/);
	});
});
