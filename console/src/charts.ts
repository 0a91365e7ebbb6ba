import { svg, html, type TemplateResult } from 'lit';

const WIDTH = 320;
const HEIGHT = 90;
const PAD = 4;

export interface Series {
  label: string;
  /** One value per point; null is a gap. */
  values: (number | null)[];
  className: string;
}

function scale(values: (number | null)[][]): number {
  const max = Math.max(0, ...values.flat().filter((v): v is number => v !== null));
  return max === 0 ? 1 : max;
}

/** Lines over the points (inline SVG, nothing fetched), with a text summary for screen readers. */
export function lineChart(title: string, series: Series[], summary: string): TemplateResult {
  const max = scale(series.map((s) => s.values));
  const count = Math.max(...series.map((s) => s.values.length), 2);
  const x = (i: number) => PAD + (i * (WIDTH - 2 * PAD)) / (count - 1);
  const y = (v: number) => HEIGHT - PAD - (v / max) * (HEIGHT - 2 * PAD);
  const paths = series.map((s) => {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    });
    // The latest value as a dot, so that a series of one point shows too.
    const last = s.values.findLastIndex((v) => v !== null);
    const value = last < 0 ? null : s.values[last];
    return svg`<path class="line ${s.className}" d=${d.trim() === '' ? 'M0,0' : d} />
      ${
        value === null || value === undefined
          ? ''
          : svg`<circle class="dot ${s.className}" cx=${x(last).toFixed(1)} cy=${y(value).toFixed(1)} r="2.5" />`
      }`;
  });
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label=${`${title}: ${summary}`}>
      <line class="axis" x1=${PAD} y1=${HEIGHT - PAD} x2=${WIDTH - PAD} y2=${HEIGHT - PAD} />
      ${paths}
    </svg>
    <p class="axis-labels" aria-hidden="true"><span>15 min ago</span><span>now</span></p>
    <p class="legend">
      ${series.map((s) => html`<span class="key ${s.className}">${s.label}</span>`)}
      <span class="scale">max ${Math.round(max * 100) / 100}</span>
    </p>
  </figure>`;
}

/** Stacked bars, one per point. */
export function stackedBars(title: string, series: Series[], summary: string): TemplateResult {
  const count = Math.max(...series.map((s) => s.values.length), 1);
  const totals = Array.from({ length: count }, (_v, i) =>
    series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0),
  );
  const max = Math.max(1, ...totals);
  const slot = (WIDTH - 2 * PAD) / count;
  const bars = [];
  for (let i = 0; i < count; i++) {
    let base = HEIGHT - PAD;
    for (const s of series) {
      const h = ((s.values[i] ?? 0) / max) * (HEIGHT - 2 * PAD);
      if (h > 0) {
        base -= h;
        bars.push(
          svg`<rect class="bar ${s.className}" x=${(PAD + i * slot).toFixed(1)} y=${base.toFixed(1)}
            width=${Math.max(slot - 1, 1).toFixed(1)} height=${h.toFixed(1)} />`,
        );
      }
    }
  }
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label=${`${title}: ${summary}`}>
      <line class="axis" x1=${PAD} y1=${HEIGHT - PAD} x2=${WIDTH - PAD} y2=${HEIGHT - PAD} />
      ${bars}
    </svg>
    <p class="axis-labels" aria-hidden="true"><span>15 min ago</span><span>now</span></p>
    <p class="legend">
      ${series.map((s) => html`<span class="key ${s.className}">${s.label}</span>`)}
      <span class="scale">max ${max} per 5 s</span>
    </p>
  </figure>`;
}
