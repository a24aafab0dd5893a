package words

// Trust is a trust level (panel.Trust's value: "", "new", "known", "pinned"
// or "verified") as the screen shows it; never empty. A level it does not
// know is shown as it is, sanitized.
//
// It takes the level's string, not panel.Trust, because panel draws these
// words and so imports this package.
func Trust(level string) string {
	switch level {
	case "":
		return "no key yet"
	case "new":
		return "new key"
	case "known":
		return "known key"
	case "pinned":
		return "pinned key"
	case "verified":
		return "✓ verified"
	}
	return clean(level)
}
