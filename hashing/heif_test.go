package hashing

import (
	"encoding/binary"
	"errors"
	"image"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// withBrand returns a copy of a HEIF file whose ftyp box names major as its major brand.
func withBrand(data []byte, major string) []byte {
	out := append([]byte(nil), data...)
	copy(out[8:12], major)
	return out
}

// withDeclaredSize returns a copy of a HEIF file whose first ispe (image spatial extents)
// property declares w×h.
func withDeclaredSize(t *testing.T, data []byte, w, h uint32) []byte {
	t.Helper()
	out := append([]byte(nil), data...)
	i := strings.Index(string(out), "ispe")
	if i < 0 || i+16 > len(out) {
		t.Fatal("no ispe box")
	}
	// box type, then version and flags (4 bytes), then width and height.
	binary.BigEndian.PutUint32(out[i+8:], w)
	binary.BigEndian.PutUint32(out[i+12:], h)
	return out
}

// TestDecodeHEIF decodes the fixture cat encoded as AVIF and HEIC (testdata/README.md says
// how they were made), under the brands phones and converters write: each decodes at the
// JPEG's size and matches the JPEG's reference fingerprint upright.
func TestDecodeHEIF(t *testing.T) {
	t.Parallel()
	want := fingerprintOf(t, readFile(t, "../fixtures/images/chelsea-the-cat.jpg"), Reference)
	avifData, heicData := readFile(t, "testdata/chelsea.avif"), readFile(t, "testdata/chelsea.heic")
	cases := []struct {
		name, format string
		data         []byte
	}{
		{"avif", "avif", avifData},
		{"avif with major brand mif1", "avif", withBrand(avifData, "mif1")},
		{"heic", "heic", heicData},
		{"heic with major brand heix", "heic", withBrand(heicData, "heix")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			img, err := DefaultConfig().Decode(c.data)
			if err != nil {
				t.Fatal(err)
			}
			if img.Format != c.format || img.Width != 451 || img.Height != 300 {
				t.Fatalf("decoded %s %d×%d, want %s 451×300", img.Format, img.Width, img.Height, c.format)
			}
			got := Compare(img.Fingerprint(Query), want)
			if got.Upload.Orientation != Identity || got.Distances.P > 8 || got.Score < 0.8 {
				t.Errorf("against the JPEG: %s", got.Describe())
			}
		})
	}
}

// TestDecodeHEIFHostile: declared sizes above the limits, halves and a bare ftyp box are
// errors of the right kind, never a crash (TestDecodeTruncated cuts them at more points).
func TestDecodeHEIFHostile(t *testing.T) {
	t.Parallel()
	avifData, heicData := readFile(t, "testdata/chelsea.avif"), readFile(t, "testdata/chelsea.heic")
	bareFtyp := []byte("\x00\x00\x00\x18ftypavif\x00\x00\x00\x00avifmif1")
	cases := []struct {
		name    string
		data    []byte
		heifCap int64 // MaxHEIFPixels; 0: the default
		wantErr error
		inMsg   string
	}{
		// Above max_pixels but within libavif's own limit: the header is read and refused.
		{"avif declaring 9000x9000", withDeclaredSize(t, avifData, 9000, 9000), 0, ErrTooLarge, "max_pixels"},
		// libavif refuses anything above 16384×16384 while parsing the header.
		{"avif declaring 100000x100000", withDeclaredSize(t, avifData, 100000, 100000), 0, ErrCorrupt, "avif header"},
		{"bare ftyp box", bareFtyp, 0, ErrCorrupt, "avif"},
		// The cat is 451×300.
		{"avif above max_heif_pixels", avifData, 100_000, ErrTooLarge, "max_heif_pixels (100000)"},
		{"heic above max_heif_pixels", heicData, 100_000, ErrTooLarge, "max_heif_pixels (100000)"},
		{"heic cut in half", heicData[:len(heicData)/2], 0, ErrCorrupt, "heic"},
		{"avif cut in half", avifData[:len(avifData)/2], 0, ErrCorrupt, "avif"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			if c.heifCap != 0 {
				cfg.MaxHEIFPixels = c.heifCap
			}
			_, err := cfg.Decode(c.data)
			if !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.inMsg) {
				t.Fatalf("Decode error = %v, want %v naming %q", err, c.wantErr, c.inMsg)
			}
		})
	}
}

func TestHEIFFormat(t *testing.T) {
	t.Parallel()
	box := func(major string, compatible ...string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(16+4*len(compatible)))
		b = append(b, "ftyp"+major+"\x00\x00\x00\x00"...)
		for _, c := range compatible {
			b = append(b, c...)
		}
		return b
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"avif", box("avif", "mif1"), "avif"},
		{"avis", box("avis"), "avif"},
		{"heic", box("heic", "mif1"), "heic"},
		{"heix", box("heix"), "heic"},
		{"mif1 holding avif", box("mif1", "miaf", "avif"), "avif"},
		{"mif1 holding heic", box("mif1", "heic"), "heic"},
		{"mp4 video", box("isom", "mp41"), ""},
		{"mif1 alone", box("mif1", "miaf"), ""},
		{"too short", []byte("\x00\x00\x00\x10ftyp"), ""},
		{"size beyond the data", append(box("mif1"), 0)[:12], ""},
		{"size below a box header", append([]byte("\x00\x00\x00\x08ftypavif"), make([]byte, 8)...), ""},
		{"size above the cap", append(binary.BigEndian.AppendUint32(nil, maxFtypSize+4), "ftypmif1"+strings.Repeat("avif", 1100)...), ""},
		{"not ftyp", append([]byte("\x00\x00\x00\x10moovavif"), make([]byte, 8)...), ""},
	}
	for _, c := range cases {
		if got := heifFormat(c.data); got != c.want {
			t.Errorf("%s: heifFormat = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestHEIFDecodesOneAtATime: concurrent AVIF decodes run one after another (heifSlot). Not
// parallel: it swaps the AVIF decoder for one that counts how many run at once.
func TestHEIFDecodesOneAtATime(t *testing.T) {
	data := readFile(t, "testdata/chelsea.avif")
	orig := heifDecoders["avif"]
	defer func() { heifDecoders["avif"] = orig }()
	var running, most atomic.Int32
	heifDecoders["avif"] = heifDecoder{
		decodeConfig: orig.decodeConfig,
		decode: func(r io.Reader) (image.Image, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(20 * time.Millisecond)
			return texture(64, 48, 3), nil
		},
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := DefaultConfig().Decode(data); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m != 1 {
		t.Errorf("%d AVIF decodes ran at once, want 1", m)
	}
}
