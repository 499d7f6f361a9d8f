// End to end in a real terminal: the built CLI in tmux, keys sent as a user would.
import {existsSync} from 'node:fs';
import {afterEach, describe, expect, it} from 'vitest';
import {processExists} from '../src/gdb/target.js';
import {advances, noThreadStopped, startTestDemo, tracerPid, waitUntil, type TestDemo} from './helpers/demo.js';
import {Tmux} from './helpers/tmux.js';

const CLI = new URL('../dist/src/cli.js', import.meta.url).pathname;

let tmux: Tmux | undefined;
let demo: TestDemo | undefined;
afterEach(async () => {
	tmux?.kill();
	tmux = undefined;
	await demo?.cleanup();
	demo = undefined;
});

describe('pmptop in tmux', () => {
	it('is built (npm test builds it first)', () => {
		expect(existsSync(CLI)).toBe(true);
	});

	it('--demo: shows the hot list, Down selects a thread, q quits and stops the demo it started', async () => {
		tmux = new Tmux(`node ${CLI} --demo`);
		const screen = await tmux.until(s => /CPU 1\/KVM/.test(s) && /guest_compute/.test(s), 45_000, 'the hot list');
		const pid = Number(/PID (\d+)/.exec(screen)![1]);
		expect(processExists(pid)).toBe(true);
		tmux.send('Down');
		await tmux.until(s => /HOT all vCPUs/.test(s), 5000, 'the vCPU group selected');
		tmux.send('Down', 'Down', 'Down');
		await tmux.until(s => /HOT CPU 0\/KVM \(TID \d+\)/.test(s), 5000, 'CPU 0 selected');
		tmux.send('q');
		expect(await waitUntil(() => tmux!.dead(), 10_000)).toBe(true);
		expect(await waitUntil(() => !processExists(pid), 5000)).toBe(true);
	}, 90_000);

	it('--pid: q detaches and the target runs on as if nothing happened', async () => {
		demo = await startTestDemo();
		tmux = new Tmux(`node ${CLI} --pid ${demo.pid} --interval 100`);
		await tmux.until(s => /guest_compute|guest_mmio/.test(s) && /\d+ samples/.test(s), 45_000, 'samples');
		tmux.send('q');
		expect(await waitUntil(() => tmux!.dead(), 10_000)).toBe(true);
		expect(await waitUntil(() => tracerPid(demo!.pid) === 0 && noThreadStopped(demo!.pid), 3000)).toBe(true);
		expect(await advances(demo)).toBe(true);
	}, 90_000);
});
