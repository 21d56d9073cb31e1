// Services (GET /services): each one's class, org, replica shape and sites, its demand (a pushed value, a weekly
// schedule or a curve), the replicas it wants now and those holding GPUs — refreshed every 5 s. The org's admins
// and operators push a replica count (POST /services/NAME/scale) and delete a service after a confirmation.
// Services are created through the API or `gpucloud service create` (docs/services.md).
import { api } from './api.js';
import { h, raw } from './dom.js';
import { t } from './i18n.js';
import { confirmButton, emptyRow, errorLine, table } from './common.js';

function demandText(d) {
  if (d.replicas != null) return t('services.fixed', { n: d.replicas });
  return d.weekly ? t('services.weekly') : t('services.curve');
}

export async function servicesPage(main, ctx) {
  const manager = ctx.me.role === 'operator' || ctx.me.role === 'org-admin';
  const box = h('div', { id: 'services' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('services.title'))),
    h('p', { class: 'muted' }, t('services.help')), box);
  let busy = false;  // a scale or delete is being typed or confirmed: the poll does not redraw

  function actions(s) {
    if (!manager || (ctx.me.role === 'org-admin' && s.org !== ctx.me.org)) return h('td', {});
    const input = h('input', { type: 'number', min: '0', step: '1', value: String(s.wanted ?? 0), class: 'narrow',
      'aria-label': t('services.replicas'), 'data-scale-input': s.name, onfocus: () => { busy = true; },
      // cleared a moment after the field loses focus, so a click on Scale (which blurs it first) is not raced
      // by a redraw of the row
      onblur: () => { setTimeout(() => { if (document.activeElement !== input) busy = false; }, 300); } });
    const msg = h('span', { class: 'inline-msg' });
    const scale = h('button', { type: 'button', class: 'secondary', 'data-action': 'scale', onclick: async () => {
      msg.replaceChildren();
      try {
        await api(`/services/${encodeURIComponent(s.name)}/scale`, { method: 'POST', body: { replicas: Number(input.value) } });
        busy = false;
        await refresh();
      } catch (err) { msg.append(errorLine(err)); }
    } }, t('services.scale'));
    const del = confirmButton({ label: t('services.delete'), question: t('services.deleteQuestion', { name: s.name }),
      yes: t('services.deleteYes'), attrs: { 'data-action': 'delete' }, onToggle: (asking) => { busy = asking; },
      action: async () => {
        await api(`/services/${encodeURIComponent(s.name)}`, { method: 'DELETE' });
        busy = false;
        await refresh();
      } });
    return h('td', {}, input, ' ', scale, ' ', del, msg);
  }

  async function refresh() {
    const rows = await api('/services', { signal: ctx.signal });
    if (busy) return;  // someone began typing or confirming while the list was on its way: keep their row
    box.replaceChildren(table(['services.name', 'services.class', 'services.org', 'services.shape', 'services.sites',
      'services.lead', 'services.demand', 'services.wanted', 'services.running', manager ? 'services.actions' : null]
      .filter(Boolean),
    rows.length ? rows.map((s) => h('tr', { 'data-service-row': s.name },
      h('td', {}, raw(s.name, 'strong')), h('td', { 'data-col': 'class' }, t(`services.class.${s.class}`)),
      h('td', {}, raw(s.org)), h('td', {}, raw(`${s.gpus_per_replica} × ${s.gpu_type}`)),
      h('td', { class: 'wrap' }, raw(s.sites.join(', '))), h('td', {}, t('services.seconds', { n: s.lead_s })),
      h('td', { 'data-col': 'demand' }, demandText(s.demand)),
      h('td', { 'data-col': 'wanted' }, s.wanted == null ? '—' : String(s.wanted)),
      h('td', { 'data-col': 'running', class: s.wanted != null && s.replicas < s.wanted ? 'warn' : '' }, String(s.replicas)),
      manager ? actions(s) : null))
      : [emptyRow(manager ? 10 : 9, 'services.empty')], { id: 'services-table' }));
  }
  await refresh();
  ctx.poll(async () => { if (!busy) await refresh(); }, 5000);
}
