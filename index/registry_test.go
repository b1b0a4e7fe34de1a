package index_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/imgtest"
	"github.com/aura-art/aura/internal/redistest"
	"github.com/aura-art/aura/verdict"
)

// registrySetup is a registry under test and its collaborators.
type registrySetup struct {
	reg     *index.Registry
	store   index.Store
	matcher *index.Matcher
	ctx     context.Context
}

// setupRegistry returns a registry over a new embedded store and an empty matcher.
func setupRegistry(t *testing.T) registrySetup {
	t.Helper()
	return setupRegistryOn(t, openBolt(t, index.BoltOptions{NoSync: true}))
}

func setupRegistryOn(t *testing.T, s index.Store) registrySetup {
	t.Helper()
	m := index.NewMatcher()
	reg, err := index.NewRegistry(s, m, index.DefaultRegistryConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return registrySetup{reg: reg, store: s, matcher: m, ctx: ctx}
}

func (s registrySetup) register(t *testing.T, data []byte, meta index.WorkMeta) index.RegisterResult {
	t.Helper()
	res, err := s.reg.Register(s.ctx, data, meta)
	if err != nil {
		t.Fatalf("register %+v: %v", meta, err)
	}
	return res
}

func (s registrySetup) check(t *testing.T, data []byte, claimed string) verdict.Verdict {
	t.Helper()
	v, err := s.reg.Check(s.ctx, data, claimed)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return v
}

func TestRegistryRegister(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(t *testing.T) index.Store{
		"bolt":  func(t *testing.T) index.Store { return openBolt(t, index.BoltOptions{NoSync: true}) },
		"redis": func(t *testing.T) index.Store { return openRedis(t, redistest.Start(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testRegister(t, setupRegistryOn(t, open(t)))
		})
	}
}

func testRegister(t *testing.T, s registrySetup) {
	photo := imgtest.Photo(640, 480, 1)
	alice := index.WorkMeta{CreatorID: "alice", CreatorName: "Alice", Title: "Harbour", Year: 2021, RegisteredBy: "cli"}
	first := s.register(t, photo, alice)
	if first.Status != index.StatusRegistered || first.Dispute != nil {
		t.Fatalf("first registration: %+v", first)
	}
	w := first.Work
	if w.ID == "" || w.CreatorName != "Alice" || w.Title != "Harbour" || w.Year != 2021 || w.RegisteredBy != "cli" || len(w.SHA256) != 64 {
		t.Errorf("work %+v", w)
	}
	checkThumbnail(t, w.Thumbnail, 256, 192)
	if s.matcher.Len() != 1 {
		t.Errorf("matcher holds %d works, want 1 at once", s.matcher.Len())
	}

	// The same bytes again, by anyone: exists, nothing created.
	for _, creator := range []string{"alice", "bob"} {
		again := s.register(t, photo, index.WorkMeta{CreatorID: creator})
		if again.Status != index.StatusExists || again.Work.ID != w.ID || again.Dispute != nil {
			t.Errorf("%s registers the same bytes: %+v", creator, again)
		}
	}

	// The same picture in other bytes by the same creator: registered, no dispute.
	own := s.register(t, imgtest.Reencoded(640, 480, 1, 70), alice)
	if own.Status != index.StatusRegistered {
		t.Errorf("alice's re-encoding: %+v", own)
	}

	// A mirrored copy by another creator: registered and disputed.
	mirrored := imgtest.Mirrored(640, 480, 1)
	bob := index.WorkMeta{CreatorID: "bob"}
	disp := s.register(t, mirrored, bob)
	if disp.Status != index.StatusDisputed || disp.Dispute == nil {
		t.Fatalf("bob's mirrored copy: %+v", disp)
	}
	d := disp.Dispute
	if d.WorkID != disp.Work.ID || d.CreatorID != "bob" || d.ExistingCreatorID != "alice" ||
		(d.ExistingWorkID != w.ID && d.ExistingWorkID != own.Work.ID) || d.ID != index.DisputeID(d.WorkID, d.ExistingWorkID) {
		t.Errorf("dispute %+v", d)
	}
	stored, _, err := s.store.ListDisputes(s.ctx, "", 10)
	if err != nil || len(stored) != 1 || stored[0].ID != d.ID {
		t.Fatalf("stored disputes %v, %v", stored, err)
	}

	// Bob retries: exists, the dispute is reported and not recorded twice.
	retry := s.register(t, mirrored, bob)
	if retry.Status != index.StatusExists || retry.Work.ID != disp.Work.ID || retry.Dispute == nil || retry.Dispute.ID != d.ID {
		t.Errorf("bob's retry: %+v", retry)
	}
	// Alice's original again: exists, and no dispute against bob's later copy.
	if res := s.register(t, photo, alice); res.Status != index.StatusExists || res.Dispute != nil {
		t.Errorf("alice again: %+v", res)
	}
	if stored, _, _ := s.store.ListDisputes(s.ctx, "", 10); len(stored) != 1 {
		t.Errorf("%d disputes stored, want 1", len(stored))
	}

	// An unrelated picture: registered.
	if res := s.register(t, imgtest.Photo(500, 500, 99), bob); res.Status != index.StatusRegistered {
		t.Errorf("unrelated: %+v", res)
	}
}

// checkThumbnail asserts a thumbnail is a JPEG of the wanted size within the size cap.
func checkThumbnail(t *testing.T, thumb []byte, w, h int) {
	t.Helper()
	if len(thumb) == 0 || len(thumb) > index.MaxThumbnailSize {
		t.Fatalf("thumbnail of %d bytes", len(thumb))
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(thumb))
	if err != nil {
		t.Fatalf("thumbnail: %v", err)
	}
	if cfg.Width != w || cfg.Height != h {
		t.Errorf("thumbnail %d×%d, want %d×%d", cfg.Width, cfg.Height, w, h)
	}
}

func TestRegistryDisputeHealed(t *testing.T) {
	t.Parallel()
	s := setupRegistry(t)
	orig := s.register(t, imgtest.Photo(400, 300, 2), index.WorkMeta{CreatorID: "alice"})

	// Bob's copy was registered, but its dispute was never recorded (a crash in between).
	mirrored := imgtest.Mirrored(400, 300, 2)
	img, err := hashing.DefaultConfig().Decode(mirrored)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256Hex(mirrored)
	copyWork, err := s.store.CreateWork(s.ctx, &index.Work{CreatorID: "bob", SHA256: sum, Fingerprint: img.Fingerprint(hashing.Reference)})
	if err != nil {
		t.Fatal(err)
	}

	res := s.register(t, mirrored, index.WorkMeta{CreatorID: "bob"})
	if res.Status != index.StatusExists || res.Dispute == nil || res.Dispute.WorkID != copyWork.ID || res.Dispute.ExistingWorkID != orig.Work.ID {
		t.Fatalf("retry: %+v", res)
	}
	stored, _, err := s.store.ListDisputes(s.ctx, "", 10)
	if err != nil || len(stored) != 1 || stored[0].WorkID != copyWork.ID {
		t.Errorf("disputes %v, %v", stored, err)
	}
}

func TestRegistryConcurrentCopies(t *testing.T) {
	t.Parallel()
	s := setupRegistry(t)
	pics := map[string][]byte{"alice": imgtest.Photo(320, 240, 3), "bob": imgtest.Mirrored(320, 240, 3)}
	var wg sync.WaitGroup
	results := make(chan index.RegisterResult, 2)
	for creator, data := range pics {
		wg.Go(func() {
			res, err := s.reg.Register(s.ctx, data, index.WorkMeta{CreatorID: creator})
			if err != nil {
				t.Error(err)
			}
			results <- res
		})
	}
	wg.Wait()
	close(results)
	statuses := map[index.RegisterStatus]int{}
	for r := range results {
		statuses[r.Status]++
	}
	if statuses[index.StatusRegistered] != 1 || statuses[index.StatusDisputed] != 1 {
		t.Errorf("statuses %v, want one registered and one disputed", statuses)
	}
}

func TestRegistryErrors(t *testing.T) {
	t.Parallel()
	s := setupRegistry(t)
	photo := imgtest.Photo(300, 200, 4)
	small := index.DefaultRegistryConfig()
	small.Hashing.MaxBytes = 1000
	tiny, err := index.NewRegistry(s.store, s.matcher, small, nil)
	if err != nil {
		t.Fatal(err)
	}
	taken := s.register(t, imgtest.Photo(300, 200, 5), index.WorkMeta{ID: "w_taken", CreatorID: "alice"})
	for _, tc := range []struct {
		name string
		reg  *index.Registry
		data []byte
		meta index.WorkMeta
		want error
	}{
		{"not an image", s.reg, []byte("hello, world"), index.WorkMeta{CreatorID: "alice"}, hashing.ErrUnsupported},
		{"corrupt", s.reg, photo[:200], index.WorkMeta{CreatorID: "alice"}, hashing.ErrCorrupt},
		{"empty", s.reg, nil, index.WorkMeta{CreatorID: "alice"}, hashing.ErrCorrupt},
		{"too large", tiny, photo, index.WorkMeta{CreatorID: "alice"}, hashing.ErrTooLarge},
		{"no creator", s.reg, photo, index.WorkMeta{}, index.ErrInvalid},
		{"bad id", s.reg, photo, index.WorkMeta{ID: "no spaces", CreatorID: "alice"}, index.ErrInvalid},
		{"control character", s.reg, photo, index.WorkMeta{CreatorID: "alice", Title: "a\x00b"}, index.ErrInvalid},
		{"id of another file", s.reg, photo, index.WorkMeta{ID: taken.Work.ID, CreatorID: "alice"}, index.ErrExists},
	} {
		_, err := tc.reg.Register(s.ctx, tc.data, tc.meta)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.reg.Check(s.ctx, []byte("GIF89a"), ""); !errors.Is(err, hashing.ErrCorrupt) && !errors.Is(err, hashing.ErrUnsupported) {
		t.Errorf("check of garbage: %v", err)
	}
	if n := s.matcher.Len(); n != 1 {
		t.Errorf("matcher holds %d works, want 1", n)
	}
}

func TestRegistryCheck(t *testing.T) {
	t.Parallel()
	s := setupRegistry(t)
	orig := s.register(t, imgtest.Photo(640, 480, 6), index.WorkMeta{CreatorID: "alice", CreatorName: "Alice", Title: "Harbour"}).Work
	s.register(t, imgtest.Photo(640, 480, 7), index.WorkMeta{CreatorID: "carol"})

	for _, tc := range []struct {
		name    string
		data    []byte
		claimed string
		want    verdict.Kind
	}{
		{"copy claimed by another", imgtest.Reencoded(640, 480, 6, 75), "bob", verdict.LikelyForgery},
		{"copy without a claim", imgtest.Reencoded(640, 480, 6, 75), "", verdict.LikelyForgery},
		{"own work", imgtest.Reencoded(640, 480, 6, 75), "alice", verdict.OwnWork},
		{"mirrored", imgtest.Mirrored(640, 480, 6), "bob", verdict.Derivative},
		{"cropped", imgtest.Cropped(640, 480, 6), "bob", verdict.Derivative},
		{"unrelated", imgtest.Photo(640, 480, 8), "bob", verdict.Clear},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := s.check(t, tc.data, tc.claimed)
			if v.Verdict != tc.want {
				t.Fatalf("verdict %s, want %s (%+v)", v.Verdict, tc.want, v.Matches)
			}
			if tc.want == verdict.Clear {
				return
			}
			m := v.Matches[0]
			if m.WorkID != orig.ID || m.CreatorID != "alice" || m.CreatorName != "Alice" || m.Title != "Harbour" || m.Description == "" {
				t.Errorf("best match %+v", m)
			}
		})
	}

	// Disabled works are not matched; enabled again, they are; deleted, they are gone.
	copyOf := imgtest.Reencoded(640, 480, 6, 75)
	if err := s.reg.SetDisabled(s.ctx, orig.ID, true); err != nil {
		t.Fatal(err)
	}
	if v := s.check(t, copyOf, "bob"); v.Verdict != verdict.Clear {
		t.Errorf("disabled: %s", v.Verdict)
	}
	if err := s.reg.SetDisabled(s.ctx, orig.ID, false); err != nil {
		t.Fatal(err)
	}
	if v := s.check(t, copyOf, "bob"); v.Verdict != verdict.LikelyForgery {
		t.Errorf("enabled: %s", v.Verdict)
	}
	if err := s.reg.Delete(s.ctx, orig.ID); err != nil {
		t.Fatal(err)
	}
	if v := s.check(t, copyOf, "bob"); v.Verdict != verdict.Clear {
		t.Errorf("deleted: %s", v.Verdict)
	}
	for name, err := range map[string]error{
		"disable": s.reg.SetDisabled(s.ctx, "w_nope", true),
		"delete":  s.reg.Delete(s.ctx, "w_nope"),
	} {
		if !errors.Is(err, index.ErrNotFound) {
			t.Errorf("%s unknown: %v", name, err)
		}
	}
}

// TestRegistryCheckDeletedElsewhere: a work deleted by another process, which this
// matcher still holds, is left out of the verdict.
func TestRegistryCheckDeletedElsewhere(t *testing.T) {
	t.Parallel()
	s := setupRegistry(t)
	orig := s.register(t, imgtest.Photo(300, 300, 9), index.WorkMeta{CreatorID: "alice"}).Work
	if err := s.store.DeleteWork(s.ctx, orig.ID); err != nil {
		t.Fatal(err)
	}
	if v := s.check(t, imgtest.Photo(300, 300, 9), "bob"); v.Verdict != verdict.Clear || len(v.Matches) != 0 {
		t.Errorf("verdict %s with %d matches", v.Verdict, len(v.Matches))
	}
}

// TestRegistryWithFeed: a registry whose matcher follows the store's feed sees works
// registered through another registry on the same store.
func TestRegistryWithFeed(t *testing.T) {
	t.Parallel()
	a := setupRegistry(t)
	m := index.NewMatcher()
	b, err := index.NewRegistry(a.store, m, index.DefaultRegistryConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(a.ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, a.store, zap.NewNop()) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Matcher.Run did not return after cancel")
		}
	}()
	select {
	case <-m.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("matcher not ready")
	}
	w := a.register(t, imgtest.Photo(300, 300, 10), index.WorkMeta{CreatorID: "alice"}).Work
	deadline := time.Now().Add(10 * time.Second)
	for m.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	v, err := b.Check(a.ctx, imgtest.Photo(300, 300, 10), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if v.Verdict != verdict.LikelyForgery || v.Matches[0].WorkID != w.ID {
		t.Errorf("verdict %s %+v", v.Verdict, v.Matches)
	}
}

func TestRegistryConfigValidate(t *testing.T) {
	t.Parallel()
	if err := index.DefaultRegistryConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := index.DefaultRegistryConfig()
	c.Thresholds.Forgery = 1.5
	if err := c.Validate(); err == nil {
		t.Error("forgery 1.5 accepted")
	}
	if _, err := index.NewRegistry(nil, index.NewMatcher(), index.DefaultRegistryConfig(), nil); err == nil {
		t.Error("nil store accepted")
	}
}

func TestThumbnail(t *testing.T) {
	t.Parallel()
	s := setupRegistry(t)
	// A big noisy picture must still fit in the size cap.
	big := s.register(t, imgtest.Photo(2200, 500, 11), index.WorkMeta{CreatorID: "alice"}).Work
	if len(big.Thumbnail) > index.MaxThumbnailSize {
		t.Errorf("thumbnail of %d bytes", len(big.Thumbnail))
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(big.Thumbnail))
	if err != nil || max(cfg.Width, cfg.Height) > 256 {
		t.Errorf("thumbnail %+v, %v", cfg, err)
	}

	// A small transparent PNG keeps its size and is flattened onto white.
	m := image.NewNRGBA(image.Rect(0, 0, 100, 60))
	for y := range 60 {
		for x := range 100 {
			if x < 50 {
				m.Set(x, y, color.NRGBA{R: uint8(y * 4), G: uint8(x * 2), B: 200, A: 255})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	small := s.register(t, b.Bytes(), index.WorkMeta{CreatorID: "alice"}).Work
	checkThumbnail(t, small.Thumbnail, 100, 60)
	thumb, err := jpeg.Decode(bytes.NewReader(small.Thumbnail))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, bl, _ := thumb.At(90, 30).RGBA(); r>>8 < 240 || g>>8 < 240 || bl>>8 < 240 {
		t.Errorf("transparent part is %d,%d,%d, want white", r>>8, g>>8, bl>>8)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// BenchmarkRegistryPrepare measures the parallel part of registering a 12 MP camera photo:
// SHA-256, store lookup, decode, both fingerprints and the thumbnail.
func BenchmarkRegistryPrepare(b *testing.B) {
	store, err := index.OpenBolt(filepath.Join(b.TempDir(), "aura.db"), index.BoltOptions{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	reg, err := index.NewRegistry(store, index.NewMatcher(), index.DefaultRegistryConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	photo := imgtest.Photo(4000, 3000, 1)
	ctx := context.Background()
	b.SetBytes(int64(len(photo)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Prepare(ctx, photo, index.WorkMeta{CreatorID: "alice"}); err != nil {
			b.Fatal(err)
		}
	}
}
