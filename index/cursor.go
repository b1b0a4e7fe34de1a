package index

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// Cursors keep named positions in the change feed, so a follower of the feed that restarts
// goes on where it stopped (the retroactive matcher keeps "retro"): *BoltStore and
// *RedisStore.
type Cursors interface {
	// Cursor returns the position kept under name; ok is false when none is.
	Cursor(ctx context.Context, name string) (seq uint64, ok bool, err error)
	// SetCursor keeps seq under name.
	SetCursor(ctx context.Context, name string, seq uint64) error
}

// cursorPrefix starts a cursor's key: in the bolt meta bucket, and after the Redis
// keyspace's base.
const cursorPrefix = "cursor:"

// Cursor implements Cursors; positions live in the meta bucket.
func (s *BoltStore) Cursor(ctx context.Context, name string) (uint64, bool, error) {
	if err := s.begin(ctx); err != nil {
		return 0, false, s.fail("cursor", err)
	}
	var seq uint64
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get([]byte(cursorPrefix + name))
		if v == nil {
			return nil
		}
		if len(v) != 8 {
			return fmt.Errorf("cursor %q: %d bytes, want 8", name, len(v))
		}
		seq, ok = binary.BigEndian.Uint64(v), true
		return nil
	})
	if err != nil {
		return 0, false, s.fail("cursor", err)
	}
	return seq, ok, nil
}

// SetCursor implements Cursors.
func (s *BoltStore) SetCursor(ctx context.Context, name string, seq uint64) error {
	if err := s.begin(ctx); err != nil {
		return s.fail("set cursor", err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(cursorPrefix+name), binary.BigEndian.AppendUint64(nil, seq))
	})
	if err != nil {
		return s.fail("set cursor", err)
	}
	return nil
}

// Cursor implements Cursors; a position is the string key {<prefix>:reg}:cursor:<name>.
func (s *RedisStore) Cursor(ctx context.Context, name string) (uint64, bool, error) {
	v, err := s.rdb.Get(ctx, s.keys.cursorKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, s.fail("cursor", err)
	}
	seq, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, s.fail("cursor", fmt.Errorf("cursor %q: %w", name, err))
	}
	return seq, true, nil
}

// SetCursor implements Cursors.
func (s *RedisStore) SetCursor(ctx context.Context, name string, seq uint64) error {
	if err := s.rdb.Set(ctx, s.keys.cursorKey(name), strconv.FormatUint(seq, 10), 0).Err(); err != nil {
		return s.fail("set cursor", err)
	}
	return nil
}
