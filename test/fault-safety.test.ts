// The target is never left stopped and never killed: pmptop or gdb killed at random moments, gdb hung,
// the target exiting mid-sample.
import {spawn} from 'node:child_process';
import {afterEach, describe, expect, it} from 'vitest';
import {MiBackend} from '../src/gdb/mi-backend.js';
import {processExists, threadStates} from '../src/gdb/target.js';
import {Sampler, type SamplerStatus} from '../src/sampler.js';
import {advances, noThreadStopped, startTestDemo, tracerPid, waitUntil, type TestDemo} from './helpers/demo.js';
import {gdbsUnder} from './helpers/procs.js';

const CLI = new URL('../dist/src/cli.js', import.meta.url).pathname;
// One spinning vCPU leaves a core for gdb and pmptop on a 2-core machine: the timings under test are theirs.
const LIGHT = ['--vcpus', '1', '--workers', '1', '--file-size', '1M'];

let demo: TestDemo | undefined;
let sampler: Sampler | undefined;
afterEach(async () => {
	await sampler?.stop();
	sampler = undefined;
	await demo?.cleanup();
	demo = undefined;
});

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe('fault safety', () => {
	it('pmptop killed with SIGKILL at 20 random moments: each time the target runs on within 1 s', async () => {
		demo = await startTestDemo(LIGHT);
		const pid = demo.pid;
		const outcomes: string[] = [];
		for (let i = 0; i < 20; i++) {
			// Sample as fast as possible so that the kill often lands mid-sample.
			const child = spawn(process.execPath, [CLI, '--pid', String(pid), '--duration', '60', '--interval', '10', '--max-overhead', '0'], {stdio: 'ignore'});
			// Wait until it is attached and sampling, then a random moment.
			await waitUntil(() => tracerPid(pid) > 0, 10_000);
			await sleep(50 + Math.random() * 400);
			const gdbs = gdbsUnder(child.pid!);
			child.kill('SIGKILL');
			const killedAt = Date.now();
			const ok = await waitUntil(() => noThreadStopped(pid) && tracerPid(pid) === 0, 1000, 10);
			if (!ok) {
				const later = await waitUntil(() => noThreadStopped(pid) && tracerPid(pid) === 0, 10_000, 10);
				console.log(`try ${i + 1}: running again after ${Date.now() - killedAt} ms (${later})`);
			}
			const detail = `tracer ${tracerPid(pid)}, states ${[...threadStates(pid).values()].join('')}, gdbs ${gdbs.map(g => `${g}:${processExists(g)}`).join(',')}`;
			outcomes.push(ok ? 'ok' : detail);
			expect(processExists(pid), `target died on try ${i + 1}`).toBe(true);
			expect(ok, `try ${i + 1}: ${detail}`).toBe(true);
			expect(await advances(demo, 5000), `progress after try ${i + 1}`).toBe(true);
			// The orphaned gdb is gone too.
			expect(await waitUntil(() => gdbs.every(g => !processExists(g)), 10_000), `gdb gone after try ${i + 1}`).toBe(true);
		}
		expect(outcomes.filter(o => o === 'ok')).toHaveLength(20);
	}, 180_000);

	it.each([
		['all-stop', false],
		['non-stop', true],
	])('gdb killed mid-sample (%s): the sampler notices, the target runs, a new gdb attaches', async (_mode, nonStop) => {
		demo = await startTestDemo(LIGHT);
		const pid = demo.pid;
		const statuses: SamplerStatus[] = [];
		let samples = 0;
		sampler = new Sampler({pid, intervalMs: 10, maxOverhead: 0, createBackend: () => new MiBackend({pid, nonStop})});
		sampler.on('status', s => statuses.push(s));
		sampler.on('sample', () => samples++);
		await sampler.start();
		for (let round = 0; round < 3; round++) {
			await waitUntil(() => gdbsUnder(process.pid).length > 0 && samples > 3, 10_000);
			const before = samples;
			for (const g of gdbsUnder(process.pid)) process.kill(g, 'SIGKILL');
			expect(await waitUntil(() => statuses.some(s => s.state === 'restarting'), 5000)).toBe(true);
			expect(await waitUntil(() => noThreadStopped(pid), 1000, 10)).toBe(true);
			expect(await waitUntil(() => samples > before + 3, 15_000)).toBe(true);
			statuses.length = 0;
		}
		expect(sampler.status.state).toBe('sampling');
		expect(await advances(demo)).toBe(true);
	}, 90_000);

	it('a gdb attached right after another one detached: the first one\'s wake-ups never swallow its stops', async () => {
		// After gdb ends, its wrapper looks for a job-stopped target for 4 s and sends SIGCONT. A SIGCONT also discards
		// pending SIGSTOPs, which by then may be a new gdb's (it waited for seconds for a stop that never came). Non-stop
		// mode shows a lost stop at once: no resend, the sample times out.
		demo = await startTestDemo(LIGHT);
		const pid = demo.pid;
		let samples = 0;
		for (let round = 0; round < 3; round++) {
			const backend = new MiBackend({pid, nonStop: true, sampleTimeoutMs: 2000});
			await backend.start();
			try {
				const until = Date.now() + 4500;
				while (Date.now() < until) {
					await backend.sample();
					samples++;
				}
			} finally {
				await backend.stop();
			}
		}
		expect(samples).toBeGreaterThan(30);
		expect(await advances(demo)).toBe(true);
	}, 90_000);

	it('gdb hung (SIGSTOP) mid-sample: the sample times out, gdb is killed, the target resumes, sampling restarts', async () => {
		demo = await startTestDemo(LIGHT);
		const pid = demo.pid;
		const statuses: SamplerStatus[] = [];
		let samples = 0;
		sampler = new Sampler({pid, intervalMs: 10, maxOverhead: 0, createBackend: () => new MiBackend({pid, sampleTimeoutMs: 500})});
		sampler.on('status', s => statuses.push(s));
		sampler.on('sample', () => samples++);
		await sampler.start();
		await waitUntil(() => samples > 3, 10_000);
		const hung = gdbsUnder(process.pid);
		expect(hung.length).toBe(1);
		process.kill(hung[0]!, 'SIGSTOP');
		expect(await waitUntil(() => statuses.some(s => s.state === 'restarting'), 5000)).toBe(true);
		expect(statuses.find(s => s.state === 'restarting')!.message).toMatch(/took too long|gdb/);
		expect(await waitUntil(() => noThreadStopped(pid), 2000, 10)).toBe(true);
		expect(processExists(hung[0]!)).toBe(false);
		const before = samples;
		expect(await waitUntil(() => samples > before + 3, 15_000)).toBe(true);
		expect(await advances(demo)).toBe(true);
	}, 60_000);

	it('the target exits mid-sampling: one status, no error storm', async () => {
		demo = await startTestDemo(LIGHT);
		const pid = demo.pid;
		const statuses: SamplerStatus[] = [];
		sampler = new Sampler({pid, intervalMs: 10, maxOverhead: 0, createBackend: () => new MiBackend({pid})});
		sampler.on('status', s => statuses.push(s));
		let samples = 0;
		sampler.on('sample', () => samples++);
		await sampler.start();
		await waitUntil(() => samples > 5, 10_000);
		process.kill(pid, 'SIGKILL');
		expect(await waitUntil(() => sampler!.status.state === 'target-exited', 5000)).toBe(true);
		await sleep(500);
		expect(statuses.filter(s => s.state === 'restarting')).toEqual([]);
		expect(statuses.filter(s => s.state === 'target-exited')).toHaveLength(1);
		// gdb goes too, without waiting for quit.
		expect(await waitUntil(() => gdbsUnder(process.pid).length === 0, 5000)).toBe(true);
	}, 30_000);

	it('Ctrl-C in the terminal (SIGINT to the foreground group) never reaches gdb or stops the target', async () => {
		demo = await startTestDemo(LIGHT);
		const pid = demo.pid;
		// pmptop in its own process group, as a shell would run it in the foreground.
		const child = spawn(process.execPath, [CLI, '--pid', String(pid), '--duration', '30', '--interval', '20'], {stdio: ['ignore', 'pipe', 'pipe'], detached: true});
		let out = '';
		child.stdout!.on('data', d => (out += d));
		expect(await waitUntil(() => tracerPid(pid) > 0, 20_000)).toBe(true);
		await sleep(300);
		const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)));
		process.kill(-child.pid!, 'SIGINT');
		const code = await exited;
		// Headless: SIGINT ends sampling early and still prints the report.
		expect(code).toBe(0);
		expect(out).toMatch(/^pmptop report for PID/);
		expect(await waitUntil(() => tracerPid(pid) === 0 && noThreadStopped(pid), 2000)).toBe(true);
		expect(await advances(demo, 5000)).toBe(true);
	}, 60_000);
});
