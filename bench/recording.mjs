// The shipped demo recording for the benchmarks: its samples widened to N threads (each recorded thread repeated
// under new TIDs 100000*k + tid) and its /proc I/O readings.

import {readRecording} from '../dist/src/runtime.js';

export function widenedRecording(threads) {
	const {events} = readRecording(new URL('../demo/recording.jsonl', import.meta.url).pathname);
	const recorded = events.filter(e => e.type === 'sample').map(e => e.sample);
	if (recorded.length === 0) throw new Error('the demo recording has no samples');
	const samples = recorded.map(s => {
		const wide = [];
		for (let k = 0; wide.length < threads; k++) {
			for (const t of s.threads) {
				if (wide.length >= threads) break;
				wide.push({...t, tid: 100_000 * k + t.tid});
			}
		}
		return {threads: wide, errors: [], stopMs: s.stopMs};
	});
	return {samples, readings: events.filter(e => e.type === 'io').map(e => e.reading)};
}
