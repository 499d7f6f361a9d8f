import {Box, Text} from 'ink';
import type {ThreadRowView} from '../src/app/store.js';
import {lastColumn, padEnd, padStart, pct} from './format.js';

/**
The thread list: one row per thread, the all-threads row first; the selected row is inverted.

	  TID NAME            ROLE    SMPL BUSY% TOP
	>     all threads              980  62.0
	 4242 qemu-demo       main      49   0.0 ppoll
	 4243 CPU 0/KVM       vcpu      49 100.0 guest_compute
*/
export default function ThreadList({threads, selected, focused, width, height}: {
	readonly threads: readonly ThreadRowView[];
	readonly selected: number;
	readonly focused: boolean;
	readonly width: number;
	readonly height: number;
}) {
	const visible = Math.max(1, height - 1);
	const start = Math.max(0, Math.min(selected - Math.floor(visible / 2), threads.length - visible));
	const rows = threads.slice(start, start + visible);
	const showRole = threads.some(t => t.role);
	const showIo = threads.some(t => t.readBytesPerSec !== undefined);
	const fixed = 7 + 16 + (showRole ? 8 : 0) + 6 + 6 + (showIo ? 9 : 0) + 1;
	const topWidth = Math.max(0, width - fixed);
	const line = (t: ThreadRowView, bar: boolean) => [
		padStart(t.tid === 0 ? '' : String(t.tid), 6),
		' ',
		padEnd(t.name, 15),
		' ',
		showRole ? padEnd(t.role ?? '', 7) + ' ' : '',
		padStart(String(t.samples), 5),
		' ',
		padStart(t.samples ? pct(t.busyShare) : '', 5),
		' ',
		showIo ? padStart(t.readBytesPerSec === undefined ? '' : `${(t.readBytesPerSec / 1e6).toFixed(1)}M`, 8) + ' ' : '',
		lastColumn(t.top, topWidth, bar),
	].join('');
	const header = [padStart('TID', 6), ' ', padEnd('NAME', 15), ' ', showRole ? padEnd('ROLE', 7) + ' ' : '', padStart('SMPL', 5), ' ', padStart('BUSY%', 5), ' ', showIo ? padStart('READ/s', 8) + ' ' : '', padEnd('TOP FRAME', topWidth)].join('');
	return (
		<Box flexDirection="column" width={width}>
			<Text bold color={focused ? 'cyan' : undefined} wrap="truncate">{header}</Text>
			{rows.map((t, i) => {
				const isSelected = start + i === selected;
				return (
					<Text key={t.key} inverse={isSelected} dimColor={t.gone && !isSelected} color={isSelected && !focused ? 'blue' : undefined} wrap="truncate">
						{line(t, isSelected)}
					</Text>
				);
			})}
		</Box>
	);
}
