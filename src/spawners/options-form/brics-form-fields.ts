/**
 * The BriCS spawn form written as `form_fields:`, ready to use and to copy:
 * the project (a select of the user's projects auth state, required; the Slurm
 * back-end's `system_user_name: "{{ auth_state[brics_project].username }}"`
 * reads it), the runtime (1, 2, 4 or 8 hours), the number of GPUs (1–4), and
 * free-text partition and (optional) reservation, both limited to the
 * characters Slurm names use.
 *
 * As YAML (docs/spawn-form.md shows the same; a unit test keeps them equal):
 *
 * ```yaml
 * form_fields:
 *   - name: brics_project
 *     label: Project
 *     type: select
 *     choices_from: auth_state_keys
 *     required: true
 *   - name: runtime
 *     label: Runtime
 *     type: select
 *     default: '01:00:00'
 *     choices:
 *       - {value: '01:00:00', label: 1 hour}
 *       - {value: '02:00:00', label: 2 hours}
 *       - {value: '04:00:00', label: 4 hours}
 *       - {value: '08:00:00', label: 8 hours}
 *   - {name: ngpus, label: GPUs, type: number, min: 1, max: 4, default: 1}
 *   - name: partition
 *     label: Partition
 *     type: text
 *     pattern: '^[A-Za-z0-9_\-]{1,64}$'
 *     max_length: 64
 *   - name: reservation
 *     label: Reservation
 *     type: text
 *     pattern: '^[A-Za-z0-9_\-]{1,64}$'
 *     max_length: 64
 *     help: Leave empty unless you were given a reservation.
 * ```
 */
import type { FormFieldInput } from './options-form.js';

/** The BriCS form (see this file's comment), as `OptionsForm` takes it. */
export const BRICS_FORM_FIELDS: readonly FormFieldInput[] = [
  { name: 'brics_project', label: 'Project', type: 'select', choices_from: 'auth_state_keys', required: true },
  {
    name: 'runtime',
    label: 'Runtime',
    type: 'select',
    default: '01:00:00',
    choices: [
      { value: '01:00:00', label: '1 hour' },
      { value: '02:00:00', label: '2 hours' },
      { value: '04:00:00', label: '4 hours' },
      { value: '08:00:00', label: '8 hours' },
    ],
  },
  { name: 'ngpus', label: 'GPUs', type: 'number', min: 1, max: 4, default: 1 },
  { name: 'partition', label: 'Partition', type: 'text', pattern: '^[A-Za-z0-9_\\-]{1,64}$', max_length: 64 },
  { name: 'reservation', label: 'Reservation', type: 'text', pattern: '^[A-Za-z0-9_\\-]{1,64}$', max_length: 64, help: 'Leave empty unless you were given a reservation.' },
];
