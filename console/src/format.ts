import { html, type TemplateResult } from 'lit';

export function time(value: string | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString().replace('T', ' ').slice(0, 23);
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value * 10) / 10} ms`;
}

export function money(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : value.toFixed(2);
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${Math.round(value * 1000) / 10} %`;
}

/** A status as text in a badge (the text carries the meaning, the colour only helps). */
export function statusBadge(status: string): TemplateResult {
  return html`<span class="badge status-${status}">${status.replace('_', ' ')}</span>`;
}

/** A link inside the console (hash routes). */
export function href(path: string, query?: URLSearchParams): string {
  const search = query === undefined || query.toString() === '' ? '' : `?${query.toString()}`;
  return `#${path}${search}`;
}
