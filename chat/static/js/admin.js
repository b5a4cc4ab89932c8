// admin.js — the administration page: which sections a person sees follows what /staff/me says they may do
// (`can`: admin all four; a lead the canned answers of their teams; an auditor the audit log), the teams
// every section names, and the sections' own modules.

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
  const sections = ["staff_list", "canned_edit", "hours_list", "audit_read"];
  const me = await session("admin", PATH, (_roles, who) => sections.some((a) => (who.can ?? []).includes(a)));
  if (!me) return;
  for (const li of document.querySelectorAll(".sections li")) li.hidden = true;
  for (const d of document.querySelectorAll("dialog")) bindDialog(d);
  const can = (action) => (me.can ?? []).includes(action);
  const teams = await api.get("/api/v1/staff/teams");
  page.teams = teams.ok ? teams.data.teams.map((t) => ({ id: t.id, name: t.name })) : [];
  if (teams.status === 401) return page.expired();

  const shown = [];
  if (can("staff_list")) {
    show("staff-section");
    shown.push(staff.start(page));
  }
  if (can("canned_edit")) {
    show("canned-section");
    shown.push(canned.start(page));
  }
  if (can("hours_list")) {
    show("hours-section");
    shown.push(hours.start(page));
  }
  if (can("audit_read")) {
    show("audit-section");
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
