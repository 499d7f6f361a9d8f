import {Box, Text, useInput} from 'ink';
import {useSyncExternalStore} from 'react';
import {keyToIntent} from '../src/app/keymap.js';
import type {Store, View} from '../src/app/store.js';
import Header from './Header.js';
import Help from './Help.js';
import HotList from './HotList.js';
import StatusBar from './StatusBar.js';
import ThreadList from './ThreadList.js';

/** Smallest screen the layout fits in. */
export const MIN_COLUMNS = 60;
export const MIN_ROWS = 12;

/** Optional panels rendered beside the stacks, keyed by the store's `extra` names. */
export type SidePanel = (props: {view: View; width: number}) => React.ReactNode;

/**
The whole screen: header, thread list beside the hot list (stacked when narrow), status line.
Reads the store's View; sends every key through the key table. Does no I/O.
*/
export default function App({store, sidePanel}: {readonly store: Store; readonly sidePanel?: SidePanel}) {
	const view = useSyncExternalStore(store.subscribe, store.getSnapshot);
	useInput((input, key) => {
		const intent = keyToIntent(input, key, view.mode);
		if (intent) store.dispatch(intent);
	});
	const width = view.columns;
	const height = view.rows;
	if (width < MIN_COLUMNS || height < MIN_ROWS) {
		return <Text color="yellow">{`terminal too small (${width}x${height}); pmptop needs ${MIN_COLUMNS}x${MIN_ROWS}. q quits`}</Text>;
	}
	const headerRows = 2 + view.header.notes.length;
	const body = Math.max(4, height - headerRows - 2);
	if (view.mode === 'help') {
		return (
			<Box flexDirection="column" width={width}>
				<Header header={view.header} width={width} />
				<Help width={width} />
			</Box>
		);
	}
	const side = sidePanel ? sidePanel({view, width: width >= 140 ? Math.min(48, Math.floor(width * 0.3)) : width}) : null;
	const sideBeside = side !== null && width >= 140;
	const mainWidth = sideBeside ? width - Math.min(48, Math.floor(width * 0.3)) - 1 : width;
	const wide = mainWidth >= 130;
	const threadWidth = wide ? Math.min(70, Math.floor(mainWidth * 0.45)) : mainWidth;
	const hotWidth = wide ? mainWidth - threadWidth - 1 : mainWidth;
	const threadHeight = view.zoomed ? 0 : wide ? body : Math.min(view.threads.length + 1, Math.max(3, Math.floor(body * 0.4)));
	const hotHeight = wide || view.zoomed ? body : body - threadHeight;
	return (
		<Box flexDirection="column" width={width}>
			<Header header={view.header} width={width} />
			<Box flexDirection="row">
				<Box flexDirection={wide ? 'row' : 'column'} width={mainWidth}>
					{view.zoomed ? null : <ThreadList threads={view.threads} selected={view.selected} focused={view.focus === 'threads'} width={threadWidth} height={threadHeight} />}
					{wide && !view.zoomed ? <Box width={1} /> : null}
					<HotList hot={view.hot} focused={view.focus === 'hot'} width={view.zoomed ? mainWidth : hotWidth} height={hotHeight} />
				</Box>
				{sideBeside ? <Box marginLeft={1}>{side}</Box> : null}
			</Box>
			{side !== null && !sideBeside ? side : null}
			<StatusBar view={view} />
		</Box>
	);
}
