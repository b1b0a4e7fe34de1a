package worker

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/verdict"
)

// SchemaVersion is the version of the Submission and VerdictMessage JSON schemas this package
// reads and writes. A submission with another version is a bad message.
const SchemaVersion = 1

// Subjects. A tenant is one subject token (index.ValidTenant).
const (
	// SubmitPrefix starts the subject of a submission: "aura.submit.<tenant>".
	SubmitPrefix = "aura.submit."
	// VerdictPrefix starts the subject of a verdict: "aura.verdict.<tenant>.<verdict>".
	VerdictPrefix = "aura.verdict."
	// DeadLetterPrefix starts the subject of a dead letter: "aura.dlq.<tenant>".
	DeadLetterPrefix = "aura.dlq."
	// RescanPrefix starts the subject of a distributed rescan job: "aura.rescan.<tenant>".
	RescanPrefix = "aura.rescan."
	// RescanResultPrefix starts the subject of a rescan job's result:
	// "aura.rescanned.<run>".
	RescanResultPrefix = "aura.rescanned."
	// DecisionPrefix starts the subject of a moderator's decision: "aura.decision.<tenant>"
	// (review.DecisionSubject; disputes use the tenant "registry").
	DecisionPrefix = "aura.decision."
	// CheckSubject is the default subject of synchronous checks (request-reply).
	CheckSubject = "aura.check"
	// CheckQueue is the default queue group of the synchronous check responders.
	CheckQueue = "aura-check"
)

// Header names Aura sets on the messages it publishes.
const (
	// HeaderSubmissionID carries the submission id on verdicts and dead letters.
	HeaderSubmissionID = "Aura-Submission-Id"
	// HeaderTenant carries the tenant on verdicts and dead letters.
	HeaderTenant = "Aura-Tenant"
	// HeaderReason carries why a submission was dead-lettered.
	HeaderReason = "Aura-Reason"
	// HeaderOriginalSubject is the subject a dead-lettered submission was published on.
	HeaderOriginalSubject = "Aura-Original-Subject"
	// HeaderStreamSequence is the dead-lettered submission's sequence in its stream.
	HeaderStreamSequence = "Aura-Stream-Sequence"
	// HeaderDeliveries is how many times the dead-lettered submission was delivered.
	HeaderDeliveries = "Aura-Deliveries"
	// HeaderWorker names the worker that published the message.
	HeaderWorker = "Aura-Worker"
	// HeaderFailedAt is when the submission was dead-lettered (RFC 3339).
	HeaderFailedAt = "Aura-Failed-At"
	// HeaderError marks a synchronous check's reply as a failure; its value is "permanent"
	// or "transient" and the body is a CheckError.
	HeaderError = "Aura-Error"
)

// SubmitSubject returns the subject a tenant's submissions are published on.
func SubmitSubject(tenant string) string { return SubmitPrefix + tenant }

// VerdictSubject returns the subject of a tenant's verdict of the given kind.
func VerdictSubject(tenant string, kind verdict.Kind) string {
	return VerdictPrefix + tenant + "." + string(kind)
}

// DeadLetterSubject returns the subject of a tenant's dead letters.
func DeadLetterSubject(tenant string) string { return DeadLetterPrefix + tenant }

// MsgID is the Nats-Msg-Id of a submission and of its verdict: "<tenant>/<submission id>".
// The streams drop a second message with the same id within their duplicate windows.
func MsgID(tenant, id string) string { return tenant + "/" + id }

// MaxCreatorLen is the longest claimed creator id, in bytes.
const MaxCreatorLen = 256

// Submission asks for the verdict on one picture. Its JSON form (schema version 1):
//
//	{"schema_version": 1, "id": "up-1234", "tenant": "acme", "creator": "alice",
//	 "image": {"url": "https://cdn.example.com/up-1234.jpg"}}
//
// or with the image inline, base64 (standard alphabet, padded), up to Config.MaxInlineBytes:
//
//	{"schema_version": 1, "id": "up-1235", "tenant": "acme", "image": {"data": "/9j/4AAQ..."}}
type Submission struct {
	// SchemaVersion is SchemaVersion. Required.
	SchemaVersion int `json:"schema_version"`
	// ID is the tenant's id of the submission (index.ValidSubmissionID). Required. The
	// verdict is stored and published under tenant and id, once.
	ID string `json:"id"`
	// Tenant names the marketplace (index.ValidTenant) and must match the subject's last
	// token. Required.
	Tenant string `json:"tenant"`
	// Creator is the creator id the uploader claims to be; optional. A match of their own
	// registered work is then own_work rather than a forgery.
	Creator string `json:"creator,omitempty"`
	// Image is the picture: exactly one of URL and Data. Required.
	Image Image `json:"image"`
}

// Image is a submitted picture, by URL or inline.
type Image struct {
	// URL is an http or https URL the worker downloads (see package fetch for the limits).
	URL string `json:"url,omitempty"`
	// Data is the encoded image (JPEG, PNG, ...); base64 in JSON.
	Data []byte `json:"data,omitempty"`
}

// wireSubmission is the JSON form decoded strictly: pointers tell missing from empty.
type wireSubmission struct {
	SchemaVersion *int       `json:"schema_version"`
	ID            *string    `json:"id"`
	Tenant        *string    `json:"tenant"`
	Creator       *string    `json:"creator"`
	Image         *wireImage `json:"image"`
}

type wireImage struct {
	URL  *string     `json:"url"`
	Data *inlineData `json:"data"`
}

// inlineData is image.data, base64-decoded while the message is parsed, from the message's
// own bytes: base64 never needs JSON escapes but "\/", so neither a string nor a copy of the
// raw value is made first. What is wrong with it is kept for DecodeSubmission to report,
// with the submission's id, once the rest is read.
type inlineData struct {
	// notString is set when the value is not a JSON string.
	notString bool
	// encodedLen is the length of the base64 text.
	encodedLen int
	// decoded is the image, decodeErr why the text is not standard padded base64.
	decoded   []byte
	decodeErr error
}

// UnmarshalJSONFrom reads the value for encoding/json/v2 without copying it.
func (d *inlineData) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	d.set(v)
	return nil
}

// UnmarshalJSON reads the value for encoding/json, which whyBad uses.
func (d *inlineData) UnmarshalJSON(raw []byte) error {
	d.set(raw)
	return nil
}

// set decodes raw, a JSON value. The message size cap bounds what it allocates.
func (d *inlineData) set(raw []byte) {
	text, err := jsonStringBytes(raw)
	if err != nil {
		d.notString = true
		return
	}
	d.encodedLen = len(text)
	b := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Strict().Decode(b, text)
	d.decoded, d.decodeErr = b[:n], err
}

// messageSlack is what a submission may hold beyond its base64 image: the other fields.
const messageSlack = 64 << 10

// MaxMessageBytes is the largest submission message accepted with images of at most
// maxInline bytes: their base64 form and 64 KiB for the other fields.
func MaxMessageBytes(maxInline int64) int64 {
	return int64(base64.StdEncoding.EncodedLen(int(maxInline))) + messageSlack
}

// badf returns an ErrBadMessage error.
func badf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadMessage, fmt.Sprintf(format, a...))
}

// DecodeSubmission reads a submission strictly. It fails with an error wrapping
// ErrBadMessage (so permanent) that says what is wrong: the message is larger than
// MaxMessageBytes(maxInline), is not one JSON object, has no or an unknown schema_version,
// has unknown fields, lacks id, tenant or image, has a malformed id, tenant or creator, has
// both or neither of image.url and image.data, a URL that is not http(s), data that is not
// standard padded base64, empty, or larger than maxInline bytes.
func DecodeSubmission(data []byte, maxInline int64) (*Submission, error) {
	if limit := MaxMessageBytes(maxInline); int64(len(data)) > limit {
		return nil, badf("submission is %d bytes, more than the %d a submission may have (inline images are capped at %d bytes; send larger ones by URL)",
			len(data), limit, maxInline)
	}
	// One strict parse in the common case; a failed one is parsed again for a better reason
	// when the schema version is unknown or missing. The parse is encoding/json/v2's
	// (go-json-experiment/json): it reads a 300 KB inline image in a tenth of the time of
	// encoding/json, which scans it twice at about 100 MB/s. It is stricter too: member
	// names match exactly and once, strings are valid UTF-8.
	var w wireSubmission
	err := jsonv2.Unmarshal(data, &w, jsonv2.RejectUnknownMembers(true))
	if err != nil || w.SchemaVersion == nil || *w.SchemaVersion != SchemaVersion {
		return nil, whyBad(data, err)
	}
	version := *w.SchemaVersion
	s := &Submission{SchemaVersion: version}
	switch {
	case w.ID == nil:
		return nil, badf("id is missing")
	case !index.ValidSubmissionID(*w.ID):
		return nil, badf("id %q: want 1 to %d printable ASCII characters without spaces", *w.ID, index.MaxSubmissionIDLen)
	case w.Tenant == nil:
		return nil, badf("submission %s: tenant is missing", *w.ID)
	case !index.ValidTenant(*w.Tenant):
		return nil, badf("submission %s: tenant %q: want 1 to %d letters, digits, '-' or '_'", *w.ID, *w.Tenant, index.MaxTenantLen)
	case w.Image == nil:
		return nil, badf("submission %s: image is missing", *w.ID)
	}
	s.ID, s.Tenant = *w.ID, *w.Tenant
	if w.Creator != nil {
		c := *w.Creator
		if len(c) > MaxCreatorLen || !utf8.ValidString(c) || strings.ContainsFunc(c, isControl) {
			return nil, badf("submission %s: creator: want at most %d bytes of UTF-8 without control characters", s.ID, MaxCreatorLen)
		}
		s.Creator = c
	}
	switch img := w.Image; {
	case img.URL != nil && img.Data != nil:
		return nil, badf("submission %s: image has both url and data; give one", s.ID)
	case img.URL != nil:
		if !fetch.IsURL(*img.URL) {
			return nil, badf("submission %s: image.url is not an http or https URL", s.ID)
		}
		s.Image.URL = *img.URL
	case img.Data != nil:
		d := img.Data
		if d.notString {
			return nil, badf("submission %s: image.data is not a string", s.ID)
		}
		if int64(base64.StdEncoding.DecodedLen(d.encodedLen)) > maxInline+2 {
			return nil, badf("submission %s: image.data is about %d bytes, more than the %d allowed inline; send it by URL",
				s.ID, base64.StdEncoding.DecodedLen(d.encodedLen), maxInline)
		}
		if d.decodeErr != nil {
			return nil, badf("submission %s: image.data is not standard base64: %v", s.ID, d.decodeErr)
		}
		b := d.decoded
		switch {
		case len(b) == 0:
			return nil, badf("submission %s: image.data is empty", s.ID)
		case int64(len(b)) > maxInline:
			return nil, badf("submission %s: image.data is %d bytes, more than the %d allowed inline; send it by URL", s.ID, len(b), maxInline)
		}
		s.Image.Data = b
	default:
		return nil, badf("submission %s: image has neither url nor data", s.ID)
	}
	return s, nil
}

// jsonStringBytes returns the contents of a JSON string: its raw bytes when they hold no
// escapes, else the unquoted string's.
func jsonStringBytes(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, errors.New("not a JSON string")
	}
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return inner, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return nil, err
	}
	return []byte(str), nil
}

// whyBad explains why a submission that failed the strict parse with err is bad: its schema
// version first, then err.
func whyBad(data []byte, err error) error {
	var head struct {
		SchemaVersion json.RawMessage `json:"schema_version"`
	}
	if herr := json.Unmarshal(data, &head); herr != nil {
		return badf("malformed JSON: %v", herr)
	}
	if head.SchemaVersion == nil {
		return badf("schema_version is missing")
	}
	var version int
	if verr := json.Unmarshal(head.SchemaVersion, &version); verr != nil {
		return badf("schema_version %s is not an integer", head.SchemaVersion)
	}
	if version != SchemaVersion {
		return badf("unknown schema_version %d (this worker reads %d)", version, SchemaVersion)
	}
	// encoding/json's strict decoder words most failures better ("unknown field \"x\"");
	// what only the stricter parse refuses (a repeated or differently cased member name,
	// invalid UTF-8) keeps that parse's reason.
	var w wireSubmission
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if derr := dec.Decode(&w); derr != nil {
		err = derr
	} else if dec.More() {
		err = errors.New("more than one JSON value")
	}
	return badf("schema_version %d: %v", version, err)
}

// Validate checks a submission before it is published, with the rules of DecodeSubmission,
// without encoding it. An invalid submission's error wraps ErrBadMessage.
func (s *Submission) Validate(maxInline int64) error {
	switch {
	case s.SchemaVersion != SchemaVersion:
		return badf("unknown schema_version %d (this worker reads %d)", s.SchemaVersion, SchemaVersion)
	case !index.ValidSubmissionID(s.ID):
		return badf("id %q: want 1 to %d printable ASCII characters without spaces", s.ID, index.MaxSubmissionIDLen)
	case !index.ValidTenant(s.Tenant):
		return badf("submission %s: tenant %q: want 1 to %d letters, digits, '-' or '_'", s.ID, s.Tenant, index.MaxTenantLen)
	case len(s.Creator) > MaxCreatorLen || !utf8.ValidString(s.Creator) || strings.ContainsFunc(s.Creator, isControl):
		return badf("submission %s: creator: want at most %d bytes of UTF-8 without control characters", s.ID, MaxCreatorLen)
	case s.Image.URL != "" && s.Image.Data != nil:
		return badf("submission %s: image has both url and data; give one", s.ID)
	case s.Image.URL != "" && !fetch.IsURL(s.Image.URL):
		return badf("submission %s: image.url is not an http or https URL", s.ID)
	case s.Image.URL == "" && len(s.Image.Data) == 0:
		return badf("submission %s: image has neither url nor data", s.ID)
	case int64(len(s.Image.Data)) > maxInline:
		return badf("submission %s: image.data is %d bytes, more than the %d allowed inline; send it by URL", s.ID, len(s.Image.Data), maxInline)
	}
	return nil
}

// isControl reports a control character.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// VerdictMessage is the verdict on one submission as workers publish it on
// "aura.verdict.<tenant>.<verdict>" and answer synchronous checks. Its JSON form (schema
// version 1):
//
//	{"schema_version": 1, "submission_id": "up-1234", "tenant": "acme", "creator": "alice",
//	 "verdict": "derivative",
//	 "matches": [{"work_id": "w_...", "creator_id": "bob", "title": "...", "score": 0.93,
//	              "distances": {...}, "variant": "mirror", ...}],
//	 "thresholds": {...}, "timings_ms": {"queue": 1.2, "fetch": 35.1, "check": 21.7},
//	 "worker_id": "host-4242", "at": "2025-01-02T03:04:05.678Z"}
//
// Fields are only added within a schema version; readers should ignore fields they do not
// know.
type VerdictMessage struct {
	SchemaVersion int    `json:"schema_version"`
	SubmissionID  string `json:"submission_id"`
	Tenant        string `json:"tenant"`
	// Creator is the creator the submission claimed, "" for none.
	Creator string `json:"creator,omitempty"`
	// Verdict is clear, own_work, likely_forgery or derivative.
	Verdict verdict.Kind `json:"verdict"`
	// Matches are the evidence, best first (verdict.Match); never null.
	Matches []verdict.Match `json:"matches"`
	// Thresholds are the thresholds in force.
	Thresholds hashing.Thresholds `json:"thresholds"`
	// LowDetail reports that the picture has little structure (verdict.Verdict.LowDetail).
	LowDetail bool `json:"low_detail,omitempty"`
	// TimingsMS are the stage durations in milliseconds: "queue" (from publication to the
	// start of work), "fetch" (download; 0 for inline images), "check" (decode, fingerprint,
	// match, classify) and "total" (from the start of work to the verdict).
	TimingsMS map[string]float64 `json:"timings_ms"`
	// WorkerID names the worker that decided the verdict.
	WorkerID string `json:"worker_id"`
	// At is when the verdict was decided.
	At time.Time `json:"at"`
	// Retroactive marks the verdict on a past upload that a newly registered work matches
	// (package retro); RetroWorkID names that work. A retroactive verdict is published
	// besides the upload's first verdict, which stands in the store.
	Retroactive bool   `json:"retroactive,omitempty"`
	RetroWorkID string `json:"retro_work_id,omitempty"`
}

// Flagged reports whether the verdict needs a person (likely_forgery or derivative).
func (m *VerdictMessage) Flagged() bool { return m.Verdict.Flagged() }

// NewVerdictMessage builds the message of a stored verdict.
func NewVerdictMessage(r *index.VerdictRecord) *VerdictMessage {
	matches := r.Verdict.Matches
	if matches == nil {
		matches = []verdict.Match{}
	}
	return &VerdictMessage{
		SchemaVersion: SchemaVersion, SubmissionID: r.SubmissionID, Tenant: r.Tenant,
		Creator: r.Verdict.ClaimedCreator, Verdict: r.Verdict.Verdict, Matches: matches,
		Thresholds: r.Verdict.Thresholds, LowDetail: r.Verdict.LowDetail,
		TimingsMS: r.TimingsMS, WorkerID: r.WorkerID, At: r.At,
	}
}

// DecodeVerdict reads a VerdictMessage. Unknown fields are ignored; an unknown schema
// version or a message without submission id or verdict is an error.
func DecodeVerdict(data []byte) (*VerdictMessage, error) {
	var m VerdictMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("worker: decode verdict: %w", err)
	}
	switch {
	case m.SchemaVersion != SchemaVersion:
		return nil, fmt.Errorf("worker: decode verdict: unknown schema_version %d (this reader knows %d)", m.SchemaVersion, SchemaVersion)
	case m.SubmissionID == "" || m.Verdict == "":
		return nil, errors.New("worker: decode verdict: submission_id or verdict is missing")
	}
	return &m, nil
}

// CheckError is the body of a synchronous check that failed (the reply carries HeaderError).
type CheckError struct {
	SchemaVersion int    `json:"schema_version"`
	SubmissionID  string `json:"submission_id,omitempty"`
	// Error says what went wrong.
	Error string `json:"error"`
	// Permanent is true when retrying the same request cannot succeed.
	Permanent bool `json:"permanent"`
}
