package review

import (
	"context"
	"errors"
	"fmt"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/verdict"
)

// Opener opens cases: for flagged submissions (OpenUpload, which the worker calls) and for
// registration disputes (OnDispute, which the registry calls).
type Opener struct {
	Store Store
	// Hashing decodes the picture for its fingerprint and thumbnail. Default
	// hashing.DefaultConfig().
	Hashing hashing.Config
}

// Flagged is a flagged picture to open a case for.
type Flagged struct {
	Kind           Kind // Upload, Rescan or Retro; default Upload
	Tenant         string
	SubmissionID   string
	ClaimedCreator string
	Source         string
	// Data is the picture's bytes; Fingerprint may be given instead (a retro case, whose
	// picture is not kept), then the case has no thumbnail.
	Data        []byte
	Fingerprint *hashing.Fingerprint
	// Orientation is the EXIF turn of Data, given with Fingerprint by a caller that decoded
	// the picture already (index.CheckResult), so it is not decoded again.
	Orientation hashing.Orientation
	Verdict     verdict.Verdict
}

// OpenUpload opens the case of a flagged picture, idempotently (see CaseID): a second call
// for the same submission returns the first case. Its thumbnail is made from Data; without a
// Fingerprint the picture is decoded again for one, which only flagged pictures pay for. A
// picture that cannot be decoded still gets its case, without a thumbnail.
func (o *Opener) OpenUpload(ctx context.Context, u Flagged) (*Case, error) {
	kind := u.Kind
	if kind == "" {
		kind = Upload
	}
	id := CaseID(kind, u.Tenant, u.SubmissionID)
	if kind == Retro && len(u.Verdict.Matches) > 0 {
		id = CaseID(kind, u.Tenant, u.SubmissionID, u.Verdict.Matches[0].WorkID) // one case per upload and new work
	}
	c := &Case{
		ID: id, Kind: kind, Tenant: u.Tenant, SubjectID: u.SubmissionID,
		ClaimedCreator: u.ClaimedCreator, Source: ClipText(u.Source, maxTextLen), Verdict: u.Verdict.Verdict,
	}
	for _, m := range u.Verdict.Matches {
		if m.Suppressed == "" {
			c.Matches = append(c.Matches, m)
		}
	}
	fp, orient := u.Fingerprint, u.Orientation
	if u.Data != nil && fp == nil {
		cfg := o.Hashing
		if cfg == (hashing.Config{}) {
			cfg = hashing.DefaultConfig()
		}
		if img, err := cfg.Decode(u.Data); err == nil {
			fp, orient = img.Fingerprint(hashing.Query), img.Orientation
		}
	}
	if u.Data != nil && fp != nil { // decodable: by the caller, or just now
		c.Thumbnail, _ = index.Thumbnail(u.Data, orient)
	}
	if fp != nil {
		b, err := fp.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("review: open case: %w", err)
		}
		c.Fingerprint = b
	}
	if len(c.Thumbnail) > MaxThumbnailSize {
		c.Thumbnail = nil
	}
	stored, _, err := o.Store.CreateCase(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("review: open case of %s/%s: %w", u.Tenant, u.SubmissionID, err)
	}
	return stored, nil
}

// OnDispute opens the case of a registration dispute: pass it to index.Registry.OnDispute.
// It is idempotent.
func (o *Opener) OnDispute(ctx context.Context, d index.DisputeRecorded) error {
	c := &Case{
		ID: CaseID(Dispute, "", d.Dispute.ID), Kind: Dispute, SubjectID: d.Work.ID,
		ClaimedCreator: d.Work.CreatorID, Source: "registration of work " + d.Work.ID,
		Matches:   []verdict.Match{verdict.NewMatch(d.Match)},
		Thumbnail: d.Work.Thumbnail,
	}
	if d.Work.RegisteredBy != "" {
		c.Source += " by " + d.Work.RegisteredBy
	}
	c.Source = ClipText(c.Source, maxTextLen)
	if d.Query != nil {
		b, err := d.Query.MarshalBinary()
		if err != nil {
			return fmt.Errorf("review: open dispute case: %w", err)
		}
		c.Fingerprint = b
	}
	if len(c.Thumbnail) > MaxThumbnailSize {
		c.Thumbnail = nil
	}
	if _, _, err := o.Store.CreateCase(ctx, c); err != nil {
		return fmt.Errorf("review: open case of dispute %s: %w", d.Dispute.ID, err)
	}
	return nil
}

// FlaggedBefore reports whether the submission's upload case lists the work, so that the
// upload was flagged against it when it was checked (retro.Runner.Known).
func FlaggedBefore(s Store) func(ctx context.Context, tenant, submissionID, workID string) (bool, error) {
	return func(ctx context.Context, tenant, submissionID, workID string) (bool, error) {
		c, err := s.GetCase(ctx, CaseID(Upload, tenant, submissionID))
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		for _, m := range c.Matches {
			if m.WorkID == workID {
				return true, nil
			}
		}
		return false, nil
	}
}
