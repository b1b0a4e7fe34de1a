package review

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis layout. Every key starts with the hash tag "{<prefix>:rev}", so the review data
// lives in one Redis Cluster slot and every script touches one slot:
//
//	{aura:rev}:case:<id>         string: Case JSON (thumbnail included)
//	{aura:rev}:queue:<state>     zset, all scores 0: queueKey members (ZRANGE BYLEX paging)
//	{aura:rev}:sum               hash: case id -> encoded Summary
//	{aura:rev}:suppress:<work>   hash: case id -> suppressEntry JSON
//	{aura:rev}:counts            hash: counter name -> count
//	{aura:rev}:events            zset: pending event ids scored by their sequence
//	{aura:rev}:event_data        hash: event id -> Event JSON
//	{aura:rev}:event_seq         string: the last event sequence (INCR)
//	{aura:rev}:users             hash: user name -> User JSON
//	{aura:rev}:session_key       string: the session secret
type rkeys struct{ base string }

func (k rkeys) caseKey(id string) string    { return k.base + "case:" + id }
func (k rkeys) queue(s State) string        { return k.base + "queue:" + string(s) }
func (k rkeys) sum() string                 { return k.base + "sum" }
func (k rkeys) suppress(work string) string { return k.base + "suppress:" + work }
func (k rkeys) counts() string              { return k.base + "counts" }
func (k rkeys) events() string              { return k.base + "events" }
func (k rkeys) eventData() string           { return k.base + "event_data" }
func (k rkeys) eventSeq() string            { return k.base + "event_seq" }
func (k rkeys) users() string               { return k.base + "users" }
func (k rkeys) sessionKey() string          { return k.base + "session_key" }

// RedisStore is the Store on Redis, beside the registry's keys (index.RedisStore.Client).
type RedisStore struct {
	rdb  redis.UniversalClient
	keys rkeys
	now  func() time.Time
}

// NewRedisStore returns the case store on rdb with keys under "{<prefix>:rev}:". The caller
// keeps ownership of rdb.
func NewRedisStore(rdb redis.UniversalClient, prefix string) *RedisStore {
	if prefix == "" {
		prefix = "aura"
	}
	return &RedisStore{rdb: rdb, keys: rkeys{base: "{" + prefix + ":rev}:"}, now: time.Now}
}

func (s *RedisStore) fail(step string, err error) error {
	switch {
	case errors.Is(err, redis.Nil):
		err = ErrNotFound
	case errors.Is(err, redis.ErrClosed):
		err = ErrClosed
	}
	return fmt.Errorf("review: redis: %s: %w", step, err)
}

var createCaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
for i = 5, #ARGV do redis.call('HINCRBY', KEYS[4], ARGV[i], 1) end
return false
`)

// CreateCase implements Store.
func (s *RedisStore) CreateCase(ctx context.Context, c *Case) (*Case, bool, error) {
	n, err := newCase(c, s.now())
	if err != nil {
		return nil, false, s.fail("create case", err)
	}
	doc, err := json.Marshal(n)
	if err != nil {
		return nil, false, s.fail("create case", err)
	}
	sum := Summarize(n)
	args := []any{doc, queueKey(&sum), n.ID, encodeSummary(&sum)}
	for _, c := range createCounters(n) {
		args = append(args, c)
	}
	keys := []string{s.keys.caseKey(n.ID), s.keys.queue(Open), s.keys.sum(), s.keys.counts()}
	v, err := createCaseScript.Run(ctx, s.rdb, keys, args...).Text()
	if errors.Is(err, redis.Nil) {
		return n, true, nil
	}
	if err != nil {
		return nil, false, s.fail("create case", err)
	}
	old, err := decodeCase([]byte(v))
	if err != nil {
		return nil, false, s.fail("create case", err)
	}
	return old, false, nil
}

// GetCase implements Store.
func (s *RedisStore) GetCase(ctx context.Context, id string) (*Case, error) {
	b, err := s.rdb.Get(ctx, s.keys.caseKey(id)).Bytes()
	if err != nil {
		return nil, s.fail(fmt.Sprintf("get case %q", id), err)
	}
	c, err := decodeCase(b)
	if err != nil {
		return nil, s.fail("get case", err)
	}
	return c, nil
}

// listBatch is how many queue entries ListCases reads from Redis in one round trip.
const listBatch = 500

// ListCases implements Store.
func (s *RedisStore) ListCases(ctx context.Context, f Filter) ([]Summary, string, error) {
	state, now, limit := listDefaults(&f)
	if !state.Valid() {
		return nil, "", s.fail("list cases", fmt.Errorf("%w: state %q", ErrInvalid, state))
	}
	var page []Summary
	after := f.After
	for {
		min := "-"
		if after != "" {
			min = "(" + after
		}
		members, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
			Key: s.keys.queue(state), Start: min, Stop: "+", ByLex: true, Count: listBatch,
		}).Result()
		if err != nil {
			return nil, "", s.fail("list cases", err)
		}
		if len(members) == 0 {
			return page, "", nil
		}
		ids := make([]string, len(members))
		for i, m := range members {
			_, ids[i], _ = strings.Cut(m, ":")
		}
		vals, err := s.rdb.HMGet(ctx, s.keys.sum(), ids...).Result()
		if err != nil {
			return nil, "", s.fail("list cases", err)
		}
		for i, m := range members {
			pass, stop := timePasses(&f, m, now)
			if stop {
				return page, "", nil
			}
			str, ok := vals[i].(string)
			if !pass || !ok || !summaryPasses(&f, []byte(str)) {
				continue
			}
			if len(page) == limit {
				return page, page[len(page)-1].cursor, nil
			}
			sum, err := decodeSummary([]byte(str))
			if err != nil {
				return nil, "", s.fail("list cases", err)
			}
			sum.cursor = m
			page = append(page, sum)
		}
		if len(members) < listBatch {
			return page, "", nil
		}
		after = members[len(members)-1]
	}
}

var decideScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 'missing' end
if cur ~= ARGV[1] then return 'conflict' end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
local seq = redis.call('INCR', KEYS[8])
redis.call('ZADD', KEYS[6], seq, ARGV[7])
redis.call('HSET', KEYS[7], ARGV[7], ARGV[8])
local ndel, nset = tonumber(ARGV[9]), tonumber(ARGV[10])
for i = 1, ndel do redis.call('HDEL', KEYS[8 + i], ARGV[5]) end
for i = 1, nset do redis.call('HSET', KEYS[8 + ndel + i], ARGV[5], ARGV[11]) end
local ninc, ndec = tonumber(ARGV[12]), tonumber(ARGV[13])
for i = 1, ninc do redis.call('HINCRBY', KEYS[5], ARGV[13 + i], 1) end
for i = 1, ndec do
  local f = ARGV[13 + ninc + i]
  if redis.call('HINCRBY', KEYS[5], f, -1) == 0 then redis.call('HDEL', KEYS[5], f) end
end
return 'ok'
`)

// Decide implements Store. It reads the case, computes the decision, and applies it in one
// script only if the case is unchanged since the read; a concurrent change makes it read
// again, so the caller's version decides the outcome.
func (s *RedisStore) Decide(ctx context.Context, id string, version int64, d Decision) (*Case, error) {
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := s.rdb.Get(ctx, s.keys.caseKey(id)).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, s.fail("decide", fmt.Errorf("%w: case %q", ErrNotFound, id))
		}
		if err != nil {
			return nil, s.fail("decide", err)
		}
		old, err := decodeCase(cur)
		if err != nil {
			return nil, s.fail("decide", err)
		}
		n, ev, err := transition(old, version, d, s.now())
		if err != nil {
			return nil, s.fail("decide", err)
		}
		doc, err := json.Marshal(n)
		if err != nil {
			return nil, s.fail("decide", err)
		}
		evDoc, err := json.Marshal(ev)
		if err != nil {
			return nil, s.fail("decide", err)
		}
		oldSum, newSum := Summarize(old), Summarize(n)
		delWorks, _ := suppressions(old)
		setWorks, entry := suppressions(n)
		inc, dec := decideCounters(old, n)
		keys := []string{
			s.keys.caseKey(id), s.keys.queue(old.State), s.keys.queue(n.State), s.keys.sum(), s.keys.counts(),
			s.keys.events(), s.keys.eventData(), s.keys.eventSeq(),
		}
		for _, w := range delWorks {
			keys = append(keys, s.keys.suppress(w))
		}
		for _, w := range setWorks {
			keys = append(keys, s.keys.suppress(w))
		}
		args := []any{cur, doc, queueKey(&oldSum), queueKey(&newSum), id, encodeSummary(&newSum), ev.ID, evDoc,
			len(delWorks), len(setWorks), string(entry), len(inc), len(dec)}
		for _, c := range inc {
			args = append(args, c)
		}
		for _, c := range dec {
			args = append(args, c)
		}
		res, err := decideScript.Run(ctx, s.rdb, keys, args...).Text()
		if err != nil {
			return nil, s.fail("decide", err)
		}
		switch res {
		case "ok":
			return n, nil
		case "missing":
			return nil, s.fail("decide", fmt.Errorf("%w: case %q", ErrNotFound, id))
		}
		// "conflict": changed between the read and the script; read again.
	}
	return nil, s.fail("decide", fmt.Errorf("%w: case %q keeps changing", ErrConflict, id))
}

// Suppressions implements Store.
func (s *RedisStore) Suppressions(ctx context.Context, workIDs []string) (map[string]*Suppression, error) {
	out := map[string]*Suppression{}
	if len(workIDs) == 0 {
		return out, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(workIDs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, w := range workIDs {
			cmds[i] = p.HGetAll(ctx, s.keys.suppress(w))
		}
		return nil
	})
	if err != nil {
		return nil, s.fail("suppressions", err)
	}
	for i, w := range workIDs {
		m := cmds[i].Val()
		if len(m) == 0 {
			continue
		}
		sup := &Suppression{}
		for caseID, raw := range m {
			if err := addSuppression(sup, caseID, []byte(raw)); err != nil {
				return nil, s.fail("suppressions", err)
			}
		}
		out[w] = sup
	}
	return out, nil
}

// Counts implements Store.
func (s *RedisStore) Counts(ctx context.Context) (*Counts, error) {
	raw, err := s.rdb.HGetAll(ctx, s.keys.counts()).Result()
	if err != nil {
		return nil, s.fail("counts", err)
	}
	counters := make(map[string]int64, len(raw))
	for k, v := range raw {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			counters[k] = n
		}
	}
	c := countsFrom(counters)
	first, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.keys.queue(Open), Start: "-", Stop: "+", ByLex: true, Count: 1}).Result()
	if err != nil {
		return nil, s.fail("counts", err)
	}
	if len(first) == 1 && len(first[0]) >= 16 {
		if ms, err := strconv.ParseInt(first[0][:16], 10, 64); err == nil {
			c.OldestOpen = time.UnixMilli(ms).UTC()
		}
	}
	return c, nil
}

// PendingEvents implements Store.
func (s *RedisStore) PendingEvents(ctx context.Context, limit int) ([]Event, error) {
	ids, err := s.rdb.ZRange(ctx, s.keys.events(), 0, int64(pageSize(limit))-1).Result()
	if err != nil {
		return nil, s.fail("pending events", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	vals, err := s.rdb.HMGet(ctx, s.keys.eventData(), ids...).Result()
	if err != nil {
		return nil, s.fail("pending events", err)
	}
	out := make([]Event, 0, len(ids))
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(str), &e); err != nil {
			return nil, s.fail("pending events", fmt.Errorf("decode event: %w", err))
		}
		out = append(out, e)
	}
	return out, nil
}

// AckEvent implements Store.
func (s *RedisStore) AckEvent(ctx context.Context, id string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, s.keys.events(), id)
		p.HDel(ctx, s.keys.eventData(), id)
		return nil
	})
	if err != nil {
		return s.fail("ack event", err)
	}
	return nil
}

// PutUser implements Store.
func (s *RedisStore) PutUser(ctx context.Context, u *User) error {
	doc, err := prepareUser(u, s.now())
	if err != nil {
		return s.fail("put user", err)
	}
	if err := s.rdb.HSet(ctx, s.keys.users(), u.Name, doc).Err(); err != nil {
		return s.fail("put user", err)
	}
	return nil
}

// GetUser implements Store.
func (s *RedisStore) GetUser(ctx context.Context, name string) (*User, error) {
	b, err := s.rdb.HGet(ctx, s.keys.users(), name).Bytes()
	if err != nil {
		return nil, s.fail(fmt.Sprintf("get user %q", name), err)
	}
	var u User
	if err := json.Unmarshal(b, &u); err != nil {
		return nil, s.fail("get user", err)
	}
	return &u, nil
}

// ListUsers implements Store.
func (s *RedisStore) ListUsers(ctx context.Context) ([]*User, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.users()).Result()
	if err != nil {
		return nil, s.fail("list users", err)
	}
	out := make([]*User, 0, len(m))
	for _, v := range m {
		var u User
		if err := json.Unmarshal([]byte(v), &u); err != nil {
			return nil, s.fail("list users", err)
		}
		out = append(out, &u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteUser implements Store.
func (s *RedisStore) DeleteUser(ctx context.Context, name string) error {
	n, err := s.rdb.HDel(ctx, s.keys.users(), name).Result()
	if err != nil {
		return s.fail("delete user", err)
	}
	if n == 0 {
		return s.fail("delete user", fmt.Errorf("%w: user %q", ErrNotFound, name))
	}
	return nil
}

// SessionKey implements Store.
func (s *RedisStore) SessionKey(ctx context.Context) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, s.fail("session key", err)
	}
	if err := s.rdb.SetNX(ctx, s.keys.sessionKey(), key, 0).Err(); err != nil {
		return nil, s.fail("session key", err)
	}
	b, err := s.rdb.Get(ctx, s.keys.sessionKey()).Bytes()
	if err != nil {
		return nil, s.fail("session key", err)
	}
	return b, nil
}

var (
	_ Store = (*BoltStore)(nil)
	_ Store = (*RedisStore)(nil)
)
