package main

// What the command line adds to Cobra and pflag: flag errors that name the
// flag as help does and suggest the nearest one (Cobra suggests only
// subcommands, spf13/cobra#2207), the refusal of a flag's value that is
// itself a flag, and the version string.

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// maxSuggestDistance is the largest edit distance at which an unknown flag
// gets a "did you mean".
const maxSuggestDistance = 2

// flagError is the command tree's flag-error hook: pflag's error, said with
// the flag spelled as help spells it (--name), and for an unknown flag the
// nearest known one. args are the command line's words, where a
// single-dash long flag (-main) is found whole: pflag reads it as the
// shorthands -m -a -i -n and reports only what follows the first known one.
func flagError(args []string) func(*cobra.Command, error) error {
	return func(cmd *cobra.Command, err error) error { return sayFlagError(cmd, err, args) }
}

func sayFlagError(cmd *cobra.Command, err error, args []string) error {
	var notExist *pflag.NotExistError
	var required *pflag.ValueRequiredError
	var invalid *pflag.InvalidValueError
	switch {
	case errors.As(err, &notExist):
		given := "--" + notExist.GetSpecifiedName()
		if s := notExist.GetSpecifiedShortnames(); s != "" {
			given = singleDashWord(args, s) // a single-dash long flag: -main
		}
		return fmt.Errorf("unknown flag %s%s", given, suggestFlag(cmd, given))
	case errors.As(err, &required):
		return fmt.Errorf("%s needs a value", flagSpelling(cmd, required.GetSpecifiedName()))
	case errors.As(err, &invalid):
		name := "--" + invalid.GetFlag().Name
		if v := invalid.GetValue(); strings.HasPrefix(v, "--") {
			return fmt.Errorf("%s needs a value, got the flag %s", name, v)
		}
		return fmt.Errorf("%s %q: %v", name, invalid.GetValue(), errors.Unwrap(err))
	}
	return err
}

// singleDashWord is the word of args that pflag read as the shorthands
// ending in rest: "-history-days" for "istory-days" (after -h).
func singleDashWord(args []string, rest string) string {
	for _, a := range args {
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.HasSuffix(a, rest) {
			return a
		}
	}
	return "-" + rest
}

// flagSpelling is how help writes the flag pflag named: --name.
func flagSpelling(cmd *cobra.Command, name string) string {
	if len(name) == 1 {
		if f := cmd.Flags().ShorthandLookup(name); f != nil {
			return "--" + f.Name
		}
	}
	return "--" + name
}

// suggestFlag is " (did you mean --X?)" for the command's flag nearest to
// given (edit distance at most maxSuggestDistance, ties to the first in
// name order), or "".
func suggestFlag(cmd *cobra.Command, given string) string {
	word := strings.TrimLeft(given, "-")
	best, bestD := "", maxSuggestDistance+1
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if d := editDistance(word, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean --%s?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (flag names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// refuseFlagValues refuses a value that starts with "--" given to a flag
// that takes one: `--name --lines` is a missing value, not a name. (Values
// pflag cannot parse, such as `--history-days --lines`, are refused by
// flagError.)
func refuseFlagValues(fs *pflag.FlagSet) error {
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if err == nil && f.NoOptDefVal == "" && strings.HasPrefix(f.Value.String(), "--") {
			err = fmt.Errorf("--%s needs a value, got the flag %s", f.Name, f.Value.String())
		}
	})
	return err
}

// noArgs is the Args check of a command that takes no arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s: unexpected argument %q", cmd.Name(), args[0])
	}
	return nil
}

// version is duet's version for --version (versionFrom of the build).
func version() string {
	info, _ := debug.ReadBuildInfo()
	return versionFrom(info)
}

// versionFrom is the version a build says: its module version when built
// as a released module (go install duet@v1.2.3), else "devel" with the
// VCS revision (12 digits) and "-dirty" for a modified tree, else "devel".
// Since Go 1.24 a build in a clone gets a pseudo-version holding the
// revision (v0.0.0-20261205234449-5f46d2ce38a3, "+dirty" when modified):
// that is a development build too.
func versionFrom(info *debug.BuildInfo) string {
	if info == nil {
		return "devel"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := info.Main.Version
	release := v != "" && v != "(devel)" && !strings.HasSuffix(v, "+dirty") && (rev == "" || !strings.Contains(v, rev))
	switch {
	case release:
		return v
	case rev == "":
		return "devel"
	case modified == "true":
		return "devel " + rev + "-dirty"
	}
	return "devel " + rev
}
