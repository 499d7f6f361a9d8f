// Failures that a real file system does not produce on demand, injected into node:fs/promises.
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import * as fsp from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, afterEach, describe, expect, it, vi} from 'vitest';
import {SnapshotWriteError} from '../src/errors.js';
import {writeSnapshot} from '../src/export/write.js';

vi.mock('node:fs/promises', async importOriginal => {
	const actual = await importOriginal<typeof import('node:fs/promises')>();
	return {...actual, link: vi.fn(actual.link)};
});

const BASE = 'pmptop-9-20260101-000000';
const FILES = {txt: 'text\n', folded: 'a 1\n', speedscope: '{}\n'};
const NAMES = (base: string) => [`${base}.txt`, `${base}.folded`, `${base}.speedscope.json`].sort();
const errno = (code: string) => Object.assign(new Error(`${code}: injected`), {code});

const dirs: string[] = [];
function tempDir(): string {
	const dir = mkdtempSync(join(tmpdir(), 'pmptop-faults-'));
	dirs.push(dir);
	return dir;
}
afterAll(() => {
	for (const dir of dirs) rmSync(dir, {recursive: true, force: true});
});
const actual = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises');
afterEach(() => {
	vi.mocked(fsp.link).mockReset().mockImplementation(actual.link);
});

describe('writeSnapshot under injected failures', () => {
	it('removes the first file when the second cannot be put in place, and every temporary', async () => {
		const dir = tempDir();
		let calls = 0;
		vi.mocked(fsp.link).mockImplementation(async (from, to) => {
			if (++calls === 2) throw errno('EIO');
			return actual.link(from, to);
		});
		const error: unknown = await writeSnapshot(dir, BASE, FILES).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(SnapshotWriteError);
		expect((error as Error).message).toBe(`cannot write snapshot to ${dir}: input/output error (EIO)`);
		expect(calls).toBe(2);
		expect(readdirSync(dir)).toEqual([]);
	});

	it('falls back to exclusive in-place files where hard links are not supported (vfat)', async () => {
		const dir = tempDir();
		vi.mocked(fsp.link).mockRejectedValue(errno('EPERM'));
		writeFileSync(join(dir, `${BASE}.speedscope.json`), 'keep');
		const result = await writeSnapshot(dir, BASE, FILES);
		expect(result.baseName).toBe(`${BASE}-1`);
		expect(readFileSync(join(dir, `${BASE}.speedscope.json`), 'utf8')).toBe('keep');
		expect(readdirSync(dir).sort()).toEqual([`${BASE}.speedscope.json`, ...NAMES(`${BASE}-1`)].sort());
		expect(readFileSync(result.paths[1]!, 'utf8')).toBe(FILES.folded);
	});
});
