import {readFileSync} from 'node:fs';
import {describe, expect, it} from 'vitest';
import {BINDINGS, helpRows, keyToIntent, splitBurst} from '../src/app/keymap.js';

describe('the key table', () => {
	it('is what the README documents, row for row', () => {
		const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
		const start = readme.indexOf('### Keys');
		const section = readme.slice(start, readme.indexOf('\n#', start + 1));
		const rows = [...section.matchAll(/^\| (.+?) \| (.+?) \|$/gm)].map(m => ({keys: m[1]!.replace(/\\\|/g, '|'), help: m[2]!})).filter(r => r.keys !== 'key' && !/^-+$/.test(r.keys));
		expect(rows).toEqual(helpRows());
	});

	it('maps keys to intents in normal mode', () => {
		expect(keyToIntent('', {downArrow: true}, 'normal')).toEqual({type: 'cursor', delta: 1});
		expect(keyToIntent('j', {}, 'normal')).toEqual({type: 'cursor', delta: 1});
		expect(keyToIntent('k', {}, 'normal')).toEqual({type: 'cursor', delta: -1});
		expect(keyToIntent('', {pageDown: true}, 'normal')).toEqual({type: 'cursor', delta: 10});
		expect(keyToIntent('', {home: true}, 'normal')).toEqual({type: 'cursor', delta: -Infinity});
		expect(keyToIntent('', {tab: true}, 'normal')).toEqual({type: 'toggle-focus'});
		expect(keyToIntent('3', {}, 'normal')).toEqual({type: 'sort', by: 'own'});
		expect(keyToIntent(' ', {}, 'normal')).toEqual({type: 'toggle-pause'});
		expect(keyToIntent('c', {ctrl: true}, 'normal')).toEqual({type: 'quit'});
		expect(keyToIntent('x', {}, 'normal')).toBeUndefined();
	});

	it('in filter mode letters are text, Esc clears, Enter keeps; Ctrl-C still quits', () => {
		expect(keyToIntent('q', {}, 'filter')).toEqual({type: 'filter-type', text: 'q'});
		expect(keyToIntent('', {escape: true}, 'filter')).toEqual({type: 'filter-clear'});
		expect(keyToIntent('', {return: true}, 'filter')).toEqual({type: 'filter-done'});
		expect(keyToIntent('c', {ctrl: true}, 'filter')).toEqual({type: 'quit'});
	});

	it('in help mode any key closes the help', () => {
		expect(keyToIntent('z', {}, 'help')).toEqual({type: 'toggle-help'});
	});

	it('every binding is reachable: no earlier binding shadows it', () => {
		const samples: Record<string, [string, object]> = {'Up/k, Down/j': ['k', {}], 'PgUp, PgDn': ['', {pageUp: true}], 'Home, End': ['', {home: true}], 'Tab, Left/Right': ['', {leftArrow: true}], Enter: ['', {return: true}], a: ['a', {}], '1 2 3 4': ['1', {}], 'p, Space': ['p', {}], r: ['r', {}], w: ['w', {}], '+, -': ['+', {}], i: ['i', {}], '/': ['/', {}], m: ['m', {}], s: ['s', {}], '?': ['?', {}], 'q, Ctrl-C': ['q', {}]};
		for (const b of BINDINGS.filter(x => x.keys)) {
			const [input, key] = samples[b.keys]!;
			expect(keyToIntent(input, key, 'normal'), b.keys).toEqual(b.intent);
		}
	});

	it('splits a burst of plain keys into single presses, and leaves special keys whole', () => {
		expect(splitBurst('jjk', {})).toEqual([['j', {}], ['j', {}], ['k', {}]]);
		expect(splitBurst('\u007f\u007f', {})).toEqual([['', {backspace: true}], ['', {backspace: true}]]);
		expect(splitBurst('j', {})).toEqual([['j', {}]]);
		expect(splitBurst('', {upArrow: true})).toEqual([['', {upArrow: true}]]);
	});
});
