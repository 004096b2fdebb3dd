// The dashboard's calls to its own origin (the serving API). Tokens come from the core via
// POST /dashboard/auth/login and live in sessionStorage (this tab only, gone when it
// closes); they are sent as a bearer header, never as a cookie.

const KEY = "dashboard.tokens";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const tokens = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch { return null; }
  },
  set(pair) {
    sessionStorage.setItem(KEY, JSON.stringify({
      access_token: pair.access_token, refresh_token: pair.refresh_token }));
  },
  clear() { sessionStorage.removeItem(KEY); },
};

async function asError(response) {
  let code = "HTTP_" + response.status;
  let message = response.statusText || "ошибка";
  try {
    const body = await response.json();
    if (body && body.error) { code = body.error.code; message = body.error.message; }
  } catch { /* not JSON */ }
  return new ApiError(response.status, code, message);
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body), credentials: "omit", cache: "no-store",
  });
  if (!response.ok) throw await asError(response);
  return response.status === 204 ? null : response.json();
}

export async function signIn(email, password, totpCode) {
  const pair = await postJson("/dashboard/auth/login",
                              { email, password, totp_code: totpCode || null });
  tokens.set(pair);
  return pair;
}

export async function signOut() {
  const pair = tokens.get();
  tokens.clear();
  if (pair && pair.refresh_token) {
    try { await postJson("/dashboard/auth/logout", { refresh_token: pair.refresh_token }); }
    catch { /* the session ends anyway when its tokens expire */ }
  }
}

let refreshing = null;

async function refresh() {
  const pair = tokens.get();
  if (!pair || !pair.refresh_token) return false;
  refreshing ??= postJson("/dashboard/auth/refresh", { refresh_token: pair.refresh_token })
    .then((fresh) => { tokens.set(fresh); return true; })
    .catch(() => { tokens.clear(); return false; })
    .finally(() => { refreshing = null; });
  return refreshing;
}

// GET with the access token; one refresh and retry on 401. Resolves to the Response.
export async function authorizedGet(path) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const pair = tokens.get();
    if (!pair) throw new ApiError(401, "UNAUTHORIZED", "нужно войти");
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${pair.access_token}` },
      credentials: "omit", cache: "no-store",
    });
    if (response.status === 401 && attempt === 0 && await refresh()) continue;
    if (!response.ok) throw await asError(response);
    return response;
  }
  throw new ApiError(401, "UNAUTHORIZED", "нужно войти");
}

export async function getJson(path) {
  return (await authorizedGet(path)).json();
}

export async function getPublicJson(path) {
  const response = await fetch(path, { credentials: "omit", cache: "no-store" });
  if (!response.ok) throw await asError(response);
  return response.json();
}
