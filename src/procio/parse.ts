// Pure parsers for the /proc files pmptop reads: io, stat, comm, cmdline. No I/O here (see read.ts).
// Field meanings: proc(5) and Documentation/filesystems/proc.rst ("/proc/<pid>/io - Display the IO accounting fields").

import {sanitize} from '../profile/model.js';

/**
Why a /proc file gave no value. 'not-permitted': EACCES/EPERM (io needs ptrace read access: same uid and
dumpable, or root). 'gone': the process or thread exited (ENOENT/ESRCH). 'malformed': the text did not parse.
'error': anything else. A failure is never turned into zeros.
*/
export type ProcFailure = 'not-permitted' | 'gone' | 'malformed' | 'error';

/** A value read from /proc, or the typed reason it could not be read (`message` is for humans). */
export type ProcResult<T> = {ok: true; value: T} | {ok: false; reason: ProcFailure; message: string};

/**
The cumulative counters of `/proc/PID/io` or `/proc/PID/task/TID/io`. `rchar`/`wchar` are bytes passed through
read/write-family syscalls (page-cache hits included: what a 9p server moves), `syscr`/`syscw` syscall counts,
`readBytes`/`writeBytes`/`cancelledWriteBytes` bytes at the storage layer (0 for cached files). All cumulative
since the thread (or, for the process file, the process including its exited threads) started.
*/
export interface IoCounters {
	rchar: number;
	wchar: number;
	syscr: number;
	syscw: number;
	readBytes: number;
	writeBytes: number;
	cancelledWriteBytes: number;
}

/** A successful ProcResult. */
export function procOk<T>(value: T): ProcResult<T> {
	return {ok: true, value};
}

/** A failed ProcResult of any value type. */
export function procFail<T = never>(reason: ProcFailure, message: string): ProcResult<T> {
	return {ok: false, reason, message};
}

const IO_FIELDS: ReadonlyArray<readonly [string, keyof IoCounters]> = [
	['rchar', 'rchar'],
	['wchar', 'wchar'],
	['syscr', 'syscr'],
	['syscw', 'syscw'],
	['read_bytes', 'readBytes'],
	['write_bytes', 'writeBytes'],
	['cancelled_write_bytes', 'cancelledWriteBytes'],
];

/**
Parse the text of an io file (`rchar: 45119883\n...`). All seven fields are required (the kernel always prints
them); a missing or non-numeric field gives 'malformed' rather than a silent 0. Unknown extra lines are ignored.
*/
export function parseIo(text: string): ProcResult<IoCounters> {
	const seen = new Map<string, number>();
	for (const line of text.split('\n')) {
		const colon = line.indexOf(':');
		if (colon < 0) continue;
		const key = line.slice(0, colon).trim();
		const raw = line.slice(colon + 1).trim();
		if (!/^\d+$/.test(raw)) continue;
		seen.set(key, Number(raw));
	}
	const out: Partial<IoCounters> = {};
	const missing: string[] = [];
	for (const [name, key] of IO_FIELDS) {
		const value = seen.get(name);
		if (value === undefined) missing.push(name);
		else out[key] = value;
	}
	if (missing.length > 0) return procFail('malformed', `io: missing ${missing.join(', ')}`);
	return procOk(out as IoCounters);
}

/**
The fields of `/proc/PID/stat` (or task/TID/stat) pmptop uses. Times are in clock ticks (`getconf CLK_TCK`,
normally 100); `startTimeTicks` counts from boot. `comm` is sanitized.
*/
export interface ProcStat {
	pid: number;
	comm: string;
	state: string;
	ppid: number;
	utimeTicks: number;
	stimeTicks: number;
	numThreads: number;
	startTimeTicks: number;
	processor: number;
}

/**
Parse a stat line. The comm sits in parentheses and may itself contain spaces, `/` and `)` (`(CPU 0/TCG)`),
so it runs to the last `)` of the line; the fields after it are space-separated (proc(5) numbers them from 1:
state is field 3).
*/
export function parseStat(text: string): ProcResult<ProcStat> {
	const open = text.indexOf('(');
	const close = text.lastIndexOf(')');
	if (open < 0 || close < open) return procFail('malformed', 'stat: no (comm)');
	const pid = Number(text.slice(0, open).trim());
	const comm = sanitize(text.slice(open + 1, close));
	const rest = text.slice(close + 1).trim().split(/\s+/);
	// rest[0] is field 3 (state): field n is rest[n - 3].
	const field = (n: number): number => Number(rest[n - 3]);
	// Fields 3..39 must be there (processor is field 39; every kernel since 2.6 prints more).
	if (!Number.isInteger(pid) || rest.length < 37) return procFail('malformed', 'stat: too few fields');
	const stat: ProcStat = {
		pid,
		comm,
		state: rest[0] ?? '',
		ppid: field(4),
		utimeTicks: field(14),
		stimeTicks: field(15),
		numThreads: field(20),
		startTimeTicks: field(22),
		processor: field(39),
	};
	for (const [key, value] of Object.entries(stat)) {
		if (typeof value === 'number' && !Number.isFinite(value)) return procFail('malformed', `stat: bad ${key}`);
	}
	return procOk(stat);
}

/** Parse a comm file: the thread name without its trailing newline, control characters removed. */
export function parseComm(text: string): string {
	return sanitize(text.replace(/\n$/, ''));
}

/**
Split `/proc/PID/cmdline` (arguments separated and terminated by NUL) into argv. Empty for a kernel thread or
zombie. Arguments are not sanitized here: they are matched, and sanitized only where displayed.
*/
export function parseCmdline(text: string): string[] {
	if (text === '') return [];
	const parts = text.split('\0');
	if (parts[parts.length - 1] === '') parts.pop();
	return parts;
}
