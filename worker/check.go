package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/aura-art/aura/index"
)

// answerCheck answers one synchronous check: the request is a Submission, the reply its
// VerdictMessage, or a CheckError with the HeaderError header. Nothing is stored or
// published on the verdict subjects.
func (w *Worker) answerCheck(ctx context.Context, m *nats.Msg) {
	start := time.Now()
	var sub *Submission
	rec, err := func() (rec *index.VerdictRecord, err error) {
		defer func() {
			if r := recover(); r != nil {
				w.log.Error("panic", zap.Any("panic", r), zap.String("stack", string(debug.Stack())))
				rec, err = nil, fmt.Errorf("worker: panic: %v", r)
			}
		}()
		if sub, err = DecodeSubmission(m.Data, w.cfg.MaxInlineBytes); err != nil {
			return nil, err
		}
		return w.decide(ctx, sub, 0, start, false)
	}()
	reply := nats.NewMsg(m.Reply)
	if err != nil {
		ce := CheckError{SchemaVersion: SchemaVersion, Error: err.Error(), Permanent: Permanent(err)}
		if sub != nil {
			ce.SubmissionID = sub.ID
		}
		reply.Data, _ = json.Marshal(ce)
		kind := "transient"
		if ce.Permanent {
			kind = "permanent"
		}
		reply.Header.Set(HeaderError, kind)
		w.metrics.checked("error")
		w.log.Debug("check failed", zap.String("submission_id", ce.SubmissionID), zap.Error(err))
	} else {
		reply.Data, _ = json.Marshal(NewVerdictMessage(rec))
		w.metrics.checked("ok")
	}
	w.metrics.stage("sync_check", time.Since(start))
	if err := w.nc.PublishMsg(reply); err != nil {
		w.log.Warn("check reply failed", zap.Error(err))
	}
}
