{{/* Names, labels and the derived connection settings shared by every template. */}}

{{- define "rush.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* rush.fullname prefixes every object; component objects append -<target>. */}}
{{- define "rush.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "rush.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* rush.selectorLabels selects every pod of the release (network policies). */}}
{{- define "rush.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rush.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rush.labels" -}}
helm.sh/chart: {{ include "rush.chart" . }}
{{ include "rush.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: rush
{{- end -}}

{{/* Component helpers take (dict "root" $ "name" $name). */}}
{{- define "rush.componentName" -}}
{{- printf "%s-%s" (include "rush.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rush.componentSelectorLabels" -}}
{{ include "rush.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "rush.componentLabels" -}}
{{ include "rush.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "rush.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "rush.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rush.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "rush.secretName" -}}
{{- default (include "rush.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/*
rush.secretKeys: the RUSH_* settings that hold a credential (config.Sensitive
in the binary: its secrets and the URLs that may carry a password). They
belong in the Secret, never in the ConfigMap nor in a pod spec's env;
deploy/k8s/chart_test.go fails when the binary has one this list lacks.
*/}}
{{- define "rush.secretKeys" -}}
RUSH_POSTGRES_URL RUSH_REDIS_URL RUSH_JWT_SECRET RUSH_ADMIN_PASSWORD RUSH_STRIPE_SECRET_KEY RUSH_STRIPE_WEBHOOK_SECRET RUSH_SMTP_PASSWORD RUSH_NOTIFY_TICKET_SECRET
{{- end -}}

{{/* rush.envName turns a target name into its env suffix: queue-admitter -> QUEUE_ADMITTER. */}}
{{- define "rush.envName" -}}
{{- . | upper | replace "-" "_" | replace "." "_" -}}
{{- end -}}

{{/* rush.usesKeda is "true" when the component's autoscaling goes through a KEDA ScaledObject. */}}
{{- define "rush.usesKeda" -}}
{{- $a := .c.autoscaling | default dict -}}
{{- if and .root.Values.keda.enabled $a.enabled $a.kafka -}}
{{- if $a.kafka.consumerGroup -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* Connection settings: the bundled subcharts' services when enabled, else the external ones. */}}

{{/* rush.urlPassword escapes a password for a URL's userinfo: urlquery writes a space as "+", which a URL's userinfo keeps as a plus. */}}
{{- define "rush.urlPassword" -}}
{{- . | urlquery | replace "+" "%20" -}}
{{- end -}}
{{- define "rush.postgresUrl" -}}
{{- if .Values.postgresql.enabled -}}
{{- $auth := .Values.postgresql.auth | default dict -}}
{{- printf "postgres://%s:%s@%s-postgresql:5432/%s?sslmode=disable" ($auth.username | default "rush") ($auth.password | required "postgresql.auth.password is required with postgresql.enabled" | include "rush.urlPassword") .Release.Name ($auth.database | default "rush") -}}
{{- else -}}
{{- required "externalPostgres.url is required" .Values.externalPostgres.url -}}
{{- end -}}
{{- end -}}

{{- define "rush.redisUrl" -}}
{{- if .Values.redis.enabled -}}
{{- $auth := .Values.redis.auth | default dict -}}
{{- /* Bitnami Redis turns auth on unless told otherwise, and makes up a password the URL would lack. */ -}}
{{- if and (hasKey $auth "enabled") (eq (toString $auth.enabled) "false") -}}
{{- printf "redis://%s-redis-master:6379/0" .Release.Name -}}
{{- else -}}
{{- printf "redis://:%s@%s-redis-master:6379/0" ($auth.password | required "redis.auth.password is required with redis.enabled (the bundled Redis enables auth by default); set redis.auth.enabled=false for a Redis without a password" | include "rush.urlPassword") .Release.Name -}}
{{- end -}}
{{- else -}}
{{- required "externalRedis.url is required" .Values.externalRedis.url -}}
{{- end -}}
{{- end -}}

{{- define "rush.kafkaBrokers" -}}
{{- if .Values.redpanda.enabled -}}
{{- printf "%s-redpanda:9093" .Release.Name -}}
{{- else -}}
{{- if not .Values.externalKafka.brokers -}}
{{- fail "externalKafka.brokers is required: without brokers every pod would run its own in-process Kafka" -}}
{{- end -}}
{{- join "," .Values.externalKafka.brokers -}}
{{- end -}}
{{- end -}}

{{/* rush.promSelector restricts alert and dashboard queries to this release's targets. */}}
{{- define "rush.promSelector" -}}
namespace="{{ .Release.Namespace }}", job=~"{{ include "rush.fullname" . }}-.+"
{{- end -}}

{{/* rush.hpaBehavior: scale out at once, scale in after the cool-down. */}}
{{- define "rush.hpaBehavior" -}}
scaleUp:
  stabilizationWindowSeconds: {{ .Values.scaling.scaleUpStabilizationSeconds }}
  selectPolicy: Max
  policies:
    - type: Percent
      value: 100
      periodSeconds: 15
    - type: Pods
      value: 4
      periodSeconds: 15
scaleDown:
  stabilizationWindowSeconds: {{ .Values.scaling.scaleDownStabilizationSeconds }}
  selectPolicy: Max
  policies:
    - type: Percent
      value: 50
      periodSeconds: 60
{{- end -}}

{{/* rush.publicHost is the host the Ingress or HTTPRoute serves, or "". */}}
{{- define "rush.publicHost" -}}
{{- if .Values.ingress.enabled -}}
{{- .Values.ingress.host -}}
{{- else if .Values.gatewayAPI.enabled -}}
{{- .Values.gatewayAPI.host -}}
{{- end -}}
{{- end -}}

{{/* Web app helpers. */}}
{{- define "rush.webName" -}}
{{- include "rush.componentName" (dict "root" . "name" "web") -}}
{{- end -}}

{{- define "rush.webImage" -}}
{{- printf "%s:%s" .Values.web.image.repository (default .Chart.AppVersion .Values.web.image.tag) -}}
{{- end -}}

{{/* rush.paymentProvider is the payment.provider the payment pods run with: their own env, else config, else rush's default. */}}
{{- define "rush.paymentProvider" -}}
{{- $env := (.Values.components.payment | default dict).env | default dict -}}
{{- coalesce (get $env "RUSH_PAYMENT_PROVIDER") .Values.config.RUSH_PAYMENT_PROVIDER "simulator" | toString -}}
{{- end -}}

{{/*
rush.checkPayments refuses payment settings the pods cannot work with: Stripe
without its keys in the chart's Secret (the payment pods would not start), and
a web app whose checkout does not match the provider (Stripe's Payment Element
against the simulator, or the simulator's test cards against Stripe: every
payment refused).
*/}}
{{- define "rush.checkPayments" -}}
{{- $payment := .Values.components.payment | default dict -}}
{{- if $payment.enabled -}}
{{- $provider := include "rush.paymentProvider" . -}}
{{- if not (has $provider (list "simulator" "stripe")) -}}
{{- fail (printf "payment.provider %q is neither simulator nor stripe (lower case): every rush pod would refuse to start" $provider) -}}
{{- end -}}
{{- $stripe := eq $provider "stripe" -}}
{{- if and $stripe (not .Values.secrets.existingSecret) (not (and .Values.secrets.stripeSecretKey .Values.secrets.stripeWebhookSecret)) -}}
{{- fail "payment.provider is stripe: set secrets.stripeSecretKey and secrets.stripeWebhookSecret (or RUSH_STRIPE_SECRET_KEY and RUSH_STRIPE_WEBHOOK_SECRET in secrets.existingSecret); without them the payment pods do not start" -}}
{{- end -}}
{{- $w := .Values.web -}}
{{- if and $w.enabled (not $w.apiURL) -}}
{{- $pk := coalesce $w.stripePublishableKey (get ($w.env | default dict) "STRIPE_PUBLISHABLE_KEY") -}}
{{- if and $stripe (not $pk) -}}
{{- fail "payment.provider is stripe but web.stripePublishableKey is empty: checkout would offer the simulator's test cards, which Stripe refuses; set web.stripePublishableKey (pk_...)" -}}
{{- end -}}
{{- if and (not $stripe) $pk -}}
{{- fail (printf "web.stripePublishableKey is set but payment.provider is %s: checkout would send Stripe's card payments to the simulator, which refuses them; set config.RUSH_PAYMENT_PROVIDER=stripe (and the Stripe secrets)" $provider) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
rush.checkSecrets refuses what every rush process refuses at start (so the
whole release would crash-loop) in the Secret the chart renders: the
bootstrap admin's e-mail without its password (or the reverse), an SMTP
password without its user. The chart cannot see secrets.existingSecret.
*/}}
{{- define "rush.checkSecrets" -}}
{{- if not .Values.secrets.existingSecret -}}
{{- $email := .Values.config.RUSH_ADMIN_EMAIL | default "" | toString -}}
{{- $pw := .Values.secrets.adminPassword | default "" | toString -}}
{{- if and $email (or (lt (len $pw) 8) (gt (len $pw) 72)) -}}
{{- fail "config.RUSH_ADMIN_EMAIL needs secrets.adminPassword, 8 to 72 bytes: without it every rush pod refuses to start (admin.password)" -}}
{{- end -}}
{{- if and $pw (not $email) -}}
{{- fail "secrets.adminPassword is set without config.RUSH_ADMIN_EMAIL: every rush pod would refuse to start (admin.password: set without admin.email)" -}}
{{- end -}}
{{- if and .Values.secrets.smtpPassword (not .Values.config.RUSH_SMTP_USERNAME) -}}
{{- fail "secrets.smtpPassword is set without config.RUSH_SMTP_USERNAME: every rush pod would refuse to start (smtp.password: set without smtp.username)" -}}
{{- end -}}
{{- end -}}
{{- end -}}
