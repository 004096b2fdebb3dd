// The seller dashboard: sign-in (email, password, TOTP), then the overview of one shop
// over a date range and a source: totals, revenue by day, sources, top products, posts,
// any other declared report as a table, and an export. Every panel is drawn from the
// report's own JSON (its columns with Russian titles and kinds), so a report added to
// serving_api/reports/catalog.py shows up here without a change; a report that is not
// built yet (503 REPORT_NOT_READY) says so in its panel and the rest of the page stands.
//
// When the totals and the revenue chart are on screen the page sets the performance mark
// "dashboard:meaningful-paint" and <body data-state="ready" data-render="N"> (the browser
// test and bench/dashboard_paint.py wait for them).

import { ApiError, authorizedGet, getJson, getPublicJson, signIn, signOut, tokens } from "./api.js";
import { formatMoney, formatValue, NUMERIC_KINDS } from "./format.js";

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
const OWN_PANELS = new Set(["sales", "overview", "products", "posts"]);
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

  const panels = [renderSales(f, generation), renderOverview(f, generation),
                  renderSources(f, generation), renderProducts(f, generation),
                  renderPosts(f, generation), renderMore(f, generation)];
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

// The overview report (rows = metrics with value, previous and change), when declared.
async function renderOverview(f, generation) {
  const panel = $("panel-overview");
  if (!report("overview")) { panel.hidden = true; return true; }
  panel.hidden = false;
  try {
    const data = await getJson(reportUrl("overview", f, { page_size: "100" }));
    if (generation !== state.generation) return false;
    panel.querySelector(".table-wrap").replaceChildren(reportTable(data, { totals: false }));
    setPanelStatus(panel, data.rows.length ? "" : "Нет данных за период.");
  } catch (error) {
    if (generation !== state.generation) return false;
    panel.querySelector(".table-wrap").replaceChildren();
    setPanelStatus(panel, notReadyText(error));
  }
  return true;
}

// Where buyers came from: a report with a surface column, else one declaring surfaces
// (its totals per surface), else nothing yet.
async function renderSources(f, generation) {
  const panel = $("panel-sources");
  const wrap = panel.querySelector(".table-wrap");
  const withColumn = state.config.reports.find((r) =>
    r.columns.some((c) => c.name === "surface" || c.name === "source"));
  const withFilter = ["funnel", "posts", "products", "map"].map(report)
    .find((r) => r && r.surfaces.length) || state.config.reports.find((r) => r.surfaces.length);
  try {
    let labels = [];
    let values = [];
    let title = "";
    if (withColumn) {
      const data = await getJson(reportUrl(withColumn.name, { ...f, surface: "" },
                                           { page_size: "500" }));
      const key = data.columns.find((c) => c.name === "surface" || c.name === "source");
      const measure = firstColumn(data, ["count", "money"],
                                  ["sessions", "visitors", "views", "impressions", "net"]);
      if (!key || !measure) throw new Error("нет разбивки по источникам");
      const sums = {};
      for (const row of data.rows) {
        sums[row[key.name]] = (sums[row[key.name]] || 0) + toNumber(row[measure.name]);
      }
      labels = Object.keys(sums);
      values = labels.map((k) => sums[k]);
      title = `${measure.title} — ${data.title}`;
    } else if (withFilter) {
      const answers = await Promise.all(withFilter.surfaces.map((surface) =>
        getJson(reportUrl(withFilter.name, { ...f, surface }, { page_size: "1" }))));
      const measure = firstColumn(answers[0], ["count", "money"],
                                  ["sessions", "visitors", "views", "impressions", "net"]);
      if (!measure) throw new Error("нет числовых колонок");
      labels = withFilter.surfaces;
      values = answers.map((a) => toNumber(a.totals[measure.name]));
      title = `${measure.title} — ${answers[0].title}`;
    } else {
      if (generation !== state.generation) return false;
      chart("chart-sources", null);
      panel.classList.add("empty");
      wrap.replaceChildren();
      setPanelStatus(panel, "Разбивка по источникам появится, когда будет готов отчёт "
                            + "о посещениях.");
      return true;
    }
    await chartReady;
    if (generation !== state.generation) return false;
    const named = labels.map((s) => SURFACES_RU[s] || s);
    chart("chart-sources", {
      type: "doughnut",
      data: { labels: named, datasets: [{ data: values, backgroundColor: PALETTE }] },
      options: { plugins: { legend: { position: "right" } } },
    });
    wrap.replaceChildren();
    setPanelStatus(panel, title);
  } catch (error) {
    if (generation !== state.generation) return false;
    chart("chart-sources", null);
    panel.classList.add("empty");
    wrap.replaceChildren();
    setPanelStatus(panel, notReadyText(error));
  }
  return true;
}

async function renderProducts(f, generation) {
  const panel = $("panel-products");
  const declared = report("products");
  const wrap = panel.querySelector(".table-wrap");
  if (!declared) {
    chart("chart-products", null);
    panel.classList.add("empty");
    setPanelStatus(panel, "Отчёт по товарам скоро появится.");
    return true;
  }
  const measure = firstColumn(declared, ["money"], ["net", "revenue", "gross"])
    || firstColumn(declared, ["count"], ["units", "sold"]);
  try {
    const data = await getJson(reportUrl("products", f, {
      page_size: "10", ...(measure ? { sort: `-${measure.name}` } : {}) }));
    await chartReady;
    if (generation !== state.generation) return false;
    const label = firstColumn(data, ["text"], ["product_name", "name", "title"]);
    if (measure && label && data.rows.length) {
      chart("chart-products", {
        type: "bar",
        data: { labels: data.rows.map((r) => String(r[label.name] ?? "").slice(0, 28)),
                datasets: [{ label: measure.title, data: data.rows.map((r) =>
                  toNumber(r[measure.name])), backgroundColor: PALETTE[0] }] },
        options: { indexAxis: "y", plugins: { legend: { display: false } } },
      });
    } else {
      chart("chart-products", null);
      panel.classList.add("empty");
    }
    wrap.replaceChildren(reportTable(data, { totals: false }));
    setPanelStatus(panel, data.rows.length ? "" : "За период продаж товаров нет.");
  } catch (error) {
    if (generation !== state.generation) return false;
    chart("chart-products", null);
    panel.classList.add("empty");
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
  const measure = firstColumn(declared, ["count"], ["impressions", "views", "reach"]);
  try {
    const data = await getJson(reportUrl("posts", f, {
      page_size: "10", ...(measure ? { sort: `-${measure.name}` } : {}) }));
    if (generation !== state.generation) return false;
    wrap.replaceChildren(reportTable(data, { totals: false }));
    setPanelStatus(panel, data.rows.length ? "" : "За период публикаций нет.");
  } catch (error) {
    if (generation !== state.generation) return false;
    wrap.replaceChildren();
    setPanelStatus(panel, notReadyText(error));
  }
  return true;
}

// Every other declared report (map, funnel, pos, insights, …): its first rows as a table.
async function renderMore(f, generation) {
  const host = $("more-panels");
  const others = state.config.reports.filter((r) => !OWN_PANELS.has(r.name));
  const sections = others.map((r) => {
    const section = el("section", { class: "panel wide", id: `panel-${r.name}` },
                       el("h2", {}, r.title), el("div", { class: "table-wrap" }),
                       el("p", { class: "panel-status" }, "Загрузка…"));
    return [r, section];
  });
  host.replaceChildren(...sections.map(([, s]) => s));
  await Promise.all(sections.map(async ([r, section]) => {
    try {
      const data = await getJson(reportUrl(r.name, f, { page_size: "10" }));
      if (generation !== state.generation) return;
      section.querySelector(".table-wrap").replaceChildren(reportTable(data));
      setPanelStatus(section, data.page.pages > 1
        ? `Первые ${data.rows.length} строк из ${data.page.rows}; все — в выгрузке.`
        : (data.rows.length ? "" : "Нет данных за период."));
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
