package index_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/redistest"
	"github.com/aura-art/aura/internal/synth"
)

func TestUploadLog(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	for name, open := range map[string]func(t *testing.T) index.UploadLog{
		"bolt":  func(t *testing.T) index.UploadLog { return openBolt(t, index.BoltOptions{NoSync: true}) },
		"redis": func(t *testing.T) index.UploadLog { return openRedis(t, addr) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testUploadLog(t, open(t))
		})
	}
}

func testUploadLog(t *testing.T, s index.UploadLog) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	img, err := hashing.DefaultConfig().Decode(synth.JPEG(320, 240, 3, 90))
	if err != nil {
		t.Fatal(err)
	}
	q := img.Fingerprint(hashing.Query)
	rec, ok := index.NewUploadRecord("shop", "up-0", "mallory", q)
	if !ok || rec.Upright != q.Views[0].Hashes || rec.Mirrored != q.Views[1].Hashes {
		t.Fatalf("NewUploadRecord = %+v, %v", rec, ok)
	}
	if _, ok := index.NewUploadRecord("shop", "x", "", img.Fingerprint(hashing.Reference)); ok {
		t.Fatal("a Reference fingerprint made an upload record")
	}
	var want []index.UploadRecord
	for i := range 25 {
		r := rec
		r.SubmissionID = fmt.Sprint("up-", i)
		r.Upright.P ^= hashing.Hash(i)
		r.LowDetail = i%2 == 0
		if i%3 == 0 {
			r.Creator = ""
		}
		if err := s.AppendUpload(ctx, &r); err != nil {
			t.Fatal(err)
		}
		if i > 0 && r.Seq <= want[len(want)-1].Seq {
			t.Fatalf("seq %d after %d", r.Seq, want[len(want)-1].Seq)
		}
		want = append(want, r)
	}
	var got []index.UploadRecord
	after := uint64(0)
	for {
		page, err := s.Uploads(ctx, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Seq
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged log:\n got %v\nwant %v", got, want)
	}
	one, err := s.GetUpload(ctx, want[7].Seq)
	if err != nil || one != want[7] {
		t.Fatalf("GetUpload = %+v, %v; want %+v", one, err, want[7])
	}
	if _, err := s.GetUpload(ctx, want[24].Seq+5); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("GetUpload(missing) = %v", err)
	}
	bad := rec
	bad.Tenant = "a b"
	if err := s.AppendUpload(ctx, &bad); !errors.Is(err, index.ErrInvalid) {
		t.Fatalf("AppendUpload(bad tenant) = %v", err)
	}
}

// TestNewUploadRecordNeedsWholeViews checks that a record is made only from a fingerprint whose
// first two views are the whole picture upright and mirrored: not trimmed, opened, cropped or
// rotated.
func TestNewUploadRecordNeedsWholeViews(t *testing.T) {
	t.Parallel()
	up, mi := hashing.Variant{Region: hashing.Full}, hashing.Variant{Orientation: hashing.Mirror, Region: hashing.Full}
	fp := func(a, b hashing.Variant) *hashing.Fingerprint {
		return &hashing.Fingerprint{Version: hashing.FormatVersion, Views: []hashing.View{{Variant: a}, {Variant: b}}}
	}
	if _, ok := index.NewUploadRecord("shop", "x", "", fp(up, mi)); !ok {
		t.Fatal("no record from the whole picture upright and mirrored")
	}
	for name, v := range map[string]hashing.Variant{
		"trimmed": {Trimmed: true, Region: hashing.Full},
		"opened":  {Opened: true, Region: hashing.Full},
		"cropped": {Region: hashing.Region{X: 10, Y: 10, W: 80, H: 80}},
		"rotated": {Angle: 4, Region: hashing.Full},
		"turned":  {Orientation: hashing.Rot90, Region: hashing.Full},
	} {
		if _, ok := index.NewUploadRecord("shop", "x", "", fp(v, mi)); ok {
			t.Errorf("a record from an upright view that is %s", name)
		}
		m := v
		if m.Orientation == hashing.Identity {
			m.Orientation = hashing.Mirror
		}
		if _, ok := index.NewUploadRecord("shop", "x", "", fp(up, m)); ok {
			t.Errorf("a record from a mirrored view that is %s", name)
		}
	}
}
