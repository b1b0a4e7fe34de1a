// Package worker is Aura's NATS pipeline: marketplaces publish submissions, workers decide
// their verdicts, store them and publish them. It is the only package that imports nats.go.
//
// Subjects and streams (see StreamsConfig for the names and limits):
//
//	aura.submit.<tenant>             SUBMISSIONS  work queue, file storage, dedupe by
//	                                              Nats-Msg-Id "<tenant>/<id>"
//	                                   └─ consumer "workers": durable pull, explicit ack,
//	                                      AckWait/BackOff, MaxDeliver, shared by all workers
//	aura.verdict.<tenant>.<verdict>  VERDICTS     limits (7 days), dedupe by "<tenant>/<id>"
//	aura.dlq.<tenant>                DEADLETTER   limits (30 days), Aura-Reason header
//	aura.check                       request-reply, queue group "aura-check", not stored
//
// A Worker (Run) pulls submissions, at most Config.Concurrency at once, and for each one:
// decodes it strictly (DecodeSubmission), downloads its image when given by URL (package
// fetch: no private addresses, size and time limits), asks its Checker for the verdict,
// stores the verdict keyed by tenant and submission id (VerdictStore, create-if-absent),
// publishes it (VerdictMessage) with the submission's message id and waits for the
// stream's ack, then acks the submission. One function settles each message by its error:
// success acks; a permanent error (Permanent) publishes a dead letter with the reason and
// terminates the message; any other error naks it with a growing delay, and the last
// allowed delivery dead-letters it instead. Submissions whose last delivery times out are
// dead-lettered from the server's max-deliveries advisory. A panic fails its submission
// only.
//
// Client is the other side: it submits, watches verdicts and asks for synchronous checks.
// StartEmbedded runs a NATS server with JetStream inside the process for the all-in-one mode.
package worker
