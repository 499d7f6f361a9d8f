import {execFileSync, spawnSync} from 'node:child_process';
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, relative} from 'node:path';
import ts from 'typescript';
import {afterAll, afterEach, describe, expect, it} from 'vitest';
import {SnapshotWriteError} from '../src/errors.js';
import type {SnapshotFiles} from '../src/export/snapshot.js';
import {snapshotBaseName, writeSnapshot} from '../src/export/write.js';

const SRC = new URL('../src/', import.meta.url);
const BASE = 'pmptop-123-20261201-120000';
const FILES: SnapshotFiles = {txt: 'hot list\n', folded: 'main (TID 1);main 3\n', speedscope: '{"profiles":[]}\n'};
const NAMES = (base: string) => [`${base}.txt`, `${base}.folded`, `${base}.speedscope.json`];

const dirs: string[] = [];
function tempDir(): string {
	const dir = mkdtempSync(join(tmpdir(), 'pmptop-write-'));
	dirs.push(dir);
	return dir;
}
afterAll(() => {
	for (const dir of dirs) rmSync(dir, {recursive: true, force: true});
});

/** The error writeSnapshot rejects with (fails the test when it resolves). */
async function failure(dir: string, files: SnapshotFiles = FILES): Promise<SnapshotWriteError> {
	const error: unknown = await writeSnapshot(dir, BASE, files).then(() => undefined, (e: unknown) => e);
	expect(error).toBeInstanceOf(SnapshotWriteError);
	const e = error as SnapshotWriteError;
	expect(e.name).toBe('SnapshotWriteError');
	expect(e.message).not.toContain('\n');
	return e;
}

describe('writeSnapshot', () => {
	it('writes the three files under the base name, and nothing else', async () => {
		const dir = tempDir();
		const result = await writeSnapshot(dir, BASE, FILES);
		expect(result).toEqual({baseName: BASE, paths: NAMES(BASE).map(n => join(dir, n))});
		expect(readdirSync(dir).sort()).toEqual(NAMES(BASE).sort());
		expect(readFileSync(result.paths[0]!, 'utf8')).toBe(FILES.txt);
		expect(readFileSync(result.paths[1]!, 'utf8')).toBe(FILES.folded);
		expect(readFileSync(result.paths[2]!, 'utf8')).toBe(FILES.speedscope);
	});

	it('never overwrites: when any of the three names exists, all three get a suffix', async () => {
		const dir = tempDir();
		writeFileSync(join(dir, `${BASE}.folded`), 'precious\n');
		const first = await writeSnapshot(dir, BASE, FILES);
		expect(first.baseName).toBe(`${BASE}-1`);
		expect(readFileSync(join(dir, `${BASE}.folded`), 'utf8')).toBe('precious\n');
		// The .txt linked before the clash was noticed is gone again: no half snapshot under the plain name.
		expect(existsSync(join(dir, `${BASE}.txt`))).toBe(false);
		const second = await writeSnapshot(dir, BASE, {...FILES, txt: 'second\n'});
		expect(second.baseName).toBe(`${BASE}-2`);
		expect(readFileSync(join(dir, `${BASE}-1.txt`), 'utf8')).toBe(FILES.txt);
		expect(readFileSync(join(dir, `${BASE}-2.txt`), 'utf8')).toBe('second\n');
		expect(readdirSync(dir).sort()).toEqual([`${BASE}.folded`, ...NAMES(`${BASE}-1`), ...NAMES(`${BASE}-2`)].sort());
	});

	it('gives concurrent writers of one name different names, each with its own content', async () => {
		const dir = tempDir();
		const results = await Promise.all(Array.from({length: 6}, (_, i) => writeSnapshot(dir, BASE, {...FILES, txt: `writer ${i}\n`})));
		const bases = results.map(r => r.baseName);
		expect(new Set(bases).size).toBe(6);
		expect([...bases].sort()).toEqual([BASE, ...[1, 2, 3, 4, 5].map(n => `${BASE}-${n}`)].sort());
		results.forEach((r, i) => expect(readFileSync(r.paths[0]!, 'utf8')).toBe(`writer ${i}\n`));
		expect(readdirSync(dir)).toHaveLength(18);
	});

	it('writes into a directory given relative to the current one', async () => {
		const dir = tempDir();
		const rel = relative(process.cwd(), dir);
		const result = await writeSnapshot(rel, BASE, FILES);
		expect(result.paths[0]).toBe(join(rel, `${BASE}.txt`));
		expect(readdirSync(dir).sort()).toEqual(NAMES(BASE).sort());
	});

	it("fails with 'not a directory' when the directory is a regular file", async () => {
		const dir = tempDir();
		const file = join(dir, 'plain-file');
		writeFileSync(file, 'x');
		const e = await failure(file);
		expect(e.message).toBe(`cannot write snapshot to ${file}: not a directory (ENOTDIR)`);
		expect(readdirSync(dir)).toEqual(['plain-file']);
	});

	it("fails with 'no such directory' when it does not exist", async () => {
		const dir = join(tempDir(), 'missing');
		const e = await failure(dir);
		expect(e.message).toBe(`cannot write snapshot to ${dir}: no such directory (ENOENT)`);
	});

	it('fails in a directory where even root cannot create files (/proc/self)', async () => {
		const e = await failure('/proc/self');
		expect(e.message).toMatch(/^cannot write snapshot to \/proc\/self: /);
		expect(readdirSync('/proc/self').filter(n => n.includes(BASE))).toEqual([]);
	});

	it('keeps a directory name with control characters on one line', async () => {
		const e = await failure(join(tempDir(), 'bad\nname'));
		expect(e.message).toContain('badname');
	});
});

describe('writeSnapshot on real failures', () => {
	const isRoot = process.getuid?.() === 0;
	const mounts: string[] = [];
	afterEach(() => {
		for (const m of mounts.splice(0)) spawnSync('umount', [m]);
	});

	/** Mount a tmpfs on a fresh directory, or return undefined where mounting is not permitted. */
	function tmpfs(options: string): string | undefined {
		const dir = tempDir();
		const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], {encoding: 'utf8'});
		if (r.status !== 0) {
			console.warn(`skipped: cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim()})`);
			return undefined;
		}
		mounts.push(dir);
		return dir;
	}

	it("fails with 'disk full' on a full file system and leaves no file behind", async ctx => {
		const dir = tmpfs('size=16k');
		if (!dir) return ctx.skip();
		// The .txt fits, the .folded does not: the written .txt's temporary must go too.
		const e = await failure(dir, {...FILES, folded: 'x'.repeat(256 * 1024)});
		expect(e.message).toBe(`cannot write snapshot to ${dir}: disk full (ENOSPC)`);
		expect(readdirSync(dir)).toEqual([]);
		// Once there is room again it works.
		await writeSnapshot(dir, BASE, FILES);
		expect(readdirSync(dir).sort()).toEqual(NAMES(BASE).sort());
	});

	it("fails with 'read-only file system' on a read-only mount", async ctx => {
		const dir = tmpfs('ro,size=16k');
		if (!dir) return ctx.skip();
		const e = await failure(dir);
		expect(e.message).toBe(`cannot write snapshot to ${dir}: read-only file system (EROFS)`);
	});

	describe('without write permission (run as nobody: root ignores permissions)', () => {
		// Transpile the writer and what it imports to plain JS a child without our test runner can import.
		function transpileWriter(): string {
			const out = tempDir();
			for (const sub of ['export', 'profile', '']) {
				mkdirSync(join(out, 'src', sub), {recursive: true});
				for (const name of readdirSync(new URL(sub ? `${sub}/` : './', SRC)).filter(n => n.endsWith('.ts'))) {
					if (!sub && name !== 'errors.ts') continue;
					const source = readFileSync(new URL(`${sub ? `${sub}/` : ''}${name}`, SRC), 'utf8');
					const js = ts.transpileModule(source, {compilerOptions: {module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022}});
					writeFileSync(join(out, 'src', sub, name.replace(/\.ts$/, '.js')), js.outputText);
				}
			}
			writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
			writeFileSync(join(out, 'probe.mjs'), [
				"import {writeSnapshot} from './src/export/write.js';",
				"const files = {txt: 'a\\n', folded: 'b 1\\n', speedscope: '{}\\n'};",
				'try {',
				`	const r = await writeSnapshot(process.argv[2], '${BASE}', files);`,
				'	console.log(JSON.stringify({uid: process.getuid(), ok: true, paths: r.paths}));',
				'} catch (e) {',
				'	console.log(JSON.stringify({uid: process.getuid(), ok: false, name: e.name, message: e.message}));',
				'}',
			].join('\n'));
			execFileSync('chmod', ['-R', 'a+rX', out]);
			return out;
		}

		it("fails with 'permission denied' and leaves no file behind", async ctx => {
			if (!isRoot) {
				// Not root: a root-owned directory such as / is already unwritable for this process.
				const e = await failure('/');
				expect(e.message).toBe('cannot write snapshot to /: permission denied (EACCES)');
				return;
			}
			if (spawnSync('setpriv', ['--version']).status !== 0) {
				console.warn('skipped: setpriv is missing, cannot drop root to test a permission failure');
				return ctx.skip();
			}
			const probeDir = transpileWriter();
			const target = tempDir();
			chmodSync(target, 0o555);
			const run = (dir: string) => JSON.parse(execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(probeDir, 'probe.mjs'), dir], {encoding: 'utf8', cwd: probeDir})) as Record<string, unknown>;
			expect(run(target)).toEqual({uid: 65534, ok: false, name: 'SnapshotWriteError', message: `cannot write snapshot to ${target}: permission denied (EACCES)`});
			expect(readdirSync(target)).toEqual([]);
			// The same child writes fine where it may: the failure is the permission, not the probe.
			chmodSync(target, 0o777);
			expect(run(target)).toMatchObject({uid: 65534, ok: true});
			expect(readdirSync(target).sort()).toEqual(NAMES(BASE).sort());
		});
	});
});

describe('snapshotBaseName (re-exported by write.ts)', () => {
	it('names files by PID and local time', () => {
		expect(snapshotBaseName(123, new Date(2026, 11, 1, 12, 0, 0))).toBe(BASE);
	});
});
