// The tiny /proc reader: files in, ProcResults out. Errors become typed data, never zeros or throws.
// Reading /proc never stops the target, so this runs on its own clock, independent of gdb sampling.

import {closeSync, openSync, readSync} from 'node:fs';
import {readdir, readFile} from 'node:fs/promises';
import type {IoCounters, ProcFailure, ProcResult, ProcStat} from './parse.js';
import {parseCmdline, parseComm, parseIo, parseStat, procFail, procOk} from './parse.js';
import type {IoReading, IoThreadReading} from './rate.js';
import {parseShares} from './shares.js';
import type {QemuShares} from './shares.js';

/** Map a Node fs error to a ProcFailure: EACCES/EPERM -> 'not-permitted', ENOENT/ESRCH -> 'gone'. */
export function failureOf(error: unknown): {reason: ProcFailure; message: string} {
	const code = (error as NodeJS.ErrnoException | undefined)?.code;
	const message = error instanceof Error ? error.message : String(error);
	if (code === 'EACCES' || code === 'EPERM') return {reason: 'not-permitted', message};
	if (code === 'ENOENT' || code === 'ESRCH') return {reason: 'gone', message};
	return {reason: 'error', message};
}

/** Read a whole /proc file as text (latin1 keeps arbitrary bytes one char each), or why it could not be read. */
export async function readProcFile(path: string): Promise<ProcResult<string>> {
	try {
		return procOk(await readFile(path, 'latin1'));
	} catch (error) {
		const {reason, message} = failureOf(error);
		return procFail(reason, message);
	}
}

// One buffer for the small per-thread files (io, stat, comm: a few hundred bytes), read synchronously: every
// second pmptop reads two of them per thread, and an asynchronous readFile allocates 64 KiB for each file whose
// size /proc reports as 0. These files are filled from the task's own counters and never wait on the target.
let scratch = Buffer.allocUnsafe(4096);

/** A small /proc file read at once into the shared buffer, or why it could not be read. */
export function readSmallProcFile(path: string): ProcResult<string> {
	let fd: number;
	try {
		fd = openSync(path, 'r');
	} catch (error) {
		const {reason, message} = failureOf(error);
		return procFail(reason, message);
	}
	try {
		let length = 0;
		for (;;) {
			if (length === scratch.length) {
				const bigger = Buffer.allocUnsafe(scratch.length * 2);
				scratch.copy(bigger, 0, 0, length);
				scratch = bigger;
			}
			const n = readSync(fd, scratch, length, scratch.length - length, null);
			if (n === 0) break;
			length += n;
		}
		return procOk(scratch.toString('latin1', 0, length));
	} catch (error) {
		const {reason, message} = failureOf(error);
		return procFail(reason, message);
	} finally {
		closeSync(fd);
	}
}

function taskDir(pid: number, tid?: number): string {
	return tid === undefined ? `/proc/${pid}` : `/proc/${pid}/task/${tid}`;
}

async function readParsed<T>(path: string, parse: (text: string) => ProcResult<T>, small = true): Promise<ProcResult<T>> {
	// The command line can take the target's memory map lock: that one is read off the event loop.
	const text = small ? readSmallProcFile(path) : await readProcFile(path);
	return text.ok ? parse(text.value) : text;
}

/** `/proc/PID/io` (the whole process, exited threads included), or `/proc/PID/task/TID/io` with a tid. */
export function readIo(pid: number, tid?: number): Promise<ProcResult<IoCounters>> {
	return readParsed(`${taskDir(pid, tid)}/io`, parseIo);
}

/** `/proc/PID/stat`, or `/proc/PID/task/TID/stat` with a tid. */
export function readStat(pid: number, tid?: number): Promise<ProcResult<ProcStat>> {
	return readParsed(`${taskDir(pid, tid)}/stat`, parseStat);
}

/** `/proc/PID/task/TID/comm` (or the process's comm without a tid), sanitized. */
export function readComm(pid: number, tid?: number): Promise<ProcResult<string>> {
	return readParsed(`${taskDir(pid, tid)}/comm`, text => procOk(parseComm(text)));
}

/** `/proc/PID/cmdline` as argv. */
export function readCmdline(pid: number): Promise<ProcResult<string[]>> {
	return readParsed(`/proc/${pid}/cmdline`, text => procOk(parseCmdline(text)), false);
}

/** The 9p shares declared on a process's command line (read once: a command line does not change). */
export async function readShares(pid: number): Promise<ProcResult<QemuShares>> {
	const argv = await readCmdline(pid);
	return argv.ok ? procOk(parseShares(argv.value)) : argv;
}

/** The thread ids in `/proc/PID/task`, ascending. */
export async function listTids(pid: number): Promise<ProcResult<number[]>> {
	try {
		const names = await readdir(`/proc/${pid}/task`);
		return procOk(names.filter(n => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b));
	} catch (error) {
		const {reason, message} = failureOf(error);
		return procFail(reason, message);
	}
}

/** Options of `sampleIo`: the clock for `atMs` (default Date.now) and worker TIDs known from stacks. */
export interface SampleIoOptions {
	clock?: () => number;
	workerTids?: ReadonlySet<number>;
}

/**
Read one IoReading of a process: `/proc/PID/io`, then every task's comm and io, all in parallel. `atMs` is
taken just before the reads start. A process that is gone or unreadable yields a reading that says so (with
no threads when the task list itself failed); a thread that exits meanwhile reads as 'gone'.
*/
export async function sampleIo(pid: number, options: SampleIoOptions = {}): Promise<IoReading> {
	const atMs = (options.clock ?? Date.now)();
	const [process, tids] = await Promise.all([readIo(pid), listTids(pid)]);
	const threads: IoThreadReading[] = tids.ok
		? await Promise.all(tids.value.map(async (tid): Promise<IoThreadReading> => {
			const [comm, io] = await Promise.all([readComm(pid, tid), readIo(pid, tid)]);
			return comm.ok ? {tid, comm: comm.value, io} : {tid, io};
		}))
		: [];
	const reading: IoReading = {atMs, pid, process, threads};
	if (options.workerTids) reading.workerTids = options.workerTids;
	return reading;
}
