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

/** A span given in seconds, in the largest units that keep it readable (`2 h 5 min`). */
export function age(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(Math.round(seconds), 0);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
