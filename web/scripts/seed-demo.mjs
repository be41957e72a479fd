// Demo events for `make run`: when the catalog has no published event, the
// bootstrap admin (RUSH_ADMIN_EMAIL / RUSH_ADMIN_PASSWORD) creates a category
// and two events on sale now, one of them behind a waiting room, through the
// public API at RUSH_API_URL (http://127.0.0.1:8080). Running it again does
// nothing once an event is published.
const api = (process.env.RUSH_API_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "") + "/api/v1";

async function call(method, path, body, token) {
  const res = await fetch(api + path, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const env = await res.json();
  if (!env.success) throw new Error(`${method} ${path}: ${res.status} ${env.error?.code}: ${env.error?.message}`);
  return env;
}

const listed = await call("GET", "/events?per_page=1");
if (listed.meta?.total > 0) {
  console.log(`seed: ${listed.meta.total} published event(s) already, nothing to add`);
  process.exit(0);
}
const { email, password } = { email: process.env.RUSH_ADMIN_EMAIL, password: process.env.RUSH_ADMIN_PASSWORD };
if (!email || !password) {
  console.log("seed: no RUSH_ADMIN_EMAIL/RUSH_ADMIN_PASSWORD, no demo events");
  process.exit(0);
}
const token = (await call("POST", "/auth/login", { email, password })).data.access_token;
const cats = (await call("GET", "/categories")).data;
if (!cats.some((c) => c.slug === "concerts")) await call("POST", "/categories", { name: "Concerts", slug: "concerts" }, token);
if (!cats.some((c) => c.slug === "theatre")) await call("POST", "/categories", { name: "Theatre", slug: "theatre" }, token);

const day = 86400_000;
const demo = [
  {
    title: "Rush Night Live",
    category: "concerts",
    description: "Five bands, one stage, and a crowd that got its tickets fairly.",
    venue: "Coliseu, Lisbon",
    queue: false,
    shows: [30, 31],
    hours: 4,
    zones: [
      ["Floor", "49.90", 500],
      ["Balcony", "79.00", 200],
      ["VIP", "149.00", 40],
    ],
  },
  {
    title: "The Eras Rush (waiting room)",
    category: "concerts",
    description: "Everyone wants in. A fair waiting room lets buyers in at a steady pace.",
    venue: "Estádio da Luz, Lisbon",
    queue: true,
    shows: [60],
    hours: 3,
    zones: [
      ["Pitch", "89.00", 2000],
      ["Stands", "59.00", 5000],
    ],
  },
  {
    title: "Midnight Opera",
    category: "theatre",
    description: "Three acts, one night.",
    venue: "Teatro Nacional, Porto",
    queue: false,
    shows: [45],
    hours: 3,
    zones: [["Stalls", "65.00", 120]],
  },
];
for (const d of demo) {
  const ev = (
    await call(
      "POST",
      "/events",
      {
        title: d.title,
        description: d.description,
        venue: d.venue,
        time_zone: "Europe/Lisbon",
        category: d.category,
        sale_start_at: new Date(Date.now() - 60_000).toISOString(),
        sale_end_at: new Date(Date.now() + 90 * day).toISOString(),
        max_per_user: 4,
        queue_enabled: d.queue,
      },
      token,
    )
  ).data;
  for (const inDays of d.shows) {
    const at = new Date(Date.now() + inDays * day);
    at.setUTCHours(20, 0, 0, 0); // 20:00 in Lisbon's winter, 21:00 in its summer
    const ends = new Date(at.getTime() + d.hours * 3600_000);
    const show = (await call("POST", `/events/${ev.id}/shows`, { show_date: at.toISOString(), ends_at: ends.toISOString() }, token)).data;
    for (const [name, price, total_seats] of d.zones) await call("POST", `/shows/${show.id}/zones`, { name, price, total_seats }, token);
  }
  await call("POST", `/events/${ev.id}/publish`, {}, token);
  console.log(`seed: published "${d.title}" (/events/${ev.slug})`);
}
