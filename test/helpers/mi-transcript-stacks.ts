// Ad-hoc extraction of the sampled stacks in the recorded MI transcripts, for role and idle tests only.
// Not an MI parser (that is src/gdb/mi-parse.ts): it reads the flat fields it needs with regexes.

import {readFileSync} from 'node:fs';
import type {Frame, ThreadStack} from '../../src/profile/model.js';

/** One `-thread-info` round of a transcript with the stacks listed after it. */
export interface TranscriptRound {
	token: string;
	threads: ThreadStack[];
}

/** Read `<epoch> >> cmd` / `<epoch> << output` lines into rounds of ThreadStacks keyed by LWP. */
export function transcriptRounds(url: URL): TranscriptRound[] {
	const lines = readFileSync(url, 'utf8').split('\n');
	const threadOfToken = new Map<string, string>();
	const rounds: TranscriptRound[] = [];
	let info = new Map<string, {tid: number; name: string}>();
	for (const line of lines) {
		const sent = /^\S+ >> (\d+)-stack-list-frames --thread (\d+)/.exec(line);
		if (sent) threadOfToken.set(sent[1]!, sent[2]!);
		const threadInfo = /^\S+ << (\d+)\^done,threads=/.exec(line);
		if (threadInfo) {
			info = new Map();
			for (const t of line.matchAll(/\{id="(\d+)",target-id="[^"]*LWP (\d+)\)?",name="([^"]*)"/g)) {
				info.set(t[1]!, {tid: Number(t[2]), name: t[3]!});
			}
			rounds.push({token: threadInfo[1]!, threads: []});
		}
		const stack = /^\S+ << (\d+)\^done,stack=(.*)$/.exec(line);
		if (stack) {
			const thread = info.get(threadOfToken.get(stack[1]!)!)!;
			const frames = [...stack[2]!.matchAll(/frame=\{([^{}]*)\}/g)].map(([, body]) => {
				const field = (name: string) => new RegExp(`(?:^|,)${name}="([^"]*)"`).exec(body!)?.[1];
				const frame: Frame = {func: field('func') ?? '??'};
				const file = field('file');
				const lineNo = field('line');
				const from = field('from');
				if (file !== undefined) frame.file = file;
				if (lineNo !== undefined) frame.line = Number(lineNo);
				if (from !== undefined) frame.lib = from;
				const addr = field('addr');
				if (addr !== undefined) frame.addr = addr;
				return frame;
			});
			rounds.at(-1)!.threads.push({tid: thread.tid, name: thread.name, frames});
		}
	}
	return rounds;
}
