// Package k8s holds the Kubernetes deployment of Booking Rush: the Helm chart
// in rush/. It has no Go code of its own; chart_test.go renders the chart and
// decodes every object strictly into the Kubernetes API types, because no
// schema validator can download its schemas here.
package k8s
