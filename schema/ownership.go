package schema

// Table ownership: every table of migrations/ has exactly one owner, the
// only code whose SQL may name it. Other services learn its data through the
// owner's RPCs or the events it publishes (docs/ownership.md says why this
// is a declaration checked by a test and not a Postgres schema per service).
// ownership_test.go parses the SQL in every Go file of the repository and
// fails when code names a table it does not own.

// Owners maps each table to the package that owns it: a service under
// services/<name>, or a platform package under services/platform/<name>
// for a table every service uses through that package only.
var Owners = map[string]string{
	// auth: accounts and tokens.
	"tenants":               "auth",
	"users":                 "auth",
	"refresh_tokens":        "auth",
	"password_reset_tokens": "auth",
	// catalog: what is on sale.
	"categories": "catalog",
	"events":     "catalog",
	"shows":      "catalog",
	"seat_zones": "catalog",
	// booking: holds and purchases (Redis is the live truth, this the durable copy),
	"bookings": "booking",
	// booking: the catalog's snapshot of what it sells (LoadInventory) and
	// its zone counters.
	"booking_events": "booking",
	"booking_zones":  "booking",
	// booking: zones the catalog deleted from an event on sale (DropZones),
	// which no late snapshot brings back.
	"booking_dropped_zones": "booking",
	// booking: the durable copy of the zones' waitlists (a rebuild restores
	// the lines from it).
	"waitlist_entries": "booking",
	// payment: money.
	"payments":                "payment",
	"payment_webhook_events":  "payment",
	"payment_event_cursor":    "payment",
	"payment_refund_failures": "payment",
	// saga: the post-payment sagas.
	"sagas":      "saga",
	"saga_steps": "saga",
	// queue: the waiting room's knobs (the switch is the catalog's).
	"queue_settings": "queue",
	// notify: outgoing messages.
	"notifications":          "notify",
	"notify_forgotten_users": "notify",
	// analytics: its read model and the events it has counted.
	"analytics_event_daily":  "analytics",
	"analytics_event_hourly": "analytics",
	"analytics_bookings":     "analytics",
	"processed_events":       "analytics",
	// gate: e-tickets and check-in.
	"gate_tickets":      "gate",
	"gate_signing_keys": "gate",
	"gate_devices":      "gate",
	"gate_scans":        "gate",
	"gate_checkins":     "gate",
	// gate: the roles of the users who registered devices, as auth told it.
	"gate_device_owners": "gate",
	// platform tables: one definition, each service's own rows (a database
	// per service would get its own copy), written through one package.
	"outbox":       "platform/outbox",
	"audit_logs":   "platform/audit",
	"dead_letters": "platform/deadletter",
	// the migrator's own bookkeeping.
	RevisionTable: "schema",
}

// Auditors read tables across owners by design, and never write them: they
// check the system's invariants from the outside (the money audit, the test
// mesh's checks, the benchmark's end-of-run audit).
var Auditors = []string{
	"platform/moneyaudit",
	"testkit",
	"bench",
}
