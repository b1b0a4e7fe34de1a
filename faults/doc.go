// Package faults is Aura's fault-injection suite. It runs the real pipeline as separate
// processes — a nats-server with JetStream on disk (sync_interval: always), a redis-server
// with AOF (appendfsync always) and two "aura worker" processes — pushes thousands of
// submissions through it at a steady rate, injects one fault in the middle (a worker killed
// with SIGKILL, Redis killed and restarted, NATS killed and restarted, Redis paused), waits
// until the submissions stream is empty, and checks that nothing was lost or duplicated:
// every good submission has one stored verdict, one published verdict (after the verdicts
// stream's deduplication) and, when flagged, one review case; every bad one is
// dead-lettered once.
//
// The suite is a test that only runs with AURA_FAULTS=1:
//
//	AURA_FAULTS=1 go test ./faults -run TestFaults -count=1 -timeout 40m -v
//
// or faults/run, which builds the binaries first. Flags (after -args): -faults.n,
// -faults.rate, -faults.bad, -faults.scenarios, -faults.out, -faults.aura,
// -faults.nats-server, -faults.redis-server, -faults.keep.
package faults
