package hashing

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"

	// Decoders for every format Aura accepts register themselves with package image.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// Errors of the decode path. Each is permanent: the same bytes fail the same way, so a
// worker terminates the submission instead of retrying it. The wrapping error names the
// limit or the cause.
var (
	// ErrTooLarge means the image exceeds a configured limit (bytes, pixels or side).
	ErrTooLarge = errors.New("image too large")
	// ErrUnsupported means the bytes are not in a format Aura decodes.
	ErrUnsupported = errors.New("unsupported image format")
	// ErrCorrupt means the format was recognised but the image could not be decoded.
	ErrCorrupt = errors.New("corrupt image")
)

// Image is a decoded, normalised picture: 8-bit gray, turned upright by its EXIF orientation,
// transparency flattened onto white, and at most Config.WorkSize pixels on its longer side,
// with the box that holds the picture once borders, pads, letterbox bars and screenshot
// chrome are trimmed. Every hash is computed from it.
type Image struct {
	// Gray is the normalised picture, origin at (0, 0), untrimmed.
	Gray *image.Gray
	// Format is the encoded format's name: "jpeg", "png", "gif", "webp", "bmp", "tiff",
	// "avif", "heic".
	Format string
	// Width and Height are the encoded image's size as declared by its header.
	Width, Height int
	// Decoder names the path that decoded it: "turbojpeg" or "go".
	Decoder string
	// Orientation is the EXIF orientation that was applied (Identity when there was none).
	Orientation Orientation
	// Content is the part of Gray that holds the picture: Gray's bounds when there is
	// nothing to trim.
	Content image.Rectangle
}

// Read reads at most MaxBytes from r and decodes the image (see Decode). A longer input is
// ErrTooLarge.
func (c Config) Read(r io.Reader) (*Image, error) {
	data, err := io.ReadAll(io.LimitReader(r, c.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("hashing: read image: %w", err)
	}
	return c.Decode(data)
}

// Decode decodes untrusted image bytes within the configured limits and normalises them.
// It checks the declared size with image.DecodeConfig before decoding any pixel, so an image
// whose header claims too many pixels costs nothing. It never panics: a decoder that panics
// on hostile input yields ErrCorrupt. It is safe for concurrent use.
func (c Config) Decode(data []byte) (*Image, error) {
	if int64(len(data)) > c.MaxBytes {
		return nil, fmt.Errorf("hashing: %w: more than max_bytes (%d bytes)", ErrTooLarge, c.MaxBytes)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("hashing: %w: empty input", ErrCorrupt)
	}
	cfg, format, err := decodeConfig(data)
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, fmt.Errorf("hashing: %w", ErrUnsupported)
		}
		return nil, fmt.Errorf("hashing: %w: %s header: %v", ErrCorrupt, format, err)
	}
	if err := c.checkSize(cfg.Width, cfg.Height, format); err != nil {
		return nil, err
	}
	img := &Image{Format: format, Width: cfg.Width, Height: cfg.Height}
	var work *image.Gray
	if format == "jpeg" {
		img.Orientation = exifToOrientation[jpegOrientation(data)]
		if c.FastJPEG && turboAvailable() {
			tw, th := fitWithin(cfg.Width, cfg.Height, c.WorkSize)
			if g, err := turboDecodeGray(data, tw, th); err == nil {
				work = shrinkToGray(g, c.WorkSize)
				img.Decoder = "turbojpeg"
			}
			// Any failure (CMYK, a corrupt stream) falls back to the Go decoder, which
			// gives the error its final word.
		}
	}
	if work == nil {
		src, err := decodeGo(data, format)
		if err != nil {
			return nil, fmt.Errorf("hashing: %w: %s: %v", ErrCorrupt, format, err)
		}
		work = shrinkToGray(src, c.WorkSize)
		img.Decoder = "go"
	}
	img.Gray = orient(work, img.Orientation)
	img.Content = contentBox(img.Gray)
	return img, nil
}

// checkSize enforces MaxSide, MaxPixels and, on AVIF and HEIC, MaxHEIFPixels on a declared
// size.
func (c Config) checkSize(w, h int, format string) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("hashing: %w: declared size %d×%d", ErrCorrupt, w, h)
	}
	if w > c.MaxSide || h > c.MaxSide {
		return fmt.Errorf("hashing: %w: %d×%d has a side above max_side (%d px)", ErrTooLarge, w, h, c.MaxSide)
	}
	if int64(w)*int64(h) > c.MaxPixels {
		return fmt.Errorf("hashing: %w: %d×%d is above max_pixels (%d)", ErrTooLarge, w, h, c.MaxPixels)
	}
	if _, heif := heifDecoders[format]; heif && int64(w)*int64(h) > c.MaxHEIFPixels {
		return fmt.Errorf("hashing: %w: %d×%d is above max_heif_pixels (%d), the cap on %s images, which are decoded at full size",
			ErrTooLarge, w, h, c.MaxHEIFPixels, format)
	}
	return nil
}

// decodeConfig reads only the header. Decoders of package image may panic on hostile
// headers; a panic becomes an error.
func decodeConfig(data []byte) (cfg image.Config, format string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	if f := heifFormat(data); f != "" {
		cfg, err = heifDecoders[f].decodeConfig(bytes.NewReader(data))
		return cfg, f, err
	}
	return image.DecodeConfig(bytes.NewReader(data))
}

// decodeGo decodes the first frame of data, in the format decodeConfig found, with the
// registered Go decoders or the HEIF ones, turning a panic into an error.
func decodeGo(data []byte, format string) (m image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("decoder panic: %v", p)
		}
	}()
	if d, ok := heifDecoders[format]; ok {
		heifSlot <- struct{}{}
		defer func() { <-heifSlot }()
		m, err = d.decode(bytes.NewReader(data))
	} else {
		m, _, err = image.Decode(bytes.NewReader(data))
	}
	if err == nil && m.Bounds().Empty() {
		err = errors.New("empty image")
	}
	return m, err
}

// JPEGDecoder names the JPEG decoder that Decode uses under c: "libturbojpeg (PATH)" when
// the library was found at run time, otherwise Go's image/jpeg.
func JPEGDecoder(c Config) string {
	switch {
	case !c.FastJPEG:
		return "go image/jpeg (fast JPEG off)"
	case turboAvailable():
		return "libturbojpeg (" + turboVersion() + ")"
	default:
		return "go image/jpeg (libturbojpeg not found)"
	}
}
