package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/aura-art/aura/review"
)

// DecisionPublisher publishes moderators' decisions on NATS: it drains the review store's
// outbox (review.Store.PendingEvents) onto review.DecisionSubject(tenant), in the decisions
// stream, and removes each event once the stream has acknowledged it. Delivery is at least
// once; the event id is the message id, so the stream drops a repeat within its duplicate
// window. Several publishers (review replicas) may run at once.
type DecisionPublisher struct {
	js     jetstream.JetStream
	store  review.Store
	stream jetstream.StreamConfig
	poll   time.Duration
	log    *zap.Logger
}

// NewDecisionPublisher returns a publisher on nc (which the caller owns) into the decisions
// stream (streams.DecisionsStream; Run creates or updates it). poll is how often the outbox is read
// when it was empty (default 500ms). log may be nil.
func NewDecisionPublisher(nc *nats.Conn, store review.Store, streams StreamsConfig, poll time.Duration, log *zap.Logger) (*DecisionPublisher, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("worker: decisions: %w", err)
	}
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &DecisionPublisher{js: js, store: store, stream: streams.DecisionsStream(), poll: poll, log: log.Named("decisions")}, nil
}

// Run sets up the decisions stream, then publishes until ctx ends, and returns nil.
// Failures are logged and retried with backoff; an event is removed from the outbox only
// after its publication is acknowledged.
func (p *DecisionPublisher) Run(ctx context.Context) error {
	wait := p.poll
	ready := false
	for {
		var n int
		var err error
		if !ready {
			_, err = p.js.CreateOrUpdateStream(ctx, p.stream)
			ready = err == nil
		}
		if ready {
			n, err = p.PublishPending(ctx)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			p.log.Warn("publishing decisions failed; retrying", zap.Error(err), zap.Duration("in", wait))
			wait = min(2*wait, 30*time.Second)
		case n > 0:
			wait = p.poll
			continue // more may be waiting
		default:
			wait = p.poll
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// PublishPending publishes one batch of pending events and returns how many it published.
func (p *DecisionPublisher) PublishPending(ctx context.Context) (int, error) {
	events, err := p.store.PendingEvents(ctx, 100)
	if err != nil {
		return 0, err
	}
	for i, ev := range events {
		body, err := json.Marshal(ev)
		if err != nil {
			return i, err
		}
		msg := nats.NewMsg(review.DecisionSubject(ev.Tenant))
		msg.Data = body
		msg.Header.Set(HeaderTenant, ev.Tenant)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = p.js.PublishMsg(pctx, msg, jetstream.WithMsgID(ev.ID), jetstream.WithExpectStream(p.stream.Name))
		cancel()
		if err != nil {
			return i, fmt.Errorf("publish decision %s: %w", ev.ID, err)
		}
		if err := p.store.AckEvent(ctx, ev.ID); err != nil {
			return i, err
		}
	}
	return len(events), nil
}
