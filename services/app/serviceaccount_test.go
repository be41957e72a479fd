package app_test

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/bookingrush/rush/gen/bookingrush/auth/v1"
	"github.com/bookingrush/rush/gen/bookingrush/auth/v1/authv1connect"
	catalogv1 "github.com/bookingrush/rush/gen/bookingrush/catalog/v1"
	"github.com/bookingrush/rush/gen/bookingrush/catalog/v1/catalogv1connect"
	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/authn"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/errs"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/testkit"
)

// TestServiceAccounts: another team's service calls the mesh with its own
// key (no shared signing secret): it acts with its account's role, only on
// the services of its scope, while the calls the mesh makes for it (publish
// loads the inventory into booking) go through; a wrong or unknown key is
// refused.
func TestServiceAccounts(t *testing.T) {
	t.Parallel()
	key, hash, err := authn.NewServiceAccountKey("partner-shop")
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := authn.NewServiceAccountKey("not-configured")
	m := testkit.Start(t, "-target=auth,catalog,booking",
		"-jwt.service-accounts=partner-shop:organizer:"+hash+":catalog",
		"-booking.key-prefix="+testkit.KeyPrefix(t, redisx.DefaultURL), "-catalog.cache-prefix="+testkit.KeyPrefix(t, redisx.DefaultURL))
	ctx := context.Background()
	catalog := catalogv1connect.NewCatalogServiceClient(server.NewClient(), m.URL(t, "catalog"))
	auth := authv1connect.NewAuthServiceClient(server.NewClient(), m.URL(t, "auth"))
	as := func(k string, msg *catalogv1.CreateEventRequest) *connect.Request[catalogv1.CreateEventRequest] {
		r := connect.NewRequest(msg)
		r.Header().Set("Authorization", "Bearer "+k)
		return r
	}
	now := time.Now()
	ev, err := catalog.CreateEvent(ctx, as(key, &catalogv1.CreateEventRequest{Title: "Partner night", Venue: "Hall",
		SaleStartAt: timestamppb.New(now.Add(-time.Hour)), SaleEndAt: timestamppb.New(now.Add(24 * time.Hour))}))
	if err != nil {
		t.Fatalf("the organizer account creates an event: %v", err)
	}
	id := ev.Msg.GetEvent().GetId()
	show := connect.NewRequest(&catalogv1.CreateShowRequest{EventId: id, ShowDate: timestamppb.New(now.Add(30 * 24 * time.Hour))})
	show.Header().Set("Authorization", "Bearer "+key)
	sh, err := catalog.CreateShow(ctx, show)
	if err != nil {
		t.Fatal(err)
	}
	zone := connect.NewRequest(&catalogv1.CreateZoneRequest{ShowId: sh.Msg.GetShow().GetId(), Name: "Floor", Price: "10", TotalSeats: 5})
	zone.Header().Set("Authorization", "Bearer "+key)
	if _, err := catalog.CreateZone(ctx, zone); err != nil {
		t.Fatal(err)
	}
	// Publishing makes catalog call booking (LoadInventory) for the account:
	// its scope (catalog) limits what it calls, not what catalog calls.
	pub := connect.NewRequest(&catalogv1.PublishEventRequest{EventId: id})
	pub.Header().Set("Authorization", "Bearer "+key)
	if _, err := catalog.PublishEvent(ctx, pub); err != nil {
		t.Fatalf("publish on behalf of the account: %v", err)
	}

	// Out of scope: auth.
	me := connect.NewRequest(&authv1.GetMeRequest{})
	me.Header().Set("Authorization", "Bearer "+key)
	if _, err := auth.GetMe(ctx, me); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("an out-of-scope call: %v, want permission_denied", err)
	}
	// A tampered key, a key of an account nobody configured.
	tampered := key[:len(key)-1] + map[bool]string{true: "1", false: "0"}[key[len(key)-1] == '0']
	for _, k := range []string{tampered, other} {
		if _, err := catalog.CreateEvent(ctx, as(k, &catalogv1.CreateEventRequest{Title: "x"})); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("key %.20s...: %v, want unauthenticated", k, err)
		}
	}
}

// TestServiceAccountKeyRotation: a key is rotated by listing the account's
// new key beside the old one (README "Integrators"). Both keys act as the
// same account, so what the team made with the old key stays its own with
// the new one; an entry of the same name that would act otherwise (another
// role) stops the start.
func TestServiceAccountKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, oldHash, err := authn.NewServiceAccountKey("partner-shop")
	if err != nil {
		t.Fatal(err)
	}
	newKey, newHash, err := authn.NewServiceAccountKey("partner-shop")
	if err != nil {
		t.Fatal(err)
	}
	m := testkit.Start(t, "-target=auth,catalog",
		"-jwt.service-accounts=partner-shop:organizer:"+oldHash+":catalog,partner-shop:organizer:"+newHash+":catalog",
		"-catalog.cache-prefix="+testkit.KeyPrefix(t, redisx.DefaultURL))
	ctx := context.Background()
	catalog := catalogv1connect.NewCatalogServiceClient(server.NewClient(), m.URL(t, "catalog"))
	now := time.Now()
	create := connect.NewRequest(&catalogv1.CreateEventRequest{Title: "Made with the old key", Venue: "Hall",
		SaleStartAt: timestamppb.New(now.Add(time.Hour)), SaleEndAt: timestamppb.New(now.Add(24 * time.Hour))})
	create.Header().Set("Authorization", "Bearer "+oldKey)
	ev, err := catalog.CreateEvent(ctx, create)
	if err != nil {
		t.Fatalf("the old key creates an event: %v", err)
	}
	title := "Renamed with the new key"
	update := connect.NewRequest(&catalogv1.UpdateEventRequest{EventId: ev.Msg.GetEvent().GetId(), Title: &title})
	update.Header().Set("Authorization", "Bearer "+newKey)
	got, err := catalog.UpdateEvent(ctx, update)
	if err != nil {
		t.Fatalf("the new key changes the event the old key made: %v", err)
	}
	if got.Msg.GetEvent().GetTitle() != title || got.Msg.GetEvent().GetOrganizerId() != ev.Msg.GetEvent().GetOrganizerId() {
		t.Errorf("after the update: %+v, want the title %q and the same organizer %s", got.Msg.GetEvent(), title, ev.Msg.GetEvent().GetOrganizerId())
	}

	var cfg app.Config
	noEnv := func(string) (string, bool) { return "", false }
	err = config.Load(&cfg, flag.NewFlagSet("rush", flag.ContinueOnError),
		[]string{"-jwt.service-accounts=partner-shop:organizer:" + oldHash + ",partner-shop:admin:" + newHash}, noEnv)
	if err == nil || !strings.Contains(err.Error(), "partner-shop is listed twice") {
		t.Errorf("two entries of partner-shop with other roles: %v, want an error naming it", err)
	}
}

// TestServiceAccountRowIsItsEntry: a service account acts with the role of
// its configuration entry, whatever its user row says, so an admin cannot
// change that row's role or delete it (it would answer success while the
// key went on as before): CONFLICT, reason "service_account".
func TestServiceAccountRowIsItsEntry(t *testing.T) {
	t.Parallel()
	var entries []string
	accounts := map[string]authn.ServiceAccount{}
	keys := map[string]string{}
	for _, a := range []struct{ name, role string }{{"partner-shop", "organizer"}, {"kiosk", "user"}} {
		key, hash, err := authn.NewServiceAccountKey(a.name)
		if err != nil {
			t.Fatal(err)
		}
		entry := a.name + ":" + a.role + ":" + hash
		sa, err := authn.ParseServiceAccount(entry)
		if err != nil {
			t.Fatal(err)
		}
		entries, accounts[a.name], keys[a.name] = append(entries, entry), sa, key
	}
	m := testkit.Start(t, "-target=auth,catalog", "-jwt.service-accounts="+strings.Join(entries, ","),
		"-catalog.cache-prefix="+testkit.KeyPrefix(t, redisx.DefaultURL))
	ctx := context.Background()
	auth := authv1connect.NewAuthServiceClient(server.NewClient(), m.URL(t, "auth"))
	admin := uuid.NewString()

	_, err := auth.SetUserRole(ctx, testkit.As(t, m, admin, authn.RoleAdmin,
		&authv1.SetUserRoleRequest{UserId: accounts["partner-shop"].UserID, Role: authv1.Role_ROLE_USER}))
	testkit.WantCode(t, err, errs.Conflict)
	if r := errs.FromConnect(err).Details["reason"]; r != "service_account" {
		t.Errorf("demoting partner-shop: reason %v, want service_account", r)
	}
	_, err = auth.DeleteUser(ctx, testkit.As(t, m, admin, authn.RoleAdmin, &authv1.DeleteUserRequest{UserId: accounts["kiosk"].UserID}))
	testkit.WantCode(t, err, errs.Conflict)
	if r := errs.FromConnect(err).Details["reason"]; r != "service_account" {
		t.Errorf("deleting kiosk: reason %v, want service_account", r)
	}
	got, err := auth.ListUsers(ctx, testkit.As(t, m, admin, authn.RoleAdmin, &authv1.ListUsersRequest{PerPage: 100}))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, u := range got.Msg.GetUsers() {
		switch u.GetId() {
		case accounts["partner-shop"].UserID:
			found++
			if u.GetRole() != authv1.Role_ROLE_ORGANIZER {
				t.Errorf("partner-shop's row has role %v after the refused demotion", u.GetRole())
			}
		case accounts["kiosk"].UserID:
			found++
		}
	}
	if found != 2 {
		t.Errorf("%d of the 2 accounts' rows listed after the refusals", found)
	}

	// The key acts as its entry says: the organizer still creates events.
	catalog := catalogv1connect.NewCatalogServiceClient(server.NewClient(), m.URL(t, "catalog"))
	now := time.Now()
	if _, err := catalog.CreateEvent(ctx, testkit.Bearer(keys["partner-shop"], &catalogv1.CreateEventRequest{Title: "Still an organizer", Venue: "Hall",
		SaleStartAt: timestamppb.New(now.Add(time.Hour)), SaleEndAt: timestamppb.New(now.Add(24 * time.Hour))})); err != nil {
		t.Fatalf("partner-shop creates an event: %v", err)
	}
}

// TestServiceAccountUnknownService: an entry whose scope names no service of
// the mesh (a typo) stops the start, naming it, rather than giving the team
// a key every service refuses.
func TestServiceAccountUnknownService(t *testing.T) {
	t.Parallel()
	_, hash, err := authn.NewServiceAccountKey("partner-shop")
	if err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) (string, bool) { return "", false }
	for entry, want := range map[string]string{
		"partner-shop:organizer:" + hash + ":catalgo+booking": `"catalgo" is no service of the mesh`,
		"partner-shop:organizer:" + hash + ":catalog+mesh":    `"mesh" is no service of the mesh`,
		"partner-shop:organizer:" + hash + ":catalog+gate":    "",
	} {
		var cfg app.Config
		err := config.Load(&cfg, flag.NewFlagSet("rush", flag.ContinueOnError), []string{"-jwt.service-accounts=" + entry}, noEnv)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", entry, err, want)
		}
	}
}
