package index

// Redis key layout. Every key of a registry starts with the hash tag "{<prefix>:reg}", so the
// whole registry lives in one Redis Cluster slot and each Lua script touches keys of one slot
// only. With the default prefix "aura":
//
//	{aura:reg}:work:<id>          hash: meta (workRecord JSON without fingerprint), fp
//	                              (fingerprint, binary form), thumb (JPEG, absent if none),
//	                              creator, sha, disabled ("0" or "1")
//	{aura:reg}:sha:<sha256>       string: the id of the work with that file
//	{aura:reg}:ids                zset, all scores 0: every work id (ZRANGEBYLEX paging)
//	{aura:reg}:creator:<creator>  zset, all scores 0: the creator's work ids
//	{aura:reg}:seq                string: the last change's Seq (INCR)
//	{aura:reg}:feed               stream: the change feed, entry id "<seq>-0", fields op, work,
//	                              creator, disabled, at (unix ms) and fp for put and enable
//	{aura:reg}:dispute:<id>       string: Dispute JSON
//	{aura:reg}:disputes           zset: dispute ids scored by their record sequence
//	{aura:reg}:dispute_seq        string: the last dispute sequence (INCR)
//	{aura:reg}:cursor:<name>      string: a follower's position in the change feed (Cursors)
type keyspace struct {
	base string // "{<prefix>:reg}:"
}

func newKeyspace(prefix string) keyspace { return keyspace{base: "{" + prefix + ":reg}:"} }

func (k keyspace) workKey(id string) string         { return k.base + "work:" + id }
func (k keyspace) shaKey(sha string) string         { return k.base + "sha:" + sha }
func (k keyspace) idsKey() string                   { return k.base + "ids" }
func (k keyspace) creatorKey(creator string) string { return k.base + "creator:" + creator }
func (k keyspace) seqKey() string                   { return k.base + "seq" }
func (k keyspace) cursorKey(name string) string     { return k.base + cursorPrefix + name }
func (k keyspace) feedKey() string                  { return k.base + "feed" }
func (k keyspace) disputeKey(id string) string      { return k.base + "dispute:" + id }
func (k keyspace) disputesKey() string              { return k.base + "disputes" }
func (k keyspace) disputeSeqKey() string            { return k.base + "dispute_seq" }
