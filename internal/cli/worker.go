package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/retro"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/worker"
)

func init() {
	register(command{name: "worker", summary: "take submissions from NATS, publish verdicts", run: runWorker})
}

func runWorker(ctx context.Context, std IO, args []string) error {
	fs := newFlagSet(std, "worker", "[flags]")
	listen := fs.String("listen", "", `address of /metrics, /livez and /readyz ("127.0.0.1:9090"); empty: none`)
	logLevel := logLevelFlag(fs)
	retroOn := fs.Bool("retro", true, "match newly registered works against past uploads (every worker that does keeps the upload log in memory, 56 bytes an upload)")
	no := natsFlags(fs, defaultWorkerNATSURL)
	wo := workerFlags(fs)
	ro := registryFlags(fs)
	if err := fs.parseNoArgs(args); err != nil {
		return err
	}
	cc, err := no.config()
	if err != nil {
		return err
	}
	rc, err := ro.config()
	if err != nil {
		return err
	}
	wc, err := wo.config(rc.Hashing.MaxBytes)
	if err != nil {
		return err
	}
	log := jsonLogger(std, *logLevel)
	defer func() { _ = log.Sync() }()

	reg, err := ro.open(ctx, log)
	if err != nil {
		return err
	}
	defer reg.Close()
	deps, metrics, err := workerDeps(reg)
	if err != nil {
		return err
	}
	nc, err := worker.Connect(ctx, cc, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	w, err := worker.New(nc, deps, wc, log)
	if err != nil {
		return err
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	httpDone := make(chan error, 1)
	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		srv := &http.Server{
			Handler: opsHandler(metrics, []readiness{
				{"nats", func(context.Context) error {
					if !nc.IsConnected() {
						return errNotReady("not connected: " + nc.Status().String())
					}
					return nil
				}},
				storeReady(reg.store), matcherReady(reg.Matcher()), workerReady(w),
			}),
			ReadHeaderTimeout: 10 * time.Second,
		}
		log.Info("ops listening", zap.String("addr", ln.Addr().String()))
		go func() { httpDone <- serveHTTP(runCtx, srv, ln, 5*time.Second) }()
	} else {
		httpDone <- nil
	}
	retroDone := make(chan struct{})
	if *retroOn {
		rr, err := retroRunner(reg, nc, wc.Streams, wc.ID, log)
		if err != nil {
			return err
		}
		go func() { defer close(retroDone); _ = rr.Run(runCtx, reg.Matcher().Seq()) }()
	} else {
		close(retroDone)
	}
	log.Info("worker starting", zap.String("nats_url", nc.ConnectedUrlRedacted()), zap.Int("works", reg.Matcher().Len()))
	err = w.Run(runCtx)
	stop()
	<-retroDone
	if herr := <-httpDone; herr != nil && !errors.Is(herr, http.ErrServerClosed) && err == nil {
		err = herr
	}
	return err
}

// workerDeps are the dependencies of a worker that checks submissions against an opened
// registry and keeps their verdicts in its store, with a fresh metrics registry to serve.
func workerDeps(reg *openedRegistry) (worker.Deps, *prometheus.Registry, error) {
	vs, ok := reg.store.(worker.VerdictStore)
	if !ok {
		return worker.Deps{}, nil, fmt.Errorf("the store %T cannot keep verdicts", reg.store)
	}
	metrics, wm := newMetrics(reg.Matcher(), reg.store)
	opener := &review.Opener{Store: reg.cases, Hashing: reg.Config().Hashing}
	uploads, _ := reg.store.(index.UploadLog)
	return worker.Deps{Checker: reg.Registry, Store: vs, Metrics: wm, Cases: opener, Uploads: uploads}, metrics, nil
}

// retroRunner returns the runner that matches newly registered works against past uploads
// (package retro), publishing retroactive verdicts on nc. Run it from the matcher's loaded
// seq.
func retroRunner(reg *openedRegistry, nc *nats.Conn, streams worker.StreamsConfig, workerID string, log *zap.Logger) (*retro.Runner, error) {
	uploads, ok := reg.store.(index.UploadLog)
	if !ok {
		return nil, fmt.Errorf("the store %T keeps no upload log", reg.store)
	}
	position, _ := reg.store.(index.Cursors) // both stores keep cursors; nil: start at the registry's position
	pub, err := worker.NewRetroPublisher(nc, streams, workerID)
	if err != nil {
		return nil, err
	}
	return &retro.Runner{
		Works: reg.store, Uploads: uploads, Index: &retro.Index{},
		Cases: &review.Opener{Store: reg.cases, Hashing: reg.Config().Hashing}, Publish: pub,
		Suppressor: review.Suppressor{Store: reg.cases, Forgery: reg.Config().Thresholds.Forgery},
		Known:      review.FlaggedBefore(reg.cases),
		Thresholds: reg.Config().Thresholds, Log: log,
		Position: position,
	}, nil
}

// jsonLogger returns a production logger that writes JSON lines at level and above to
// std.Stderr.
func jsonLogger(std IO, level zapcore.Level) *zap.Logger {
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.Lock(zapcore.AddSync(std.Stderr)), level))
}
