#!/usr/bin/env node
// Builds the demo target (demo/target/bin/qemu-demo) when it is missing or older than its source.
// Works from any cwd; no dependencies. Prints one line when it builds, nothing when up to date,
// and exits non-zero with a one-line message when gcc is missing or fails.
import {spawnSync} from 'node:child_process';
import {mkdirSync, renameSync, rmSync, statSync} from 'node:fs';
import {dirname, join, relative} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'target', 'qemu-demo.c');
const binary = join(here, 'target', 'bin', 'qemu-demo');
const flags = ['-g', '-O1', '-fno-omit-frame-pointer', '-pthread'];

function mtimeMs(path) {
	try {
		return statSync(path).mtimeMs;
	} catch {
		return undefined;
	}
}

// A path relative to the cwd when it lies below it, else absolute.
function shown(path) {
	const rel = relative(process.cwd(), path);
	return rel && !rel.startsWith('..') ? rel : path;
}

function fail(message) {
	process.stderr.write(`build-demo: ${message}\n`);
	process.exit(1);
}

const sourceTime = mtimeMs(source);
if (sourceTime === undefined) {
	fail(`source not found: ${source}`);
}
const binaryTime = mtimeMs(binary);
if (binaryTime !== undefined && binaryTime >= sourceTime) {
	process.exit(0);
}

mkdirSync(dirname(binary), {recursive: true});
// Compile next to the target and rename, so a concurrent run never sees a half-written binary.
const temporary = `${binary}.${process.pid}.tmp`;
const result = spawnSync('gcc', [...flags, '-o', temporary, source], {encoding: 'utf8'});
if (result.error) {
	rmSync(temporary, {force: true});
	fail(
		result.error.code === 'ENOENT'
			? 'gcc not found: install gcc (Debian: apt-get install gcc) to build the demo target'
			: `cannot run gcc: ${result.error.message}`,
	);
}
if (result.status !== 0) {
	rmSync(temporary, {force: true});
	const firstError =
		result.stderr.split('\n').find(line => /error/i.test(line)) ?? result.stderr.split('\n')[0] ?? '';
	const how = result.status === null ? `was killed by ${result.signal}` : `exited with ${result.status}`;
	fail(`gcc ${how} compiling ${shown(source)}${firstError ? `: ${firstError.trim()}` : ''}`);
}
renameSync(temporary, binary);
process.stdout.write(`build-demo: built ${shown(binary)}\n`);
