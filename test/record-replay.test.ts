// --record then --replay: the same samples give the same hot lists, without gdb or the target.
import {spawnSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {Store} from '../src/app/store.js';
import {readRecording, ReplaySource} from '../src/runtime.js';
import {startTestDemo, type TestDemo} from './helpers/demo.js';

const CLI = new URL('../dist/src/cli.js', import.meta.url).pathname;
const SHIPPED = new URL('../demo/recording.jsonl', import.meta.url).pathname;

let demo: TestDemo | undefined;
let dir: string | undefined;
afterEach(async () => {
	await demo?.cleanup();
	demo = undefined;
	if (dir) rmSync(dir, {recursive: true, force: true});
	dir = undefined;
});

const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, [CLI, ...args], {encoding: 'utf8', env, timeout: 60_000});
const hotLists = (report: {threads: Array<{tid: number; name: string; role?: string; samples: number; frames: unknown[]}>}) => report.threads.map(t => ({tid: t.tid, name: t.name, role: t.role, samples: t.samples, frames: t.frames}));

describe('record and replay', () => {
	it('a replay of a recording gives the same hot lists as the live session', async () => {
		demo = await startTestDemo();
		dir = mkdtempSync(join(tmpdir(), 'pmptop-rec-'));
		const file = join(dir, 'rec.jsonl');
		const live = cli(['--pid', String(demo.pid), '--duration', '3', '--interval', '50', '--max-overhead', '0', '--format', 'json', '--record', file]);
		expect(live.status).toBe(0);
		const replay = cli(['--replay', file, '--format', 'json'], {...process.env, PATH: '/nonexistent'});
		expect(replay.stderr).toBe('');
		expect(replay.status).toBe(0);
		const a = JSON.parse(live.stdout);
		const b = JSON.parse(replay.stdout);
		expect(b.samples).toBe(a.samples);
		expect(a.samples).toBeGreaterThan(5);
		expect(hotLists(b)).toEqual(hotLists(a));
		expect(b.stop).toEqual(a.stop);
		expect(b.io.workers.total).toEqual(a.io.workers.total);
	});

	it('a recording cut mid-line (a crash) still replays all complete lines', () => {
		dir = mkdtempSync(join(tmpdir(), 'pmptop-rec-'));
		const text = readFileSync(SHIPPED, 'utf8');
		const cut = join(dir, 'cut.jsonl');
		writeFileSync(cut, text.slice(0, Math.floor(text.length * 0.6)));
		const {events} = readRecording(cut);
		const all = readRecording(SHIPPED).events;
		expect(events.length).toBeGreaterThan(10);
		expect(events.length).toBeLessThan(all.length);
	});

	it('a file that is not a recording gets one line and a non-zero exit', () => {
		dir = mkdtempSync(join(tmpdir(), 'pmptop-rec-'));
		const bad = join(dir, 'bad.jsonl');
		writeFileSync(bad, 'hello\nworld\nagain\n');
		const r = cli(['--replay', bad, '--format', 'json']);
		expect(r.status).toBe(1);
		expect(r.stderr.trim().split('\n')).toHaveLength(1);
		expect(r.stderr).toMatch(/^pmptop: .*not a pmptop recording/);
		const missing = cli(['--replay', join(dir, 'nope.jsonl')]);
		expect(missing.status).toBe(1);
		expect(missing.stderr).toMatch(/^pmptop: cannot read recording .*ENOENT/);
	});

	it('the shipped demo recording replays into the screen\'s store with roles and the 70/30 split', async () => {
		const {meta, events} = readRecording(SHIPPED);
		expect(meta.command).toContain('qemu-demo');
		const store = new Store({info: {pid: meta.pid, command: meta.command, backend: 'replay'}, intervalMs: meta.intervalMs});
		const source = new ReplaySource(events, 0);
		source.on('sample', s => store.ingest(s));
		await source.start();
		await source.finished();
		store.dispatch({type: 'cycle-window'});
		store.dispatch({type: 'cycle-window'}); // whole run
		const view = store.flush();
		expect(view.threads.map(t => t.name)).toEqual(expect.arrayContaining(['all threads', 'all vCPUs', 'all workers', 'CPU 0/KVM', 'CPU 1/KVM', 'worker', 'call_rcu']));
		expect(view.threads.find(t => t.name === 'CPU 0/KVM')!.role).toBe('vcpu');
		store.dispatch({type: 'cursor', delta: 1}); // all vCPUs
		const rows = store.flush().hot.rows;
		const compute = rows.find(r => r.func === 'guest_compute')!.totalShare;
		const mmio = rows.find(r => r.func === 'guest_mmio')!.totalShare;
		expect(compute / (compute + mmio)).toBeGreaterThan(0.55);
		expect(compute / (compute + mmio)).toBeLessThan(0.85);
		store.dispose();
	});
});
