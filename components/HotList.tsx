import {Box, Text} from 'ink';
import type {HotView} from '../src/app/store.js';
import {lastColumn, padEnd, padStart, pct} from './format.js';

/** A change in percentage points with its sign: `+40.0`, `-3.2`, `0.0`. */
export function pp(value: number | undefined): string {
	if (value === undefined || !Number.isFinite(value)) return '';
	const rounded = Math.round(value * 10) / 10;
	return rounded > 0 ? `+${rounded.toFixed(1)}` : rounded.toFixed(1);
}

// Red: the frame grew since the mark; blue: it shrank (difffolded's colours).
function deltaColor(value: number | undefined): string | undefined {
	if (value === undefined || Math.abs(value) < 0.05) return undefined;
	return value > 0 ? 'red' : 'blue';
}

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
	const marked = hot.markedAtMs !== undefined;
	// With a mark the rows are sorted by the size of the change: the marker moves to the Δ column.
	const mark = (col: (typeof SORT_COLUMNS)[number], label: string, w: number) => padStart(hot.sortBy === col && !marked ? `${label}▼` : label, w);
	const byTotal = hot.sortBy === 'total%' || hot.sortBy === 'total';
	const fixed = 30 + (marked ? 16 : 0);
	const funcWidth = Math.max(8, Math.floor((width - fixed) * 0.6));
	const whereWidth = Math.max(0, width - fixed - funcWidth - 1);
	const delta = marked ? `${padStart(byTotal ? 'ΔOWN' : 'ΔOWN▼', 7)} ${padStart(byTotal ? 'ΔTOTAL▼' : 'ΔTOTAL', 7)} ` : '';
	const header = `${mark('own%', 'OWN%', 6)} ${mark('total%', 'TOTAL%', 7)} ${mark('own', 'OWN', 6)} ${mark('total', 'TOTAL', 6)} ${delta}${padEnd('FUNCTION', funcWidth)} ${padEnd('WHERE', whereWidth)}`;
	return (
		<Box flexDirection="column" width={width}>
			<Text wrap="truncate">
				<Text bold color={focused ? 'cyan' : undefined}>HOT </Text>
				<Text>{hot.title}</Text>
				<Text dimColor>{`  ${hot.samples} samples${hot.filter ? `  filter "${hot.filter}"` : ''}`}</Text>
				{marked ? <Text color="magenta">{`  Δ since mark ${new Date(hot.markedAtMs!).toTimeString().slice(0, 8)}, in percentage points`}</Text> : null}
			</Text>
			<Text bold wrap="truncate">{header}</Text>
			{rows.length === 0 ? <Text dimColor>{hot.filter ? 'no frame matches the filter' : 'waiting for samples...'}</Text> : null}
			{rows.map((r, i) => {
				const bar = focused && start + i === hot.cursor;
				return (
					<Text key={r.frameId} inverse={bar} wrap="truncate">
						{`${padStart(pct(r.ownShare), 6)} ${padStart(pct(r.totalShare), 7)} ${padStart(String(r.own), 6)} ${padStart(String(r.total), 6)} `}
						{marked ? <Text color={deltaColor(r.deltaOwnPp)}>{`${padStart(pp(r.deltaOwnPp), 7)} `}</Text> : null}
						{marked ? <Text color={deltaColor(r.deltaTotalPp)}>{`${padStart(pp(r.deltaTotalPp), 7)} `}</Text> : null}
						<Text color={r.func === '??' ? 'gray' : undefined}>{padEnd(r.func, funcWidth)}</Text>
						<Text dimColor>{` ${lastColumn(r.where, whereWidth, bar)}`}</Text>
					</Text>
				);
			})}
		</Box>
	);
}
