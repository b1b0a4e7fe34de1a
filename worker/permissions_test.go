package worker_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
	"github.com/aura-art/aura/worker"
)

// TestRolePermissions runs the pipeline under the per-role permissions of
// deploy/nats-roles.conf: a worker, the review page's publisher and the marketplace "shop"
// each do their part, and each is refused what belongs to another role or tenant.
func TestRolePermissions(t *testing.T) {
	for role, pw := range map[string]string{"WORKER": "w-secret", "REVIEW": "r-secret", "SHOP": "s-secret"} {
		t.Setenv("AURA_NATS_"+role+"_PASSWORD", pw)
	}
	opts, err := server.ProcessConfigFile(filepath.Join("..", "deploy", "nats-roles.conf"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.HTTPPort, opts.StoreDir, opts.NoSigs, opts.NoLog = "127.0.0.1", server.RANDOM_PORT, 0, t.TempDir(), true, true
	if !opts.SyncAlways {
		t.Fatal("deploy/nats-roles.conf must set sync_interval: always")
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	denied := make(chan string, 100)
	conn := func(user, pw string) *nats.Conn {
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(user, pw), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			denied <- user + ": " + err.Error()
		}))
		if err != nil {
			t.Fatalf("connect as %s: %v", user, err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	if _, err := nats.Connect(srv.ClientURL(), nats.UserInfo("shop", "wrong")); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	workerNC, reviewNC, shopNC := conn("worker", "w-secret"), conn("review", "r-secret"), conn("shop", "s-secret")

	// The worker sets up the streams and takes submissions.
	cfg := testConfig("w-perm")
	bs, err := index.OpenBolt(filepath.Join(t.TempDir(), "aura.db"), index.BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	w, err := worker.New(workerNC, worker.Deps{Checker: newFakeChecker(), Store: bs}, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("worker under its permissions: %v", err)
		}
	})
	for !w.Consuming() {
		select {
		case err := <-done:
			t.Fatalf("worker stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}

	// The marketplace submits to its own subject and reads its own verdicts.
	shopJS, _ := jetstream.New(shopNC)
	body, _ := json.Marshal(worker.Submission{SchemaVersion: worker.SchemaVersion, ID: "up-1", Tenant: "shop", Image: worker.Image{Data: synth.JPEG(200, 150, 1, 85)}})
	if _, err := shopJS.Publish(ctx, worker.SubmitSubject("shop"), body, jetstream.WithMsgID("shop/up-1")); err != nil {
		t.Fatalf("shop submits: %v", err)
	}
	verdicts, err := shopJS.CreateOrUpdateConsumer(ctx, cfg.Streams.Verdicts, jetstream.ConsumerConfig{
		Durable: "verdicts-shop", FilterSubject: worker.VerdictPrefix + "shop.>", AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatalf("shop creates its verdict consumer: %v", err)
	}
	batch, err := verdicts.Fetch(1, jetstream.FetchMaxWait(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		v, err := worker.DecodeVerdict(m.Data())
		if err != nil || v.SubmissionID != "up-1" || v.Verdict != verdict.Clear {
			t.Fatalf("shop's verdict: %+v, %v", v, err)
		}
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
		got++
	}
	if got != 1 {
		t.Fatalf("shop read %d verdicts, want 1 (fetch error: %v)", got, batch.Error())
	}

	// The review page publishes decisions; the marketplace reads its own.
	cases, err := review.NewBoltStore(bs.DB())
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := cases.CreateCase(ctx, &review.Case{
		ID: review.CaseID(review.Upload, "shop", "up-1"), Kind: review.Upload, Tenant: "shop", SubjectID: "up-1",
		Verdict: verdict.Derivative, Matches: []verdict.Match{{WorkID: "w_1", Score: 0.9}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cases.Decide(ctx, c.ID, 1, review.Decision{By: "mo", To: review.Confirmed}); err != nil {
		t.Fatal(err)
	}
	// The consumer is created before the publisher starts: the publisher updates the
	// decisions stream, and nats-server 2.15.2 races (under -race) when a stream's update and
	// a consumer's creation on it are served at once.
	decisions, err := shopJS.CreateOrUpdateConsumer(ctx, cfg.Streams.Decisions, jetstream.ConsumerConfig{
		Durable: "decisions-shop", FilterSubject: review.DecisionSubject("shop"), AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatalf("shop creates its decision consumer: %v", err)
	}
	pub, err := worker.NewDecisionPublisher(reviewNC, cases, cfg.Streams, 10*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	pubCtx, pubStop := context.WithCancel(ctx)
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.Run(pubCtx) }()
	batch, err = decisions.Fetch(1, jetstream.FetchMaxWait(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got = 0
	for m := range batch.Messages() {
		var ev review.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.CaseID != c.ID || ev.Decision.To != review.Confirmed {
			t.Fatalf("shop's decision: %+v, %v", ev, err)
		}
		got++
	}
	pubStop()
	<-pubDone
	if got != 1 {
		t.Fatalf("shop read %d decisions, want 1", got)
	}

	// What each role must not do.
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		t.Cleanup(cancel)
		return c
	}
	if _, err := shopJS.Publish(short(), worker.SubmitSubject("other"), body); err == nil {
		t.Error("shop submitted as another tenant")
	}
	if _, err := shopJS.Publish(short(), worker.VerdictPrefix+"shop.clear", body); err == nil {
		t.Error("shop published a verdict")
	}
	if _, err := shopJS.CreateOrUpdateConsumer(short(), cfg.Streams.Verdicts, jetstream.ConsumerConfig{
		Durable: "verdicts-shop", FilterSubject: worker.VerdictPrefix + ">",
	}); err == nil {
		t.Error("shop read every tenant's verdicts")
	}
	if _, err := shopJS.CreateOrUpdateStream(short(), jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"evil.>"}}); err == nil {
		t.Error("shop created a stream")
	}
	reviewJS, _ := jetstream.New(reviewNC)
	if _, err := reviewJS.Publish(short(), worker.SubmitSubject("shop"), body); err == nil {
		t.Error("the review page submitted a picture")
	}
	workerJS, _ := jetstream.New(workerNC)
	if _, err := workerJS.Publish(short(), review.DecisionSubject("shop"), []byte("{}")); err == nil {
		t.Error("a worker published a decision")
	}
	select {
	case v := <-denied:
		t.Logf("refused as expected, for example: %s", v)
	case <-time.After(2 * time.Second):
		t.Error("the server reported no permissions violation")
	}
}
