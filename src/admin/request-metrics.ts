/**
 * The per-request metrics, counted in plain numbers and handed to prom-client
 * only when the registry is read (a scrape, or a worker reporting to the
 * cluster primary).
 *
 * Why: a prom-client label child still validates and hashes its label set on
 * every inc()/observe(); with three updates per request that was about 5% of
 * the proxy's CPU on the keep-alive benchmark. Here a request costs a Map
 * lookup on a number and a few additions.
 */
import { Counter, type Registry } from "prom-client";

/** One sample in the shape prom-client's own `get()` returns. */
interface Sample {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

/** One label set's count not yet handed to its prom-client counter. */
export class PendingCount {
  pending = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}
}

/**
 * A prom-client Counter fed from PendingCounts: `cell.pending++` on the hot
 * path; the deltas are added to the counter right before it is read.
 */
export class BatchedCounter<L extends string> {
  private readonly cells: PendingCount[] = [];
  readonly counter: Counter<L>;

  constructor(options: { name: string; help: string; labelNames: readonly L[]; registry: Registry }) {
    const cells = this.cells;
    this.counter = new Counter<L>({
      name: options.name,
      help: options.help,
      labelNames: options.labelNames,
      registers: [options.registry],
      collect() {
        for (const cell of cells) {
          if (cell.pending === 0) continue;
          this.inc(cell.labels as Partial<Record<L, string>>, cell.pending);
          cell.pending = 0;
        }
      },
    });
  }

  /** A new cell for one label set; look it up once and keep it. */
  cell(labels: Readonly<Record<L, string>>): PendingCount {
    const cell = new PendingCount(labels);
    this.counter.inc(labels as Partial<Record<L, string>>, 0);
    this.cells.push(cell);
    return cell;
  }
}

/** One label set's histogram state: per-bucket counts (not cumulative), sum and count. */
export class HistogramCell {
  readonly bucketCounts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly upperBounds: readonly number[],
  ) {
    this.bucketCounts = new Float64Array(upperBounds.length);
  }

  observe(value: number): void {
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.bucketCounts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram registered with a prom-client Registry as a metric
 * of its own: prom-client's `get()` shape, so text rendering and the cluster
 * aggregator (sum) treat it like any other histogram.
 */
export class CellHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly cells: HistogramCell[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  cell(labels: Readonly<Record<string, string>>): HistogramCell {
    const cell = new HistogramCell(labels, this.upperBounds);
    this.cells.push(cell);
    return cell;
  }

  get(): { name: string; help: string; type: "histogram"; values: Sample[]; aggregator: "sum" } {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const cell of this.cells) {
      let cumulative = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += cell.bucketCounts[i]!;
        values.push({ metricName: bucket, labels: { ...cell.labels, le: this.upperBounds[i]! }, value: cumulative });
      }
      values.push({ metricName: bucket, labels: { ...cell.labels, le: "+Inf" }, value: cell.count });
      values.push({ metricName: `${this.name}_sum`, labels: cell.labels, value: cell.sum });
      values.push({ metricName: `${this.name}_count`, labels: cell.labels, value: cell.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const cell of this.cells) {
      cell.bucketCounts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}
