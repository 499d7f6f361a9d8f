import {useRef, useState} from 'react';
import {Box, Text, useInput} from 'ink';
import {formatUptime, tagsLabel, userLabel, type QemuProcess} from '../src/discover.js';
import {sanitize} from '../src/profile/model.js';
import {padEnd, padStart, truncate} from './format.js';

/** Props of the Picker: the processes to choose from and what to do with the choice. */
export interface PickerProps {
	readonly processes: readonly QemuProcess[];
	/** Enter on a row. */
	readonly onChoose: (pid: number) => void;
	/** q, Esc or Ctrl-C. */
	readonly onCancel: () => void;
	/** Columns available (default 100). */
	readonly width?: number;
}

// Column widths; the tags take what is left.
const PID_W = 8;
const USER_W = 10;
const UPTIME_W = 7;
const THREADS_W = 4;
const NAME_W = 18;

function row(marker: string, pid: string, user: string, uptime: string, threads: string, name: string, tags: string, width: number): string {
	const fixed = `${marker}${padStart(pid, PID_W - 1)} ${padEnd(user, USER_W)} ${padStart(uptime, UPTIME_W)} ${padStart(threads, THREADS_W)} ${padEnd(name, NAME_W)} `;
	return padEnd(fixed + tags, Math.max(width, fixed.length));
}

/**
Choose the QEMU process to profile when several run: one row per process (PID, user, uptime, threads, VM name,
9p tags) with the selection marked and inverted, and the selected one's command line below. Up/k and Down/j move,
Enter chooses, q or Esc cancels. Pure: props in, Ink out.
*/
export function Picker({processes, onChoose, onCancel, width = 100}: PickerProps) {
	const [selected, setSelected] = useState(0);
	// Keys can arrive faster than React re-renders (a burst of input is handled in one go): the handler works on
	// a ref, never on a selection captured by an older render.
	const selectedRef = useRef(0);
	const last = processes.length - 1;
	const clamp = (i: number): number => Math.max(0, Math.min(last, i));
	const index = clamp(selected);
	useInput((input, key) => {
		if (key.escape || input === 'q' || (key.ctrl && input === 'c')) {
			onCancel();
			return;
		}
		if (last < 0) return;
		const now = clamp(selectedRef.current);
		let next = now;
		if (key.upArrow || input === 'k') next = now - 1;
		else if (key.downArrow || input === 'j') next = now + 1;
		else if (key.home) next = 0;
		else if (key.end) next = last;
		else if (key.return) {
			onChoose(processes[now]!.pid);
			return;
		}
		selectedRef.current = clamp(next);
		setSelected(selectedRef.current);
	});
	const current = processes[index];
	const rowWidth = Math.max(40, width - 1);
	return (
		<Box flexDirection="column" width={width}>
			<Text bold wrap="truncate">
				pmptop: {processes.length === 0 ? 'no QEMU process found' : `${processes.length} QEMU processes: choose one`}
			</Text>
			<Text bold wrap="truncate">{row(' ', 'PID', 'USER', 'UPTIME', 'THR', 'NAME', '9P TAGS', rowWidth)}</Text>
			{processes.map((p, i) => {
				const selectedRow = i === index;
				const name = p.name ?? '-';
				const pid = p.nsPid === undefined ? String(p.pid) : `${p.pid}*`;
				return (
					<Text key={p.pid} inverse={selectedRow} wrap="truncate">
						{row(selectedRow ? '>' : ' ', pid, userLabel(p), formatUptime(p.uptimeS), String(p.threads), name, tagsLabel(p), rowWidth)}
					</Text>
				);
			})}
			{current && (
				<Text dimColor wrap="truncate">
					{truncate(sanitize(current.argv.join(' ')), rowWidth)}
				</Text>
			)}
			{current && (
				<Text dimColor wrap="truncate">
					{[
						current.debugThreads ? 'debug-threads on' : 'debug-threads off: roles come from stacks',
						current.nsPid !== undefined ? `*: another PID namespace (PID ${current.nsPid} there)` : '',
					].filter(Boolean).join('; ')}
				</Text>
			)}
			<Text dimColor wrap="truncate">Up/Down j/k move, Enter profiles it, q/Esc cancels</Text>
		</Box>
	);
}
