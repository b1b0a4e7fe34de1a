package index

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisOptions configure OpenRedis. The zero value of a field means its default; a non-zero
// field overrides what the URL says.
type RedisOptions struct {
	// URL is the server, "redis://[user:password@]host:port/db" or "rediss://..." for TLS,
	// with go-redis's query parameters (dial_timeout=...). Default "redis://127.0.0.1:6379/0".
	URL string
	// Username and Password override the URL's credentials. Default: the URL's.
	Username string
	Password string
	// TLS, when set, is the TLS configuration (and turns TLS on). Default: the URL's scheme.
	TLS *tls.Config
	// Prefix starts every key: the registry's keys carry the hash tag "{<Prefix>:reg}". It
	// must not contain '{', '}' or white space. Default "aura".
	Prefix string
	// DialTimeout, ReadTimeout and WriteTimeout bound each connect, reply and request.
	// Default 2s each.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// MaxRetries is how often a command that failed on the network is retried (with a short
	// backoff); -1 for never. Default 1, so that a dead Redis fails a call within about twice
	// the timeouts while a connection broken by a server restart is retried once.
	MaxRetries int
	// WaitSlice is the longest single XREAD BLOCK of WaitChanges; a cancelled WaitChanges
	// returns within about this long. Default 500ms.
	WaitSlice time.Duration
	// Cluster connects to a Redis Cluster: URL is then a cluster URL, its host the first
	// seed node and each "addr" query parameter another
	// ("redis://10.0.0.1:6379?addr=10.0.0.2:6379"). Default false.
	Cluster bool
}

// DefaultRedisOptions returns the defaults of RedisOptions.
func DefaultRedisOptions() RedisOptions {
	return RedisOptions{
		URL:          "redis://127.0.0.1:6379/0",
		Prefix:       "aura",
		DialTimeout:  2 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		MaxRetries:   1,
		WaitSlice:    500 * time.Millisecond,
	}
}

// Validate checks the options; messages name the setting. Zero fields are valid (they mean
// the default).
func (o RedisOptions) Validate() error {
	if o.URL != "" {
		parse := func(u string) error { _, err := redis.ParseURL(u); return err }
		if o.Cluster {
			parse = func(u string) error { _, err := redis.ParseClusterURL(u); return err }
		}
		if err := parse(o.URL); err != nil {
			return fmt.Errorf("index: redis: URL: %w", err)
		}
	}
	if strings.ContainsAny(o.Prefix, "{} \t\r\n") {
		return fmt.Errorf("index: redis: Prefix %q must not contain '{', '}' or white space", o.Prefix)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"DialTimeout", o.DialTimeout}, {"ReadTimeout", o.ReadTimeout}, {"WriteTimeout", o.WriteTimeout}, {"WaitSlice", o.WaitSlice}} {
		if d.v < 0 {
			return fmt.Errorf("index: redis: %s %v must not be negative", d.name, d.v)
		}
	}
	if o.MaxRetries < -1 {
		return fmt.Errorf("index: redis: MaxRetries %d must be -1 (never) or more", o.MaxRetries)
	}
	return nil
}

// RedisStore is the Store on Redis, for many workers. Each write of a work is one Lua script
// that also appends its change to a Redis Stream, so it is atomic; the keys share one hash
// tag, so it works on Redis Cluster too (see keys.go for the layout). Its methods are safe
// for concurrent use.
type RedisStore struct {
	rdb       redis.UniversalClient
	addr      string
	keys      keyspace
	waitSlice time.Duration
	closeOnce sync.Once
}

// OpenRedis connects to Redis (or, with opts.Cluster, to a Redis Cluster) and checks the
// connection with a PING, failing within about DialTimeout+ReadTimeout (retries included)
// when the server is down.
func OpenRedis(ctx context.Context, opts RedisOptions) (*RedisStore, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	d := DefaultRedisOptions()
	if opts.URL == "" {
		opts.URL = d.URL
	}
	if opts.Prefix == "" {
		opts.Prefix = d.Prefix
	}
	if opts.WaitSlice == 0 {
		opts.WaitSlice = d.WaitSlice
	}
	s := &RedisStore{keys: newKeyspace(opts.Prefix), waitSlice: opts.WaitSlice}
	if opts.Cluster {
		co, err := redis.ParseClusterURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("index: redis: URL: %w", err)
		}
		opts.override(clientSettings{
			&co.Username, &co.Password, &co.TLSConfig, &co.DialTimeout, &co.ReadTimeout, &co.WriteTimeout,
			&co.MaxRetries, &co.DialerRetries, &co.ContextTimeoutEnabled, &co.MaintNotificationsConfig,
		})
		s.rdb, s.addr = redis.NewClusterClient(co), strings.Join(co.Addrs, ",")
	} else {
		ro, err := redis.ParseURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("index: redis: URL: %w", err)
		}
		opts.override(clientSettings{
			&ro.Username, &ro.Password, &ro.TLSConfig, &ro.DialTimeout, &ro.ReadTimeout, &ro.WriteTimeout,
			&ro.MaxRetries, &ro.DialerRetries, &ro.ContextTimeoutEnabled, &ro.MaintNotificationsConfig,
		})
		s.rdb, s.addr = redis.NewClient(ro), ro.Addr
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		_ = s.rdb.Close()
		return nil, fmt.Errorf("index: redis %s: open: %w", s.addr, err)
	}
	return s, nil
}

// clientSettings point at the settings of a go-redis Options or ClusterOptions that
// RedisOptions decide.
type clientSettings struct {
	username, password                  *string
	tls                                 **tls.Config
	dialTimeout, readTimeout, wrTimeout *time.Duration
	maxRetries, dialerRetries           *int
	contextTimeout                      *bool
	maint                               **maintnotifications.Config
}

// override applies the options over the URL's settings, and the defaults where neither says.
func (o RedisOptions) override(c clientSettings) {
	d := DefaultRedisOptions()
	if o.Username != "" {
		*c.username = o.Username
	}
	if o.Password != "" {
		*c.password = o.Password
	}
	if o.TLS != nil {
		*c.tls = o.TLS
	}
	pick := func(url *time.Duration, opt, def time.Duration) {
		switch {
		case opt != 0:
			*url = opt
		case *url == 0:
			*url = def
		}
	}
	pick(c.dialTimeout, o.DialTimeout, d.DialTimeout)
	pick(c.readTimeout, o.ReadTimeout, d.ReadTimeout)
	pick(c.wrTimeout, o.WriteTimeout, d.WriteTimeout)
	switch {
	case o.MaxRetries != 0:
		*c.maxRetries = o.MaxRetries
	case *c.maxRetries == 0:
		*c.maxRetries = d.MaxRetries
	}
	*c.dialerRetries = 1 // one dial a connection; MaxRetries retries the command
	*c.contextTimeout = true
	*c.maint = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// Addr returns the server address the store talks to (the seed addresses, comma-separated,
// for a cluster).
func (s *RedisStore) Addr() string { return s.addr }

// fail wraps an error with the server and the step, translating redis.Nil to ErrNotFound and
// a closed client to ErrClosed.
func (s *RedisStore) fail(step string, err error) error {
	switch {
	case errors.Is(err, redis.Nil):
		err = ErrNotFound
	case errors.Is(err, redis.ErrClosed):
		err = ErrClosed
	}
	return fmt.Errorf("index: redis %s: %s: %w", s.addr, step, err)
}

// nowMillis is the change time argument of the scripts.
func nowMillis() string { return strconv.FormatInt(time.Now().UnixMilli(), 10) }

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// scriptReply splits a script's reply {status, [value]}.
func scriptReply(v any) (status string, value any, err error) {
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return "", nil, fmt.Errorf("unexpected script reply %v", v)
	}
	if status, ok = a[0].(string); !ok {
		return "", nil, fmt.Errorf("unexpected script reply %v", v)
	}
	if len(a) > 1 {
		value = a[1]
	}
	return status, value, nil
}

// CreateWork implements Store.
func (s *RedisStore) CreateWork(ctx context.Context, w *Work) (*Work, error) {
	nw, err := prepareWork(w)
	if err != nil {
		return nil, s.fail("create work", err)
	}
	meta, err := json.Marshal(recordOf(nw))
	if err != nil {
		return nil, s.fail("create work", err)
	}
	k := s.keys
	keys := []string{k.workKey(nw.ID), k.shaKey(nw.SHA256), k.idsKey(), k.creatorKey(nw.CreatorID), k.seqKey(), k.feedKey()}
	args := []any{nw.ID, nw.SHA256, nw.CreatorID, meta, fingerprintBytes(nw.Fingerprint), nw.Thumbnail, boolArg(nw.Disabled), nowMillis()}
	// The existing work is read after the script; if it was deleted in between, try again.
	for range 3 {
		v, err := createWorkScript.Run(ctx, s.rdb, keys, args...).Result()
		if err != nil {
			return nil, s.fail("create work", err)
		}
		status, value, err := scriptReply(v)
		if err != nil {
			return nil, s.fail("create work", err)
		}
		var id, why string
		switch status {
		case "created":
			return nw, nil
		case "exists":
			id, _ = value.(string)
			why = "sha256 " + nw.SHA256 + " is registered as work " + id
		case "id_taken":
			id, why = nw.ID, "id "+nw.ID+" is taken"
		default:
			return nil, s.fail("create work", fmt.Errorf("unexpected script reply %v", v))
		}
		existing, err := s.GetWork(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if existing.ID == nw.ID && existing.SHA256 == nw.SHA256 {
			return existing, nil // a replay of this create
		}
		return existing, s.fail("create work", fmt.Errorf("%w: %s", ErrExists, why))
	}
	return nil, s.fail("create work", errors.New("the existing work kept disappearing; try again"))
}

// workFields are the hash fields GetWork reads, in workFromHash's order.
var workFields = []string{"meta", "fp", "disabled", "thumb"}

// workFromHash decodes the values of workFields; nil if the work does not exist.
func workFromHash(id string, v []any) (*Work, error) {
	meta, ok := v[0].(string)
	if !ok {
		return nil, nil
	}
	r, err := decodeWorkRecord([]byte(meta))
	if err != nil {
		return nil, fmt.Errorf("work %s: %w", id, err)
	}
	fp, _ := v[1].(string)
	w, err := r.work([]byte(fp), v[2] == "1")
	if err != nil {
		return nil, err
	}
	if len(v) > 3 {
		if t, _ := v[3].(string); t != "" {
			w.Thumbnail = []byte(t)
		}
	}
	return w, nil
}

// GetWork implements Store.
func (s *RedisStore) GetWork(ctx context.Context, id string) (*Work, error) {
	v, err := s.rdb.HMGet(ctx, s.keys.workKey(id), workFields...).Result()
	if err != nil {
		return nil, s.fail("get work "+id, err)
	}
	w, err := workFromHash(id, v)
	if err == nil && w == nil {
		err = ErrNotFound
	}
	if err != nil {
		return nil, s.fail("get work "+id, err)
	}
	return w, nil
}

// WorkBySHA256 implements Store.
func (s *RedisStore) WorkBySHA256(ctx context.Context, sha string) (*Work, error) {
	step := "work by sha256 " + sha
	if !validSHA256(sha) {
		return nil, s.fail(step, fmt.Errorf("%w: want 64 lowercase hex digits", ErrInvalid))
	}
	id, err := s.rdb.Get(ctx, s.keys.shaKey(sha)).Result()
	if err != nil {
		return nil, s.fail(step, err)
	}
	return s.GetWork(ctx, id)
}

// ListWorks implements Store.
func (s *RedisStore) ListWorks(ctx context.Context, opt ListOptions) ([]*Work, string, error) {
	limit := pageSize(opt.Limit)
	key := s.keys.idsKey()
	if opt.CreatorID != "" {
		key = s.keys.creatorKey(opt.CreatorID)
	}
	from := "-"
	if opt.After != "" {
		from = "(" + opt.After
	}
	ids, err := s.rdb.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: from, Max: "+", Count: int64(limit + 1)}).Result()
	if err != nil {
		return nil, "", s.fail("list works", err)
	}
	next := ""
	if len(ids) > limit {
		ids, next = ids[:limit], ids[limit-1]
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, s.keys.workKey(id), workFields[:3]...)
		}
		return nil
	})
	if err != nil {
		return nil, "", s.fail("list works", err)
	}
	works := make([]*Work, 0, len(ids))
	for i, id := range ids {
		w, err := workFromHash(id, cmds[i].Val())
		if err != nil {
			return nil, "", s.fail("list works", err)
		}
		if w != nil { // nil: deleted since the range was read
			works = append(works, w)
		}
	}
	return works, next, nil
}

// SetDisabled implements Store.
func (s *RedisStore) SetDisabled(ctx context.Context, id string, disabled bool) error {
	step := "enable work " + id
	if disabled {
		step = "disable work " + id
	}
	k := s.keys
	v, err := setDisabledScript.Run(ctx, s.rdb, []string{k.workKey(id), k.seqKey(), k.feedKey()}, id, boolArg(disabled), nowMillis()).Result()
	if err != nil {
		return s.fail(step, err)
	}
	status, _, err := scriptReply(v)
	switch {
	case err != nil:
		return s.fail(step, err)
	case status == "not_found":
		return s.fail(step, ErrNotFound)
	case status != "changed" && status != "unchanged":
		return s.fail(step, fmt.Errorf("unexpected script reply %v", v))
	}
	return nil
}

// DeleteWork implements Store.
func (s *RedisStore) DeleteWork(ctx context.Context, id string) error {
	step := "delete work " + id
	k := s.keys
	for range 3 {
		f, err := s.rdb.HMGet(ctx, k.workKey(id), "creator", "sha").Result()
		if err != nil {
			return s.fail(step, err)
		}
		creator, ok1 := f[0].(string)
		sha, ok2 := f[1].(string)
		if !ok1 || !ok2 {
			return s.fail(step, ErrNotFound)
		}
		keys := []string{k.workKey(id), k.shaKey(sha), k.idsKey(), k.creatorKey(creator), k.seqKey(), k.feedKey()}
		v, err := deleteWorkScript.Run(ctx, s.rdb, keys, id, creator, sha, nowMillis()).Result()
		if err != nil {
			return s.fail(step, err)
		}
		status, _, err := scriptReply(v)
		switch {
		case err != nil:
			return s.fail(step, err)
		case status == "deleted":
			return nil
		case status == "not_found":
			return s.fail(step, ErrNotFound)
		case status != "retry":
			return s.fail(step, fmt.Errorf("unexpected script reply %v", v))
		}
	}
	return s.fail(step, errors.New("the work kept changing; try again"))
}

// decodeChange turns a feed entry into a Change.
func decodeChange(m redis.XMessage) (Change, error) {
	seqStr, _, _ := strings.Cut(m.ID, "-")
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if err != nil {
		return Change{}, fmt.Errorf("feed entry %s: bad id", m.ID)
	}
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	ms, err := strconv.ParseInt(str("at"), 10, 64)
	if err != nil {
		return Change{}, fmt.Errorf("feed entry %s: bad time %q", m.ID, str("at"))
	}
	c := Change{
		Seq: seq, Op: ChangeOp(str("op")), WorkID: str("work"), CreatorID: str("creator"),
		Disabled: str("disabled") == "1", At: time.UnixMilli(ms).UTC(),
	}
	if fp := str("fp"); fp != "" {
		if c.Fingerprint, err = decodeFingerprint([]byte(fp)); err != nil {
			return Change{}, fmt.Errorf("feed entry %s: %w", m.ID, err)
		}
	}
	return c, nil
}

func decodeChanges(ms []redis.XMessage) ([]Change, error) {
	out := make([]Change, 0, len(ms))
	for _, m := range ms {
		c, err := decodeChange(m)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Changes implements Store.
func (s *RedisStore) Changes(ctx context.Context, after uint64, limit int) ([]Change, error) {
	if after == ^uint64(0) {
		return nil, nil
	}
	ms, err := s.rdb.XRangeN(ctx, s.keys.feedKey(), fmt.Sprintf("%d-0", after+1), "+", int64(pageSize(limit))).Result()
	if err != nil {
		return nil, s.fail("changes", err)
	}
	out, err := decodeChanges(ms)
	if err != nil {
		return nil, s.fail("changes", err)
	}
	return out, nil
}

// WaitChanges implements Store with XREAD BLOCK on the feed, in slices of at most
// RedisOptions.WaitSlice so that a cancelled context is noticed.
func (s *RedisStore) WaitChanges(ctx context.Context, after uint64, limit int) ([]Change, error) {
	args := &redis.XReadArgs{Streams: []string{s.keys.feedKey(), fmt.Sprintf("%d-0", after)}, Count: int64(pageSize(limit))}
	for {
		if err := ctx.Err(); err != nil {
			return nil, s.fail("wait changes", err)
		}
		args.Block = s.waitSlice
		if dl, ok := ctx.Deadline(); ok {
			args.Block = min(args.Block, time.Until(dl))
		}
		args.Block = max(args.Block, time.Millisecond) // BLOCK 0 would wait forever
		streams, err := s.rdb.XRead(ctx, args).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			// The read deadline is the context's, so the read may time out a moment before
			// the context says it is done.
			if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
				err = context.DeadlineExceeded
			}
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, s.fail("wait changes", err)
		}
		if len(streams) == 0 || len(streams[0].Messages) == 0 {
			continue
		}
		out, err := decodeChanges(streams[0].Messages)
		if err != nil {
			return nil, s.fail("wait changes", err)
		}
		return out, nil
	}
}

// LoadWorks implements Store. It reads the sequence first, then pages through the ids 1000
// at a time, one pipelined round trip a page.
func (s *RedisStore) LoadWorks(ctx context.Context, fn func(MatchEntry) error) (uint64, error) {
	last, err := s.rdb.Get(ctx, s.keys.seqKey()).Uint64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, s.fail("load works", err)
	}
	from := "-"
	for {
		ids, err := s.rdb.ZRangeByLex(ctx, s.keys.idsKey(), &redis.ZRangeBy{Min: from, Max: "+", Count: loadBatch}).Result()
		if err != nil {
			return 0, s.fail("load works", err)
		}
		cmds := make([]*redis.SliceCmd, len(ids))
		if len(ids) > 0 {
			_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, id := range ids {
					cmds[i] = p.HMGet(ctx, s.keys.workKey(id), "creator", "disabled", "fp")
				}
				return nil
			})
			if err != nil {
				return 0, s.fail("load works", err)
			}
		}
		for i, id := range ids {
			v := cmds[i].Val()
			creator, ok := v[0].(string)
			if !ok {
				continue // deleted since the range was read
			}
			fp, _ := v[2].(string)
			f, err := decodeFingerprint([]byte(fp))
			if err != nil {
				return 0, s.fail("load works", fmt.Errorf("work %s: %w", id, err))
			}
			if err := fn(MatchEntry{ID: id, CreatorID: creator, Disabled: v[1] == "1", Fingerprint: f}); err != nil {
				return 0, err
			}
		}
		if len(ids) < loadBatch {
			return last, nil
		}
		from = "(" + ids[len(ids)-1]
	}
}

// CreateDispute implements Store.
func (s *RedisStore) CreateDispute(ctx context.Context, d *Dispute) error {
	if err := prepareDispute(d); err != nil {
		return s.fail("create dispute", err)
	}
	v, err := json.Marshal(d)
	if err != nil {
		return s.fail("create dispute", err)
	}
	k := s.keys
	res, err := createDisputeScript.Run(ctx, s.rdb, []string{k.disputeKey(d.ID), k.disputesKey(), k.disputeSeqKey()}, d.ID, v).Result()
	if err != nil {
		return s.fail("create dispute", err)
	}
	status, _, err := scriptReply(res)
	switch {
	case err != nil:
		return s.fail("create dispute", err)
	case status == "exists":
		return s.fail("create dispute", fmt.Errorf("%w: dispute %s", ErrExists, d.ID))
	case status != "created":
		return s.fail("create dispute", fmt.Errorf("unexpected script reply %v", res))
	}
	return nil
}

// ListDisputes implements Store.
func (s *RedisStore) ListDisputes(ctx context.Context, after string, limit int) ([]*Dispute, string, error) {
	from, err := parseCursor(after)
	if err != nil {
		return nil, "", s.fail("list disputes", err)
	}
	limit = pageSize(limit)
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.keys.disputesKey(), &redis.ZRangeBy{
		Min: "(" + strconv.FormatUint(from, 10), Max: "+inf", Count: int64(limit + 1),
	}).Result()
	if err != nil {
		return nil, "", s.fail("list disputes", err)
	}
	next := ""
	if len(zs) > limit {
		zs, next = zs[:limit], strconv.FormatUint(uint64(zs[limit-1].Score), 10)
	}
	if len(zs) == 0 {
		return nil, "", nil
	}
	keys := make([]string, len(zs))
	for i, z := range zs {
		keys[i] = s.keys.disputeKey(fmt.Sprint(z.Member))
	}
	vs, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, "", s.fail("list disputes", err)
	}
	out := make([]*Dispute, 0, len(vs))
	for i, v := range vs {
		str, ok := v.(string)
		if !ok {
			return nil, "", s.fail("list disputes", fmt.Errorf("dispute %v is missing", zs[i].Member))
		}
		d := new(Dispute)
		if err := json.Unmarshal([]byte(str), d); err != nil {
			return nil, "", s.fail("list disputes", fmt.Errorf("decode dispute: %w", err))
		}
		out = append(out, d)
	}
	return out, next, nil
}

// Ping implements Store.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// Close closes the connections. Calls in progress fail; later calls return ErrClosed.
func (s *RedisStore) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if cerr := s.rdb.Close(); cerr != nil {
			err = fmt.Errorf("index: redis %s: close: %w", s.addr, cerr)
		}
	})
	return err
}

// Client returns the Redis client, for stores that keep their own keys on the same server
// (review.NewRedisStore); they must not close it.
func (s *RedisStore) Client() redis.UniversalClient { return s.rdb }

// Prefix returns the key prefix the store was opened with (RedisOptions.Prefix).
func (s *RedisStore) Prefix() string {
	return strings.TrimSuffix(strings.TrimPrefix(s.keys.base, "{"), ":reg}:")
}
