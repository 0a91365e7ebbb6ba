import { html, nothing, type TemplateResult } from 'lit';
import type { DefinitionRef, SagaVersions } from '../api';

export interface VersionsState {
  versions?: SagaVersions;
  error?: string;
  busy: boolean;
  message?: { ok: boolean; text: string };
}

const refOf = (ref: DefinitionRef): string => `${ref.name} v${ref.version}`;

/**
 * The overview's definition versions: open sagas per version, and for a version this instance
 * lacks, the audited move of its open sagas onto one it has.
 */
export function versionsView(
  state: VersionsState,
  readOnly: boolean,
  move: (from: DefinitionRef, form: HTMLFormElement) => void,
): TemplateResult {
  const v = state.versions;
  const stranded = v?.open.filter((row) => !row.registered) ?? [];
  return html`<section aria-labelledby="versions-title">
    <h2 id="versions-title">Definition versions</h2>
    ${state.error === undefined ? nothing : html`<p class="error" role="alert">${state.error}</p>`}
    ${
      v === undefined
        ? nothing
        : html`<p class="note">
              This instance drives
              ${v.registered.map(
                (d, index) =>
                  html`${index === 0 ? '' : ', '}<strong>${refOf(d)}</strong>
                    (${d.steps.map((step) => step.name).join(' → ')})${d.current ? ' — new sagas' : ''}`,
              )}.
            </p>
            <div class="table-wrap" tabindex="0" role="region" aria-label="Open sagas per version">
              <table class="versions">
                <thead>
                  <tr>
                    <th scope="col">Definition</th>
                    <th scope="col">Open sagas</th>
                    <th scope="col">Driven here</th>
                  </tr>
                </thead>
                <tbody>
                  ${
                    v.open.length === 0
                      ? html`<tr>
                          <td colspan="3">No open saga.</td>
                        </tr>`
                      : v.open.map(
                          (row) =>
                            html`<tr>
                              <td>${refOf(row)}</td>
                              <td>${row.open}</td>
                              <td>${row.registered ? 'yes' : html`<strong>no</strong>`}</td>
                            </tr>`,
                        )
                  }
                </tbody>
              </table>
            </div>
            ${stranded.map((row) => moveForm(row, v, readOnly, state.busy, move))}`
    }
    ${
      state.message === undefined
        ? nothing
        : html`<p class=${state.message.ok ? 'ok' : 'error'} role="status">
            ${state.message.text}
          </p>`
    }
  </section>`;
}

function moveForm(
  from: DefinitionRef & { open: number },
  versions: SagaVersions,
  readOnly: boolean,
  busy: boolean,
  move: (from: DefinitionRef, form: HTMLFormElement) => void,
): TemplateResult {
  const id = `move-${from.name}-${from.version}`;
  const intro = html`${from.open} open saga(s) run ${refOf(from)}, which this instance does not
  have: they wait for an instance that has it.`;
  if (readOnly) return html`<p class="note">${intro} Read-only console: no move.</p>`;
  const onSubmit = (event: SubmitEvent) => {
    event.preventDefault();
    move(from, event.target as HTMLFormElement);
  };
  return html`<form class="action-form" @submit=${onSubmit} aria-labelledby=${`${id}-title`}>
    <h3 id=${`${id}-title`}>Move the sagas of ${refOf(from)}</h3>
    <p>
      ${intro} Moving them onto a version this instance drives lets it finish them; a saga whose
      steps so far differ is refused, and then none moves. The reason is written to the audit log
      with your name.
    </p>
    <label
      >Onto
      <select name="to" required>
        ${versions.registered.map(
          (d) => html`<option value=${`${d.name}@${d.version}`}>${refOf(d)}</option>`,
        )}
      </select>
    </label>
    <label
      >Reason (required)
      <textarea name="reason" required maxlength="500" rows="2"></textarea>
    </label>
    <div class="buttons">
      <button type="submit" class="danger" ?disabled=${busy}>Move ${from.open} saga(s)</button>
    </div>
  </form>`;
}
