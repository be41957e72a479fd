package testkit

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/platform/faulttest"
	"github.com/bookingrush/rush/services/platform/redisx"
	"github.com/bookingrush/rush/services/platform/server"
)

// Split runs every component of the binary in an app of its own, as the
// Helm chart deploys them (one Deployment per -target): each has its own
// registry and metrics endpoint and reaches the others through
// -peer.<name> on a port chosen here; all share one Kafka broker (kfake,
// as a cluster's brokers), dsn's migrated schema, the revocation feed and
// args (the flags of every process: key prefixes, SMTP...). They start in
// the binary's order, the edge last, and stop in the reverse order when the
// test ends. It answers the apps by target.
func Split(t testing.TB, dsn string, args ...string) map[string]*App {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatalf("testkit: kafka: %v", err)
	}
	t.Cleanup(kc.Close) // after every app: cleanups run last first
	common := []string{"-postgres.migrate-on-start=false", "-kafka.brokers=" + strings.Join(kc.ListenAddrs(), ","),
		"-jwt.revocation-prefix=" + KeyPrefix(t, redisx.DefaultURL)}
	addrs := map[string]string{}
	for name := range server.Ports {
		addrs[name] = faulttest.FreeAddr(t)
		common = append(common, "-peer."+name+"="+addrs[name])
	}
	apps := map[string]*App{}
	for _, target := range app.Targets() {
		own := []string{"-target=" + target}
		if addr, ok := addrs[target]; ok {
			own = append(own, "-"+target+".addr="+addr)
		}
		apps[target] = StartApp(t, Config(t, dsn, slices.Concat(common, args, own)...))
	}
	return apps
}
