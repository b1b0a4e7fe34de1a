package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aura-art/aura/hashing"
)

// recordVersion is the version of the stored JSON records.
const recordVersion = 1

// workRecord is a work's metadata as stored: JSON. The fingerprint (in its binary form), the
// disabled flag and the thumbnail are stored beside it, so that loading the matcher reads no
// JSON and no thumbnail (the embedded store: an entry in the entries bucket; Redis: fields of
// the work's hash).
type workRecord struct {
	V            int       `json:"v"`
	ID           string    `json:"id"`
	CreatorID    string    `json:"creator_id"`
	CreatorName  string    `json:"creator_name,omitempty"`
	Title        string    `json:"title,omitempty"`
	Year         int       `json:"year,omitempty"`
	SourceURL    string    `json:"source_url,omitempty"`
	Licence      string    `json:"licence,omitempty"`
	RegisteredBy string    `json:"registered_by,omitempty"`
	RegisteredAt time.Time `json:"registered_at"`
	SHA256       string    `json:"sha256"`
}

// recordOf returns the stored metadata of w.
func recordOf(w *Work) workRecord {
	r := workRecord{
		V: recordVersion, ID: w.ID, CreatorID: w.CreatorID, CreatorName: w.CreatorName,
		Title: w.Title, Year: w.Year, SourceURL: w.SourceURL, Licence: w.Licence,
		RegisteredBy: w.RegisteredBy, RegisteredAt: w.RegisteredAt, SHA256: w.SHA256,
	}
	return r
}

// work returns the work of a record and its fingerprint's binary form, without thumbnail.
func (r *workRecord) work(fp []byte, disabled bool) (*Work, error) {
	if r.V != recordVersion {
		return nil, fmt.Errorf("work %s: record version %d, want %d", r.ID, r.V, recordVersion)
	}
	f, err := decodeFingerprint(fp)
	if err != nil {
		return nil, fmt.Errorf("work %s: %w", r.ID, err)
	}
	return &Work{
		ID: r.ID, CreatorID: r.CreatorID, CreatorName: r.CreatorName, Title: r.Title,
		Year: r.Year, SourceURL: r.SourceURL, Licence: r.Licence, RegisteredBy: r.RegisteredBy,
		RegisteredAt: r.RegisteredAt, SHA256: r.SHA256, Fingerprint: f, Disabled: disabled,
	}, nil
}

// decodeWorkRecord parses a stored record.
func decodeWorkRecord(b []byte) (*workRecord, error) {
	r := new(workRecord)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("decode work record: %w", err)
	}
	return r, nil
}

func fingerprintBytes(fp *hashing.Fingerprint) []byte {
	b, _ := fp.MarshalBinary() // never fails
	return b
}

func decodeFingerprint(b []byte) (*hashing.Fingerprint, error) {
	fp := new(hashing.Fingerprint)
	if err := fp.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return fp, nil
}

// changeRecord is a change as the embedded store keeps it (the Seq is the key).
type changeRecord struct {
	Op          ChangeOp  `json:"op"`
	WorkID      string    `json:"work_id"`
	CreatorID   string    `json:"creator_id"`
	Disabled    bool      `json:"disabled,omitempty"`
	Fingerprint []byte    `json:"fp,omitempty"`
	At          time.Time `json:"at"`
}

func (r *changeRecord) change(seq uint64) (Change, error) {
	c := Change{Seq: seq, Op: r.Op, WorkID: r.WorkID, CreatorID: r.CreatorID, Disabled: r.Disabled, At: r.At}
	if len(r.Fingerprint) > 0 {
		fp, err := decodeFingerprint(r.Fingerprint)
		if err != nil {
			return Change{}, fmt.Errorf("change %d: %w", seq, err)
		}
		c.Fingerprint = fp
	}
	return c, nil
}

// entryVersion is the version of the binary matcher entry.
const entryVersion = 1

// appendEntry appends the embedded store's binary matcher entry of a work:
//
//	version (1 byte) | flags (1 byte: bit 0 disabled) | creator length (uvarint) | creator |
//	fingerprint binary form (the rest)
func appendEntry(b []byte, creator string, disabled bool, fp []byte) []byte {
	var flags byte
	if disabled {
		flags = 1
	}
	b = append(b, entryVersion, flags)
	b = binary.AppendUvarint(b, uint64(len(creator)))
	b = append(b, creator...)
	return append(b, fp...)
}

// entry is a decoded matcher entry; fp aliases the input.
type entry struct {
	creator  string
	disabled bool
	fp       []byte
}

var errBadEntry = errors.New("bad matcher entry")

func decodeEntry(b []byte) (entry, error) {
	if len(b) < 3 || b[0] != entryVersion || b[1]&^1 != 0 {
		return entry{}, errBadEntry
	}
	n, k := binary.Uvarint(b[2:])
	if k <= 0 || n > uint64(len(b)-2-k) {
		return entry{}, errBadEntry
	}
	rest := b[2+k:]
	return entry{creator: string(rest[:n]), disabled: b[1]&1 != 0, fp: rest[n:]}, nil
}

// setEntryDisabled returns a copy of an entry with the disabled flag set or cleared.
func setEntryDisabled(b []byte, disabled bool) []byte {
	c := append([]byte(nil), b...)
	c[1] &^= 1
	if disabled {
		c[1] |= 1
	}
	return c
}
