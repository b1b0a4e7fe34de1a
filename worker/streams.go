package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamsConfig names and sizes the JetStream streams and the consumer. Every worker of a
// deployment must use the same settings: SetupStreams creates or updates the streams to
// match, so the last worker started wins.
type StreamsConfig struct {
	// Submissions is the work-queue stream of submissions, on "aura.submit.>". Default
	// "SUBMISSIONS".
	Submissions string
	// Verdicts is the stream of verdicts, on "aura.verdict.>". Default "VERDICTS".
	Verdicts string
	// DeadLetter is the stream of dead letters, on "aura.dlq.>". Default "DEADLETTER".
	DeadLetter string
	// Advisories keeps the server's max-deliveries advisories of the workers' consumer, so a
	// submission that ran out of deliveries while no worker was listening is still
	// dead-lettered when one starts. Default "AURA_ADVISORIES".
	Advisories string
	// Rescans is the work-queue stream of distributed rescan jobs, on "aura.rescan.>", taken
	// by the consumer RescanConsumer at lower priority than submissions. Default "RESCANS".
	Rescans string
	// RescanResults is the stream of rescan results, on "aura.rescanned.<run>", which the
	// rescan that published the jobs reads (again, when it resumes). It keeps
	// VerdictsMaxAge. Default "RESCAN_RESULTS".
	RescanResults string
	// RescanConsumer is the durable pull consumer of rescan jobs all workers share. Default
	// "rescanners".
	RescanConsumer string
	// Decisions is the stream of moderators' decisions, on "aura.decision.>", which
	// marketplaces consume at their own pace. It keeps VerdictsMaxAge and deduplicates by
	// event id within VerdictDuplicates. Default "DECISIONS".
	Decisions string
	// Consumer is the durable pull consumer all workers share. Default "workers".
	Consumer string
	// Replicas is the number of replicas of each stream (1, 3 or 5 in a cluster). Default 1.
	Replicas int
	// Duplicates is the window in which a submission with the same Nats-Msg-Id
	// ("<tenant>/<id>") is dropped. Default 2m.
	Duplicates time.Duration
	// VerdictDuplicates is the window in which a verdict with the same Nats-Msg-Id is
	// dropped; it should exceed the time a submission can spend being redelivered. Default
	// 30m.
	VerdictDuplicates time.Duration
	// SubmissionsMaxAge is how long an unprocessed submission is kept; 0 keeps it until it is
	// processed. Default 7 days.
	SubmissionsMaxAge time.Duration
	// VerdictsMaxAge is how long verdicts stay in their stream for marketplaces to read.
	// Default 7 days.
	VerdictsMaxAge time.Duration
	// DeadLetterMaxAge is how long dead letters are kept. Default 30 days.
	DeadLetterMaxAge time.Duration
	// AckWait is how long a delivered submission may go without an ack or a progress report
	// before it is redelivered, when BackOff is empty. Default 30s.
	AckWait time.Duration
	// BackOff, when set, replaces AckWait per delivery: the n-th delivery may go BackOff[n-1]
	// without an ack or progress (the last value repeats), so a submission whose worker
	// died is redelivered later each time. It has at most MaxDeliver values. Default
	// [30s, 1m, 2m, 5m].
	BackOff []time.Duration
	// MaxDeliver is how many times a submission is delivered before it is dead-lettered
	// with the reason "max deliveries". Default 10.
	MaxDeliver int
	// MaxAckPending bounds the submissions delivered and not yet acked, over all workers.
	// Default 1000.
	MaxAckPending int
}

// DefaultStreamsConfig returns the defaults documented on each field.
func DefaultStreamsConfig() StreamsConfig {
	return StreamsConfig{
		Submissions: "SUBMISSIONS", Verdicts: "VERDICTS", DeadLetter: "DEADLETTER", Decisions: "DECISIONS", Advisories: "AURA_ADVISORIES",
		Rescans: "RESCANS", RescanResults: "RESCAN_RESULTS", RescanConsumer: "rescanners", Consumer: "workers",
		Replicas: 1, Duplicates: 2 * time.Minute, VerdictDuplicates: 30 * time.Minute,
		SubmissionsMaxAge: 7 * 24 * time.Hour, VerdictsMaxAge: 7 * 24 * time.Hour, DeadLetterMaxAge: 30 * 24 * time.Hour,
		AckWait: 30 * time.Second, BackOff: []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute},
		MaxDeliver: 10, MaxAckPending: 1000,
	}
}

// Validate reports the settings that are out of range, by name.
func (c StreamsConfig) Validate() error {
	var errs []error
	for _, n := range []struct{ name, v string }{
		{"submissions_stream", c.Submissions}, {"verdicts_stream", c.Verdicts},
		{"dead_letter_stream", c.DeadLetter}, {"decisions_stream", c.Decisions}, {"advisories_stream", c.Advisories}, {"consumer", c.Consumer},
		{"rescans_stream", c.Rescans}, {"rescan_results_stream", c.RescanResults}, {"rescan_consumer", c.RescanConsumer},
	} {
		if n.v == "" {
			errs = append(errs, fmt.Errorf("%s must not be empty", n.name))
		}
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas must be 1 to 5, got %d", c.Replicas))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"duplicates", c.Duplicates}, {"verdict_duplicates", c.VerdictDuplicates}, {"ack_wait", c.AckWait}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %v", d.name, d.v))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"submissions_max_age", c.SubmissionsMaxAge}, {"verdicts_max_age", c.VerdictsMaxAge}, {"dead_letter_max_age", c.DeadLetterMaxAge}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %v", d.name, d.v))
		}
	}
	if c.MaxDeliver < 1 {
		errs = append(errs, fmt.Errorf("max_deliver must be at least 1, got %d", c.MaxDeliver))
	}
	if len(c.BackOff) > c.MaxDeliver {
		errs = append(errs, fmt.Errorf("backoff has %d values, more than max_deliver %d", len(c.BackOff), c.MaxDeliver))
	}
	for _, d := range c.BackOff {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("backoff values must be positive, got %v", d))
			break
		}
	}
	if c.MaxAckPending < 1 {
		errs = append(errs, fmt.Errorf("max_ack_pending must be at least 1, got %d", c.MaxAckPending))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker: streams config: %w", err)
	}
	return nil
}

// firstAckWait is how long the first delivery may go without an ack or progress.
func (c StreamsConfig) firstAckWait() time.Duration {
	if len(c.BackOff) > 0 {
		return c.BackOff[0]
	}
	return c.AckWait
}

// SubmissionsStream returns the configuration of the submissions stream: work-queue
// retention (a submission is removed once acked or terminated), file storage, the
// Duplicates window.
func (c StreamsConfig) SubmissionsStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        c.Submissions,
		Description: "Aura submissions: pictures to check, one message a picture",
		Subjects:    []string{SubmitPrefix + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		Duplicates:  c.Duplicates,
		MaxAge:      c.SubmissionsMaxAge,
		Discard:     jetstream.DiscardOld,
	}
}

// VerdictsStream returns the configuration of the verdicts stream: limits retention
// (VerdictsMaxAge), file storage, the VerdictDuplicates window.
func (c StreamsConfig) VerdictsStream() jetstream.StreamConfig {
	return c.limitsStream(c.Verdicts, "Aura verdicts, by tenant and verdict: aura.verdict.<tenant>.<verdict>",
		VerdictPrefix, c.VerdictDuplicates, c.VerdictsMaxAge)
}

// DeadLetterStream returns the configuration of the dead-letter stream: limits retention
// (DeadLetterMaxAge), file storage.
func (c StreamsConfig) DeadLetterStream() jetstream.StreamConfig {
	return c.limitsStream(c.DeadLetter, "Aura dead letters: submissions that failed for good, with the reason in the Aura-Reason header",
		DeadLetterPrefix, c.Duplicates, c.DeadLetterMaxAge)
}

// DecisionsStream returns the configuration of the decisions stream: limits retention
// (VerdictsMaxAge), file storage, the VerdictDuplicates window.
func (c StreamsConfig) DecisionsStream() jetstream.StreamConfig {
	return c.limitsStream(c.Decisions, "Aura moderators' decisions, by tenant: aura.decision.<tenant>",
		DecisionPrefix, c.VerdictDuplicates, c.VerdictsMaxAge)
}

// RescansStream returns the configuration of the rescan jobs' work-queue stream: like the
// submissions stream, on "aura.rescan.>".
func (c StreamsConfig) RescansStream() jetstream.StreamConfig {
	sc := c.SubmissionsStream()
	sc.Name, sc.Subjects = c.Rescans, []string{RescanPrefix + ">"}
	sc.Description = "Aura rescan jobs: archived pictures to check, taken when workers have room"
	return sc
}

// RescanResultsStream returns the configuration of the rescan results' stream: limits
// retention (VerdictsMaxAge), file storage, the VerdictDuplicates window.
func (c StreamsConfig) RescanResultsStream() jetstream.StreamConfig {
	return c.limitsStream(c.RescanResults, "Aura rescan results, by run: aura.rescanned.<run>",
		RescanResultPrefix, c.VerdictDuplicates, c.VerdictsMaxAge)
}

// RescanConsumerConfig returns the configuration of the workers' consumer of rescan jobs:
// explicit acks, the submissions' AckWait (no BackOff), and no delivery limit: a worker
// publishes a job's failure as its result after rescanMaxDeliver tries, and a job stays until
// some result is published, so a rescan never waits for a result that will not come.
func (c StreamsConfig) RescanConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable: c.RescanConsumer, Description: "Aura workers: rescan jobs",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: c.AckWait, MaxDeliver: -1,
		MaxAckPending: c.MaxAckPending, DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// rescanMaxDeliver is how often a rescan job is tried before its result says it failed.
const rescanMaxDeliver = 5

// AdvisoriesStream returns the configuration of the stream that keeps the max-deliveries
// advisories of the workers' consumer: limits retention (DeadLetterMaxAge), file storage.
func (c StreamsConfig) AdvisoriesStream() jetstream.StreamConfig {
	sc := c.limitsStream(c.Advisories, "Aura: the server's max-deliveries advisories of the workers' consumer, kept until a worker dead-letters their submission",
		"", c.Duplicates, c.DeadLetterMaxAge)
	sc.Subjects = []string{MaxDeliveriesAdvisory(c.Submissions, c.Consumer)}
	return sc
}

// AdvisoriesConsumerConfig returns the configuration of the workers' durable consumer of the
// advisories stream: explicit acks, redelivered until handled.
func (c StreamsConfig) AdvisoriesConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable: c.Consumer, Description: "Aura workers: dead-letter submissions that ran out of deliveries",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// limitsStream is a file-stored stream with limits retention on prefix+">".
func (c StreamsConfig) limitsStream(name, desc, prefix string, dup, age time.Duration) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: name, Description: desc, Subjects: []string{prefix + ">"},
		Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, Replicas: c.Replicas,
		Duplicates: dup, MaxAge: age, Discard: jetstream.DiscardOld,
	}
}

// ConsumerConfig returns the configuration of the workers' durable pull consumer: explicit
// acks, AckWait, BackOff, MaxDeliver and MaxAckPending.
func (c StreamsConfig) ConsumerConfig() jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       c.Consumer,
		Description:   "Aura workers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    c.MaxDeliver,
		MaxAckPending: c.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(c.BackOff) > 0 {
		cc.BackOff = append([]time.Duration(nil), c.BackOff...)
		cc.AckWait = c.BackOff[0] // what the server would set
	}
	return cc
}

// SetupStreams creates the seven streams and the consumer, or updates them to match cfg. It
// is idempotent and safe to call from every worker at start. It fails if cfg is invalid or a
// stream exists with settings that cannot be changed (its retention or storage).
func SetupStreams(ctx context.Context, js jetstream.JetStream, cfg StreamsConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, sc := range []jetstream.StreamConfig{cfg.SubmissionsStream(), cfg.VerdictsStream(), cfg.DeadLetterStream(), cfg.DecisionsStream(), cfg.AdvisoriesStream(),
		cfg.RescansStream(), cfg.RescanResultsStream(),
	} {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("worker: set up stream %s: %w", sc.Name, err)
		}
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, cfg.Submissions, cfg.ConsumerConfig()); err != nil {
		return fmt.Errorf("worker: set up consumer %s on %s: %w", cfg.Consumer, cfg.Submissions, err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, cfg.Advisories, cfg.AdvisoriesConsumerConfig()); err != nil {
		return fmt.Errorf("worker: set up consumer %s on %s: %w", cfg.Consumer, cfg.Advisories, err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, cfg.Rescans, cfg.RescanConsumerConfig()); err != nil {
		return fmt.Errorf("worker: set up consumer %s on %s: %w", cfg.RescanConsumer, cfg.Rescans, err)
	}
	return nil
}
