// Putting a snapshot's files on disk: exclusively (never overwrite), atomically (temp + fsync + link), all or
// nothing. The only module of src/export that touches the file system.

import {randomBytes} from 'node:crypto';
import {accessSync, constants, statSync} from 'node:fs';
import {link, open, stat, unlink} from 'node:fs/promises';
import {join} from 'node:path';
import {SnapshotWriteError} from '../errors.js';
import {sanitize} from '../profile/model.js';
import {SNAPSHOT_EXTENSIONS, type SnapshotFiles} from './snapshot.js';

export {snapshotBaseName} from './snapshot.js';

/** How many suffixes (`-1`, `-2`...) are tried before giving up. */
const MAX_SUFFIX = 999;

/** Errors of `link` that mean the file system has no hard links (vfat, some FUSE and network file systems). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK', 'EXDEV']);

/**
Write the three files as `<dir>/<base><ext>` and return their paths (txt, folded, speedscope) and the base name
used. Never overwrites: when any of the three names exists, the base name gets a suffix (`-1`, `-2`...) for all
three, decided by `link(2)` which fails on an existing name, so concurrent writers of one base name each get
their own. Each file is written to a temporary name in `dir`, fsynced, then linked to its final name and the
temporary unlinked; on a file system without hard links each file is created with O_EXCL and written in
place. Any failure removes everything written so far and throws a `SnapshotWriteError` whose one-line message
names the directory and the reason ('permission denied', 'disk full', 'no such directory'...).
*/
export async function writeSnapshot(dir: string, baseName: string, files: SnapshotFiles): Promise<{paths: string[]; baseName: string}> {
	const kinds = Object.keys(SNAPSHOT_EXTENSIONS) as Array<keyof SnapshotFiles>;
	const temps: string[] = [];
	try {
		for (const kind of kinds) {
			const temp = join(dir, `.${baseName}${SNAPSHOT_EXTENSIONS[kind]}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
			await writeNew(temp, files[kind], () => temps.push(temp));
		}
		for (let n = 0; n <= MAX_SUFFIX; n++) {
			const base = n === 0 ? baseName : `${baseName}-${n}`;
			const paths = kinds.map(kind => join(dir, base + SNAPSHOT_EXTENSIONS[kind]));
			const linked: string[] = [];
			let taken = false;
			for (let i = 0; i < paths.length; i++) {
				try {
					await link(temps[i]!, paths[i]!);
					linked.push(paths[i]!);
				} catch (error) {
					await removeAll(linked);
					if (codeOf(error) === 'EEXIST') {
						taken = true;
						break;
					}
					if (i === 0 && NO_LINKS.has(codeOf(error) ?? '')) return await writeInPlace(dir, baseName, kinds, files);
					throw error;
				}
			}
			if (taken) continue;
			await syncDir(dir);
			return {paths, baseName: base};
		}
		throw new SnapshotWriteError(`cannot write snapshot to ${shown(dir)}: ${baseName} and its suffixes up to -${MAX_SUFFIX} all exist`);
	} catch (error) {
		throw await asWriteError(error, dir);
	} finally {
		await removeAll(temps);
	}
}

/** The fallback without hard links: create each final name with O_EXCL, suffixing the base name as above. */
async function writeInPlace(dir: string, baseName: string, kinds: Array<keyof SnapshotFiles>, files: SnapshotFiles): Promise<{paths: string[]; baseName: string}> {
	for (let n = 0; n <= MAX_SUFFIX; n++) {
		const base = n === 0 ? baseName : `${baseName}-${n}`;
		const paths = kinds.map(kind => join(dir, base + SNAPSHOT_EXTENSIONS[kind]));
		const created: string[] = [];
		try {
			for (let i = 0; i < kinds.length; i++) await writeNew(paths[i]!, files[kinds[i]!], () => created.push(paths[i]!));
		} catch (error) {
			await removeAll(created);
			if (codeOf(error) === 'EEXIST') continue;
			throw error;
		}
		await syncDir(dir);
		return {paths, baseName: base};
	}
	throw new SnapshotWriteError(`cannot write snapshot to ${shown(dir)}: ${baseName} and its suffixes up to -${MAX_SUFFIX} all exist`);
}

/** Create `path` exclusively, write `text`, fsync, close; `created` runs once the file exists (for clean-up). */
async function writeNew(path: string, text: string, created: () => void): Promise<void> {
	const handle = await open(path, 'wx', 0o644);
	created();
	try {
		await handle.writeFile(text, 'utf8');
		await handle.sync();
	} finally {
		await handle.close();
	}
}

/** fsync the directory so the new names survive a crash; best effort (not every file system allows it). */
async function syncDir(dir: string): Promise<void> {
	try {
		const handle = await open(dir, 'r');
		try {
			await handle.sync();
		} finally {
			await handle.close();
		}
	} catch {
		// The files themselves are synced; a directory that cannot be fsynced is no reason to fail.
	}
}

async function removeAll(paths: string[]): Promise<void> {
	await Promise.allSettled(paths.map(p => unlink(p)));
}

function codeOf(error: unknown): string | undefined {
	const code = (error as {code?: unknown} | null)?.code;
	return typeof code === 'string' ? code : undefined;
}

/** A directory name safe to put in a one-line message. */
function shown(dir: string): string {
	return sanitize(dir) || '.';
}

/** Words for an errno code, or undefined for an unexpected one. */
function reasonOf(code: string | undefined): string | undefined {
	switch (code) {
		case 'EACCES':
		case 'EPERM': return 'permission denied';
		case 'ENOSPC': return 'disk full';
		case 'EDQUOT': return 'disk quota exceeded';
		case 'ENOENT': return 'no such directory';
		case 'ENOTDIR': return 'not a directory';
		case 'EROFS': return 'read-only file system';
		case 'EISDIR': return 'a directory is in the way';
		case 'ENAMETOOLONG': return 'file name too long';
		case 'EIO': return 'input/output error';
		default: return undefined;
	}
}

/**
Why snapshots cannot be written to `dir`, as far as can be told before writing (it exists, is a directory, is
writable), in the words of a failed write; undefined when it looks writable.
*/
export function snapshotDirProblem(dir: string): string | undefined {
	try {
		if (!statSync(dir).isDirectory()) return `cannot write snapshot to ${shown(dir)}: ${reasonOf('ENOTDIR')} (ENOTDIR)`;
		accessSync(dir, constants.W_OK);
		return undefined;
	} catch (error) {
		const code = codeOf(error);
		return `cannot write snapshot to ${shown(dir)}: ${reasonOf(code) ?? code ?? 'unknown error'}${code ? ` (${code})` : ''}`;
	}
}

/** Turn any failure into a SnapshotWriteError with a one-line message naming the directory and the reason. */
async function asWriteError(error: unknown, dir: string): Promise<SnapshotWriteError> {
	if (error instanceof SnapshotWriteError) return error;
	const code = codeOf(error);
	let reason = reasonOf(code);
	if (code === 'ENOENT') {
		// ENOENT in an existing directory (/proc/self, a directory removed and re-created...) is not "no such directory".
		const isDir = await stat(dir).then(s => s.isDirectory(), () => false);
		if (isDir) reason = 'files cannot be created there';
	}
	if (!reason) {
		const message = error instanceof Error ? error.message : String(error);
		reason = sanitize(message.split('\n')[0] ?? '') || 'unknown error';
	}
	return new SnapshotWriteError(`cannot write snapshot to ${shown(dir)}: ${reason}${code ? ` (${code})` : ''}`, {cause: error});
}
