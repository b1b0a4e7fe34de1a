package rescan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Source yields the items of a rescan.
type Source interface {
	// Walk calls fn with each item, in the source's order, and stops at the first error fn
	// returns (Walk returns it) or when ctx ends (Walk returns ctx.Err()). A part of the
	// source that cannot be read (a subdirectory, a manifest line) becomes an Item with its
	// Err; Walk itself fails only when the source cannot be read at all. Walk may be
	// called more than once.
	Walk(ctx context.Context, fn func(Item) error) error
	// Key is the hex SHA-256 that names the source's state directory: of a directory's
	// absolute path, or of a manifest's content.
	Key() string
	// String describes the source in messages.
	String() string
}

// Counter is a Source that can count its items ahead of a walk, for a progress bar's ETA.
// Count may be as costly as a walk; the Runner calls it on its own goroutine.
type Counter interface {
	Count(ctx context.Context) (int, error)
}

// imageExts are the extensions a directory walk picks up without DirOptions.All.
var imageExts = map[string]bool{
	".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true,
	".bmp": true, ".tif": true, ".tiff": true, ".avif": true, ".heic": true, ".heif": true,
}

// IsImageName reports whether a file name has an image extension (jpg, jpeg, png, gif, webp,
// bmp, tif, tiff, avif, heic, heif; in any case).
func IsImageName(name string) bool { return imageExts[strings.ToLower(filepath.Ext(name))] }

// Dir is a directory tree as a Source. Create it with NewDir.
type Dir struct {
	root string
	all  bool
}

// NewDir returns the tree under root: every regular file with an image extension
// (IsImageName), or every regular file when all is set. The walk descends into
// subdirectories but follows no symlinked directory; a symlink to a regular file is an item
// (its target's size and time), a broken one an item with its error. Names starting with
// "." (hidden files and directories) are left out. Items are named by their path relative to
// root, with slashes. Files within a directory come in the order the file system lists them,
// subdirectories after them in lexical order; the walk reads a directory a batch at a time, so
// a huge directory costs no memory. It fails when root is not a directory.
func NewDir(root string, all bool) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("rescan: %w", err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("rescan: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("rescan: %s is not a directory", root)
	}
	return &Dir{root: abs, all: all}, nil
}

// Root returns the absolute path of the tree's root.
func (d *Dir) Root() string { return d.root }

// Key is the hex SHA-256 of the root's absolute path.
func (d *Dir) Key() string {
	sum := sha256.Sum256([]byte(d.root))
	return hex.EncodeToString(sum[:])
}

// String returns the root's absolute path.
func (d *Dir) String() string { return d.root }

// Walk walks the tree (see NewDir).
func (d *Dir) Walk(ctx context.Context, fn func(Item) error) error {
	return d.walk(ctx, d.root, "", fn)
}

// Count counts the tree's items, as Walk would yield them.
func (d *Dir) Count(ctx context.Context) (int, error) {
	n := 0
	err := d.walk(ctx, d.root, "", func(Item) error { n++; return nil })
	return n, err
}

// dirBatch is how many directory entries a walk reads at a time.
const dirBatch = 512

// walk yields the items of the directory abs, named rel ("" for the root).
func (d *Dir) walk(ctx context.Context, abs, rel string, fn func(Item) error) error {
	f, err := os.Open(abs)
	if err != nil {
		if rel == "" {
			return fmt.Errorf("rescan: %w", err)
		}
		return fn(Item{ID: rel, Path: abs, Err: fmt.Errorf("read directory: %w", pathCause(err))})
	}
	var subdirs []string
	for {
		ents, rerr := f.ReadDir(dirBatch)
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				f.Close()
				return err
			}
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			if e.IsDir() {
				subdirs = append(subdirs, name)
				continue
			}
			if !d.all && !IsImageName(name) {
				continue
			}
			it, ok := d.item(e, filepath.Join(abs, name), path.Join(rel, name))
			if !ok {
				continue
			}
			if err := fn(it); err != nil {
				f.Close()
				return err
			}
		}
		if rerr == io.EOF || (rerr == nil && len(ents) == 0) {
			break
		}
		if rerr != nil {
			f.Close()
			if err := fn(Item{ID: rel, Path: abs, Err: fmt.Errorf("read directory: %w", rerr)}); err != nil {
				return err
			}
			break
		}
	}
	f.Close()
	slices.Sort(subdirs)
	for _, s := range subdirs {
		if err := d.walk(ctx, filepath.Join(abs, s), path.Join(rel, s), fn); err != nil {
			return err
		}
	}
	return nil
}

// item makes the item of a directory entry that is not a directory; ok is false for an entry
// that is no item (a device, a socket, a symlink to a directory).
func (d *Dir) item(e fs.DirEntry, abs, rel string) (it Item, ok bool) {
	it = Item{ID: rel, Path: abs}
	var info fs.FileInfo
	var err error
	switch t := e.Type(); {
	case t.IsRegular():
		info, err = e.Info()
	case t&fs.ModeSymlink != 0:
		info, err = os.Stat(abs)
		if err != nil {
			it.Err = fmt.Errorf("broken symlink: %w", pathCause(err))
			return it, true
		}
	default:
		return it, false
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return it, false // removed since the directory was listed
	case err != nil:
		it.Err = err
		return it, true
	case !info.Mode().IsRegular():
		return it, false
	}
	it.Size, it.ModTime = info.Size(), info.ModTime()
	return it, true
}

// pathCause is the error under a *fs.PathError, whose path the item already names.
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
