// The msize hint: 9p worker reads that stay small mean the guest mounted with a small msize.
// Facts (DOMAIN.md section 4): with msize 8192 every worker read is 4096 bytes (measured: 3,165 bytes per read
// on average over a copy, EOF reads included); with msize 512000 the guest asks up to 64 KiB per read (11,466).
// QEMU itself warns once at msize <= 8192; the virtio transport maximum is 512000.

import type {IoTotals} from './rate.js';

/**
Reads averaging at or below this many bytes suggest a small msize: one 4 KiB page plus room for averaging.
Small-msize runs measured 2.6-4.0 KiB over any 20 s window, msize 512000 runs never below 6.3 KiB.
*/
export const MSIZE_HINT_MAX_BYTES_PER_READ = 4608;

/**
Fewer reads than this in the window say nothing: an idle guest's few metadata and EOF reads (0 bytes each)
would drag the average down. 200 reads in 20 s is 10 reads/s, ~800 KB at 4 KiB each.
*/
export const MSIZE_HINT_MIN_READS = 200;

/** The largest msize the virtio transport supports (the guest clamps to it and says so). */
export const VIRTIO_MAX_MSIZE = 512_000;

/** A fired hint: the workers' average read size and read count over `windowMs`, and the text to show. */
export interface MsizeHint {
	bytesPerRead: number;
	reads: number;
	windowMs: number;
	text: string;
}

/**
The hint for the worker group's totals over a window, or undefined when reads are too few or large enough.
Small files also make small reads (each costs extra 0-byte reads at EOF), so the text says "likely".
*/
export function msizeHint(workers: IoTotals, windowMs: number): MsizeHint | undefined {
	if (workers.syscr < MSIZE_HINT_MIN_READS) return undefined;
	const bytesPerRead = workers.rchar / workers.syscr;
	if (bytesPerRead > MSIZE_HINT_MAX_BYTES_PER_READ) return undefined;
	const kib = (bytesPerRead / 1024).toFixed(1);
	const seconds = Math.round(windowMs / 1000);
	const text =
		`9p reads average ${kib} KiB (${workers.syscr.toLocaleString('en-US')} reads, last ${seconds} s): the guest likely mounted with a small msize ` +
		`(QEMU warns at <= 8192). Mount with -o msize=${VIRTIO_MAX_MSIZE} (the virtio maximum); ` +
		`on NixOS set virtualisation.msize = ${VIRTIO_MAX_MSIZE}. Many tiny files also make small reads.`;
	return {bytesPerRead, reads: workers.syscr, windowMs, text};
}
