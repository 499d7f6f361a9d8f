// The render fast paths patched into Ink's text libraries (patches/@alcalzone+ansi-tokenize+0.2.5.patch,
// patches/string-width+8.3.0.patch, patches/ink+6.8.0.patch): text whose every character is a grapheme of its
// own skips Intl.Segmenter and Unicode regular expressions, and characters of one style share one styles array.
// They must answer exactly what the slow paths answer. The slow path of the same function is the reference: a NUL
// appended to a text sends it there (NUL is a control: a grapheme of its own, no width, never a joiner).
import * as tokenizer from '@alcalzone/ansi-tokenize';
import stringWidth from 'string-width';
import {describe, expect, it} from 'vitest';

type Token = ReturnType<typeof tokenizer.tokenize>[number];
type StyledChar = ReturnType<typeof tokenizer.styledCharsFromTokens>[number];
type Code = StyledChar['styles'][number];

const slowTokens = (text: string): Token[] => tokenizer.tokenize(`${text}\0`).slice(0, -1);
const slowWidth = (text: string, options?: {ambiguousIsNarrow?: boolean}): number => stringWidth(`${text}\0`, options);

// Every character of the Basic Multilingual Plane but the surrogates: the fast paths take a few thousand of them.
const bmp = Array.from({length: 0x10000}, (_, i) => String.fromCharCode(i)).filter(c => c < '\ud800' || c > '\udfff');
const simple = bmp.filter(c => (tokenizer as unknown as {isSimpleText: (text: string) => boolean}).isSimpleText(c) && c !== '\u001b');

// A small deterministic PRNG (mulberry32): the same strings on every run.
function random(seed: number): () => number {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
	};
}

const SGR = ['\u001b[1m', '\u001b[22m', '\u001b[2m', '\u001b[7m', '\u001b[27m', '\u001b[31m', '\u001b[39m', '\u001b[38;5;208m', '\u001b[38;2;10;20;30m', '\u001b[42m', '\u001b[49m', '\u001b[1;33m', '\u001b[0m', '\u001b[m', '\u001b[4m', '\u001b[24m'];

// Screen-like text: characters of the fast path, runs of styles, now and then a code the tokenizer does not know.
function styledText(next: () => number, length: number): string {
	let text = '';
	for (let i = 0; i < length; i++) {
		const r = next();
		if (r < 0.12) text += SGR[Math.floor(next() * SGR.length)]!;
		else if (r < 0.13) text += '\u001b[?25h';
		else if (r < 0.6) text += String.fromCharCode(0x20 + Math.floor(next() * 95));
		else text += simple[Math.floor(next() * simple.length)]!;
	}
	return text;
}

// ansi-tokenize 0.2.5's styledCharsFromTokens and styledCharsToString as they were before the patch (MIT,
// Dominic Griesel): the reference for the patched ones.
function referenceStyledChars(tokens: Token[]): StyledChar[] {
	let codes: Code[] = [];
	const out: StyledChar[] = [];
	for (const token of tokens) {
		if (token.type === 'ansi') codes = tokenizer.reduceAnsiCodesIncremental(codes, [token]);
		else if (token.type === 'char') out.push({...token, styles: [...codes]});
	}
	return out;
}

function referenceToString(chars: StyledChar[]): string {
	let out = '';
	for (let i = 0; i < chars.length; i++) {
		const char = chars[i]!;
		out += tokenizer.ansiCodesToString(i === 0 ? char.styles : tokenizer.diffAnsiCodes(chars[i - 1]!.styles, char.styles));
		out += char.value;
		if (i === chars.length - 1) out += tokenizer.ansiCodesToString(tokenizer.diffAnsiCodes(char.styles, []));
	}
	return out;
}

describe('render fast paths', () => {
	it('are installed (npm install applies the patches)', () => {
		const {isSimpleText} = tokenizer as unknown as {isSimpleText?: (text: string) => boolean};
		expect(typeof isSimpleText).toBe('function');
		expect(isSimpleText!('  7232 CPU 0/KVM  █████▏ 100.0 ▼')).toBe(true);
		expect(isSimpleText!('e\u0301')).toBe(false);
	});

	it(`tokenize: each of the ${bmp.length.toLocaleString('en-US')} BMP characters alone (${simple.length.toLocaleString('en-US')} take the fast path), and 2,000 styled screen-like texts, as the segmenter tokenizes them`, () => {
		for (const c of bmp) expect(tokenizer.tokenize(c), `U+${c.charCodeAt(0).toString(16)}`).toEqual(slowTokens(c));
		const next = random(1);
		for (let i = 0; i < 2000; i++) {
			const text = styledText(next, 1 + Math.floor(next() * 120));
			expect(tokenizer.tokenize(text), JSON.stringify(text)).toEqual(slowTokens(text));
		}
		// endChar stops the fast path where it stops the slow one.
		expect(tokenizer.tokenize('\u001b[31mabcdef', 3)).toEqual(tokenizer.tokenize('\u001b[31mabcdef\0', 3));
	});

	it('tokenize: text outside the fast path still goes through the segmenter (a combining mark, an emoji sequence, CR LF)', () => {
		expect(tokenizer.tokenize('e\u0301x').map(t => t.type === 'char' && t.value)).toEqual(['e\u0301', 'x']);
		expect(tokenizer.tokenize('a👍🏽b').map(t => t.type === 'char' && t.value)).toEqual(['a', '👍🏽', 'b']);
		expect(tokenizer.tokenize('a\r\nb')).toHaveLength(3);
	});

	it('string-width: each BMP character alone and 2,000 texts, ambiguous narrow and wide, as wide as the slow path says', () => {
		for (const c of bmp) {
			expect(stringWidth(c), `U+${c.charCodeAt(0).toString(16)}`).toBe(slowWidth(c));
			expect(stringWidth(c, {ambiguousIsNarrow: false}), `U+${c.charCodeAt(0).toString(16)} wide`).toBe(slowWidth(c, {ambiguousIsNarrow: false}));
		}
		const next = random(2);
		for (let i = 0; i < 2000; i++) {
			const text = styledText(next, 1 + Math.floor(next() * 120));
			expect(stringWidth(text), JSON.stringify(text)).toBe(slowWidth(text));
		}
		// Emoji-presentation symbols in the fast ranges are two columns either way.
		expect(stringWidth('⌚')).toBe(2);
		expect(stringWidth('⚡x')).toBe(3);
	});

	it('styled characters: the same output as before the patch for 2,000 styled texts, and one styles array per run of a style', () => {
		const next = random(3);
		for (let i = 0; i < 2000; i++) {
			const tokens = tokenizer.tokenize(styledText(next, 1 + Math.floor(next() * 120)));
			const chars = tokenizer.styledCharsFromTokens(tokens);
			const reference = referenceStyledChars(tokens);
			expect(chars).toEqual(reference);
			expect(tokenizer.styledCharsToString(chars)).toBe(referenceToString(reference));
			// Ink puts characters of different texts side by side: the string of a mixed row too.
			const mixed = [...chars.slice(0, 5), ...tokenizer.styledCharsFromTokens(tokenizer.tokenize('\u001b[7mxy\u001b[27mz'))];
			expect(tokenizer.styledCharsToString(mixed)).toBe(referenceToString(mixed.map(c => ({...c, styles: [...c.styles]}))));
		}
		const [a, b, c] = tokenizer.styledCharsFromTokens(tokenizer.tokenize('\u001b[31mab\u001b[1mc'));
		expect(a!.styles).toBe(b!.styles);
		expect(c!.styles).not.toBe(b!.styles);
	});
});
