// "Copy as CLI command": the `gpucloud submit` line that submits the same job (docs/cli.md), every value quoted
// for a POSIX shell (shell.js), so it can be pasted into a terminal as it is.
import { quoteArg, quoteArgv } from './shell.js';

/** 5400 → "1h30m", 90 → "90s"... (what --walltime and --grace read); a fraction of a second stays in seconds. */
export function durationSpec(seconds) {
  if (!Number.isInteger(seconds) || seconds <= 0) return String(seconds);
  let s = seconds, out = '';
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (s >= size) { out += `${Math.floor(s / size)}${unit}`; s %= size; }
  }
  return s ? `${out}${s}s` : out;
}

/**
 * The command for a job's fields (a job from the API, or the submit form's): {argv, num_gpus, nodes, gpu_type,
 * walltime_s, priority, preemptible, grace_s, org, project, name, env, cwd, service_class, reservation}.
 * Defaults are left out; `withOrg`: the caller is an operator, who must name the org.
 */
export function cliCommand(job, { withOrg = false } = {}) {
  const opts = [];
  const add = (flag, value) => opts.push(value === undefined ? flag : `${flag} ${quoteArg(String(value))}`);
  if (withOrg && job.org) add('--org', job.org);
  if (job.project && job.project !== 'default') add('--project', job.project);
  if (job.name) add('--name', job.name);
  if (job.num_gpus && job.num_gpus !== 1) add('--gpus', job.num_gpus);
  if (job.nodes) add('--nodes', job.nodes);
  if (job.gpu_type) add('--gpu-type', job.gpu_type);
  if (job.walltime_s && job.walltime_s !== 3600) add('--walltime', durationSpec(job.walltime_s));
  if (job.priority && job.priority !== 'normal') add('--priority', job.priority);
  if (job.preemptible === false) add('--no-preemptible');
  if (job.grace_s != null && job.grace_s !== 10) add('--grace', durationSpec(job.grace_s));
  if (job.service_class && !['standard', 'reserved'].includes(job.service_class)) add('--service-class', job.service_class);
  if (job.reservation) add('--reservation', job.reservation);
  for (const [k, v] of Object.entries(job.env || {})) add('--env', `${k}=${v}`);
  if (job.cwd) add('--cwd', job.cwd);
  return ['gpucloud submit', ...opts, '--', quoteArgv(job.argv || [])].join(' ');
}
