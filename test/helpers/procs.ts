// Process-tree helpers for fault tests.

import {readFileSync} from 'node:fs';

/** Direct children of a process (from /proc/PID/task/PID/children). */
export function childrenOf(pid: number): number[] {
	try {
		return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
	} catch {
		return [];
	}
}

/** Every descendant of a process. */
export function descendantsOf(pid: number): number[] {
	const out: number[] = [];
	const stack = [pid];
	while (stack.length) {
		for (const c of childrenOf(stack.pop()!)) {
			out.push(c);
			stack.push(c);
		}
	}
	return out;
}

/** The command name of a process, '' when gone. */
export function commOf(pid: number): string {
	try {
		return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
	} catch {
		return '';
	}
}

/** The gdb processes started by a process (through pmptop's wrapper shell). */
export function gdbsUnder(pid: number): number[] {
	return descendantsOf(pid).filter(p => commOf(p) === 'gdb');
}
