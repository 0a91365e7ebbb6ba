import { html, nothing, render, type TemplateResult } from 'lit';
import {
  api,
  ApiError,
  storedToken,
  storeToken,
  type DefinitionRef,
  type Delivery,
  type Session,
} from './api';
import './styles.css';
import { auditView, type AuditState } from './views/audit';
import { detailView, type DetailState } from './views/detail';
import { apiQuery, FILTERS, listView, type ListState } from './views/list';
import { overviewView, type OverviewState } from './views/overview';
import { versionsView, type VersionsState } from './views/versions';
import {
  webhookDetailView,
  webhooksView,
  type WebhookDetailState,
  type Notice,
  type WebhooksState,
} from './views/webhooks';

/** Never faster than this, and only while the page is visible. */
const POLL_MS = 5000;

const root = document.getElementById('app') as HTMLElement;
// The static "Loading" text goes: lit renders after what it did not render itself.
root.replaceChildren();

let session: Session | undefined;
let loginError: string | undefined;
let list: ListState | undefined;
let detail: DetailState | undefined;
let overview: OverviewState = {};
const versions: VersionsState = { busy: false };
let audit: AuditState = { entries: [], nextBefore: null, loaded: false };
let webhooks: WebhooksState = { busy: false };
let webhook: WebhookDetailState | undefined;
/** A message for the next page shown (the list, after a deletion). */
let flash: Notice | undefined;
let pollTimer: number | undefined;
let lastPoll = 0;

type Route =
  | { name: 'sagas'; query: URLSearchParams }
  | { name: 'saga'; id: string }
  | { name: 'overview' }
  | { name: 'audit' }
  | { name: 'webhooks' }
  | { name: 'webhook'; id: string };

function route(): Route {
  const hash = location.hash.replace(/^#/, '');
  const [path, search] = hash.split('?', 2) as [string, string | undefined];
  if (path.startsWith('/saga/')) return { name: 'saga', id: decodeURIComponent(path.slice(6)) };
  if (path === '/overview') return { name: 'overview' };
  if (path === '/audit') return { name: 'audit' };
  if (path === '/webhooks') return { name: 'webhooks' };
  if (path.startsWith('/webhook/')) {
    return { name: 'webhook', id: decodeURIComponent(path.slice(9)) };
  }
  return { name: 'sagas', query: new URLSearchParams(search ?? '') };
}

function failure(error: unknown): string {
  if (error instanceof ApiError && error.status === 401) {
    signOut('The token was refused; log in again.');
    return 'Signed out.';
  }
  if (error instanceof ApiError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function signOut(message?: string): void {
  storeToken(null);
  session = undefined;
  loginError = message;
  stopPolling();
  draw();
}

async function logIn(token: string): Promise<void> {
  try {
    session = await api.session(token);
    storeToken(token);
    loginError = undefined;
    await show();
  } catch (error) {
    session = undefined;
    storeToken(null);
    loginError =
      error instanceof ApiError && error.status === 401
        ? 'This token is not valid.'
        : `The service could not be reached: ${error instanceof Error ? error.message : String(error)}`;
    draw();
    document.querySelector<HTMLInputElement>('#token')?.focus();
  }
}

function loginView(): TemplateResult {
  const onSubmit = (event: SubmitEvent) => {
    event.preventDefault();
    const value = new FormData(event.target as HTMLFormElement).get('token');
    void logIn(typeof value === 'string' ? value.trim() : '');
  };
  return html`<main class="login" id="main">
    <form @submit=${onSubmit} aria-labelledby="login-title">
      <h1 id="login-title">Saga console</h1>
      <p>Sign in with an admin token. It is kept for this tab only.</p>
      <label
        >Admin token
        <input id="token" name="token" type="password" required autocomplete="off" />
      </label>
      ${loginError === undefined ? nothing : html`<p class="error" role="alert">${loginError}</p>`}
      <button type="submit">Sign in</button>
    </form>
  </main>`;
}

function nav(current: Route['name']): TemplateResult {
  const link = (name: Route['name'], path: string, label: string) =>
    html`<a href=${path} aria-current=${current === name ? 'page' : 'false'}>${label}</a>`;
  return html`<header class="top">
    <a class="skip" href="#main">Skip to content</a>
    <span class="brand">Saga console</span>
    <nav aria-label="Console">
      ${link('sagas', '#/sagas', 'Sagas')} ${link('overview', '#/overview', 'Overview')}
      ${link('audit', '#/audit', 'Audit log')} ${link('webhooks', '#/webhooks', 'Webhooks')}
    </nav>
    <span class="who">
      ${session?.name}
      ${session?.readOnly ? html`<span class="badge readonly">read-only</span>` : nothing}
    </span>
    <button type="button" class="secondary" @click=${() => signOut()}>Sign out</button>
  </header>`;
}

function page(): TemplateResult {
  const current = route();
  let body: TemplateResult;
  switch (current.name) {
    case 'sagas':
      body =
        list === undefined
          ? html`<p aria-busy="true">Loading…</p>`
          : listView(list, (form) => {
              const data = new FormData(form);
              const query = new URLSearchParams();
              for (const name of FILTERS) {
                const value = data.get(name);
                if (typeof value === 'string' && value.trim() !== '') query.set(name, value.trim());
              }
              location.hash = `#/sagas${query.toString() === '' ? '' : `?${query.toString()}`}`;
            });
      break;
    case 'saga':
      body =
        detail === undefined
          ? html`<p aria-busy="true">Loading…</p>`
          : detailView(detail, session?.readOnly ?? true, {
              openAction: () => {
                if (detail === undefined) return;
                detail.actionOpen = true;
                draw();
                document.querySelector<HTMLTextAreaElement>('textarea[name=reason]')?.focus();
              },
              closeAction: () => {
                if (detail === undefined) return;
                detail.actionOpen = false;
                draw();
              },
              submitAction: (reason) => void act(reason),
            });
      break;
    case 'overview':
      body = html`${overviewView(overview)}
      ${versionsView(versions, session?.readOnly ?? true, (from, form) => void moveVersion(from, form))}`;
      break;
    case 'audit':
      body = auditView(audit, () => void loadAudit(true));
      break;
    case 'webhooks':
      body = webhooksView(webhooks, session?.readOnly ?? true, {
        create: (form) => void createWebhook(form),
        dismissSecret: () => {
          webhooks.secret = undefined;
          draw();
        },
      });
      break;
    case 'webhook':
      body =
        webhook === undefined
          ? html`<p aria-busy="true">Loading…</p>`
          : webhookDetailView(webhook, session?.readOnly ?? true, webhookHandlers(webhook));
      break;
  }
  return html`${nav(current.name)}
    <main id="main" tabindex="-1">${body}</main>`;
}

function draw(): void {
  render(session === undefined ? loginView() : page(), root);
}

async function act(reason: string): Promise<void> {
  const state = detail;
  if (state === undefined) return;
  state.busy = true;
  draw();
  try {
    const result = await api.compensate(state.id, reason);
    state.actionMessage = {
      ok: result.success,
      text: `${result.message} (audit entry ${result.audit.id}, by ${result.audit.actor}).`,
    };
    state.actionOpen = false;
  } catch (error) {
    state.actionMessage = { ok: false, text: `Refused: ${failure(error)}` };
  }
  state.busy = false;
  try {
    state.detail = await api.saga(state.id);
  } catch (error) {
    state.error = failure(error);
  }
  if (detail === state) draw();
}

async function loadAudit(older: boolean): Promise<void> {
  try {
    const next = await api.audit(older ? (audit.nextBefore ?? undefined) : undefined);
    audit = {
      entries: older ? [...audit.entries, ...next.data] : next.data,
      nextBefore: next.nextBefore,
      loaded: true,
    };
  } catch (error) {
    audit = { ...audit, loaded: true, error: failure(error) };
  }
  if (route().name === 'audit') draw();
}

async function pollOverview(): Promise<void> {
  lastPoll = Date.now();
  const [figures, counted] = await Promise.allSettled([api.overview(), api.sagaVersions()]);
  if (figures.status === 'fulfilled') {
    overview = { overview: figures.value, refreshedAt: new Date() };
  } else {
    overview = { ...overview, error: failure(figures.reason) };
  }
  if (counted.status === 'fulfilled') {
    versions.versions = counted.value;
    versions.error = undefined;
  } else {
    versions.error = `The definition versions could not be read: ${failure(counted.reason)}`;
  }
  if (route().name === 'overview' && session !== undefined) draw();
}

async function moveVersion(from: DefinitionRef, form: HTMLFormElement): Promise<void> {
  const data = new FormData(form);
  const text = (field: string) => {
    const value = data.get(field);
    return typeof value === 'string' ? value.trim() : '';
  };
  const [name, version] = text('to').split('@');
  const reason = text('reason');
  versions.busy = true;
  versions.message = undefined;
  draw();
  try {
    const result = await api.moveVersion({
      from: { name: from.name, version: from.version },
      to: { name: name ?? '', version: Number(version) },
      reason,
    });
    versions.message = {
      ok: true,
      text: `${result.message} (audit entry ${result.audit.id}, by ${result.audit.actor}).`,
    };
    form.reset();
  } catch (error) {
    versions.message = { ok: false, text: `Refused: ${failure(error)}` };
  }
  versions.busy = false;
  await pollOverview();
}

/** The endpoints and the relay, read side by side: one failing does not hide the other. */
async function loadWebhooks(): Promise<void> {
  lastPoll = Date.now();
  const state = webhooks;
  const [list, relay] = await Promise.allSettled([api.webhooks(), api.relay()]);
  if (list.status === 'fulfilled') {
    state.list = list.value;
    state.error = undefined;
  } else {
    state.error = failure(list.reason);
  }
  if (relay.status === 'fulfilled') {
    state.relay = relay.value;
    state.relayError = undefined;
  } else {
    state.relayError = `The relay's state could not be read: ${failure(relay.reason)}`;
  }
  state.refreshedAt = new Date();
  if (webhooks === state && route().name === 'webhooks' && session !== undefined) draw();
}

async function loadWebhook(): Promise<void> {
  lastPoll = Date.now();
  const state = webhook;
  if (state === undefined) return;
  try {
    const [hook, deliveries, list] = await Promise.all([
      api.webhook(state.id),
      api.deliveries(state.id),
      api.webhooks(),
    ]);
    state.webhook = hook;
    state.deliveries = deliveries.deliveries;
    state.deliveriesEnabled = list.enabled;
    state.error = undefined;
    state.refreshedAt = new Date();
  } catch (error) {
    state.error = failure(error);
  }
  if (webhook === state && session !== undefined) draw();
}

/** What the route polls, if anything: only while the page is visible. */
async function poll(): Promise<void> {
  if (document.visibilityState !== 'visible' || session === undefined) return;
  switch (route().name) {
    case 'overview':
      return pollOverview();
    case 'webhooks':
      return loadWebhooks();
    case 'webhook':
      return loadWebhook();
    case 'sagas':
    case 'saga':
    case 'audit':
      return;
  }
}

function startPolling(): void {
  pollTimer = window.setInterval(() => void poll(), POLL_MS);
}

async function createWebhook(form: HTMLFormElement): Promise<void> {
  const state = webhooks;
  const data = new FormData(form);
  const text = (name: string) => {
    const value = data.get(name);
    return typeof value === 'string' ? value.trim() : '';
  };
  const url = text('url');
  const events = data.getAll('events').filter((value) => typeof value === 'string');
  const description = text('description');
  if (events.length === 0) {
    state.message = { ok: false, text: 'Choose at least one event type.' };
    return draw();
  }
  state.busy = true;
  state.message = undefined;
  draw();
  try {
    const created = await api.createWebhook({
      url,
      events,
      ...(description === '' ? {} : { description }),
    });
    state.secret = {
      webhookId: created.id,
      url: created.url,
      secret: created.secret,
      rotated: false,
    };
    state.message = { ok: true, text: `Endpoint registered for ${created.events.join(', ')}.` };
    form.reset();
  } catch (error) {
    state.message = { ok: false, text: `Not registered: ${failure(error)}` };
  }
  state.busy = false;
  await loadWebhooks();
  draw();
}

/** Runs an endpoint action, says how it went, then reads the endpoint and its deliveries again. */
async function webhookAction(state: WebhookDetailState, run: () => Promise<string>): Promise<void> {
  state.busy = true;
  state.message = undefined;
  draw();
  try {
    state.message = { ok: true, text: await run() };
  } catch (error) {
    state.message = { ok: false, text: `Refused: ${failure(error)}` };
  }
  state.busy = false;
  await loadWebhook();
  draw();
}

function webhookHandlers(state: WebhookDetailState) {
  return {
    setEnabled: (enabled: boolean) =>
      void webhookAction(state, async () => {
        await api.updateWebhook(state.id, { enabled });
        return enabled ? 'Endpoint enabled; its failures are forgotten.' : 'Endpoint disabled.';
      }),
    sendTest: () =>
      void webhookAction(state, async () => {
        const sent = await api.testWebhook(state.id);
        return `Test event ${sent.eventId} queued.`;
      }),
    rotate: () =>
      void webhookAction(state, async () => {
        const rotated = await api.rotateSecret(state.id);
        state.secret = {
          webhookId: rotated.id,
          url: rotated.url,
          secret: rotated.secret,
          rotated: true,
        };
        return 'Secret rotated: deliveries are signed with the new one from now on.';
      }),
    askDelete: (confirm: boolean) => {
      state.confirmDelete = confirm;
      draw();
    },
    remove: () => void removeWebhook(state),
    resend: (delivery: Delivery) =>
      void webhookAction(state, async () => {
        await api.resend(delivery.id);
        return `Delivery of ${delivery.eventType} ${delivery.eventId} queued again.`;
      }),
    resendFailed: () =>
      void webhookAction(state, async () => {
        const { resent } = await api.resendFailed(state.id);
        return resent === 0
          ? 'No failed delivery to re-send.'
          : `${resent} failed deliver${resent === 1 ? 'y' : 'ies'} queued again.`;
      }),
    refresh: () => void loadWebhook(),
    dismissSecret: () => {
      state.secret = undefined;
      draw();
    },
  };
}

async function removeWebhook(state: WebhookDetailState): Promise<void> {
  state.busy = true;
  draw();
  try {
    await api.deleteWebhook(state.id);
    flash = { ok: true, text: `Endpoint ${state.webhook?.url ?? state.id} deleted.` };
    location.hash = '#/webhooks';
  } catch (error) {
    state.busy = false;
    state.confirmDelete = false;
    state.message = { ok: false, text: `Refused: ${failure(error)}` };
    draw();
  }
}

function stopPolling(): void {
  window.clearInterval(pollTimer);
  pollTimer = undefined;
}

/** Loads what the current route shows, then draws it. */
async function show(): Promise<void> {
  if (session === undefined) return draw();
  const current = route();
  stopPolling();
  switch (current.name) {
    case 'sagas':
      list = undefined;
      draw();
      try {
        list = { query: current.query, page: await api.sagas(apiQuery(current.query)) };
      } catch (error) {
        list = { query: current.query, error: failure(error) };
      }
      break;
    case 'saga':
      detail = { id: current.id, actionOpen: false, busy: false };
      draw();
      try {
        detail.detail = await api.saga(current.id);
      } catch (error) {
        detail.error = failure(error);
      }
      break;
    case 'overview':
      // A move's outcome is said once, on the page where it was made.
      versions.message = undefined;
      await pollOverview();
      startPolling();
      break;
    case 'audit':
      audit = { entries: [], nextBefore: null, loaded: false };
      draw();
      await loadAudit(false);
      break;
    case 'webhooks':
      // What the page before left to say (a deletion) is said once.
      webhooks = { busy: false, message: flash };
      flash = undefined;
      draw();
      await loadWebhooks();
      startPolling();
      break;
    case 'webhook':
      webhook = { id: current.id, confirmDelete: false, busy: false };
      draw();
      await loadWebhook();
      startPolling();
      break;
  }
  if (session !== undefined) draw();
}

window.addEventListener('hashchange', () => {
  void show().then(() => document.getElementById('main')?.focus());
});
document.addEventListener('visibilitychange', () => {
  // Back in view: refresh now if the last refresh is older than the polling period.
  if (document.visibilityState === 'visible' && Date.now() - lastPoll >= POLL_MS) void poll();
});

async function start(): Promise<void> {
  const token = storedToken();
  if (token === null) return draw();
  await logIn(token);
}

void start();
