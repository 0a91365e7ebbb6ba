import { html, nothing, type TemplateResult } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import type { Delivery, RelayState, Webhook, WebhookList } from '../api';
import { age, href, ms, statusBadge, time } from '../format';

/** A signing secret just answered (creation or rotation): the only time it is ever shown. */
export interface ShownSecret {
  webhookId: string;
  url: string;
  secret: string;
  rotated: boolean;
}

export interface Notice {
  ok: boolean;
  text: string;
}

export interface WebhooksState {
  list?: WebhookList;
  relay?: RelayState;
  error?: string;
  relayError?: string;
  refreshedAt?: Date;
  secret?: ShownSecret;
  message?: Notice;
  busy: boolean;
}

export interface WebhookDetailState {
  id: string;
  webhook?: Webhook;
  deliveries?: Delivery[];
  /** Whether the service sends anything at all (WEBHOOKS_ENABLED). */
  deliveriesEnabled?: boolean;
  error?: string;
  refreshedAt?: Date;
  secret?: ShownSecret;
  message?: Notice;
  confirmDelete: boolean;
  busy: boolean;
}

export interface WebhooksHandlers {
  create(form: HTMLFormElement): void;
  dismissSecret(): void;
}

export interface WebhookDetailHandlers {
  setEnabled(enabled: boolean): void;
  sendTest(): void;
  rotate(): void;
  askDelete(confirm: boolean): void;
  remove(): void;
  resend(delivery: Delivery): void;
  resendFailed(): void;
  refresh(): void;
  dismissSecret(): void;
}

function refreshed(at: Date | undefined): TemplateResult | typeof nothing {
  return at === undefined ? nothing : html`Last refresh ${at.toISOString().slice(11, 19)} UTC.`;
}

function notice(message: Notice | undefined): TemplateResult | typeof nothing {
  return message === undefined
    ? nothing
    : html`<p class=${message.ok ? 'ok' : 'error'} role=${message.ok ? 'status' : 'alert'}>
        ${message.text}
      </p>`;
}

function secretPanel(shown: ShownSecret | undefined, dismiss: () => void) {
  if (shown === undefined) return nothing;
  return html`<section class="secret" aria-labelledby="secret-title" role="status">
    <h2 id="secret-title">
      ${shown.rotated ? 'New signing secret' : 'Signing secret'}: copy it now
    </h2>
    <p>
      The secret of <span class="mono">${shown.url}</span> is shown this once and never again. Store
      it where the receiver reads it${shown.rotated ? '; the old secret no longer signs' : ''}.
    </p>
    <output class="mono" data-testid="webhook-secret">${shown.secret}</output>
    <div class="buttons">
      <button type="button" class="secondary" @click=${dismiss}>I have stored it: hide</button>
    </div>
  </section>`;
}

function endpointState(hook: Webhook): TemplateResult {
  return hook.enabled
    ? statusBadge('enabled')
    : html`${statusBadge('disabled')} <span class="reason">${hook.disabledReason ?? ''}</span>`;
}

function health(hook: Webhook): TemplateResult | string {
  if (hook.failingSince === null) return 'healthy';
  const failures = hook.consecutiveFailures;
  const text = `failing since ${time(hook.failingSince)}, ${failures} consecutive failure${failures === 1 ? '' : 's'}`;
  return html`<span class="failing">${text}</span>`;
}

/** The relay of the integration events to the broker (GET /admin/relay). */
export function relaySection(
  relay: RelayState | undefined,
  error: string | undefined,
): TemplateResult {
  return html`<section aria-labelledby="relay-title" data-testid="relay">
    <h2 id="relay-title">Event relay to the broker</h2>
    ${error === undefined ? nothing : html`<p class="error" role="alert">${error}</p>`}
    ${
      relay === undefined
        ? error === undefined
          ? html`<p aria-busy="true">Loading…</p>`
          : nothing
        : !relay.enabled
          ? html`<p>
              ${statusBadge('off')} No broker is configured (<span class="mono">NATS_URL</span> is
              unset): integration events are not relayed.
            </p>`
          : html`<dl class="figures">
              <div>
                <dt>Relay</dt>
                <dd>${statusBadge('on')}</dd>
              </div>
              ${relay.sinks.map(
                (sink) =>
                  html`<div>
                    <dt>Sink ${sink.name}</dt>
                    <dd>
                      ${statusBadge(sink.connected ? 'connected' : 'disconnected')}
                      ${sink.reason === undefined ? nothing : html`<small>${sink.reason}</small>`}
                    </dd>
                  </div>`,
              )}
              <div>
                <dt>Backlog</dt>
                <dd>${relay.backlog}</dd>
              </div>
              <div>
                <dt>Lag (oldest unpublished)</dt>
                <dd>${age(relay.lagSeconds)}</dd>
              </div>
              <div>
                <dt>Published by this instance</dt>
                <dd>${relay.published}</dd>
              </div>
            </dl>`
    }
  </section>`;
}

function offNotice(enabled: boolean | undefined): TemplateResult | typeof nothing {
  return enabled === false
    ? html`<p class="off" role="note" data-testid="webhooks-off">
        Webhooks are off on this service (<span class="mono">WEBHOOKS_ENABLED</span> is not true):
        endpoints can be registered and changed, but no event is sent to them, and test events and
        re-sends are refused.
      </p>`
    : nothing;
}

function createForm(
  state: WebhooksState,
  readOnly: boolean,
  create: (form: HTMLFormElement) => void,
): TemplateResult | typeof nothing {
  if (readOnly || state.list === undefined) return nothing;
  const onSubmit = (event: SubmitEvent) => {
    event.preventDefault();
    create(event.target as HTMLFormElement);
  };
  return html`<form class="create" @submit=${onSubmit} aria-labelledby="create-title">
    <h2 id="create-title">Register an endpoint</h2>
    <label
      >URL
      <input
        name="url"
        type="url"
        required
        maxlength="2048"
        placeholder="https://example.com/hooks/purchases"
        autocomplete="off"
    /></label>
    <fieldset>
      <legend>Event types</legend>
      ${state.list.eventTypes.map(
        (type) =>
          html`<label class="check"
            ><input type="checkbox" name="events" value=${type} />
            <span class="mono">${type}</span></label
          >`,
      )}
    </fieldset>
    <label
      >Description (optional)
      <input name="description" maxlength="500" autocomplete="off" />
    </label>
    <div class="buttons">
      <button type="submit" ?disabled=${state.busy}>Register endpoint</button>
    </div>
  </form>`;
}

export function webhooksView(
  state: WebhooksState,
  readOnly: boolean,
  on: WebhooksHandlers,
): TemplateResult {
  const list = state.list;
  return html`<section aria-labelledby="webhooks-title">
    <h1 id="webhooks-title">Webhooks</h1>
    <p class="note">
      Endpoints the integration events are posted to (Standard Webhooks), and the relay to the
      broker. Refreshed every 5 s while this page is visible. ${refreshed(state.refreshedAt)}
    </p>
    ${offNotice(list?.enabled)} ${secretPanel(state.secret, () => on.dismissSecret())}
    ${notice(state.message)}
    ${state.error === undefined ? nothing : html`<p class="error" role="alert">${state.error}</p>`}
    ${
      list === undefined
        ? state.error === undefined
          ? html`<p aria-busy="true">Loading…</p>`
          : nothing
        : list.webhooks.length === 0
          ? html`<p>No endpoint is registered.</p>`
          : html`<div class="table-wrap" tabindex="0" role="region" aria-label="Endpoints table">
              <table class="webhooks">
                <thead>
                  <tr>
                    <th scope="col">URL</th>
                    <th scope="col">Events</th>
                    <th scope="col">State</th>
                    <th scope="col">Health</th>
                    <th scope="col">Registered (UTC)</th>
                  </tr>
                </thead>
                <tbody>
                  ${list.webhooks.map(
                    (hook) =>
                      html`<tr>
                        <td class="url">
                          <a class="mono" href=${href(`/webhook/${hook.id}`)}>${hook.url}</a>
                          ${
                            hook.description === null
                              ? nothing
                              : html`<br /><small>${hook.description}</small>`
                          }
                        </td>
                        <td class="mono">${hook.events.join(', ')}</td>
                        <td>${endpointState(hook)}</td>
                        <td>${health(hook)}</td>
                        <td>${time(hook.createdAt)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
    }
    ${
      readOnly
        ? html`<p class="note">Read-only console: endpoints cannot be changed here.</p>`
        : createForm(state, readOnly, (form) => on.create(form))
    }
    ${relaySection(state.relay, state.relayError)}
  </section>`;
}

function attemptsTable(delivery: Delivery): TemplateResult {
  if (delivery.attemptLog.length === 0) return html`<span class="note">not tried yet</span>`;
  const n = delivery.attemptLog.length;
  return html`<details>
    <summary>${n} attempt${n === 1 ? '' : 's'}</summary>
    <table class="attempts">
      <thead>
        <tr>
          <th scope="col">When (UTC)</th>
          <th scope="col">Status code</th>
          <th scope="col" class="num">Latency</th>
          <th scope="col">Response / error</th>
        </tr>
      </thead>
      <tbody>
        ${delivery.attemptLog.map(
          (attempt) =>
            html`<tr>
              <td>${time(attempt.attemptedAt)}</td>
              <td>${attempt.statusCode ?? '—'}</td>
              <td class="num">${ms(attempt.latencyMs)}</td>
              <td>
                ${attempt.error === null ? nothing : html`<span class="error">${attempt.error}</span>`}
                ${
                  attempt.responseExcerpt === null || attempt.responseExcerpt === ''
                    ? nothing
                    : html`<pre>${attempt.responseExcerpt}</pre>`
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </details>`;
}

function deliveriesTable(
  deliveries: Delivery[],
  actions: boolean,
  resend: (delivery: Delivery) => void,
  busy: boolean,
): TemplateResult {
  if (deliveries.length === 0) return html`<p>No delivery yet.</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="Deliveries table">
    <table class="deliveries">
      <thead>
        <tr>
          <th scope="col">Created (UTC)</th>
          <th scope="col">Event</th>
          <th scope="col">Status</th>
          <th scope="col" class="num">Attempts</th>
          <th scope="col">Next attempt (UTC)</th>
          <th scope="col">Last result</th>
          <th scope="col">Attempt log</th>
          ${actions ? html`<th scope="col">Action</th>` : nothing}
        </tr>
      </thead>
      <tbody>
        ${repeat(
          deliveries,
          (d) => d.id,
          (d) =>
            html`<tr data-delivery=${d.id}>
              <td>${time(d.createdAt)}</td>
              <td>
                <span class="mono">${d.eventType}</span><br /><small class="mono"
                  >${d.eventId}</small
                >
              </td>
              <td>${statusBadge(d.status)}</td>
              <td class="num">${d.attempts}</td>
              <td>${time(d.nextAttemptAt)}</td>
              <td>
                ${d.lastStatusCode === null ? nothing : html`HTTP ${d.lastStatusCode}`}
                ${d.lastError === null ? nothing : html`<span class="error">${d.lastError}</span>`}
                ${d.lastStatusCode === null && d.lastError === null ? '—' : nothing}
              </td>
              <td>${attemptsTable(d)}</td>
              ${
                actions
                  ? html`<td>
                      <button
                        type="button"
                        class="secondary"
                        ?disabled=${busy}
                        @click=${() => resend(d)}
                      >
                        Re-send
                      </button>
                    </td>`
                  : nothing
              }
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export function webhookDetailView(
  state: WebhookDetailState,
  readOnly: boolean,
  on: WebhookDetailHandlers,
): TemplateResult {
  const crumbs = html`<p class="crumbs">
    <a href="#/webhooks">Webhooks</a> / <span class="mono">${state.id}</span>
  </p>`;
  const hook = state.webhook;
  if (hook === undefined) {
    return html`<section aria-labelledby="webhook-title">
      ${crumbs}
      <h1 id="webhook-title">Webhook endpoint</h1>
      ${notice(state.message)}
      ${
        state.error === undefined
          ? html`<p aria-busy="true">Loading…</p>`
          : html`<p class="error" role="alert">${state.error}</p>
              <p><a href="#/webhooks">Back to the endpoints</a></p>`
      }
    </section>`;
  }
  const sending = state.deliveriesEnabled !== false;
  return html`<section aria-labelledby="webhook-title">
    ${crumbs}
    <h1 id="webhook-title">Webhook endpoint ${endpointState(hook)}</h1>
    <p class="note">
      Deliveries refresh every 5 s while this page is visible. ${refreshed(state.refreshedAt)}
    </p>
    ${offNotice(state.deliveriesEnabled)} ${secretPanel(state.secret, () => on.dismissSecret())}
    ${notice(state.message)}
    ${state.error === undefined ? nothing : html`<p class="error" role="alert">${state.error}</p>`}
    <dl class="facts">
      <div class="wide">
        <dt>URL</dt>
        <dd class="mono url">${hook.url}</dd>
      </div>
      <div class="wide">
        <dt>Events</dt>
        <dd class="mono">${hook.events.join(', ')}</dd>
      </div>
      ${
        hook.description === null
          ? nothing
          : html`<div class="wide">
              <dt>Description</dt>
              <dd>${hook.description}</dd>
            </div>`
      }
      <div>
        <dt>State</dt>
        <dd>
          ${hook.enabled ? 'enabled' : `disabled: ${hook.disabledReason ?? 'no reason given'}`}
        </dd>
      </div>
      <div>
        <dt>Health</dt>
        <dd>${health(hook)}</dd>
      </div>
      <div>
        <dt>Registered</dt>
        <dd>${time(hook.createdAt)}</dd>
      </div>
      <div>
        <dt>Changed</dt>
        <dd>${time(hook.updatedAt)}</dd>
      </div>
    </dl>
    ${
      readOnly
        ? html`<p class="note">Read-only console: actions are not available.</p>`
        : html`<div class="actions buttons">
              ${
                hook.enabled
                  ? html`<button
                      type="button"
                      class="secondary"
                      ?disabled=${state.busy}
                      @click=${() => on.setEnabled(false)}
                    >
                      Disable
                    </button>`
                  : html`<button
                      type="button"
                      ?disabled=${state.busy}
                      @click=${() => on.setEnabled(true)}
                    >
                      Enable
                    </button>`
              }
              <button
                type="button"
                class="secondary"
                ?disabled=${state.busy || !sending}
                @click=${() => on.sendTest()}
              >
                Send test event
              </button>
              <button
                type="button"
                class="secondary"
                ?disabled=${state.busy}
                @click=${() => on.rotate()}
              >
                Rotate secret
              </button>
              <button
                type="button"
                class="danger"
                ?disabled=${state.busy}
                @click=${() => on.askDelete(true)}
              >
                Delete…
              </button>
            </div>
            ${
              state.confirmDelete
                ? html`<div class="action-form" role="group" aria-labelledby="delete-title">
                    <h2 id="delete-title">Delete this endpoint?</h2>
                    <p>
                      <span class="mono">${hook.url}</span> and all its deliveries are removed; no
                      further event is sent to it. This cannot be undone.
                    </p>
                    <div class="buttons">
                      <button
                        type="button"
                        class="danger"
                        ?disabled=${state.busy}
                        @click=${() => on.remove()}
                      >
                        Confirm: delete endpoint
                      </button>
                      <button type="button" class="secondary" @click=${() => on.askDelete(false)}>
                        Cancel
                      </button>
                    </div>
                  </div>`
                : nothing
            }`
    }

    <h2>Recent deliveries</h2>
    <div class="buttons deliveries-actions">
      <button type="button" class="secondary" @click=${() => on.refresh()}>Refresh</button>
      ${
        readOnly
          ? nothing
          : html`<button
              type="button"
              class="secondary"
              ?disabled=${state.busy || !sending}
              @click=${() => on.resendFailed()}
            >
              Re-send all failed
            </button>`
      }
    </div>
    ${
      state.deliveries === undefined
        ? html`<p aria-busy="true">Loading…</p>`
        : deliveriesTable(state.deliveries, !readOnly && sending, (d) => on.resend(d), state.busy)
    }
  </section>`;
}
