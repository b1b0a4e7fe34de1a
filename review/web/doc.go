// Package web is the moderators' review UI: a server-rendered web page over the review
// queue (review.Store) and the registry (index.Store).
//
// A moderator logs in, works through the queue of flagged uploads (filtered by state,
// tenant, kind, verdict, score and age, paged with the store's cursor), opens a case to see
// the upload beside the registered work it matched, turned and cropped as the match found
// it, with a difference picture and the evidence in words, and decides it with one key:
// c confirms a copy, d dismisses it, l licenses a permitted derivative. Decisions are
// compare-and-set on the case's version, so two moderators never both decide one case. An
// admin may reopen a decided case. The registry page searches works by creator and title,
// and the dashboard shows the queue's numbers.
//
// Sessions are cookies signed with HMAC-SHA256 under the store's session key, so every
// replica accepts them; each request re-reads the user, so disabling or deleting an
// account, or changing its password, ends its sessions at once. Every form carries a CSRF
// token derived from the session, and the handler is wrapped in
// net/http.CrossOriginProtection. Pages are html/template (all stored text is escaped), the
// stylesheet and script are embedded, and the Content-Security-Policy allows no inline
// script or style.
//
// Use HashPassword to make a review.User's PasswordHash.
package web
