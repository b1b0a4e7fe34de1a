package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/aura-art/aura/review"
)

// Causes of dead letters, the "cause" label of aura_dead_letters_total.
const (
	causePermanent     = "permanent"
	causeMaxDeliveries = "max_deliveries"
)

// maxTermReason bounds the reason sent with a Term, which the server copies into its
// advisory; the dead letter carries the whole reason.
const maxTermReason = 256

// settle is the one place a delivered submission is settled, by its result's error:
//
//   - nil: Ack;
//   - the worker is shutting down and aborted the work: Nak at once, for another worker;
//   - permanent (see Permanent), or a transient failure of the last delivery allowed
//     (StreamsConfig.MaxDeliver): publish a dead letter with the reason, then
//     TermWithReason; if the dead letter cannot be published, NakWithDelay so nothing is
//     lost;
//   - otherwise: NakWithDelay(backoff(deliveries)).
func (w *Worker) settle(ctx context.Context, d delivery, res result) {
	log := w.log.With(zap.Uint64("stream_seq", d.seq), zap.Uint64("deliveries", d.deliveries))
	if res.sub != nil {
		log = log.With(zap.String("submission_id", res.sub.ID), zap.String("tenant", res.sub.Tenant))
	}
	err := res.err
	switch {
	case err == nil:
		if aerr := d.msg.Ack(); aerr != nil {
			// The verdict is stored and published; a redelivery will find it.
			log.Warn("ack failed", zap.Error(aerr))
		}
		kind := string(res.rec.Verdict.Verdict)
		fields := []zap.Field{zap.String("verdict", kind)}
		if len(res.rec.Verdict.Matches) > 0 {
			fields = append(fields, zap.String("work_id", res.rec.Verdict.Matches[0].WorkID))
		}
		log.Debug("verdict", fields...)
		w.metrics.outcome(OutcomeOK, kind)

	case ctx.Err() != nil:
		if nerr := d.msg.Nak(); nerr != nil {
			log.Warn("hand back failed; the submission is redelivered after its ack wait", zap.Error(nerr))
		}
		log.Info("handed back", zap.Error(err))
		w.metrics.outcome(OutcomeHandedBack, "")

	case Permanent(err) || w.lastDelivery(d):
		cause, reason := causePermanent, err.Error()
		if !Permanent(err) {
			cause, reason = causeMaxDeliveries, fmt.Sprintf("max deliveries (%d): %v", d.deliveries, err)
		}
		dl := deadLetter{
			subject: d.msg.Subject(), data: d.msg.Data(), header: d.msg.Headers(),
			seq: d.seq, deliveries: d.deliveries, reason: reason,
		}
		if res.sub != nil {
			dl.tenant, dl.id = res.sub.Tenant, res.sub.ID
		}
		if dlErr := w.deadLetter(context.WithoutCancel(ctx), dl); dlErr != nil {
			delay := w.backoff(d.deliveries)
			_ = d.msg.NakWithDelay(delay)
			log.Warn("dead letter failed; retrying", zap.Error(dlErr), zap.String("reason", reason), zap.Duration("delay", delay))
			w.metrics.outcome(OutcomeRetry, "")
			return
		}
		if terr := d.msg.TermWithReason(review.ClipText(reason, maxTermReason)); terr != nil {
			// A redelivery publishes the same dead letter again (deduplicated) and terms.
			log.Warn("term failed", zap.Error(terr))
		}
		log.Warn("dead letter", zap.String("cause", cause), zap.String("reason", reason))
		w.metrics.outcome(OutcomeDeadLetter, "")
		w.metrics.deadLettered(cause)

	default:
		delay := w.backoff(d.deliveries)
		if nerr := d.msg.NakWithDelay(delay); nerr != nil {
			log.Warn("nak failed; the submission is redelivered after its ack wait", zap.Error(nerr))
		}
		log.Warn("retry", zap.Error(err), zap.Duration("delay", delay))
		w.metrics.outcome(OutcomeRetry, "")
	}
}

// lastDelivery reports whether d is the last delivery the consumer allows.
func (w *Worker) lastDelivery(d delivery) bool {
	return d.deliveries >= uint64(w.cfg.Streams.MaxDeliver)
}

// backoff is how long a submission waits after its delivered-th delivery failed:
// NakDelays[delivered-1], the last value repeating, plus up to 20% jitter so that
// submissions that failed together do not come back together.
func (w *Worker) backoff(delivered uint64) time.Duration {
	ds := w.cfg.NakDelays
	i := int(min(max(delivered, 1), uint64(len(ds)))) - 1
	d := ds[i]
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/5+1)
}
