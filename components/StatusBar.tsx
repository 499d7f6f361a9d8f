import {Text} from 'ink';
import type {View} from '../src/app/store.js';

/** The bottom line: the filter being typed, the last status message, or a reminder of the keys. */
export default function StatusBar({view}: {readonly view: View}) {
	if (view.mode === 'filter') return <Text wrap="truncate">{`/${view.filterDraft}`}<Text inverse> </Text><Text dimColor>  Enter keeps, Esc clears</Text></Text>;
	if (view.status) {
		const color = view.status.level === 'error' ? 'red' : view.status.level === 'warn' ? 'yellow' : 'green';
		return <Text color={color} wrap="truncate">{view.status.text}</Text>;
	}
	return <Text dimColor wrap="truncate">? help  q quit  Up/Down select  Tab focus  p pause  s snapshot  w window  i idle  / filter</Text>;
}
