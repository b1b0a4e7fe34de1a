// Package index is Aura's registry: the durable store of registered human-made works, the
// registry's change feed, the provenance disputes and the stored verdicts; the in-memory
// Matcher that replicates the registry in every worker (a multi-index hash of the works'
// perception hashes, exact against a linear scan); and the Registry that registers works
// (with disputes) and checks pictures against them.
//
// A Store is the durable truth. Two implementations pass one contract suite
// (package index/storetest):
//
//   - BoltStore, an embedded on-disk store for one machine (OpenBolt), the default when no
//     Redis URL is given;
//   - RedisStore, for many workers (OpenRedis); every key carries one hash tag, so the registry
//     lives in one Redis Cluster slot and each write is one atomic Lua script.
//
// Every write of a work appends a Change to the store's feed in the same atomic step, with a
// Seq that increases with every change of the store. A matcher replica starts with LoadWorks,
// which reports the last Seq its load includes, then tails the feed from there with
// WaitChanges; since each change carries the whole state it sets, the replica converges on
// the store and misses nothing.
//
// A work's metadata is stored as JSON (never gob); its fingerprint is stored in its versioned
// binary form (hashing.Fingerprint.MarshalBinary) beside the JSON, with the creator and the
// disabled flag, and the thumbnail apart again, so that loading the matcher reads neither JSON
// nor thumbnails.
package index
