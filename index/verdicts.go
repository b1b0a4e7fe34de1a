package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/aura-art/aura/verdict"
)

// Verdicts by submission.
//
// The store keeps the verdict of every submission a worker processed, keyed by tenant and
// submission id, so that a redelivered submission finds the verdict it got the first time
// instead of getting a second one. PutVerdict is create-if-absent: the first verdict stored
// for a key stands.
//
// Layout:
//
//	bolt:  bucket "verdicts": <tenant> \x00 <submission id> -> verdictDoc JSON
//	redis: {<prefix>:t:<tenant>}:verdict:<submission id>   string: verdictDoc JSON
//
// The Redis key's hash tag is per tenant: a tenant's verdicts live in one Cluster slot (room
// for per-tenant indexes later) while tenants spread over the cluster.

// MaxSubmissionIDLen is the longest submission id, and MaxTenantLen the longest tenant, in
// bytes.
const (
	MaxSubmissionIDLen = 128
	MaxTenantLen       = 64
)

// VerdictRecord is the verdict of one submission as the store keeps it.
type VerdictRecord struct {
	// Tenant is the marketplace the submission came from: 1 to MaxTenantLen ASCII letters,
	// digits, '-' or '_' (see ValidTenant). Required.
	Tenant string `json:"tenant"`
	// SubmissionID is the tenant's id of the submission: 1 to MaxSubmissionIDLen printable
	// ASCII characters without white space (see ValidSubmissionID). Required.
	SubmissionID string `json:"submission_id"`
	// Verdict is what Aura said about the submitted picture. Its Verdict kind is required.
	Verdict verdict.Verdict `json:"verdict"`
	// WorkerID names the worker that decided the verdict.
	WorkerID string `json:"worker_id,omitempty"`
	// TimingsMS are the durations of the stages that produced the verdict, in milliseconds,
	// by stage name ("queue", "fetch", "check", ...).
	TimingsMS map[string]float64 `json:"timings_ms,omitempty"`
	// At is when the verdict was decided. PutVerdict fills it in when zero, and stores it in
	// UTC truncated to the millisecond.
	At time.Time `json:"at"`
}

// verdictDoc is the stored JSON form of a VerdictRecord, versioned.
type verdictDoc struct {
	Version int `json:"record_version"`
	VerdictRecord
}

// verdictDocVersion is the version of verdictDoc.
const verdictDocVersion = 1

// ValidTenant reports whether s is a valid tenant: 1 to MaxTenantLen ASCII letters, digits,
// '-' or '_'. A tenant is one token of a NATS subject and part of a Redis hash tag, so
// nothing else is allowed.
func ValidTenant(s string) bool {
	if s == "" || len(s) > MaxTenantLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidSubmissionID reports whether s is a valid submission id: 1 to MaxSubmissionIDLen
// printable ASCII characters (0x21 to 0x7e), so no white space or control characters.
func ValidSubmissionID(s string) bool {
	if s == "" || len(s) > MaxSubmissionIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validate checks the record's key and verdict.
func (r *VerdictRecord) validate() error {
	switch {
	case !ValidTenant(r.Tenant):
		return fmt.Errorf("%w: tenant %q: want 1 to %d letters, digits, '-' or '_'", ErrInvalid, r.Tenant, MaxTenantLen)
	case !ValidSubmissionID(r.SubmissionID):
		return fmt.Errorf("%w: submission id %q: want 1 to %d printable ASCII characters", ErrInvalid, r.SubmissionID, MaxSubmissionIDLen)
	case r.Verdict.Verdict == "":
		return fmt.Errorf("%w: submission %s: verdict is empty", ErrInvalid, r.SubmissionID)
	}
	return nil
}

// prepareVerdict validates r and returns the copy to store and its JSON.
func prepareVerdict(r *VerdictRecord) (*VerdictRecord, []byte, error) {
	if r == nil {
		return nil, nil, fmt.Errorf("%w: nil verdict", ErrInvalid)
	}
	if err := r.validate(); err != nil {
		return nil, nil, err
	}
	c := *r
	if c.At.IsZero() {
		c.At = time.Now()
	}
	c.At = storeTime(c.At)
	b, err := json.Marshal(verdictDoc{Version: verdictDocVersion, VerdictRecord: c})
	if err != nil {
		return nil, nil, fmt.Errorf("encode verdict: %w", err)
	}
	return &c, b, nil
}

// decodeVerdict decodes a stored verdictDoc.
func decodeVerdict(b []byte) (*VerdictRecord, error) {
	var d verdictDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode verdict: %w", err)
	}
	if d.Version != verdictDocVersion {
		return nil, fmt.Errorf("decode verdict: record version %d, want %d", d.Version, verdictDocVersion)
	}
	return &d.VerdictRecord, nil
}

// bucketVerdicts holds the embedded store's verdicts; it is created on first use.
var bucketVerdicts = []byte("verdicts")

func boltVerdictKey(tenant, id string) []byte { return []byte(tenant + "\x00" + id) }

// PutVerdict stores the verdict of a submission unless one is stored already for its tenant
// and submission id. It returns the stored record and created: true when r was stored (a
// copy with At filled in), false when an earlier verdict stands (that verdict is returned
// and r is ignored). It is safe for concurrent use; of concurrent calls for one key exactly
// one creates. An invalid record (see VerdictRecord's fields) wraps ErrInvalid. Concurrent
// writes share a commit (see BoltOptions.BatchDelay), fsynced unless BoltOptions.NoSync.
func (s *BoltStore) PutVerdict(ctx context.Context, r *VerdictRecord) (*VerdictRecord, bool, error) {
	if err := s.begin(ctx); err != nil {
		return nil, false, s.fail("put verdict", err)
	}
	rec, doc, err := prepareVerdict(r)
	if err != nil {
		return nil, false, s.fail("put verdict", err)
	}
	key := boltVerdictKey(rec.Tenant, rec.SubmissionID)
	var existing []byte
	err = s.batched(func(tx *bolt.Tx) error {
		existing = nil
		b, err := tx.CreateBucketIfNotExists(bucketVerdicts)
		if err != nil {
			return err
		}
		if v := b.Get(key); v != nil {
			existing = append([]byte(nil), v...)
			return nil
		}
		return b.Put(key, doc)
	})
	if err != nil {
		return nil, false, s.fail("put verdict", err)
	}
	if existing == nil {
		return rec, true, nil
	}
	old, err := decodeVerdict(existing)
	if err != nil {
		return nil, false, s.fail("put verdict", err)
	}
	return old, false, nil
}

// GetVerdict returns the verdict stored for a tenant's submission, or an error wrapping
// ErrNotFound.
func (s *BoltStore) GetVerdict(ctx context.Context, tenant, submissionID string) (*VerdictRecord, error) {
	if err := s.begin(ctx); err != nil {
		return nil, s.fail("get verdict", err)
	}
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketVerdicts); b != nil {
			if got := b.Get(boltVerdictKey(tenant, submissionID)); got != nil {
				v = append([]byte(nil), got...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("get verdict", err)
	}
	if v == nil {
		return nil, s.fail("get verdict", fmt.Errorf("%w: verdict of %s/%s", ErrNotFound, tenant, submissionID))
	}
	r, err := decodeVerdict(v)
	if err != nil {
		return nil, s.fail("get verdict", err)
	}
	return r, nil
}

// CountVerdicts returns how many verdicts the store holds.
func (s *BoltStore) CountVerdicts(ctx context.Context) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, s.fail("count verdicts", err)
	}
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketVerdicts); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return 0, s.fail("count verdicts", err)
	}
	return n, nil
}

// verdictKey is the Redis key of a tenant's submission's verdict. Its hash tag is the
// tenant's: {<prefix>:t:<tenant>}.
func (k keyspace) verdictKey(tenant, id string) string {
	prefix := strings.TrimSuffix(strings.TrimPrefix(k.base, "{"), ":reg}:")
	return "{" + prefix + ":t:" + tenant + "}:verdict:" + id
}

// putVerdictScript stores ARGV[1] at KEYS[1] unless the key exists, and returns the value
// that stands: nil when ARGV[1] was stored, the earlier value otherwise.
var putVerdictScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return false
`)

// PutVerdict implements the contract of BoltStore.PutVerdict on Redis, atomically in one
// script. An unreachable server fails within the store's timeouts.
func (s *RedisStore) PutVerdict(ctx context.Context, r *VerdictRecord) (*VerdictRecord, bool, error) {
	rec, doc, err := prepareVerdict(r)
	if err != nil {
		return nil, false, s.fail("put verdict", err)
	}
	key := s.keys.verdictKey(rec.Tenant, rec.SubmissionID)
	v, err := putVerdictScript.Run(ctx, s.rdb, []string{key}, doc).Text()
	if errors.Is(err, redis.Nil) {
		return rec, true, nil
	}
	if err != nil {
		return nil, false, s.fail("put verdict", err)
	}
	old, err := decodeVerdict([]byte(v))
	if err != nil {
		return nil, false, s.fail("put verdict", err)
	}
	return old, false, nil
}

// GetVerdict implements the contract of BoltStore.GetVerdict on Redis.
func (s *RedisStore) GetVerdict(ctx context.Context, tenant, submissionID string) (*VerdictRecord, error) {
	b, err := s.rdb.Get(ctx, s.keys.verdictKey(tenant, submissionID)).Bytes()
	if err != nil {
		return nil, s.fail(fmt.Sprintf("get verdict of %s/%s", tenant, submissionID), err)
	}
	r, err := decodeVerdict(b)
	if err != nil {
		return nil, s.fail("get verdict", err)
	}
	return r, nil
}
