package k8s_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/bookingrush/rush/deploy/k8s/charttest"
	"github.com/bookingrush/rush/gen/bookingrush/booking/v1/bookingv1connect"
	"github.com/bookingrush/rush/services/analytics"
	"github.com/bookingrush/rush/services/app"
	"github.com/bookingrush/rush/services/booking"
	"github.com/bookingrush/rush/services/catalog"
	"github.com/bookingrush/rush/services/gate"
	"github.com/bookingrush/rush/services/notify"
	"github.com/bookingrush/rush/services/platform/config"
	"github.com/bookingrush/rush/services/platform/server"
	"github.com/bookingrush/rush/services/saga"
)

const (
	appSource  = "../../services/app/app.go"
	nonRootUID = 65532
	// The scaling constraints (docs/architecture.md, "Scaling").
	minReplicas = 2
	maxReplicas = 10
	coolDown    = 60
)

// The custom resources the chart renders, decoded strictly into the fields
// their CRDs define that the chart may use (an unknown field fails the test).
type (
	serviceMonitor struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			JobLabel          string               `json:"jobLabel,omitempty"`
			Selector          metav1.LabelSelector `json:"selector"`
			NamespaceSelector struct {
				Any        bool     `json:"any,omitempty"`
				MatchNames []string `json:"matchNames,omitempty"`
			} `json:"namespaceSelector"`
			Endpoints []struct {
				Port          string `json:"port"`
				Path          string `json:"path,omitempty"`
				Scheme        string `json:"scheme,omitempty"`
				Interval      string `json:"interval,omitempty"`
				ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	prometheusRule struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			Groups []struct {
				Name     string `json:"name"`
				Interval string `json:"interval,omitempty"`
				Rules    []struct {
					Alert       string            `json:"alert,omitempty"`
					Record      string            `json:"record,omitempty"`
					Expr        string            `json:"expr"`
					For         string            `json:"for,omitempty"`
					Labels      map[string]string `json:"labels,omitempty"`
					Annotations map[string]string `json:"annotations,omitempty"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	kedaTrigger struct {
		Type              string            `json:"type"`
		Name              string            `json:"name,omitempty"`
		MetricType        string            `json:"metricType,omitempty"`
		Metadata          map[string]string `json:"metadata"`
		AuthenticationRef *struct {
			Name string `json:"name"`
			Kind string `json:"kind,omitempty"`
		} `json:"authenticationRef,omitempty"`
	}
	scaledObject struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			ScaleTargetRef struct {
				APIVersion string `json:"apiVersion,omitempty"`
				Kind       string `json:"kind,omitempty"`
				Name       string `json:"name"`
			} `json:"scaleTargetRef"`
			PollingInterval *int32 `json:"pollingInterval,omitempty"`
			CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
			MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
			MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
			Advanced        *struct {
				RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`
				HorizontalPodAutoscalerConfig *struct {
					Name     string                                         `json:"name,omitempty"`
					Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
				} `json:"horizontalPodAutoscalerConfig,omitempty"`
			} `json:"advanced,omitempty"`
			Triggers []kedaTrigger `json:"triggers"`
		} `json:"spec"`
	}
)

// httpRoute is the Gateway API route (gateway.networking.k8s.io/v1) the chart
// renders with gatewayAPI.enabled, in the fields it uses.
type httpRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ParentRefs []struct {
			Group       string `json:"group,omitempty"`
			Kind        string `json:"kind,omitempty"`
			Namespace   string `json:"namespace,omitempty"`
			Name        string `json:"name"`
			SectionName string `json:"sectionName,omitempty"`
			Port        *int32 `json:"port,omitempty"`
		} `json:"parentRefs"`
		Hostnames []string `json:"hostnames,omitempty"`
		Rules     []struct {
			Matches []struct {
				Path *struct {
					Type  string `json:"type"`
					Value string `json:"value"`
				} `json:"path,omitempty"`
			} `json:"matches,omitempty"`
			BackendRefs []struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace,omitempty"`
				Port      *int32 `json:"port,omitempty"`
				Weight    *int32 `json:"weight,omitempty"`
			} `json:"backendRefs,omitempty"`
		} `json:"rules"`
	} `json:"spec"`
}

// crds are the custom kinds the chart may render, by apiVersion/kind.
var crds = map[schema.GroupVersionKind]func() any{
	{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}:  func() any { return new(httpRoute) },
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}: func() any { return new(serviceMonitor) },
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}: func() any { return new(prometheusRule) },
	{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}:           func() any { return new(scaledObject) },
}

// rendered is one `helm template` output, decoded.
type rendered struct {
	release, namespace string
	byKind             map[string][]any
	// internalFrom are the namespaces the values admit to the Connect
	// ports (networkPolicy.internalFromNamespaces).
	internalFrom []string
}

func (r *rendered) all(kind string) []any { return r.byKind[kind] }

func typed[T any](r *rendered, kind string) []*T {
	var out []*T
	for _, o := range r.byKind[kind] {
		out = append(out, o.(*T))
	}
	return out
}

func find[T any](items []*T, name func(*T) string, want string) *T {
	for _, it := range items {
		if name(it) == want {
			return it
		}
	}
	return nil
}

func helmTemplate(t *testing.T, release, namespace string, args ...string) ([]byte, error) {
	t.Helper()
	return charttest.Template(t, release, namespace, args...)
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// render runs helm template and decodes every object strictly: built-in kinds
// into their API types through a scheme, custom kinds into the local structs.
func render(t *testing.T, release, namespace string, args ...string) *rendered {
	t.Helper()
	out, err := helmTemplate(t, release, namespace, args...)
	if err != nil {
		t.Fatal(err)
	}
	sch := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme,
		autoscalingv2.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(sch); err != nil {
			t.Fatal(err)
		}
	}
	r := &rendered{release: release, namespace: namespace, byKind: map[string][]any{}}
	for i, doc := range docSep.Split(string(out), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
		var obj any
		if sch.Recognizes(gvk) {
			o, err := sch.New(gvk)
			if err != nil {
				t.Fatal(err)
			}
			obj = o
		} else if mk, ok := crds[gvk]; ok {
			obj = mk()
		} else {
			t.Fatalf("document %d: unexpected kind %s", i, gvk)
		}
		if err := decodeStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s (document %d) does not decode strictly: %v\n%s", gvk.Kind, i, err, doc)
		}
		meta := metaOf(obj)
		if meta.Name == "" {
			t.Errorf("%s (document %d) has no name", gvk.Kind, i)
		}
		r.byKind[gvk.Kind] = append(r.byKind[gvk.Kind], obj)
	}
	return r
}

// decodeStrict decodes doc as the API server would receive it from helm:
// YAML turned into JSON without looking at the target type (so a number where
// a string belongs stays an error, which sigs.k8s.io/yaml.UnmarshalStrict
// would quietly convert), then case-sensitive JSON that rejects unknown and
// duplicate fields.
func decodeStrict(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// metaOf is an object's metadata; every kind here (ours too: serviceMonitor,
// prometheusRule, scaledObject, httpRoute embed metav1.ObjectMeta) has it.
func metaOf(obj any) *metav1.ObjectMeta {
	if o, ok := obj.(metav1.ObjectMetaAccessor); ok {
		return o.GetObjectMeta().(*metav1.ObjectMeta)
	}
	panic(fmt.Sprintf("no metadata on %T", obj))
}

// targets parses the component table of services/app so that a new target
// without a Deployment fails here, without building the services.
func targets(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), appSource, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "components" || len(vs.Values) != 1 {
			return true
		}
		list, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			return false
		}
		for _, e := range list.Elts {
			if c, ok := e.(*ast.CompositeLit); ok && len(c.Elts) > 0 {
				if lit, ok := c.Elts[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					name, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					names = append(names, name)
				}
			}
		}
		return false
	})
	if len(names) == 0 {
		t.Fatalf("no targets found in the components table of %s: update targets() in this test", appSource)
	}
	return names
}

const componentLabel = "app.kubernetes.io/component"

func TestChartDefaultValues(t *testing.T) {
	t.Parallel()
	r := render(t, "t", "shop")
	checkChart(t, r, targets(t))
	checkAutoscaling(t, r, false)

	secrets := typed[corev1.Secret](r, "Secret")
	main := find(secrets, func(s *corev1.Secret) string { return s.Name }, "t-rush")
	if main == nil {
		t.Fatal("no Secret t-rush")
	}
	for _, k := range []string{"RUSH_POSTGRES_URL", "RUSH_REDIS_URL", "RUSH_JWT_SECRET"} {
		if len(main.Data[k]) == 0 {
			t.Errorf("Secret lacks %s", k)
		}
	}
	if n := len(main.Data["RUSH_JWT_SECRET"]); n < 32 {
		t.Errorf("generated RUSH_JWT_SECRET has %d bytes, want >= 32", n)
	}
	if len(r.all("ServiceMonitor")) != 0 || len(r.all("PrometheusRule")) != 0 || len(r.all("ScaledObject")) != 0 {
		t.Error("default values render custom resources whose CRDs may be missing")
	}
}

func TestChartProductionValues(t *testing.T) {
	t.Parallel()
	r := render(t, "rush", "rush", "-f", "values-production.yaml")
	checkChart(t, r, targets(t))
	checkAutoscaling(t, r, true)

	if n := len(r.all("Secret")); n != 0 {
		t.Errorf("existingSecret set, yet %d Secrets rendered", n)
	}
	job := typed[batchv1.Job](r, "Job")[0]
	if ref := job.Spec.Template.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef; ref == nil || ref.Name != "rush-secrets" {
		t.Errorf("migration Job reads %+v, want the existing Secret rush-secrets", ref)
	}
	cm := find(typed[corev1.ConfigMap](r, "ConfigMap"), func(c *corev1.ConfigMap) string { return c.Name }, "rush")
	if cm.Data["RUSH_LOG_FORMAT"] != "json" {
		t.Errorf("production logs are %q, want json", cm.Data["RUSH_LOG_FORMAT"])
	}

	sms := typed[serviceMonitor](r, "ServiceMonitor")
	if len(sms) != 1 || sms[0].Spec.Endpoints[0].Port != "metrics" {
		t.Fatalf("want one ServiceMonitor scraping the metrics port, got %+v", sms)
	}
	sel, err := metav1.LabelSelectorAsSelector(&sms[0].Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range typed[corev1.Service](r, "Service") {
		if !sel.Matches(labels.Set(svc.Labels)) {
			t.Errorf("ServiceMonitor does not select Service %s", svc.Name)
		}
	}

	rules := typed[prometheusRule](r, "PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("want one PrometheusRule, got %d", len(rules))
	}
	alerts := map[string]string{}
	severity := map[string]string{}
	for _, g := range rules[0].Spec.Groups {
		for _, rule := range g.Rules {
			alerts[rule.Alert] = rule.Expr
			severity[rule.Alert] = rule.Labels["severity"]
		}
	}
	for alert, want := range map[string]struct{ metric, severity string }{
		"RushHighErrorRate":        {"http_requests_total", "critical"},
		"RushHighLatency":          {"http_request_duration_seconds_bucket", "warning"},
		"RushServiceDown":          {"up{", "critical"},
		"RushKafkaLag":             {"kafka_consumer_lag", "warning"},
		"RushMoneyUnsettled":       {"payment_unsettled_payments", "critical"},
		"RushSagaDeadLetters":      {"saga_dead_letters_total", "warning"},
		"RushRPCErrorRate":         {"rpc_server_requests_total", "critical"},
		"RushRPCHighLatency":       {"rpc_server_duration_seconds_bucket", "warning"},
		"RushRelayBacklog":         {"rush_relay_backlog", "warning"},
		"RushPersisterDeadLetters": {"booking_persister_dead_letters_total", "warning"},
		"RushMailFailing":          {"rush_notify_deliveries_total", "warning"},
		"RushPaymentEventsMissed":  {"payment_reconciler_actions_total", "warning"},
		"RushRefundFailed":         {"payment_refund_failed_payments", "critical"},
	} {
		if !strings.Contains(alerts[alert], want.metric) {
			t.Errorf("alert %s: expr %q does not use %s", alert, alerts[alert], want.metric)
		}
		if severity[alert] != want.severity {
			t.Errorf("alert %s: severity %q, want %q", alert, severity[alert], want.severity)
		}
	}
	if !strings.Contains(alerts["RushHighErrorRate"], `route!~"/healthz|/readyz"`) {
		t.Errorf("RushHighErrorRate counts the probes' answers (a /readyz 503 is a dependency down, not a buyer's error): %q", alerts["RushHighErrorRate"])
	}
	if !strings.Contains(alerts["RushKafkaLag"], "> 10000") || !strings.Contains(alerts["RushHighErrorRate"], "> 0.01") {
		t.Errorf("alert thresholds differ from docs/architecture.md's alerts: %q, %q", alerts["RushKafkaLag"], alerts["RushHighErrorRate"])
	}

	checkAlertsDocumented(t, severity)
	checkDashboard(t, r, "monitoring")

	// The edge, open only to the ingress controller, lets the web app's pods in.
	edgeNP := find(typed[networkingv1.NetworkPolicy](r, "NetworkPolicy"), func(p *networkingv1.NetworkPolicy) string { return p.Name }, "rush-edge")
	webIn := false
	for _, rule := range edgeNP.Spec.Ingress {
		for _, from := range rule.From {
			webIn = webIn || (from.PodSelector != nil && from.PodSelector.MatchLabels[componentLabel] == webComponent)
		}
	}
	if !webIn {
		t.Errorf("the edge's NetworkPolicy keeps the web app out: %+v", edgeNP.Spec.Ingress)
	}
	if len(typed[networkingv1.Ingress](r, "Ingress")) != 1 {
		t.Error("production values serve no Ingress")
	}
}

// TestChartGoRuntimeEnv checks that a component's env takes the Go runtime's
// variables: GOMEMLIMIT there replaces rush's 90%-of-the-limit default
// (cmd/rush/memlimit.go).
func TestChartGoRuntimeEnv(t *testing.T) {
	t.Parallel()
	r := render(t, "t", "shop", "--set", "components.booking.env.GOMEMLIMIT=400MiB", "--set", "components.booking.env.GOGC=200", "--set", "components.booking.env.GODEBUG=madvdontneed=1")
	d := find(typed[appsv1.Deployment](r, "Deployment"), func(d *appsv1.Deployment) string { return d.Name }, "t-rush-booking")
	if d == nil {
		t.Fatal("no Deployment t-rush-booking")
	}
	got := map[string]string{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		got[e.Name] = e.Value
	}
	for k, want := range map[string]string{"GOMEMLIMIT": "400MiB", "GOGC": "200", "GODEBUG": "madvdontneed=1"} {
		if got[k] != want {
			t.Errorf("booking's %s=%q, want %q", k, got[k], want)
		}
	}
}

// TestChartBundledRedis checks the Redis URL derived for the bundled Bitnami
// Redis: with its password, or without one only when auth is turned off
// (TestChartRefusesUnsafeValues: no password otherwise fails the render).
func TestChartBundledRedis(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"auth":    {[]string{"--set", "redis.auth.password=s3cret"}, "redis://:s3cret@t-redis-master:6379/0"},
		"no auth": {[]string{"--set", "redis.auth.enabled=false"}, "redis://t-redis-master:6379/0"},
		// url.Parse reads a "+" in the userinfo as a plus, not a space.
		"escaped": {[]string{"--set", "redis.auth.password=p@ss w+rd"}, "redis://:p%40ss%20w%2Brd@t-redis-master:6379/0"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := render(t, "t", "shop", append([]string{"--set", "redis.enabled=true"}, c.args...)...)
			main := find(typed[corev1.Secret](r, "Secret"), func(s *corev1.Secret) string { return s.Name }, "t-rush")
			if main == nil {
				t.Fatal("no Secret t-rush")
			}
			if got := string(main.Data["RUSH_REDIS_URL"]); got != c.want {
				t.Errorf("RUSH_REDIS_URL=%q, want %q", got, c.want)
			}
		})
	}
}

// TestChartRollToken checks that secrets.rollToken rolls every rush pod when
// the Secret is secrets.existingSecret, which the chart cannot checksum.
func TestChartRollToken(t *testing.T) {
	t.Parallel()
	annotations := func(args ...string) map[string]string {
		t.Helper()
		r := render(t, "rush", "rush", append([]string{"-f", "values-production.yaml"}, args...)...)
		got := map[string]string{}
		for _, d := range typed[appsv1.Deployment](r, "Deployment") {
			if d.Labels[componentLabel] != webComponent {
				got[d.Name] = d.Spec.Template.Annotations["checksum/secret"]
			}
		}
		return got
	}
	before, after := annotations("--set", "secrets.rollToken=2026-12-01"), annotations("--set", "secrets.rollToken=2026-12-05")
	if len(before) == 0 {
		t.Fatal("no rush Deployment rendered")
	}
	for name, sum := range before {
		if sum == "" || after[name] == "" || sum == after[name] {
			t.Errorf("%s: checksum/secret %q, then %q after a new rollToken; want two different sums", name, sum, after[name])
		}
	}
}

// TestChartRefusesUnsafeValues checks the chart fails loudly instead of
// rendering a deployment that would misbehave.
func TestChartRefusesUnsafeValues(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"no brokers":                  {[]string{"--set", "externalKafka.brokers=null"}, "externalKafka.brokers is required"},
		"secret in config":            {[]string{"--set", "config.RUSH_JWT_SECRET=x"}, "is a secret"},
		"not a RUSH_ key":             {[]string{"--set", "config.LOG=x"}, "does not match pattern '^RUSH_"},
		"component env not RUSH_/Go":  {[]string{"--set", "components.booking.env.LOG=x"}, "'LOG' does not match pattern '^(RUSH_[A-Z0-9_]+|GOMEMLIMIT|GOGC|GODEBUG)$'"},
		"short jwt secret":            {[]string{"--set", "secrets.jwtSecret=short"}, "at least 32 bytes"},
		"bundled redis, no password":  {[]string{"--set", "redis.enabled=true"}, "redis.auth.password is required"},
		"dev mailbox":                 {[]string{"--set", "config.RUSH_SMTP_DEV_MAILBOX=true"}, "is for development"},
		"dev mailbox, as a number":    {[]string{"--set", "config.RUSH_SMTP_DEV_MAILBOX=1"}, "is for development"},
		"dev mailbox in notify's env": {[]string{"--set", "components.notify.env.RUSH_SMTP_DEV_MAILBOX=true"}, "is for development"},
		// Set by the chart: a second entry in the ConfigMap, one of them ignored.
		"brokers in config":      {[]string{"--set", "config.RUSH_KAFKA_BROKERS=elsewhere:9092"}, "from externalKafka.brokers"},
		"metrics addr in config": {[]string{"--set", "config.RUSH_METRICS_ADDR=:9200"}, "from ports.metrics"},
		"migrate on start":       {[]string{"--set", "config.RUSH_POSTGRES_MIGRATE_ON_START=true"}, "from migration.enabled"},
		"a component's address":  {[]string{"--set", "config.RUSH_BOOKING_ADDR=:9999"}, "from components.booking.port"},
		"a peer the chart sets":  {[]string{"--set", "config.RUSH_PEER_BOOKING=rush-booking:9083"}, "the chart sets RUSH_PEER_BOOKING"},
		"own address in env":     {[]string{"--set", "components.booking.env.RUSH_BOOKING_ADDR=:9999"}, "its probes, Service and NetworkPolicy"},
		"metrics address in env": {[]string{"--set", "components.edge.env.RUSH_METRICS_ADDR=:9200"}, "its probes, Service and NetworkPolicy"},
		"target in env":          {[]string{"--set", "components.edge.env.RUSH_TARGET=all"}, "-target flag"},
		// Every buyer would share the ingress controller's (and the web pods') address limits.
		"public host, no trusted proxies": {[]string{"--set", "ingress.enabled=true"}, "config.RUSH_EDGE_TRUSTED_PROXIES is empty"},
		"gateway, no trusted proxies":     {[]string{"--set", "gatewayAPI.enabled=true"}, "config.RUSH_EDGE_TRUSTED_PROXIES is empty"},
		"unknown payment provider":        {[]string{"--set", "config.RUSH_PAYMENT_PROVIDER=Stripe"}, `payment.provider "Stripe" is neither`},
		// The payment pods would not start.
		"stripe without its keys":          {[]string{"--set", "config.RUSH_PAYMENT_PROVIDER=stripe"}, "set secrets.stripeSecretKey and secrets.stripeWebhookSecret"},
		"stripe in payment's env, no keys": {[]string{"--set", "components.payment.env.RUSH_PAYMENT_PROVIDER=stripe"}, "set secrets.stripeSecretKey and secrets.stripeWebhookSecret"},
		// Checkout would refuse every payment.
		"stripe, simulator checkout":  {[]string{"--set", "config.RUSH_PAYMENT_PROVIDER=stripe", "--set", "secrets.stripeSecretKey=sk_test_x", "--set", "secrets.stripeWebhookSecret=whsec_x"}, "web.stripePublishableKey is empty"},
		"simulator, Stripe checkout":  {[]string{"--set", "web.stripePublishableKey=pk_test_x"}, "payment.provider is simulator"},
		"schema: a word for a number": {[]string{"--set", "components.booking.replicas=two"}, "/components/booking/replicas"},
		"schema: unknown liveness":    {[]string{"--set", "probes.connectLiveness=tcp"}, "/probes/connectLiveness"},
		"schema: misspelt key":        {[]string{"--set", "components.booking.replica=3"}, "additional properties 'replica' not allowed"},
		"schema: secret Stripe key":   {[]string{"--set", "web.stripePublishableKey=sk_live_x"}, "/web/stripePublishableKey"},
		"schema: host with a scheme":  {[]string{"--set", "ingress.host=https://tickets.example"}, "/ingress/host"},
		"interval in minutes":         {[]string{"--set", "prometheusRule.enabled=true", "--set", "serviceMonitor.interval=1m"}, "/serviceMonitor/interval"},
		// Every node drain and cluster upgrade would wait for good.
		"pdb blocking drains":    {[]string{"--set", "podDisruptionBudget.maxUnavailable=0"}, "/podDisruptionBudget/maxUnavailable"},
		"pdb blocking drains, %": {[]string{"--set", "podDisruptionBudget.maxUnavailable=0%"}, "/podDisruptionBudget/maxUnavailable"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := helmTemplate(t, "t", "shop", c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
		})
	}
}

// secretSettings are the environment names of every setting of the rush
// binary that holds a credential (config.Sensitive: secrets and URLs that may
// carry a password).
func secretSettings(t *testing.T) []string {
	t.Helper()
	var cfg app.Config
	fs := flag.NewFlagSet("rush", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if config.Sensitive(f) {
			names = append(names, config.EnvName(f.Name))
		}
	})
	if len(names) < 5 {
		t.Fatalf("only %v are secret settings of rush: config.Sensitive is broken", names)
	}
	return names
}

// TestChartKeepsSecretsOutOfPlainConfig checks every credential setting of
// the binary is refused where the chart writes values in the clear: the
// ConfigMap (config) and a component's pod spec (components.<target>.env).
// The chart's own list once missed RUSH_NOTIFY_TICKET_SECRET, which then
// landed in the ConfigMap, and component env took any of them.
func TestChartKeepsSecretsOutOfPlainConfig(t *testing.T) {
	t.Parallel()
	for _, name := range secretSettings(t) {
		for _, key := range []string{"config." + name, "components.notify.env." + name} {
			t.Run(key, func(t *testing.T) {
				t.Parallel()
				_, err := helmTemplate(t, "t", "shop", "--set", key+"=s3cret-value-of-32-bytes-or-more!")
				if err == nil || !strings.Contains(err.Error(), name+" is a secret") {
					t.Fatalf("want the render refused (%s is a secret), got %v", name, err)
				}
			})
		}
	}
}

// TestChartGracePeriodCoversTheStop checks the chart's floor for
// terminationGracePeriodSeconds is the preStop sleep plus the binary's own
// stop timeout (app.StopTimeout): a shorter grace kills pods while they drain.
func TestChartGracePeriodCoversTheStop(t *testing.T) {
	t.Parallel()
	stop := int(app.StopTimeout.Seconds())
	grace := func(n int) []string {
		return []string{"--set", "preStopSleepSeconds=15", "--set", fmt.Sprintf("terminationGracePeriodSeconds=%d", n)}
	}
	if _, err := helmTemplate(t, "t", "shop", grace(15+stop)...); err == nil || !strings.Contains(err.Error(), "terminationGracePeriodSeconds") {
		t.Errorf("grace period of preStop + the %d s stop timeout rendered (%v); the kubelet would kill pods still draining", stop, err)
	}
	if _, err := helmTemplate(t, "t", "shop", grace(15+stop+1)...); err != nil {
		t.Errorf("grace period longer than preStop + the %d s stop timeout refused: %v", stop, err)
	}
}

// TestChartPeerOutsideTheRelease: a component this release does not run is
// reached where config says (the chart sets RUSH_PEER_* only for its own).
func TestChartPeerOutsideTheRelease(t *testing.T) {
	t.Parallel()
	r := render(t, "t", "shop", "--set", "components.catalog.enabled=false", "--set", "config.RUSH_PEER_CATALOG=catalog.shared:9082")
	cm := find(typed[corev1.ConfigMap](r, "ConfigMap"), func(c *corev1.ConfigMap) string { return c.Name }, "t-rush")
	if got := cm.Data["RUSH_PEER_CATALOG"]; got != "catalog.shared:9082" {
		t.Errorf("RUSH_PEER_CATALOG=%q, want the configured catalog.shared:9082", got)
	}
}

// existingSecret is what the production values' secrets.existingSecret
// holds, as the chart README's kubectl create secret example makes it.
var existingSecret = map[string]string{
	"RUSH_POSTGRES_URL":          "postgres://rush:pw@db.example:5432/rush?sslmode=require",
	"RUSH_REDIS_URL":             "rediss://:pw@redis.example:6380/0",
	"RUSH_JWT_SECRET":            "0123456789abcdef0123456789abcdef0123456789abcdef",
	"RUSH_ADMIN_PASSWORD":        "admin-pass-1",
	"RUSH_STRIPE_SECRET_KEY":     "sk_live_x",
	"RUSH_STRIPE_WEBHOOK_SECRET": "whsec_x",
	"RUSH_SMTP_PASSWORD":         "smtp-pass",
}

// TestChartRendersWhatRushAccepts loads, for every rush Deployment the chart
// renders, the configuration its pods would start with (the ConfigMap, the
// Secret, the container's env and args) the way the binary does: it must be
// valid, and every RUSH_* variable must be a setting of rush (else the
// binary ignores it). Values the binary would refuse in every pod (an admin
// e-mail without its password, an SMTP password without a user) must be
// refused by the render instead of crash-looping the whole release.
func TestChartRendersWhatRushAccepts(t *testing.T) {
	t.Parallel()
	prod := []string{"-f", "values-production.yaml"}
	for name, c := range map[string]struct {
		args   []string
		refuse string // the render must fail saying this; "": it must render what rush accepts
	}{
		"default":                  {},
		"production":               {args: prod},
		"public host":              {args: []string{"--set", "ingress.enabled=true", "--set", "ingress.host=tickets.shop.example", "--set", "config.RUSH_EDGE_TRUSTED_PROXIES=10.0.0.0/8"}},
		"admin":                    {args: []string{"--set", "config.RUSH_ADMIN_EMAIL=admin@shop.example", "--set", "secrets.adminPassword=admin-pass-1"}},
		"smtp auth":                {args: []string{"--set", "config.RUSH_SMTP_ADDR=smtp.example:587", "--set", "config.RUSH_SMTP_USERNAME=tickets", "--set", "secrets.smtpPassword=pw"}},
		"admin without password":   {args: []string{"--set", "config.RUSH_ADMIN_EMAIL=admin@shop.example"}, refuse: "secrets.adminPassword"},
		"admin password too short": {args: []string{"--set", "config.RUSH_ADMIN_EMAIL=admin@shop.example", "--set", "secrets.adminPassword=short"}, refuse: "secrets.adminPassword"},
		"password without admin":   {args: []string{"--set", "secrets.adminPassword=admin-pass-1"}, refuse: "config.RUSH_ADMIN_EMAIL"},
		"smtp password, no user":   {args: []string{"--set", "secrets.smtpPassword=pw"}, refuse: "config.RUSH_SMTP_USERNAME"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if c.refuse != "" {
				if _, err := helmTemplate(t, "t", "shop", c.args...); err == nil || !strings.Contains(err.Error(), c.refuse) {
					t.Fatalf("want the render refused naming %s, got %v", c.refuse, err)
				}
				return
			}
			r := render(t, "t", "shop", c.args...)
			for _, d := range typed[appsv1.Deployment](r, "Deployment") {
				if d.Labels[componentLabel] == webComponent {
					continue
				}
				checkRushAccepts(t, r, d)
			}
		})
	}
}

// checkRushAccepts loads d's configuration as its pods' rush would.
func checkRushAccepts(t *testing.T, r *rendered, d *appsv1.Deployment) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm := find(typed[corev1.ConfigMap](r, "ConfigMap"), func(c *corev1.ConfigMap) string { return c.Name }, from.ConfigMapRef.Name)
			if cm == nil {
				t.Fatalf("%s reads ConfigMap %s, which is not rendered", d.Name, from.ConfigMapRef.Name)
			}
			maps.Copy(env, cm.Data)
		case from.SecretRef != nil:
			s := find(typed[corev1.Secret](r, "Secret"), func(s *corev1.Secret) string { return s.Name }, from.SecretRef.Name)
			if s == nil {
				maps.Copy(env, existingSecret) // secrets.existingSecret, made by the operator
				continue
			}
			for k, v := range s.Data {
				env[k] = string(v)
			}
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	var cfg app.Config
	fs := flag.NewFlagSet("rush", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := config.Load(&cfg, fs, c.Args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Errorf("%s: rush refuses the configuration its pods get: %v", d.Name, err)
		return
	}
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	if unknown := config.UnknownEnv(fs, environ); len(unknown) > 0 {
		t.Errorf("%s: the chart sets %v, which no setting of rush reads", d.Name, unknown)
	}
}

// TestChartReadmeNamesEveryTopic: rush creates a missing topic with the
// broker's default partition count (often 1, pinning a consumer group to one
// pod), so the chart README tells operators to create every topic first; the
// list must hold every topic of services/platform/topic.
func TestChartReadmeNamesEveryTopic(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "../../services/platform/topic/topic.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var topics []string
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			name, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			topics = append(topics, name)
		}
		return true
	})
	if len(topics) < 5 {
		t.Fatalf("found only topics %v in services/platform/topic", topics)
	}
	readme, err := os.ReadFile(charttest.ChartDir() + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, caveat, ok := strings.Cut(string(readme), "**broker's default** partition count")
	if !ok {
		t.Fatal("the chart README no longer says rush creates missing topics with the broker's default partition count")
	}
	caveat, _, _ = strings.Cut(caveat, "\n- ")
	for _, topic := range topics {
		if !strings.Contains(caveat, "`"+topic+"`") {
			t.Errorf("the chart README's list of topics to create first lacks %s", topic)
		}
	}
}

// TestChartNewComponent checks that a new target is one values entry away.
func TestChartNewComponent(t *testing.T) {
	t.Parallel()
	r := render(t, "t", "shop",
		"--set", "components.sweeper.enabled=true",
		"--set", "components.sweeper.resources.requests.cpu=50m",
		"--set", "components.sweeper.resources.limits.memory=64Mi",
		"--set", "components.sweeper.autoscaling.enabled=true",
		"--set", "components.sweeper.autoscaling.cpu=70",
		"--set", "components.catalog.enabled=false",
	)
	deps := typed[appsv1.Deployment](r, "Deployment")
	if find(deps, func(d *appsv1.Deployment) string { return d.Name }, "t-rush-sweeper") == nil {
		t.Error("no Deployment for the new sweeper component")
	}
	if find(deps, func(d *appsv1.Deployment) string { return d.Name }, "t-rush-catalog") != nil {
		t.Error("disabled catalog still has a Deployment")
	}
	for _, kind := range []string{"Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"} {
		found := false
		for _, o := range r.all(kind) {
			found = found || metaOf(o).Name == "t-rush-sweeper"
		}
		if !found {
			t.Errorf("no %s for the new sweeper component", kind)
		}
	}
}

// checkChart asserts what every rendering must satisfy.
func checkChart(t *testing.T, r *rendered, targets []string) {
	t.Helper()
	for kind, objs := range r.byKind {
		for _, o := range objs {
			if ns := metaOf(o).Namespace; ns != r.namespace && !(kind == "ConfigMap" && ns == "monitoring") {
				t.Errorf("%s %s is in namespace %q, want %q", kind, metaOf(o).Name, ns, r.namespace)
			}
		}
	}
	configMaps := typed[corev1.ConfigMap](r, "ConfigMap")
	cm := find(configMaps, func(c *corev1.ConfigMap) string { return c.Name }, fullname(r))
	if cm == nil {
		t.Fatalf("no ConfigMap %s", fullname(r))
	}
	if cm.Data["RUSH_POSTGRES_MIGRATE_ON_START"] != "false" {
		t.Error("Deployments would migrate on start; the Job does it")
	}
	if cm.Data["RUSH_KAFKA_BROKERS"] == "" {
		t.Error("RUSH_KAFKA_BROKERS empty: every pod would run its own in-process Kafka")
	}
	for _, secret := range secretSettings(t) {
		if _, ok := cm.Data[secret]; ok {
			t.Errorf("secret %s is in the ConfigMap", secret)
		}
	}

	deps := typed[appsv1.Deployment](r, "Deployment")
	services := typed[corev1.Service](r, "Service")
	pdbs := typed[policyv1.PodDisruptionBudget](r, "PodDisruptionBudget")
	policies := typed[networkingv1.NetworkPolicy](r, "NetworkPolicy")
	var seen []string
	for _, d := range deps {
		comp := d.Labels[componentLabel]
		if comp == webComponent {
			t.Run("deployment/web", func(t *testing.T) { checkWeb(t, r, d, services, pdbs, policies) })
			continue
		}
		seen = append(seen, comp)
		if !slices.Contains(targets, comp) {
			t.Errorf("Deployment %s runs %q, which is not a rush target (services/app)", d.Name, comp)
		}
		t.Run("deployment/"+comp, func(t *testing.T) {
			checkDeployment(t, r, d, cm)
			podLabels := labels.Set(d.Spec.Template.Labels)
			if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil || !sel.Matches(podLabels) {
				t.Errorf("selector %v does not match the pod labels (%v)", d.Spec.Selector, err)
			}

			svc := find(services, func(s *corev1.Service) string { return s.Name }, d.Name)
			if svc == nil {
				t.Fatalf("no Service %s", d.Name)
			}
			if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
				t.Errorf("Service selector %v does not match the pods", svc.Spec.Selector)
			}
			c := d.Spec.Template.Spec.Containers[0]
			for _, p := range svc.Spec.Ports {
				if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
					return cp.Name == p.TargetPort.String() && cp.ContainerPort == p.Port
				}) {
					t.Errorf("Service port %s (%d -> %s) has no matching container port", p.Name, p.Port, p.TargetPort.String())
				}
			}
			if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "metrics" }) {
				t.Error("Service does not expose the metrics port")
			}

			pdb := find(pdbs, func(p *policyv1.PodDisruptionBudget) string { return p.Name }, d.Name)
			if pdb == nil {
				t.Fatal("no PodDisruptionBudget")
			}
			if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || !sel.Matches(podLabels) {
				t.Errorf("PodDisruptionBudget selector does not match the pods (%v)", err)
			}
			if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
				t.Error("PodDisruptionBudget has no budget")
			}

			np := find(policies, func(p *networkingv1.NetworkPolicy) string { return p.Name }, d.Name)
			if np == nil {
				t.Fatal("no NetworkPolicy")
			}
			checkNetworkPolicy(t, r, np, c, comp)
		})
	}
	for _, target := range targets {
		if !slices.Contains(seen, target) {
			t.Errorf("target %q (services/app) has no Deployment", target)
		}
	}
	checkHelmTest(t, r, deps)

	deny := find(policies, func(p *networkingv1.NetworkPolicy) string { return p.Name }, fullname(r)+"-default-deny")
	if deny == nil || len(deny.Spec.Ingress) != 0 || !slices.Contains(deny.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("no default-deny ingress policy: %+v", deny)
	}

	jobs := typed[batchv1.Job](r, "Job")
	if len(jobs) != 1 {
		t.Fatalf("want one migration Job, got %d", len(jobs))
	}
	job := jobs[0]
	if got := job.Annotations["helm.sh/hook"]; got != "pre-install,pre-upgrade" {
		t.Errorf("migration Job hook %q, want pre-install,pre-upgrade", got)
	}
	if !strings.Contains(job.Annotations["helm.sh/hook-delete-policy"], "before-hook-creation") {
		t.Error("migration Job is not replaced on the next upgrade (hook-delete-policy)")
	}
	if args := job.Spec.Template.Spec.Containers[0].Args; !slices.Equal(args, []string{"migrate"}) {
		t.Errorf("migration Job args %v, want [migrate]", args)
	}
	checkSecurity(t, &job.Spec.Template.Spec)
	for _, s := range typed[corev1.Secret](r, "Secret") {
		if s.Annotations["helm.sh/hook"] == "" {
			continue
		}
		w, _ := strconv.Atoi(s.Annotations["helm.sh/hook-weight"])
		jw, _ := strconv.Atoi(job.Annotations["helm.sh/hook-weight"])
		if w >= jw {
			t.Errorf("hook Secret %s (weight %d) is not created before the Job (weight %d)", s.Name, w, jw)
		}
	}
}

// checkHelmTest asserts `helm test` runs one Pod that asks every
// component's /readyz on its Service's metrics port.
func checkHelmTest(t *testing.T, r *rendered, deps []*appsv1.Deployment) {
	t.Helper()
	var tests []*corev1.Pod
	for _, p := range typed[corev1.Pod](r, "Pod") {
		if p.Annotations["helm.sh/hook"] == "test" {
			tests = append(tests, p)
		}
	}
	if len(tests) != 1 {
		t.Fatalf("want one helm test Pod, got %d", len(tests))
	}
	pod := tests[0]
	checkSecurity(t, &pod.Spec)
	args := pod.Spec.Containers[0].Args
	if len(args) == 0 || args[0] != "probe" {
		t.Fatalf("helm test args %v, want rush probe", args)
	}
	for _, d := range deps {
		want := fmt.Sprintf("http://%s:9100/readyz", d.Name)
		if d.Labels["app.kubernetes.io/component"] == webComponent {
			want = fmt.Sprintf("http://%s:3000/login", d.Name) // the web app's sign-in page
		}
		if !slices.Contains(args, want) {
			t.Errorf("helm test does not ask %s", want)
		}
	}
	if len(args)-1 != len(deps) {
		t.Errorf("helm test asks %d URLs for %d deployments", len(args)-1, len(deps))
	}
}

// TestChartAdmitsNamedNamespaces: networkPolicy.internalFromNamespaces opens
// the Connect ports, and only them, to other teams' namespaces.
func TestChartAdmitsNamedNamespaces(t *testing.T) {
	t.Parallel()
	r := render(t, "t", "shop", "--set", "networkPolicy.internalFromNamespaces={team-a,team-b}")
	r.internalFrom = []string{"team-a", "team-b"}
	checkChart(t, r, targets(t))
}

// webComponent labels the web app's objects; it is no rush target.
const webComponent = "web"

// checkWeb asserts the web app's Deployment is as safe as the rush ones and
// wired to the edge, with its Service, budget and network policy.
func checkWeb(t *testing.T, r *rendered, d *appsv1.Deployment, services []*corev1.Service, pdbs []*policyv1.PodDisruptionBudget, policies []*networkingv1.NetworkPolicy) {
	t.Helper()
	spec := &d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if !strings.Contains(c.Image, "rush-web:") {
		t.Errorf("web image %q", c.Image)
	}
	checkSecurity(t, spec)
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/app/.next/cache" }) {
		t.Error("no writable .next/cache on a read-only root filesystem: ISR pages could not be stored")
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if want := fmt.Sprintf("http://%s-edge:8080", fullname(r)); env["RUSH_API_URL"] != want {
		t.Errorf("RUSH_API_URL=%q, want %q", env["RUSH_API_URL"], want)
	}
	if env["WEB_COOKIE_SECURE"] != "true" {
		t.Errorf("WEB_COOKIE_SECURE=%q: session cookies must be Secure", env["WEB_COOKIE_SECURE"])
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.LivenessProbe == nil || c.StartupProbe == nil {
		t.Error("web probes missing")
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("no memory limit")
	}
	// The metrics listener (web/README.md, "Metrics") on the port every
	// component's metrics are on, never on the public one.
	if env["RUSH_WEB_METRICS_ADDR"] != ":9100" {
		t.Errorf("RUSH_WEB_METRICS_ADDR=%q, want :9100", env["RUSH_WEB_METRICS_ADDR"])
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if want := map[string]int32{"http": 3000, "metrics": 9100}; !maps.Equal(ports, want) {
		t.Errorf("web container ports %v, want %v", ports, want)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	svc := find(services, func(s *corev1.Service) string { return s.Name }, d.Name)
	if svc == nil || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Fatalf("web Service %+v does not select the pods", svc)
	}
	served := map[string]int32{}
	for _, p := range svc.Spec.Ports {
		if ports[p.TargetPort.String()] != p.Port {
			t.Errorf("web Service port %s (%d -> %s) has no matching container port", p.Name, p.Port, p.TargetPort.String())
		}
		served[p.Name] = p.Port
	}
	// The ServiceMonitor scrapes every component Service's port named metrics.
	if !maps.Equal(served, ports) {
		t.Errorf("web Service ports %v, want %v (http, and metrics for the ServiceMonitor)", served, ports)
	}
	if find(pdbs, func(p *policyv1.PodDisruptionBudget) string { return p.Name }, d.Name) == nil {
		t.Error("no PodDisruptionBudget for the web app")
	}
	np := find(policies, func(p *networkingv1.NetworkPolicy) string { return p.Name }, d.Name)
	if np == nil || len(np.Spec.Ingress) != 2 {
		t.Fatalf("web NetworkPolicy %+v: want a rule for the app's port and one for its metrics", np)
	}
	if np.Spec.Ingress[0].Ports[0].Port.IntVal != ports["http"] {
		t.Errorf("web NetworkPolicy %+v does not open its port", np)
	}
	metrics := np.Spec.Ingress[1]
	if len(metrics.Ports) != 1 || metrics.Ports[0].Port.IntVal != ports["metrics"] || len(metrics.From) != 1 || metrics.From[0].PodSelector != nil ||
		metrics.From[0].NamespaceSelector == nil || metrics.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
		t.Errorf("web metrics port open to %+v, want the monitoring namespace only", metrics)
	}
}

// TestChartPublicHost checks the one-host options: the web app at / and the
// API at /api/v1, as an Ingress or an HTTPRoute, and the links of the reset
// and waitlist-offer mails.
func TestChartPublicHost(t *testing.T) {
	t.Parallel()
	t.Run("ingress", func(t *testing.T) {
		t.Parallel()
		r := render(t, "t", "shop", "--set", "ingress.enabled=true", "--set", "ingress.host=tickets.shop.example", "--set", "config.RUSH_EDGE_TRUSTED_PROXIES=10.0.0.0/8", "--set", "ingress.tlsSecretName=tls")
		ings := typed[networkingv1.Ingress](r, "Ingress")
		if len(ings) != 1 || len(ings[0].Spec.Rules) != 1 {
			t.Fatalf("want one Ingress with one rule, got %+v", ings)
		}
		rule := ings[0].Spec.Rules[0]
		got := map[string]string{}
		for _, p := range rule.HTTP.Paths {
			got[p.Path] = fmt.Sprintf("%s:%d", p.Backend.Service.Name, p.Backend.Service.Port.Number)
		}
		want := map[string]string{"/api/v1": "t-rush-edge:8080", "/": "t-rush-web:3000"}
		if rule.Host != "tickets.shop.example" || !maps.Equal(got, want) {
			t.Errorf("Ingress routes %s %v, want %v", rule.Host, got, want)
		}
		if len(ings[0].Spec.TLS) != 1 || ings[0].Spec.TLS[0].SecretName != "tls" {
			t.Errorf("Ingress TLS %+v", ings[0].Spec.TLS)
		}
		cm := find(typed[corev1.ConfigMap](r, "ConfigMap"), func(c *corev1.ConfigMap) string { return c.Name }, "t-rush")
		if cm.Data["RUSH_AUTH_RESET_URL"] != "https://tickets.shop.example/reset-password" {
			t.Errorf("reset mails link to %q, want the web app's page on the host", cm.Data["RUSH_AUTH_RESET_URL"])
		}
		if cm.Data["RUSH_NOTIFY_WEB_URL"] != "https://tickets.shop.example" {
			t.Errorf("waitlist offers link to %q, want the web app on the host", cm.Data["RUSH_NOTIFY_WEB_URL"])
		}
	})
	t.Run("gateway api", func(t *testing.T) {
		t.Parallel()
		r := render(t, "t", "shop", "--set", "gatewayAPI.enabled=true", "--set", "gatewayAPI.host=tickets.shop.example", "--set", "config.RUSH_EDGE_TRUSTED_PROXIES=10.0.0.0/8")
		routes := typed[httpRoute](r, "HTTPRoute")
		if len(routes) != 1 {
			t.Fatalf("want one HTTPRoute, got %d", len(routes))
		}
		rt := routes[0]
		got := map[string]string{}
		for _, rule := range rt.Spec.Rules {
			got[rule.Matches[0].Path.Value] = fmt.Sprintf("%s:%d", rule.BackendRefs[0].Name, *rule.BackendRefs[0].Port)
		}
		want := map[string]string{"/api/v1": "t-rush-edge:8080", "/": "t-rush-web:3000"}
		if !slices.Equal(rt.Spec.Hostnames, []string{"tickets.shop.example"}) || !maps.Equal(got, want) || len(rt.Spec.ParentRefs) == 0 {
			t.Errorf("HTTPRoute %v routes %v, want %v", rt.Spec.Hostnames, got, want)
		}
		cm := find(typed[corev1.ConfigMap](r, "ConfigMap"), func(c *corev1.ConfigMap) string { return c.Name }, "t-rush")
		if cm.Data["RUSH_AUTH_RESET_URL"] != "https://tickets.shop.example/reset-password" || cm.Data["RUSH_NOTIFY_WEB_URL"] != "https://tickets.shop.example" {
			t.Errorf("mails link to %q and %q, want the web app on the host", cm.Data["RUSH_AUTH_RESET_URL"], cm.Data["RUSH_NOTIFY_WEB_URL"])
		}
	})
	t.Run("not both", func(t *testing.T) {
		t.Parallel()
		if _, err := helmTemplate(t, "t", "shop", "--set", "ingress.enabled=true", "--set", "gatewayAPI.enabled=true"); err == nil || !strings.Contains(err.Error(), "not both") {
			t.Fatalf("want an error for both, got %v", err)
		}
	})
}

func fullname(r *rendered) string {
	if strings.Contains(r.release, "rush") {
		return r.release
	}
	return r.release + "-rush"
}

func checkDeployment(t *testing.T, r *rendered, d *appsv1.Deployment, cm *corev1.ConfigMap) {
	t.Helper()
	comp := d.Labels[componentLabel]
	spec := &d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if !slices.Contains(c.Args, "-target="+comp) {
		t.Errorf("args %v do not run -target=%s", c.Args, comp)
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[res]; !ok {
			t.Errorf("no %s request", res)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("no memory limit")
	}
	checkSecurity(t, spec)

	if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.StartupProbe == nil {
		t.Fatalf("probes missing: liveness %v readiness %v startup %v", c.LivenessProbe != nil, c.ReadinessProbe != nil, c.StartupProbe != nil)
	}
	portOf := func(name string) int32 {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
		return 0
	}
	switch {
	case portOf("grpc") != 0:
		// A Connect component: ready when gRPC health says SERVING on its port.
		g := c.ReadinessProbe.GRPC
		if g == nil || g.Port != portOf("grpc") {
			t.Errorf("readiness %+v, want a grpc probe on port %d", c.ReadinessProbe.ProbeHandler, portOf("grpc"))
		}
		addr := cm.Data["RUSH_"+strings.ToUpper(comp)+"_ADDR"]
		if addr != fmt.Sprintf(":%d", portOf("grpc")) {
			t.Errorf("RUSH_%s_ADDR=%q, but the container port is %d", strings.ToUpper(comp), addr, portOf("grpc"))
		}
		// Peers are reached through the headless Service: the mesh
		// client spreads calls over every pod it lists.
		peer := cm.Data["RUSH_PEER_"+strings.ToUpper(comp)]
		if want := fmt.Sprintf("%s-headless:%d", d.Name, portOf("grpc")); peer != want {
			t.Errorf("RUSH_PEER_%s=%q, want %q", strings.ToUpper(comp), peer, want)
		}
		headless := find(typed[corev1.Service](r, "Service"), func(s *corev1.Service) string { return s.Name }, d.Name+"-headless")
		if headless == nil || headless.Spec.ClusterIP != corev1.ClusterIPNone || len(headless.Spec.Ports) != 1 || headless.Spec.Ports[0].Port != portOf("grpc") ||
			!labels.SelectorFromSet(headless.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("no headless Service %s-headless selecting the pods on port %d: %+v", d.Name, portOf("grpc"), headless)
		}
	default:
		// The edge (its own HTTP port) and workers (the metrics port).
		checkHTTPProbe(t, "liveness", c.LivenessProbe, "/healthz")
		checkHTTPProbe(t, "readiness", c.ReadinessProbe, "/readyz")
		// The edge's liveness asks the metrics port's own listener: a
		// public port whose queue a sale fills is shed, not restarted.
		if portOf("http") != 0 && (c.LivenessProbe.HTTPGet.Port.String() != "metrics" || c.StartupProbe.HTTPGet == nil || c.StartupProbe.HTTPGet.Port.String() != "metrics") {
			t.Errorf("the edge's liveness and startup probes ask port %v and %v, want the metrics port", c.LivenessProbe.HTTPGet.Port.String(), c.StartupProbe.ProbeHandler)
		}
	}
	if portOf("metrics") == 0 {
		t.Error("no metrics port")
	}

	var refs []string
	for _, e := range c.EnvFrom {
		switch {
		case e.ConfigMapRef != nil:
			refs = append(refs, "ConfigMap/"+e.ConfigMapRef.Name)
		case e.SecretRef != nil:
			refs = append(refs, "Secret/"+e.SecretRef.Name)
		}
	}
	if !slices.Contains(refs, "ConfigMap/"+cm.Name) {
		t.Errorf("envFrom %v lacks the ConfigMap", refs)
	}
	if !slices.ContainsFunc(refs, func(s string) bool { return strings.HasPrefix(s, "Secret/") }) {
		t.Errorf("envFrom %v lacks a Secret", refs)
	}
}

func checkHTTPProbe(t *testing.T, what string, p *corev1.Probe, path string) {
	t.Helper()
	if p.HTTPGet == nil || p.HTTPGet.Path != path {
		t.Errorf("%s probe %+v, want GET %s", what, p.ProbeHandler, path)
	}
}

func checkSecurity(t *testing.T, spec *corev1.PodSpec) {
	t.Helper()
	pod := spec.SecurityContext
	if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot || pod.RunAsUser == nil || *pod.RunAsUser != nonRootUID {
		t.Errorf("pod security context %+v is not non-root uid %d", pod, nonRootUID)
	}
	if pod == nil || pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccomp profile is not RuntimeDefault")
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("service account token mounted; rush never calls the API server")
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Fatalf("container %s has no security context", c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("container %s: root filesystem writable", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("container %s: privilege escalation allowed", c.Name)
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != nonRootUID:
			t.Errorf("container %s: not non-root uid %d", c.Name, nonRootUID)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
			t.Errorf("container %s: capabilities not all dropped", c.Name)
		case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Errorf("container %s: seccomp not RuntimeDefault", c.Name)
		}
	}
}

func checkNetworkPolicy(t *testing.T, r *rendered, np *networkingv1.NetworkPolicy, c corev1.Container, comp string) {
	t.Helper()
	allowed := map[int32][]networkingv1.NetworkPolicyPeer{}
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			allowed[p.Port.IntVal] = rule.From
		}
	}
	for _, cp := range c.Ports {
		from, ok := allowed[cp.ContainerPort]
		if !ok {
			t.Errorf("NetworkPolicy does not open port %s (%d)", cp.Name, cp.ContainerPort)
			continue
		}
		switch cp.Name {
		case "metrics":
			// The monitoring namespace, and the helm test Pod of the release.
			if len(from) != 2 || from[0].NamespaceSelector == nil || from[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "" ||
				from[1].PodSelector == nil || from[1].PodSelector.MatchLabels[componentLabel] != "helm-test" || from[1].PodSelector.MatchLabels["app.kubernetes.io/instance"] != r.release {
				t.Errorf("metrics port open to %+v, want the monitoring namespace and the helm test only", from)
			}
		case "grpc":
			if len(from) < 1 || from[0].PodSelector == nil || from[0].PodSelector.MatchLabels["app.kubernetes.io/instance"] != r.release || from[0].NamespaceSelector != nil {
				t.Errorf("%s port open to %+v, want this release's pods", comp, from)
			}
			// Then only the namespaces named in internalFromNamespaces.
			var admitted []string
			for _, p := range from[1:] {
				if p.PodSelector != nil || p.NamespaceSelector == nil || len(p.NamespaceSelector.MatchLabels) != 1 {
					t.Errorf("%s port open to %+v besides the release's pods", comp, p)
					continue
				}
				admitted = append(admitted, p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
			}
			if !slices.Equal(admitted, r.internalFrom) {
				t.Errorf("%s port admits namespaces %v, want %v", comp, admitted, r.internalFrom)
			}
		}
	}
	if len(allowed) != len(c.Ports) {
		t.Errorf("NetworkPolicy opens %d ports, the container has %d", len(allowed), len(c.Ports))
	}
}

// checkAutoscaling asserts every component scales between 2 and 10 replicas
// with the plan's triggers and cool-down; with keda, Kafka consumers scale on lag.
func checkAutoscaling(t *testing.T, r *rendered, keda bool) {
	t.Helper()
	hpas := typed[autoscalingv2.HorizontalPodAutoscaler](r, "HorizontalPodAutoscaler")
	sos := typed[scaledObject](r, "ScaledObject")
	lagThreshold := map[string]string{"persister": "1000", "saga": "1000", "notify": "5000", "analytics": "5000", "gate": "5000"}
	for _, d := range typed[appsv1.Deployment](r, "Deployment") {
		comp := d.Labels[componentLabel]
		t.Run("autoscaling/"+comp, func(t *testing.T) {
			if d.Spec.Replicas != nil {
				t.Error("Deployment sets replicas although an autoscaler owns them")
			}
			hpa := find(hpas, func(h *autoscalingv2.HorizontalPodAutoscaler) string { return h.Spec.ScaleTargetRef.Name }, d.Name)
			so := find(sos, func(s *scaledObject) string { return s.Spec.ScaleTargetRef.Name }, d.Name)
			if (hpa == nil) == (so == nil) {
				t.Fatalf("want exactly one of HPA and ScaledObject, got HPA %v ScaledObject %v", hpa != nil, so != nil)
			}
			if want, isWorker := lagThreshold[comp]; keda && isWorker {
				if so == nil {
					t.Fatal("Kafka consumer without a KEDA ScaledObject although keda.enabled")
				}
				checkReplicas(t, *so.Spec.MinReplicaCount, *so.Spec.MaxReplicaCount)
				if so.Spec.Advanced == nil || so.Spec.Advanced.HorizontalPodAutoscalerConfig == nil {
					t.Fatal("ScaledObject has no HPA behavior")
				}
				checkBehavior(t, so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior)
				i := slices.IndexFunc(so.Spec.Triggers, func(tr kedaTrigger) bool {
					return tr.Type == "kafka"
				})
				if i < 0 {
					t.Fatal("no kafka trigger")
				}
				md := so.Spec.Triggers[i].Metadata
				if md["lagThreshold"] != want || md["bootstrapServers"] == "" {
					t.Errorf("kafka trigger %v, want lagThreshold %s with brokers", md, want)
				}
				checkConsumerGroup(t, comp, md)
				return
			}
			if hpa == nil {
				t.Fatal("no HorizontalPodAutoscaler")
			}
			checkReplicas(t, *hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
			checkBehavior(t, hpa.Spec.Behavior)
			wantCPU := int32(70)
			if comp == "booking" {
				wantCPU = 60
			}
			var cpu int32
			var pods *autoscalingv2.PodsMetricSource
			for _, m := range hpa.Spec.Metrics {
				if m.Resource != nil && m.Resource.Name == corev1.ResourceCPU {
					cpu = *m.Resource.Target.AverageUtilization
				}
				if m.Pods != nil {
					pods = m.Pods
				}
			}
			if cpu != wantCPU {
				t.Errorf("CPU target %d%%, want %d%%", cpu, wantCPU)
			}
			if comp == "booking" && keda {
				// Production: booking also scales on requests per second.
				if pods == nil || pods.Target.AverageValue == nil || pods.Target.AverageValue.Value() != 5000 {
					t.Fatalf("booking has no requests/s trigger of 5000: %+v", pods)
				}
				checkAdapterRule(t, r, pods.Metric.Name)
			}
		})
	}
	for _, so := range sos {
		if comp := so.Labels[componentLabel]; consumers[comp].group == "" {
			t.Errorf("ScaledObject %s scales %s on Kafka lag, but %s joins no consumer group", so.Name, comp, comp)
		}
	}
}

// consumers are the Kafka consumer groups the code joins, by component, and
// the topics each reads: the constants the services pass to NewBatchRunner.
var consumers = map[string]struct {
	group  string
	topics []string
}{
	"persister": {booking.PersisterGroup, booking.PersisterTopics},
	"catalog":   {catalog.CountersGroup, catalog.CountersTopics},
	"saga":      {saga.ConsumerGroup, saga.ConsumedTopics},
	"notify":    {notify.ConsumerGroup, notify.ConsumedTopics},
	"analytics": {analytics.ConsumerGroup, analytics.ConsumedTopics},
	"gate":      {gate.ConsumerGroup, gate.ConsumedTopics},
}

// checkConsumerGroup asserts a KEDA kafka trigger watches the group comp
// joins, on a topic it reads (or every topic of the group): a group nobody
// joins has no committed offsets, and with offsetResetPolicy earliest KEDA
// counts the whole topic as lag, pinning the component at its maximum.
func checkConsumerGroup(t *testing.T, comp string, md map[string]string) {
	t.Helper()
	c, ok := consumers[comp]
	if !ok {
		t.Errorf("kafka trigger on %s, which consumes no topic", comp)
		return
	}
	if md["consumerGroup"] != c.group {
		t.Errorf("kafka trigger watches group %q; %s joins %q", md["consumerGroup"], comp, c.group)
	}
	if topic := md["topic"]; topic != "" && !slices.Contains(c.topics, topic) {
		t.Errorf("kafka trigger watches topic %q; group %s reads %v", topic, c.group, c.topics)
	}
	if md["offsetResetPolicy"] != "earliest" {
		// The consumers start at the oldest offset (kafka.Cluster).
		t.Errorf("offsetResetPolicy %q, want earliest as the consumers", md["offsetResetPolicy"])
	}
}

// checkAdapterRule asserts the rendered prometheus-adapter rule serves the
// HPA's metric from the counter booking exports, restricted to booking's RPCs
// (the rule once read http_requests_total, which only the edge exports: the
// HPA never saw the metric and could not scale down).
func checkAdapterRule(t *testing.T, r *rendered, metric string) {
	t.Helper()
	cm := find(typed[corev1.ConfigMap](r, "ConfigMap"), func(c *corev1.ConfigMap) string { return c.Name }, fullname(r)+"-prometheus-adapter-rules")
	if cm == nil {
		t.Fatal("no prometheus-adapter rules ConfigMap")
	}
	var rules []struct {
		SeriesQuery string `json:"seriesQuery"`
		Resources   struct {
			Overrides map[string]struct {
				Resource string `json:"resource"`
			} `json:"overrides"`
		} `json:"resources"`
		Name struct {
			Matches string `json:"matches"`
			As      string `json:"as"`
		} `json:"name"`
		MetricsQuery string `json:"metricsQuery"`
	}
	if err := yaml.UnmarshalStrict([]byte(cm.Data["rules.yaml"]), &rules); err != nil {
		t.Fatalf("rules.yaml: %v", err)
	}
	if len(rules) != 1 {
		t.Fatalf("want one rule, got %d", len(rules))
	}
	rule := rules[0]
	booking := "procedure=~\"/" + bookingv1connect.BookingServiceName + "/.*\""
	if !strings.HasPrefix(rule.SeriesQuery, server.RPCRequestsMetric+"{") || !strings.Contains(rule.SeriesQuery, booking) {
		t.Errorf("seriesQuery %q does not select %s of booking (%s)", rule.SeriesQuery, server.RPCRequestsMetric, booking)
	}
	if rule.Name.Matches != "^"+server.RPCRequestsMetric+"$" || rule.Name.As != metric {
		t.Errorf("rule names %q as %q, want %s as the HPA's %q", rule.Name.Matches, rule.Name.As, server.RPCRequestsMetric, metric)
	}
	if !strings.Contains(rule.MetricsQuery, "rate(<<.Series>>{<<.LabelMatchers>>,"+booking+"}") {
		t.Errorf("metricsQuery %q is not a rate of booking's RPCs", rule.MetricsQuery)
	}
	for label, res := range map[string]string{"namespace": "namespace", "pod": "pod"} {
		if rule.Resources.Overrides[label].Resource != res {
			t.Errorf("label %s is not mapped to the %s resource: %+v", label, res, rule.Resources.Overrides)
		}
	}
}

func checkReplicas(t *testing.T, lo, hi int32) {
	t.Helper()
	if lo < minReplicas || hi != maxReplicas {
		t.Errorf("replicas %d..%d, want at least %d up to %d", lo, hi, minReplicas, maxReplicas)
	}
}

func checkBehavior(t *testing.T, b *autoscalingv2.HorizontalPodAutoscalerBehavior) {
	t.Helper()
	if b == nil || b.ScaleDown == nil || b.ScaleDown.StabilizationWindowSeconds == nil || *b.ScaleDown.StabilizationWindowSeconds != coolDown {
		t.Errorf("scale-down stabilization is not the %d s cool-down: %+v", coolDown, b)
	}
}

// checkAlertsDocumented asserts the repository README's alerts table (the
// operators' runbook) has a row for every alert of the PrometheusRule, with
// the severity it fires at, and none for an alert the rule lacks.
func checkAlertsDocumented(t *testing.T, severity map[string]string) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(Rush[A-Za-z]+)` \\|[^|]*\\| ([a-z]+) \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = m[2]
	}
	if !maps.Equal(documented, severity) {
		t.Errorf("README.md's alerts table says (alert: severity)\n%v\nthe PrometheusRule has\n%v", documented, severity)
	}
}

// checkDashboard asserts the Grafana dashboard is labelled for the sidecar
// and has the panels of the issue, each querying the metric it is named for.
func checkDashboard(t *testing.T, r *rendered, namespace string) {
	t.Helper()
	var dash *corev1.ConfigMap
	for _, cm := range typed[corev1.ConfigMap](r, "ConfigMap") {
		if cm.Labels["grafana_dashboard"] == "1" {
			dash = cm
		}
	}
	if dash == nil {
		t.Fatal("no ConfigMap labelled grafana_dashboard=1")
	}
	if dash.Namespace != namespace {
		t.Errorf("dashboard in %q, want %q", dash.Namespace, namespace)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var board struct {
		Title  string  `json:"title"`
		Panels []panel `json:"panels"`
	}
	dec := json.NewDecoder(strings.NewReader(dash.Data["rush.json"]))
	if err := dec.Decode(&board); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	for title, metric := range map[string]string{
		"Reserve rate":         "booking_reservations_total",
		"p99 latency":          "http_request_duration_seconds_bucket",
		"Error rate":           "http_requests_total",
		"Holds active":         "active_reservations",
		"Sold-out answers":     `booking_reservation_failures_total{namespace=~"$namespace", code="INSUFFICIENT_STOCK"}`,
		"Kafka consumer lag":   "kafka_consumer_lag",
		"Saga outcomes":        "saga_outcomes_total",
		"Payments and refunds": "payment_outcomes_total",
		"Money left open":      "payment_unsettled_payments",
		"Mails":                "rush_notify_deliveries_total",
	} {
		i := slices.IndexFunc(board.Panels, func(p panel) bool {
			return p.Title == title
		})
		if i < 0 {
			t.Errorf("dashboard has no panel %q", title)
			continue
		}
		if len(board.Panels[i].Targets) == 0 || !strings.Contains(board.Panels[i].Targets[0].Expr, metric) {
			t.Errorf("panel %q does not query %s: %+v", title, metric, board.Panels[i].Targets)
		}
	}
}
