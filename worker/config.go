package worker

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/aura-art/aura/fetch"
)

// Config configures a Worker.
type Config struct {
	// ID names the worker in verdicts, dead letters and logs. Default "<hostname>-<pid>".
	ID string
	// Concurrency is how many submissions (and, separately, synchronous checks) one worker
	// fingerprints and matches at once. Default runtime.GOMAXPROCS(0).
	Concurrency int
	// InFlight is how many submissions one worker holds at once: Concurrency of them are
	// fingerprinted and matched while the others are fetched, stored or published, so the
	// cores do not idle while a submission waits on the network, an fsync or an ack. 0:
	// 2 × Concurrency; otherwise at least Concurrency.
	InFlight int
	// Streams names and sizes the streams and the consumer. Default DefaultStreamsConfig().
	Streams StreamsConfig
	// SkipSetup leaves the streams and the consumer as they are: Run expects them to exist
	// (set up by an operator or another worker with SetupStreams). Default false: Run calls
	// SetupStreams.
	SkipSetup bool
	// NakDelays is how long a submission waits after a transient failure: after its n-th
	// delivery failed, NakDelays[n-1] (the last value repeats), plus up to 20% jitter.
	// Default [1s, 2s, 5s, 10s, 30s].
	NakDelays []time.Duration
	// InProgressEvery is how often a worker tells the server it is still working on a
	// submission, so slow work is not redelivered. Default: a third of the first delivery's
	// ack wait (Streams.BackOff[0], else Streams.AckWait).
	InProgressEvery time.Duration
	// PublishTimeout bounds the wait for the server's ack of a published verdict or dead
	// letter. Default 10s.
	PublishTimeout time.Duration
	// ShutdownTimeout is how long in-flight work may go on after Run's context ends; then
	// it is aborted and handed back to the stream at once. Default 30s.
	ShutdownTimeout time.Duration
	// MaxInlineBytes caps an inline image (image.data), in bytes; see MaxMessageBytes for the
	// message size it implies. The NATS server's max_payload must allow it. Default 5 MiB.
	MaxInlineBytes int64
	// Fetch configures the downloads of image URLs when no Fetcher is given. Default
	// fetch.DefaultConfig().
	Fetch fetch.Config
	// CheckSubject is the request-reply subject of synchronous checks; "" disables the
	// responder. Default CheckSubject ("aura.check").
	CheckSubject string
	// CheckQueue is the queue group of the check responders. Default CheckQueue
	// ("aura-check").
	CheckQueue string
	// RescanConcurrency is how many distributed rescan jobs one worker works on at once,
	// beside its submissions; it takes them only while the submissions leave a slot free.
	// 0 takes none. Default 1.
	RescanConcurrency int
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "worker"
	}
	return Config{
		ID:              host + "-" + strconv.Itoa(os.Getpid()),
		Concurrency:     runtime.GOMAXPROCS(0),
		Streams:         DefaultStreamsConfig(),
		NakDelays:       []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second},
		PublishTimeout:  10 * time.Second,
		ShutdownTimeout: 30 * time.Second,
		MaxInlineBytes:  5 << 20,
		Fetch:           fetch.DefaultConfig(),
		CheckSubject:    CheckSubject,
		CheckQueue:      CheckQueue,

		RescanConcurrency: 1,
	}
}

// Validate reports the settings that are out of range, by name.
func (c Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("id must not be empty"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency must be at least 1, got %d", c.Concurrency))
	}
	if c.InFlight != 0 && c.InFlight < c.Concurrency {
		errs = append(errs, fmt.Errorf("in_flight must be 0 (2 × concurrency) or at least concurrency %d, got %d", c.Concurrency, c.InFlight))
	}
	if err := c.Streams.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"publish_timeout", c.PublishTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %v", d.name, d.v))
		}
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout must not be negative, got %v", c.ShutdownTimeout))
	}
	if c.InProgressEvery < 0 {
		errs = append(errs, fmt.Errorf("in_progress_every must not be negative, got %v", c.InProgressEvery))
	} else if w := c.Streams.firstAckWait(); c.InProgressEvery >= w {
		errs = append(errs, fmt.Errorf("in_progress_every %v must be shorter than the ack wait %v", c.InProgressEvery, w))
	}
	if len(c.NakDelays) == 0 {
		errs = append(errs, errors.New("nak_delays must hold at least one delay"))
	}
	for _, d := range c.NakDelays {
		if d < 0 {
			errs = append(errs, fmt.Errorf("nak_delays must not be negative, got %v", d))
			break
		}
	}
	if c.RescanConcurrency < 0 {
		errs = append(errs, fmt.Errorf("rescan_concurrency must not be negative, got %d", c.RescanConcurrency))
	}
	if c.MaxInlineBytes < 1 {
		errs = append(errs, fmt.Errorf("max_inline_bytes must be positive, got %d", c.MaxInlineBytes))
	}
	if err := c.Fetch.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.CheckSubject != "" && c.CheckQueue == "" {
		errs = append(errs, errors.New("check_queue must not be empty when check_subject is set"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker: config: %w", err)
	}
	return nil
}

// inProgressEvery is InProgressEvery or its default.
func (c Config) inProgressEvery() time.Duration {
	if c.InProgressEvery > 0 {
		return c.InProgressEvery
	}
	return max(c.Streams.firstAckWait()/3, 10*time.Millisecond)
}

// InFlightLimit is InFlight with its default: how many submissions a worker holds at once.
func (c Config) InFlightLimit() int {
	if c.InFlight == 0 {
		return 2 * c.Concurrency
	}
	return c.InFlight
}
