package hashing

import (
	"errors"
	"fmt"
)

// Config holds the limits and sizes of the decode and fingerprint path. The zero value is
// not usable; start from DefaultConfig.
type Config struct {
	// MaxBytes caps the size of an encoded image, in bytes. Default 50 MiB.
	MaxBytes int64
	// MaxPixels caps width × height as declared by the image header, checked before any
	// pixel is decoded. Default 50,000,000 (imgproxy's max_src_resolution of 50 MP).
	MaxPixels int64
	// MaxSide caps the width and the height separately. Default 30,000.
	MaxSide int
	// MaxHEIFPixels caps width × height of AVIF and HEIC images, which are decoded at full
	// size in WebAssembly: a 12 MP AVIF takes 0.5–0.8 GB at its peak, a 12 MP HEIC about
	// 0.4 GB (one such decode runs at a time in a process). Default 12,000,000: a phone's
	// 12 MP photo passes.
	MaxHEIFPixels int64
	// WorkSize is the longer side, in pixels, of the normalised gray image that every hash is
	// computed from. Default 256.
	WorkSize int
	// FastJPEG lets JPEGs be decoded by libturbojpeg at reduced scale when the library is
	// present. Default true.
	FastJPEG bool
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		MaxBytes:      50 << 20,
		MaxPixels:     50_000_000,
		MaxSide:       30_000,
		MaxHEIFPixels: 12_000_000,
		WorkSize:      256,
		FastJPEG:      true,
	}
}

// Validate reports the first setting that is out of range, by its name.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_bytes must be positive, got %d", c.MaxBytes))
	}
	if c.MaxPixels <= 0 {
		errs = append(errs, fmt.Errorf("max_pixels must be positive, got %d", c.MaxPixels))
	}
	if c.MaxHEIFPixels <= 0 {
		errs = append(errs, fmt.Errorf("max_heif_pixels must be positive, got %d", c.MaxHEIFPixels))
	}
	if c.MaxSide <= 0 {
		errs = append(errs, fmt.Errorf("max_side must be positive, got %d", c.MaxSide))
	}
	if c.WorkSize < 64 || c.WorkSize > 1024 {
		errs = append(errs, fmt.Errorf("work_size must be in [64, 1024], got %d", c.WorkSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hashing: config: %w", err)
	}
	return nil
}
