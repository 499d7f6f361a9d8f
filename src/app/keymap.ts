// The one key-binding table. It drives input handling, the `?` help overlay and the README's keys table
// (test/keymap.test.ts checks the README against it). Pure: (input, key, mode) -> Intent.

import type {Intent} from './intents.js';

/** The subset of Ink's `Key` record that pmptop uses. */
export interface KeyInfo {
	upArrow?: boolean;
	downArrow?: boolean;
	leftArrow?: boolean;
	rightArrow?: boolean;
	pageUp?: boolean;
	pageDown?: boolean;
	home?: boolean;
	end?: boolean;
	return?: boolean;
	escape?: boolean;
	tab?: boolean;
	backspace?: boolean;
	delete?: boolean;
	ctrl?: boolean;
	shift?: boolean;
	meta?: boolean;
}

/** One binding: the keys as shown to users, a test that recognises them, and the intent they produce. */
export interface Binding {
	keys: string;
	help: string;
	match: (input: string, key: KeyInfo) => boolean;
	intent: Intent;
}

const ch = (...chars: string[]) => (input: string, key: KeyInfo) => !key.ctrl && !key.meta && chars.includes(input);

/** Every key, in help order. */
export const BINDINGS: readonly Binding[] = [
	{keys: 'Up/k, Down/j', help: 'move in the focused list', match: (i, k) => k.upArrow === true || (i === 'k' && !k.ctrl), intent: {type: 'cursor', delta: -1}},
	{keys: '', help: '', match: (i, k) => k.downArrow === true || (i === 'j' && !k.ctrl), intent: {type: 'cursor', delta: 1}},
	{keys: 'PgUp, PgDn', help: 'move a page', match: (_i, k) => k.pageUp === true, intent: {type: 'cursor', delta: -10}},
	{keys: '', help: '', match: (_i, k) => k.pageDown === true, intent: {type: 'cursor', delta: 10}},
	{keys: 'Home, End', help: 'first / last entry', match: (_i, k) => k.home === true, intent: {type: 'cursor', delta: -Infinity}},
	{keys: '', help: '', match: (_i, k) => k.end === true, intent: {type: 'cursor', delta: Infinity}},
	{keys: 'Tab, Left/Right', help: 'switch focus: thread list / hot list', match: (_i, k) => k.tab === true || k.leftArrow === true || k.rightArrow === true, intent: {type: 'toggle-focus'}},
	{keys: 'Enter', help: 'show only the selected thread\'s hot list (again: back)', match: (_i, k) => k.return === true, intent: {type: 'zoom'}},
	{keys: 'a', help: 'all-threads view', match: ch('a'), intent: {type: 'select-all'}},
	{keys: '1 2 3 4', help: 'sort by own %, total %, own count, total count', match: ch('1'), intent: {type: 'sort', by: 'own%'}},
	{keys: '', help: '', match: ch('2'), intent: {type: 'sort', by: 'total%'}},
	{keys: '', help: '', match: ch('3'), intent: {type: 'sort', by: 'own'}},
	{keys: '', help: '', match: ch('4'), intent: {type: 'sort', by: 'total'}},
	{keys: 'p, Space', help: 'pause the view (sampling goes on); again to resume', match: ch('p', ' '), intent: {type: 'toggle-pause'}},
	{keys: 'r', help: 'reset the counters', match: ch('r'), intent: {type: 'reset'}},
	{keys: 'w', help: 'cycle the window: 10 s, 60 s, whole run', match: ch('w'), intent: {type: 'cycle-window'}},
	{keys: '+, -', help: 'sample more / less often', match: ch('+', '='), intent: {type: 'interval', factor: 0.5}},
	{keys: '', help: '', match: ch('-', '_'), intent: {type: 'interval', factor: 2}},
	{keys: 'i', help: 'hide / show idle samples (poll, futex and condition waits)', match: ch('i'), intent: {type: 'toggle-idle'}},
	{keys: '/', help: 'filter functions by substring (Enter keeps, Esc clears)', match: ch('/'), intent: {type: 'filter-start'}},
	{keys: 'm', help: 'mark the hot lists as a baseline: show each frame\'s change since (again: clear)', match: ch('m'), intent: {type: 'toggle-mark'}},
	{keys: 's', help: 'snapshot the hot lists to files (.txt, .folded, .speedscope.json)', match: ch('s'), intent: {type: 'snapshot'}},
	{keys: '?', help: 'help (any key closes)', match: ch('?'), intent: {type: 'toggle-help'}},
	{keys: 'q, Ctrl-C', help: 'quit (gdb detaches, the target runs on)', match: (i, k) => (i === 'q' && !k.ctrl) || (i === 'c' && k.ctrl === true), intent: {type: 'quit'}},
];

/** Input modes: normal, typing a filter, help shown. */
export type InputMode = 'normal' | 'filter' | 'help';

/**
Keys typed faster than the screen reads them arrive as one string ("jjj", two DELs): split such a burst of
plain characters into single key presses. Anything else (arrows, Enter, Ctrl-...) is one press already.
*/
export function splitBurst(input: string, key: KeyInfo): Array<[string, KeyInfo]> {
	const special = key.ctrl || key.meta || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.pageUp || key.pageDown || key.home || key.end || key.return || key.escape || key.tab;
	if (special || input.length <= 1) return [[input, key]];
	return [...input].map(ch => (ch === '\u007f' || ch === '\b' ? ['', {backspace: true}] : [ch, {}]));
}

/** Map one key press to an intent, or undefined when it means nothing in this mode. */
export function keyToIntent(input: string, key: KeyInfo, mode: InputMode): Intent | undefined {
	if (input === 'c' && key.ctrl) return {type: 'quit'};
	if (mode === 'help') return {type: 'toggle-help'};
	if (mode === 'filter') {
		if (key.escape) return {type: 'filter-clear'};
		if (key.return) return {type: 'filter-done'};
		if (key.backspace || key.delete) return {type: 'filter-backspace'};
		if (input && !key.ctrl && !key.meta && !key.tab && !key.upArrow && !key.downArrow) return {type: 'filter-type', text: input};
		return undefined;
	}
	if (key.escape) return {type: 'filter-clear'};
	for (const b of BINDINGS) if (b.match(input, key)) return b.intent;
	return undefined;
}

/** The help lines: one per documented binding (continuation rows fold into the row above). */
export function helpRows(): Array<{keys: string; help: string}> {
	return BINDINGS.filter(b => b.keys !== '').map(b => ({keys: b.keys, help: b.help}));
}
