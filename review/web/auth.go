package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/aura-art/aura/review"
)

// Password limits of HashPassword. bcrypt reads at most 72 bytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
)

// ErrBadPassword is returned by HashPassword for a password that is too short or too long.
var ErrBadPassword = errors.New("password must be 8 to 72 bytes")

// HashPassword returns the bcrypt hash (bcrypt.DefaultCost) of a moderator's password, for
// review.User.PasswordHash. A password shorter than MinPasswordLen or longer than
// MaxPasswordLen bytes wraps ErrBadPassword. It takes about 50 ms of CPU by design.
func HashPassword(pw string) ([]byte, error) {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen {
		return nil, fmt.Errorf("review/web: %w, got %d bytes", ErrBadPassword, len(pw))
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("review/web: hash password: %w", err)
	}
	return h, nil
}

// dummyHash is compared against when the user does not exist, is disabled or the input is
// malformed, so a failed login takes as long whatever the reason.
var dummyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("aura: no such user, a password nobody has"), bcrypt.DefaultCost)
	if err != nil {
		panic(err) // only for a password over 72 bytes or a bad cost
	}
	return h
})

const (
	cookieName = "aura_session"
	nonceLen   = 16
	// maxLoginBody caps a login form.
	maxLoginBody = 8 << 10
)

// session is a logged-in moderator, as a request carries it.
type session struct {
	// Name and Role are the user's, as the store has them now.
	Name string
	Role review.Role
	// Expires is when the session ends.
	Expires time.Time
	nonce   []byte
	// CSRF is the token every form of the session carries.
	CSRF string
}

// Admin reports whether the user may reopen decided cases.
func (s *session) Admin() bool { return s != nil && s.Role == review.Admin }

// cookiePayload is the signed content of the session cookie.
type cookiePayload struct {
	User    string      `json:"u"`
	Role    review.Role `json:"r"`
	Expires int64       `json:"e"` // Unix seconds
	Nonce   []byte      `json:"n"`
	// PwTag is a MAC of the user's password hash: a password change ends older sessions.
	PwTag []byte `json:"p"`
}

// keys are the secrets derived from the store's session key, one a purpose.
type keys struct {
	session, csrf, pw []byte
}

func deriveKeys(secret []byte) keys {
	d := func(purpose string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("aura review/web " + purpose))
		return m.Sum(nil)
	}
	return keys{session: d("session v1"), csrf: d("csrf v1"), pw: d("password tag v1")}
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

func (k keys) pwTag(hash []byte) []byte { return mac(k.pw, hash)[:8] }

func (k keys) csrfToken(nonce []byte) string { return b64.EncodeToString(mac(k.csrf, nonce)) }

// encodeCookie returns the cookie value of p: "v1.<payload>.<mac>".
func (k keys) encodeCookie(p cookiePayload) string {
	j, _ := json.Marshal(p)
	body := "v1." + b64.EncodeToString(j)
	return body + "." + b64.EncodeToString(mac(k.session, []byte(body)))
}

// errNoSession and errExpired are why a request has no session.
var (
	errNoSession = errors.New("no valid session")
	errExpired   = errors.New("session expired")
	errRevoked   = errors.New("account disabled, deleted or its password changed")
)

// decodeCookie verifies a cookie value's signature and returns its payload.
func (k keys) decodeCookie(v string) (cookiePayload, error) {
	var p cookiePayload
	i := strings.LastIndexByte(v, '.')
	if i < 0 || !strings.HasPrefix(v, "v1.") || len(v) > 1024 {
		return p, errNoSession
	}
	sig, err := b64.DecodeString(v[i+1:])
	if err != nil || !hmac.Equal(sig, mac(k.session, []byte(v[:i]))) {
		return p, errNoSession
	}
	j, err := b64.DecodeString(v[len("v1."):i])
	if err != nil || json.Unmarshal(j, &p) != nil || len(p.Nonce) != nonceLen {
		return p, errNoSession
	}
	return p, nil
}

// authenticate returns the request's session: a cookie with a valid signature, not expired,
// of a user who exists, is enabled and has the same password as at login. The role is the
// user's current one.
func (s *Server) authenticate(r *http.Request) (*session, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, errNoSession
	}
	p, err := s.keys.decodeCookie(c.Value)
	if err != nil {
		return nil, err
	}
	if !s.now().Before(time.Unix(p.Expires, 0)) {
		return nil, errExpired
	}
	u, err := s.cases.GetUser(r.Context(), p.User)
	switch {
	case errors.Is(err, review.ErrNotFound):
		return nil, errRevoked
	case err != nil:
		return nil, fmt.Errorf("review/web: authenticate %s: %w", p.User, err)
	case u.Disabled || !u.Role.Valid() || !hmac.Equal(p.PwTag, s.keys.pwTag(u.PasswordHash)):
		return nil, errRevoked
	}
	return &session{Name: u.Name, Role: u.Role, Expires: time.Unix(p.Expires, 0), nonce: p.Nonce, CSRF: s.keys.csrfToken(p.Nonce)}, nil
}

// checkCSRF reports whether the form's token is the session's, comparing in constant time.
func (s *Server) checkCSRF(r *http.Request, sess *session) bool {
	got := r.PostFormValue("csrf")
	return hmac.Equal([]byte(got), []byte(sess.CSRF))
}

// sessionCookie returns the cookie that carries value; maxAge -1 deletes it.
func (s *Server) sessionCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: cookieName, Value: value, Path: s.cfg.Prefix, MaxAge: maxAge,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
	}
}

// loginMessages are the notices the login page shows, by the code in its "m" parameter, so
// the page never shows text taken from a URL.
var loginMessages = map[string]string{
	"expired": "Your session has expired. Please log in again.",
	"revoked": "Your session has ended. Please log in again.",
	"out":     "You have logged out.",
}

// loginURL is the login page that returns to next and shows the message of code.
func (s *Server) loginURL(next, code string) string {
	q := url.Values{}
	if next != "" && next != s.cfg.Prefix {
		q.Set("next", next)
	}
	if code != "" {
		q.Set("m", code)
	}
	if len(q) == 0 {
		return s.cfg.Prefix + "login"
	}
	return s.cfg.Prefix + "login?" + q.Encode()
}

// safeNext returns next if it is a path of this UI (so a login cannot redirect elsewhere),
// else the queue.
func (s *Server) safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(next, s.cfg.Prefix) || strings.ContainsAny(next, "\\\r\n\t") ||
		strings.HasPrefix(u.Path, s.cfg.Prefix+"login") || strings.HasPrefix(u.Path, s.cfg.Prefix+"logout") {
		return s.cfg.Prefix
	}
	return next
}

type loginPage struct {
	base
	Name    string
	Next    string
	Message string
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(r); err == nil {
		http.Redirect(w, r, s.safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	q := r.URL.Query()
	s.render(w, r, http.StatusOK, "login", &loginPage{
		base: s.base(r, nil, "Log in", "login"),
		Next: s.safeNext(q.Get("next")), Message: loginMessages[q.Get("m")],
	})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, nil, &httpError{status: http.StatusRequestEntityTooLarge, title: "Form too large", msg: "The login form is larger than it can be."})
		return
	}
	name, pw, next := r.PostForm.Get("name"), r.PostForm.Get("password"), s.safeNext(r.PostForm.Get("next"))
	u, err := s.checkPassword(r.Context(), name, pw)
	if err != nil {
		if errors.Is(err, errWrongPassword) {
			s.log.Info("login failed", zap.String("user", review.ClipText(name, 64)), zap.String("remote_addr", r.RemoteAddr))
			b := s.base(r, nil, "Log in", "login")
			b.Error = "Wrong name or password."
			s.render(w, r, http.StatusUnauthorized, "login", &loginPage{base: b, Name: name, Next: next})
			return
		}
		s.fail(w, r, nil, err)
		return
	}
	nonce := make([]byte, nonceLen)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	exp := s.now().Add(s.cfg.SessionTTL)
	v := s.keys.encodeCookie(cookiePayload{User: u.Name, Role: u.Role, Expires: exp.Unix(), Nonce: nonce, PwTag: s.keys.pwTag(u.PasswordHash)})
	http.SetCookie(w, s.sessionCookie(v, int(s.cfg.SessionTTL/time.Second)))
	s.log.Info("login", zap.String("user", u.Name), zap.String("role", string(u.Role)))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

var errWrongPassword = errors.New("wrong name or password")

// checkPassword returns the enabled user with that name and password. Every failure takes
// one bcrypt comparison, so the answer's timing does not tell whether the user exists.
func (s *Server) checkPassword(ctx context.Context, name, pw string) (*review.User, error) {
	var u *review.User
	if name != "" && len(name) <= 64 {
		got, err := s.cases.GetUser(ctx, name)
		switch {
		case err == nil:
			u = got
		case !errors.Is(err, review.ErrNotFound):
			return nil, fmt.Errorf("review/web: login: %w", err)
		}
	}
	hash := dummyHash()
	if u != nil && len(u.PasswordHash) > 0 {
		hash = u.PasswordHash
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(pw)) == nil
	if !match || u == nil || u.Disabled || !u.Role.Valid() || len(pw) > MaxPasswordLen || bytes.Equal(hash, dummyHash()) {
		return nil, errWrongPassword
	}
	return u, nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	sess, err := s.authenticate(r)
	if err == nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
		if !s.checkCSRF(r, sess) {
			s.fail(w, r, sess, errCSRF)
			return
		}
		s.log.Info("logout", zap.String("user", sess.Name))
	}
	http.SetCookie(w, s.sessionCookie("", -1))
	http.Redirect(w, r, s.loginURL("", "out"), http.StatusSeeOther)
}
