package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/verdict"
)

// RegistryConfig configures a Registry.
type RegistryConfig struct {
	// Hashing holds the decode limits and sizes. Default hashing.DefaultConfig().
	Hashing hashing.Config
	// Thresholds decide what matches. Default hashing.DefaultThresholds.
	Thresholds hashing.Thresholds
}

// DefaultRegistryConfig returns the defaults documented on each field.
func DefaultRegistryConfig() RegistryConfig {
	return RegistryConfig{Hashing: hashing.DefaultConfig(), Thresholds: hashing.DefaultThresholds}
}

// Validate reports the settings that are out of range, by name.
func (c RegistryConfig) Validate() error {
	var errs []error
	if err := c.Hashing.Validate(); err != nil {
		errs = append(errs, err)
	}
	t := c.Thresholds
	for _, f := range []struct {
		name string
		v    float64
	}{{"match", t.Match}, {"low_detail", t.LowDetail}, {"forgery", t.Forgery}} {
		if !(f.v > 0 && f.v <= 1) {
			errs = append(errs, fmt.Errorf("thresholds: %s must be in (0, 1], got %v", f.name, f.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("index: registry config: %w", err)
	}
	return nil
}

// WorkMeta is what a registrant says about a work.
type WorkMeta struct {
	// ID is the work's id; optional (the store assigns one). See Work.ID.
	ID string
	// CreatorID is required.
	CreatorID   string
	CreatorName string
	Title       string
	Year        int
	SourceURL   string
	Licence     string
	// RegisteredBy names the user or API token that registers the work.
	RegisteredBy string
}

// RegisterStatus is the outcome of a registration.
type RegisterStatus string

// The registration outcomes.
const (
	// StatusRegistered: the work was created.
	StatusRegistered RegisterStatus = "registered"
	// StatusExists: a work with the same bytes (SHA-256) was already registered, by the same
	// creator or by another; nothing was created.
	StatusExists RegisterStatus = "exists"
	// StatusDisputed: the work was created, and it matches a work registered earlier to
	// another creator; a Dispute records the pair.
	StatusDisputed RegisterStatus = "disputed"
)

// RegisterResult is what Register did.
type RegisterResult struct {
	Status RegisterStatus
	// Work is the new work for StatusRegistered and StatusDisputed, and the existing work
	// with the same bytes for StatusExists. It carries its thumbnail.
	Work *Work
	// Dispute is the provenance dispute of the work: set for StatusDisputed, and for
	// StatusExists when the existing work is the same creator's and stands in a dispute
	// with an earlier work of someone else (a retried registration). Its ExistingWorkID and
	// ExistingCreatorID name the other work.
	Dispute *Dispute
}

// Registry registers works and checks pictures against them. It ties a Store (the durable
// truth), a Matcher (the in-memory replica that answers lookups) and the hashing settings.
// Its methods are safe for concurrent use.
//
// The matcher must be fed by its owner (Matcher.Run) and should be loaded (Matcher.Ready)
// before the registry is used; until then it knows fewer works, so checks find less and
// registrations raise fewer disputes. The registry applies its own writes to the matcher at
// once, so a registration is matched by the next call in this process; the change feed later
// re-applies them, idempotently.
type Registry struct {
	store   Store
	matcher *Matcher
	cfg     RegistryConfig
	log     *zap.Logger

	// commitMu serialises the lookup-then-create of registrations in this process, so that
	// two near-copies registered at once by two creators still raise a dispute. Across
	// processes the change feed's delay leaves a short window.
	commitMu sync.Mutex

	names nameCache

	suppressor Suppressor
	onDispute  func(ctx context.Context, d DisputeRecorded) error
}

// Suppressor clears candidates that moderators' decisions have settled
// (review.Suppressor): it returns cands with Suppressed set on those a decision clears for
// this picture and claimed creator. It must be safe for concurrent use. An error fails the
// check (the store that keeps decisions is down), so a worker retries rather than flag a
// picture a moderator already cleared.
type Suppressor interface {
	Suppress(ctx context.Context, q *hashing.Fingerprint, claimedCreator string, cands []verdict.Candidate) ([]verdict.Candidate, error)
}

// DisputeRecorded is what a registry tells OnDispute: the dispute, the newer registration
// (thumbnail included), its Query fingerprint, and the earlier work's match with its
// evidence.
type DisputeRecorded struct {
	Dispute *Dispute
	Work    *Work
	Query   *hashing.Fingerprint
	Match   verdict.Candidate
}

// SetSuppressor makes every check consult s. Call it before the registry is used.
func (r *Registry) SetSuppressor(s Suppressor) { r.suppressor = s }

// OnDispute makes the registry call fn after recording each dispute (again when a retried
// registration finds the dispute recorded before, so fn must be idempotent). An error from
// fn fails the registration; the work stays registered and registering the same bytes again
// calls fn again. Call it before the registry is used.
func (r *Registry) OnDispute(fn func(ctx context.Context, d DisputeRecorded) error) { r.onDispute = fn }

// NewRegistry returns a registry over a store and a matcher. log may be nil.
func NewRegistry(s Store, m *Matcher, cfg RegistryConfig, log *zap.Logger) (*Registry, error) {
	if s == nil || m == nil {
		return nil, errors.New("index: registry: store and matcher are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Registry{store: s, matcher: m, cfg: cfg, log: log.Named("registry"), names: nameCache{m: map[string]workNames{}}}, nil
}

// Store returns the registry's store, for reads (ListWorks, GetWork, ListDisputes). Write
// through the registry, so that its matcher learns of the write at once.
func (r *Registry) Store() Store { return r.store }

// Matcher returns the registry's matcher.
func (r *Registry) Matcher() *Matcher { return r.matcher }

// Config returns the registry's configuration.
func (r *Registry) Config() RegistryConfig { return r.cfg }

// Pending is a registration that Prepare made ready and Commit finishes. It holds no image
// bytes.
type Pending struct {
	work     *Work
	query    *hashing.Fingerprint // nil when the existing work is another creator's
	existing *Work                // the work with the same bytes, if any
}

// SHA256 returns the hex SHA-256 of the prepared file.
func (p *Pending) SHA256() string { return p.work.SHA256 }

// Register registers the image data as a work: Prepare then Commit. See both for what it
// does and returns. An image hashing refuses keeps hashing's error (errors.Is works with
// hashing.ErrTooLarge, ErrUnsupported, ErrCorrupt); a metadata problem wraps ErrInvalid; a
// given meta.ID that another file already has wraps ErrExists.
func (r *Registry) Register(ctx context.Context, data []byte, meta WorkMeta) (RegisterResult, error) {
	p, err := r.Prepare(ctx, data, meta)
	if err != nil {
		return RegisterResult{}, err
	}
	return r.Commit(ctx, p)
}

// Prepare does the costly, parallel part of a registration: it hashes the bytes (SHA-256),
// looks them up in the store, and unless they are registered already decodes them, computes
// their Reference and Query fingerprints and a thumbnail (see ThumbnailSide). A thumbnail that
// cannot be made is logged and left out; the work is registered without one. Prepare writes
// nothing, so it may run on many goroutines while Commit runs on one.
func (r *Registry) Prepare(ctx context.Context, data []byte, meta WorkMeta) (*Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("index: register: %w", err)
	}
	if meta.CreatorID == "" {
		return nil, fmt.Errorf("index: register: %w: creator_id is required", ErrInvalid)
	}
	sum := sha256.Sum256(data)
	w := &Work{
		ID: meta.ID, CreatorID: meta.CreatorID, CreatorName: meta.CreatorName, Title: meta.Title, Year: meta.Year,
		SourceURL: meta.SourceURL, Licence: meta.Licence, RegisteredBy: meta.RegisteredBy,
		SHA256: hex.EncodeToString(sum[:]),
	}
	p := &Pending{work: w}
	existing, err := r.store.WorkBySHA256(ctx, w.SHA256)
	switch {
	case err == nil:
		p.existing = existing
		if existing.CreatorID != meta.CreatorID {
			return p, nil // nothing to decode: no dispute can be recorded for the same bytes
		}
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("index: register: look up sha256: %w", err)
	}
	img, err := r.cfg.Hashing.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("index: register: decode: %w", err)
	}
	p.query = img.Fingerprint(hashing.Query)
	if p.existing != nil {
		return p, nil
	}
	w.Fingerprint = img.Fingerprint(hashing.Reference)
	if w.Thumbnail, err = makeThumbnail(r.cfg.Hashing, data, img.Orientation); err != nil {
		r.log.Warn("no thumbnail", zap.String("sha256", w.SHA256), zap.Error(err))
	}
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("index: register: %w", err)
	}
	return p, nil
}

// Commit finishes a prepared registration: it creates the work, records a dispute when the
// picture matches (Thresholds.Accept) a work of another creator, and puts the new work into
// the matcher. The result's status is
//
//   - StatusExists when the bytes are registered already (found by Prepare, or registered
//     meanwhile); a retry of a disputed registration by the same creator then records the
//     dispute if it is missing and returns it;
//   - StatusDisputed when the best match of another creator's work reaches the
//     threshold: the work is still created, so both registrations stand with their
//     timestamps, and a Dispute with a deterministic id (from the two work ids) is recorded;
//   - StatusRegistered otherwise.
//
// Commits in one process are serialised. If recording the dispute fails, Commit returns the
// error; the work is registered, and registering the same bytes again records the dispute.
func (r *Registry) Commit(ctx context.Context, p *Pending) (RegisterResult, error) {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	if p.existing != nil {
		return r.commitExisting(ctx, p.existing, p)
	}
	other, disputed := r.bestOther(p.query, p.work.CreatorID, "")
	created, err := r.store.CreateWork(ctx, p.work)
	if errors.Is(err, ErrExists) && created != nil {
		if created.SHA256 != p.work.SHA256 {
			return RegisterResult{}, fmt.Errorf("index: register: id %q is another file's: %w", p.work.ID, ErrExists)
		}
		return r.commitExisting(ctx, created, p) // the same bytes, registered meanwhile
	}
	if err != nil {
		return RegisterResult{}, fmt.Errorf("index: register: create: %w", err)
	}
	r.matcher.Put(registryEntry(created))
	res := RegisterResult{Status: StatusRegistered, Work: created}
	if !disputed {
		return res, nil
	}
	d, err := r.recordDispute(ctx, created, p.query, other)
	if err != nil {
		return RegisterResult{}, err
	}
	res.Status, res.Dispute = StatusDisputed, d
	return res, nil
}

// commitExisting reports a registration of bytes that are registered already, and heals a
// missing dispute when the existing work is the registrant's.
func (r *Registry) commitExisting(ctx context.Context, existing *Work, p *Pending) (RegisterResult, error) {
	res := RegisterResult{Status: StatusExists, Work: existing}
	if existing.CreatorID != p.work.CreatorID || p.query == nil {
		return res, nil
	}
	// Only a work registered before the existing one can be what it copies.
	for _, c := range r.matcher.Lookup(p.query, r.cfg.Thresholds, verdict.MaxMatches) {
		if c.CreatorID == existing.CreatorID || c.WorkID == existing.ID {
			continue
		}
		w, err := r.store.GetWork(ctx, c.WorkID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return RegisterResult{}, fmt.Errorf("index: register: get work %s: %w", c.WorkID, err)
		}
		if !w.RegisteredAt.Before(existing.RegisteredAt) {
			continue
		}
		d, err := r.recordDispute(ctx, existing, p.query, c)
		if err != nil {
			return RegisterResult{}, err
		}
		res.Dispute = d
		break
	}
	return res, nil
}

// bestOther returns the best candidate of a creator other than creatorID, skipping the
// work skipID.
func (r *Registry) bestOther(q *hashing.Fingerprint, creatorID, skipID string) (Candidate, bool) {
	for _, c := range r.matcher.Lookup(q, r.cfg.Thresholds, verdict.MaxMatches) {
		if c.CreatorID != creatorID && c.WorkID != skipID {
			return c, true
		}
	}
	return Candidate{}, false
}

// recordDispute records that work w matches the earlier work of candidate c. A dispute
// recorded before (same pair) is not an error.
func (r *Registry) recordDispute(ctx context.Context, w *Work, q *hashing.Fingerprint, c Candidate) (*Dispute, error) {
	d := &Dispute{
		ID: DisputeID(w.ID, c.WorkID), WorkID: w.ID, ExistingWorkID: c.WorkID,
		CreatorID: w.CreatorID, ExistingCreatorID: c.CreatorID, Score: min(1, max(0, c.Match.Score)),
	}
	if err := r.store.CreateDispute(ctx, d); err != nil && !errors.Is(err, ErrExists) {
		return nil, fmt.Errorf("index: register: work %s is registered; recording its dispute with %s: %w", w.ID, c.WorkID, err)
	}
	if r.onDispute != nil {
		n, _ := r.workNames(ctx, c.WorkID)
		m := verdict.Candidate{WorkID: c.WorkID, CreatorID: c.CreatorID, CreatorName: n.creator, Title: n.title, Match: c.Match, LowDetail: c.LowDetail}
		if err := r.onDispute(ctx, DisputeRecorded{Dispute: d, Work: w, Query: q, Match: m}); err != nil {
			return nil, fmt.Errorf("index: register: work %s is registered and its dispute recorded; opening its review case: %w", w.ID, err)
		}
	}
	return d, nil
}

// DisputeID is the id of the dispute between two works: "d_" and 16 hex digits of the
// SHA-256 of the two ids in byte order, so it does not depend on which came first and a
// retried registration finds the dispute it recorded before.
func DisputeID(workA, workB string) string {
	if workB < workA {
		workA, workB = workB, workA
	}
	sum := sha256.Sum256([]byte(workA + "\x00" + workB))
	return "d_" + hex.EncodeToString(sum[:8])
}

// registryEntry is the matcher's entry of a work.
func registryEntry(w *Work) MatchEntry {
	return MatchEntry{ID: w.ID, CreatorID: w.CreatorID, Disabled: w.Disabled, Fingerprint: w.Fingerprint}
}

// Check decodes and fingerprints a picture (Query), looks it up in the matcher and classifies
// it for the claimed creator ("" for none); see verdict.Classify. The matches are enriched
// with the works' titles and creator names from the store (cached); a work deleted since the
// matcher saw it is left out, and a store error leaves the names out and is logged. An image
// hashing refuses keeps hashing's error (errors.Is works). Check writes nothing.
func (r *Registry) Check(ctx context.Context, data []byte, claimedCreator string) (verdict.Verdict, error) {
	res, err := r.CheckImage(ctx, data, claimedCreator)
	if err != nil {
		return verdict.Verdict{}, err
	}
	return res.Verdict, nil
}

// CheckResult is a check's verdict with the picture's Query fingerprint and the EXIF turn
// that was applied to it.
type CheckResult struct {
	Verdict     verdict.Verdict
	Fingerprint *hashing.Fingerprint
	Orientation hashing.Orientation
}

// CheckImage is Check that also returns the picture's fingerprint, for callers that keep it
// (the worker's upload log, review cases).
func (r *Registry) CheckImage(ctx context.Context, data []byte, claimedCreator string) (*CheckResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("index: check: %w", err)
	}
	img, err := r.cfg.Hashing.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("index: check: decode: %w", err)
	}
	q := img.Fingerprint(hashing.Query)
	v, err := r.CheckFingerprint(ctx, q, claimedCreator)
	if err != nil {
		return nil, err
	}
	return &CheckResult{Verdict: v, Fingerprint: q, Orientation: img.Orientation}, nil
}

// CheckFingerprint is Check for a Query fingerprint computed elsewhere. It fails only when
// the Suppressor does.
func (r *Registry) CheckFingerprint(ctx context.Context, q *hashing.Fingerprint, claimedCreator string) (verdict.Verdict, error) {
	th := r.cfg.Thresholds
	found := r.matcher.Lookup(q, th, verdict.MaxMatches)
	cands := make([]verdict.Candidate, 0, len(found))
	for _, c := range found {
		n, ok := r.workNames(ctx, c.WorkID)
		if !ok {
			continue
		}
		cands = append(cands, verdict.Candidate{
			WorkID: c.WorkID, CreatorID: c.CreatorID, CreatorName: n.creator, Title: n.title,
			Match: c.Match, LowDetail: c.LowDetail,
		})
	}
	if r.suppressor != nil && len(cands) > 0 {
		var err error
		if cands, err = r.suppressor.Suppress(ctx, q, claimedCreator, cands); err != nil {
			return verdict.Verdict{}, fmt.Errorf("index: check: decisions: %w", err)
		}
	}
	v := verdict.Classify(claimedCreator, cands, th)
	v.LowDetail = q.LowDetail
	return v, nil
}

// SetDisabled disables (true) or re-enables (false) a work in the store and in the matcher.
// An unknown id wraps ErrNotFound.
func (r *Registry) SetDisabled(ctx context.Context, id string, disabled bool) error {
	if err := r.store.SetDisabled(ctx, id, disabled); err != nil {
		return fmt.Errorf("index: registry: set disabled: %w", err)
	}
	w, err := r.store.GetWork(ctx, id)
	if err != nil {
		// The store holds the change; the feed brings it to the matcher.
		r.log.Warn("matcher not updated at once", zap.String("work_id", id), zap.Error(err))
		return nil
	}
	r.matcher.Put(registryEntry(w))
	return nil
}

// Delete removes a work from the store and from the matcher. An unknown id wraps
// ErrNotFound.
func (r *Registry) Delete(ctx context.Context, id string) error {
	if err := r.store.DeleteWork(ctx, id); err != nil {
		return fmt.Errorf("index: registry: delete: %w", err)
	}
	r.matcher.Remove(id)
	r.names.forget(id)
	return nil
}

// workNames returns the names of a work for evidence, from the cache or the store. ok is
// false when the work no longer exists.
func (r *Registry) workNames(ctx context.Context, id string) (workNames, bool) {
	if n, ok := r.names.get(id); ok {
		return n, true
	}
	w, err := r.store.GetWork(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return workNames{}, false
	case err != nil:
		r.log.Warn("work names not loaded", zap.String("work_id", id), zap.Error(err))
		return workNames{}, true
	}
	n := workNames{creator: w.CreatorName, title: w.Title}
	r.names.put(id, n)
	return n, true
}

// workNames are what a verdict shows of a work beyond its ids.
type workNames struct{ creator, title string }

// nameCacheSize bounds the name cache; when full it starts over.
const nameCacheSize = 100_000

// nameCache caches work names; names never change while a work exists.
type nameCache struct {
	mu sync.Mutex
	m  map[string]workNames
}

func (c *nameCache) get(id string) (workNames, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[id]
	return n, ok
}

func (c *nameCache) put(id string, n workNames) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= nameCacheSize {
		clear(c.m)
	}
	c.m[id] = n
}

func (c *nameCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
