package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// MaxDeliveriesAdvisory is the subject on which the server announces that a submission ran
// out of deliveries, for a stream and consumer:
// "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>".
func MaxDeliveriesAdvisory(stream, consumer string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + "." + consumer
}

// deadLetter is a submission to dead-letter.
type deadLetter struct {
	subject    string // the submission's subject
	data       []byte // the submission as published
	header     nats.Header
	seq        uint64 // stream sequence
	deliveries uint64
	tenant, id string // "" when the submission could not be read
	reason     string
}

// deadLetter publishes a dead letter on "aura.dlq.<tenant>": the submission's bytes and
// headers, with the reason and what is known of it in Aura-* headers, and waits for the
// dead-letter stream's ack. Its message id, from the submission's stream sequence, makes a
// repeated dead letter of the same message a duplicate the stream drops.
func (w *Worker) deadLetter(ctx context.Context, dl deadLetter) error {
	tenant := dl.tenant
	if tenant == "" {
		tenant = tenantOfSubject(dl.subject)
	}
	msg := nats.NewMsg(DeadLetterSubject(tenant))
	msg.Data = dl.data
	for k, vs := range dl.header {
		if !strings.HasPrefix(k, "Nats-") {
			msg.Header[k] = append([]string(nil), vs...)
		}
	}
	msg.Header.Set(HeaderReason, dl.reason)
	msg.Header.Set(HeaderOriginalSubject, dl.subject)
	msg.Header.Set(HeaderStreamSequence, strconv.FormatUint(dl.seq, 10))
	msg.Header.Set(HeaderDeliveries, strconv.FormatUint(dl.deliveries, 10))
	msg.Header.Set(HeaderWorker, w.cfg.ID)
	msg.Header.Set(HeaderFailedAt, time.Now().UTC().Format(time.RFC3339Nano))
	msg.Header.Set(HeaderTenant, tenant)
	if dl.id != "" {
		msg.Header.Set(HeaderSubmissionID, dl.id)
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.PublishTimeout)
	defer cancel()
	_, err := w.js.PublishMsg(ctx, msg,
		jetstream.WithMsgID(fmt.Sprintf("dlq/%s/%d", w.cfg.Streams.Submissions, dl.seq)),
		jetstream.WithExpectStream(w.cfg.Streams.DeadLetter))
	if err != nil {
		return fmt.Errorf("worker: publish dead letter of %s #%d: %w", w.cfg.Streams.Submissions, dl.seq, err)
	}
	return nil
}

// maxDeliveriesEvent is the server's max-deliveries advisory
// (io.nats.jetstream.advisory.v1.max_deliver).
type maxDeliveriesEvent struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// onMaxDeliveries dead-letters a submission the server gave up on (its last delivery timed
// out, so no worker settled it) and deletes it from the work-queue stream, where it would
// otherwise stay until it ages out. A submission that is gone already was settled and is
// left alone. An error means the advisory should be handled again later.
func (w *Worker) onMaxDeliveries(ctx context.Context, stream jetstream.Stream, data []byte) error {
	var ev maxDeliveriesEvent
	if err := json.Unmarshal(data, &ev); err != nil || ev.StreamSeq == 0 {
		w.log.Warn("bad max-deliveries advisory", zap.Error(err), zap.ByteString("advisory", data))
		return nil
	}
	log := w.log.With(zap.Uint64("stream_seq", ev.StreamSeq), zap.Uint64("deliveries", ev.Deliveries))
	raw, err := stream.GetMsg(ctx, ev.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		log.Error("max deliveries: submission not read; retrying", zap.Error(err))
		return err
	}
	dl := deadLetter{
		subject: raw.Subject, data: raw.Data, header: raw.Header, seq: ev.StreamSeq, deliveries: ev.Deliveries,
		reason: fmt.Sprintf("max deliveries (%d): no delivery was settled in time", ev.Deliveries),
	}
	if sub, err := DecodeSubmission(raw.Data, w.cfg.MaxInlineBytes); err == nil {
		dl.tenant, dl.id = sub.Tenant, sub.ID
		log = log.With(zap.String("submission_id", sub.ID), zap.String("tenant", sub.Tenant))
	}
	if err := w.deadLetter(ctx, dl); err != nil {
		log.Error("max deliveries: dead letter failed; retrying", zap.Error(err))
		return err
	}
	if err := stream.DeleteMsg(ctx, ev.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		log.Warn("max deliveries: dead-lettered submission not deleted; retrying", zap.Error(err))
		return err // the dead letter's message id makes the retry's dead letter a duplicate
	}
	log.Warn("dead letter", zap.String("cause", causeMaxDeliveries), zap.String("reason", dl.reason))
	w.metrics.deadLettered(causeMaxDeliveries)
	return nil
}

// consumeAdvisories handles the max-deliveries advisories kept in the advisories stream,
// including those announced while no worker was running, under tr with ctx. Stop the
// returned context to stop.
func (w *Worker) consumeAdvisories(ctx context.Context, stream jetstream.Stream, tr *tracker) (jetstream.ConsumeContext, error) {
	sc := w.cfg.Streams
	cons, err := w.js.Consumer(ctx, sc.Advisories, sc.Consumer)
	if err != nil {
		return nil, fmt.Errorf("worker: advisories consumer: %w", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if !tr.start() {
			_ = m.Nak()
			return
		}
		defer tr.done()
		if err := w.onMaxDeliveries(ctx, stream, m.Data()); err != nil {
			_ = m.NakWithDelay(time.Second)
			return
		}
		_ = m.Ack()
	})
	if err != nil {
		return nil, fmt.Errorf("worker: consume advisories: %w", err)
	}
	return cc, nil
}

// subscribe subscribes, unless disabled, to the synchronous check subject. Its handler runs
// its work under tr, with ctx.
func (w *Worker) subscribe(ctx context.Context, tr *tracker) ([]*nats.Subscription, error) {
	var subs []*nats.Subscription
	if w.cfg.CheckSubject != "" {
		sem := make(chan struct{}, w.cfg.Concurrency)
		chk, err := w.nc.QueueSubscribe(w.cfg.CheckSubject, w.cfg.CheckQueue, func(m *nats.Msg) {
			if m.Reply == "" {
				return
			}
			sem <- struct{}{} // back pressure: requests wait in the subscription's buffer
			if !tr.start() {
				<-sem
				return
			}
			go func() {
				defer func() { <-sem; tr.done() }()
				w.answerCheck(ctx, m)
			}()
		})
		if err != nil {
			return nil, fmt.Errorf("worker: subscribe to %s: %w", w.cfg.CheckSubject, err)
		}
		subs = append(subs, chk)
	}
	if err := w.nc.FlushTimeout(w.cfg.PublishTimeout); err != nil {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
		return nil, fmt.Errorf("worker: subscribe: %w", err)
	}
	return subs, nil
}
