import { html, nothing, type TemplateResult } from 'lit';
import type { AuditEntry } from '../api';
import { auditTable } from './detail';

export interface AuditState {
  entries: AuditEntry[];
  nextBefore: string | null;
  error?: string;
  loaded: boolean;
}

export function auditView(state: AuditState, older: () => void): TemplateResult {
  return html`<section aria-labelledby="audit-title">
    <h1 id="audit-title">Audit log</h1>
    <p class="note">Every action taken from the console or the admin API, newest first.</p>
    ${state.error === undefined ? nothing : html`<p class="error" role="alert">${state.error}</p>`}
    ${state.loaded ? auditTable(state.entries) : html`<p aria-busy="true">Loading…</p>`}
    ${
      state.nextBefore === null
        ? nothing
        : html`<nav class="pager" aria-label="Pages">
            <button type="button" class="secondary" @click=${older}>Older entries</button>
          </nav>`
    }
  </section>`;
}
