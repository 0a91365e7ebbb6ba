import { html, nothing, type TemplateResult } from 'lit';
import type { SagaPage } from '../api';
import { href, money, statusBadge, time } from '../format';

/** The filters the list keeps in the URL (the hash's query), so a view can be shared. */
export const FILTERS = [
  'status',
  'pattern',
  'userId',
  'itemId',
  'dateFrom',
  'dateTo',
  'transactionId',
  'idempotencyKey',
  'cursor',
] as const;

const STATUSES: [string, string][] = [
  ['', 'any'],
  ['pending', 'pending'],
  ['in_progress', 'in progress'],
  ['completed', 'completed'],
  ['compensating', 'compensating'],
  ['compensated', 'compensated'],
  ['failed', 'failed'],
  ['stuck', 'stuck (past its lease)'],
  ['compensation_failed', 'failed: compensation gave up'],
];

export interface ListState {
  query: URLSearchParams;
  page?: SagaPage;
  error?: string;
}

/** The API's query from the URL's: the date-time inputs hold UTC without the zone. */
export function apiQuery(query: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  for (const name of FILTERS) {
    const value = query.get(name)?.trim();
    if (value === undefined || value === '') continue;
    const isTime = name === 'dateFrom' || name === 'dateTo';
    out.set(name, isTime && /T\d{2}:\d{2}(:\d{2})?$/.test(value) ? `${value}Z` : value);
  }
  out.set('limit', '20');
  return out;
}

function field(
  query: URLSearchParams,
  name: string,
  label: string,
  type = 'text',
  placeholder = '',
): TemplateResult {
  return html`<label
    >${label}
    <input
      name=${name}
      type=${type}
      .value=${query.get(name) ?? ''}
      placeholder=${placeholder}
      autocomplete="off"
      step=${type === 'datetime-local' ? '1' : nothing}
  /></label>`;
}

export function listView(state: ListState, apply: (form: HTMLFormElement) => void): TemplateResult {
  const { query, page } = state;
  const selected = query.get('status') ?? '';
  const pattern = query.get('pattern') ?? '';
  const withoutCursor = new URLSearchParams(query);
  withoutCursor.delete('cursor');
  const onSubmit = (event: SubmitEvent) => {
    event.preventDefault();
    apply(event.target as HTMLFormElement);
  };
  return html`<section aria-labelledby="sagas-title">
    <h1 id="sagas-title">Sagas</h1>
    <form class="filters" role="search" aria-label="Filter sagas" @submit=${onSubmit}>
      <label
        >Status
        <select name="status">
          ${STATUSES.map(
            ([value, label]) =>
              html`<option value=${value} ?selected=${value === selected}>${label}</option>`,
          )}
        </select></label
      >
      <label
        >Pattern
        <select name="pattern">
          ${['', 'orchestration', 'choreography'].map(
            (value) =>
              html`<option value=${value} ?selected=${value === pattern}>
                ${value === '' ? 'any' : value}
              </option>`,
          )}
        </select></label
      >
      ${field(query, 'userId', 'User', 'text', 'user-123')}
      ${field(query, 'itemId', 'Item', 'text', 'item-sword')}
      ${field(query, 'dateFrom', 'From (UTC)', 'datetime-local')}
      ${field(query, 'dateTo', 'To (UTC)', 'datetime-local')}
      ${field(query, 'transactionId', 'Transaction id', 'text', 'TXN_…')}
      ${field(query, 'idempotencyKey', 'Idempotency key')}
      <div class="buttons">
        <button type="submit">Apply filters</button>
        <a class="button secondary" href="#/sagas">Clear</a>
      </div>
    </form>
    ${
      state.error === undefined
        ? nothing
        : html`<p class="error" role="alert">The filters were refused: ${state.error}</p>`
    }
    ${
      page === undefined
        ? nothing
        : html`<p class="count" aria-live="polite">
              ${
                page.totalEstimated
                  ? `about ${page.total.toLocaleString('en')} sagas match`
                  : `${page.total} saga${page.total === 1 ? '' : 's'} match${page.total === 1 ? 'es' : ''}`
              }
              ${query.has('cursor') ? html`(an older page)` : nothing}
            </p>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Sagas table">
              <table class="sagas">
                <thead>
                  <tr>
                    <th scope="col">Started (UTC)</th>
                    <th scope="col">Transaction</th>
                    <th scope="col">Status</th>
                    <th scope="col">Pattern</th>
                    <th scope="col">User</th>
                    <th scope="col">Item × qty</th>
                    <th scope="col" class="num">Total</th>
                    <th scope="col">Error</th>
                  </tr>
                </thead>
                <tbody>
                  ${
                    page.data.length === 0
                      ? html`<tr>
                          <td colspan="8">No saga matches these filters.</td>
                        </tr>`
                      : page.data.map(
                          (s) =>
                            html`<tr>
                              <td>${time(s.createdAt)}</td>
                              <td>
                                <a class="mono" href=${href(`/saga/${s.transactionId}`)}
                                  >${s.transactionId}</a
                                >
                              </td>
                              <td>${statusBadge(s.status)}</td>
                              <td>${s.pattern}</td>
                              <td>${s.userId}</td>
                              <td>${s.itemId} × ${s.quantity}</td>
                              <td class="num">${money(s.price)}</td>
                              <td>${s.error === null ? '' : s.error.code}</td>
                            </tr>`,
                        )
                  }
                </tbody>
              </table>
            </div>
            <nav class="pager" aria-label="Pages">
              ${
                query.has('cursor')
                  ? html`<a class="button secondary" href=${href('/sagas', withoutCursor)}
                      >Newest</a
                    >`
                  : nothing
              }
              ${
                page.nextCursor === null
                  ? nothing
                  : html`<a
                      class="button secondary"
                      href=${href(
                        '/sagas',
                        new URLSearchParams([...withoutCursor, ['cursor', page.nextCursor]]),
                      )}
                      >Older</a
                    >`
              }
            </nav>`
    }
  </section>`;
}
