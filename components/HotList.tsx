import {Box, Text} from 'ink';
import type {HotView} from '../src/app/store.js';
import {padEnd, padStart, pct} from './format.js';

const SORT_COLUMNS = ['own%', 'total%', 'own', 'total'] as const;

/**
The hot list of the selected thread: own and total share and counts per frame, the sorted column marked.

	HOT  CPU 0/KVM (TID 4243)  49 samples
	 OWN%▼ TOTAL%   OWN  TOTAL FUNCTION                 WHERE
	  69.4   69.4    34     34 guest_compute            qemu-demo.c
*/
export default function HotList({hot, focused, width, height}: {
	readonly hot: HotView;
	readonly focused: boolean;
	readonly width: number;
	readonly height: number;
}) {
	const visible = Math.max(1, height - 2);
	const start = focused ? Math.max(0, Math.min(hot.cursor - Math.floor(visible / 2), hot.rows.length - visible)) : 0;
	const rows = hot.rows.slice(start, start + visible);
	const mark = (col: (typeof SORT_COLUMNS)[number], label: string, w: number) => padStart(hot.sortBy === col ? `${label}▼` : label, w);
	const funcWidth = Math.max(8, Math.floor((width - 30) * 0.6));
	const whereWidth = Math.max(0, width - 30 - funcWidth - 1);
	const header = `${mark('own%', 'OWN%', 6)} ${mark('total%', 'TOTAL%', 7)} ${mark('own', 'OWN', 6)} ${mark('total', 'TOTAL', 6)} ${padEnd('FUNCTION', funcWidth)} ${padEnd('WHERE', whereWidth)}`;
	return (
		<Box flexDirection="column" width={width}>
			<Text wrap="truncate">
				<Text bold color={focused ? 'cyan' : undefined}>HOT </Text>
				<Text>{hot.title}</Text>
				<Text dimColor>{`  ${hot.samples} samples${hot.filter ? `  filter "${hot.filter}"` : ''}`}</Text>
			</Text>
			<Text bold wrap="truncate">{header}</Text>
			{rows.length === 0 ? <Text dimColor>{hot.filter ? 'no frame matches the filter' : 'waiting for samples...'}</Text> : null}
			{rows.map((r, i) => (
				<Text key={r.frameId} inverse={focused && start + i === hot.cursor} wrap="truncate">
					{`${padStart(pct(r.ownShare), 6)} ${padStart(pct(r.totalShare), 7)} ${padStart(String(r.own), 6)} ${padStart(String(r.total), 6)} `}
					<Text color={r.func === '??' ? 'gray' : undefined}>{padEnd(r.func, funcWidth)}</Text>
					<Text dimColor>{` ${padEnd(r.where, whereWidth)}`}</Text>
				</Text>
			))}
		</Box>
	);
}
