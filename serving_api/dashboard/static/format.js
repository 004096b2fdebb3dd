// Display formats of the dashboard (ru): KGS as "1 234,50 сом", counts as "1 234",
// per cent as "12,50 %". Amounts arrive as exact decimal strings ("1234.50") and are
// formatted as strings, never through a float, so the page shows the tyiyn the API sent
// (the browser test parses them back and compares them exactly).

const GROUP = "\u00a0"; // no-break space between thousands, and before the unit

function groupDigits(digits) {
  let out = "";
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += GROUP;
    out += digits[i];
  }
  return out;
}

// "-1234.5" → "-1 234,50" (2 places); a non-decimal value is shown as it is.
export function formatDecimal(value, places = 2) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value).trim();
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return text;
  const [, sign, whole, frac = ""] = m;
  const fraction = places > 0 ? "," + (frac + "0".repeat(places)).slice(0, places) : "";
  return sign + groupDigits(whole.replace(/^0+(?=\d)/, "")) + fraction;
}

export function formatMoney(value) {
  const text = formatDecimal(value, 2);
  return text === "—" ? text : `${text}${GROUP}сом`;
}

export function formatCount(value) {
  return formatDecimal(value, 0);
}

export function formatPercent(value) {
  const text = formatDecimal(value, 2);
  return text === "—" ? text : `${text}${GROUP}%`;
}

const MONTHS = ["янв", "фев", "мар", "апр", "мая", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"];

// "2024-05-01" → "1 мая 2024"
// A change in per cent with its sign: "12.5" → "+12,50 %", "-3" → "−3,00 %".
export function formatChange(value) {
  const text = formatPercent(value);
  if (text === "—") return text;
  if (text.startsWith("-")) return "\u2212" + text.slice(1);
  return /^0(,0+)?\u00a0%$/.test(text) ? text : "+" + text;
}

export function formatDate(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value ?? ""));
  if (!m) return value ?? "—";
  return `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}`;
}

export function formatDateTime(value) {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString("ru-RU", { timeZone: "Asia/Bishkek", dateStyle: "medium",
                                     timeStyle: "short" });
}

// One cell of a report, by its column kind (serving_api/reports/model.py: ColumnKind).
export function formatValue(kind, value) {
  if (value === null || value === undefined) return "—";
  switch (kind) {
    case "money": return formatMoney(value);
    case "count": return formatCount(value);
    case "percent": return formatPercent(value);
    case "decimal": return formatDecimal(value, 2);
    case "date": return formatDate(value);
    case "datetime": return formatDateTime(value);
    default: return String(value);
  }
}

export const NUMERIC_KINDS = ["money", "count", "percent", "decimal"];
