// admin.js — the administration page: who may see which section (admin: all four; lead: the canned
// answers of their teams), the teams every section names, and the sections' own modules.

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import * as audit from "./admin-audit.js";
import * as canned from "./admin-canned.js";
import * as hours from "./admin-hours.js";
import * as staff from "./admin-staff.js";
import { $, bindDialog, expired, session } from "./admin-ui.js";

const PATH = "/staff/admin";

// What every section shares: the teams ({id, name}) and what to do after a change or a lost session.
const page = {
  teams: [],
  teamName: (id) => page.teams.find((t) => t.id === id)?.name ?? id ?? "",
  expired: () => expired("admin", PATH),
  changed: () => {}, // set below when the audit log is shown
};

function show(id) {
  $(id).hidden = false;
  document.querySelector(`.sections li[data-for="${id}"]`).hidden = false;
}

async function main() {
  const me = await session("admin", PATH, (roles) => roles.includes("admin") || roles.includes("lead"));
  if (!me) return;
  for (const li of document.querySelectorAll(".sections li")) li.hidden = true;
  for (const d of document.querySelectorAll("dialog")) bindDialog(d);
  const isAdmin = me.roles.includes("admin");
  const teams = await api.get("/api/v1/staff/teams");
  page.teams = teams.ok ? teams.data.teams.map((t) => ({ id: t.id, name: t.name })) : [];
  if (teams.status === 401) return page.expired();

  const shown = [];
  if (isAdmin) {
    show("staff-section");
    shown.push(staff.start(page));
  }
  show("canned-section");
  shown.push(canned.start(page));
  if (isAdmin) {
    show("hours-section");
    show("audit-section");
    shown.push(hours.start(page));
    shown.push(audit.start(page));
    page.changed = audit.reload;
  }
  i18n.onChange(() => {
    for (const s of [staff, canned, hours, audit]) s.render?.();
  });
  await Promise.all(shown);
  document.body.dataset.ready = "true";
}

main();
