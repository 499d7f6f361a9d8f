// What a key (or the program) asks the app to do. Kebab-case names, as ink-ui's reducers.

import type {SortKey} from '../profile/aggregate.js';

export type Intent =
	| {type: 'cursor'; delta: number}
	| {type: 'toggle-focus'}
	| {type: 'zoom'}
	| {type: 'select-all'}
	| {type: 'sort'; by: SortKey}
	| {type: 'toggle-pause'}
	| {type: 'reset'}
	| {type: 'cycle-window'}
	| {type: 'interval'; factor: number}
	| {type: 'toggle-idle'}
	| {type: 'filter-start'}
	| {type: 'filter-type'; text: string}
	| {type: 'filter-backspace'}
	| {type: 'filter-done'}
	| {type: 'filter-clear'}
	| {type: 'snapshot'}
	| {type: 'toggle-mark'}
	| {type: 'toggle-help'}
	| {type: 'quit'};
