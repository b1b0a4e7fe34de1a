package web

import (
	"fmt"
	"html/template"
	"time"

	"github.com/aura-art/aura/verdict"
)

// templateFuncs are the helpers the templates call.
func templateFuncs(s *Server) template.FuncMap {
	return template.FuncMap{
		"static": s.staticURL,
		"pct":    pct,
		"ago":    func(t time.Time) string { return ago(s.now().Sub(t)) },
		"when":   when,
		"verdictLabel": func(k verdict.Kind) string {
			if l, ok := verdictLabels[k]; ok {
				return l
			}
			return string(k)
		},
		"add": func(a, b int) int { return a + b },
	}
}

var verdictLabels = map[verdict.Kind]string{
	verdict.LikelyForgery: "likely forgery",
	verdict.Derivative:    "derivative",
	verdict.OwnWork:       "own work",
	verdict.Clear:         "clear",
	"":                    "none",
}

// ago says how long a duration is, in its largest unit: "45s", "12m", "3h", "5d".
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

// when formats a time for people: "2026-03-01 14:05 UTC"; "" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
