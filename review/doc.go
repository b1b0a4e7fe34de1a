// Package review holds moderator review: cases (flagged uploads, rescans, retroactive
// matches and registration disputes, in one queue), the decisions moderators make on them
// with their history, the suppressions those decisions set (a dismissed picture is not
// flagged against the same work again; a licensed creator's derivatives are not flagged),
// the outbox of decision events for NATS, and moderator accounts.
//
// Store is the one interface; BoltStore keeps it in the embedded store's bbolt file and
// RedisStore beside the registry in Redis. Both pass the one contract suite in
// store_test.go. Decisions use compare-and-set on the case's version, so two moderators
// never both decide one case.
//
// The web page is package review/web; Publisher drains the outbox onto NATS.
package review
