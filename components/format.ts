// Pure formatting helpers for the terminal UI: byte sizes and rates, counts, percentages, truncation.
// ASCII output except the ellipsis, so widths are string lengths.

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

function scaled(value: number, base: number, units: readonly string[]): string {
	if (!Number.isFinite(value)) return '-';
	const sign = value < 0 ? '-' : '';
	let v = Math.abs(value);
	let unit = 0;
	while (v >= base && unit < units.length - 1) {
		v /= base;
		unit++;
	}
	// Three significant digits at most: 999 B, 1.23 MB, 12.3 MB, 123 MB.
	if (unit === 0) return `${sign}${Math.round(v)} ${units[0]}`;
	let digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
	let text = v.toFixed(digits);
	if (Number(text) >= base) {
		// Rounding reached the next unit (999.6 kB -> 1000 kB): move up.
		v /= base;
		unit = Math.min(unit + 1, units.length - 1);
		digits = 2;
		text = v.toFixed(digits);
	}
	return `${sign}${text} ${units[unit]}`;
}

/** A byte count in decimal units (1 kB = 1000 B, as throughput is usually quoted): `1.23 MB`. */
export function formatBytes(bytes: number): string {
	return scaled(bytes, 1000, DECIMAL_UNITS);
}

/** A byte count in binary units (1 KiB = 1024 B, for sizes such as read sizes or msize): `4.00 KiB`. */
export function formatBinaryBytes(bytes: number): string {
	return scaled(bytes, 1024, BINARY_UNITS);
}

/** A throughput in decimal units per second: `45.1 MB/s`, `0 B/s`. */
export function formatBytesPerSec(bytesPerSec: number): string {
	return `${formatBytes(bytesPerSec)}/s`;
}

/** A count in short form: `987`, `0.4`, `1.2k`, `12k`, `3.4M`. */
export function formatCount(count: number): string {
	if (!Number.isFinite(count)) return '-';
	const sign = count < 0 ? '-' : '';
	const suffixes = ['', 'k', 'M', 'G', 'T'];
	let v = Math.abs(count);
	let i = 0;
	while (v >= 999.5 && i < suffixes.length - 1) {
		v /= 1000;
		i++;
	}
	const small = i === 0 ? v < 10 && !Number.isInteger(v) : v < 9.95;
	return `${sign}${small ? v.toFixed(1) : Math.round(v)}${suffixes[i]}`;
}

/** A count per second: `1.2k/s`. */
export function formatPerSec(countPerSec: number): string {
	return `${formatCount(countPerSec)}/s`;
}

/** An integer with thousands separators: `11,466`. */
export function formatInteger(value: number): string {
	if (!Number.isFinite(value)) return '-';
	const rounded = Math.round(value);
	const digits = String(Math.abs(rounded)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
	return rounded < 0 ? `-${digits}` : digits;
}

/** A fraction (0..1) as a percentage: `12.3%`; `digits` decimals (default 1). */
export function formatPercent(fraction: number, digits = 1): string {
	if (!Number.isFinite(fraction)) return '-';
	return `${(fraction * 100).toFixed(digits)}%`;
}

/** Shorten text to at most `width` characters, ending in `…` when cut. */
export function truncate(text: string, width: number): string {
	if (width <= 0) return '';
	if (text.length <= width) return text;
	if (width === 1) return '…';
	return `${text.slice(0, width - 1)}…`;
}

/** Shorten text to at most `width` characters, keeping the end (for paths): `…/share/dir`. */
export function truncateStart(text: string, width: number): string {
	if (width <= 0) return '';
	if (text.length <= width) return text;
	if (width === 1) return '…';
	return `…${text.slice(text.length - width + 1)}`;
}

/** Pad (or cut) text on the right to exactly `width` characters. */
export function padEnd(text: string, width: number): string {
	return truncate(text, width).padEnd(width);
}

/**
A row's last column: cut to `width`, and padded to it only under an inverse bar (the selected row), whose colour
must span the width. Ink styles every character it is given, so trailing spaces elsewhere cost redraw time and
show nothing.
*/
export function lastColumn(text: string, width: number, bar: boolean): string {
	return bar ? padEnd(text, width) : truncate(text, width);
}

/** Pad (or cut) text on the left to exactly `width` characters, for right-aligned numbers. */
export function padStart(text: string, width: number): string {
	return truncate(text, width).padStart(width);
}

/** A share (0..1) as a percentage with one decimal and no sign: `70.1`; `-` when unknown. */
export function pct(share: number): string {
	return Number.isFinite(share) ? (share * 100).toFixed(1) : '-';
}

/** Milliseconds with a precision that suits the size: `0.42`, `3.1`, `182`; `-` when unknown. */
export function ms(value: number): string {
	if (!Number.isFinite(value)) return '-';
	if (value < 1) return value.toFixed(2);
	if (value < 100) return value.toFixed(1);
	return value.toFixed(0);
}
