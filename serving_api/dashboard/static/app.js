// The seller dashboard: sign-in (email, password, TOTP), then one shop over a date range
// and a source: totals and revenue by day (`sales`), the anomalies (`insights`), every
// metric beside the period before (`overview`), visits by source (a report that declares
// surfaces, per surface), top products (`products`), posts (`posts`), the daily table,
// any other declared report as a table, and an export. Every panel is drawn from the
// declarations in /dashboard/config and the report's own JSON (its columns with Russian
// titles and kinds), so a report added to serving_api/reports/catalog.py shows up here
// without a change; a report that is not built yet (503 REPORT_NOT_READY) says so in its
// panel and the rest of the page stands.
//
// When the totals and the revenue chart are on screen the page sets the performance mark
// "dashboard:meaningful-paint" and <body data-state="ready" data-render="N"> (the browser
// test and bench/dashboard_paint.py wait for them).

import { ApiError, authorizedGet, getJson, getPublicJson, signIn, signOut, tokens } from "./api.js";
import { formatChange, formatDate, formatMoney, formatValue, NUMERIC_KINDS } from "./format.js";

const $ = (id) => document.getElementById(id);

const SURFACES_RU = {
  map: "Карта", feed: "Лента", following: "Подписки", explore: "Обзор", search: "Поиск",
  profile: "Профиль магазина", ad: "Реклама", other: "Другое",
};
// The totals shown as cards, from the sales report (in this order, where present).
const KPI_COLUMNS = ["net", "pos_net", "online_net", "receipts", "avg_receipt", "units"];
const KPI_LABELS = { net: "Чистая выручка", pos_net: "Касса", online_net: "Онлайн",
                     receipts: "Чеков", avg_receipt: "Средний чек", units: "Продано единиц",
                     online_orders: "Онлайн-заказов", pos_refunds: "Возвраты в кассе" };
// Panels with a place of their own; every other declared report gets a table below.
const OWN_PANELS = new Set(["sales", "overview", "products", "posts", "insights"]);
// What the sources panel counts per surface (the first one also draws the chart), and
// the reports it prefers among those declaring surfaces (a shop's, not a product's).
const SOURCE_MEASURES = ["visitors", "views", "clicks", "add_to_cart"];
const SOURCE_REPORTS = ["funnel", "overview", "products"];
// The columns of the compact tables (those the report declares, in this order).
const PRODUCT_COLUMNS = ["revenue", "units", "orders", "views", "conversion"];
const POST_COLUMNS = ["impressions", "reach", "clicks", "engagements", "er", "ctr"];
const INSIGHTS_SHOWN = 6;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PALETTE = ["#0b7a75", "#e07a1f", "#3d5a98", "#b23a48", "#6a994e", "#8e6c8a",
                 "#c9a227", "#5c677d"];

const state = { config: null, shops: [], charts: {}, renders: 0, generation: 0 };

// The charting library, fetched and parsed while the first requests are under way (not
// before them); resolves either way: without it the panels show their tables only.
const chartReady = new Promise((resolve) => {
  const script = document.createElement("script");
  script.src = "/dashboard/vendor/chart.umd.min.js";
  script.onload = () => resolve(true);
  script.onerror = () => resolve(false);
  document.head.append(script);
});

// --- small helpers -----------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function report(name) {
  return state.config.reports.find((r) => r.name === name) || null;
}

function isoDate(date) {
  return date.toISOString().slice(0, 10);
}

function addDays(iso, days) {
  const d = new Date(iso + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + days);
  return isoDate(d);
}

function daysBetween(from, to) {
  const out = [];
  for (let d = from; d <= to && out.length < 400; d = addDays(d, 1)) out.push(d);
  return out;
}

function toNumber(value) {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

function filters() {
  return { shop: $("shop").value, from: $("date-from").value, to: $("date-to").value,
           surface: $("surface").value };
}

function reportUrl(name, f, extra = {}) {
  const params = new URLSearchParams({ from: f.from, to: f.to, ...extra });
  const declared = report(name);
  if (f.surface && declared && declared.surfaces.includes(f.surface)) {
    params.set("surface", f.surface);
  }
  return `/analytics/shops/${encodeURIComponent(f.shop)}/${name}?${params}`;
}

function notReadyText(error) {
  if (error instanceof ApiError) {
    if (error.code === "REPORT_NOT_READY") return "Отчёт ещё строится — загляните чуть позже.";
    if (error.status === 404 && error.code !== "SHOP_NOT_FOUND") return "Отчёт пока недоступен.";
    return `Не удалось загрузить: ${error.message}`;
  }
  return `Не удалось загрузить: ${error}`;
}

function setPanelStatus(panel, text) {
  const status = panel.querySelector(".panel-status");
  if (status) status.textContent = text || "";
}

// A table of a report's rows (its visible columns, in its order) and its totals row.
function reportTable(data, { limit = Infinity, totals = true } = {}) {
  const numeric = (c) => NUMERIC_KINDS.includes(c.kind);
  const head = el("tr", {}, ...data.columns.map((c) =>
    el("th", { class: numeric(c) ? "num" : "", dataset: { column: c.name } }, c.title)));
  const body = el("tbody");
  for (const row of data.rows.slice(0, limit)) {
    body.append(el("tr", {}, ...data.columns.map((c) =>
      el("td", { class: numeric(c) ? "num" : "", dataset: { column: c.name } },
         formatValue(c.kind, row[c.name])))));
  }
  const table = el("table", { dataset: { report: data.report } }, el("thead", {}, head), body);
  if (totals && data.rows.length) {
    table.append(el("tfoot", {}, el("tr", {}, ...data.columns.map((c, i) => {
      const value = data.totals[c.name];
      const text = value === undefined || value === null
        ? (i === 0 ? "Итого" : "") : formatValue(c.kind, value);
      return el("td", { class: numeric(c) ? "num" : "", dataset: { column: c.name } }, text);
    }))));
  }
  return table;
}

function chart(id, config) {
  if (state.charts[id]) {
    state.charts[id].destroy();
    delete state.charts[id];
  }
  const canvas = $(id);
  if (!config || !window.Chart || !canvas) {
    canvas?.closest(".panel")?.classList.add("empty");
    return null;
  }
  canvas.closest(".panel")?.classList.remove("empty");
  const options = config.options || {};
  options.animation = false; // drawn at once: the paint mark means the chart is there
  options.maintainAspectRatio = false;
  options.responsive = true;
  state.charts[id] = new window.Chart(canvas, { ...config, options });
  return state.charts[id];
}

function moneyTick(value) {
  return Math.abs(value) >= 1000 ? `${(value / 1000).toLocaleString("ru-RU")} тыс.` : value;
}

function firstColumn(data, kinds, preferred = []) {
  for (const name of preferred) {
    const c = data.columns.find((col) => col.name === name && kinds.includes(col.kind));
    if (c) return c;
  }
  return data.columns.find((col) => kinds.includes(col.kind)) || null;
}

// --- sign-in -------------------------------------------------------------------------------

function showSignIn(message) {
  $("dashboard").hidden = true;
  $("who").hidden = true;
  $("signin").hidden = false;
  document.body.dataset.state = "signin";
  const error = $("signin-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("email").focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const submit = $("signin-submit");
  submit.disabled = true;
  try {
    await signIn($("email").value.trim(), $("password").value,
                 $("totp").value.replace(/\s+/g, ""));
    $("password").value = "";
    $("totp").value = "";
    await openDashboard();
  } catch (error) {
    const messages = {
      INVALID_CREDENTIALS: "Неверная почта или пароль.",
      TOTP_REQUIRED: "Введите код из приложения-аутентификатора.",
      INVALID_TOTP: "Код не подошёл или уже использован — дождитесь нового.",
      TOTP_ENROLMENT_REQUIRED: "Сначала включите двухфакторный вход в приложении продавца.",
      ACCOUNT_DISABLED: "Учётная запись отключена.",
    };
    showSignIn(messages[error.code] || `Не удалось войти: ${error.message}`);
  } finally {
    submit.disabled = false;
  }
}

// --- the dashboard -------------------------------------------------------------------------

async function openDashboard(shopsRequest = null) {
  let shops;
  try {
    shops = (await (shopsRequest || getJson("/analytics/shops"))).shops;
  } catch (error) {
    tokens.clear();
    showSignIn(error.status === 403 ? "Аналитика доступна продавцам." : "Войдите снова.");
    return;
  }
  state.shops = shops;
  $("signin").hidden = true;
  $("dashboard").hidden = false;
  $("who").hidden = false;
  const select = $("shop");
  select.replaceChildren(...shops.map((s) => el("option", { value: s.id }, s.name)));
  const remembered = sessionStorage.getItem("dashboard.shop");
  if (remembered && shops.some((s) => s.id === remembered)) select.value = remembered;
  if (!shops.length) {
    document.body.dataset.state = "no-shops";
    $("status").textContent = "У вас пока нет магазинов.";
    return;
  }
  await render();
}

function setRange(days) {
  const to = $("date-to").value || state.config.today;
  $("date-from").value = addDays(to, -(days - 1));
}

async function render() {
  const generation = ++state.generation;
  const f = filters();
  if (!f.from || !f.to || f.from > f.to) {
    $("status").textContent = "Проверьте даты: начало периода позже конца.";
    return;
  }
  sessionStorage.setItem("dashboard.shop", f.shop);
  const shop = state.shops.find((s) => s.id === f.shop);
  $("shop-title").textContent = shop ? shop.name : "";
  document.body.dataset.state = "loading";
  $("status").textContent = "Загрузка…";
  const started = performance.now();

  const panels = [renderSales(f, generation), renderInsights(f, generation),
                  renderOverview(f, generation), renderSources(f, generation),
                  renderProducts(f, generation), renderPosts(f, generation),
                  renderMore(f, generation)];
  const [salesOk] = await Promise.all(panels);
  if (generation !== state.generation) return; // a newer render took over
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  $("status").textContent = salesOk ? `Обновлено за ${seconds} с` : "";
  state.renders += 1;
  document.body.dataset.render = String(state.renders);
  document.body.dataset.state = "ready";
}

// Totals (cards), revenue by day (chart) and the daily table: the meaningful paint.
async function renderSales(f, generation) {
  const panel = $("panel-sales");
  const kpis = $("kpis");
  let data;
  try {
    data = await getJson(reportUrl("sales", f, { sort: "date", page_size: "500" }));
  } catch (error) {
    if (generation !== state.generation) return false;
    kpis.replaceChildren(el("div", { class: "kpi" }, notReadyText(error)));
    setPanelStatus(panel, notReadyText(error));
    setPanelStatus($("panel-revenue"), notReadyText(error));
    panel.querySelector(".table-wrap").replaceChildren();
    chart("chart-revenue", null);
    markPaint();
    return false;
  }
  if (generation !== state.generation) return false;
  mark("dashboard:sales-data");
  await chartReady;
  if (generation !== state.generation) return false;
  const columns = Object.fromEntries(data.columns.map((c) => [c.name, c]));
  kpis.replaceChildren(...KPI_COLUMNS.filter((name) => columns[name]).map((name) => {
    const kind = columns[name].kind;
    const total = data.totals[name] ?? (kind === "money" ? "0.00" : "0");
    return el("div", { class: "kpi", dataset: { metric: name } },
              el("div", { class: "label" }, KPI_LABELS[name] || columns[name].title),
              el("div", { class: "value", dataset: { kind } }, formatValue(kind, total)));
  }));

  const byDay = Object.fromEntries(data.rows.map((r) => [r.date, r]));
  const days = daysBetween(f.from, f.to);
  const series = (name) => days.map((d) => toNumber(byDay[d]?.[name]));
  const datasets = [];
  if (columns.pos_net) {
    datasets.push({ type: "bar", key: "pos_net", label: columns.pos_net.title, data: series("pos_net"),
                    backgroundColor: PALETTE[0], stack: "net" });
  }
  if (columns.online_net) {
    datasets.push({ type: "bar", key: "online_net", label: columns.online_net.title, data: series("online_net"),
                    backgroundColor: PALETTE[1], stack: "net" });
  }
  if (columns.net) {
    datasets.push({ type: "line", key: "net", label: columns.net.title, data: series("net"),
                    borderColor: PALETTE[2], backgroundColor: PALETTE[2], pointRadius: 2,
                    tension: 0.2, stack: "total" });
  }
  const exact = (name, index) => byDay[days[index]]?.[name] ?? "0.00";
  chart("chart-revenue", {
    data: { labels: days.map((d) => formatValue("date", d)), datasets },
    options: {
      scales: { x: { stacked: true, ticks: { autoSkip: true, maxRotation: 45,
                                               maxTicksLimit: 31 } },
                y: { stacked: true, ticks: { callback: moneyTick } } },
      plugins: { tooltip: { callbacks: {
        label: (ctx) => `${ctx.dataset.label}: ${formatMoney(exact(ctx.dataset.key,
                                                                        ctx.dataIndex))}`,
      } } },
    },
  });
  setPanelStatus($("panel-revenue"), data.rows.length ? ""
    : "За выбранный период продаж нет.");
  // The totals and the chart are what a seller looks at first: painted before the daily
  // table (below the fold) is built.
  await markPaint();
  if (generation !== state.generation) return false;
  panel.querySelector(".table-wrap").replaceChildren(reportTable(data));
  setPanelStatus(panel, data.page.pages > 1
    ? `Показана страница 1 из ${data.page.pages}; полная таблица — в выгрузке.` : "");
  $("as-of").textContent = data.as_of
    ? `Данные по состоянию на ${formatValue("datetime", data.as_of)} (Азия/Бишкек).`
    : "Данные ещё не поступали.";
  return true;
}

function mark(name) {
  if (!performance.getEntriesByName(name).length) performance.mark(name);
}

// Resolves after the frame that shows the cards and the chart has been painted.
function markPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(() => {
    mark("dashboard:meaningful-paint");
    document.body.dataset.painted = "1";
    resolve();
  }, 0)));
}

// A table of chosen columns of a report: a label column (its text built by `label`) and
// the declared columns named in `names` (all numeric ones when none of them is declared).
function compactTable(data, labelColumn, labelText, names, { totals = false } = {}) {
  const byName = Object.fromEntries(data.columns.map((c) => [c.name, c]));
  let columns = names.map((n) => byName[n]).filter(Boolean);
  if (!columns.length) columns = data.columns.filter((c) => NUMERIC_KINDS.includes(c.kind));
  const head = el("tr", {},
    el("th", { dataset: { column: labelColumn.name } }, labelColumn.title),
    ...columns.map((c) => el("th", { class: "num", title: c.title, dataset: { column: c.name } },
                             c.title.replace(/\s*\(все источники\)/, ""))));
  const body = el("tbody", {}, ...data.rows.map((row) => el("tr",
    { dataset: { key: String(row[labelColumn.name] ?? "") } },
    el("td", { class: "label", dataset: { column: labelColumn.name } }, ...labelText(row)),
    ...columns.map((c) => el("td", { class: "num", dataset: { column: c.name } },
                             formatValue(c.kind, row[c.name]))))));
  const table = el("table", { dataset: { report: data.report } }, el("thead", {}, head), body);
  if (totals && data.rows.length) {
    table.append(el("tfoot", {}, el("tr", {},
      el("td", { dataset: { column: labelColumn.name } }, "Итого"),
      ...columns.map((c) => el("td", { class: "num", dataset: { column: c.name } },
        data.totals[c.name] === undefined || data.totals[c.name] === null ? ""
          : formatValue(c.kind, data.totals[c.name]))))));
  }
  return table;
}

// A coloured dot (through the CSSOM: the page's CSP allows no inline style attribute).
function swatch(color) {
  const dot = el("span", { class: "swatch" }, "● ");
  dot.style.color = color;
  return dot;
}

function shortId(id) {
  const text = String(id ?? "");
  return text.length > 12 ? `${text.slice(0, 8)}…` : text;
}

// The overview (rows = metrics with value, previous and change): a card per metric, its
// unit from the row's own `kind` (money, count, percent), beside the period just before.
async function renderOverview(f, generation) {
  const panel = $("panel-overview");
  const cards = $("overview-cards");
  const declared = report("overview");
  if (!declared) { panel.hidden = true; return true; }
  panel.hidden = false;
  $("overview-period").textContent = previousPeriodText(f);
  try {
    const data = await getJson(reportUrl("overview", f, { page_size: "100",
                                                          sort: declared.default_sort }));
    if (generation !== state.generation) return false;
    const has = (name) => data.columns.some((c) => c.name === name);
    if (!["metric", "value"].every(has)) {  // not the shape this panel knows: a table
      cards.replaceChildren(reportTable(data, { totals: false }));
    } else {
      cards.replaceChildren(...data.rows.map((row) => overviewCard(row)));
    }
    setPanelStatus(panel, data.rows.length ? "" : "Нет данных за период.");
  } catch (error) {
    if (generation !== state.generation) return false;
    cards.replaceChildren();
    setPanelStatus(panel, notReadyText(error));
  }
  return true;
}

function previousPeriodText(f) {
  const days = daysBetween(f.from, f.to).length;
  const to = addDays(f.from, -1);
  return `Предыдущий период: ${formatDate(addDays(to, -(days - 1)))} — ${formatDate(to)}`
    + ` (${days} дн.)`;
}

function overviewCard(row) {
  const kind = ["money", "count", "percent"].includes(row.kind) ? row.kind : "decimal";
  const title = String(row.title ?? row.metric).replace(/,\s*(сом|%)$/, "");
  const change = row.change_pct;
  const direction = change === null || change === undefined ? "flat"
    : (/^-/.test(String(change)) ? "down" : (/^0(\.0+)?$/.test(String(change)) ? "flat" : "up"));
  const arrow = { up: "▲ ", down: "▼ ", flat: "" }[direction];
  return el("div", { class: "kpi", dataset: { metric: row.metric, kind } },
    el("div", { class: "label" }, title),
    el("div", { class: "value" }, formatValue(kind, row.value)),
    el("div", { class: "previous" }, "было ",
       el("span", { class: "previous-value" }, formatValue(kind, row.previous))),
    el("div", { class: `change ${direction}` }, arrow,
       el("span", { class: "change-value" }, formatChange(change))));
}

// Sharp drops and rises (`insights`): a short list, shown only when there are some.
async function renderInsights(f, generation) {
  const panel = $("panel-insights");
  const declared = report("insights");
  if (!declared) { panel.hidden = true; return true; }
  try {
    const data = await getJson(reportUrl("insights", f, { page_size: "50" }));
    if (generation !== state.generation) return false;
    panel.hidden = !data.rows.length;
    panel.querySelector("h2").textContent = `${declared.title}: ${data.page.rows}`;
    const kinds = Object.fromEntries(data.columns.map((c) => [c.name, c.kind]));
    $("insights-list").replaceChildren(...data.rows.slice(0, INSIGHTS_SHOWN).map((row) => {
      const title = String(row.metric_title ?? row.metric ?? "");
      const money = /,\s*сом$/.test(title);
      const amount = (v) => (money ? formatMoney(v) : formatValue(kinds.value || "decimal", v));
      const drop = row.signal === "drop";
      return el("li", { class: drop ? "drop" : "rise", dataset: { date: row.date,
                                                                  metric: row.metric } },
        el("span", { class: "badge" }, drop ? "спад" : "рост"),
        el("span", { class: "when" }, formatValue("date", row.date)),
        el("span", {}, `${title.replace(/,\s*сом$/, "")}: ${amount(row.value)} против `
                       + `${amount(row.baseline)} в среднем (${formatChange(row.change_pct)})`));
    }));
    setPanelStatus(panel, data.rows.length > INSIGHTS_SHOWN
      ? `Показаны последние ${INSIGHTS_SHOWN}; все — в выгрузке «${declared.title}».` : "");
  } catch (error) {
    if (generation !== state.generation) return false;
    panel.hidden = true;  // an alert list, not a panel that must stand
  }
  return true;
}

// Where buyers came from: a report with a surface column (summed per surface), else a
// report that declares surfaces (its totals under each surface filter).
function sourcesReport() {
  const measured = (r) => r.columns.some((c) => SOURCE_MEASURES.includes(c.name)
                                               && c.kind === "count");
  const withColumn = state.config.reports.find((r) => measured(r)
    && r.columns.some((c) => c.name === "surface" || c.name === "source"));
  if (withColumn) return { declared: withColumn, byColumn: true };
  const candidates = state.config.reports.filter((r) => r.surfaces.length && measured(r));
  candidates.sort((a, b) => rank(a.name) - rank(b.name));
  return candidates.length ? { declared: candidates[0], byColumn: false } : null;
}

function rank(name) {
  const i = SOURCE_REPORTS.indexOf(name);
  return i < 0 ? SOURCE_REPORTS.length : i;
}

async function renderSources(f, generation) {
  const panel = $("panel-sources");
  const wrap = panel.querySelector(".table-wrap");
  const found = sourcesReport();
  if (!found) {
    chart("chart-sources", null);
    wrap.replaceChildren();
    setPanelStatus(panel, "Разбивка по источникам появится, когда будет готов отчёт "
                          + "о посещениях.");
    return true;
  }
  const { declared, byColumn } = found;
  const measures = SOURCE_MEASURES.map((n) => declared.columns.find((c) => c.name === n))
    .filter((c) => c && c.kind === "count");
  try {
    let perSurface;  // [[surface, {measure: count}]]
    let all;
    if (byColumn) {
      const data = await getJson(reportUrl(declared.name, { ...f, surface: "" },
                                           { page_size: "500" }));
      const key = data.columns.find((c) => c.name === "surface" || c.name === "source");
      const sums = new Map();
      for (const row of data.rows) {
        const into = sums.get(row[key.name]) || {};
        for (const m of measures) into[m.name] = (into[m.name] || 0) + Number(row[m.name] || 0);
        sums.set(row[key.name], into);
      }
      perSurface = [...sums.entries()];
      all = data.totals;
    } else {
      const ask = (surface) => getJson(reportUrl(declared.name, { ...f, surface },
                                                 { page_size: "1" }));
      const [whole, ...answers] = await Promise.all(["", ...declared.surfaces].map(ask));
      perSurface = declared.surfaces.map((s, i) => [s, answers[i].totals]);
      all = whole.totals;
    }
    await chartReady;
    if (generation !== state.generation) return false;
    const shown = perSurface.filter(([, t]) => measures.some((m) => Number(t[m.name] || 0)));
    shown.sort((a, b) => Number(b[1][measures[0].name] || 0) - Number(a[1][measures[0].name] || 0));
    const named = shown.map(([s]) => SURFACES_RU[s] || s);
    chart("chart-sources", shown.length ? {
      type: "doughnut",
      data: { labels: named, datasets: [{ label: measures[0].title,
        data: shown.map(([, t]) => Number(t[measures[0].name] || 0)),
        backgroundColor: PALETTE }] },
      options: { plugins: { legend: { position: "right" } } },
    } : null);
    const head = el("tr", {}, el("th", {}, "Источник"), ...measures.map((m) =>
      el("th", { class: "num", dataset: { column: m.name } }, m.title)));
    const rows = shown.map(([s, t], i) => el("tr", { dataset: { surface: s } },
      el("td", {}, swatch(PALETTE[i % PALETTE.length]), SURFACES_RU[s] || s),
      ...measures.map((m) => el("td", { class: "num", dataset: { column: m.name } },
                                formatValue("count", t[m.name] ?? 0)))));
    const foot = el("tr", {}, el("td", {}, "Все источники"), ...measures.map((m) =>
      el("td", { class: "num", dataset: { column: m.name } }, formatValue("count", all[m.name] ?? 0))));
    wrap.replaceChildren(el("table", { dataset: { report: declared.name } },
      el("thead", {}, head), el("tbody", {}, ...rows), el("tfoot", {}, foot)));
    setPanelStatus(panel, shown.length ? `${measures[0].title} по источникам — ${declared.title}`
                                        : "За период посещений нет.");
  } catch (error) {
    if (generation !== state.generation) return false;
    chart("chart-sources", null);
    wrap.replaceChildren();
    setPanelStatus(panel, notReadyText(error));
  }
  return true;
}

// The names of a shop's products (the report carries ids); {} when they cannot be read.
async function productNames(shop, ids) {
  const wanted = ids.filter((id) => UUID_RE.test(String(id)));
  if (!wanted.length) return {};
  const params = new URLSearchParams(wanted.map((id) => ["ids", id]));
  try {
    const data = await getJson(`/analytics/shops/${encodeURIComponent(shop)}/product-names?${params}`);
    return Object.fromEntries(data.products.map((p) => [p.id, p.name]));
  } catch {
    return {};
  }
}

async function renderProducts(f, generation) {
  const panel = $("panel-products");
  const declared = report("products");
  const wrap = panel.querySelector(".table-wrap");
  if (!declared) {
    chart("chart-products", null);
    setPanelStatus(panel, "Отчёт по товарам скоро появится.");
    return true;
  }
  const measure = firstColumn(declared, ["money"], ["revenue", "net", "gross"])
    || firstColumn(declared, ["count"], ["units", "orders"]);
  const label = declared.columns.find((c) => c.name === "product_id")
    || declared.columns.find((c) => c.kind === "id" || c.kind === "text");
  try {
    const data = await getJson(reportUrl("products", f, {
      page_size: "10", ...(measure ? { sort: `-${measure.name}` } : {}) }));
    const names = label ? await productNames(f.shop, data.rows.map((r) => r[label.name])) : {};
    await chartReady;
    if (generation !== state.generation) return false;
    const nameOf = (row) => names[row[label.name]] || `Товар ${shortId(row[label.name])}`;
    if (measure && label && data.rows.length) {
      chart("chart-products", {
        type: "bar",
        data: { labels: data.rows.map((r) => nameOf(r).slice(0, 28)),
                datasets: [{ label: measure.title, data: data.rows.map((r) =>
                  toNumber(r[measure.name])), backgroundColor: PALETTE[0] }] },
        options: { indexAxis: "y", plugins: { legend: { display: false }, tooltip: {
          callbacks: { label: (ctx) => formatValue(measure.kind,
                                                   data.rows[ctx.dataIndex][measure.name]) } } },
                   scales: { x: { ticks: { callback: moneyTick } } } },
      });
    } else {
      chart("chart-products", null);
    }
    wrap.replaceChildren(label
      ? compactTable(data, { ...label, title: "Товар" },
                     (row) => [el("span", { class: "name" }, nameOf(row))], PRODUCT_COLUMNS)
      : reportTable(data, { totals: false }));
    setPanelStatus(panel, data.rows.length
      ? `Первые ${data.rows.length} из ${data.page.rows} по колонке «${measure?.title}»; `
        + "все — в выгрузке." : "За период продаж товаров нет.");
  } catch (error) {
    if (generation !== state.generation) return false;
    chart("chart-products", null);
    wrap.replaceChildren();
    setPanelStatus(panel, notReadyText(error));
  }
  return true;
}

async function renderPosts(f, generation) {
  const panel = $("panel-posts");
  const declared = report("posts");
  const wrap = panel.querySelector(".table-wrap");
  if (!declared) {
    wrap.replaceChildren();
    setPanelStatus(panel, "Отчёт по публикациям скоро появится.");
    return true;
  }
  const measure = firstColumn(declared, ["count"], ["reach", "impressions", "views"]);
  const label = declared.columns.find((c) => c.name === "post_id")
    || declared.columns.find((c) => c.kind === "id" || c.kind === "text");
  try {
    const data = await getJson(reportUrl("posts", f, {
      page_size: "10", ...(measure ? { sort: `-${measure.name}` } : {}) }));
    if (generation !== state.generation) return false;
    wrap.replaceChildren(label
      ? compactTable(data, label, (row) => [`Публикация ${shortId(row[label.name])}`],
                     POST_COLUMNS, { totals: true })
      : reportTable(data, { totals: false }));
    setPanelStatus(panel, data.rows.length
      ? `${data.rows.length} из ${data.page.rows} по колонке «${measure?.title}»; `
        + "«Итого» — по всем публикациям периода." : "За период публикаций нет.");
  } catch (error) {
    if (generation !== state.generation) return false;
    wrap.replaceChildren();
    setPanelStatus(panel, notReadyText(error));
  }
  return true;
}

// Every other declared report (map, funnel, pos, daily, …): its first rows as a table,
// folded (a click opens it).
async function renderMore(f, generation) {
  const host = $("more-panels");
  const others = state.config.reports.filter((r) => !OWN_PANELS.has(r.name));
  const open = new Set([...host.querySelectorAll("details[open]")].map((d) => d.dataset.report));
  const sections = others.map((r) => {
    const section = el("details", { class: "panel wide", id: `panel-${r.name}`,
                                    dataset: { report: r.name } },
                       el("summary", {}, r.title, el("span", { class: "panel-status" },
                                                     "Загрузка…")),
                       el("div", { class: "table-wrap" }));
    if (open.has(r.name)) section.open = true;
    return [r, section];
  });
  host.replaceChildren(...sections.map(([, s]) => s));
  await Promise.all(sections.map(async ([r, section]) => {
    try {
      const data = await getJson(reportUrl(r.name, f, { page_size: "10" }));
      if (generation !== state.generation) return;
      section.querySelector(".table-wrap").replaceChildren(reportTable(data));
      setPanelStatus(section, data.page.pages > 1
        ? `первые ${data.rows.length} строк из ${data.page.rows}; все — в выгрузке`
        : (data.rows.length ? `${data.rows.length} строк` : "нет данных за период"));
    } catch (error) {
      if (generation !== state.generation) return;
      setPanelStatus(section, notReadyText(error));
    }
  }));
  return true;
}

// --- export --------------------------------------------------------------------------------

function fillExport() {
  const reports = $("export-report");
  reports.replaceChildren(...state.config.reports.map((r) =>
    el("option", { value: r.name }, r.title)));
  const formats = state.config.export ? state.config.export.formats : ["csv"];
  $("export-format").replaceChildren(...formats.map((fmt) =>
    el("option", { value: fmt }, fmt.toUpperCase())));
  if (formats.includes("xlsx")) $("export-format").value = "xlsx";
  $("export-format").disabled = formats.length < 2;
}

function exportUrl(name, format, f) {
  const spec = state.config.export;
  if (!spec || !spec.formats.includes(format)) {
    return reportUrl(name, f, { format: "csv" });
  }
  const values = { report: name, shop_id: f.shop, shop: f.shop, from: f.from, to: f.to,
                   format };
  const declared = report(name);
  if (f.surface && declared && declared.surfaces.includes(f.surface)) {
    values.surface = f.surface;
  }
  const params = new URLSearchParams();
  for (const name of spec.params) {
    if (values[name] !== undefined) params.set(name, values[name]);
  }
  return `${spec.path}?${params}`;
}

async function onExport() {
  const f = filters();
  const name = $("export-report").value;
  const format = $("export-format").value || "csv";
  const button = $("export");
  button.disabled = true;
  $("status").textContent = "Готовим файл…";
  try {
    const response = await authorizedGet(exportUrl(name, format, f));
    const blob = await response.blob();
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename="?([^";]+)"?/.exec(disposition);
    const filename = match ? match[1] : `${name}-${f.from}-${f.to}.${format}`;
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    $("status").textContent = `Файл ${filename} скачан.`;
    document.body.dataset.exported = filename;
  } catch (error) {
    $("status").textContent = `Выгрузка не удалась: ${notReadyText(error)}`;
  } finally {
    button.disabled = false;
  }
}

// --- start ---------------------------------------------------------------------------------

async function main() {
  // A returning seller's shops are asked for at once, beside the configuration.
  const shopsRequest = tokens.get() ? getJson("/analytics/shops") : null;
  shopsRequest?.catch(() => {}); // handled by openDashboard
  try {
    state.config = await getPublicJson("/dashboard/config");
  } catch (error) {
    document.body.dataset.state = "error";
    $("signin").hidden = false;
    $("signin-error").hidden = false;
    $("signin-error").textContent = `Сервис недоступен: ${error.message}`;
    return;
  }
  for (const surface of new Set(state.config.reports.flatMap((r) => r.surfaces))) {
    $("surface").append(el("option", { value: surface }, SURFACES_RU[surface] || surface));
  }
  if (!state.config.reports.some((r) => r.surfaces.length)) $("surface").disabled = true;
  // A link may name the view: /dashboard/?shop=…&from=2024-05-01&to=2024-05-31&surface=map
  const wanted = new URLSearchParams(location.search);
  const isoDay = /^\d{4}-\d{2}-\d{2}$/;
  $("date-to").value = isoDay.test(wanted.get("to") || "") ? wanted.get("to") : state.config.today;
  setRange(30);
  if (isoDay.test(wanted.get("from") || "")) $("date-from").value = wanted.get("from");
  if (wanted.get("shop")) sessionStorage.setItem("dashboard.shop", wanted.get("shop"));
  if (wanted.get("surface") && [...$("surface").options].some((o) => o.value === wanted.get("surface"))) {
    $("surface").value = wanted.get("surface");
  }
  fillExport();

  $("signin-form").addEventListener("submit", onSignIn);
  $("sign-out").addEventListener("click", async () => { await signOut(); showSignIn(); });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); render(); });
  $("shop").addEventListener("change", () => render());
  $("surface").addEventListener("change", () => render());
  for (const button of document.querySelectorAll(".quick button")) {
    button.addEventListener("click", () => { setRange(Number(button.dataset.days)); render(); });
  }
  $("export").addEventListener("click", onExport);

  if (shopsRequest) await openDashboard(shopsRequest);
  else showSignIn();
}

main();
