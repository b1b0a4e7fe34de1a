package hashing

import (
	"encoding/binary"
	"testing"
)

// withOrientation inserts an EXIF APP1 segment carrying orientation o right after SOI.
func withOrientation(jpg []byte, o uint16, order binary.AppendByteOrder) []byte {
	tiff := make([]byte, 0, 26)
	if order.String() == binary.BigEndian.String() {
		tiff = append(tiff, "MM\x00\x2a"...)
	} else {
		tiff = append(tiff, "II\x2a\x00"...)
	}
	tiff = order.AppendUint32(tiff, 8)
	tiff = order.AppendUint16(tiff, 1)      // one entry
	tiff = order.AppendUint16(tiff, 0x0112) // orientation
	tiff = order.AppendUint16(tiff, 3)      // SHORT
	tiff = order.AppendUint32(tiff, 1)
	tiff = order.AppendUint16(tiff, o)
	tiff = append(tiff, 0, 0)
	tiff = order.AppendUint32(tiff, 0)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := append([]byte{0xFF, 0xD8, 0xFF, 0xE1}, byte((len(seg)+2)>>8), byte(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestJPEGOrientation(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, texture(60, 40, 3), 90)
	for o := uint16(1); o <= 8; o++ {
		for _, bo := range []binary.AppendByteOrder{binary.BigEndian, binary.LittleEndian} {
			if got := jpegOrientation(withOrientation(jpg, o, bo)); got != int(o) {
				t.Errorf("orientation %d (%v): read %d", o, bo, got)
			}
		}
	}
	if got := jpegOrientation(jpg); got != 1 {
		t.Errorf("no EXIF: read %d, want 1", got)
	}
	bad := withOrientation(jpg, 6, binary.BigEndian)
	for _, cut := range []int{3, 8, 20, 30} {
		if got := jpegOrientation(bad[:cut]); got != 1 {
			t.Errorf("truncated at %d: read %d, want 1", cut, got)
		}
	}
	if got := jpegOrientation(withOrientation(jpg, 42, binary.BigEndian)); got != 1 {
		t.Errorf("out-of-range orientation read as %d", got)
	}
}

// TestDecodeAppliesOrientation checks that a phone photo stored sideways with orientation 6
// fingerprints like the upright picture.
func TestDecodeAppliesOrientation(t *testing.T) {
	t.Parallel()
	m := texture(300, 200, 4)
	upright := fingerprintOf(t, encodeJPEG(t, m, 95), Reference)
	// Store the pixels turned anticlockwise, and tag them "rotate 90° clockwise to view".
	sideways := rotate270RGBA(m)
	img, err := DefaultConfig().Decode(withOrientation(encodeJPEG(t, sideways, 95), 6, binary.BigEndian))
	if err != nil {
		t.Fatal(err)
	}
	if img.Orientation != Rot90 || img.Gray.Bounds().Dx() <= img.Gray.Bounds().Dy() {
		t.Fatalf("orientation %v, size %v: not turned upright", img.Orientation, img.Gray.Bounds())
	}
	m2 := Compare(img.Fingerprint(Query), upright)
	if m2.Upload.Orientation != Identity || m2.Distances.P > 6 {
		t.Errorf("upright and EXIF-rotated copies differ: %s", m2.Describe())
	}
}
