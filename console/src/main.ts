import { html, nothing, render, type TemplateResult } from 'lit';
import { api, ApiError, storedToken, storeToken, type Session } from './api';
import './styles.css';
import { auditView, type AuditState } from './views/audit';
import { detailView, type DetailState } from './views/detail';
import { apiQuery, FILTERS, listView, type ListState } from './views/list';
import { overviewView, type OverviewState } from './views/overview';

/** Never faster than this, and only while the page is visible. */
const OVERVIEW_POLL_MS = 5000;

const root = document.getElementById('app') as HTMLElement;
// The static "Loading" text goes: lit renders after what it did not render itself.
root.replaceChildren();

let session: Session | undefined;
let loginError: string | undefined;
let list: ListState | undefined;
let detail: DetailState | undefined;
let overview: OverviewState = {};
let audit: AuditState = { entries: [], nextBefore: null, loaded: false };
let pollTimer: number | undefined;
let lastPoll = 0;

type Route =
  | { name: 'sagas'; query: URLSearchParams }
  | { name: 'saga'; id: string }
  | { name: 'overview' }
  | { name: 'audit' };

function route(): Route {
  const hash = location.hash.replace(/^#/, '');
  const [path, search] = hash.split('?', 2) as [string, string | undefined];
  if (path.startsWith('/saga/')) return { name: 'saga', id: decodeURIComponent(path.slice(6)) };
  if (path === '/overview') return { name: 'overview' };
  if (path === '/audit') return { name: 'audit' };
  return { name: 'sagas', query: new URLSearchParams(search ?? '') };
}

function failure(error: unknown): string {
  if (error instanceof ApiError && error.status === 401) {
    signOut('The token was refused; log in again.');
    return 'Signed out.';
  }
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
      ${link('audit', '#/audit', 'Audit log')}
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
      body = overviewView(overview);
      break;
    case 'audit':
      body = auditView(audit, () => void loadAudit(true));
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
  if (document.visibilityState !== 'visible' || route().name !== 'overview') return;
  lastPoll = Date.now();
  try {
    overview = { overview: await api.overview(), refreshedAt: new Date() };
  } catch (error) {
    overview = { ...overview, error: failure(error) };
  }
  if (route().name === 'overview' && session !== undefined) draw();
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
      await pollOverview();
      pollTimer = window.setInterval(() => void pollOverview(), OVERVIEW_POLL_MS);
      break;
    case 'audit':
      audit = { entries: [], nextBefore: null, loaded: false };
      draw();
      await loadAudit(false);
      break;
  }
  if (session !== undefined) draw();
}

window.addEventListener('hashchange', () => {
  void show().then(() => document.getElementById('main')?.focus());
});
document.addEventListener('visibilitychange', () => {
  // Back in view: refresh now if the last refresh is older than the polling period.
  if (document.visibilityState === 'visible' && Date.now() - lastPoll >= OVERVIEW_POLL_MS) {
    void pollOverview();
  }
});

async function start(): Promise<void> {
  const token = storedToken();
  if (token === null) return draw();
  await logIn(token);
}

void start();
