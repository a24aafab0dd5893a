package main

// duet man: the man page, generated from the command tree (as the
// completions are), with the exit codes.

import (
	"fmt"
	"strings"

	mcobra "github.com/muesli/mango-cobra"
	"github.com/muesli/roff"
	"github.com/spf13/cobra"

	"duet/ui/words"
)

func (c *cli) manCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "man",
		Short: "print the man page (duet man | man -l -)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			page, err := manPage(cmd.Root())
			if err != nil {
				say(c.stderr, "man: %v", err)
				c.code = exitRuntime
				return nil
			}
			fmt.Fprint(c.stdout, page)
			return nil
		},
	}
}

// manPage is duet(1) in roff, from root's command tree.
func manPage(root *cobra.Command) (string, error) {
	page, err := mcobra.NewManPage(1, root)
	if err != nil {
		return "", fmt.Errorf("man page: %w", err)
	}
	page = page.WithLongDescription(paragraphs(root.Long)).
		WithSection("Notifications", paragraphs(strings.Join(words.HelpAttention, "\n\n"))).
		WithSection("Exit status", paragraphs(exitCodesText)).
		WithSection("Files", "$XDG_CONFIG_HOME/duet/ (default ~/.config/duet/): identity.pem (the key, mode 0600), known_peers (the peers' recorded fingerprints and trust), config.toml (defaults and saved peers, mode 0600; duet peer add and duet peer remove write it), the database of each peer's history and delivery state.")
	return page.Build(roff.NewDocument()), nil
}

// paragraphs joins the lines of each paragraph of help text (split by
// blank lines) for roff, which breaks a line at every newline it is given.
func paragraphs(text string) string {
	ps := strings.Split(strings.TrimSpace(text), "\n\n")
	for i, p := range ps {
		ps[i] = strings.Join(strings.Fields(p), " ")
	}
	return strings.Join(ps, "\n\n")
}
