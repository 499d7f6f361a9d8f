// Long VM tests: the target exits and a new one starts; pmptop follows it. Strings from the target are sanitized.
import {spawn} from 'node:child_process';
import {EventEmitter} from 'node:events';
import {copyFileSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {FollowingSource, findFollowers, followKeyOf} from '../src/follow.js';
import type {LiveSource} from '../src/runtime.js';
import type {SamplerStatus} from '../src/sampler.js';
import {startTestDemo, tracerPid, waitUntil, type TestDemo} from './helpers/demo.js';

const CLI = new URL('../dist/src/cli.js', import.meta.url).pathname;

const demos: TestDemo[] = [];
afterEach(async () => {
	for (const d of demos.splice(0)) await d.cleanup();
});

describe('--follow', () => {
	it('finds a new process of the same executable, not the old one', async () => {
		const a = await startTestDemo();
		demos.push(a);
		const key = followKeyOf(a.pid);
		expect(key.exe).toMatch(/qemu-demo$/);
		expect(findFollowers(key, new Set([a.pid]))).not.toContain(a.pid);
		const b = await startTestDemo();
		demos.push(b);
		expect(findFollowers(key, new Set([a.pid]))).toContain(b.pid);
	});

	it('when the target exits, attaches to the next one and keeps the earlier run\'s threads', async () => {
		const a = await startTestDemo();
		demos.push(a);
		const child = spawn(process.execPath, [CLI, '--pid', String(a.pid), '--follow', '--duration', '12', '--interval', '50', '--format', 'json'], {stdio: ['ignore', 'pipe', 'pipe']});
		let out = '';
		let err = '';
		child.stdout!.on('data', d => (out += d));
		child.stderr!.on('data', d => (err += d));
		const done = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)));
		expect(await waitUntil(() => tracerPid(a.pid) > 0, 30_000), `attached to the first target; pmptop said: ${err}`).toBe(true);
		await new Promise(r => setTimeout(r, 1000));
		await a.kill();
		const b = await startTestDemo();
		demos.push(b);
		expect(await waitUntil(() => err.includes(`now profiling PID ${b.pid}`), 20_000), `pmptop said: ${err}`).toBe(true);
		expect(await done).toBe(0);
		const report = JSON.parse(out);
		const tids = report.threads.map((t: {tid: number}) => t.tid);
		expect(tids).toContain(a.pid);
		expect(tids).toContain(b.pid);
		expect(report.threads.find((t: {tid: number}) => t.tid === a.pid).gone).toBe(true);
		expect(report.threads.find((t: {tid: number}) => t.tid === b.pid).gone).toBe(false);
		expect(tracerPid(b.pid)).toBe(0);
	}, 90_000);
});

describe('FollowingSource', () => {
	it('tries a follower again when the attach fails (a VM still starting, a gdb that died during the attach), then follows it', async () => {
		// Processes of an executable of their own, so that nothing else on the machine matches the key.
		const dir = mkdtempSync(join(tmpdir(), 'pmptop-follow-'));
		const exe = join(dir, 'vm-like');
		copyFileSync('/bin/sleep', exe);
		const a = spawn(exe, ['60'], {stdio: 'ignore'});
		const b = spawn(exe, ['60'], {stdio: 'ignore'});
		const starts: number[] = [];
		const fake = (pid: number, failFirst: boolean): LiveSource => {
			const source = Object.assign(new EventEmitter(), {
				pid,
				status: {state: 'sampling'},
				start: async () => {
					starts.push(pid);
					if (failFirst && starts.filter(p => p === pid).length === 1) throw new Error('gdb exited during attach');
				},
				stop: async () => {},
				setIntervalMs: () => {},
			});
			return source as unknown as LiveSource;
		};
		const first = fake(a.pid!, false);
		const following = new FollowingSource(first, pid => fake(pid, true), {exe}, true, 50);
		const messages: string[] = [];
		following.on('status', (status: SamplerStatus) => status.message && messages.push(status.message));
		const followed = new Promise<number>(resolve => following.on('target', ({pid}: {pid: number}) => resolve(pid)));
		try {
			await following.start();
			a.kill('SIGKILL');
			first.emit('status', {state: 'target-exited'});
			const pid = await Promise.race([followed, new Promise<undefined>(resolve => setTimeout(resolve, 5000))]);
			expect(pid).toBe(b.pid);
			expect(starts.filter(p => p === b.pid)).toHaveLength(2);
			expect(messages.some(m => m.includes(`cannot attach to PID ${b.pid}: gdb exited during attach; trying again in 1 s`))).toBe(true);
		} finally {
			await following.stop();
			a.kill('SIGKILL');
			b.kill('SIGKILL');
			rmSync(dir, {recursive: true, force: true});
		}
	});
});

describe('untrusted strings', () => {
	it('a thread named with an escape sequence reaches neither the text output nor the JSON as control bytes', async () => {
		const a = await startTestDemo(['--thread-name-escape']);
		demos.push(a);
		for (const format of ['text', 'json']) {
			const r = await new Promise<string>(resolve => {
				const c = spawn(process.execPath, [CLI, '--pid', String(a.pid), '--duration', '1', '--interval', '50', '--format', format], {stdio: ['ignore', 'pipe', 'ignore']});
				let o = '';
				c.stdout!.on('data', d => (o += d));
				c.on('exit', () => resolve(o));
			});
			expect(r).toContain('[2Jevil');
			// eslint-disable-next-line no-control-regex
			expect(r.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
		}
	}, 30_000);
});
