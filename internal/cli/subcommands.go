package cli

import (
	"fmt"
	"sort"
	"strings"
)

// pickSubcommand reads the subcommand of "aura GROUP SUBCOMMAND ...": it prints the group's
// usage for no argument (to stderr, as a usage error) or for help (to stdout, done true),
// refuses an unknown name, and otherwise returns the name. summaries maps every
// subcommand's name to its one-line summary.
func pickSubcommand(std IO, group string, summaries map[string]string, args []string) (name string, done bool, err error) {
	names := make([]string, 0, len(summaries))
	for n := range summaries {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := std.Stderr
		if len(args) > 0 {
			w = std.Stdout
		}
		fmt.Fprintf(w, "Usage: aura %s SUBCOMMAND [flags] [args]\n\nSubcommands:\n", group)
		for _, n := range names {
			fmt.Fprintf(w, "  %-8s %s\n", n, summaries[n])
		}
		if len(args) == 0 {
			return "", false, fmt.Errorf("%w: no subcommand", errUsage)
		}
		return "", true, nil
	}
	if _, ok := summaries[args[0]]; !ok {
		return "", false, fmt.Errorf("%w: unknown subcommand %q (%s)", errUsage, args[0], strings.Join(names, ", "))
	}
	return args[0], false, nil
}
