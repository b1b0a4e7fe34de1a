package hashing

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"path/filepath"
	"strings"
	"testing"
)

// pngChunk appends one PNG chunk.
func pngChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// pngDeclaring returns a PNG whose header declares w×h gray pixels and whose data is a
// little zlib stream of zeros: a decompression bomb when w×h is large.
func pngDeclaring(w, h uint32, rows int) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // 8-bit gray
	b = pngChunk(b, "IHDR", ihdr)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zero := make([]byte, int(w)+1)
	for range rows {
		zw.Write(zero)
	}
	zw.Close()
	b = pngChunk(b, "IDAT", z.Bytes())
	return pngChunk(b, "IEND", nil)
}

// jpegDeclaring returns a JFIF JPEG with a baseline frame header declaring w×h and no scan.
func jpegDeclaring(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	b = append(b, 0xFF, 0xC0, 0, 11, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	return append(b, 1, 1, 0x11, 0, 0xFF, 0xD9)
}

// animatedGIF returns a GIF of n frames.
func animatedGIF(t *testing.T, n int) []byte {
	t.Helper()
	g := &gif.GIF{}
	for i := range n {
		f := image.NewPaletted(image.Rect(0, 0, 32, 32), palette.Plan9)
		for j := range f.Pix {
			f.Pix[j] = uint8(i + j)
		}
		g.Image = append(g.Image, f)
		g.Delay = append(g.Delay, 1)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// palettedOutOfRange returns a PNG whose palette has two entries and whose pixels index far
// past them.
func palettedOutOfRange(t *testing.T) []byte {
	t.Helper()
	m := image.NewPaletted(image.Rect(0, 0, 64, 64), color.Palette{color.Black, color.White})
	for i := range m.Pix {
		m.Pix[i] = uint8(i % 256)
	}
	return encodePNG(t, m)
}

func gray16PNG(t *testing.T) []byte {
	t.Helper()
	src := texture(120, 90, 6)
	m := image.NewRGBA64(src.Bounds())
	for y := range 90 {
		for x := range 120 {
			m.Set(x, y, src.At(x, y))
		}
	}
	return encodePNG(t, m)
}

// TestDecodeHostile feeds the decoder files an attacker or a broken client would send. Each
// must end in a clear error of the right kind, or in a fingerprint; never a crash or a hang.
func TestDecodeHostile(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, texture(400, 300, 7), 90)
	readTestdata := func(name string) []byte { return readFile(t, filepath.Join("testdata", name)) }
	cases := []struct {
		name    string
		data    []byte
		wantErr error // nil: must fingerprint
		inMsg   string
	}{
		{"zero bytes", nil, ErrCorrupt, "empty"},
		{"text file", []byte("hello, this is not an image\n"), ErrUnsupported, ""},
		{"truncated jpeg header", jpg[:20], ErrCorrupt, ""},
		{"png declaring 100000x100000", pngDeclaring(100000, 100000, 1), ErrTooLarge, "max_side"},
		{"png bomb 10000x10000", pngDeclaring(10000, 10000, 10000), ErrTooLarge, "max_pixels"},
		{"jpeg declaring 65000x65000", jpegDeclaring(65000, 65000), ErrTooLarge, "max_side"},
		{"jpeg declaring 0x0", jpegDeclaring(0, 0), ErrCorrupt, ""},
		{"png declaring 2x2 without data", pngDeclaring(2, 2, 0), ErrCorrupt, ""},
		{"too many bytes", append(jpg, make([]byte, 100)...), ErrTooLarge, "max_bytes"},
		{"animated gif with 3000 frames", animatedGIF(t, 3000), nil, ""},
		{"paletted png with out-of-range indexes", palettedOutOfRange(t), nil, ""},
		{"16-bit png", gray16PNG(t), nil, ""},
		{"cmyk jpeg", readTestdata("cmyk.jpg"), nil, ""},
		{"ycck jpeg", readTestdata("ycck.jpg"), nil, ""},
		{"progressive jpeg", readTestdata("progressive.jpg"), nil, ""},
		{"png with a .jpg name", encodePNG(t, texture(50, 50, 8)), nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			if c.name == "too many bytes" {
				cfg.MaxBytes = int64(len(jpg))
			}
			img, err := cfg.Decode(c.data)
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if fp, want := img.Fingerprint(Query), viewCount(img, Query); len(fp.Views) != want {
					t.Fatalf("query fingerprint has %d views, want %d", len(fp.Views), want)
				}
				return
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Decode error = %v, want %v", err, c.wantErr)
			}
			if !strings.Contains(err.Error(), c.inMsg) {
				t.Errorf("error %q does not name %q", err, c.inMsg)
			}
		})
	}
}

// TestDecodeTruncated cuts a JPEG, a PNG, an AVIF and a HEIC at many points (fewer for the
// last two, whose WebAssembly decodes are slower): each cut is an error or a fingerprint,
// never a panic.
func TestDecodeTruncated(t *testing.T) {
	t.Parallel()
	for _, in := range []struct {
		name string
		data []byte
		cuts int
	}{
		{"jpeg", encodeJPEG(t, texture(200, 150, 9), 80), 97},
		{"png", encodePNG(t, texture(100, 80, 10)), 97},
		{"avif", readFile(t, filepath.Join("testdata", "chelsea.avif")), 23},
		{"heic", readFile(t, filepath.Join("testdata", "chelsea.heic")), 23},
	} {
		for cut := 0; cut < len(in.data); cut += 1 + len(in.data)/in.cuts {
			img, err := DefaultConfig().Decode(in.data[:cut])
			if err == nil {
				img.Fingerprint(Query)
			} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("%s cut at %d: unexpected error kind: %v", in.name, cut, err)
			}
		}
	}
}

// TestDecodeFormats decodes the same picture from every format: their fingerprints agree.
func TestDecodeFormats(t *testing.T) {
	t.Parallel()
	m := texture(320, 240, 11)
	want := fingerprintOf(t, encodePNG(t, m), Reference)
	formats := map[string][]byte{
		"jpeg": encodeJPEG(t, m, 92),
		"gif":  encodeGIF(t, m),
		"bmp":  encodeBMP(t, m),
		"tiff": encodeTIFF(t, m),
	}
	for name, data := range formats {
		got := Compare(fingerprintOf(t, data, Query), want)
		if got.Upload.Orientation != Identity || got.Distances.P > 8 || got.Score < 0.8 {
			t.Errorf("%s: %s", name, got.Describe())
		}
	}
}
