import {Box, Text} from 'ink';
import type {IoRowView, IoView} from '../src/procio/view.js';
import {formatBytesPerSec, formatInteger, formatPerSec, padEnd, padStart, truncateStart} from './format.js';
import {Sparkline} from './Sparkline.js';

/** Props of IoPanel: the view from `toIoView` and the panel's width in columns. */
export interface IoPanelProps {
	readonly view: IoView;
	/** Columns available; the sparkline takes what the figures leave. @default 80 */
	readonly width?: number;
}

const LABEL = 16;
const COLUMNS: ReadonlyArray<readonly [string, number]> = [['read', 11], ['write', 11], ['reads/s', 9], ['writes/s', 9], ['B/read', 9]];
const FIGURES = COLUMNS.reduce((sum, [, w]) => sum + w, 0);
const MIN_SPARK = 6;

function figures(row: IoRowView): string {
	const cells = [
		row.readBytesPerSec === undefined ? '-' : formatBytesPerSec(row.readBytesPerSec),
		row.writeBytesPerSec === undefined ? '-' : formatBytesPerSec(row.writeBytesPerSec),
		row.readsPerSec === undefined ? '-' : formatPerSec(row.readsPerSec),
		row.writesPerSec === undefined ? '-' : formatPerSec(row.writesPerSec),
		row.bytesPerRead === undefined ? '-' : formatInteger(row.bytesPerRead),
	];
	return cells.map((cell, i) => padStart(cell, COLUMNS[i]![1])).join('');
}

const STATUS_COLOR: Record<string, string> = {'not permitted': 'red', 'process gone': 'red', stale: 'yellow', 'waiting for data': 'gray'};

function statusOf(row: IoRowView): string {
	return row.status === 'not-permitted' ? 'not permitted' : row.status === 'gone' ? 'process gone' : 'waiting for data';
}

interface RowProps {
	label: string;
	row: IoRowView;
	sparkWidth: number;
	sparkMax?: number;
	/** Shown instead of figures when the row has data but no meaning (unidentified workers). */
	note?: string;
}

function Row({label, row, sparkWidth, sparkMax, note}: RowProps) {
	const stale = row.status === 'stale';
	if (row.status !== 'data' && !stale) {
		const words = statusOf(row);
		return <Text wrap="truncate-end">{padEnd(label, LABEL)}<Text color={STATUS_COLOR[words]}>{words}</Text></Text>;
	}
	if (note !== undefined) return <Text wrap="truncate-end">{padEnd(label, LABEL)}<Text dimColor>{note}</Text></Text>;
	return (
		<Text wrap="truncate-end">
			<Text dimColor={stale}>{padEnd(label, LABEL)}{figures(row)}</Text>
			{sparkWidth >= MIN_SPARK ? <Text>{'  '}<Sparkline values={row.readHistory} width={sparkWidth} max={sparkMax} dimColor={stale} /></Text> : null}
		</Text>
	);
}

// A label column and text that wraps within the rest of the width.
function Labelled({label, width, children, dim = false}: {label: string; width: number; children: string; dim?: boolean}) {
	return (
		<Box width={width}>
			<Box width={LABEL} flexShrink={0}><Text>{label}</Text></Box>
			<Box width={Math.max(1, width - LABEL)}><Text dimColor={dim} wrap="wrap">{children}</Text></Box>
		</Box>
	);
}

/**
The 9p I/O panel: read/write throughput, syscalls/s and bytes per read for the whole QEMU process and for its
9p worker threads as a group, a sparkline of read throughput over the last minute, the shares and the msize
hint. Status words replace figures that do not exist: 'waiting for data', 'not permitted', 'stale'.

```
9p I/O  (/proc; B/read over 20 s)                                   [status]
                       read      write  reads/s writes/s   B/read  read, 60 s
process           4.62 MB/s  82.7 kB/s   8.6k/s    10k/s      494  ▁▁▁▂▄▆▆▆▆▆▆▇▇
9p workers (2)    4.57 MB/s  52.1 kB/s   1.7k/s   6.5k/s    2,625     ▂▄▆▆▅▆▆▆▇▇
shares          hostshare -> /srv/vm/share
                nix-store -> /nix/store (ro)
! 9p reads average 2.6 KiB (29,642 reads, last 20 s): the guest likely mounted
with a small msize (QEMU warns at <= 8192). Mount with -o msize=512000 ...
```
*/
export function IoPanel({view, width = 80}: IoPanelProps) {
	const sparkWidth = Math.max(0, width - LABEL - FIGURES - 2);
	const showSpark = sparkWidth >= MIN_SPARK;
	const header = padEnd('', LABEL) + COLUMNS.map(([name, w]) => padStart(name, w)).join('')
		+ (showSpark ? `  ${padEnd(`read, ${view.historySec} s`, sparkWidth)}` : '');
	const workers = view.workers;
	const counted = workers !== undefined && workers.identified && (workers.status === 'data' || workers.status === 'stale');
	const workersLabel = counted ? `9p workers (${workers.threadCount})` : '9p workers';
	const unidentified = workers !== undefined && !workers.identified;
	// Both sparklines on the process's scale: the workers' share of the reads shows.
	const sparkMax = Math.max(0, ...view.process.readHistory, ...(workers?.readHistory ?? []));
	const pathWidth = Math.max(8, width - LABEL - 4);
	return (
		<Box flexDirection="column" width={width}>
			<Box justifyContent="space-between" width={width}>
				<Text wrap="truncate-end"><Text bold>9p I/O</Text><Text dimColor>{`  (/proc; B/read over ${view.windowSec} s)`}</Text></Text>
				{view.statusText ? <Text color={STATUS_COLOR[view.statusText]}>{view.statusText}</Text> : null}
			</Box>
			<Text dimColor wrap="truncate-end">{header}</Text>
			<Row label="process" row={view.process} sparkWidth={sparkWidth} sparkMax={sparkMax} />
			{workers ? <Row label={workersLabel} row={workers} sparkWidth={sparkWidth} sparkMax={sparkMax} note={unidentified ? view.workersNote : undefined} /> : null}
			{counted && !unidentified && view.workersNote ? <Labelled label="" width={width} dim>{view.workersNote}</Labelled> : null}
			{view.status === 'not-permitted' ? (
				<Labelled label="" width={width} dim>reading /proc/PID/io needs the VM's user (dumpable) or root</Labelled>
			) : null}
			{view.sharesNote ? <Labelled label="shares" width={width} dim>{view.sharesNote}</Labelled> : null}
			{view.shares?.map((share, i) => (
				<Text key={share.tag + i} wrap="truncate-end">
					{padEnd(i === 0 ? 'shares' : '', LABEL)}
					{share.tag}
					<Text dimColor>{' -> '}</Text>
					{share.path === undefined ? '?' : truncateStart(share.path, Math.max(8, pathWidth - share.tag.length))}
					{share.readonly ? <Text dimColor> (ro)</Text> : null}
				</Text>
			))}
			{view.hint ? <Text color="yellow" wrap="wrap">{`! ${view.hint}`}</Text> : null}
		</Box>
	);
}
