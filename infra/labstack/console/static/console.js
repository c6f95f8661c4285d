// labstack console: hash-routed pages that poll labstack's console API every two seconds.
"use strict";

const API = "/_labstack/api/";
const POLL_MS = 2000;
const DEFAULT_WHERE = { account: "123456789012", region: "us-east-1" };
const ACCOUNT = /^[0-9]{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-[0-9]$/;

const where = { ...DEFAULT_WHERE };
let page = null;       // { generation, path, render }
let generation = 0;
let timer = null;
let lastText = null;

// ---- helpers ------------------------------------------------------------------------------
function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function apiUrl(path) {
  return API + path + (path.includes("?") ? "&" : "?") + new URLSearchParams(where).toString();
}

async function getJSON(path) {
  const response = await fetch(apiUrl(path), { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(`${body.error || response.status}: ${body.message || response.statusText}`);
  return body;
}

function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return `<time datetime="${esc(iso)}">${esc(date.toLocaleString())}</time>`;
}

function seconds(start, end) {
  if (!start) return "—";
  const ms = (end ? new Date(end) : new Date()) - new Date(start);
  return `${Math.max(0, ms / 1000).toFixed(1)} s`;
}

function short(id) {
  return esc(String(id ?? "").slice(0, 8));
}

// AWS console colours: green succeeded, blue in progress, red failed, grey stopped, amber waiting.
const STATUS = {
  succeeded: ["ok", "✓"], ready: ["pending", "…"], inprogress: ["progress", "⟳"], failed: ["fail", "✗"],
  fault: ["fail", "✗"], timedout: ["fail", "✗"], stopped: ["neutral", "■"], stopping: ["neutral", "■"],
  abandoned: ["neutral", "■"], superseded: ["neutral", "■"], cancelled: ["neutral", "■"], skipped: ["neutral", "■"],
  queued: ["pending", "…"], pending: ["pending", "…"], created: ["pending", "…"], baking: ["progress", "⟳"],
};

function tone(status) {
  return (STATUS[String(status || "").toLowerCase().replace(/[_\s]/g, "")] || ["neutral", "•"]);
}

function badge(status) {
  if (!status) return `<span class="badge s-neutral">Didn't run</span>`;
  const [cls, icon] = tone(status);
  return `<span class="badge s-${cls}"><span class="icon" aria-hidden="true">${icon}</span> ${esc(status)}</span>`;
}

function table(caption, headers, rows, empty) {
  if (!rows.length) return `<p>${esc(empty)}</p>`;
  const head = headers.map((h) => `<th scope="col">${esc(h)}</th>`).join("");
  const body = rows.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("");
  return `<table><caption>${esc(caption)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function facts(pairs) {
  return `<dl class="facts">${pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("")}</dl>`;
}

function link(section, id, text) {
  return `<a href="#/${section}/${encodeURIComponent(id)}">${esc(text ?? id)}</a>`;
}

// A stacked bar (hidden from screen readers) and a legend that says the same in words.
function split(caption, parts) {
  const bar = parts.map((p, i) => `<span class="seg-${i % 3}" data-width="${Number(p.percent) || 0}"></span>`).join("");
  const legend = parts.map((p, i) => `<li class="seg-${i % 3}">${esc(p.label)}: <strong>${esc(p.percent)} %</strong></li>`).join("");
  return `<h3>${esc(caption)}</h3><div class="split" aria-hidden="true">${bar}</div><ul class="legend">${legend}</ul>`;
}

// ---- approvals ----------------------------------------------------------------------------
function approvalForm(approval) {
  const key = esc(approval.token);
  return `<fieldset class="approval" data-pipeline="${esc(approval.pipelineName)}" data-stage="${esc(approval.stageName)}"
      data-action="${esc(approval.actionName)}" data-token="${key}">
    <legend>Review ${esc(approval.actionName)} in ${esc(approval.pipelineName)} / ${esc(approval.stageName)}</legend>
    <label for="comment-${key}">Comment (optional)</label>
    <textarea id="comment-${key}" rows="2" maxlength="512"></textarea>
    <div class="buttons">
      <button type="button" class="approve" id="approve-${key}" data-answer="Approved">Approve</button>
      <button type="button" class="reject" id="reject-${key}" data-answer="Rejected">Reject</button>
    </div>
  </fieldset>`;
}

async function answerApproval(button) {
  const form = button.closest("fieldset.approval");
  const status = button.dataset.answer;
  const body = {
    pipelineName: form.dataset.pipeline, stageName: form.dataset.stage, actionName: form.dataset.action,
    token: form.dataset.token, status, summary: form.querySelector("textarea").value.trim(),
  };
  form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  try {
    const response = await fetch(apiUrl("approvals"), {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.message || response.statusText);
    announce(`${status}: ${body.actionName} in ${body.pipelineName}. The pipeline goes on.`);
  } catch (error) {
    announce(`Could not answer the approval: ${error.message}`);
    form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
  }
  poll(true);
}

// ---- pages --------------------------------------------------------------------------------
function pipelinesPage(data) {
  const rows = data.pipelines.map((p) => {
    const latest = p.latestExecution || {};
    return [link("pipelines", p.name), esc(p.pipelineType || "V1"), badge(latest.status), when(latest.startTime),
      esc(latest.trigger ? latest.trigger.triggerType : "—")];
  });
  return table("Pipelines", ["Name", "Type", "Latest execution", "Started", "Trigger"], rows,
    "No pipelines in this account and region yet.");
}

function actionCard(stageName, pipelineName, declared, state) {
  const latest = state.latestExecution || {};
  const type = declared.actionTypeId;
  const external = latest.externalExecutionId;
  let detail = "";
  if (external && type.provider === "CodeBuild") detail = `<p>Build ${link("builds", external)}</p>`;
  else if (external && type.provider.startsWith("CodeDeploy")) detail = `<p>Deployment ${link("deployments", external)}</p>`;
  else if (external) detail = `<p>Revision <code>${esc(external)}</code></p>`;
  const waiting = type.category === "Approval" && latest.status === "InProgress" && latest.token;
  return `<li class="action">
    <h3>${esc(declared.name)}</h3>
    <p class="meta">${esc(type.category)} · ${esc(type.provider)}</p>
    <p>${badge(latest.status)}</p>
    ${latest.summary ? `<p>${esc(latest.summary)}</p>` : ""}
    ${latest.errorDetails ? `<p>Error: ${esc(latest.errorDetails.message)}</p>` : ""}
    ${detail}
    ${latest.lastStatusChange ? `<p class="meta">Changed ${when(latest.lastStatusChange)}</p>` : ""}
    ${waiting ? approvalForm({ pipelineName, stageName, actionName: declared.name, token: latest.token }) : ""}
  </li>`;
}

function pipelinePage(data) {
  const declaration = data.pipeline;
  const states = Object.fromEntries(data.state.stageStates.map((s) => [s.stageName, s]));
  const stages = declaration.stages.map((stage, index) => {
    const state = states[stage.name] || { actionStates: [] };
    const latest = state.latestExecution || {};
    const actions = Object.fromEntries((state.actionStates || []).map((a) => [a.actionName, a]));
    const orders = [...new Set(stage.actions.map((a) => a.runOrder || 1))].sort((a, b) => a - b);
    const groups = orders.map((order) => `<ul class="run-order" aria-label="Run order ${order}">${stage.actions
      .filter((a) => (a.runOrder || 1) === order)
      .map((a) => actionCard(stage.name, declaration.name, a, actions[a.name] || {})).join("")}</ul>`).join("");
    const transition = state.inboundTransitionState || { enabled: true };
    const arrow = index === 0 ? "" : `<p class="transition${transition.enabled ? "" : " disabled"}">
      <span aria-hidden="true">↓</span> Transition into ${esc(stage.name)} ${transition.enabled ? "enabled" : "disabled"}${
      transition.disabledReason ? `: ${esc(transition.disabledReason)}` : ""}</p>`;
    const inbound = state.inboundExecution ? `<p class="meta">Waiting to enter: execution ${short(state.inboundExecution.pipelineExecutionId)}</p>` : "";
    return `<li>${arrow}<section class="stage b-${tone(latest.status)[0]}" aria-labelledby="stage-${index}">
      <h2 id="stage-${index}">${esc(stage.name)} ${badge(latest.status)}</h2>
      ${latest.pipelineExecutionId ? `<p class="meta">Execution ${short(latest.pipelineExecutionId)}</p>` : ""}
      ${inbound}${groups}</section></li>`;
  }).join("");
  const history = data.executions.map((e) => [
    `<code title="${esc(e.pipelineExecutionId)}">${short(e.pipelineExecutionId)}</code>`, badge(e.status),
    esc(e.trigger ? e.trigger.triggerType : "—"),
    esc((e.sourceRevisions || []).map((r) => `${r.actionName}: ${(r.revisionId || "").slice(0, 12)}`).join(", ") || "—"),
    when(e.startTime), when(e.lastUpdateTime)]);
  return `${facts([["Type", esc(declaration.pipelineType || "V1")], ["Version", esc(declaration.version)],
    ["Execution mode", esc(declaration.executionMode || "SUPERSEDED")]])}
    <ol class="stages">${stages}</ol>
    <h2>Execution history</h2>
    ${table("Newest first", ["Execution ID", "Status", "Trigger", "Source revisions", "Started", "Last updated"],
      history, "No executions yet.")}`;
}

function buildsPage(data) {
  const rows = data.builds.map((b) => [link("builds", b.id, `${b.projectName}:${b.buildNumber ?? short(b.id.split(":")[1])}`),
    badge(b.buildStatus), esc(b.currentPhase), when(b.startTime), seconds(b.startTime, b.endTime), esc(b.initiator)]);
  return `${table("Recent builds, newest first", ["Build", "Status", "Phase", "Started", "Duration", "Started by"], rows,
    "No builds in this account and region yet.")}
    <h2>Projects</h2>${data.projects.length ? `<ul>${data.projects.map((p) => `<li>${esc(p)}</li>`).join("")}</ul>` : "<p>No projects.</p>"}`;
}

function buildPage(data) {
  const b = data.build;
  // The last phase, COMPLETED, only marks the end: it has no status or duration.
  const running = (p) => p.phaseType !== "COMPLETED" && !p.endTime;
  const phases = (b.phases || []).map((p) => [esc(p.phaseType), p.phaseStatus ? badge(p.phaseStatus) : running(p) ? badge("IN_PROGRESS") : "—",
    p.durationInSeconds !== undefined ? `${esc(p.durationInSeconds)} s` : running(p) ? seconds(p.startTime) : "—", when(p.startTime),
    esc((p.contexts || []).map((c) => c.message).filter(Boolean).join(" "))]);
  return `${facts([["Status", badge(b.buildStatus)], ["Project", esc(b.projectName)], ["Current phase", esc(b.currentPhase)],
    ["Started", when(b.startTime)], ["Duration", seconds(b.startTime, b.endTime)], ["Started by", esc(b.initiator)],
    ["Source version", esc(b.resolvedSourceVersion || b.sourceVersion)]])}
    ${table("Phases", ["Phase", "Status", "Duration", "Started", "Message"], phases, "No phases yet.")}
    <h2 id="log-heading">Log (last ${data.log.length} lines)</h2>
    <pre class="log" tabindex="0" aria-labelledby="log-heading">${esc(data.log.join("\n")) || "No log yet."}</pre>`;
}

function deploymentsPage(data) {
  const rows = data.deployments.map((d) => [link("deployments", d.deploymentId), esc(d.applicationName), esc(d.deploymentGroupName),
    esc(d.deploymentConfigName), badge(d.status), when(d.createTime), esc(d.creator)]);
  return table("Recent deployments, newest first", ["Deployment", "Application", "Group", "Config", "Status", "Created", "Creator"],
    rows, "No deployments in this account and region yet.");
}

function targetTraffic(target) {
  const ecs = target.ecsTarget;
  if (ecs && (ecs.taskSetsInfo || []).length) {
    const sets = ecs.taskSetsInfo.map((t) => ({ label: `${t.taskSetLabel || "Task set"} (${t.targetGroup ? t.targetGroup.name : t.identifer}, ${t.runningCount ?? 0}/${t.desiredCount ?? 0} tasks running, ${t.status})`, percent: t.trafficWeight ?? 0 }));
    return split("Task-set traffic weights", sets);
  }
  const fn = target.lambdaTarget && target.lambdaTarget.lambdaFunctionInfo;
  if (fn) {
    const share = Math.round((fn.targetVersionWeight || 0) * 1000) / 10;
    return split(`Alias ${fn.functionAlias} of ${fn.functionName}`, [
      { label: `Version ${fn.currentVersion} (current)`, percent: Math.round((100 - share) * 10) / 10 },
      { label: `Version ${fn.targetVersion} (target)`, percent: share }]);
  }
  return "";
}

function deploymentPage(data) {
  const d = data.deployment;
  const targets = data.targets.map((t) => {
    const detail = t.ecsTarget || t.lambdaTarget || t.instanceTarget || t.cloudFormationTarget || {};
    const events = (detail.lifecycleEvents || []).map((e) => [esc(e.lifecycleEventName), badge(e.status),
      when(e.startTime), when(e.endTime), e.startTime ? seconds(e.startTime, e.endTime) : "—",
      esc(e.diagnostics ? e.diagnostics.message : "")]);
    return `<h2>Target ${esc(detail.targetId)} ${badge(detail.status)}</h2>${targetTraffic(t)}
      ${table("Lifecycle events", ["Event", "Status", "Started", "Ended", "Duration", "Message"], events, "No lifecycle events yet.")}`;
  }).join("");
  const listeners = data.listeners.map((l) => split(`${l.role === "production" ? "Production" : "Test"} listener, port ${l.port}`,
    l.weights.map((w) => ({ label: `target group ${w.targetGroup}`, percent: w.percent })))).join("");
  const error = d.errorInformation ? `<p class="error">${esc(d.errorInformation.code)}: ${esc(d.errorInformation.message)}</p>` : "";
  return `${facts([["Status", badge(d.status)], ["Application", esc(d.applicationName)], ["Group", esc(d.deploymentGroupName)],
    ["Config", esc(d.deploymentConfigName)], ["Platform", esc(d.computePlatform)], ["Creator", esc(d.creator)],
    ["Created", when(d.createTime)], ["Completed", when(d.completeTime)],
    ["Rolled back by", d.rollbackInfo && d.rollbackInfo.rollbackDeploymentId ? link("deployments", d.rollbackInfo.rollbackDeploymentId) : ""],
    ["Rollback of", d.rollbackInfo && d.rollbackInfo.rollbackTriggeringDeploymentId ? link("deployments", d.rollbackInfo.rollbackTriggeringDeploymentId) : ""]])}
    ${error}${listeners ? `<h2>Listeners now</h2>${listeners}` : ""}${targets}`;
}

function inboxPage(data) {
  if (!data.messages.length) return "<p>No email in this account and region yet. Subscribe an email address to an SNS topic to receive here what SNS sends.</p>";
  return data.messages.map((m, i) => {
    const approval = m.approval;
    const state = approval ? (approval.pending ? approvalForm(approval) : `<p>${badge("Answered")} This approval is no longer waiting.</p>`) : "";
    return `<article class="mail" aria-labelledby="mail-${i}">
      <h2 id="mail-${i}">${esc(m.subject)}</h2>
      <p class="meta">To ${esc(m.to)} (${esc(m.protocol)}) · ${when(m.timestamp)}</p>
      ${state}
      <details${approval ? "" : " open"}><summary>Message</summary><pre>${esc(m.body)}</pre></details>
    </article>`;
  }).join("");
}

function resourcesPage(data) {
  const accounts = Object.entries(data.accounts).map(([account, a]) => {
    const rows = Object.entries(a.resources).sort().map(([service, count]) => [esc(service), esc(count)]);
    return `<section aria-labelledby="acct-${esc(account)}"><h2 id="acct-${esc(account)}">Account ${esc(account)}</h2>
      <p>${esc(a.resource_count)} resources · running: ${esc(a.builds)} builds, ${esc(a.deployments)} deployments, ${esc(a.tasks)} tasks ·
      <a href="?account=${esc(account)}&amp;region=${encodeURIComponent(where.region)}#/pipelines">Look at this account</a></p>
      ${table(`Resources of ${account}`, ["Service", "Resources"], rows, "No resources.")}</section>`;
  }).join("");
  const endpoints = (data.endpoints || []).map((e) => [esc(e.account), esc((e.loadBalancerArn || "").split("/").slice(-2, -1)[0]),
    esc(e.port), `<a href="${esc(e.url)}">${esc(e.url)}</a>`]);
  return `${facts([["labstack", esc(data.version)], ["Up for", `${esc(Math.round(data.uptime_seconds))} s`],
    ["Time scale", `${esc(data.time_scale)} lab seconds per second`]])}
    ${accounts || "<p>No account has resources yet.</p>"}
    <h2>Listener endpoints</h2>${table("Load-balancer listeners and their local URLs", ["Account", "Load balancer", "Port", "Local URL"], endpoints, "No listeners.")}`;
}

// ---- IAM: the policy stream and a role's least-privilege policy ----------------------------
const DECISIONS = { allowed: ["ok", "✓", "Allowed"], explicitDeny: ["fail", "✗", "Denied: explicit deny"],
  implicitDeny: ["fail", "✗", "Denied: no statement allows it"] };

function decision(row) {
  const [cls, icon, words] = DECISIONS[row.decision] || ["neutral", "•", row.decision];
  const reported = row.decision !== "allowed" && row.enforced === false ? " (report mode: let through)" : "";
  return `<span class="badge s-${cls}"><span class="icon" aria-hidden="true">${icon}</span> ${esc(words + reported)}</span>`;
}

// An ARN that may wrap after each colon or slash, not inside a name.
function arn(text) {
  return `<code class="arn">${esc(text).replace(/([:/])/g, "$1<wbr>")}</code>`;
}

function iamPage(data) {
  const rows = data.principals.map((p) => [link("iam", p.principal), esc(p.role || "—"), esc(p.calls),
    p.denied ? `<strong class="denied">${esc(p.denied)}</strong>${p.reported ? ` (${esc(p.reported)} let through: report mode)` : ""}` : "0",
    when(p.lastCall)]);
  return `<p>Every call an IAM user, a role session or a service assuming its role made in account ${esc(data.account)},
    decided by labstack's IAM policy evaluation. The account's root user and labstack's own bookkeeping are not evaluated.</p>
    ${table("Principals, most recent first", ["Principal", "Role", "Calls", "Denied", "Last call"], rows,
      "No IAM principal has made a call in this account yet.")}`;
}

function principalPage(data) {
  const rows = data.calls.map((c) => [`<code>${esc(c.action)}</code>`, arn(c.resource),
    decision(c), esc(c.explanation), esc(c.count), when(c.lastCall), esc(c.sources.join(", "))]);
  const shown = data.total > data.calls.length ? ` (the latest ${data.calls.length} of ${data.total})` : "";
  const advice = data.suggestion;
  const policy = advice ? `<h2 id="policy-heading">Least-privilege policy for ${esc(advice.role)}</h2>
    <p>It allows exactly what this role's sessions asked for (${esc(advice.used)} action and resource pairs, ${esc(advice.denied)}
    of them denied so far): ${esc(advice.size)} of IAM's ${esc(advice.quota)} characters. <code>labstack iam suggest
    ${esc(advice.role.split("/").pop())}</code> prints it too.</p>
    ${advice.notes.length ? `<ul class="notes">${advice.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}
    <pre class="policy" tabindex="0" aria-labelledby="policy-heading">${esc(JSON.stringify(advice.policy, null, 2))}</pre>` : "";
  return `${facts([["Principal", arn(data.principal)], ["Role", esc(data.role || "—")]])}
    ${table(`Actions used, latest first${shown}`, ["Action", "Resource", "Decision", "Why", "Calls", "Last call", "API call"], rows,
      "No calls.")}${policy}`;
}

// ---- routing and polling ------------------------------------------------------------------
const ROUTES = [
  [/^#\/pipelines\/(.+)$/, (m) => [`pipelines/${m}`, pipelinePage, `Pipeline ${m}`, "pipelines"]],
  [/^#\/pipelines$/, () => ["pipelines", pipelinesPage, "Pipelines", "pipelines"]],
  [/^#\/builds\/(.+)$/, (m) => [`builds/${m}`, buildPage, `Build ${m}`, "builds"]],
  [/^#\/builds$/, () => ["builds", buildsPage, "Builds", "builds"]],
  [/^#\/deployments\/(.+)$/, (m) => [`deployments/${m}`, deploymentPage, `Deployment ${m}`, "deployments"]],
  [/^#\/deployments$/, () => ["deployments", deploymentsPage, "Deployments", "deployments"]],
  [/^#\/inbox$/, () => ["inbox", inboxPage, "Inbox", "inbox"]],
  [/^#\/iam\/(.+)$/, (m) => [`iam/principal?principal=${m}`, principalPage, m, "iam"]],
  [/^#\/iam$/, () => ["iam", iamPage, "IAM policy stream", "iam"]],
  [/^#\/resources$/, () => ["accounts", resourcesPage, "Resources by account", "resources"]],
];

function announce(text) {
  const live = document.getElementById("live");
  live.textContent = "";
  window.setTimeout(() => { live.textContent = text; }, 50);
}

function paint(html) {
  const view = document.getElementById("view");
  const focused = document.activeElement && view.contains(document.activeElement) ? document.activeElement.id : "";
  const typed = [...view.querySelectorAll("textarea[id]")].map((t) => [t.id, t.value]);
  const log = view.querySelector("pre.log");
  const followLog = !log || log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  view.innerHTML = html;
  view.querySelectorAll("[data-width]").forEach((el) => { el.style.width = `${el.dataset.width}%`; });
  typed.forEach(([id, value]) => { const t = document.getElementById(id); if (t) t.value = value; });
  const newLog = view.querySelector("pre.log");
  if (newLog && followLog) newLog.scrollTop = newLog.scrollHeight;
  if (focused) { const again = document.getElementById(focused); if (again) again.focus(); }
}

async function poll(now) {
  window.clearTimeout(timer);
  if (!page) return;
  const mine = page.generation;
  if (now) lastText = null;
  if (!document.hidden || now) {
    try {
      const data = await getJSON(page.path);
      if (mine !== generation) return;
      const text = JSON.stringify(data);
      if (text !== lastText) { lastText = text; paint(page.render(data)); }
      document.getElementById("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (mine !== generation) return;
      lastText = null;
      paint(`<p class="error" role="alert">${esc(error.message)}</p>`);
    }
  }
  if (mine === generation) timer = window.setTimeout(() => poll(false), POLL_MS);
}

function show() {
  const hash = location.hash || "#/pipelines";
  const found = ROUTES.map(([pattern, make]) => [pattern.exec(hash), make]).find(([m]) => m);
  const [path, render, title, section] = found
    ? found[1](found[0][1] ? encodeURIComponent(decodeURIComponent(found[0][1])) : "")
    : ["pipelines", pipelinesPage, "Pipelines", "pipelines"];
  generation += 1;
  page = { generation, path, render };
  const heading = document.getElementById("title");
  heading.textContent = decodeURIComponent(title);
  document.title = `${heading.textContent} · ${where.account} · labstack console`;
  document.querySelectorAll("nav a[data-section]").forEach((a) => {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  document.getElementById("view").innerHTML = "<p>Loading…</p>";
  document.getElementById("updated").textContent = "Not updated yet";
  poll(true);
  return heading;
}

async function knownAccounts() {
  try {
    const data = await getJSON("accounts");
    const list = document.getElementById("known-accounts");
    list.innerHTML = Object.keys(data.accounts).map((a) => `<option value="${esc(a)}"></option>`).join("");
  } catch (error) {
    announce(`Could not list the accounts: ${error.message}`);
  }
}

function start() {
  const query = new URLSearchParams(location.search);
  const account = query.get("account");
  const region = query.get("region");
  if (account && ACCOUNT.test(account) && !document.getElementById("account").readOnly) where.account = account;
  if (region && REGION.test(region)) where.region = region;
  const form = document.getElementById("where");
  form.account.value = where.account;
  form.region.value = where.region;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const error = document.getElementById("where-error");
    const account = form.account.value.trim();
    const region = form.region.value.trim();
    if (!ACCOUNT.test(account)) { error.textContent = "An account is 12 digits."; form.account.focus(); return; }
    if (!REGION.test(region)) { error.textContent = "A region looks like us-east-1."; form.region.focus(); return; }
    error.textContent = "";
    where.account = account;
    where.region = region;
    history.replaceState(null, "", `?${new URLSearchParams(where)}${location.hash}`);
    show();
    announce(`Showing account ${account} in ${region}`);
  });
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-answer]");
    if (button) answerApproval(button);
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(true); });
  window.addEventListener("hashchange", () => { if (location.hash.startsWith("#/")) show().focus(); });
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("title").focus();
  });
  knownAccounts();
  show();
}

// ---- class mode: a learner signs in with their key id and secret (an HttpOnly session cookie) ----
async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-Labstack-Request": "1" },
                                       body: JSON.stringify(body) });
  return [response.ok, await response.json()];
}

function signInPage() {
  document.getElementById("title").textContent = "Sign in to this class";
  for (const selector of ["#where", "nav", "footer"]) document.querySelector(selector).style.display = "none";
  document.getElementById("view").innerHTML = `
    <p>This labstack serves a class. Sign in with the access key id and secret access key your instructor gave you.</p>
    <form id="signin" class="signin">
      <label for="key-id">Access key id</label>
      <input id="key-id" name="key" autocomplete="username" required size="24">
      <label for="secret">Secret access key</label>
      <input id="secret" name="secret" type="password" autocomplete="current-password" required size="44">
      <button type="submit">Sign in</button>
      <p id="signin-error" class="where-error" role="alert"></p>
    </form>`;
  const form = document.getElementById("signin");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [ok, body] = await post("/_labstack/signin", { accessKeyId: form.key.value.trim(), secretAccessKey: form.secret.value });
    if (ok) location.reload(); else document.getElementById("signin-error").textContent = body.message || "Sign-in failed.";
  });
}

function signedIn(who) {
  const note = document.createElement("p");
  note.className = "who";
  note.innerHTML = `${esc(who.name)} · account ${esc(who.account)} <button type="button" id="signout">Sign out</button>`;
  document.querySelector("header.top").appendChild(note);
  document.getElementById("signout").addEventListener("click", async () => { await post("/_labstack/signout", {}); location.reload(); });
  if (!who.instructor) {  // a learner sees their own account only (labstack pins it whatever the page asks)
    where.account = who.account;
    document.getElementById("account").readOnly = true;
  }
}

async function boot() {
  let who = { classMode: false };
  try {
    who = await (await fetch("/_labstack/whoami", { headers: { Accept: "application/json" } })).json();
  } catch (error) { /* an older labstack: no class mode */ }
  if (who.classMode && !who.signedIn) { signInPage(); return; }
  if (who.classMode) signedIn(who);
  start();
}

boot();
