import { html, nothing, type TemplateResult } from 'lit';
import type { Overview } from '../api';
import { lineChart, stackedBars } from '../charts';
import { ms, percent } from '../format';

export interface OverviewState {
  overview?: Overview;
  error?: string;
  refreshedAt?: Date;
}

/** The charts span the whole window: the points so far are drawn at its right end. */
function padded<T>(values: T[], slots: number): (T | null)[] {
  return [...new Array<null>(Math.max(slots - values.length, 0)).fill(null), ...values];
}

export function overviewView(state: OverviewState): TemplateResult {
  const o = state.overview;
  const slots = o === undefined ? 0 : Math.round(o.windowSeconds / o.sampleSeconds);
  const series = <T>(pick: (p: Overview['points'][number]) => T) =>
    padded((o?.points ?? []).map(pick), slots);
  return html`<section aria-labelledby="overview-title">
    <h1 id="overview-title">Overview</h1>
    <p class="note">
      Sagas this instance finished, per ${o?.sampleSeconds ?? 5} s over the last
      ${Math.round((o?.windowSeconds ?? 900) / 60)} minutes, from the counters it keeps for
      /metrics. Refreshed every 5 s while this page is visible.
      ${
        state.refreshedAt === undefined
          ? nothing
          : html`Last refresh ${state.refreshedAt.toISOString().slice(11, 19)} UTC.`
      }
    </p>
    ${state.error === undefined ? nothing : html`<p class="error" role="alert">${state.error}</p>`}
    ${
      o === undefined
        ? html`<p aria-busy="true">Loading…</p>`
        : html`<dl class="figures">
              <div>
                <dt>Purchases / s</dt>
                <dd>${o.window.perSecond}</dd>
              </div>
              <div>
                <dt>p50 duration</dt>
                <dd>${ms(o.window.p50Ms)}</dd>
              </div>
              <div>
                <dt>p95 duration</dt>
                <dd>${ms(o.window.p95Ms)}</dd>
              </div>
              <div>
                <dt>Completed</dt>
                <dd>${o.window.finished.completed}</dd>
              </div>
              <div>
                <dt>Compensated</dt>
                <dd>${o.window.finished.compensated}</dd>
              </div>
              <div>
                <dt>Failed</dt>
                <dd>${o.window.finished.failed}</dd>
              </div>
              <div>
                <dt>Compensation rate</dt>
                <dd>${percent(o.window.compensationRate)}</dd>
              </div>
            </dl>
            <div class="charts">
              ${lineChart(
                'Purchases per second',
                [
                  {
                    label: 'finished / s',
                    values: series((p) => p.perSecond),
                    className: 's1',
                  },
                ],
                `now ${o.points.at(-1)?.perSecond ?? 0} per second`,
              )}
              ${lineChart(
                'Duration (ms)',
                [
                  { label: 'p50', values: series((p) => p.p50Ms), className: 's1' },
                  { label: 'p95', values: series((p) => p.p95Ms), className: 's2' },
                ],
                `p50 ${ms(o.window.p50Ms)}, p95 ${ms(o.window.p95Ms)} over the window`,
              )}
              ${stackedBars(
                'Finished per status',
                [
                  {
                    label: 'completed',
                    values: series((p) => p.finished.completed),
                    className: 'completed',
                  },
                  {
                    label: 'compensated',
                    values: series((p) => p.finished.compensated),
                    className: 'compensated',
                  },
                  {
                    label: 'failed',
                    values: series((p) => p.finished.failed),
                    className: 'failed',
                  },
                ],
                `${o.window.finished.completed} completed, ${o.window.finished.compensated} compensated, ${o.window.finished.failed} failed`,
              )}
              ${lineChart(
                'Compensation rate',
                [
                  {
                    label: 'compensated / finished',
                    values: series((p) => p.compensationRate),
                    className: 's2',
                  },
                ],
                `${percent(o.window.compensationRate)} over the window`,
              )}
            </div>`
    }
  </section>`;
}
