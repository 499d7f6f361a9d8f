import {Box, Text} from 'ink';
import type {HeaderView} from '../src/app/store.js';
import {ms, truncate as fit} from './format.js';

/**
The header: who is profiled and what sampling costs it.

	pmptop  PID 4242  qemu-demo --vcpus 2                               mi/python  sampling
	1,234 samples  4.9/s every 200 ms  stop 3.1 ms (median 2.9, p95 4.0)  duty 1.5%  window 10 s
*/
export default function Header({header, width}: {readonly header: HeaderView; readonly width: number}) {
	const h = header;
	const right = `${h.backend}  ${h.paused ? 'PAUSED' : h.state}`;
	const left = `pmptop  PID ${h.pid}  `;
	const command = fit(h.command, Math.max(0, width - left.length - right.length - 2));
	const rate = Number.isFinite(h.rateHz) ? `${h.rateHz.toFixed(1)}/s` : '-/s';
	const duty = Number.isFinite(h.dutyPct) ? `${h.dutyPct.toFixed(1)}%` : '-';
	const stateColor = h.paused ? 'yellow' : h.state === 'sampling' ? 'green' : h.state === 'target-exited' ? 'yellow' : 'red';
	return (
		<Box flexDirection="column" width={width}>
			<Box justifyContent="space-between" width={width}>
				<Text>
					<Text bold>pmptop</Text>
					<Text>{`  PID ${h.pid}  `}</Text>
					<Text dimColor>{command}</Text>
				</Text>
				<Text>
					<Text>{`${h.backend}  `}</Text>
					<Text color={stateColor} bold={h.paused}>{h.paused ? 'PAUSED' : h.state}</Text>
				</Text>
			</Box>
			<Text wrap="truncate">
				{`${h.samples.toLocaleString('en-US')} samples  ${rate} every ${h.intervalMs} ms  window ${h.windowLabel}${h.hideIdle ? '  idle hidden' : ''}  stop ${ms(h.lastStopMs)} ms (median ${ms(h.medianStopMs)}, p95 ${ms(h.p95StopMs)})  duty ${duty}${h.errors ? `  errors ${h.errors}` : ''}`}
			</Text>
			{h.notes.map(note => (
				<Text key={note} color="yellow" wrap="truncate">{note}</Text>
			))}
		</Box>
	);
}
