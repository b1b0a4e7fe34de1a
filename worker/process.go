package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
)

// process runs the pipeline on one delivered submission: decode, (on a redelivery) look for
// a stored verdict, fetch, check, open the review case when flagged, store, publish. A
// panic becomes the result's error.
//
// The case is opened before the verdict is stored, so a stored flagged verdict always has
// its case: a redelivery that finds the stored verdict needs neither the picture nor a new
// case.
func (w *Worker) process(ctx context.Context, d delivery, start time.Time) (res result) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("panic", zap.Any("panic", r), zap.String("stack", string(debug.Stack())))
			res.rec, res.err = nil, fmt.Errorf("worker: panic: %v", r)
		}
	}()
	sub, err := DecodeSubmission(d.msg.Data(), w.cfg.MaxInlineBytes)
	if err != nil {
		return result{err: err}
	}
	res.sub = sub
	if subj := d.msg.Subject(); subj != SubmitSubject(sub.Tenant) {
		return result{sub: sub, err: badf("submission %s: tenant %q does not match the subject %s", sub.ID, sub.Tenant, subj)}
	}
	var rec *index.VerdictRecord
	if d.deliveries > 1 {
		rec, err = w.store.GetVerdict(ctx, sub.Tenant, sub.ID)
		switch {
		case errors.Is(err, index.ErrNotFound):
			rec = nil
		case err != nil:
			return result{sub: sub, err: fmt.Errorf("worker: look up verdict: %w", err)}
		}
	}
	if rec == nil {
		var queue time.Duration
		if !d.published.IsZero() {
			queue = max(0, start.Sub(d.published))
		}
		w.metrics.stage("queue", queue)
		if rec, err = w.decide(ctx, sub, queue, start, true); err != nil {
			return result{sub: sub, err: err}
		}
		t := time.Now()
		stored, created, err := w.store.PutVerdict(ctx, rec)
		w.metrics.stage("store", time.Since(t))
		if err != nil {
			return result{sub: sub, err: fmt.Errorf("worker: store verdict: %w", err)}
		}
		if !created {
			w.log.Debug("verdict stored before", zap.String("submission_id", sub.ID), zap.String("tenant", sub.Tenant))
		}
		rec = stored
	}
	t := time.Now()
	err = w.publishVerdict(ctx, rec)
	w.metrics.stage("publish", time.Since(t))
	if err != nil {
		return result{sub: sub, err: err}
	}
	return result{sub: sub, rec: rec}
}

// decide fetches the submission's image if it is given by URL and checks it. queue is how
// long the submission waited before start; the record's timings include it.
//
// A flagged verdict opens its review case. For a submission (asSubmission; not a
// synchronous check, which has its own bound and which a marketplace may repeat as a
// submission) the check waits for one of the worker's Concurrency slots, and the upload's
// compact fingerprint is appended to the upload log.
func (w *Worker) decide(ctx context.Context, sub *Submission, queue time.Duration, start time.Time, asSubmission bool) (*index.VerdictRecord, error) {
	data := sub.Image.Data
	var fetchTime time.Duration
	if sub.Image.URL != "" {
		t := time.Now()
		var err error
		data, err = w.fetcher.Fetch(ctx, sub.Image.URL)
		fetchTime = time.Since(t)
		w.metrics.stage("fetch", fetchTime)
		if err != nil {
			return nil, fmt.Errorf("worker: submission %s: %w", sub.ID, err)
		}
	}
	res, checkTime, err := w.check(ctx, data, sub.Creator, asSubmission)
	w.metrics.stage("check", checkTime)
	if err != nil {
		return nil, fmt.Errorf("worker: submission %s: %w", sub.ID, err)
	}
	v := res.Verdict
	timings := map[string]float64{"queue": ms(queue), "fetch": ms(fetchTime), "check": ms(checkTime)}
	if v.Flagged() && w.cases != nil {
		t := time.Now()
		source := sub.Image.URL
		if source == "" {
			source = "inline"
		}
		_, err := w.cases.OpenUpload(ctx, review.Flagged{
			Tenant: sub.Tenant, SubmissionID: sub.ID, ClaimedCreator: sub.Creator, Source: source, Data: data,
			Fingerprint: res.Fingerprint, Orientation: res.Orientation, Verdict: v,
		})
		w.metrics.stage("case", time.Since(t))
		timings["case"] = ms(time.Since(t))
		if err != nil {
			return nil, fmt.Errorf("worker: submission %s: %w", sub.ID, err)
		}
	}
	if w.uploads != nil && asSubmission {
		if rec, ok := index.NewUploadRecord(sub.Tenant, sub.ID, sub.Creator, res.Fingerprint); ok {
			t := time.Now()
			err := w.uploads.AppendUpload(ctx, &rec)
			w.metrics.stage("upload_log", time.Since(t))
			if err != nil {
				return nil, fmt.Errorf("worker: submission %s: keep its fingerprint: %w", sub.ID, err)
			}
		}
	}
	timings["total"] = ms(time.Since(start))
	return &index.VerdictRecord{
		Tenant: sub.Tenant, SubmissionID: sub.ID, Verdict: v, WorkerID: w.cfg.ID, TimingsMS: timings, At: time.Now(),
	}, nil
}

// check checks data and reports how long the check took. With inSlot it first waits for
// one of the worker's Concurrency slots (the "wait_check" stage, not part of the time
// reported) and holds it during the check.
func (w *Worker) check(ctx context.Context, data []byte, creator string, inSlot bool) (*index.CheckResult, time.Duration, error) {
	if inSlot {
		t := time.Now()
		select {
		case w.checking <- struct{}{}:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
		defer func() { <-w.checking }()
		w.metrics.stage("wait_check", time.Since(t))
	}
	t := time.Now()
	res, err := w.checker.CheckImage(ctx, data, creator)
	return res, time.Since(t), err
}

// ms is d in milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// publishVerdict publishes a stored verdict on its subject with the submission's message id
// and waits for the verdicts stream to acknowledge it. A duplicate (a verdict published
// before, within the stream's duplicate window) is not an error.
func (w *Worker) publishVerdict(ctx context.Context, rec *index.VerdictRecord) error {
	dup, err := publishVerdictMsg(ctx, w.js, w.cfg.Streams.Verdicts, w.cfg.PublishTimeout, NewVerdictMessage(rec), MsgID(rec.Tenant, rec.SubmissionID))
	if err != nil {
		return err
	}
	if dup {
		w.log.Debug("verdict published before", zap.String("submission_id", rec.SubmissionID), zap.String("tenant", rec.Tenant))
	}
	return nil
}

// publishVerdictMsg publishes a verdict message on its subject under msgID into stream and
// waits for the ack; it reports whether the stream dropped it as a duplicate.
func publishVerdictMsg(ctx context.Context, js jetstream.JetStream, stream string, timeout time.Duration, vm *VerdictMessage, msgID string) (bool, error) {
	body, err := json.Marshal(vm)
	if err != nil {
		return false, fmt.Errorf("worker: encode verdict: %w", err)
	}
	msg := nats.NewMsg(VerdictSubject(vm.Tenant, vm.Verdict))
	msg.Data = body
	msg.Header.Set(HeaderSubmissionID, vm.SubmissionID)
	msg.Header.Set(HeaderTenant, vm.Tenant)
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ack, err := js.PublishMsg(pctx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(stream))
	if err != nil {
		return false, fmt.Errorf("worker: publish verdict of %s: %w", vm.SubmissionID, err)
	}
	return ack.Duplicate, nil
}

// RetroPublisher publishes retroactive verdicts (retro.Publisher) into the verdicts stream,
// under the message id "retro/<tenant>/<submission id>/<work id>", so each upload and work
// pair is published once within the stream's duplicate window.
type RetroPublisher struct {
	js       jetstream.JetStream
	stream   string
	workerID string
}

// NewRetroPublisher returns a publisher on nc (the caller owns it) into streams.Verdicts.
func NewRetroPublisher(nc *nats.Conn, streams StreamsConfig, workerID string) (*RetroPublisher, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("worker: retro: %w", err)
	}
	return &RetroPublisher{js: js, stream: streams.Verdicts, workerID: workerID}, nil
}

// PublishRetro publishes rec's verdict marked retroactive for the work workID.
func (p *RetroPublisher) PublishRetro(ctx context.Context, rec *index.VerdictRecord, workID string) error {
	if rec.WorkerID == "" {
		rec.WorkerID = p.workerID
	}
	vm := NewVerdictMessage(rec)
	vm.Retroactive, vm.RetroWorkID = true, workID
	_, err := publishVerdictMsg(ctx, p.js, p.stream, 10*time.Second, vm, "retro/"+MsgID(rec.Tenant, rec.SubmissionID)+"/"+workID)
	return err
}

// tenantOfSubject returns the tenant a submission subject names, or "_unknown".
func tenantOfSubject(subject string) string {
	if t, ok := strings.CutPrefix(subject, SubmitPrefix); ok && index.ValidTenant(t) {
		return t
	}
	return "_unknown"
}
