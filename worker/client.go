package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Client is the marketplace's side: it publishes submissions, reads verdicts and asks for
// synchronous checks. It is safe for concurrent use.
type Client struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg ClientConfig
}

// ClientConfig configures a Client. The zero value of a field means its default.
type ClientConfig struct {
	// MaxInlineBytes is the inline image cap Submit and Check enforce before publishing; it
	// should be the workers' Config.MaxInlineBytes. Default 5 MiB.
	MaxInlineBytes int64
	// VerdictsStream is the stream WatchVerdicts reads. Default "VERDICTS".
	VerdictsStream string
	// DeadLetterStream is the stream WatchDeadLetters reads. Default "DEADLETTER".
	DeadLetterStream string
	// CheckSubject is the subject of synchronous checks. Default CheckSubject.
	CheckSubject string
}

// NewClient returns a client on the connection nc, which the caller owns.
func NewClient(nc *nats.Conn, cfg ClientConfig) (*Client, error) {
	d := DefaultConfig()
	if cfg.MaxInlineBytes <= 0 {
		cfg.MaxInlineBytes = d.MaxInlineBytes
	}
	if cfg.VerdictsStream == "" {
		cfg.VerdictsStream = d.Streams.Verdicts
	}
	if cfg.DeadLetterStream == "" {
		cfg.DeadLetterStream = d.Streams.DeadLetter
	}
	if cfg.CheckSubject == "" {
		cfg.CheckSubject = CheckSubject
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("worker: jetstream: %w", err)
	}
	return &Client{nc: nc, js: js, cfg: cfg}, nil
}

// Submit validates s (see DecodeSubmission), publishes it on SubmitSubject(s.Tenant) with the
// message id MsgID(s.Tenant, s.ID), and waits for the submissions stream's ack. duplicate is
// true when the stream had a submission with that id within its duplicate window, so this
// one was dropped (its verdict was published, or will be, for the first). A validation error
// wraps ErrBadMessage.
func (c *Client) Submit(ctx context.Context, s *Submission) (duplicate bool, err error) {
	if err := s.Validate(c.cfg.MaxInlineBytes); err != nil {
		return false, err
	}
	body, err := json.Marshal(s)
	if err != nil {
		return false, fmt.Errorf("worker: encode submission: %w", err)
	}
	msg := nats.NewMsg(SubmitSubject(s.Tenant))
	msg.Data = body
	ack, err := c.js.PublishMsg(ctx, msg, jetstream.WithMsgID(MsgID(s.Tenant, s.ID)))
	if err != nil {
		return false, fmt.Errorf("worker: submit %s: %w", s.ID, err)
	}
	return ack.Duplicate, nil
}

// Watch reads a tenant's verdicts from the verdicts stream, in order, each once (the stream
// drops republished duplicates).
type Watch struct {
	it jetstream.MessagesContext
}

// WatchVerdicts reads the verdicts of tenant stored in the verdicts stream from now on, of
// every kind, through an ordered consumer. Watch before submitting, so that no verdict is
// missed. Close the Watch.
func (c *Client) WatchVerdicts(ctx context.Context, tenant string) (*Watch, error) {
	cons, err := c.js.OrderedConsumer(ctx, c.cfg.VerdictsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{VerdictPrefix + tenant + ".*"},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("worker: watch verdicts of %s: %w", tenant, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("worker: watch verdicts of %s: %w", tenant, err)
	}
	return &Watch{it: it}, nil
}

// Next returns the next verdict, or an error wrapping ctx's when it ends first. A message
// that is not a verdict is skipped. It is not safe to call Next from two goroutines.
func (w *Watch) Next(ctx context.Context) (*VerdictMessage, error) {
	for {
		m, err := w.it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("worker: next verdict: %w", err)
		}
		if v, err := DecodeVerdict(m.Data()); err == nil {
			return v, nil
		}
	}
}

// Close ends the watch.
func (w *Watch) Close() error {
	w.it.Stop()
	return nil
}

// DeadLetter is a submission that was dead-lettered, as the dead-letter stream holds it.
type DeadLetter struct {
	// Tenant and SubmissionID identify the submission; SubmissionID is "" when the message
	// could not be read.
	Tenant, SubmissionID string
	// Reason says why it was dead-lettered.
	Reason string
	// Subject is the subject it was submitted on.
	Subject string
	// Deliveries is how many times it was delivered.
	Deliveries int
	// Data is the submission as it was published.
	Data []byte
}

// DeadLetterWatch reads a tenant's dead letters from the dead-letter stream.
type DeadLetterWatch struct {
	it jetstream.MessagesContext
}

// WatchDeadLetters reads the dead letters of tenant stored from now on, through an ordered
// consumer. Close the watch.
func (c *Client) WatchDeadLetters(ctx context.Context, tenant string) (*DeadLetterWatch, error) {
	cons, err := c.js.OrderedConsumer(ctx, c.cfg.DeadLetterStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{DeadLetterSubject(tenant)},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("worker: watch dead letters of %s: %w", tenant, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("worker: watch dead letters of %s: %w", tenant, err)
	}
	return &DeadLetterWatch{it: it}, nil
}

// Next returns the next dead letter, or an error wrapping ctx's when it ends first. It is
// not safe to call Next from two goroutines.
func (w *DeadLetterWatch) Next(ctx context.Context) (*DeadLetter, error) {
	m, err := w.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("worker: next dead letter: %w", err)
	}
	h := m.Headers()
	n, _ := strconv.Atoi(h.Get(HeaderDeliveries))
	return &DeadLetter{
		Tenant: h.Get(HeaderTenant), SubmissionID: h.Get(HeaderSubmissionID), Reason: h.Get(HeaderReason),
		Subject: h.Get(HeaderOriginalSubject), Deliveries: n, Data: m.Data(),
	}, nil
}

// Close ends the watch.
func (w *DeadLetterWatch) Close() error {
	w.it.Stop()
	return nil
}

// CheckFailure is the error of a synchronous check the worker could not answer with a
// verdict.
type CheckFailure struct{ CheckError }

// Error returns the worker's reason, prefixed with "worker: check: ".
func (e *CheckFailure) Error() string { return "worker: check: " + e.CheckError.Error }

// Is makes a permanent failure match ErrPermanent.
func (e *CheckFailure) Is(target error) bool { return target == ErrPermanent && e.Permanent }

// Check asks a worker for the verdict on s over request-reply on ClientConfig.CheckSubject,
// and waits for the answer until ctx ends. Nothing is stored or published. A worker's
// refusal is a *CheckFailure (errors.Is(err, ErrPermanent) when retrying cannot help); with
// no worker listening the error wraps nats.ErrNoResponders.
func (c *Client) Check(ctx context.Context, s *Submission) (*VerdictMessage, error) {
	if err := s.Validate(c.cfg.MaxInlineBytes); err != nil {
		return nil, err
	}
	body, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("worker: encode submission: %w", err)
	}
	m, err := c.nc.RequestWithContext(ctx, c.cfg.CheckSubject, body)
	if err != nil {
		return nil, fmt.Errorf("worker: check %s: %w", s.ID, err)
	}
	if m.Header.Get(HeaderError) != "" {
		var ce CheckError
		if err := json.Unmarshal(m.Data, &ce); err != nil {
			return nil, fmt.Errorf("worker: check %s: bad error reply: %w", s.ID, err)
		}
		return nil, &CheckFailure{ce}
	}
	return DecodeVerdict(m.Data)
}

// ErrNoResponders is returned (wrapped) by Check when no worker answers on the subject.
var ErrNoResponders = nats.ErrNoResponders
