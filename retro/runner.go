package retro

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

// CaseOpener opens review cases: *review.Opener.
type CaseOpener interface {
	OpenUpload(ctx context.Context, f review.Flagged) (*review.Case, error)
}

// Publisher publishes the verdict of a past upload that a new work matches, marked
// retroactive (worker.RetroPublisher). It must be idempotent per upload and work.
type Publisher interface {
	PublishRetro(ctx context.Context, rec *index.VerdictRecord, workID string) error
}

// Runner matches newly registered works against past uploads.
type Runner struct {
	// Works is the registry's store: its change feed announces new works. Required.
	Works index.Store
	// Uploads is the upload log. Required.
	Uploads index.UploadLog
	// Index holds the log in memory; the runner keeps it caught up. Required.
	Index *Index
	// Cases opens a retro case for each flagged hit. Required.
	Cases CaseOpener
	// Publish, when set, publishes each flagged hit's verdict.
	Publish Publisher
	// Suppressor, when set, clears hits that moderators' decisions settled (a dismissed
	// picture, a licensed creator), as a check would (review.Suppressor).
	Suppressor index.Suppressor
	// Known, when set, reports whether the upload was already flagged against the work when
	// it was checked (its upload case lists the work), so a retro case would repeat it.
	Known func(ctx context.Context, tenant, submissionID, workID string) (bool, error)
	// Position, when set, keeps how far the runner has followed the change feed, under
	// PositionName: Run then starts from the kept position when it is behind the one it is
	// given, so works registered while no runner ran are still matched.
	Position index.Cursors
	// Thresholds decide what matches; default hashing.DefaultThresholds.
	Thresholds hashing.Thresholds
	// Log may be nil.
	Log *zap.Logger
}

// Result is what matching one work found.
type Result struct {
	WorkID string
	// Hits is how many uploads matched; Flagged how many of them became cases (the others
	// are the work's creator's own uploads).
	Hits, Flagged int
	// Elapsed is the time the scan took.
	Elapsed time.Duration
}

func (r *Runner) th() hashing.Thresholds {
	if r.Thresholds == (hashing.Thresholds{}) {
		return hashing.DefaultThresholds
	}
	return r.Thresholds
}

func (r *Runner) log() *zap.Logger {
	if r.Log == nil {
		return zap.NewNop()
	}
	return r.Log
}

// Run follows the change feed after seq after (the registry's state the caller has already
// seen, for example index.Matcher.Seq once it is ready) and matches every work created or
// re-enabled since, until ctx ends; then it returns nil. A failed work is retried with
// backoff: cases and events are idempotent, so redoing a work is harmless.
func (r *Runner) Run(ctx context.Context, after uint64) error {
	wait := time.Second
	for { // load the log before the first work comes
		n, err := r.Index.CatchUp(ctx, r.Uploads)
		if err == nil {
			r.log().Info("retro: upload log loaded", zap.Int("uploads", n))
			break
		}
		r.log().Warn("retro: loading the upload log failed; retrying", zap.Error(err))
		if !sleep(ctx, wait) {
			return nil
		}
		wait = min(2*wait, 30*time.Second)
	}
	after = r.startAt(ctx, after)
	for {
		changes, err := r.Works.WaitChanges(ctx, after, 100)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.log().Warn("retro: reading the change feed failed; retrying", zap.Error(err))
			if !sleep(ctx, wait) {
				return nil
			}
			wait = min(2*wait, 30*time.Second)
			continue
		}
		for _, c := range changes {
			if (c.Op == index.OpPut || c.Op == index.OpEnable) && !c.Disabled && c.Fingerprint != nil {
				for {
					res, err := r.MatchWork(ctx, c.WorkID, c.CreatorID, c.Fingerprint)
					if err == nil {
						if res.Hits > 0 {
							r.log().Info("retro: past uploads match a new work", zap.String("work_id", c.WorkID),
								zap.Int("hits", res.Hits), zap.Int("flagged", res.Flagged), zap.Duration("scan", res.Elapsed))
						}
						break
					}
					if ctx.Err() != nil {
						return nil
					}
					r.log().Warn("retro: matching a new work failed; retrying", zap.String("work_id", c.WorkID), zap.Error(err))
					if !sleep(ctx, wait) {
						return nil
					}
					wait = min(2*wait, 30*time.Second)
				}
			}
			after = c.Seq
		}
		if r.Position != nil && len(changes) > 0 {
			if err := r.Position.SetCursor(ctx, PositionName, after); err != nil && ctx.Err() == nil {
				r.log().Warn("retro: keeping the feed position failed; a restart redoes these works", zap.Uint64("seq", after), zap.Error(err))
			}
		}
		wait = time.Second
	}
}

// PositionName is the name of the retroactive matcher's position in Runner.Position.
const PositionName = "retro"

// startAt is where Run starts following the feed: after, or the kept position when it is
// behind. Without a kept position, after is kept, so the next start begins there.
func (r *Runner) startAt(ctx context.Context, after uint64) uint64 {
	if r.Position == nil {
		return after
	}
	seq, ok, err := r.Position.Cursor(ctx, PositionName)
	switch {
	case err != nil:
		r.log().Warn("retro: reading the kept feed position failed; starting at the registry's", zap.Uint64("seq", after), zap.Error(err))
		return after
	case !ok:
		if err := r.Position.SetCursor(ctx, PositionName, after); err != nil {
			r.log().Warn("retro: keeping the feed position failed", zap.Uint64("seq", after), zap.Error(err))
		}
		return after
	case seq < after:
		r.log().Info("retro: matching the works registered since the last run", zap.Uint64("from_seq", seq), zap.Uint64("to_seq", after))
		return seq
	}
	return after
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// MatchWork matches one work (its id, creator and Reference fingerprint) against every
// upload in the log: it catches the index up, scans it, and for each hit that is not the
// work creator's own upload opens a retro case and publishes a retroactive verdict.
func (r *Runner) MatchWork(ctx context.Context, workID, creatorID string, ref *hashing.Fingerprint) (Result, error) {
	res := Result{WorkID: workID}
	if _, err := r.Index.CatchUp(ctx, r.Uploads); err != nil {
		return res, err
	}
	th := r.th()
	start := time.Now()
	hits := r.Index.Match(ref, th)
	res.Elapsed = time.Since(start)
	if len(hits) == 0 {
		return res, nil
	}
	var title, creatorName string
	if w, err := r.Works.GetWork(ctx, workID); err == nil {
		title, creatorName = w.Title, w.CreatorName
	}
	seen := map[string]bool{}
	for _, h := range hits {
		up, err := r.Uploads.GetUpload(ctx, h.Seq)
		if err != nil {
			return res, fmt.Errorf("retro: upload %d: %w", h.Seq, err)
		}
		key := up.Tenant + "\x00" + up.SubmissionID
		if seen[key] {
			continue // a redelivered upload logged twice
		}
		seen[key] = true
		res.Hits++
		q := r.Index.queryOf(h.Seq)
		cands := []verdict.Candidate{{
			WorkID: workID, CreatorID: creatorID, CreatorName: creatorName, Title: title, Match: h.Match, LowDetail: h.LowDetail,
		}}
		if r.Suppressor != nil {
			if cands, err = r.Suppressor.Suppress(ctx, q, up.Creator, cands); err != nil {
				return res, fmt.Errorf("retro: decisions: %w", err)
			}
		}
		v := verdict.Classify(up.Creator, cands, th)
		if !v.Flagged() {
			continue
		}
		if r.Known != nil {
			known, err := r.Known(ctx, up.Tenant, up.SubmissionID, workID)
			if err != nil {
				return res, fmt.Errorf("retro: %w", err)
			}
			if known {
				continue
			}
		}
		res.Flagged++
		if _, err := r.Cases.OpenUpload(ctx, review.Flagged{
			Kind: review.Retro, Tenant: up.Tenant, SubmissionID: up.SubmissionID, ClaimedCreator: up.Creator,
			Source: "retroactive match with work " + workID, Fingerprint: q, Verdict: v,
		}); err != nil {
			return res, err
		}
		if r.Publish != nil {
			rec := &index.VerdictRecord{Tenant: up.Tenant, SubmissionID: up.SubmissionID, Verdict: v, At: time.Now()}
			if err := r.Publish.PublishRetro(ctx, rec, workID); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// queryOf returns the two-view Query fingerprint of the upload with seq, or nil.
func (x *Index) queryOf(seq uint64) *hashing.Fingerprint {
	x.mu.RLock()
	defer x.mu.RUnlock()
	lo, hi := 0, len(x.seq)
	for lo < hi { // seqs are increasing once the low-detail bit is masked
		mid := (lo + hi) / 2
		if x.seq[mid]&^lowDetailBit < seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(x.seq) && x.seq[lo]&^lowDetailBit == seq {
		return x.query(lo)
	}
	return nil
}
