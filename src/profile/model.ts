// The profile model: what one sample of a process is, independent of how it was taken.
// Pure types and helpers; imports nothing else of the project.

/**
One stack frame as a backend captured it. `func` is `??` when the debugger could not name it.
`lib` is the shared object the frame lives in (gdb's `from`), `file`/`line` its source when debug info exists.
Argument values and addresses are kept out of the frame's key (see `frameKey`).
*/
export interface Frame {
	func: string;
	file?: string;
	line?: number;
	lib?: string;
	addr?: string;
}

/**
One thread's stack in one sample. `frames[0]` is the leaf (innermost frame), the last element the root.
*/
export interface ThreadStack {
	tid: number;
	name: string;
	frames: Frame[];
}

/** A failure during one sample, kept as data (py-spy's `sampling_errors`). */
export interface SampleError {
	tid?: number;
	message: string;
}

/**
One sample of every thread of the target. `atMs` is the wall-clock time (ms since the epoch) the stop began;
`stopMs` how long the target was stopped (interrupt sent -> running again), NaN when unknown.
*/
export interface Sample {
	atMs: number;
	stopMs: number;
	threads: ThreadStack[];
	errors: SampleError[];
}

/** The last path component, for display and keys (`/lib/x86_64-linux-gnu/libc.so.6` -> `libc.so.6`). */
export function baseName(path: string): string {
	const i = path.lastIndexOf('/');
	return i < 0 ? path : path.slice(i + 1);
}

/** Where a frame lives, for its key and display: the library's base name, else the source file's, else ''. */
export function frameWhere(frame: Frame): string {
	if (frame.lib) return baseName(frame.lib);
	if (frame.file) return baseName(frame.file);
	return '';
}

/**
The aggregation key of a frame: function name plus library or file, never argument values, lines or addresses,
so the same function is counted as one row whatever its arguments. `?? ()` frames are keyed by their library.
*/
export function frameKey(frame: Frame): string {
	const where = frameWhere(frame);
	return where ? `${frame.func} (${where})` : frame.func;
}

/** True for frames the debugger could not name (`?? ()`). */
export function isUnknown(frame: Frame): boolean {
	return frame.func === '??' || frame.func === '';
}

/**
Collapse runs of adjacent unnamed frames with the same key into one, leaving named frames untouched.
Order is kept (leaf first). Returns the input array when there is nothing to collapse.
*/
export function collapseUnknownRuns(frames: Frame[]): Frame[] {
	let out: Frame[] | undefined;
	for (let i = 1; i < frames.length; i++) {
		const a = frames[i - 1]!;
		const b = frames[i]!;
		if (isUnknown(a) && isUnknown(b) && frameWhere(a) === frameWhere(b)) {
			out ??= frames.slice(0, i);
			continue;
		}
		if (out) out.push(b);
	}
	return out ?? frames;
}

// Control characters (C0, DEL, C1) and lone escape introducers: strings from the target are untrusted.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** Remove control characters from a string that came from the target before it reaches a terminal or file. */
export function sanitize(text: string): string {
	return text.replace(CONTROL, '');
}
