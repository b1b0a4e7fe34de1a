package worker

import (
	"errors"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/review"
)

// ErrPermanent marks a failure that no retry can fix: the submission is dead-lettered with
// the error's text as its reason and terminated. Wrap it (fmt.Errorf("...: %w", ErrPermanent))
// from a Checker, Fetcher or VerdictStore to say so; see Permanent for the errors of other
// packages that count as permanent too. Every other error is transient: the submission is
// retried with backoff.
var ErrPermanent = errors.New("permanent failure")

// ErrBadMessage is the error of a submission that cannot be read: malformed JSON, an unknown
// schema version, a missing or malformed field, an inline image over the cap or a tenant
// that does not match the subject. It is permanent (errors.Is(err, ErrPermanent) holds).
var ErrBadMessage error = &sentinel{msg: "bad message", parent: ErrPermanent}

// sentinel is an error value that wraps a parent sentinel without repeating its text.
type sentinel struct {
	msg    string
	parent error
}

func (s *sentinel) Error() string { return s.msg }
func (s *sentinel) Unwrap() error { return s.parent }

// Permanent reports whether err is a failure that retrying cannot fix, so the submission is
// dead-lettered: ErrPermanent and ErrBadMessage; hashing's ErrTooLarge, ErrUnsupported and
// ErrCorrupt (the image cannot be decoded); fetch's ErrForbidden, ErrTooLarge and
// ErrTooManyRedirects, and an HTTP status that is not temporary (404, 403, ...);
// index.ErrInvalid and review.ErrInvalid. Cancellation, timeouts, network and store errors are transient.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range []error{
		ErrPermanent,
		hashing.ErrTooLarge, hashing.ErrUnsupported, hashing.ErrCorrupt,
		fetch.ErrForbidden, fetch.ErrTooLarge, fetch.ErrTooManyRedirects,
		index.ErrInvalid, review.ErrInvalid,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var se *fetch.StatusError
	if errors.As(err, &se) {
		return !se.Temporary()
	}
	return false
}
