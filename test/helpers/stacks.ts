// Building synthetic samples for UI tests.

import type {ThreadStack} from '../../src/profile/model.js';

/** A thread stack from root-to-leaf function names, the way people read them (frames are stored leaf first). */
export function stack(tid: number, name: string, rootToLeaf: string[]): ThreadStack {
	return {tid, name, frames: rootToLeaf.map(func => ({func, file: 'demo.c'})).reverse()};
}
