import {Box, Text, useInput} from 'ink';
import {useSyncExternalStore} from 'react';
import {keyToIntent, splitBurst} from '../src/app/keymap.js';
import type {Store, View} from '../src/app/store.js';
import Header from './Header.js';
import Help from './Help.js';
import HotList from './HotList.js';
import StatusBar from './StatusBar.js';
import ThreadList from './ThreadList.js';

/** Smallest screen the layout fits in. */
export const MIN_COLUMNS = 60;
export const MIN_ROWS = 12;
/** Rows the I/O panel gets below the stacks, and the screen height from which it is shown there. */
const PANEL_ROWS = 9;
const MIN_ROWS_WITH_PANEL = 30;

/** An optional panel (the I/O panel) rendered beside or below the stacks; null when it has nothing to show. */
export type SidePanel = (props: {view: View; width: number}) => React.ReactNode;

/**
The whole screen: header, thread list beside the hot list (stacked when narrow), status line.
Reads the store's View; sends every key through the key table. Does no I/O.
*/
export default function App({store, sidePanel}: {readonly store: Store; readonly sidePanel?: SidePanel}) {
	const view = useSyncExternalStore(store.subscribe, store.getSnapshot);
	useInput((input, key) => {
		// The mode is read again for each key of a burst: "/abc" switches to filter mode after "/".
		for (const [one, oneKey] of splitBurst(input, key)) {
			const intent = keyToIntent(one, oneKey, store.getSnapshot().mode);
			if (intent) store.dispatch(intent);
		}
	});
	const width = view.columns;
	const height = view.rows;
	if (width < MIN_COLUMNS || height < MIN_ROWS) {
		return <Text color="yellow" wrap="truncate">{`terminal too small (${width}x${height}): needs ${MIN_COLUMNS}x${MIN_ROWS}; q quits`}</Text>;
	}
	const headerRows = 2 + view.header.notes.length + 1;
	if (view.mode === 'help') {
		return (
			<Box flexDirection="column" width={width}>
				<Header header={view.header} width={width} />
				<Help width={width} />
			</Box>
		);
	}
	// The I/O panel goes beside the stacks on very wide screens, below them otherwise.
	const sideBeside = sidePanel !== undefined && width >= 200;
	const sideWidth = sideBeside ? 84 : width;
	// Below the stacks the panel only shows when there is room for both.
	const side = sidePanel && (sideBeside || height >= MIN_ROWS_WITH_PANEL) ? sidePanel({view, width: sideWidth}) : null;
	const sideRows = side !== null && !sideBeside ? PANEL_ROWS : 0;
	const body = Math.max(4, height - headerRows - 2 - sideRows);
	const mainWidth = side !== null && sideBeside ? width - sideWidth - 1 : width;
	const wide = mainWidth >= 130;
	const threadWidth = wide ? Math.min(78, Math.floor(mainWidth * 0.45)) : mainWidth;
	const hotWidth = wide ? mainWidth - threadWidth - 1 : mainWidth;
	const threadHeight = view.zoomed ? 0 : wide ? body : Math.min(view.threads.length + 1, Math.max(3, Math.floor(body * 0.5)));
	const hotHeight = wide || view.zoomed ? body : body - threadHeight;
	return (
		<Box flexDirection="column" width={width}>
			<Header header={view.header} width={width} />
			<Box flexDirection="row" height={body}>
				<Box flexDirection={wide ? 'row' : 'column'} width={mainWidth}>
					{view.zoomed ? null : <ThreadList threads={view.threads} selected={view.selected} focused={view.focus === 'threads'} width={threadWidth} height={threadHeight} />}
					{wide && !view.zoomed ? <Box width={1} /> : null}
					<HotList hot={view.hot} focused={view.focus === 'hot'} width={view.zoomed ? mainWidth : hotWidth} height={hotHeight} />
				</Box>
				{side !== null && sideBeside ? <Box marginLeft={1}>{side}</Box> : null}
			</Box>
			{side !== null && !sideBeside ? <Box height={PANEL_ROWS} overflow="hidden">{side}</Box> : null}
			<StatusBar view={view} />
		</Box>
	);
}
