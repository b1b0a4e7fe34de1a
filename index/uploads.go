package index

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/aura-art/aura/hashing"
)

// The upload log.
//
// Every upload a worker processes leaves a compact record in the store: its tenant,
// submission id, and the hashes of the whole picture upright and mirrored. When a work is
// registered later, package retro matches it against these records, so copies uploaded
// before the work was registered are found without downloading them again.
//
// Layout:
//
//	bolt:  bucket "uploads": big-endian seq -> 48 bytes of hashes, flags (1 byte: bit 0 low
//	       detail), tenant, 0x00, submission id, 0x00, claimed creator
//	redis: {<prefix>:up}:seq  string: the last seq (INCR)
//	       {<prefix>:up}:log  stream: entry "<seq>-1", field r = the bolt value
//
// The log has its own hash tag, so on a Redis Cluster it lives apart from the registry.

// UploadRecord is the compact fingerprint of one processed upload.
type UploadRecord struct {
	// Seq orders the log; the store assigns it.
	Seq          uint64
	Tenant       string
	SubmissionID string
	// Creator is the creator the upload claimed, "" for none.
	Creator string
	// LowDetail is the fingerprint's low-detail flag.
	LowDetail bool
	// Upright and Mirrored are the hashes of the whole picture as uploaded and mirrored
	// (the first two views of its Query fingerprint).
	Upright, Mirrored hashing.Hashes
}

// NewUploadRecord returns the record of an upload with Query fingerprint q, or false if q
// does not start with the upright and mirrored whole views.
func NewUploadRecord(tenant, submissionID, creator string, q *hashing.Fingerprint) (UploadRecord, bool) {
	if q == nil || len(q.Views) < 2 {
		return UploadRecord{}, false
	}
	up, mi := q.Views[0], q.Views[1]
	whole := func(v hashing.Variant, o hashing.Orientation) bool { // the whole picture turned by o
		turned := v.Orientation == o
		v.Orientation = hashing.Identity
		return turned && v.Whole()
	}
	if !whole(up.Variant, hashing.Identity) || !whole(mi.Variant, hashing.Mirror) {
		return UploadRecord{}, false
	}
	return UploadRecord{
		Tenant: tenant, SubmissionID: submissionID, Creator: creator, LowDetail: q.LowDetail,
		Upright: up.Hashes, Mirrored: mi.Hashes,
	}, true
}

func (r *UploadRecord) encode() ([]byte, error) {
	if !ValidTenant(r.Tenant) || !ValidSubmissionID(r.SubmissionID) || len(r.Creator) > maxCreatorLen || strings.ContainsRune(r.Creator, 0) {
		return nil, fmt.Errorf("%w: upload record %q/%q", ErrInvalid, r.Tenant, r.SubmissionID)
	}
	b := make([]byte, 0, 49+len(r.Tenant)+1+len(r.SubmissionID)+1+len(r.Creator))
	for _, h := range []hashing.Hash{r.Upright.P, r.Upright.D, r.Upright.A, r.Mirrored.P, r.Mirrored.D, r.Mirrored.A} {
		b = binary.BigEndian.AppendUint64(b, uint64(h))
	}
	var flags byte
	if r.LowDetail {
		flags |= 1
	}
	b = append(b, flags)
	b = append(b, r.Tenant...)
	b = append(b, 0)
	b = append(b, r.SubmissionID...)
	b = append(b, 0)
	return append(b, r.Creator...), nil
}

func decodeUpload(seq uint64, b []byte) (UploadRecord, error) {
	if len(b) < 51 {
		return UploadRecord{}, fmt.Errorf("decode upload %d: %d bytes", seq, len(b))
	}
	h := func(i int) hashing.Hash { return hashing.Hash(binary.BigEndian.Uint64(b[8*i:])) }
	parts := strings.SplitN(string(b[49:]), "\x00", 3)
	if len(parts) != 3 {
		return UploadRecord{}, fmt.Errorf("decode upload %d: want tenant, id and creator", seq)
	}
	return UploadRecord{
		Seq: seq, Tenant: parts[0], SubmissionID: parts[1], Creator: parts[2], LowDetail: b[48]&1 != 0,
		Upright: hashing.Hashes{P: h(0), D: h(1), A: h(2)}, Mirrored: hashing.Hashes{P: h(3), D: h(4), A: h(5)},
	}, nil
}

var bucketUploads = []byte("uploads")

// AppendUpload appends r to the upload log and sets r.Seq. A redelivered submission may
// append a second record; readers treat records of one tenant and submission id as one.
func (s *BoltStore) AppendUpload(ctx context.Context, r *UploadRecord) error {
	if err := s.begin(ctx); err != nil {
		return s.fail("append upload", err)
	}
	v, err := r.encode()
	if err != nil {
		return s.fail("append upload", err)
	}
	err = s.batched(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketUploads)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		r.Seq = seq
		return b.Put(binary.BigEndian.AppendUint64(nil, seq), v)
	})
	if err != nil {
		return s.fail("append upload", err)
	}
	return nil
}

// Uploads returns up to limit records with Seq > after, oldest first (limit ≤ 0: 10,000).
func (s *BoltStore) Uploads(ctx context.Context, after uint64, limit int) ([]UploadRecord, error) {
	if err := s.begin(ctx); err != nil {
		return nil, s.fail("uploads", err)
	}
	if limit <= 0 {
		limit = 10000
	}
	var out []UploadRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUploads)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			r, err := decodeUpload(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("uploads", err)
	}
	return out, nil
}

// GetUpload returns the record with seq, or an error wrapping ErrNotFound.
func (s *BoltStore) GetUpload(ctx context.Context, seq uint64) (UploadRecord, error) {
	return getUpload(ctx, s, seq, s.fail)
}

// getUpload reads the record with seq through log's Uploads.
func getUpload(ctx context.Context, log UploadLog, seq uint64, fail func(string, error) error) (UploadRecord, error) {
	list, err := log.Uploads(ctx, seq-1, 1)
	if err != nil {
		return UploadRecord{}, err
	}
	if len(list) == 0 || list[0].Seq != seq {
		return UploadRecord{}, fail("get upload", fmt.Errorf("%w: upload %d", ErrNotFound, seq))
	}
	return list[0], nil
}

func (k keyspace) uploadKeys() (seq, log string) {
	prefix := strings.TrimSuffix(strings.TrimPrefix(k.base, "{"), ":reg}:")
	return "{" + prefix + ":up}:seq", "{" + prefix + ":up}:log"
}

var appendUploadScript = redis.NewScript(`
local s = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], s .. '-1', 'r', ARGV[1])
return s
`)

// AppendUpload implements BoltStore.AppendUpload on Redis, in one script.
func (s *RedisStore) AppendUpload(ctx context.Context, r *UploadRecord) error {
	v, err := r.encode()
	if err != nil {
		return s.fail("append upload", err)
	}
	seqKey, logKey := s.keys.uploadKeys()
	seq, err := appendUploadScript.Run(ctx, s.rdb, []string{seqKey, logKey}, v).Uint64()
	if err != nil {
		return s.fail("append upload", err)
	}
	r.Seq = seq
	return nil
}

// Uploads implements BoltStore.Uploads on Redis.
func (s *RedisStore) Uploads(ctx context.Context, after uint64, limit int) ([]UploadRecord, error) {
	if limit <= 0 {
		limit = 10000
	}
	_, logKey := s.keys.uploadKeys()
	msgs, err := s.rdb.XRangeN(ctx, logKey, strconv.FormatUint(after+1, 10)+"-0", "+", int64(limit)).Result()
	if err != nil {
		return nil, s.fail("uploads", err)
	}
	out := make([]UploadRecord, 0, len(msgs))
	for _, m := range msgs {
		seqStr, _, _ := strings.Cut(m.ID, "-")
		seq, err := strconv.ParseUint(seqStr, 10, 64)
		if err != nil {
			return nil, s.fail("uploads", fmt.Errorf("entry id %q: %w", m.ID, err))
		}
		raw, _ := m.Values["r"].(string)
		r, err := decodeUpload(seq, []byte(raw))
		if err != nil {
			return nil, s.fail("uploads", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// GetUpload implements BoltStore.GetUpload on Redis.
func (s *RedisStore) GetUpload(ctx context.Context, seq uint64) (UploadRecord, error) {
	return getUpload(ctx, s, seq, s.fail)
}

// UploadLog is the upload log of a store: *BoltStore and *RedisStore.
type UploadLog interface {
	AppendUpload(ctx context.Context, r *UploadRecord) error
	Uploads(ctx context.Context, after uint64, limit int) ([]UploadRecord, error)
	GetUpload(ctx context.Context, seq uint64) (UploadRecord, error)
}

var (
	_ UploadLog = (*BoltStore)(nil)
	_ UploadLog = (*RedisStore)(nil)
)
