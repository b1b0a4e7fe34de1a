package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/review/web"
	"github.com/aura-art/aura/worker"
)

func init() {
	register(command{name: "review", summary: "serve the moderators' review page and publish their decisions on NATS", run: runReview})
}

// reviewOptions are the settings of the review page, shared by serve and review.
type reviewOptions struct {
	insecureCookies bool
	sessionTTL      time.Duration
}

func reviewFlags(fs *flagSet) *reviewOptions {
	o := &reviewOptions{}
	fs.BoolVar(&o.insecureCookies, "review-insecure-cookies", false, "send the session cookie over plain HTTP to hosts other than localhost (only behind a TLS-terminating proxy on the same host)")
	fs.DurationVar(&o.sessionTTL, "review-session-ttl", web.DefaultConfig().SessionTTL, "how long a moderator's login lasts")
	return o
}

// reviewParts builds the review page and the decision publisher over the review store.
func (o *reviewOptions) parts(cases review.Store, works index.Store, nc *nats.Conn, streams worker.StreamsConfig, log *zap.Logger) (*web.Server, *worker.DecisionPublisher, error) {
	cfg := web.DefaultConfig()
	cfg.SecureCookies = !o.insecureCookies
	cfg.SessionTTL = o.sessionTTL
	page, err := web.New(cfg, web.Deps{Cases: cases, Works: works, Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	pub, err := worker.NewDecisionPublisher(nc, cases, streams, 0, log)
	if err != nil {
		return nil, nil, err
	}
	return page, pub, nil
}

func runReview(ctx context.Context, std IO, args []string) error {
	fs := newFlagSet(std, "review", "[--listen ADDR] [flags]")
	listen := fs.String("listen", "127.0.0.1:8081", "address of the review page (put TLS in front of it)")
	logLevel := logLevelFlag(fs)
	no := natsFlags(fs, defaultWorkerNATSURL)
	so := storeFlags(fs)
	rvo := reviewFlags(fs)
	if err := fs.parseNoArgs(args); err != nil {
		return err
	}
	cc, err := no.config()
	if err != nil {
		return err
	}
	log := jsonLogger(std, *logLevel)
	defer func() { _ = log.Sync() }()
	s, err := so.open(ctx, log)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	cases, err := openCases(s)
	if err != nil {
		return err
	}
	nc, err := worker.Connect(ctx, cc, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	page, pub, err := rvo.parts(cases, s, nc, worker.DefaultStreamsConfig(), log)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(web.DefaultConfig().Prefix, page)
	mux.Handle("/{$}", http.RedirectHandler(web.DefaultConfig().Prefix, http.StatusFound))
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.Run(runCtx) }()
	log.Info("review page listening", zap.String("url", "http://"+ln.Addr().String()+web.DefaultConfig().Prefix))
	err = serveHTTP(runCtx, srv, ln, 10*time.Second)
	stop()
	<-pubDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
