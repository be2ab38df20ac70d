/**
 * The HTML of the FirecREST spawn form, from values already fetched and
 * chosen (pure). No ids, so the forms of several back-ends (several systems)
 * can share the spawn page; selects rather than radio buttons, since radio
 * buttons of one name form one group across the whole page. Every text is
 * escaped, names from FirecREST included.
 */
import { escapeHtml as e } from '../../lib/html-escape.js';
import { CUSTOM_ENVIRONMENT } from './firecrest-form-rules.js';
import { patternAttr } from '../options-form/render-field.js';

/** One choice of a select: `unusable` says why it is shown but cannot be picked. */
export interface FormViewChoice {
  value: string;
  label: string;
  unusable?: string;
}

/** What the form shows, every value already checked (undefined: nothing preselected). */
export interface FirecrestFormView {
  /** The FirecREST system, shown in labels. */
  system: string;
  accounts: FormViewChoice[];
  account: string | undefined;
  partitions: FormViewChoice[];
  partition: string | undefined;
  /** The partition a job gets when the user picks none (`req_partition`), '' for Slurm's default. */
  defaultPartition: string;
  maxNodes: number;
  nnodes: number;
  maxRuntimeHours: number;
  runtime: number;
  reservation: string | undefined;
  /** The configured environments (empty: no choice unless `custom` is set). */
  environments: { name: string; label: string; description: string }[];
  environment: string | undefined;
  /** Set when a custom environment is offered. */
  custom: { pattern: string; mount: string; value: string | undefined } | undefined;
}

/** The step of the run time field, in hours. */
const RUNTIME_STEP = 0.25;

/** Characters a reservation may hold, as a browser pattern (the hub checks it again). */
const RESERVATION_PATTERN = '[A-Za-z0-9][A-Za-z0-9._\\-]{0,127}';

function field(name: string, label: string, help: string, control: string): string {
  const helpHtml = help ? `<span class="muted form-help" style="display:block;font-weight:normal">${help}</span>` : '';
  return `<div class="form-field" data-field="${e(name)}"><label>${e(label)}${helpHtml}${control}</label></div>`;
}

function options(choices: readonly FormViewChoice[], picked: string | undefined): string {
  return choices
    .map((c) => {
      const attrs = c.unusable !== undefined ? ' disabled' : c.value === picked ? ' selected' : '';
      const label = c.unusable !== undefined ? `${c.label} (${c.unusable})` : c.label;
      return `<option value="${e(c.value)}"${attrs}>${e(label)}</option>`;
    })
    .join('');
}

function select(name: string, choices: readonly FormViewChoice[], picked: string | undefined, empty: string | undefined, emptyText: string): string {
  if (choices.length === 0 && empty === undefined) return `<select name="${e(name)}" disabled><option value="">${e(emptyText)}</option></select>`;
  const first = empty === undefined ? '' : `<option value=""${picked === undefined ? ' selected' : ''}>${e(empty)}</option>`;
  return `<select name="${e(name)}">${first}${options(choices, picked)}</select>`;
}

function environmentField(view: FirecrestFormView): string {
  const choices: FormViewChoice[] = view.environments.map((env) => ({ value: env.name, label: env.label }));
  if (view.custom) choices.push({ value: CUSTOM_ENVIRONMENT, label: 'Custom (given below)' });
  const empty = view.environments.length === 0 ? '(none)' : undefined;
  const described = view.environments.filter((env) => env.description !== '');
  // one line per description (phrasing content only: the help sits inside the label)
  const help = described.map((env) => `<span style="display:block"><strong>${e(env.label)}</strong>: ${e(env.description)}</span>`).join('');
  return field('environment', 'Environment', help, select('environment', choices, view.environment, empty, ''));
}

function customField(custom: NonNullable<FirecrestFormView['custom']>): string {
  const help =
    `Used when the environment is “Custom”: a uenv (mounted at <code>${e(custom.mount)}</code>) or a container image ` +
    `(a registry host first, e.g. <code>docker.io/library/ubuntu:24.04</code>). It must match <code>${e(custom.pattern)}</code>.`;
  const value = custom.value === undefined ? '' : ` value="${e(custom.value)}"`;
  const control = `<input type="text" name="custom_environment"${value} maxlength="256"${patternAttr(custom.pattern)} autocomplete="off">`;
  return field('custom_environment', 'Custom uenv or image', help, control);
}

/** The form's HTML fragment: account, partition, nnodes, runtime, reservation, environment, custom_environment. */
export function renderFirecrestForm(view: FirecrestFormView): string {
  const parts: string[] = [];
  parts.push(field('account', `Account on ${view.system}`, 'The project the job is charged to.', select('account', view.accounts, view.account, undefined, 'No accounts available to you')));
  const emptyPartition = view.defaultPartition ? `Default (${view.defaultPartition})` : 'Default';
  parts.push(field('partition', 'Partition', '', select('partition', view.partitions, view.partition, emptyPartition, '')));
  parts.push(
    field('nnodes', 'Nodes', `From 1 to ${view.maxNodes}.`, `<input type="number" name="nnodes" value="${view.nnodes}" min="1" max="${view.maxNodes}" step="1" required>`),
  );
  parts.push(
    field(
      'runtime',
      'Run time (hours)',
      `At most ${view.maxRuntimeHours} hours.`,
      `<input type="number" name="runtime" value="${view.runtime}" min="${RUNTIME_STEP}" max="${view.maxRuntimeHours}" step="${RUNTIME_STEP}" required>`,
    ),
  );
  const reservation = view.reservation === undefined ? '' : ` value="${e(view.reservation)}"`;
  parts.push(
    field('reservation', 'Reservation', 'Optional: a Slurm reservation you may use.', `<input type="text" name="reservation"${reservation} maxlength="128" pattern="${RESERVATION_PATTERN}" autocomplete="off">`),
  );
  if (view.environments.length > 0 || view.custom) parts.push(environmentField(view));
  if (view.custom) parts.push(customField(view.custom));
  return parts.join('\n');
}

/**
 * What stands in for the form when FirecREST could not answer: the reason,
 * escaped, and no field (a start then gets the back-end's defaults).
 */
export function renderFormUnavailable(system: string, message: string): string {
  return `<div class="error form-unavailable" role="alert">The options of ${e(system)} cannot be shown now: ${e(message)}</div>`;
}
