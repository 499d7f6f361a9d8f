import {Text} from 'ink';

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/**
The sparkline as a string of exactly `width` characters, newest value at the right. More values than columns are
averaged in groups so the whole series fits; fewer are right-aligned behind spaces. Zero is a space, any value
above zero at least `▁`. Scale: 0..`max` (default the largest value).
*/
export function sparklineText(values: readonly number[], width: number, max?: number): string {
	if (width <= 0) return '';
	let columns: number[] = [...values];
	if (columns.length > width) {
		const grouped: number[] = [];
		for (let c = 0; c < width; c++) {
			const from = Math.floor((c * values.length) / width);
			const to = Math.floor(((c + 1) * values.length) / width);
			let sum = 0;
			for (let i = from; i < to; i++) sum += values[i]!;
			grouped.push(sum / Math.max(1, to - from));
		}
		columns = grouped;
	}
	const top = max ?? Math.max(0, ...columns);
	const bars = columns.map(v => {
		if (!(v > 0) || !(top > 0)) return ' ';
		const level = Math.min(BARS.length - 1, Math.ceil((v / top) * BARS.length) - 1);
		return BARS[Math.max(0, level)]!;
	});
	return bars.join('').padStart(width);
}

/** Props of Sparkline. */
export interface SparklineProps {
	readonly values: readonly number[];
	readonly width: number;
	/** Top of the scale. @default the largest value */
	readonly max?: number;
	/** Ink color name. @default 'cyan' */
	readonly color?: string;
	readonly dimColor?: boolean;
}

/** A one-line bar chart of a series (e.g. read bytes/s over the last minute), `width` columns wide. */
export function Sparkline({values, width, max, color = 'cyan', dimColor = false}: SparklineProps) {
	return <Text color={color} dimColor={dimColor}>{sparklineText(values, width, max)}</Text>;
}
