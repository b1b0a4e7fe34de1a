package web

import (
	"net/http"
	"sort"
	"time"

	"github.com/aura-art/aura/review"
)

// dashboardDays is how many days the dashboard's chart shows.
const dashboardDays = 14

type dashboardPage struct {
	base
	Days              []dayBar
	Max               int
	ChartW, ChartH    int
	States            []labelCount
	Verdicts          []labelCount
	Kinds             []labelCount
	Oldest            time.Time
	OpenTotal         int
	OpenedN, DecidedN int
}

// dayBar is one day of the chart, with its bars' geometry in SVG units.
type dayBar struct {
	Date            string
	Label           string
	Opened, Decided int
	X, OX, DX       int
	OY, OH, DY, DH  int
}

type labelCount struct {
	Label string
	Count int
}

// chart geometry, in SVG units.
const (
	dayWidth  = 40
	barWidth  = 14
	barTop    = 10
	barBottom = 130
)

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := s.cases.Counts(r.Context())
	if err != nil {
		return err
	}
	p := &dashboardPage{
		base:   s.base(r, sess, "Dashboard", "dashboard"),
		ChartW: dayWidth * dashboardDays, ChartH: barBottom + 20,
		Oldest: c.OldestOpen, OpenTotal: c.ByState[review.Open],
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	for i := dashboardDays - 1; i >= 0; i-- {
		d := today.AddDate(0, 0, -i)
		key := d.Format(time.DateOnly)
		b := dayBar{Date: key, Label: d.Format("Jan 2"), Opened: c.OpenedByDay[key], Decided: c.DecidedByDay[key]}
		p.Max = max(p.Max, b.Opened, b.Decided)
		p.OpenedN += b.Opened
		p.DecidedN += b.Decided
		p.Days = append(p.Days, b)
	}
	height := func(n int) int {
		if p.Max == 0 || n == 0 {
			return 0
		}
		return max(1, n*(barBottom-barTop)/p.Max)
	}
	for i := range p.Days {
		b := &p.Days[i]
		b.X = i*dayWidth + dayWidth/2
		b.OX, b.DX = i*dayWidth+(dayWidth/2-barWidth), i*dayWidth+dayWidth/2
		b.OH, b.DH = height(b.Opened), height(b.Decided)
		b.OY, b.DY = barBottom-b.OH, barBottom-b.DH
	}
	for _, st := range review.States {
		p.States = append(p.States, labelCount{string(st), c.ByState[st]})
	}
	for _, k := range review.Kinds {
		p.Kinds = append(p.Kinds, labelCount{string(k), c.OpenByKind[k]})
	}
	for v, n := range c.ByVerdict {
		label := verdictLabels[v]
		if label == "" {
			label = string(v)
		}
		p.Verdicts = append(p.Verdicts, labelCount{label, n})
	}
	sort.Slice(p.Verdicts, func(i, j int) bool {
		if p.Verdicts[i].Count != p.Verdicts[j].Count {
			return p.Verdicts[i].Count > p.Verdicts[j].Count
		}
		return p.Verdicts[i].Label < p.Verdicts[j].Label
	})
	s.render(w, r, http.StatusOK, "dashboard", p)
	return nil
}
