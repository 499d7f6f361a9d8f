// Stop-time statistics: a bounded ring of the last stops, median/p95, and the duty cycle.

/** Keeps the last `capacity` stop times (ms). */
export class StopStats {
	private readonly ring: number[] = [];
	private next = 0;
	last = NaN;
	count = 0;
	sumMs = 0;

	constructor(readonly capacity = 500) {}

	add(ms: number): void {
		if (!Number.isFinite(ms)) return;
		this.last = ms;
		this.count++;
		this.sumMs += ms;
		if (this.ring.length < this.capacity) this.ring.push(ms);
		else this.ring[this.next] = ms;
		this.next = (this.next + 1) % this.capacity;
	}

	/** The q-quantile (0..1) of the kept stops, NaN when none. */
	quantile(q: number): number {
		if (this.ring.length === 0) return NaN;
		const sorted = [...this.ring].sort((a, b) => a - b);
		return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
	}

	/** Last, median and p95 stop, and the duty cycle (%) at `intervalMs`: the figures reports and headers show. */
	summary(intervalMs: number): {lastMs: number; medianMs: number; p95Ms: number; dutyPct: number} {
		const medianMs = this.quantile(0.5);
		return {lastMs: this.last, medianMs, p95Ms: this.quantile(0.95), dutyPct: dutyCycle(medianMs, intervalMs) * 100};
	}

	reset(): void {
		this.ring.length = 0;
		this.next = 0;
		this.last = NaN;
		this.count = 0;
		this.sumMs = 0;
	}
}

/** The share of time the target is stopped: median stop time x sampling rate, as a fraction. */
export function dutyCycle(medianStopMs: number, intervalMs: number): number {
	if (!Number.isFinite(medianStopMs) || intervalMs <= 0) return NaN;
	return medianStopMs / Math.max(intervalMs, medianStopMs);
}

/** Samples per second over the recent samples' timestamps. */
export function sampleRate(atMs: number[]): number {
	if (atMs.length < 2) return NaN;
	return ((atMs.length - 1) * 1000) / (atMs[atMs.length - 1]! - atMs[0]!);
}
