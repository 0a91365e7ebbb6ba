import { html, nothing, svg, type TemplateResult } from 'lit';
import type { AuditEntry, NotificationState, SagaDetail, SagaView, StepRun } from '../api';
import { href, money, ms, statusBadge, time } from '../format';

/** One run of a step or of its compensation, placed on the saga's time line. */
export interface TimelineRun {
  kind: 'step' | 'compensation';
  step: string;
  status: string;
  start: number;
  end: number;
  duration: number | null;
  attempt: number;
  attempts: number;
  error?: { code: string; message: string };
}

/**
 * The runs in the order they happened. A step or compensation row is written when its run ends
 * (executedAt) and holds its duration (a view cached before compensations had one shows them as
 * an instant). A step or compensation run more than once (a re-drive) counts its runs as attempts.
 */
export function timeline(saga: SagaView): TimelineRun[] {
  const runs: TimelineRun[] = [];
  const add = (kind: 'step' | 'compensation', run: StepRun) => {
    const end = Date.parse(run.executedAt);
    const duration = run.duration ?? (kind === 'step' ? 0 : null);
    runs.push({
      kind,
      step: run.step,
      status: run.status,
      start: end - (duration ?? 0),
      end,
      duration,
      attempt: 0,
      attempts: 0,
      error: run.error,
    });
  };
  saga.steps.forEach((run) => add('step', run));
  saga.compensations.forEach((run) => add('compensation', run));
  runs.sort((a, b) => a.end - b.end);
  const seen = new Map<string, number>();
  for (const run of runs) {
    const key = `${run.kind}:${run.step}`;
    run.attempt = (seen.get(key) ?? 0) + 1;
    seen.set(key, run.attempt);
  }
  for (const run of runs) run.attempts = seen.get(`${run.kind}:${run.step}`) ?? 1;
  return runs;
}

/** The notification's delivery state in a line: how it went, through which channels. */
export function notificationText(notification: NotificationState): string {
  const channels = notification.channels.length === 0 ? 'none' : notification.channels.join(', ');
  switch (notification.status) {
    case 'delivered':
      return `delivered ${time(notification.deliveredAt)} (channels: ${channels})`;
    case 'pending':
      return `pending (channels: ${channels})`;
    case 'failed':
      return `failed: ${notification.error ?? 'not delivered'} (channels: ${channels})`;
  }
}

const BAR_WIDTH = 300;

function waterfall(saga: SagaView, runs: TimelineRun[]): TemplateResult {
  const origin = Math.min(Date.parse(saga.startedAt), ...runs.map((r) => r.start));
  const finish = Math.max(
    ...runs.map((r) => r.end),
    Date.parse(saga.completedAt ?? saga.failedAt ?? saga.startedAt),
    origin + 1,
  );
  const span = finish - origin;
  const x = (t: number) => ((t - origin) / span) * BAR_WIDTH;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="Timeline table">
      <table class="timeline" aria-describedby="timeline-note">
        <caption>
          Steps and compensations, in the order they ran (${ms(span)} from start to the last)
        </caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Step</th>
            <th scope="col">Started (UTC)</th>
            <th scope="col" class="num">Duration</th>
            <th scope="col">Attempt</th>
            <th scope="col">Outcome</th>
            <th scope="col">Error</th>
            <th scope="col" class="bar-col">Waterfall</th>
          </tr>
        </thead>
        <tbody>
          ${runs.map((run) => {
            const left = x(run.start);
            const width = Math.max(x(run.end) - left, 3);
            return html`<tr class="run ${run.kind} outcome-${run.status}">
              <td>
                ${
                  run.kind === 'compensation'
                    ? html`<span class="kind compensation">↺ compensation</span>`
                    : html`<span class="kind step">→ step</span>`
                }
              </td>
              <td class="mono">${run.step}</td>
              <td>${time(new Date(run.start).toISOString())}</td>
              <td class="num">${run.duration === null ? '—' : ms(run.duration)}</td>
              <td>${run.attempt} of ${run.attempts}</td>
              <td>${statusBadge(run.status)}</td>
              <td>${run.error === undefined ? '' : `${run.error.code}: ${run.error.message}`}</td>
              <td class="bar-col">
                <svg viewBox="0 0 ${BAR_WIDTH} 14" preserveAspectRatio="none" aria-hidden="true">
                  ${svg`<rect class="track" x="0" y="0" width=${BAR_WIDTH} height="14" />
                <rect class="bar ${run.kind} ${run.status}" x=${Math.min(left, BAR_WIDTH - 3).toFixed(1)}
                  y="2" width=${width.toFixed(1)} height="10" />`}
                </svg>
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>
    <p id="timeline-note" class="note">
      Steps (→, blue) and compensations (↺, orange, outlined) are drawn from their start to their
      end.
    </p>`;
}

function auditTable(entries: AuditEntry[]): TemplateResult {
  if (entries.length === 0) return html`<p>No operator action on this saga yet.</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="Audit entries">
    <table class="audit">
      <thead>
        <tr>
          <th scope="col">When (UTC)</th>
          <th scope="col">Who</th>
          <th scope="col">Action</th>
          <th scope="col">Saga</th>
          <th scope="col">Reason</th>
          <th scope="col">Outcome</th>
          <th scope="col">Detail</th>
        </tr>
      </thead>
      <tbody>
        ${entries.map(
          (e) =>
            html`<tr>
              <td>${time(e.at)}</td>
              <td>${e.actor}</td>
              <td>${e.action}</td>
              <td class="mono">
                ${
                  e.transactionId === null
                    ? '—'
                    : html`<a href=${href(`/saga/${e.transactionId}`)}>${e.transactionId}</a>`
                }
              </td>
              <td>${e.reason}</td>
              <td>${statusBadge(e.outcome)}</td>
              <td>${e.errorCode === null ? '' : `${e.errorCode}: `}${e.detail ?? ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export { auditTable };

/** What an operator may do to a saga in this state, if anything. */
export function availableAction(saga: SagaView): { label: string; hint: string } | undefined {
  if (saga.status === 'failed' && saga.error?.code === 'COMPENSATION_FAILED') {
    return {
      label: 'Re-drive compensation',
      hint: 'Runs the compensations that did not complete, newest step first.',
    };
  }
  if (['pending', 'in_progress', 'compensating'].includes(saga.status)) {
    return {
      label: 'Compensate',
      hint: 'Undoes what the saga did, if it has not passed its pivot (the log record).',
    };
  }
  return undefined;
}

export interface DetailState {
  id: string;
  detail?: SagaDetail;
  error?: string;
  actionOpen: boolean;
  actionMessage?: { ok: boolean; text: string };
  busy: boolean;
}

export interface DetailHandlers {
  openAction(): void;
  closeAction(): void;
  submitAction(reason: string): void;
}

export function detailView(
  state: DetailState,
  readOnly: boolean,
  on: DetailHandlers,
): TemplateResult {
  if (state.error !== undefined) {
    return html`<section>
      <h1>Saga <span class="mono">${state.id}</span></h1>
      <p class="error" role="alert">${state.error}</p>
      <p><a href="#/sagas">Back to the list</a></p>
    </section>`;
  }
  if (state.detail === undefined) return html`<p aria-busy="true">Loading ${state.id}…</p>`;
  const { saga, user, item, events, audit, definitionDriven } = state.detail;
  const runs = timeline(saga);
  // A saga of a version this instance lacks is another build's to drive: no action here.
  const action = readOnly || !definitionDriven ? undefined : availableAction(saga);
  const byUser = new URLSearchParams([['userId', saga.purchaseData.userId]]);
  const byItem = new URLSearchParams([['itemId', saga.purchaseData.itemId]]);
  const onSubmit = (event: SubmitEvent) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const reason = new FormData(form).get('reason');
    on.submitAction(typeof reason === 'string' ? reason : '');
  };
  return html`<section aria-labelledby="saga-title">
    <p class="crumbs">
      <a href="#/sagas">Sagas</a> / <span class="mono">${saga.transactionId}</span>
    </p>
    <h1 id="saga-title">Saga ${statusBadge(saga.status)}</h1>
    <dl class="facts">
      <div>
        <dt>Transaction</dt>
        <dd class="mono">${saga.transactionId}</dd>
      </div>
      <div>
        <dt>Pattern</dt>
        <dd>${saga.pattern}</dd>
      </div>
      <div>
        <dt>Definition</dt>
        <dd>
          ${saga.definition.name} v${saga.definition.version}
          ${
            definitionDriven
              ? nothing
              : html`<strong>— not driven by this instance</strong> (<a href="#/overview"
                    >move its version's sagas</a
                  >)`
          }
        </dd>
      </div>
      <div>
        <dt>Purchase</dt>
        <dd>
          ${saga.purchaseData.quantity} × ${saga.purchaseData.itemId} for
          ${money(saga.purchaseData.price)}
        </dd>
      </div>
      <div>
        <dt>Started</dt>
        <dd>${time(saga.startedAt)}</dd>
      </div>
      <div>
        <dt>Finished</dt>
        <dd>${time(saga.completedAt ?? saga.failedAt)}</dd>
      </div>
      <div>
        <dt>Current step</dt>
        <dd>${saga.currentStep ?? '—'}</dd>
      </div>
      ${
        saga.traceId === undefined
          ? nothing
          : html`<div class="wide">
              <dt>Trace</dt>
              <dd class="mono" data-testid="trace-id">${saga.traceId}</dd>
            </div>`
      }
      ${
        saga.notification === undefined
          ? nothing
          : html`<div class="wide">
              <dt>Notification</dt>
              <dd data-testid="notification">${notificationText(saga.notification)}</dd>
            </div>`
      }
      ${
        saga.error === undefined
          ? nothing
          : html`<div class="wide">
              <dt>Error</dt>
              <dd>${saga.error.code} at ${saga.error.step ?? '—'}: ${saga.error.message}</dd>
            </div>`
      }
    </dl>

    ${
      readOnly
        ? html`<p class="note">Read-only console: actions are not available.</p>`
        : action === undefined
          ? nothing
          : html`<div class="actions">
              ${
                state.actionOpen
                  ? html`<form
                      class="action-form"
                      @submit=${onSubmit}
                      aria-labelledby="action-title"
                    >
                      <h2 id="action-title">${action.label}</h2>
                      <p>${action.hint} The reason is written to the audit log with your name.</p>
                      <label
                        >Reason (required)
                        <textarea name="reason" required maxlength="500" rows="3"></textarea>
                      </label>
                      <div class="buttons">
                        <button type="submit" ?disabled=${state.busy}>
                          Confirm: ${action.label}
                        </button>
                        <button type="button" class="secondary" @click=${() => on.closeAction()}>
                          Cancel
                        </button>
                      </div>
                    </form>`
                  : html`<button type="button" class="danger" @click=${() => on.openAction()}>
                      ${action.label}…
                    </button>`
              }
            </div>`
    }
    ${
      state.actionMessage === undefined
        ? nothing
        : html`<p class=${state.actionMessage.ok ? 'ok' : 'error'} role="status">
            ${state.actionMessage.text}
          </p>`
    }

    <h2>Timeline</h2>
    ${runs.length === 0 ? html`<p>No step has run yet.</p>` : waterfall(saga, runs)}

    <div class="columns">
      <section aria-labelledby="user-title">
        <h2 id="user-title">User <span class="mono">${saga.purchaseData.userId}</span></h2>
        ${
          user === null
            ? html`<p>This user no longer exists.</p>`
            : html`<dl class="facts">
                <div>
                  <dt>Name</dt>
                  <dd>${user.name}</dd>
                </div>
                <div>
                  <dt>Status</dt>
                  <dd>${user.status}</dd>
                </div>
                <div>
                  <dt>Balance now</dt>
                  <dd>${money(user.balance)}</dd>
                </div>
                <div>
                  <dt>Purchase limit</dt>
                  <dd>${user.purchaseLimit === 0 ? 'none' : money(user.purchaseLimit)}</dd>
                </div>
                <div class="wide">
                  <dt>Inventory</dt>
                  <dd>
                    ${user.inventory.length === 0 ? 'empty' : user.inventory.map((i) => `${i.quantity} × ${i.itemId}`).join(', ')}
                  </dd>
                </div>
              </dl>`
        }
        <p><a href=${href('/sagas', byUser)}>Other sagas of ${saga.purchaseData.userId}</a></p>
      </section>
      <section aria-labelledby="item-title">
        <h2 id="item-title">Item <span class="mono">${saga.purchaseData.itemId}</span></h2>
        ${
          item === null
            ? html`<p>This item no longer exists.</p>`
            : html`<dl class="facts">
                <div>
                  <dt>Name</dt>
                  <dd>${item.name}</dd>
                </div>
                <div>
                  <dt>Price now</dt>
                  <dd>${money(item.price)}</dd>
                </div>
                <div>
                  <dt>Stock now</dt>
                  <dd>${item.stock}</dd>
                </div>
                <div>
                  <dt>Available</dt>
                  <dd>${item.isAvailable ? 'yes' : 'no'}</dd>
                </div>
              </dl>`
        }
        <p><a href=${href('/sagas', byItem)}>Other sagas of ${saga.purchaseData.itemId}</a></p>
      </section>
    </div>

    ${
      saga.pattern === 'choreography'
        ? html`<h2>Outbox events</h2>
            ${
              events.length === 0
                ? html`<p>No event recorded.</p>`
                : html`<div
                    class="table-wrap"
                    tabindex="0"
                    role="region"
                    aria-label="Outbox events table"
                  >
                    <table class="events">
                      <thead>
                        <tr>
                          <th scope="col">Occurred (UTC)</th>
                          <th scope="col">Event</th>
                          <th scope="col">Delivery</th>
                          <th scope="col">Payload</th>
                        </tr>
                      </thead>
                      <tbody>
                        ${events.map(
                          (e) =>
                            html`<tr>
                              <td>${time(e.occurredAt)}</td>
                              <td class="mono">${e.eventType}</td>
                              <td>${e.dispatched ? 'dispatched' : 'pending'}</td>
                              <td>
                                <details>
                                  <summary>payload</summary>
                                  <pre>${JSON.stringify(e.data, null, 2)}</pre>
                                </details>
                              </td>
                            </tr>`,
                        )}
                      </tbody>
                    </table>
                  </div>`
            }`
        : nothing
    }

    <h2>Audit</h2>
    ${auditTable(audit)}
  </section>`;
}
