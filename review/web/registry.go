package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/aura-art/aura/index"
)

type registryPage struct {
	base
	Creator, Q string
	Searched   bool
	Works      []*index.Work
	// Next continues the listing or the search; Scanned is how many works a title search
	// read, and Partial says it stopped before the end of the registry.
	Next    string
	Scanned int
	Partial bool
}

// maxQueryLen caps the registry's search fields.
const maxQueryLen = 256

func (s *Server) registry(w http.ResponseWriter, r *http.Request, sess *session) error {
	q := r.URL.Query()
	p := &registryPage{
		base:    s.base(r, sess, "Registry", "registry"),
		Creator: strings.TrimSpace(q.Get("creator")), Q: strings.TrimSpace(q.Get("q")),
	}
	after := q.Get("after")
	if len(p.Creator) > maxQueryLen || len(p.Q) > maxQueryLen || len(after) > maxQueryLen {
		return &httpError{status: http.StatusBadRequest, title: "Search too long", msg: "Search for at most 256 bytes."}
	}
	if p.Creator == "" && p.Q == "" {
		s.render(w, r, http.StatusOK, "registry", p)
		return nil
	}
	p.Searched = true
	link := func(after string) string {
		v := url.Values{}
		for k, val := range map[string]string{"creator": p.Creator, "q": p.Q, "after": after} {
			if val != "" {
				v.Set(k, val)
			}
		}
		return withQuery(s.cfg.Prefix+"registry", v)
	}
	if p.Q == "" {
		works, next, err := s.works.ListWorks(r.Context(), index.ListOptions{CreatorID: p.Creator, After: after, Limit: s.cfg.PageSize})
		if err != nil {
			return err
		}
		p.Works = works
		if next != "" {
			p.Next = link(next)
		}
		s.render(w, r, http.StatusOK, "registry", p)
		return nil
	}
	// A title search reads up to SearchPages pages of works, in id order, and stops at a
	// page's worth of hits; Next continues after the last work it looked at.
	needle := strings.ToLower(p.Q)
	cursor := after
	for range s.cfg.SearchPages {
		works, next, err := s.works.ListWorks(r.Context(), index.ListOptions{CreatorID: p.Creator, After: cursor, Limit: index.MaxPageSize})
		if err != nil {
			return err
		}
		full := false
		for _, wk := range works {
			p.Scanned++
			cursor = wk.ID
			if strings.Contains(strings.ToLower(wk.Title), needle) {
				p.Works = append(p.Works, wk)
				if full = len(p.Works) == s.cfg.PageSize; full {
					break
				}
			}
		}
		if full {
			p.Next, p.Partial = link(cursor), true
			break
		}
		if next == "" {
			cursor = ""
			break
		}
		cursor = next
	}
	if cursor != "" && p.Next == "" {
		p.Next, p.Partial = link(cursor), true
	}
	s.render(w, r, http.StatusOK, "registry", p)
	return nil
}
