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
