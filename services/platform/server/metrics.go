package server

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

// RPCRequestsMetric is the counter of RPCs a server answered, by procedure and
// code. The chart's prometheus-adapter rule builds booking's requests/s from
// it (deploy/k8s/chart_test.go checks the rendered rule names it).
const RPCRequestsMetric = "rpc_server_requests_total"

// rpcMetrics counts and times every RPC a server of this process answers:
// rate, errors (by code) and duration per procedure.
type rpcMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newRPCMetrics(reg prometheus.Registerer) (*rpcMetrics, error) {
	m := &rpcMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: RPCRequestsMetric, Help: "RPCs answered, by procedure and code (ok or the Connect error code).",
		}, []string{"procedure", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rpc_server_duration_seconds", Help: "Time to answer an RPC, by procedure.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"procedure"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
				switch existing := are.ExistingCollector.(type) {
				case *prometheus.CounterVec:
					m.requests = existing
				case *prometheus.HistogramVec:
					m.duration = existing
				}
				continue
			}
			return nil, err
		}
	}
	return m, nil
}

// interceptor records unary RPCs only: a streaming RPC (WatchQueueStatus)
// lives as long as its watcher, and its "duration" in the histogram would
// trip every latency alert of a queued sale.
func (m *rpcMetrics) interceptor() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if req.Spec().IsClient {
				return next(ctx, req)
			}
			start := time.Now()
			res, err := next(ctx, req)
			code := "ok"
			if err != nil {
				code = connect.CodeOf(err).String()
			}
			p := req.Spec().Procedure
			m.requests.WithLabelValues(p, code).Inc()
			m.duration.WithLabelValues(p).Observe(time.Since(start).Seconds())
			return res, err
		}
	})
}
