package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/worker"
)

// newMetrics returns a Prometheus registry with the Go and process collectors, the worker's
// metrics, and the matcher's size, change sequence and lag behind the store's change feed.
func newMetrics(m *index.Matcher, s index.Store) (*prometheus.Registry, *worker.Metrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "aura_matcher_works", Help: "Works the in-memory matcher holds.",
		}, func() float64 { return float64(m.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "aura_matcher_seq", Help: "Last registry change applied by the matcher; compare with the store's feed.",
		}, func() float64 { return float64(m.Seq()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "aura_matcher_feed_lag",
			Help: "Registry changes the matcher has not applied yet (at most 1000 are counted); -1 when the store does not answer.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
			defer cancel()
			cs, err := s.Changes(ctx, m.Seq(), index.MaxPageSize)
			if err != nil {
				return -1
			}
			return float64(len(cs))
		}),
	)
	return reg, worker.NewMetrics(reg)
}

// readiness is one named check of /readyz; it returns nil when ready.
type readiness struct {
	name  string
	check func(ctx context.Context) error
}

// readyTimeout bounds each readiness check.
const readyTimeout = 2 * time.Second

// opsHandler serves /metrics (Prometheus), /livez (the process answers) and /readyz (every
// check passes: 200, else 503, with a JSON body naming each check's state).
func opsHandler(reg *prometheus.Registry, checks []readiness) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		body := struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}{Status: "ok", Checks: map[string]string{}}
		for _, c := range checks {
			if err := c.check(ctx); err != nil {
				body.Status, body.Checks[c.name] = "unavailable", err.Error()
			} else {
				body.Checks[c.name] = "ok"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		if body.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	return mux
}

// errNotReady is a readiness failure with a fixed text.
type errNotReady string

func (e errNotReady) Error() string { return string(e) }

// matcherReady fails until the matcher has loaded the registry.
func matcherReady(m *index.Matcher) readiness {
	return readiness{"matcher", func(context.Context) error {
		select {
		case <-m.Ready():
			return nil
		default:
			return errNotReady("loading the registry")
		}
	}}
}

// storeReady pings the store.
func storeReady(s index.Store) readiness {
	return readiness{"store", s.Ping}
}

// workerReady fails unless the worker is taking submissions.
func workerReady(w *worker.Worker) readiness {
	return readiness{"worker", func(context.Context) error {
		if !w.Consuming() {
			return errNotReady("not consuming")
		}
		return nil
	}}
}

// serveHTTP serves srv on ln until ctx ends, then shuts it down, letting requests in flight
// finish within timeout.
func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-served
	return err
}
