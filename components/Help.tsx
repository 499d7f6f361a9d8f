import {Box, Text} from 'ink';
import {helpRows} from '../src/app/keymap.js';
import {padEnd} from './format.js';

/** The `?` overlay, generated from the key table. */
export default function Help({width}: {readonly width: number}) {
	return (
		<Box flexDirection="column" borderStyle="round" paddingX={1} width={Math.min(width, 110)}>
			<Text bold>pmptop keys</Text>
			{helpRows().map(r => (
				<Text key={r.keys}>
					<Text color="cyan">{padEnd(r.keys, 18)}</Text>
					{r.help}
				</Text>
			))}
			<Text dimColor>press any key to close</Text>
		</Box>
	);
}
