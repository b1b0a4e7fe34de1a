package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aura-art/aura/worker"
)

// NATS URLs the commands connect to by default: submit talks to the embedded server of
// "aura serve"; worker to a NATS server on the standard port.
const (
	defaultServeNATSURL  = "nats://127.0.0.1:4250"
	defaultWorkerNATSURL = "nats://127.0.0.1:4222"
)

// natsOptions are the NATS connection settings.
type natsOptions struct {
	cc           worker.ConnConfig
	passwordFile string
}

// natsFlags registers the NATS connection settings, with defaultURL as --nats-url's default.
func natsFlags(fs *flagSet, defaultURL string) *natsOptions {
	o := &natsOptions{cc: worker.DefaultConnConfig()}
	o.cc.URL = defaultURL
	fs.StringVar(&o.cc.URL, "nats-url", o.cc.URL, `NATS server URL(s), comma-separated ("tls://..." for TLS)`)
	fs.StringVar(&o.cc.Name, "nats-name", o.cc.Name, "client name shown by the NATS server")
	fs.StringVar(&o.cc.User, "nats-user", "", "NATS user name")
	fs.StringVar(&o.cc.Password, "nats-password", "", "NATS password (prefer AURA_NATS_PASSWORD or --nats-password-file)")
	fs.StringVar(&o.passwordFile, "nats-password-file", "", "file holding the NATS password")
	fs.StringVar(&o.cc.Token, "nats-token", "", "NATS authentication token (prefer AURA_NATS_TOKEN)")
	fs.StringVar(&o.cc.NKeySeedFile, "nats-nkey-seed", "", "file holding an NKey seed to authenticate with")
	fs.StringVar(&o.cc.CredsFile, "nats-creds", "", "NATS credentials file (user JWT and NKey seed)")
	fs.StringVar(&o.cc.CAFile, "nats-ca", "", "PEM file of the CA that signed the NATS server's certificate (turns TLS on)")
	fs.StringVar(&o.cc.CertFile, "nats-cert", "", "PEM client certificate for mutual TLS")
	fs.StringVar(&o.cc.KeyFile, "nats-key", "", "PEM key of --nats-cert")
	fs.DurationVar(&o.cc.ConnectTimeout, "nats-connect-timeout", o.cc.ConnectTimeout, "time limit of connecting to a NATS server")
	return o
}

// config returns the validated connection settings.
func (o *natsOptions) config() (worker.ConnConfig, error) {
	cc := o.cc
	if o.passwordFile != "" {
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return cc, fmt.Errorf("nats password file: %w", err)
		}
		cc.Password = strings.TrimRight(string(b), "\r\n")
	}
	if err := cc.Validate(); err != nil {
		return cc, fmt.Errorf("%w: %v", errUsage, err)
	}
	return cc, nil
}

// workerOptions are the settings of a worker.
type workerOptions struct {
	cfg          worker.Config
	fetchTimeout time.Duration
	loopback     bool
	allowHosts   string
	backoff      durationList
	nakDelays    durationList
}

// workerFlags registers the worker settings.
func workerFlags(fs *flagSet) *workerOptions {
	o := &workerOptions{cfg: worker.DefaultConfig()}
	c := &o.cfg
	fs.StringVar(&c.ID, "worker-id", c.ID, "worker id in verdicts, dead letters and logs")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "submissions (and, apart, synchronous checks) fingerprinted and matched at once; the default is the number of CPUs")
	fs.IntVar(&c.InFlight, "in-flight", c.InFlight, "submissions held at once, the others fetched, stored or published while --concurrency are checked; 0: twice --concurrency")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long work in flight may finish after a shutdown signal before it is handed back")
	fs.DurationVar(&c.PublishTimeout, "publish-timeout", c.PublishTimeout, "time limit of the server's ack of a published verdict")
	fs.Int64Var(&c.MaxInlineBytes, "max-inline-bytes", c.MaxInlineBytes, "largest inline image (image.data) accepted, in bytes")
	fs.StringVar(&c.CheckSubject, "check-subject", c.CheckSubject, `subject of synchronous checks (request-reply); "" turns them off`)
	fs.StringVar(&c.CheckQueue, "check-queue", c.CheckQueue, "queue group of synchronous check responders")
	fs.IntVar(&c.RescanConcurrency, "rescan-concurrency", c.RescanConcurrency, "distributed rescan jobs worked on at once, only while submissions leave a slot free; 0 takes none")
	fs.DurationVar(&o.fetchTimeout, "fetch-timeout", c.Fetch.Timeout, "time limit of downloading one image URL")
	fs.BoolVar(&o.loopback, "fetch-allow-loopback", false, "let image URLs reach loopback addresses (testing only)")
	fs.StringVar(&o.allowHosts, "fetch-allow-hosts", "", `comma-separated hosts image URLs may name ("cdn.example.com", ".example.com" for a domain); empty: any public host`)
	s := &c.Streams
	fs.IntVar(&s.Replicas, "stream-replicas", s.Replicas, "replicas of each JetStream stream")
	fs.IntVar(&s.MaxDeliver, "max-deliver", s.MaxDeliver, "deliveries of a submission before it is dead-lettered")
	fs.DurationVar(&s.AckWait, "ack-wait", s.AckWait, "how long a delivery may go unacknowledged before redelivery, when --backoff is empty")
	o.backoff = s.BackOff
	fs.Var(&o.backoff, "backoff", `per-delivery ack waits, comma-separated; "" for --ack-wait always`)
	o.nakDelays = c.NakDelays
	fs.Var(&o.nakDelays, "retry-delays", "delays after the 1st, 2nd, ... transient failure, comma-separated")
	fs.DurationVar(&s.Duplicates, "dedupe-window", s.Duplicates, "window in which a resubmission with the same tenant and id is dropped")
	return o
}

// config returns the validated worker configuration; maxBytes caps downloads.
func (o *workerOptions) config(maxBytes int64) (worker.Config, error) {
	c := o.cfg
	c.Streams.BackOff = o.backoff
	c.NakDelays = o.nakDelays
	c.Fetch.Timeout, c.Fetch.MaxBytes, c.Fetch.AllowLoopback = o.fetchTimeout, maxBytes, o.loopback
	c.Fetch.AllowHosts = splitList(o.allowHosts)
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	return c, nil
}

// durationList is a flag of comma-separated durations.
type durationList []time.Duration

func (d *durationList) String() string {
	if d == nil {
		return ""
	}
	parts := make([]string, len(*d))
	for i, v := range *d {
		parts[i] = v.String()
	}
	return strings.Join(parts, ",")
}

func (d *durationList) Set(s string) error {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		v, err := time.ParseDuration(p)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	*d = out
	return nil
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
