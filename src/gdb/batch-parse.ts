// Pure parser for the classic poor man's profiler's output:
//   gdb -batch -ex "set pagination 0" -ex "thread apply all bt" -p PID
// Text in, ThreadStack[] out. Argument values never reach a Frame.
// Formats: gdb's print_frame (stack.c) and thread_target_id_str (thread.c), as printed by gdb 13.

import type {Frame, ThreadStack} from '../profile/model.js';
import {sanitize} from '../profile/model.js';

/** A `Thread N (...):` header line, decoded. `gdbId` is gdb's own thread number, `tid` the kernel's (LWP). */
export interface ThreadHeader {
	gdbId: number;
	tid: number;
	name: string;
}

// `Thread 6 (Thread 0x7f4c87fff6c0 (LWP 17673) "worker"):`, `Thread 2 (LWP 123 "x"):` (no libthread_db),
// `Thread 1 (process 42):` (single-threaded, no libthread_db); the name and an extra-info suffix such as
// ` (Zombie)` are optional.
// A name may even hold a newline (the kernel does not filter comm): `s` lets a header span lines.
const HEADER = /^Thread (\d+) \((.*)\):\s*$/s;
const TARGET_ID = /^(?:Thread 0x[0-9a-fA-F]+ \(LWP (\d+)\)|LWP (\d+)|process (\d+))(.*)$/s;
const QUOTED_NAME = /^ "(.*)"(?: \([^()]*\))?$/s;
const HEADER_START = /^Thread \d+ \((?:Thread 0x|LWP |process )/;
const NOT_IN_HEADER = /^(?:Thread \d+ \(|#\d)/;
const MAX_HEADER_LINES = 3;

/**
Decode a thread header line of `thread apply all bt`, or undefined when the line is not one. The name is
everything between the first and the last double quote (names may contain spaces, slashes and quotes),
with control characters removed; '' when gdb printed none.
*/
export function parseThreadHeader(line: string): ThreadHeader | undefined {
	const header = HEADER.exec(line);
	if (!header) return undefined;
	const target = TARGET_ID.exec(header[2]!);
	if (!target) return undefined;
	const tid = Number(target[1] ?? target[2] ?? target[3]);
	const name = QUOTED_NAME.exec(target[4]!)?.[1] ?? '';
	return {gdbId: Number(header[1]), tid, name: sanitize(name)};
}

const FRAME_START = /^#(\d+)\s+(.*)$/;
const ADDR_IN = /^(0x[0-9a-fA-F]+) in (.*)$/;
// What may follow the argument list: a source position, or the shared object for frames without debug info.
const LOCATION = /^(?:\s+at\s+(.+):(\d+))?(?:\s+from\s+(.+?))?\s*$/;

// Index just past the `)` closing the `(` at `open`, skipping quoted strings and char literals (gdb escapes
// quotes inside them with a backslash); -1 when the group does not close on this text.
function closeParen(text: string, open: number): number {
	let depth = 0;
	for (let i = open; i < text.length; i++) {
		const c = text[i];
		if (c === '"' || c === '\'') {
			i++;
			while (i < text.length && text[i] !== c) i += text[i] === '\\' ? 2 : 1;
			if (i >= text.length) return -1;
		} else if (c === '(') {
			depth++;
		} else if (c === ')') {
			depth--;
			if (depth === 0) return i + 1;
		}
	}
	return -1;
}

/**
Parse one frame line of a backtrace (`#3  0x... in func (args) at file:line`, `#0  func (args) from lib`,
`#4  0x... in ?? ()`, `#2  <signal handler called>`) into a Frame without argument values. Returns undefined
when the text is not a frame line or its argument list does not close (a line gdb wrapped: join the next line
and try again).
*/
export function parseFrameLine(line: string): Frame | undefined {
	const start = FRAME_START.exec(line.trimEnd());
	if (!start) return undefined;
	let rest = start[2]!;
	let addr: string | undefined;
	const addrIn = ADDR_IN.exec(rest);
	if (addrIn) {
		addr = addrIn[1]!;
		rest = addrIn[2]!;
	}
	if (rest.startsWith('<') && rest.endsWith('>')) return withAddr({func: sanitize(rest)}, addr);
	// The argument list is the first ` (` group after which only a location can follow. Trying each
	// candidate in turn copes with C++ names that contain ` (` themselves (`std::function<void (int)>`).
	for (let open = rest.indexOf(' ('); open >= 0; open = rest.indexOf(' (', open + 1)) {
		const close = closeParen(rest, open + 1);
		if (close < 0) continue;
		const location = LOCATION.exec(rest.slice(close));
		if (!location) continue;
		const frame: Frame = {func: sanitize(rest.slice(0, open).trim()) || '??'};
		if (location[1] !== undefined) {
			frame.file = sanitize(location[1]);
			frame.line = Number(location[2]);
		}
		if (location[3] !== undefined) frame.lib = sanitize(location[3]);
		return withAddr(frame, addr);
	}
	return undefined;
}

function withAddr(frame: Frame, addr: string | undefined): Frame {
	if (addr !== undefined) frame.addr = addr;
	return frame;
}

// Best effort for a frame line that never parsed: keep the function name so the stack keeps its depth.
function fallbackFrame(line: string): Frame {
	const rest = FRAME_START.exec(line.trimEnd())?.[2] ?? '';
	const addrIn = ADDR_IN.exec(rest);
	const text = addrIn ? addrIn[2]! : rest;
	const paren = text.indexOf(' (');
	const func = sanitize((paren < 0 ? text : text.slice(0, paren)).trim()) || '??';
	return withAddr({func}, addrIn?.[1]);
}

// gdb indents the continuation of a wrapped line; `at file:line` / `from lib` may land on a line of its own.
const CONTINUATION = /^\s+\S/;
const LOCATION_LINE = /^\s+(?:at|from)\s/;
const MAX_JOINED_LINES = 20;

function joinLines(head: string, next: string): string {
	return `${head.trimEnd()} ${next.trim()}`;
}

/**
Parse the whole output of `gdb -batch ... -ex "thread apply all bt" -p PID` into one ThreadStack per thread,
in gdb's order (highest thread number first), frames leaf first. Everything that is not a thread header or
a frame line is skipped: `[New LWP n]`, libthread_db notices, warnings, the `0x... in ppoll () from ...` line
gdb prints on attach, source lines, `Backtrace stopped: ...`, `[Inferior 1 (process N) detached]`.
*/
export function parseBatchBacktrace(text: string): ThreadStack[] {
	const lines = text.split(/\r?\n/);
	const threads: ThreadStack[] = [];
	let current: ThreadStack | undefined;
	for (let i = 0; i < lines.length; i++) {
		const line = lines[i]!;
		if (line.startsWith('Thread ')) {
			let header = parseThreadHeader(line);
			// A name with a newline in it: join the header's next lines (never a frame or another header).
			for (let extra = 1; !header && extra < MAX_HEADER_LINES && HEADER_START.test(line); extra++) {
				const next = lines[i + extra];
				if (next === undefined || NOT_IN_HEADER.test(next)) break;
				header = parseThreadHeader(lines.slice(i, i + extra + 1).join('\n'));
				if (header) i += extra;
			}
			// An undecodable header still ends the previous thread, so its frames are not misattributed.
			current = header ? {tid: header.tid, name: header.name, frames: []} : undefined;
			if (current) threads.push(current);
			continue;
		}
		if (!line.startsWith('#') || !current) continue;
		let joined = line;
		let frame = parseFrameLine(joined);
		let last = i;
		while (!frame && last + 1 < lines.length && last - i < MAX_JOINED_LINES && CONTINUATION.test(lines[last + 1]!)) {
			joined = joinLines(joined, lines[++last]!);
			frame = parseFrameLine(joined);
		}
		if (!frame) {
			last = i;
			frame = fallbackFrame(line);
		} else if (frame.file === undefined && frame.lib === undefined && LOCATION_LINE.test(lines[last + 1] ?? '')) {
			const located = parseFrameLine(joinLines(joined, lines[last + 1]!));
			if (located) {
				frame = located;
				last++;
			}
		}
		i = last;
		current.frames.push(frame);
	}
	return threads;
}
