// The reader against live processes: this test's own process, a child, and a process it may not read.
import {execFileSync, spawn} from 'node:child_process';
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import ts from 'typescript';
import {afterAll, describe, expect, it} from 'vitest';
import {createIoTracker, ingestIoReading} from '../src/procio/rate.js';
import {listTids, readCmdline, readComm, readIo, readShares, readStat, sampleIo} from '../src/procio/read.js';

const SRC = new URL('../src/', import.meta.url);

function exitOf(child: ReturnType<typeof spawn>): Promise<void> {
	return new Promise(resolve => {
		if (child.exitCode !== null || child.signalCode !== null) resolve();
		else child.once('exit', () => resolve());
	});
}

describe('reading /proc', () => {
	it('samples its own process and sees its own reads', async () => {
		const pid = process.pid;
		const first = await sampleIo(pid);
		expect(first.process.ok).toBe(true);
		expect(first.threads.map(t => t.tid)).toContain(pid);
		const main = first.threads.find(t => t.tid === pid)!;
		expect(main.io.ok).toBe(true);
		expect(typeof main.comm).toBe('string');

		// Read 2 MiB on this thread, then sample again.
		const dir = mkdtempSync(join(tmpdir(), 'pmptop-io-'));
		const file = join(dir, 'blob');
		writeFileSync(file, Buffer.alloc(2 << 20, 7));
		readFileSync(file);
		rmSync(dir, {recursive: true});
		const second = await sampleIo(pid, {clock: () => first.atMs + 1000});
		const state = [first, second].reduce(ingestIoReading, createIoTracker());
		expect(state.process.status).toBe('data');
		expect(state.process.rates!.readBytesPerSec).toBeGreaterThanOrEqual(2 << 20);
		// The thread that ran this test (the main one under vitest's forks pool) carries the bytes.
		const perThread = [...state.threads.values()].map(t => t.rates?.readBytesPerSec ?? 0);
		expect(Math.max(...perThread)).toBeGreaterThanOrEqual(2 << 20);

		const stat = await readStat(pid);
		expect(stat.ok && stat.value.pid).toBe(pid);
		const tids = await listTids(pid);
		expect(tids.ok && tids.value.includes(pid)).toBe(true);
	});

	it('reads a child (sleep), then reports it gone', async () => {
		const child = spawn('sleep', ['30'], {stdio: 'ignore'});
		try {
			const pid = child.pid!;
			// Wait for the exec to replace the forked node image.
			for (let i = 0; i < 100; i++) {
				const comm = await readComm(pid);
				if (comm.ok && comm.value === 'sleep') break;
				await new Promise(r => setTimeout(r, 10));
			}
			const reading = await sampleIo(pid);
			expect(reading.process.ok).toBe(true);
			expect(reading.threads).toHaveLength(1);
			expect(reading.threads[0]).toMatchObject({tid: pid, comm: 'sleep', io: {ok: true}});
			expect(await readCmdline(pid)).toEqual({ok: true, value: ['sleep', '30']});
			expect(await readShares(pid)).toEqual({ok: true, value: {shares: [], virtiofs: false, virtiofsTags: []}});
			const stat = await readStat(pid, pid);
			expect(stat.ok && stat.value.comm).toBe('sleep');
			child.kill('SIGKILL');
			await exitOf(child);
			const after = await sampleIo(pid);
			expect(after.process).toMatchObject({ok: false, reason: 'gone'});
			expect(after.threads).toEqual([]);
			expect(await readIo(pid, pid)).toMatchObject({ok: false, reason: 'gone'});
		} finally {
			child.kill('SIGKILL');
		}
	});

	describe('a process it may not read', () => {
		let dir: string | undefined;
		afterAll(() => {
			if (dir) rmSync(dir, {recursive: true, force: true});
		});

		// Compile src/procio (+ the model it imports) to plain JS a child without our test runner can import.
		function transpileReader(): string {
			dir = mkdtempSync(join(tmpdir(), 'pmptop-procio-'));
			for (const sub of ['procio', 'profile']) {
				mkdirSync(join(dir, 'src', sub), {recursive: true});
				for (const name of readdirSync(new URL(`${sub}/`, SRC)).filter(n => n.endsWith('.ts'))) {
					const source = readFileSync(new URL(`${sub}/${name}`, SRC), 'utf8');
					const out = ts.transpileModule(source, {compilerOptions: {module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022}});
					writeFileSync(join(dir, 'src', sub, name.replace(/\.ts$/, '.js')), out.outputText);
				}
			}
			writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
			writeFileSync(join(dir, 'probe.mjs'), [
				"import {readIo, sampleIo} from './src/procio/read.js';",
				'const target = Number(process.argv[2]);',
				'const denied = await readIo(target);',
				'const own = await readIo(process.pid);',
				'const sampled = await sampleIo(target);',
				'console.log(JSON.stringify({uid: process.getuid(), denied, own: own.ok, sampled: sampled.process, thread: sampled.threads[0]?.io}));',
			].join('\n'));
			execFileSync('chmod', ['-R', 'a+rX', dir]);
			chmodSync(dir, 0o755);
			return dir;
		}

		it("reports 'not-permitted' for another user's io file, never zeros", async () => {
			const uid = process.getuid?.() ?? -1;
			if (uid !== 0) {
				// Not root: pid 1 belongs to root, so this process cannot read its io either.
				expect(await readIo(1)).toMatchObject({ok: false, reason: 'not-permitted'});
				return;
			}
			let hasSetpriv = true;
			try {
				execFileSync('setpriv', ['--version'], {stdio: 'ignore'});
			} catch {
				hasSetpriv = false;
			}
			if (!hasSetpriv) {
				console.warn('skipped: setpriv is missing, cannot drop root to test a permission failure');
				return;
			}
			const probeDir = transpileReader();
			const output = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(probeDir, 'probe.mjs'), '1'], {encoding: 'utf8', cwd: probeDir});
			const result = JSON.parse(output) as {uid: number; denied: unknown; own: boolean; sampled: unknown; thread: unknown};
			expect(result.uid).toBe(65534);
			expect(result.denied).toMatchObject({ok: false, reason: 'not-permitted'});
			expect(result.denied).not.toHaveProperty('value');
			expect(result.own).toBe(true);
			expect(result.sampled).toMatchObject({ok: false, reason: 'not-permitted'});
			expect(result.thread).toMatchObject({ok: false, reason: 'not-permitted'});
			// And the tracker, fed such readings, says so.
			const reading = {atMs: 0, process: result.sampled as never, threads: []};
			expect(ingestIoReading(createIoTracker(), reading).process.status).toBe('not-permitted');
		});
	});
});
