package hashing

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzFingerprint runs the whole untrusted path, decode through fingerprint and its binary
// round trip, on mutated images. Seeds are the fixtures and hostile files under 128 KB and
// small encodings of every format. The pixel limit is low (1 MP) so the fuzzer spends its
// time in headers and streams, not in large allocations and decodes (an instrumented
// multi-megapixel decode takes seconds); a limit must hold whatever the header says.
func FuzzFingerprint(f *testing.F) {
	for _, pattern := range []string{"../fixtures/images/*", "testdata/*.jpg", "testdata/*.avif", "testdata/*.heic", "testdata/fuzz-seeds/*"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil && len(b) < 128<<10 {
				f.Add(b)
			}
		}
	}
	m := texture(40, 30, 1)
	f.Add(encodeJPEG(f, m, 75))
	f.Add(encodePNG(f, m))
	f.Add(encodeGIF(f, m))
	f.Add(encodeBMP(f, m))
	f.Add(encodeTIFF(f, m))
	f.Add(pngDeclaring(100000, 100000, 1))
	f.Add(jpegDeclaring(65000, 65000))
	cfg := DefaultConfig()
	cfg.MaxPixels = 1_000_000
	cfg.MaxBytes = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := cfg.Decode(data)
		if err != nil {
			return
		}
		if img.Width*img.Height > int(cfg.MaxPixels) {
			t.Fatalf("decoded %d×%d, above the pixel limit", img.Width, img.Height)
		}
		b := img.Gray.Bounds()
		if b.Dx() > cfg.WorkSize || b.Dy() > cfg.WorkSize || b.Empty() {
			t.Fatalf("normalised image is %v", b)
		}
		for _, p := range []Purpose{Query, Reference} {
			fp := img.Fingerprint(p)
			raw, _ := fp.MarshalBinary()
			var back Fingerprint
			if err := back.UnmarshalBinary(raw); err != nil {
				t.Fatalf("round trip of a computed fingerprint: %v", err)
			}
		}
	})
}

// FuzzUnmarshalFingerprint: arbitrary bytes never panic the binary decoder, and whatever
// it accepts encodes back to the same bytes.
func FuzzUnmarshalFingerprint(f *testing.F) {
	good, _ := sampleFingerprint().MarshalBinary()
	f.Add(good)
	f.Add([]byte("AF\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fp Fingerprint
		if err := fp.UnmarshalBinary(data); err != nil {
			return
		}
		again, _ := fp.MarshalBinary()
		if string(again) != string(data) {
			t.Fatalf("accepted %x but encodes as %x", data, again)
		}
	})
}
